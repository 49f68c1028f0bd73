import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import type * as components from "../components";
import { planStack, StackPlan } from "../lib/plan";
import { rawStackConfig } from "../lib/stackFile";
import { greeceNodes } from "./fixtures";
import {
    RecordedResource,
    captureOptions,
    editableStackConfig,
    inStack,
    mockRancher,
    ofType,
    promiseOf,
    secretValue,
    setupMocks,
    types,
} from "./mocks";

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
            const networks = await promiseOf(site.networks);

            assert.deepStrictEqual(
                ofType(resources, types.namespace).map((r) => [r.name, r.inputs.metadata.name]),
                [
                    ["france-ns-edge-images", "edge-images"],
                    ["france-ns-edge-networks", "edge-networks"],
                    ["france-ns-core", "core"],
                    ["france-ns-lab", "lab"],
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
                pulumi.all([component.ips, component.macs, component.roles]),
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
                parse(data.userdata).runcmd[0].startsWith(
                    `${mockRancher.nodeCommand} --controlplane`,
                ),
            );

            const disk = named(resources, types.dataVolume, "final-test-cluster-master-rootdisk");
            assert.deepStrictEqual(disk.inputs, node.rootDisk);
            const vm = named(resources, types.virtualMachine, "final-test-cluster-master");
            assert.deepStrictEqual(vm.inputs, node.virtualMachine);
            assert.ok(!JSON.stringify(vm.inputs).includes(mockRancher.token), "no token in the VM");

            assert.deepStrictEqual(outputs, [
                { lab: "192.168.18.203" },
                { lab: "e6:d3:d0:a5:8f:c8" },
                ["controlplane", "etcd", "worker"],
            ]);
        });

        it("replaces disk and VM together, after the golden image, NADs and Secret exist", async () => {
            await declareNode(stackPlan("greece"));

            const disk = captured.options.get("final-test-cluster-master-rootdisk")!;
            assert.deepStrictEqual(disk.replaceOnChanges, [
                "spec",
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
            assert.deepStrictEqual(await namesOf(vm.dependsOn), [
                "final-test-cluster-master-cloudinit",
                "final-test-cluster-master-rootdisk",
                "greece-nad-lab",
            ]);
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
                    { site: plan.site, cluster: plan.clusters[index], siteNetwork, sshPrivateKey },
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

        it("waits for every node before syncing, and keeps the kubeconfig secret", async () => {
            const cluster = await declareCluster(stackPlan("greece"));
            assert.strictEqual(await pulumi.isSecret(cluster.kubeconfig), true);
            assert.strictEqual(await promiseOf(cluster.kubeconfig), mockRancher.kubeconfig);

            const sync = named(resources, types.clusterSync, "final-test-sync");
            assert.deepStrictEqual(sync.inputs, { clusterId: "c-m-final-test" });
            assert.deepStrictEqual(
                await namesOf(captured.options.get("final-test-sync")!.dependsOn),
                ["final-test-cluster-master", "final-test-worker1"],
            );
        });

        it("reaches the API through the first server node without direct access", async () => {
            const plan = stackPlan("france");
            const lab = await declareCluster(plan, 1);
            assert.strictEqual(await promiseOf(lab.apiEndpoint), "https://10.120.0.15:6443");
            assert.ok(!("localAuthEndpoint" in named(resources, types.clusterV2, "lab").inputs));
            assert.ok(!resources.some((r) => r.name === "lab-api"));
        });

        it("registers nodes with the insecure command only when the site opts out of TLS checks", async () => {
            const plan = stackPlan("greece", (raw) => (raw.site.insecureRegistration = true));
            await declareCluster(plan);
            const data = secretValue(
                named(resources, types.secret, "final-test-worker1-cloudinit").inputs.stringData,
            );
            assert.ok(
                parse(data.userdata).runcmd[0].startsWith(
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
                port: 22,
                dialErrorLimit: 10,
                perDialTimeout: 15,
            });
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
                    const args = { site: plan.site, cluster: plan.clusters[0], siteNetwork };
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
