import * as assert from "assert";
import { pageModel, siteView } from "../offline/viewModel";
import { editableStackConfig } from "./mocks";
import { changedGreece, renderedDir, siteInput } from "./pages";

describe("the topology page's view model", () => {
    it("shows greece's site, networks, cluster and nodes with the plan's addresses", async () => {
        const site = siteView(await siteInput("greece", editableStackConfig("greece")));
        assert.deepStrictEqual(
            site.networks.map((n) => [n.id, n.cidr, n.range, n.counts, n.nearlyFull]),
            [
                [
                    "greece/net/lab",
                    "192.168.18.0/24",
                    { first: "192.168.18.2", last: "192.168.18.249" },
                    { pinned: 2, recorded: 0, new: 0, reserved: 0, free: 246, size: 248 },
                    false,
                ],
            ],
        );
        const cluster = site.clusters[0];
        assert.deepStrictEqual(
            [cluster.id, cluster.type, cluster.podCidr, cluster.serviceCidr, cluster.apiEndpoint],
            [
                "greece/final-test",
                "k3s",
                "10.64.0.0/16",
                "10.65.0.0/16",
                "https://172.28.2.88:<computed: node port>",
            ],
        );
        const worker = cluster.nodes[1];
        assert.deepStrictEqual(
            [worker.id, worker.vmName, worker.roles, worker.nics],
            [
                "greece/final-test/worker1",
                "final-test-worker1",
                ["worker"],
                [
                    {
                        network: "lab",
                        ip: "192.168.18.204",
                        mac: worker.nics[0].mac,
                        state: "pinned",
                    },
                ],
            ],
        );
        assert.match(worker.nics[0].mac, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
        assert.strictEqual(
            worker.registration,
            "--worker --node-name worker1 --address 192.168.18.204 --internal-address 192.168.18.204 --label edge.testbed/site=greece --label edge.testbed/cluster=final-test",
        );
        assert.match(worker.userData, /^#cloud-config\n/);
        assert.ok(
            worker.userData.includes("<computed: Rancher node command> --worker --node-name"),
        );
        assert.deepStrictEqual(site.pool, {
            cidr: "10.64.0.0/12",
            blocks: [
                {
                    cidr: "10.64.0.0/16",
                    kind: "pod",
                    owner: "greece/final-test",
                    offsetPercent: 0,
                    widthPercent: 6.25,
                    overlaps: [],
                },
                {
                    cidr: "10.65.0.0/16",
                    kind: "service",
                    owner: "greece/final-test",
                    offsetPercent: 6.25,
                    widthPercent: 6.25,
                    overlaps: [],
                },
            ],
            reservedOutside: ["10.42.0.0/16", "10.43.0.0/16", "172.28.2.0/24"],
            usedPercent: 12.5,
            nearlyFull: false,
        });
    });

    it("flags a nearly full range, and draws a reserved range that lies in the pool", async () => {
        const config = editableStackConfig("greece");
        config["edge:site"].networks[0].range = "192.168.18.203-192.168.18.206";
        config["edge:site"].reservedCidrs.push("10.72.0.0/13");
        const site = siteView(await siteInput("greece", config));
        assert.deepStrictEqual(
            [site.networks[0].counts, site.networks[0].usedPercent, site.networks[0].nearlyFull],
            [{ pinned: 2, recorded: 0, new: 0, reserved: 0, free: 2, size: 4 }, 50, false],
        );
        config["edge:site"].networks[0].range = "192.168.18.203-192.168.18.204";
        const full = siteView(await siteInput("greece", config));
        assert.deepStrictEqual(
            [full.networks[0].usedPercent, full.networks[0].nearlyFull],
            [100, true],
        );
        assert.deepStrictEqual(
            full.pool.blocks.map((b) => [b.cidr, b.kind, b.offsetPercent, b.widthPercent]),
            [
                ["10.64.0.0/16", "pod", 0, 6.25],
                ["10.65.0.0/16", "service", 6.25, 6.25],
                ["10.72.0.0/13", "reserved", 50, 50],
            ],
        );
        assert.strictEqual(full.pool.usedPercent, 12.5, "reserved ranges are not counted as used");
    });

    it("carries each node's VirtualMachine and root disk as the program declares them", async () => {
        const site = siteView(await siteInput("greece", editableStackConfig("greece")));
        const node = site.clusters[0].nodes[0];
        assert.deepStrictEqual(
            node.manifests.map((m) => `${m.kind} ${m.name}`),
            [
                "VirtualMachine final-test-cluster-master",
                "DataVolume final-test-cluster-master-rootdisk",
            ],
        );
        assert.match(
            node.manifests[0].yaml,
            /^apiVersion: kubevirt\.io\/v1\nkind: VirtualMachine\n/,
        );
        assert.ok(node.manifests[0].yaml.includes(`macAddress: ${node.nics[0].mac}`));
    });

    it("tells pinned, recorded and newly assigned addresses apart", async () => {
        const config = editableStackConfig("france");
        delete config["edge:allocations"].lab.nodes.node1;
        const site = siteView(await siteInput("france", config));
        const states = site.networks.map((n) =>
            n.addresses.map((a) => `${a.ip} ${a.state} ${a.node}`),
        );
        assert.deepStrictEqual(states[0], [
            "10.120.0.10 recorded france/core/worker1",
            "10.120.0.11 pinned france/core/server1",
            "10.120.0.12 pinned france/core/server2",
            "10.120.0.13 pinned france/core/server3",
            "10.120.0.14 recorded france/core/worker2",
            "10.120.0.15 new france/lab/node1",
            "10.120.0.16 recorded france/ml/server-1",
            "10.120.0.17 recorded france/ml/cpu-1",
            "10.120.0.18 recorded france/ml/cpu-2",
            "10.120.0.19 recorded france/ml/gpu-1",
        ]);
        assert.deepStrictEqual(site.networks[0].counts, {
            pinned: 3,
            recorded: 6,
            new: 1,
            reserved: 0,
            free: 80,
            size: 90,
        });
    });

    it("marks what a change does to each node and cluster, and counts it", async () => {
        const input = await siteInput(
            "greece",
            changedGreece(editableStackConfig("greece")),
            renderedDir("greece"),
        );
        const model = pageModel([input]);
        const site = model.sites[0];
        const marks = site.clusters[0].nodes.map((n) => [
            n.name,
            n.changes.map((c) => `${c.action} ${c.resource}`),
        ]);
        assert.deepStrictEqual(marks, [
            [
                "cluster-master",
                [
                    "replace DataVolume final-test-cluster-master-rootdisk",
                    "replace VirtualMachine final-test-cluster-master",
                ],
            ],
            ["worker1", ["update VirtualMachine final-test-worker1"]],
            [
                "worker2",
                [
                    "create DataVolume final-test-worker2-rootdisk",
                    "create Secret final-test-worker2-cloudinit",
                    "create VirtualMachine final-test-worker2",
                ],
            ],
        ]);
        assert.deepStrictEqual(
            site.clusters[0].changes.map((c) => `${c.action} ${c.resource}`),
            ["replace ClusterSync final-test-sync"],
        );
        assert.deepStrictEqual(model.changeCounts, {
            create: 3,
            update: 1,
            replace: 3,
            delete: 0,
        });
        assert.strictEqual(
            input.changes!.length,
            [
                ...site.changes,
                ...site.clusters[0].changes,
                ...site.clusters[0].nodes.flatMap((n) => n.changes),
            ].length,
            "every change is marked on something",
        );
    });

    it("shows france's hosts, what each has and carries, and the nodes no host counts", async () => {
        const site = siteView(await siteInput("france", editableStackConfig("france")));
        assert.deepStrictEqual(
            site.hosts.map((h) => [
                h.id,
                h.name,
                h.zone,
                h.use.map((u) => `${u.label}: ${u.text}`),
            ]),
            [
                [
                    "france/host/fr-host-1",
                    "fr-host-1",
                    "rack-a",
                    [
                        "cores: 14.015 of 62 cores",
                        "memory: 28.97Gi of 250Gi",
                        "1Gi hugepages: 0 of 64Gi",
                    ],
                ],
                [
                    "france/host/fr-host-2",
                    "fr-host-2",
                    "rack-b",
                    ["cores: 12.01 of 62 cores", "memory: 24.67Gi of 250Gi"],
                ],
                [
                    "france/host/fr-host-3",
                    "fr-host-3",
                    "rack-c",
                    [
                        "cores: 12.02 of 46 cores",
                        "memory: 41.79Gi of 186Gi",
                        "intel.com/sriov_fabric: 1 of 8 intel.com/sriov_fabric",
                        "nvidia.com/TU104GL_Tesla_T4: 1 of 2 nvidia.com/TU104GL_Tesla_T4",
                    ],
                ],
            ],
        );
        assert.deepStrictEqual(
            site.hosts.map((h) => [h.name, h.vms.map((vm) => `${vm.vmName} ${vm.node} ${vm.how}`)]),
            [
                [
                    "fr-host-1",
                    [
                        "core-server1 france/core/server1 selector",
                        "ml-cpu-1 france/ml/cpu-1 recorded",
                        "ml-server-1 france/ml/server-1 recorded",
                    ],
                ],
                [
                    "fr-host-2",
                    [
                        "core-server2 france/core/server2 selector",
                        "ml-cpu-2 france/ml/cpu-2 recorded",
                    ],
                ],
                [
                    "fr-host-3",
                    [
                        "core-server3 france/core/server3 selector",
                        "ml-gpu-1 france/ml/gpu-1 recorded",
                    ],
                ],
            ],
        );
        // core-server3 (4 cores, 8Gi) and ml-gpu-1 (8 cores, 32Gi, one T4 and dedicated CPUs) with
        // KubeVirt's overhead (lib/config/defaults.ts), no probe term for their tcpSocket readiness
        // probes: 8Gi + 292Mi + 35M and 32Gi + 1448Mi + 60M; their guest-console-log sidecars
        // add 5m and 15m of CPU.
        assert.deepStrictEqual(site.hosts[2].use, [
            {
                resource: "cpu",
                label: "cores",
                used: 12.02,
                capacity: 46,
                text: "12.02 of 46 cores",
                usedPercent: 26.13,
                nearlyFull: false,
                over: false,
            },
            {
                resource: "memory",
                label: "memory",
                // Two launcher pods to the byte (KubeVirt 1.9, lib/plan/placement.ts
                // launcherMemory).
                used: 44_869_195_200,
                capacity: 186 * 2 ** 30,
                text: "41.79Gi of 186Gi",
                usedPercent: 22.47,
                nearlyFull: false,
                over: false,
            },
            {
                resource: "intel.com/sriov_fabric",
                label: "intel.com/sriov_fabric",
                used: 1,
                capacity: 8,
                text: "1 of 8 intel.com/sriov_fabric",
                usedPercent: 12.5,
                nearlyFull: false,
                over: false,
            },
            {
                resource: "nvidia.com/TU104GL_Tesla_T4",
                label: "nvidia.com/TU104GL_Tesla_T4",
                used: 1,
                capacity: 2,
                text: "1 of 2 nvidia.com/TU104GL_Tesla_T4",
                usedPercent: 50,
                nearlyFull: false,
                over: false,
            },
        ]);
        assert.deepStrictEqual(site.hosts[0].use[2], {
            resource: "hugepages-1Gi",
            label: "1Gi hugepages",
            used: 0,
            capacity: 64 * 2 ** 30,
            text: "0 of 64Gi",
            usedPercent: 0,
            nearlyFull: false,
            over: false,
        });
        const scheduler =
            "the host cluster's scheduler chooses (no hostSelector); placement does not count it";
        assert.deepStrictEqual(site.unplaced, [
            { node: "france/core/worker1", vmName: "core-worker1", reason: scheduler },
            { node: "france/core/worker2", vmName: "core-worker2", reason: scheduler },
            { node: "france/lab/node1", vmName: "lab-node1", reason: scheduler },
        ]);
        const nodes = new Map(site.clusters.flatMap((c) => c.nodes).map((n) => [n.id, n]));
        assert.deepStrictEqual(nodes.get("france/ml/gpu-1")!.placement, {
            host: "fr-host-3",
            hostId: "france/host/fr-host-3",
            how: "recorded",
            howLabel: "recorded",
            reason: "recorded in edge:allocations",
            pool: "intent.workers[1]",
            rejected: [],
        });
        assert.deepStrictEqual(nodes.get("france/core/server1")!.placement, {
            host: "fr-host-1",
            hostId: "france/host/fr-host-1",
            how: "selector",
            howLabel: "hostSelector",
            reason: "its hostSelector matches only this host",
            rejected: [],
        });
        assert.deepStrictEqual(nodes.get("france/core/worker1")!.placement, {
            how: "scheduler",
            howLabel: "scheduler chooses",
            reason: scheduler,
            rejected: [],
        });
    });

    it("shows greece's one host, which carries both nodes since there is no other", async () => {
        const site = siteView(await siteInput("greece", editableStackConfig("greece")));
        assert.deepStrictEqual(
            site.hosts.map((h) => ({
                id: h.id,
                name: h.name,
                zone: h.zone,
                use: h.use.map((u) => [u.resource, u.text, u.usedPercent]),
                vms: h.vms,
            })),
            [
                {
                    id: "greece/host/gr-host-1",
                    name: "gr-host-1",
                    zone: undefined,
                    use: [
                        ["cpu", "12.01 of 30 cores", 40.03],
                        ["memory", "8.67Gi of 124Gi", 6.99],
                    ],
                    vms: [
                        {
                            how: "only host",
                            node: "greece/final-test/cluster-master",
                            vmName: "final-test-cluster-master",
                        },
                        {
                            how: "only host",
                            node: "greece/final-test/worker1",
                            vmName: "final-test-worker1",
                        },
                    ],
                },
            ],
        );
        assert.ok(!("zone" in site.hosts[0]), "a host without a zone has no zone key");
        assert.deepStrictEqual(site.unplaced, []);
        assert.deepStrictEqual(
            site.clusters[0].nodes.map((n) => [n.name, n.placement?.host, n.placement?.howLabel]),
            [
                ["cluster-master", "gr-host-1", "the only host"],
                ["worker1", "gr-host-1", "the only host"],
            ],
        );
    });

    it("says where an intent places a node anew, which hosts it passed over, and flags a nearly full host", async () => {
        const config = editableStackConfig("france");
        delete config["edge:allocations"].ml.hosts;
        config["edge:site"].hosts[2].cpu = 14;
        const site = siteView(await siteInput("france", config));
        const gpu = site.clusters
            .find((c) => c.name === "ml")!
            .nodes.find((n) => n.name === "gpu-1")!;
        assert.deepStrictEqual(gpu.placement, {
            host: "fr-host-3",
            hostId: "france/host/fr-host-3",
            how: "placed",
            howLabel: "placed by intent",
            reason: "fits, with 9.995 cores and 177.68Gi free; pool gpu has 0 nodes on this host, cluster ml 0 on this host",
            pool: "intent.workers[1]",
            rejected: [
                {
                    host: "fr-host-1",
                    reason: "has no intel.com/sriov_fabric, has no nvidia.com/TU104GL_Tesla_T4",
                },
                {
                    host: "fr-host-2",
                    reason: "has no intel.com/sriov_fabric, has no nvidia.com/TU104GL_Tesla_T4, has no dedicated CPUs (label kubevirt.io/cpumanager=true)",
                },
            ],
        });
        const host = site.hosts[2];
        assert.deepStrictEqual(
            [host.use[0].text, host.use[0].usedPercent, host.use[0].nearlyFull, host.use[0].over],
            ["12.02 of 14 cores", 85.86, true, false],
        );
        assert.deepStrictEqual(
            host.vms.map((vm) => `${vm.vmName} ${vm.how}`),
            ["core-server3 selector", "ml-gpu-1 placed"],
        );
    });
});
