import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import { planStack } from "../lib/plan/stackPlan";
import { rawStackConfig } from "../lib/config/stackFile";
import { ResourceChange, chains, diffResources, parseRendered } from "../offline/diff";
import { EvaluatedResource, Evaluation, evaluateProgram, placeholders } from "../offline/evaluate";
import { addressSummary, renderFiles } from "../offline/render";
import { syntheticStack } from "../offline/synthetic";
import { locked } from "./fixtures";
import {
    editableStackConfig,
    mockRancher,
    ofType,
    promiseOf,
    registrationCommandOf,
    runProgram,
    secretValue,
    types,
} from "./mocks";

function evaluate(config: Record<string, any>, stack = "test"): Promise<Evaluation> {
    return evaluateProgram(config, placeholders, { stack, preview: true });
}

/** What applying `after` to a stack deployed from `before` would do, resource by resource. */
async function changesBetween(
    before: Record<string, any>,
    after: Record<string, any>,
): Promise<ResourceChange[]> {
    const old = await evaluate(before);
    const { plan } = planStack(rawStackConfig(before));
    const files = renderFiles(old, addressSummary(plan, old.outputs), plan.site);
    return diffResources(parseRendered(files), (await evaluate(after)).resources);
}

const summarize = (changes: ResourceChange[]) => changes.map((c) => `${c.action} ${c.name}`).sort();

/** Greece with a second image, so that a node can switch to it. */
function greeceWithJammy(): Record<string, any> {
    const config = editableStackConfig("greece");
    config["edge:images"]["ubuntu-jammy"] =
        "https://cloud-images.ubuntu.com/jammy/current/jammy-server-cloudimg-amd64.img";
    return config;
}

/** A synthetic site of three clusters, as a stack file would hold it, record included. */
function threeClusters(names = ["alpha", "bravo", "charlie"]): Record<string, any> {
    const raw = syntheticStack(names.map((name) => ({ name, nodes: 2 })));
    return {
        "edge:site": raw.site,
        "edge:images": raw.images,
        "edge:clusters": raw.clusters,
    };
}

describe("safety", () => {
    describe("changes stay local", () => {
        it("adding a node creates only that node's resources, and `up` waits for it to join", async () => {
            const before = editableStackConfig("greece");
            const after = editableStackConfig("greece");
            const nodes = after["edge:clusters"][0].nodes;
            nodes.push({ ...structuredClone(nodes[1]), name: "worker2", networks: ["lab"] });
            const changes = await changesBetween(before, locked(after));
            assert.deepStrictEqual(summarize(changes), [
                "create final-test-worker2",
                "create final-test-worker2-cloudinit",
                "create final-test-worker2-rootdisk",
                // ClusterSync waits only when created: a new node set replaces it.
                "replace final-test-sync",
            ]);
            const sync = (await evaluate(locked(after))).resources.find(
                (r) => r.name === "final-test-sync",
            )!;
            assert.deepStrictEqual(sync.options.dependsOn, [
                "edge:index:KubevirtNode::final-test-cluster-master",
                "edge:index:KubevirtNode::final-test-worker1",
                "edge:index:KubevirtNode::final-test-worker2",
            ]);
        });

        it("changing one node's CPU or memory updates only that VM", async () => {
            const before = editableStackConfig("france");
            const after = editableStackConfig("france");
            after["edge:clusters"][0].nodes[4].cpu = 12;
            after["edge:clusters"][0].nodes[4].memory = "32Gi";
            const changes = await changesBetween(before, after);
            assert.deepStrictEqual(summarize(changes), ["update core-worker2"]);
            assert.deepStrictEqual(
                changes[0].fields.map((f) => [f.path.join("."), f.before, f.after]),
                [
                    ["spec.template.spec.domain.cpu.cores", 8, 12],
                    ["spec.template.spec.domain.memory.guest", "16Gi", "32Gi"],
                    // The launcher pod requests the vCPUs as whole cores (lib/render/manifests.ts).
                    ["spec.template.spec.domain.resources.requests.cpu", "8", "12"],
                ],
            );
        });

        it("changing one node's image replaces only its DataVolume and VM, and `up` waits again", async () => {
            const before = editableStackConfig("france");
            const after = editableStackConfig("france");
            after["edge:clusters"][0].nodes[4].image = "ubuntu-noble";
            const changes = await changesBetween(before, after);
            assert.deepStrictEqual(summarize(changes), [
                "replace core-sync",
                "replace core-worker2",
                "replace core-worker2-rootdisk",
            ]);
        });

        for (const [what, edit, reason] of [
            [
                "image",
                (c: any) => (c["edge:clusters"][0].nodes[1].image = "ubuntu-jammy"),
                "a DataVolume's spec is immutable",
            ],
            [
                "disk size",
                (c: any) => (c["edge:clusters"][0].nodes[1].disk = "20Gi"),
                "a DataVolume's spec is immutable",
            ],
            [
                "storage class",
                (c: any) => {
                    c["edge:site"].storageClass = "ceph-block";
                    // Every disk, the only etcd member's too: the operator must agree.
                    c["edge:clusters"][0].acknowledgeReplacement = true;
                },
                "a DataVolume's spec is immutable",
            ],
            [
                "roles",
                (c: any) => (c["edge:clusters"][0].nodes[1].roles = ["worker", "controlplane"]),
                'replaceOnChanges: metadata.annotations["edge.testbed/root-disk"]',
            ],
        ] as const) {
            it(`a changed ${what} replaces each disk it touches, and its VM with it`, async () => {
                const before = greeceWithJammy();
                const after = greeceWithJammy();
                edit(after);
                const changes = await changesBetween(before, after);
                const replaced = changes.filter((c) => c.action === "replace");
                const disks = replaced.filter((c) => c.name.endsWith("-rootdisk"));
                assert.ok(disks.length > 0, "a disk is replaced");
                for (const disk of disks) {
                    assert.ok(disk.reasons.includes(reason), `${disk.name}: ${disk.reasons}`);
                    const vm = replaced.find((c) => c.name === disk.name.replace(/-rootdisk$/, ""));
                    assert.ok(vm, `the VM of ${disk.name} is replaced too`);
                    // replaceWith: the disk's delete-before-replace deletes the VM first.
                    assert.deepStrictEqual(vm.reasons, [
                        'replaceOnChanges: metadata.annotations["edge.testbed/root-disk"]',
                        `replaceWith: ${disk.name} is replaced`,
                    ]);
                    assert.ok(disk.deleteFirst && vm.deleteFirst);
                }
                assert.deepStrictEqual(
                    changes
                        .filter((c) => c.action !== "replace")
                        .filter((c) => !(c.action === "update" && c.name.endsWith("-cloudinit"))),
                    [],
                    "nothing but a cloud-init Secret changes in place",
                );
            });
        }

        for (const [what, names] of [
            ["first", ["zulu", "alpha", "bravo", "charlie"]],
            ["middle", ["alpha", "zulu", "bravo", "charlie"]],
            ["last", ["alpha", "bravo", "charlie", "zulu"]],
        ] as const) {
            it(`adding a cluster ${what} in the list changes nothing of the others`, async () => {
                const before = locked(threeClusters());
                const after = threeClusters([...names]);
                after["edge:allocations"] = before["edge:allocations"];
                const changes = await changesBetween(before, locked(after));
                assert.ok(changes.length > 0);
                for (const change of changes) {
                    assert.strictEqual(change.action, "create", change.name);
                    assert.ok(/^(zulu|synthetic-ns-zulu)/.test(change.name), change.name);
                }
            });
        }

        for (const [what, index] of [
            ["first", 0],
            ["middle", 1],
            ["last", 2],
        ] as const) {
            it(`removing the ${what} cluster changes nothing of the others`, async () => {
                const before = locked(threeClusters());
                const after = structuredClone(before);
                const [removed] = after["edge:clusters"].splice(index, 1);
                const changes = await changesBetween(before, locked(after));
                for (const change of changes) {
                    assert.strictEqual(change.action, "delete", change.name);
                    assert.ok(
                        change.name.startsWith(`${removed.name}`) ||
                            change.name.endsWith(`-ns-${removed.name}`),
                    );
                }
                assert.strictEqual(
                    chains(changes).length,
                    4,
                    "the cluster, its 2 nodes, its namespace",
                );
            });
        }

        it("reordering clusters and nodes changes nothing at all", async () => {
            const before = editableStackConfig("france");
            const after = editableStackConfig("france");
            after["edge:clusters"].reverse();
            after["edge:clusters"][1].nodes.reverse();
            assert.deepStrictEqual(await changesBetween(before, after), []);
        });
    });

    describe("no accidental destruction", () => {
        it("site.protect protects everything in the site but Pulumi's own bookkeeping", async () => {
            const config = editableStackConfig("france");
            config["edge:site"].protect = true;
            config["edge:clusters"][0].breakGlassKubeconfig = true;
            config["edge:sshPrivateKey"] = "PRIVATE-KEY";
            const { resources } = await evaluateProgram(config, placeholders, {
                stack: "test",
                preview: true,
                secretKeys: ["edge:sshPrivateKey"],
            });
            const keys = (protect: boolean) =>
                resources
                    .filter((r) => r.options.protect === protect)
                    .map((r) => `${r.type}::${r.name}`);
            // Deleting a ClusterSync or the break-glass read deletes nothing in Rancher or a node.
            assert.deepStrictEqual(keys(false), [
                "command:remote:Command::core-break-glass",
                "pulumi:providers:kubernetes::france-host",
                "rancher2:index/clusterSync:ClusterSync::core-sync",
                "rancher2:index/clusterSync:ClusterSync::lab-sync",
                "rancher2:index/clusterSync:ClusterSync::ml-sync",
            ]);
            assert.strictEqual(keys(true).length, 68);
            assert.ok(
                keys(true).includes("kubernetes:kubevirt.io/v1:VirtualMachine::core-server1"),
            );
            const unprotected = await evaluate(editableStackConfig("france"));
            assert.ok(
                unprotected.resources.every((r) => !r.options.protect),
                "off by default",
            );
        });

        it("an acknowledged CIDR change replaces the cluster and every node, and nothing else", async () => {
            const before = editableStackConfig("france");
            const after = editableStackConfig("france");
            after["edge:clusters"][0].podCidr = "10.92.0.0/16";
            after["edge:clusters"][0].acknowledgeReplacement = true;
            const changes = await changesBetween(before, locked(after));
            const replaced = changes.filter((c) => c.action === "replace");
            assert.deepStrictEqual(
                changes.filter((c) => c.action !== "replace"),
                [],
                "no update in place",
            );
            assert.deepStrictEqual(
                replaced.map((c) => c.name).sort(),
                [
                    "core",
                    "core-sync",
                    ...["server1", "server2", "server3", "worker1", "worker2"].flatMap((n) => [
                        `core-${n}`,
                        `core-${n}-rootdisk`,
                    ]),
                ].sort(),
            );
            const cluster = replaced.find((c) => c.name === "core")!;
            assert.deepStrictEqual(cluster.reasons, [
                'replaceOnChanges: annotations["edge.testbed/cluster-identity"]',
            ]);
            assert.deepStrictEqual(
                replaced.filter((c) => !c.deleteFirst).map((c) => c.name),
                ["core-sync"],
                "same names: old ones go first; a ClusterSync names nothing in Rancher",
            );
        });

        it("keeps a golden image while a node still uses it", () => {
            const config = editableStackConfig("france");
            delete config["edge:images"]["ubuntu-noble"];
            assert.throws(() => planStack(rawStackConfig(config)), {
                message:
                    'invalid stack config (1 problem):\n  - clusters[1].nodes[0].image: unknown image "ubuntu-noble" (edge:images has: ubuntu-jammy)',
            });
        });
    });

    describe("secrets", () => {
        let resources: Awaited<ReturnType<typeof runProgram>>["resources"];
        let outputs: Record<string, any>;

        before(async () => {
            const config = editableStackConfig("greece");
            config["edge:site"].kubeconfig = "apiVersion: v1\nkind: Config\n# host-kubeconfig\n";
            config["edge:sshPrivateKey"] = "-----BEGIN OPENSSH PRIVATE KEY-----\nc2VjcmV0\n";
            config["edge:clusters"][0].breakGlassKubeconfig = true;
            ({ resources, outputs } = await runProgram(config, {
                stack: "greece",
                secretKeys: ["edge:site", "edge:sshPrivateKey"],
            }));
        });

        /** Every registered input that holds `value` outside a secret. */
        function plainOccurrences(value: string): string[] {
            return resources
                .filter((r) =>
                    JSON.stringify(r.inputs, (_key, v) =>
                        secretValue(v) !== undefined ? "<secret>" : v,
                    ).includes(value),
                )
                .map((r) => `${r.type} ${r.name}`);
        }

        it("the registration token, kubeconfigs and SSH key travel only as secrets", () => {
            for (const value of [mockRancher.token, "host-kubeconfig", "c2VjcmV0"]) {
                assert.deepStrictEqual(plainOccurrences(value), [], value);
            }
            const provider = ofType(resources, types.k8sProvider)[0];
            assert.ok(secretValue(provider.inputs.kubeconfig).includes("host-kubeconfig"));
            const command = ofType(resources, types.remoteCommand)[0];
            assert.ok(secretValue(command.inputs.connection).privateKey.includes("c2VjcmV0"));
        });

        it("the registration command sits in the cloud-init Secret, never in a VM spec", () => {
            for (const secret of ofType(resources, types.secret)) {
                const command = registrationCommandOf(
                    secretValue(secret.inputs.stringData).userdata,
                );
                assert.ok(command.startsWith(mockRancher.nodeCommand), "TLS-verified command");
            }
            for (const vm of ofType(resources, types.virtualMachine)) {
                assert.ok(!JSON.stringify(vm.inputs).includes("curl"), vm.name);
            }
        });

        it("user-data sets no password and turns SSH password login off", () => {
            for (const secret of ofType(resources, types.secret)) {
                const userData = parse(secretValue(secret.inputs.stringData).userdata);
                assert.strictEqual(userData.ssh_pwauth, false);
                for (const key of [
                    "password",
                    "passwd",
                    "chpasswd",
                    "users",
                    "plain_text_passwd",
                ]) {
                    assert.ok(!(key in userData), `${secret.name} sets ${key}`);
                }
            }
        });

        it("exports kubeconfigs as secrets", async () => {
            const cluster = (await outputs.clusters)["final-test"];
            assert.strictEqual(await pulumi.isSecret(cluster.kubeconfig), true);
            assert.strictEqual(await pulumi.isSecret(cluster.breakGlassKubeconfig), true);
            assert.strictEqual(
                await pulumi.isSecret(pulumi.output(cluster.podCidr)),
                false,
                "addresses stay readable",
            );
            const breakGlass = parse(await promiseOf(cluster.breakGlassKubeconfig));
            assert.strictEqual(
                breakGlass.clusters[0].cluster.server,
                `https://172.28.2.88:${mockRancher.nodePort}`,
            );
        });
    });

    describe("teardown", () => {
        let evaluation: Evaluation;
        let byKey: Map<string, EvaluatedResource>;

        before(async () => {
            evaluation = await evaluate(editableStackConfig("france"), "france");
            byKey = new Map(evaluation.resources.map((r) => [`${r.type}::${r.name}`, r]));
        });

        /** What must be gone before `key` can be deleted: its dependents and its children. */
        function deletedBefore(key: string): Set<string> {
            const found = new Set<string>();
            const visit = (target: string) => {
                for (const r of evaluation.resources) {
                    const k = `${r.type}::${r.name}`;
                    if (
                        !found.has(k) &&
                        (r.dependencies.includes(target) || r.options.parent === target)
                    ) {
                        found.add(k);
                        visit(k);
                    }
                }
            };
            visit(key);
            return found;
        }

        /** The order `pulumi destroy` may delete in: a resource once nothing needs it any more. */
        function destroyOrder(): string[] {
            const order: string[] = [];
            const remaining = new Set(byKey.keys());
            while (remaining.size > 0) {
                const ready = [...remaining]
                    .filter((k) => [...deletedBefore(k)].every((d) => !remaining.has(d)))
                    .sort();
                assert.ok(ready.length > 0, "no dependency cycle");
                for (const k of ready) {
                    remaining.delete(k);
                    order.push(k);
                }
            }
            return order;
        }

        it("deletes VMs before their disks and Secrets, nodes before the Rancher cluster, images and NADs after every node", () => {
            const order = destroyOrder();
            const at = (type: string, name: string) => {
                const index = order.indexOf(`${type}::${name}`);
                assert.ok(index >= 0, `${type}::${name}`);
                return index;
            };
            for (const cluster of ["core", "lab"]) {
                const nodes = evaluation.resources.filter(
                    (r) => r.type === types.virtualMachine && r.name.startsWith(`${cluster}-`),
                );
                assert.ok(nodes.length > 0);
                for (const vm of nodes) {
                    const vmAt = at(types.virtualMachine, vm.name);
                    assert.ok(
                        vmAt < at(types.dataVolume, `${vm.name}-rootdisk`),
                        `${vm.name} before its disk`,
                    );
                    assert.ok(
                        vmAt < at(types.secret, `${vm.name}-cloudinit`),
                        `${vm.name} before its Secret`,
                    );
                    assert.ok(
                        at(types.secret, `${vm.name}-cloudinit`) < at(types.clusterV2, cluster),
                    );
                    assert.ok(
                        vmAt < at(types.clusterV2, cluster),
                        `${vm.name} before the Rancher cluster`,
                    );
                    assert.ok(
                        at(types.clusterSync, `${cluster}-sync`) < vmAt,
                        "the sync goes first",
                    );
                }
            }
            const nodeResources = order.filter(
                (k) =>
                    [types.virtualMachine, types.secret].some((t) => k.startsWith(`${t}::`)) ||
                    k.endsWith("-rootdisk"),
            );
            const shared = order.filter(
                (k) => k.startsWith(`${types.nad}::`) || k.includes("::france-image-"),
            );
            assert.strictEqual(shared.length, 5);
            for (const s of shared) {
                for (const n of nodeResources) {
                    assert.ok(order.indexOf(n) < order.indexOf(s), `${n} before ${s}`);
                }
            }
        });

        it("references nothing the stack does not own", () => {
            const owned = (type: string, namespace: string, name: string) =>
                evaluation.resources.some(
                    (r) =>
                        r.type === type &&
                        r.inputs.metadata?.name === name &&
                        r.inputs.metadata?.namespace === namespace,
                );
            for (const vm of evaluation.resources.filter((r) => r.type === types.virtualMachine)) {
                const { namespace } = vm.inputs.metadata;
                const spec = vm.inputs.spec.template.spec;
                for (const volume of spec.volumes) {
                    if (volume.dataVolume) {
                        assert.ok(
                            owned(types.dataVolume, namespace, volume.dataVolume.name),
                            volume.dataVolume.name,
                        );
                    } else {
                        const { secretRef, networkDataSecretRef } = volume.cloudInitNoCloud;
                        assert.ok(owned(types.secret, namespace, secretRef.name));
                        assert.ok(owned(types.secret, namespace, networkDataSecretRef.name));
                    }
                }
                for (const network of spec.networks.filter((n: any) => n.multus)) {
                    const [nadNamespace, nadName] = network.multus.networkName.split("/");
                    assert.ok(owned(types.nad, nadNamespace, nadName), network.multus.networkName);
                }
            }
            // CDI names each DataVolume's PVC after it and owns it, so deleting the DataVolume
            // deletes the PVC; every clone source must be a golden image of this stack.
            for (const dv of evaluation.resources.filter((r) => r.type === types.dataVolume)) {
                assert.strictEqual(
                    dv.inputs.metadata.annotations["cdi.kubevirt.io/storage.deleteAfterCompletion"],
                    "false",
                );
                const source = dv.inputs.spec.source.pvc;
                if (source) {
                    assert.ok(owned(types.dataVolume, source.namespace, source.name), source.name);
                }
            }
        });
    });
});
