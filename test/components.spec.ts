import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import type * as components from "../components";
import { cloudInitUuid } from "../lib/render/instanceId";
import { withFirmwareUuid } from "../lib/render/manifests";
import { planStack, StackPlan } from "../lib/plan/stackPlan";
import { rawStackConfig } from "../lib/config/stackFile";
import { greeceNodes } from "./fixtures";
import {
    RecordedResource,
    captureOptions,
    editableStackConfig,
    inStack,
    mockClusterCa,
    mockRancher,
    mockRancherCa,
    ofType,
    projectRoot,
    promiseOf,
    registrationCommandOf,
    secretValue,
    setupMocks,
    testJoinHook,
    testRemovalHook,
    types,
    warningsOf,
} from "./mocks";
import { withInterconnects } from "../runtime/projectFiles";

function stackPlan(stack: string, edit?: (raw: any) => void): StackPlan {
    const raw = rawStackConfig(editableStackConfig(stack)) as any;
    edit?.(raw);
    return planStack(raw).plan;
}

/** The one recorded resource of `type` named `name`; components share names with a child. */
function named(resources: RecordedResource[], type: string, name: string): RecordedResource {
    const found = resources.find((r) => r.type === type && r.name === name);
    assert.ok(found, `no ${type} named ${name}`);
    return found;
}

/** Names of the resources an option list refers to. */
async function namesOf(resources: unknown): Promise<string[]> {
    const list = (resources ?? []) as pulumi.Resource[];
    const urns = await Promise.all(list.map((r) => promiseOf(r.urn)));
    return urns.map((urn) => urn.split("::").pop()!);
}

describe("components", () => {
    let resources: RecordedResource[];
    let edge: typeof components;
    let captured: ReturnType<typeof captureOptions>;

    beforeEach(async () => {
        resources = await setupMocks({});
        edge = await import("../components");
        captured = captureOptions();
    });

    describe("SiteNetwork", () => {
        it("declares namespaces, one NAD per network and one golden image per cloud image", async () => {
            const plan = stackPlan("france");
            const site = await inStack(
                async () =>
                    new edge.SiteNetwork(
                        "france",
                        { site: plan.site },
                        { transformations: [captured.transformation] },
                    ),
            );
            const networks = site.networks;

            assert.deepStrictEqual(
                ofType(resources, types.namespace).map((r) => [r.name, r.inputs.metadata.name]),
                [
                    ["france-ns-edge-images", "edge-images"],
                    ["france-ns-edge-networks", "edge-networks"],
                    ["france-ns-core", "core"],
                    ["france-ns-lab", "lab"],
                    ["france-ns-ml", "ml"],
                ],
            );
            const nad = named(resources, types.nad, "france-nad-storage");
            assert.deepStrictEqual(nad.inputs, plan.site.networks[1].nad);
            const jammy = named(resources, types.dataVolume, "france-image-ubuntu-jammy");
            assert.deepStrictEqual(jammy.inputs, plan.site.images[0].dataVolume);
            assert.deepStrictEqual(networks.storage, {
                bridge: "br-trunk",
                vlan: 121,
                cidr: "10.121.0.0/24",
                gateway: "10.121.0.1",
                networkAttachmentDefinition: "edge-networks/storage",
            });

            const image = captured.options.get("france-image-ubuntu-jammy")!;
            assert.deepStrictEqual(image.replaceOnChanges, ["spec"]);
            assert.strictEqual(image.deleteBeforeReplace, true);
            assert.deepStrictEqual(await namesOf(image.dependsOn), ["france-ns-edge-images"]);
            assert.deepStrictEqual(
                await namesOf(captured.options.get("france-nad-edge")!.dependsOn),
                ["france-ns-edge-networks"],
            );
        });
    });

    describe("KubevirtNode", () => {
        function declareNode(plan: StackPlan) {
            return inStack(async () => {
                const site = new edge.SiteNetwork("greece", { site: plan.site });
                const node = plan.clusters[0].nodes[0];
                const component = new edge.KubevirtNode(
                    "final-test-cluster-master",
                    {
                        node,
                        registrationCommand: mockRancher.nodeCommand,
                        rancherCaCerts: mockRancherCa,
                        removalHook: testRemovalHook(),
                        goldenImage: site.goldenImages["ubuntu-focal"],
                        namespace: site.namespaces["final-test"],
                        networkAttachments: [site.networkAttachments.lab],
                    },
                    { transformations: [captured.transformation] },
                );
                return { node, component };
            });
        }

        it("puts cloud-init in a secret Secret and the plan's disk and VM on the cluster", async () => {
            const plan = stackPlan("greece");
            const { node, component } = await declareNode(plan);
            const outputs = await promiseOf(
                pulumi.all([
                    component.ips,
                    component.macs,
                    component.roles,
                    component.hostPublicKey,
                ]),
            );

            const secret = named(resources, types.secret, "final-test-cluster-master-cloudinit");
            assert.deepStrictEqual(secret.inputs.metadata, {
                name: "final-test-cluster-master-cloudinit",
                namespace: "final-test",
            });
            const data = secretValue(secret.inputs.stringData);
            assert.ok(data, "stringData is sent as a secret");
            assert.deepStrictEqual(Object.keys(data).sort(), ["networkdata", "userdata"]);
            assert.strictEqual(data.networkdata, node.networkData);
            assert.ok(
                registrationCommandOf(data.userdata).startsWith(
                    `${mockRancher.nodeCommand} --controlplane`,
                ),
            );
            const userData = parse(data.userdata);
            const hostKey = mockRancher.hostKey("final-test-cluster-master-hostkey");
            assert.deepStrictEqual(userData.ssh_keys, {
                ed25519_private: hostKey.privateKeyOpenssh,
                ed25519_public: hostKey.publicKeyOpenssh.trim(),
            });
            assert.deepStrictEqual(userData.ca_certs, { trusted: [mockRancherCa] });

            const disk = named(resources, types.dataVolume, "final-test-cluster-master-rootdisk");
            assert.deepStrictEqual(disk.inputs, node.rootDisk);
            const vm = named(resources, types.virtualMachine, "final-test-cluster-master");
            // The plan's VM with the firmware UUID of the Secret's very data, sent in plain text.
            const uuid = cloudInitUuid(
                { namespace: "final-test", name: "final-test-cluster-master" },
                data,
            );
            assert.deepStrictEqual(vm.inputs, withFirmwareUuid(node.virtualMachine, uuid));
            assert.strictEqual(vm.inputs.spec.template.spec.domain.firmware.uuid, uuid);
            assert.ok(!JSON.stringify(vm.inputs).includes(mockRancher.token), "no token in the VM");

            assert.deepStrictEqual(outputs, [
                { lab: "192.168.18.203" },
                { lab: "e6:d3:d0:a5:8f:c8" },
                ["controlplane", "etcd", "worker"],
                "ssh-ed25519 AAAAmockhostkeyfinaltestclustermasterhostkey",
            ]);
        });

        it("trusts no extra CA when Rancher's certificate is publicly signed", async () => {
            await inStack(async () => {
                const plan = stackPlan("greece");
                const site = new edge.SiteNetwork("greece", { site: plan.site });
                return new edge.KubevirtNode("final-test-worker1", {
                    node: plan.clusters[0].nodes[1],
                    registrationCommand: mockRancher.nodeCommand,
                    rancherCaCerts: "",
                    removalHook: testRemovalHook(),
                    goldenImage: site.goldenImages["ubuntu-focal"],
                    namespace: site.namespaces["final-test"],
                    networkAttachments: [site.networkAttachments.lab],
                });
            });
            const secret = named(resources, types.secret, "final-test-worker1-cloudinit");
            const userData = parse(secretValue(secret.inputs.stringData).userdata);
            assert.ok(!("ca_certs" in userData), "no ca_certs");
        });

        it("replaces disk and VM together, after the golden image, NADs and Secret exist", async () => {
            await declareNode(stackPlan("greece"));

            const disk = captured.options.get("final-test-cluster-master-rootdisk")!;
            assert.deepStrictEqual(disk.replaceOnChanges, [
                "spec",
                'metadata.annotations["edge.testbed/root-disk"]',
                'metadata.annotations["edge.testbed/cluster-identity"]',
            ]);
            assert.strictEqual(disk.deleteBeforeReplace, true);
            assert.deepStrictEqual(await namesOf(disk.dependsOn), [
                "greece-ns-final-test",
                "greece-image-ubuntu-focal",
            ]);
            const vm = captured.options.get("final-test-cluster-master")!;
            assert.deepStrictEqual(vm.replaceOnChanges, [
                'metadata.annotations["edge.testbed/root-disk"]',
                'metadata.annotations["edge.testbed/cluster-identity"]',
            ]);
            assert.strictEqual(vm.deleteBeforeReplace, true);
            assert.deepStrictEqual(
                vm.hooks?.beforeDelete?.map((hook) => hook.name),
                ["edge-node-removal"],
            );
            assert.deepStrictEqual(await namesOf(vm.dependsOn), [
                "final-test-cluster-master-cloudinit",
                "final-test-cluster-master-rootdisk",
                "greece-nad-lab",
            ]);
        });

        it("awaits nothing of the VM itself, and binds only the removal hook to it", async () => {
            await declareNode(stackPlan("greece"));
            const vm = named(resources, types.virtualMachine, "final-test-cluster-master");
            assert.strictEqual(vm.inputs.metadata.annotations["pulumi.com/skipAwait"], "true");
            assert.ok(!("pulumi.com/waitFor" in vm.inputs.metadata.annotations), "no waitFor");
            const options = captured.options.get("final-test-cluster-master")!;
            assert.deepStrictEqual(Object.keys(options.hooks ?? {}), ["beforeDelete"]);
            assert.strictEqual(options.customTimeouts, undefined);
        });
    });

    describe("InterconnectGateway", () => {
        it("awaits nothing of its VM and binds no hook: it is no Rancher node", async () => {
            const raw = rawStackConfig(editableStackConfig("greece"));
            const { plan } = planStack(
                withInterconnects({ ...raw, hasWireguardKey: true }, projectRoot),
            );
            const [gateway] = plan.gateways;
            await inStack(async () => {
                const site = new edge.SiteNetwork("greece", { site: plan.site });
                return new edge.InterconnectGateway(
                    gateway.vmName,
                    {
                        gateway,
                        privateKey: "test-key",
                        namespace: site.namespaces[gateway.namespace],
                        goldenImage: site.goldenImages[gateway.gateway.image],
                        networkAttachment: site.networkAttachments[gateway.gateway.network],
                    },
                    { transformations: [captured.transformation] },
                );
            });
            const vm = named(resources, types.virtualMachine, "greece-eu-gw");
            assert.strictEqual(vm.inputs.metadata.annotations["pulumi.com/skipAwait"], "true");
            assert.ok(!("pulumi.com/waitFor" in vm.inputs.metadata.annotations), "no waitFor");
            const options = captured.options.get("greece-eu-gw")!;
            assert.strictEqual(options.hooks, undefined);
            assert.strictEqual(options.customTimeouts, undefined);
        });
    });

    describe("EdgeCluster", () => {
        async function declareCluster(
            plan: StackPlan,
            index = 0,
            sshPrivateKey?: string,
        ): Promise<components.EdgeCluster> {
            return inStack(async () => {
                const siteNetwork = new edge.SiteNetwork(plan.site.name, { site: plan.site });
                return new edge.EdgeCluster(
                    plan.clusters[index].name,
                    {
                        site: plan.site,
                        cluster: plan.clusters[index],
                        siteNetwork,
                        sshPrivateKey,
                        rancherCaCerts: mockRancherCa,
                        removalHook: testRemovalHook(),
                        joinHook: testJoinHook(),
                    },
                    { transformations: [captured.transformation] },
                );
            });
        }

        it("declares the Rancher cluster with its server config and direct endpoint", async () => {
            const plan = stackPlan("greece");
            const cluster = await declareCluster(plan);
            const [id, endpoint, podCidr, nodes] = await promiseOf(
                pulumi.all([
                    cluster.clusterId,
                    cluster.apiEndpoint,
                    cluster.podCidr,
                    cluster.nodeSummaries,
                ]),
            );

            const rancher = named(resources, types.clusterV2, "final-test");
            assert.deepStrictEqual(rancher.inputs, {
                name: "greece-final-test",
                kubernetesVersion: "v1.31.5+k3s1",
                labels: { "edge.testbed/site": "greece", "edge.testbed/cluster": "final-test" },
                annotations: {
                    "edge.testbed/cluster-identity": "k3s pods=10.64.0.0/16 services=10.65.0.0/16",
                },
                rkeConfig: { machineGlobalConfig: plan.clusters[0].machineGlobalConfig },
                localAuthEndpoint: { enabled: true, fqdn: "172.28.2.88:31443" },
            });
            const service = named(resources, types.service, "final-test-api");
            assert.deepStrictEqual(service.inputs, plan.clusters[0].apiService);

            assert.strictEqual(id, "c-m-final-test");
            assert.strictEqual(endpoint, "https://172.28.2.88:31443");
            assert.strictEqual(podCidr, "10.64.0.0/16");
            assert.deepStrictEqual(nodes, greeceNodes);
        });

        it("hands the rke2 CNI the node's site interface through chartValues", async () => {
            const plan = stackPlan("france");
            await declareCluster(plan);
            const rancher = named(resources, types.clusterV2, "core");
            assert.deepStrictEqual(parse(rancher.inputs.rkeConfig.chartValues), {
                "rke2-calico": {
                    installation: {
                        calicoNetwork: {
                            nodeAddressAutodetectionV4: { kubernetes: "NodeInternalIP" },
                        },
                    },
                },
            });
        });

        it("waits for every node before syncing, and keeps the kubeconfig secret", async () => {
            const plan = stackPlan("greece");
            const cluster = await declareCluster(plan);
            assert.strictEqual(await pulumi.isSecret(cluster.kubeconfig), true);
            const kubeconfig = parse(await promiseOf(cluster.kubeconfig));
            // The direct API's certificate is signed by the cluster's own CA, which Rancher reports.
            assert.deepStrictEqual(
                kubeconfig.clusters.map((c: any) => [
                    c.name,
                    c.cluster["certificate-authority-data"] &&
                        Buffer.from(c.cluster["certificate-authority-data"], "base64").toString(),
                ]),
                [
                    ["mock", undefined],
                    ["mock-fqdn", mockClusterCa],
                    ["mock-france-fqdn", undefined],
                ],
            );

            const sync = named(resources, types.clusterSync, "final-test-sync");
            // Six confirmations 5 s apart: active must last, not be a moment before a node is planned.
            assert.deepStrictEqual(sync.inputs, { clusterId: "c-m-final-test", stateConfirm: 6 });
            const options = captured.options.get("final-test-sync")!;
            assert.deepStrictEqual(await namesOf(options.dependsOn), [
                "final-test-cluster-master",
                "final-test-worker1",
            ]);
            // Every change of the node set replaces it, so `pulumi up` waits again...
            assert.strictEqual(options.replacementTrigger, plan.clusters[0].syncTrigger);
            // ...first until Rancher lists each node.
            assert.deepStrictEqual(
                options.hooks?.beforeCreate?.map((hook) => (hook as pulumi.ResourceHook).name),
                ["edge-node-join"],
            );
            assert.strictEqual(
                plan.clusters[0].syncTrigger,
                [
                    "k3s pods=10.64.0.0/16 services=10.65.0.0/16",
                    "cluster-master namespace=final-test image=edge-images/ubuntu-focal size=15Gi storageClass=local-path roles=controlplane,etcd,worker",
                    "worker1 namespace=final-test image=edge-images/ubuntu-focal size=15Gi storageClass=local-path roles=worker",
                ].join("\n"),
            );
        });

        it("warns when Rancher calls the cluster active without every planned node", async () => {
            const warnings = await warningsOf(async () => {
                await setupMocks(
                    {},
                    { overrides: { [types.clusterSync]: { nodes: [{ name: "cluster-master" }] } } },
                );
                await declareCluster(stackPlan("greece"));
            });
            assert.deepStrictEqual(warnings, [
                "Rancher reports cluster greece-final-test active without node worker1; see its VM's console and the cluster's machines in Rancher",
            ]);
        });

        it("reaches the API through the first server node without direct access", async () => {
            const plan = stackPlan("france");
            const lab = await declareCluster(plan, 1);
            assert.strictEqual(await promiseOf(lab.apiEndpoint), "https://10.120.0.15:6443");
            assert.ok(!("localAuthEndpoint" in named(resources, types.clusterV2, "lab").inputs));
            assert.ok(!resources.some((r) => r.name === "lab-api"));
        });

        for (const [what, nodePort] of [
            ["the Service's inputs, with no port yet", undefined],
            ["a server dry run's dummy port, above the node port range", 32769],
        ] as const) {
            it(`leaves the direct endpoint unknown in a preview that reports ${what}`, async () => {
                const plan = stackPlan("greece");
                const service = structuredClone(plan.clusters[0].apiService!);
                if (nodePort !== undefined) {
                    service.spec.ports[0].nodePort = nodePort;
                }
                resources = await setupMocks(
                    {},
                    { preview: true, overrides: { [types.service]: service } },
                );
                const cluster = await declareCluster(plan);
                const isKnown = (output: pulumi.Output<unknown>) =>
                    (output as unknown as { isKnown: Promise<boolean> }).isKnown;
                assert.strictEqual(await isKnown(cluster.apiEndpoint), false);
                const fqdn = named(resources, types.clusterV2, "final-test").inputs
                    .localAuthEndpoint?.fqdn;
                assert.ok(!/undefined|32769/.test(String(fqdn)), `fqdn ${fqdn}`);
            });
        }

        it("registers nodes with the insecure command only when the site opts out of TLS checks", async () => {
            const plan = stackPlan("greece", (raw) => (raw.site.insecureRegistration = true));
            await declareCluster(plan);
            const data = secretValue(
                named(resources, types.secret, "final-test-worker1-cloudinit").inputs.stringData,
            );
            assert.ok(
                registrationCommandOf(data.userdata).startsWith(
                    `${mockRancher.insecureNodeCommand} --worker`,
                ),
            );
        });

        it("reads a break-glass kubeconfig over SSH once the cluster is active", async () => {
            const plan = stackPlan("greece", (raw) => {
                raw.clusters[0].breakGlassKubeconfig = true;
                raw.hasSshPrivateKey = true;
            });
            const cluster = await declareCluster(plan, 0, "PRIVATE-KEY");
            assert.strictEqual(await pulumi.isSecret(cluster.breakGlassKubeconfig), true);
            const kubeconfig = parse((await promiseOf(cluster.breakGlassKubeconfig))!);
            assert.strictEqual(kubeconfig.clusters[0].cluster.server, "https://172.28.2.88:31443");

            const read = named(resources, types.remoteCommand, "final-test-break-glass");
            assert.strictEqual(read.inputs.create, "sudo cat /etc/rancher/k3s/k3s.yaml");
            assert.strictEqual(read.inputs.logging, "none");
            // The key makes the whole connection secret.
            assert.deepStrictEqual(secretValue(read.inputs.connection), {
                host: "192.168.18.203",
                user: "ubuntu",
                privateKey: "PRIVATE-KEY",
                // The host key the node got through cloud-init: no trust on first use.
                hostKey: "ssh-ed25519 AAAAmockhostkeyfinaltestclustermasterhostkey",
                port: 22,
                dialErrorLimit: 10,
                perDialTimeout: 15,
            });
            // A rebuilt cluster or a replaced server node reads the kubeconfig again.
            assert.deepStrictEqual(read.inputs.triggers, [
                "c-m-final-test",
                "final-test-cluster-master",
                "image=edge-images/ubuntu-focal size=15Gi storageClass=local-path roles=controlplane,etcd,worker",
                "k3s pods=10.64.0.0/16 services=10.65.0.0/16",
            ]);
            const options = captured.options.get("final-test-break-glass")!;
            // "connection" is the SDK's own; "stdout" is ours.
            assert.deepStrictEqual(options.additionalSecretOutputs, ["stdout", "connection"]);
            assert.deepStrictEqual(await namesOf(options.dependsOn), ["final-test-sync"]);
        });

        it("refuses a break-glass kubeconfig without an SSH key", async () => {
            const plan = stackPlan("greece", (raw) => {
                raw.clusters[0].breakGlassKubeconfig = true;
                raw.hasSshPrivateKey = true;
            });
            await assert.rejects(declareCluster(plan), (error: unknown) => {
                assert.ok(pulumi.InputPropertyError.isInstance(error));
                assert.strictEqual(error.propertyPath, "sshPrivateKey");
                assert.strictEqual(
                    error.reason,
                    "cluster final-test asks for a break-glass kubeconfig, which is read over SSH",
                );
                return true;
            });
        });

        it("fails clearly when Rancher hands out no registration command", async () => {
            await setupMocks(
                {},
                {
                    overrides: {
                        [types.clusterV2]: { clusterRegistrationToken: { nodeCommand: "" } },
                    },
                },
            );
            const plan = stackPlan("greece");
            let run: Promise<unknown> = Promise.resolve();
            const cluster = await new Promise<components.EdgeCluster>((declared) => {
                run = pulumi.runtime.runInPulumiStack(async () => {
                    const siteNetwork = new edge.SiteNetwork("greece", { site: plan.site });
                    const args = {
                        site: plan.site,
                        cluster: plan.clusters[0],
                        siteNetwork,
                        rancherCaCerts: "",
                        removalHook: testRemovalHook(),
                        joinHook: testJoinHook(),
                    };
                    declared(new edge.EdgeCluster("final-test", args));
                });
            });
            // The cloud-init Secret cannot be sent; Pulumi prefixes the inputs it was serializing.
            const userData = cluster.nodes.worker1.cloudInit.stringData as any;
            await assert.rejects(userData.promise(), (error: Error) => {
                assert.match(
                    error.message,
                    /^(error serializing property "\w+": )+Rancher returned no nodeCommand for cluster greece-final-test; its nodes could never register$/,
                );
                return true;
            });
            // Whether the stack run reports the failure too depends on timing; wait for it either way.
            await run.then(
                () => undefined,
                () => undefined,
            );
            await pulumi.runtime.disconnect();
        });
    });
});

describe("component outputs", () => {
    it("each component registers its public data outputs, not its children", async () => {
        await setupMocks(editableStackConfig("greece"));
        const registered: Record<string, string[]> = {};
        const monitor = pulumi.runtime.getMonitor() as unknown as {
            registerResourceOutputs(request: OutputsRequest, callback: unknown): unknown;
        };
        const register = monitor.registerResourceOutputs.bind(monitor);
        monitor.registerResourceOutputs = (request, callback) => {
            const [type, name] = request.getUrn().split("::").slice(-2);
            const outputs = request.getOutputs()?.toJavaScript() ?? {};
            const token = type.split("$").pop()!;
            if (token.startsWith("edge:")) {
                registered[`${token}::${name}`] = Object.keys(outputs).sort();
            }
            return register(request, callback);
        };
        delete require.cache[require.resolve("../index")];
        await inStack(() => import("../index"));
        assert.deepStrictEqual(registered, {
            [`${types.siteNetwork}::greece`]: ["images", "networks"],
            [`${types.edgeCluster}::final-test`]: [
                // breakGlassKubeconfig is undefined here, so not sent.
                "apiEndpoint",
                "clusterId",
                "kubeconfig",
                "nodeSummaries",
                "podCidr",
                "serviceCidr",
            ],
            [`${types.kubevirtNode}::final-test-cluster-master`]: [
                "hostPublicKey",
                "ips",
                "macs",
                "roles",
            ],
            [`${types.kubevirtNode}::final-test-worker1`]: [
                "hostPublicKey",
                "ips",
                "macs",
                "roles",
            ],
        });
    });
});

/** The part of the SDK's RegisterResourceOutputs request this test reads. */
interface OutputsRequest {
    getUrn(): string;
    getOutputs(): { toJavaScript(): Record<string, unknown> } | undefined;
}
