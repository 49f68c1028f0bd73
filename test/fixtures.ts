import * as assert from "assert";
import { RawStackConfig } from "../lib/config";
import { planStack } from "../lib/plan/stackPlan";
import { ConfigError } from "../lib/core/problems";
import { rawStackConfig } from "../lib/config/stackFile";

/** The greece stack's nodes as EdgeCluster and the stack export them, under mocks. */
export const greeceNodes = {
    "cluster-master": {
        roles: ["controlplane", "etcd", "worker"],
        ips: { lab: "192.168.18.203" },
        macs: { lab: "e6:d3:d0:a5:8f:c8" },
        hostKey: "ssh-ed25519 AAAAmockhostkeyfinaltestclustermasterhostkey",
    },
    worker1: {
        roles: ["worker"],
        ips: { lab: "192.168.18.204" },
        macs: { lab: "4a:cd:1e:23:e1:af" },
        hostKey: "ssh-ed25519 AAAAmockhostkeyfinaltestworker1hostkey",
    },
};

/** Every problem planStack reports for `raw`, as `path: message` lines; fails if it accepts it. */
export function problemsOf(raw: RawStackConfig): string[] {
    try {
        planStack(raw);
    } catch (error) {
        if (error instanceof ConfigError) {
            return error.problems.map((p) => `${p.path}: ${p.message}`);
        }
        throw error;
    }
    assert.fail("expected the config to be rejected");
}

/** A stack file's config with its allocation record brought up to date, as `npm run lock` would. */
export function locked(config: Record<string, any>): Record<string, any> {
    const { plan } = planStack(rawStackConfig(config));
    return { ...config, "edge:allocations": plan.allocations };
}
