import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { overlaps, parseCidr } from "../lib/core/ip";
import { planStack } from "../lib/plan/stackPlan";
import { addCertificateAuthority } from "../lib/rancher";
import { evaluateProgram, placeholders } from "../offline/evaluate";
import { rawStackConfig } from "../lib/config/stackFile";
import { greeceNodes } from "./fixtures";
import {
    RecordedResource,
    editableStackConfig,
    failingProgram,
    mockRancher,
    ofType,
    promiseOf,
    runProgram,
    stackConfig,
    types,
    warningsOf,
} from "./mocks";

function countByType(resources: RecordedResource[]): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const r of resources) {
        counts[r.type] = (counts[r.type] ?? 0) + 1;
    }
    return counts;
}

describe("site stacks", () => {
    describe("greece", () => {
        let resources: RecordedResource[];
        let outputs: Record<string, any>;

        before(async () => {
            ({ resources, outputs } = await runProgram(stackConfig("greece"), { stack: "greece" }));
        });

        it("declares the old script's cluster and nothing more", () => {
            assert.deepStrictEqual(countByType(resources), {
                [types.stack]: 1,
                [types.k8sProvider]: 1,
                [types.siteNetwork]: 1,
                [types.edgeCluster]: 1,
                [types.kubevirtNode]: 2,
                [types.namespace]: 3,
                [types.nad]: 1,
                [types.dataVolume]: 3,
                [types.service]: 1,
                [types.clusterV2]: 1,
                [types.secret]: 2,
                [types.virtualMachine]: 2,
                [types.clusterSync]: 1,
                [types.hostKey]: 2,
            });
        });

        it("sends every Kubernetes object to the site's host cluster provider", () => {
            const kubernetes = resources.filter((r) => r.type.startsWith("kubernetes:"));
            assert.strictEqual(kubernetes.length, 12);
            for (const r of kubernetes) {
                assert.ok(
                    r.provider?.endsWith(
                        "pulumi:providers:kubernetes::greece-host::greece-host-id",
                    ),
                    `${r.type} ${r.name} uses ${r.provider}`,
                );
            }
            for (const r of ofType(resources, types.clusterV2)) {
                assert.strictEqual(r.provider, "", "Rancher uses the default provider");
            }
        });

        it("gives the VMs the old script's shape: 6 CPUs, 4Gi, 15Gi, br0, .203 and .204", () => {
            const vms = ofType(resources, types.virtualMachine);
            assert.deepStrictEqual(
                vms.map((vm) => {
                    const spec = vm.inputs.spec.template.spec;
                    return [
                        vm.inputs.metadata.name,
                        spec.domain.cpu.cores,
                        spec.domain.memory.guest,
                    ];
                }),
                [
                    ["final-test-cluster-master", 6, "4Gi"],
                    ["final-test-worker1", 6, "4Gi"],
                ],
            );
            const disks = ofType(resources, types.dataVolume).filter((d) =>
                d.name.endsWith("-rootdisk"),
            );
            assert.deepStrictEqual(
                disks.map((d) => d.inputs.spec.storage.resources.requests.storage),
                ["15Gi", "15Gi"],
            );
            const nad = ofType(resources, types.nad)[0];
            assert.strictEqual(JSON.parse(nad.inputs.spec.config).bridge, "br0");
        });

        it("exports the cluster's id, CIDRs, endpoint and nodes, and the site", async () => {
            const clusters = await promiseOf(pulumi.output(outputs.clusters));
            const { kubeconfig, breakGlassKubeconfig, ...visible } = clusters["final-test"];
            assert.deepStrictEqual(visible, {
                id: "c-m-final-test",
                podCidr: "10.64.0.0/16",
                serviceCidr: "10.65.0.0/16",
                apiEndpoint: `https://172.28.2.88:${mockRancher.nodePort}`,
                nodes: greeceNodes,
            });
            // Rancher's kubeconfig, with the cluster's CA on its direct-API context.
            assert.strictEqual(
                kubeconfig,
                addCertificateAuthority(
                    mockRancher.kubeconfig,
                    "https://172.28.2.88:31443",
                    mockRancher.clusterCaCert,
                ).kubeconfig,
            );
            assert.strictEqual(breakGlassKubeconfig, undefined);
            assert.strictEqual(
                await pulumi.isSecret((await outputs.clusters)["final-test"].kubeconfig),
                true,
            );

            const site = await promiseOf(pulumi.output(outputs.site));
            assert.deepStrictEqual(site, {
                name: "greece",
                networks: {
                    lab: {
                        bridge: "br0",
                        cidr: "192.168.18.0/24",
                        gateway: "192.168.18.1",
                        networkAttachmentDefinition: "edge-networks/lab",
                    },
                },
                images: {
                    "ubuntu-focal": {
                        url: "https://cloud-images.ubuntu.com/focal/current/focal-server-cloudimg-amd64.img",
                        size: "10Gi",
                        dataVolume: "edge-images/ubuntu-focal",
                    },
                },
            });
        });

        it("is deterministic: the same config registers the same inputs, byte for byte", async () => {
            const again = await runProgram(stackConfig("greece"), { stack: "greece" });
            // Registration order follows async timing; what is registered must not.
            const canonical = (list: RecordedResource[]) =>
                JSON.stringify(
                    [...list].sort((a, b) =>
                        `${a.type}${a.name}`.localeCompare(`${b.type}${b.name}`),
                    ),
                );
            assert.strictEqual(canonical(again.resources), canonical(resources));
        });
    });

    describe("node removal hook", () => {
        it("binds the site's one hook to every node VM and to the host cluster provider", async () => {
            const evaluation = await evaluateProgram(stackConfig("france"), placeholders, {
                stack: "france",
            });
            assert.deepStrictEqual(
                evaluation.resources
                    .filter((r) => r.options.beforeDelete.length > 0)
                    .map((r) => [r.type, r.name, r.options.beforeDelete]),
                [
                    ...[
                        "core-server1",
                        "core-server2",
                        "core-server3",
                        "core-worker1",
                        "core-worker2",
                        "lab-node1",
                        "ml-cpu-1",
                        "ml-cpu-2",
                        "ml-gpu-1",
                        "ml-server-1",
                    ].map((name) => [types.virtualMachine, name, ["edge-node-removal"]]),
                    [types.k8sProvider, "france-host", ["edge-node-removal"]],
                ],
            );
        });

        it("registers the hook even when no node is declared: the engine finds a deleted VM's hook by name", async () => {
            const hooks: string[] = [];
            const config = editableStackConfig("greece");
            config["edge:clusters"] = [];
            delete config["edge:allocations"];
            await evaluateProgram(config, placeholders, { stack: "greece", hooks, preview: true });
            assert.deepStrictEqual(hooks, ["edge-node-removal", "edge-node-join"]);
        });
    });

    describe("node join hook", () => {
        it("binds the site's one join hook to every cluster's ClusterSync and nothing else", async () => {
            const evaluation = await evaluateProgram(stackConfig("france"), placeholders, {
                stack: "france",
            });
            assert.deepStrictEqual(
                evaluation.resources
                    .filter((r) => r.options.beforeCreate.length > 0)
                    .map((r) => [r.type, r.name, r.options.beforeCreate]),
                ["core-sync", "lab-sync", "ml-sync"].map((name) => [
                    types.clusterSync,
                    name,
                    ["edge-node-join"],
                ]),
            );
        });
    });

    describe("france", () => {
        it("declares an rke2 cluster of 3 servers and 2 workers, a small k3s cluster and the ml intent", async () => {
            const { resources, outputs } = await runProgram(stackConfig("france"), {
                stack: "france",
            });
            const counts = countByType(resources);
            assert.strictEqual(counts[types.clusterV2], 3);
            assert.strictEqual(counts[types.virtualMachine], 10);
            assert.strictEqual(counts[types.dataVolume], 2 + 10);
            assert.strictEqual(counts[types.nad], 3);
            assert.strictEqual(counts[types.namespace], 5);
            assert.strictEqual(counts[types.service], 1);
            assert.strictEqual(counts[types.hostKey], 10);
            assert.strictEqual(resources.length, 73, "62, a host key per node and the root stack");

            const rancher = ofType(resources, types.clusterV2);
            const core = rancher.find((r) => r.name === "core")!;
            const lab = rancher.find((r) => r.name === "lab")!;
            assert.strictEqual(core.inputs.name, "france-core");
            assert.strictEqual(core.inputs.kubernetesVersion, "v1.31.5+rke2r1");
            assert.deepStrictEqual(core.inputs.localAuthEndpoint, {
                enabled: true,
                fqdn: "172.30.0.11:30643",
            });
            assert.strictEqual(lab.inputs.name, "france-lab");

            const clusters = await promiseOf(pulumi.output(outputs.clusters));
            assert.deepStrictEqual(
                Object.fromEntries(
                    Object.entries(clusters).map(([name, c]: [string, any]) => [
                        name,
                        [
                            c.podCidr,
                            c.serviceCidr,
                            Object.values(c.nodes).map((n: any) => n.ips.edge),
                        ],
                    ]),
                ),
                {
                    core: [
                        "10.90.0.0/16",
                        "10.91.0.0/20",
                        ["10.120.0.11", "10.120.0.12", "10.120.0.13", "10.120.0.10", "10.120.0.14"],
                    ],
                    lab: ["10.80.0.0/16", "10.81.0.0/20", ["10.120.0.15"]],
                    ml: [
                        "10.82.0.0/16",
                        "10.81.16.0/20",
                        ["10.120.0.16", "10.120.0.17", "10.120.0.18", "10.120.0.19"],
                    ],
                },
            );
            assert.deepStrictEqual(clusters.core.nodes.worker1.roles, ["worker"]);
            assert.strictEqual(clusters.ml.nodes["gpu-1"].host, "fr-host-3");
            assert.ok(!("host" in clusters.core.nodes.worker1), "hand-written nodes have no host");
            assert.deepStrictEqual(Object.keys(clusters.core.nodes.server2.macs), [
                "edge",
                "storage",
            ]);
        });
    });

    it("keeps the example sites' clusters and networks apart from each other", () => {
        const blocks = ["greece", "france"].flatMap((stack) => {
            const { plan } = planStack(rawStackConfig(editableStackConfig(stack)));
            return [
                ...plan.clusters.flatMap((c) => [
                    [`${stack}/${c.name} pods`, c.podCidr],
                    [`${stack}/${c.name} services`, c.serviceCidr],
                ]),
                ...plan.site.networks.map((n) => [`${stack} network ${n.name}`, n.cidr]),
            ];
        });
        for (const [i, [a, cidrA]] of blocks.entries()) {
            for (const [b, cidrB] of blocks.slice(i + 1)) {
                const x = parseCidr(cidrA) as { cidr: any };
                const y = parseCidr(cidrB) as { cidr: any };
                assert.ok(!overlaps(x.cidr, y.cidr), `${a} (${cidrA}) overlaps ${b} (${cidrB})`);
            }
        }
    });

    describe("bad input", () => {
        it("lists every problem and declares nothing", async () => {
            const config = editableStackConfig("greece");
            config["edge:clusters"][0].nodes[1].memory = "4 GB";
            config["edge:site"].networks[0].vlan = 0;
            const { error, resources } = await failingProgram(config);
            assert.ok(error instanceof pulumi.RunError, "a RunError prints without a stack trace");
            assert.strictEqual(
                error.message,
                [
                    "invalid stack config (2 problems):",
                    "  - site.networks[0].vlan: must be between 1 and 4094, got 0",
                    '  - clusters[0].nodes[1].memory: "4 GB" is not a Kubernetes quantity (e.g. 4Gi, 512Mi)',
                ].join("\n"),
            );
            assert.deepStrictEqual(
                resources.map((r) => r.type),
                [types.stack],
            );
        });

        it("treats config that is not even JSON as a value to validate", async () => {
            const config = { "edge:site": "greece", "edge:images": "[oops", "edge:sites": 1 };
            await assert.rejects(runProgram(config), {
                message: [
                    "invalid stack config (3 problems):",
                    "  - edge:sites: unknown config key (expected one of: edge:site, edge:images, edge:clusters, edge:allocations, edge:sshPrivateKey, edge:wireguardPrivateKey)",
                    '  - site: must be a map, got the string "greece"',
                    '  - images: must be a map, got the string "[oops"',
                ].join("\n"),
            });
        });
    });

    describe("allocation record", () => {
        function withoutRecord(): Record<string, any> {
            const config = editableStackConfig("france");
            delete config["edge:allocations"];
            return config;
        }

        it("refuses `pulumi up` with addresses the stack file does not record", async () => {
            await assert.rejects(
                runProgram(withoutRecord(), { stack: "france" }),
                (error: Error) => {
                    assert.ok(error instanceof pulumi.RunError);
                    const lines = error.message.split("\n");
                    assert.strictEqual(
                        lines[0],
                        "edge:allocations in Pulumi.france.yaml does not record this config's addresses and placements:",
                    );
                    assert.strictEqual(lines[1], "  core.type: rke2 (new)");
                    assert.strictEqual(
                        lines[lines.length - 1],
                        "Run `npm run lock -- --stack france` and commit the stack file so that they stay put.",
                    );
                    return true;
                },
            );
        });

        it("lets `pulumi preview` show the provisional addresses, with a warning", async () => {
            const warnings = await warningsOf(async () => {
                const { resources } = await runProgram(withoutRecord(), {
                    stack: "france",
                    preview: true,
                });
                assert.strictEqual(resources.length, 73, "72 and the root stack");
            });
            assert.strictEqual(warnings.length, 1);
            assert.ok(warnings[0].includes("  lab.podCidr: 10.80.0.0/16 (new)"));
        });
    });
});
