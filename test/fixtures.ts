import * as assert from "assert";
import { RawStackConfig } from "../lib/config";
import { planStack } from "../lib/plan";
import { ConfigError } from "../lib/problems";
import { rawStackConfig } from "../lib/stackFile";

/** A cluster of the synthetic stack: its name and how many nodes it has. */
export interface SyntheticCluster {
    name: string;
    nodes: number;
}

/**
 * A site config with no pins at all, so that every CIDR and IP comes from the planner: the
 * hardest case for address stability. Sized by its clusters; two site networks per node.
 */
export function syntheticStack(clusters: SyntheticCluster[]): RawStackConfig {
    return {
        site: {
            name: "synthetic",
            dnsServers: ["172.16.0.53"],
            hostNodeIps: ["172.16.0.11"],
            reservedCidrs: ["10.42.0.0/16", "10.43.0.0/16", "172.16.0.0/24"],
            clusterCidrPool: "10.128.0.0/9",
            podCidrPrefix: 20,
            serviceCidrPrefix: 22,
            sshAuthorizedKeys: [
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINsL/4OAxrJsNjLyutJehSkC65kVE4R357h3S360fiKd ops@example",
            ],
            networks: [
                { name: "lab", bridge: "br0", cidr: "192.168.0.0/20", gateway: "192.168.0.1" },
                {
                    name: "data",
                    bridge: "br1",
                    vlan: 30,
                    cidr: "172.20.0.0/20",
                    gateway: "172.20.0.1",
                },
            ],
        },
        images: {
            "ubuntu-jammy":
                "https://cloud-images.ubuntu.com/jammy/current/jammy-server-cloudimg-amd64.img",
        },
        clusters: clusters.map((cluster) => ({
            name: cluster.name,
            type: "k3s",
            kubernetesVersion: "v1.31.5+k3s1",
            nodes: Array.from({ length: cluster.nodes }, (_, i) => ({
                name: `node${i}`,
                roles: i === 0 ? ["controlplane", "etcd", "worker"] : ["worker"],
                cpu: 2,
                memory: "4Gi",
                disk: "20Gi",
                image: "ubuntu-jammy",
                networks: ["lab", "data"],
            })),
        })),
    };
}

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
