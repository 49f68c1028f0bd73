import * as assert from "assert";
import * as path from "path";
import { typeTokens } from "../lib/core/naming";
import { planStack } from "../lib/plan/stackPlan";
import { stackFileConfig } from "../lib/config/stackFile";
import { evaluateProgram, placeholders } from "../offline/evaluate";
import { ExportError, exportedState } from "../offline/drift";
import { liveStateView, virtualMachineList } from "../offline/liveState";
import { renderPage } from "../offline/page";
import { pageModel } from "../offline/viewModel";
import { readStackFile } from "../runtime/projectFiles";
import { editableStackConfig, projectRoot } from "./mocks";
import { siteInput } from "./pages";

/** A secret output as `pulumi stack export` writes it without --show-secrets. */
const secret = (ciphertext: string) => ({
    "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
    ciphertext,
});

const vm = (name: string, printableStatus: string, ready: Record<string, string>) => ({
    metadata: { name, namespace: "final-test", labels: { "edge.testbed/site": "greece" } },
    spec: {},
    status: {
        printableStatus,
        conditions: [
            { type: "Ready", lastTransitionTime: "2026-12-06T00:10:00Z", ...ready },
            { type: "Paused", status: "False" },
        ],
    },
});

describe("the live state beside the plan (offline/liveState.ts)", () => {
    const stackFile = readStackFile(path.join(projectRoot, "Pulumi.greece.yaml"));
    const { plan } = planStack(stackFileConfig(stackFile));
    let resources: { type: string; name: string }[];
    /** The state of greece deployed, but for worker1's VM, with a VM the plan no longer has. */
    let exported: unknown;

    before(async () => {
        ({ resources } = await evaluateProgram(stackFile.config, placeholders, {
            stack: "greece",
            preview: true,
        }));
        const urn = (type: string, name: string) => `urn:pulumi:greece::edge::${type}::${name}`;
        exported = {
            version: 3,
            deployment: {
                manifest: { time: "2026-12-06T00:20:00.5Z" },
                resources: [
                    { urn: urn("pulumi:pulumi:Stack", "edge-greece"), type: "pulumi:pulumi:Stack" },
                    {
                        urn: urn("pulumi:providers:rancher2", "default_13_0_0"),
                        type: "pulumi:providers:rancher2",
                    },
                    ...resources
                        .filter(
                            (r) =>
                                r.type !== typeTokens.virtualMachine ||
                                r.name !== "final-test-worker1",
                        )
                        .map((r) => ({
                            urn: urn(r.type, r.name),
                            type: r.type,
                            outputs:
                                r.name === "final-test-cluster-master"
                                    ? vm("final-test-cluster-master", "Running", { status: "True" })
                                    : r.type === typeTokens.clusterSync
                                      ? {
                                            synced: true,
                                            // As the rancher2 provider leaves it: a secret.
                                            nodes: secret("SECRET-NODES-CIPHERTEXT"),
                                            kubeConfig: secret("SECRET-KUBECONFIG-CIPHERTEXT"),
                                        }
                                      : { token: secret("SECRET-TOKEN-CIPHERTEXT") },
                        })),
                    {
                        urn: urn(typeTokens.virtualMachine, "final-test-old"),
                        type: typeTokens.virtualMachine,
                        outputs: vm("final-test-old", "Stopped", {
                            status: "False",
                            reason: "VMINotExists",
                            message: "VMI does not exist",
                        }),
                    },
                ],
            },
        };
    });

    it("lists what is only in the state or the plan, each VM's condition and Rancher's cluster", () => {
        const view = liveStateView("greece", plan, resources, exportedState(exported));
        assert.deepStrictEqual(view, {
            stack: "greece",
            exportedAt: "2026-12-06T00:20:00.5Z",
            inBoth: resources.length - 1,
            onlyInState: [`${typeTokens.virtualMachine} final-test-old`],
            onlyInPlan: [`${typeTokens.virtualMachine} final-test-worker1`],
            vms: [
                {
                    node: "final-test/cluster-master",
                    vmName: "final-test-cluster-master",
                    namespace: "final-test",
                    status: "Running",
                    ready: "True",
                    since: "2026-12-06T00:10:00Z",
                    source: "stack state",
                },
                {
                    node: "final-test-old",
                    vmName: "final-test-old",
                    namespace: "final-test",
                    status: "Stopped",
                    ready: "False: VMINotExists: VMI does not exist",
                    since: "2026-12-06T00:10:00Z",
                    source: "stack state",
                },
            ],
            clusters: [
                {
                    cluster: "final-test",
                    rancherName: "greece-final-test",
                    state: "active",
                },
            ],
        });
    });

    it("takes a VM's status from the host cluster when it was read", () => {
        const listed = virtualMachineList({
            kind: "List",
            items: [
                vm("final-test-worker1", "Provisioning", { status: "False", reason: "Pending" }),
            ],
        });
        const view = liveStateView("greece", plan, resources, exportedState(exported), listed);
        assert.deepStrictEqual(
            view.vms.map((v) => [v.node, v.status, v.ready, v.source]),
            [
                ["final-test/cluster-master", "Running", "True", "stack state"],
                [
                    "final-test-old",
                    "Stopped",
                    "False: VMINotExists: VMI does not exist",
                    "stack state",
                ],
                ["final-test/worker1", "Provisioning", "False: Pending", "host cluster"],
            ],
        );
    });

    it("puts names and conditions on the page, never a value of the state", async () => {
        const view = liveStateView("greece", plan, resources, exportedState(exported));
        const model = pageModel([await siteInput("greece", editableStackConfig("greece"))]);
        const html = renderPage({ ...model, states: [view] });
        assert.ok(html.includes('<a href="#state">Live state</a>'));
        assert.ok(
            html.includes(
                `<p class="state-counts">${resources.length - 1} resources in both the plan and the state; 1 only in the state; 1 only in the plan.</p>`,
            ),
        );
        assert.ok(
            html.includes(
                '<tr data-cluster="final-test"><td>final-test</td><td>greece-final-test</td><td>active</td><td>(a secret in the state)</td></tr>',
            ),
        );
        assert.ok(!html.includes("CIPHERTEXT"));
    });

    it("says what a file is when it is no export or VM list", () => {
        assert.throws(
            () => exportedState({ version: 3 }),
            new ExportError(
                "is not the output of pulumi stack export (no deployment.resources list)",
            ),
        );
        assert.throws(
            () => virtualMachineList([]),
            new ExportError(
                "is not a VirtualMachine list (kubectl get virtualmachines -A -o json)",
            ),
        );
    });
});
