import * as assert from "assert";
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { pulumiEnvironment, toolsBin } from "./pulumiEnv";

/**
 * The Pulumi engine semantics that KubevirtNode and EdgeCluster rely on, run by the real CLI
 * (built from Go modules by scripts/e2e-tools.sh) on a program with the same resource options:
 * a root disk and a VM that both delete before they replace, the VM replaced with its disk and
 * bound to a beforeDelete hook, and a ClusterSync-like resource with a replacementTrigger. A
 * dynamic provider writes every create, update and delete to a log, so the order is observable.
 * The program runs inline (Automation API): the Node.js SDK is its own language host.
 */

let work: string;
let operations: string;

function note(line: string): void {
    appendFileSync(operations, `${line}\n`);
}

/** The log since the last call. */
let seen = 0;
function newOperations(): string[] {
    const lines = readFileSync(operations, "utf8")
        .split("\n")
        .filter((l) => l !== "");
    const fresh = lines.slice(seen);
    seen = lines.length;
    return fresh;
}

// Pulumi serializes these methods into the provider's own process: they reach the log through
// its environment and require what they use, capturing nothing of this module.
const provider: pulumi.dynamic.ResourceProvider = {
    async create(inputs) {
        require("fs").appendFileSync(
            process.env.EDGE_E2E_OPERATIONS!,
            `create ${inputs.name} ${inputs.spec}\n`,
        );
        return { id: inputs.name, outs: inputs };
    },
    async diff(_id, olds, news) {
        // A DataVolume's spec is immutable: the disk reports a spec change as a replacement.
        const replaces = olds.name === "disk" && olds.spec !== news.spec ? ["spec"] : [];
        return { changes: olds.spec !== news.spec, replaces };
    },
    async update(_id, _olds, news) {
        require("fs").appendFileSync(
            process.env.EDGE_E2E_OPERATIONS!,
            `update ${news.name} ${news.spec}\n`,
        );
        return { outs: news };
    },
    async delete(_id, props) {
        require("fs").appendFileSync(
            process.env.EDGE_E2E_OPERATIONS!,
            `delete ${props.name} ${props.spec}\n`,
        );
    },
};

class Thing extends pulumi.dynamic.Resource {
    constructor(name: string, props: Record<string, string>, opts?: pulumi.CustomResourceOptions) {
        super(provider, name, props, opts);
    }
}

/** The node's resources with the options the components give them; `vm: false` drops the VM. */
async function program(): Promise<void> {
    const config = new pulumi.Config();
    const spec = config.require("spec");
    const hook = new pulumi.ResourceHook("edge-node-removal", async (args) => {
        note(`hook ${args.name} ${args.oldInputs?.spec}`);
    });
    const disk = new Thing("disk", { name: "disk", spec }, { deleteBeforeReplace: true });
    const vm =
        config.get("vm") === "false"
            ? undefined
            : new Thing(
                  "vm",
                  { name: "vm", spec: "vm" },
                  {
                      dependsOn: [disk],
                      deleteBeforeReplace: true,
                      replaceWith: [disk],
                      hooks: { beforeDelete: [hook] },
                  },
              );
    new Thing(
        "sync",
        { name: "sync", spec: "sync" },
        { dependsOn: vm ? [vm] : [disk], replacementTrigger: spec },
    );
}

describe("the Pulumi engine, as the components use it", function () {
    this.timeout(15 * 60 * 1000);
    let stack: Stack;

    before(async function () {
        work = mkdtempSync(path.join(tmpdir(), "edge-e2e-"));
        operations = path.join(work, "operations.log");
        writeFileSync(operations, "");
        process.env.EDGE_E2E_OPERATIONS = operations;
        const { pulumiCommand, env, backend } = await pulumiEnvironment(work, toolsBin(), [
            "dynamic",
        ]);
        stack = await LocalWorkspace.createOrSelectStack(
            { stackName: "e2e", projectName: "engine", program },
            {
                pulumiCommand,
                envVars: { ...env, EDGE_E2E_OPERATIONS: operations },
                projectSettings: { name: "engine", runtime: "nodejs", backend: { url: backend } },
            },
        );
    });

    after(() => work && rmSync(work, { recursive: true, force: true }));

    async function up(config: Record<string, string>) {
        for (const [key, value] of Object.entries(config)) {
            await stack.setConfig(key, { value });
        }
        const result = await stack.up();
        return { changes: result.summary.resourceChanges, operations: newOperations() };
    }

    it("creates the disk before the VM and the VM before the sync", async () => {
        const { operations } = await up({ spec: "a", vm: "true" });
        assert.deepStrictEqual(operations, ["create disk a", "create vm vm", "create sync sync"]);
    });

    it("replaces a VM with its disk: hook, then VM, then disk deleted, and recreated in order", async () => {
        const { operations } = await up({ spec: "b" });
        assert.deepStrictEqual(operations, [
            "hook vm vm",
            "delete vm vm",
            "delete disk a",
            "create disk b",
            "create vm vm",
            // replacementTrigger: a new sync is created, then the old one deleted.
            "create sync sync",
            "delete sync sync",
        ]);
    });

    it("changes nothing on a second up with the same config", async () => {
        const { changes, operations } = await up({ spec: "b" });
        assert.deepStrictEqual(operations, []);
        assert.deepStrictEqual(changes, { same: 4 });
    });

    it("runs the hook of a VM the program no longer declares, found by name", async () => {
        const { operations } = await up({ vm: "false" });
        assert.deepStrictEqual(operations, ["hook vm vm", "delete vm vm"]);
    });

    it("refuses to destroy without the program, and runs the hooks with it", async () => {
        await up({ vm: "true" });
        await assert.rejects(stack.destroy(), /--run-program/);
        newOperations();
        await stack.destroy({ runProgram: true });
        assert.deepStrictEqual(newOperations(), [
            "delete sync sync",
            "hook vm vm",
            "delete vm vm",
            "delete disk b",
        ]);
    });
});
