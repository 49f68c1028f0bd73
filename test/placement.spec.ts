import * as assert from "assert";
import fc from "fast-check";
import { Allocations, RawStackConfig, readStackConfig } from "../lib/config";
import { KubevirtVersion } from "../lib/config/defaults";
import { Demand, launcherCpu, launcherMemory, nodeDemand, placeNodes } from "../lib/plan/placement";
import { StackPlan, planStack } from "../lib/plan/stackPlan";
import { ConfigError, ProblemList } from "../lib/core/problems";
import { bytes } from "../lib/core/quantity";
import { rawStackConfig } from "../lib/config/stackFile";
import { ExportError, checkDrift } from "../offline/drift";
import { renderExplanation } from "../offline/explain";
import { problemsOf } from "./fixtures";
import { HostSpec, gpuModel, handCluster, host, intentCluster, pool, siteWith } from "./intents";
import { stackConfig } from "./mocks";

function planOf(raw: RawStackConfig): StackPlan {
    return planStack(raw).plan;
}

/** Each intent node's host, as `vm -> host`. */
function hostsOf(plan: StackPlan): Record<string, string | undefined> {
    return Object.fromEntries(plan.clusters.flatMap((c) => c.nodes.map((n) => [n.vmName, n.host])));
}

const france = () => planOf(rawStackConfig(stackConfig("france")));

describe("intents", () => {
    it("expand france's ml intent into named nodes with the hardware on their VMs", () => {
        const ml = france().clusters.find((c) => c.name === "ml")!;
        assert.deepStrictEqual(
            ml.nodes.map((n) => [n.name, n.roles.join(","), n.cpu, n.memory, n.disk, n.host]),
            [
                ["server-1", "controlplane,etcd", 2, "4Gi", "20Gi", "fr-host-1"],
                ["cpu-1", "worker", 8, "16Gi", "40Gi", "fr-host-1"],
                ["cpu-2", "worker", 8, "16Gi", "40Gi", "fr-host-2"],
                ["gpu-1", "worker", 8, "32Gi", "80Gi", "fr-host-3"],
            ],
        );
        const gpu = ml.nodes.find((n) => n.name === "gpu-1")!.virtualMachine.spec.template.spec;
        assert.deepStrictEqual(gpu.nodeSelector, { "kubernetes.io/hostname": "fr-host-3" });
        assert.deepStrictEqual(gpu.domain.cpu, {
            cores: 8,
            sockets: 1,
            threads: 1,
            dedicatedCpuPlacement: true,
        });
        assert.deepStrictEqual(gpu.domain.devices.gpus, [{ name: "gpu1", deviceName: gpuModel }]);
        const cpu = ml.nodes.find((n) => n.name === "cpu-1")!.virtualMachine.spec.template.spec;
        assert.deepStrictEqual(cpu.domain.cpu, { cores: 8, sockets: 1, threads: 1 });
        assert.strictEqual(cpu.domain.devices.gpus, undefined);
    });

    it("record where each node went, and the host in the disk's identity", () => {
        const plan = france();
        assert.deepStrictEqual(plan.allocations.ml.hosts, {
            "server-1": "fr-host-1",
            "cpu-1": "fr-host-1",
            "cpu-2": "fr-host-2",
            "gpu-1": "fr-host-3",
        });
        assert.deepStrictEqual(plan.lockChanges, []);
        const gpu = plan.clusters.find((c) => c.name === "ml")!.nodes[3];
        assert.strictEqual(
            gpu.rootDisk.metadata.annotations!["edge.testbed/root-disk"],
            "image=edge-images/ubuntu-jammy size=80Gi storageClass=(cluster default) roles=worker host=fr-host-3",
        );
        // Hand-written nodes keep their identity: adding an inventory replaces nothing.
        const core = plan.clusters.find((c) => c.name === "core")!.nodes[0];
        assert.doesNotMatch(core.rootDisk.metadata.annotations!["edge.testbed/root-disk"], /host=/);
    });

    it("explain each node's host and every host it was not put on", () => {
        const text = renderExplanation("france", france());
        assert.ok(
            text.includes(
                [
                    "Cluster ml (intent)",
                    "  server-1 (intent.servers) -> fr-host-1: recorded in edge:allocations",
                    "  cpu-1 (intent.workers[0]) -> fr-host-1: recorded in edge:allocations",
                    "  cpu-2 (intent.workers[0]) -> fr-host-2: recorded in edge:allocations",
                    "  gpu-1 (intent.workers[1]) -> fr-host-3: recorded in edge:allocations",
                ].join("\n"),
            ),
            text,
        );
        assert.ok(
            text.includes(
                "  server1 -> fr-host-1: its hostSelector matches only this host\n" +
                    "  server2 -> fr-host-2: its hostSelector matches only this host\n",
            ),
        );
        assert.ok(
            text.includes(
                "  worker1: the host cluster's scheduler chooses (no hostSelector); placement does not count it\n",
            ),
        );
        assert.ok(
            text.endsWith(
                [
                    "Hosts (site.hosts)",
                    "  fr-host-1 (zone rack-a): 14.015 of 62 cores, 28.97Gi of 250Gi memory, 0 of 64Gi 1Gi hugepages; carries core-server1, ml-cpu-1, ml-server-1",
                    "  fr-host-2 (zone rack-b): 12.01 of 62 cores, 24.67Gi of 250Gi memory; carries core-server2, ml-cpu-2",
                    "  fr-host-3 (zone rack-c): 12.02 of 46 cores, 41.79Gi of 186Gi memory, 1 of 8 intel.com/sriov_fabric, 1 of 2 nvidia.com/TU104GL_Tesla_T4; carries core-server3, ml-gpu-1",
                    "",
                ].join("\n"),
            ),
            text,
        );
    });

    it("explain a fresh placement: the reason, and why every other host lost", () => {
        const raw = stackConfig("france");
        const withoutRecord = { ...raw, "edge:allocations": {} };
        const text = renderExplanation("france", planOf(rawStackConfig(withoutRecord)));
        assert.ok(
            text.includes(
                [
                    "  gpu-1 (intent.workers[1]) -> fr-host-3: fits, with 41.995 cores and 177.68Gi free; pool gpu has 0 nodes on this host, cluster ml 0 on this host",
                    "      not fr-host-1: has no intel.com/sriov_fabric, has no nvidia.com/TU104GL_Tesla_T4",
                    "      not fr-host-2: has no intel.com/sriov_fabric, has no nvidia.com/TU104GL_Tesla_T4, has no dedicated CPUs (label kubevirt.io/cpumanager=true)",
                ].join("\n"),
            ),
            text,
        );
        assert.ok(
            text.includes(
                "  cpu-2 (intent.workers[0]) -> fr-host-2: fits, with 57.995 cores and 241.68Gi free; pool cpu has 0 nodes on this host, cluster ml 0 on this host\n" +
                    "      not fr-host-1: would put 2 of pool cpu on host fr-host-1 against 0 elsewhere (maxSkew 1)\n" +
                    "      not fr-host-3: fits, but keeps its intel.com/sriov_fabric, nvidia.com/TU104GL_Tesla_T4 for nodes that need them\n",
            ),
            text,
        );
    });

    it("fail before anything is declared, naming each unmet constraint and how much is missing", () => {
        const hosts = [host({ name: "h1", gpus: 2, cpu: 8 }), host({ name: "h2" })];
        assert.deepStrictEqual(
            problemsOf(
                siteWith(hosts, [
                    intentCluster("ml", [pool("gpu", 3, { gpus: [gpuModel] })]),
                    intentCluster("big", [pool("w", 1, { cpu: 40, memory: "200Gi" })]),
                ]),
            ),
            [
                "clusters[0].intent.workers[0]: gpu-3 fits no host: h1 needs 1 more nvidia.com/TU104GL_Tesla_T4 (0 of 2 free); h2 has no nvidia.com/TU104GL_Tesla_T4; no placement of the new nodes keeps every rule (searched exhaustively, 0 steps)",
                // The GPU nodes, with one host that could take them, are placed first.
                "clusters[1].intent.workers[0]: w-1 fits no host: h1 needs 36.015 more cores (3.99 of 8 free), needs 83.2Gi more memory (117.4Gi of 128Gi free); h2 needs 8.005 more cores (32 of 32 free), needs 72.6Gi more memory (128Gi of 128Gi free); no placement of the new nodes keeps every rule (searched exhaustively, 0 steps)",
            ],
        );
    });

    it("put etcd servers on distinct hosts", () => {
        const hosts = [host({ name: "h1" }), host({ name: "h2" })];
        const ha = intentCluster("ha", [pool("w", 1)], { servers: { count: 3 } });
        assert.deepStrictEqual(problemsOf(siteWith(hosts, [ha])), [
            "clusters[0].intent.servers: server-3 fits no host: h1 carries server-1, another etcd member of ha; h2 carries server-2, another etcd member of ha; no placement of the new nodes keeps every rule (searched exhaustively, 3 steps)",
        ]);
        const third = planOf(siteWith([...hosts, host({ name: "h3" })], [ha]));
        assert.deepStrictEqual(
            ["ha-server-1", "ha-server-2", "ha-server-3"].map((vm) => hostsOf(third)[vm]),
            ["h1", "h2", "h3"],
        );
    });

    it("spread by zone with the skew allowed, and refuse hosts without a zone", () => {
        const hosts = [
            host({ name: "a1", zone: "a" }),
            host({ name: "a2", zone: "a" }),
            host({ name: "b1", zone: "b" }),
            host({ name: "nz" }),
        ];
        const cluster = intentCluster("z", [pool("w", 4)], { spread: { by: "zone" } });
        const plan = planOf(siteWith(hosts, [cluster]));
        assert.deepStrictEqual(
            ["z-w-1", "z-w-2", "z-w-3", "z-w-4"].map((vm) => hostsOf(plan)[vm]),
            ["a2", "b1", "a1", "b1"],
        );
        const gpu = plan.placement.decisions.find((d) => d.vmName === "z-w-1")!;
        assert.deepStrictEqual(
            gpu.rejected.find((r) => r.host === "nz"),
            {
                host: "nz",
                reason: "has no zone, and the pool spreads by zone",
            },
        );
    });

    it("count hand-written nodes pinned by their hostSelector before placing", () => {
        const hand = handCluster("hand", {
            name: "big",
            cpu: 29,
            memory: "8Gi",
            hostSelector: { "kubernetes.io/hostname": "h1" },
        });
        const plan = planOf(
            siteWith(
                [host({ name: "h1" }), host({ name: "h2" })],
                [hand, intentCluster("i", [pool("w", 1, { cpu: 4 })])],
            ),
        );
        // h1 has 2.995 of its 32 cores left beside the hand-written node (29 and its
        // guest-console-log's 5m): room for the server (2.005) only.
        assert.strictEqual(hostsOf(plan)["i-w-1"], "h2");
        assert.strictEqual(hostsOf(plan)["i-server-1"], "h1");
        assert.deepStrictEqual(
            plan.placement.decisions.find((d) => d.vmName === "i-w-1")!.rejected,
            [{ host: "h1", reason: "needs 1.01 more cores (2.995 of 32 free)" }],
        );
        const unknown = structuredClone(hand);
        unknown.nodes[0].hostSelector = { "kubernetes.io/hostname": "h9" };
        assert.deepStrictEqual(problemsOf(siteWith([host({ name: "h1" })], [unknown])), [
            "clusters[0].nodes[0].hostSelector: matches no host in site.hosts; the VM could never be scheduled",
        ]);
    });

    it("keep placed nodes where they are as pools grow, shrink from the top, and refuse a vanished host", () => {
        const hosts = [host({ name: "h1" }), host({ name: "h2" }), host({ name: "h3" })];
        const first = planOf(siteWith(hosts, [intentCluster("c", [pool("w", 2)])]));
        const record = first.allocations;
        const grown = planOf(
            siteWith(
                hosts,
                [intentCluster("b", [pool("x", 2)]), intentCluster("c", [pool("w", 4)])],
                record,
            ),
        );
        for (const vm of ["c-server-1", "c-w-1", "c-w-2"]) {
            assert.strictEqual(hostsOf(grown)[vm], hostsOf(first)[vm], vm);
        }
        const shrunk = planOf(siteWith(hosts, [intentCluster("c", [pool("w", 1)])], record));
        assert.deepStrictEqual(
            shrunk.clusters[0].nodes.map((n) => n.name),
            ["server-1", "w-1"],
        );
        assert.ok(
            shrunk.lockChanges.includes(`c.hosts.w-2: ${hostsOf(first)["c-w-2"]} (released)`),
        );
        const gone = hostsOf(first)["c-w-1"]!;
        assert.deepStrictEqual(
            problemsOf(
                siteWith(
                    hosts.filter((h) => h.name !== gone),
                    [intentCluster("c", [pool("w", 2)])],
                    record,
                ),
            ),
            [
                `allocations.c.hosts.w-1: ${gone} is not in site.hosts; delete this entry to place w-1 anew (its VM and disk are replaced)`,
            ],
        );
    });

    it("refuse a host that no longer fits what the record put on it", () => {
        const hosts = [host({ name: "h1", cpu: 8 })];
        const record = planOf(siteWith(hosts, [intentCluster("c", [pool("w", 1)])])).allocations;
        assert.deepStrictEqual(
            problemsOf(siteWith(hosts, [intentCluster("c", [pool("w", 1, { cpu: 8 })])], record)),
            [
                "site.hosts[0]: h1 cannot carry c-server-1, c-w-1: that takes 10.01 cores of 8; shrink them, or delete a record entry in edge:allocations to let an intent node move",
            ],
        );
    });

    it("report every problem of an intent at its path", () => {
        const cluster = intentCluster(
            "x",
            [
                pool("w", 0),
                pool("server", 1, {
                    isolateEmulatorThread: true,
                    hugepages: "1Gi",
                    memory: "1536Mi",
                    gpus: ["nvidia.com/nope"],
                }),
            ],
            { servers: { count: 2 }, networks: ["lab", "nope"] },
        );
        assert.deepStrictEqual(problemsOf(siteWith([host({ name: "h1" })], [cluster])), [
            'clusters[0].intent.networks[1]: unknown site network "nope" (site.networks has: lab, data)',
            "clusters[0].intent.servers.count: 2 servers: etcd needs an odd number (1, 3, 5, 7)",
            `clusters[0].intent.workers[1].name: "server" names the servers' pool`,
            "clusters[0].intent.workers[1].isolateEmulatorThread: needs dedicatedCpu: true; KubeVirt isolates the emulator thread only of a pinned VM",
            "clusters[0].intent.workers[1].memory: 1536Mi is not a whole number of 1Gi hugepages",
            "clusters[0].intent.workers[1].gpus[0]: no host in site.hosts has nvidia.com/nope",
        ]);
        assert.deepStrictEqual(problemsOf(siteWith([], [intentCluster("y", [pool("w", 0)])])), [
            "clusters[0].intent: needs site.hosts: an intent's nodes are placed on the site's hosts",
            "clusters[0].intent.workers: needs a pool with at least one node, or servers.worker: true: Rancher waits for a node with the worker role",
        ]);
        const both = { ...intentCluster("z", [pool("w", 1)]), nodes: [] };
        assert.deepStrictEqual(problemsOf(siteWith([host({ name: "h1" })], [both])), [
            "clusters[0].nodes: must list at least one node",
            "clusters[0].intent: give either nodes or an intent: an intent's nodes are generated",
        ]);
    });

    it("give a pool's SR-IOV networks a VF interface each, and count the VFs", () => {
        const plan = france();
        const fabric = plan.site.networks.find((n) => n.name === "fabric")!;
        assert.deepStrictEqual(fabric.nad.metadata.annotations, {
            "k8s.v1.cni.cncf.io/resourceName": "intel.com/sriov_fabric",
        });
        assert.deepStrictEqual(JSON.parse(fabric.nad.spec.config), {
            cniVersion: "0.3.1",
            name: "fabric",
            type: "sriov",
            vlan: 122,
            ipam: {},
        });
        const gpu = plan.clusters.find((c) => c.name === "ml")!.nodes[3];
        const spec = gpu.virtualMachine.spec.template.spec;
        assert.deepStrictEqual(spec.domain.devices.interfaces.slice(1), [
            { name: "edge", macAddress: gpu.interfaces[0].mac, bridge: {} },
            { name: "fabric", macAddress: gpu.interfaces[1].mac, sriov: {} },
        ]);
        assert.deepStrictEqual(spec.networks[2], {
            name: "fabric",
            multus: { networkName: "edge-networks/fabric" },
        });
        assert.strictEqual(gpu.interfaces[1].address, "10.122.0.10/24");
        const host3 = plan.placement.hosts.find((h) => h.name === "fr-host-3")!;
        assert.strictEqual(host3.used.devices["intel.com/sriov_fabric"], 1);

        const bad = structuredClone(stackConfig("france"));
        bad["edge:clusters"][2].intent.workers[0].sriov = ["storage", "nope", "fabric"];
        bad["edge:clusters"][2].intent.networks = ["edge", "fabric"];
        assert.deepStrictEqual(problemsOf(rawStackConfig(bad)), [
            "clusters[2].intent.workers[0].sriov[0]: storage is a bridge network; list it in the intent's networks",
            'clusters[2].intent.workers[0].sriov[1]: unknown site network "nope" (site.networks has: edge, storage, fabric)',
            "clusters[2].intent.workers[0].sriov[2]: fabric is in the intent's networks already",
            "clusters[2].intent.workers[1].sriov[0]: fabric is in the intent's networks already",
        ]);
        // KubeVirt refuses two interfaces on one network (pkg/network/admitter/netiface.go).
        const twice = structuredClone(stackConfig("france"));
        twice["edge:clusters"][2].intent.workers[1].sriov = ["fabric", "fabric"];
        assert.deepStrictEqual(problemsOf(rawStackConfig(twice)), [
            'clusters[2].intent.workers[1].sriov[1]: duplicate network "fabric" (also at clusters[2].intent.workers[1].sriov[0])',
        ]);
        const both = structuredClone(stackConfig("france"));
        both["edge:site"].networks[2].bridge = "br-fabric";
        delete both["edge:site"].networks[1].bridge;
        assert.deepStrictEqual(problemsOf(rawStackConfig(both)), [
            "site.networks[1]: needs bridge (a Linux bridge on the hosts) or sriov (VFs of a host NIC)",
            "site.networks[2]: has both bridge and sriov; a network is one or the other",
        ]);
    });

    it("place the largest new nodes first, so that a big one finds room", () => {
        const hosts = [host({ name: "h1", memory: "128Gi" }), host({ name: "h2", memory: "72Gi" })];
        const cluster = intentCluster(
            "c",
            [pool("a", 2, { memory: "30Gi" }), pool("b", 1, { memory: "100Gi" })],
            { spread: { maxSkew: 2 } },
        );
        const plan = planOf(siteWith(hosts, [cluster]));
        assert.deepStrictEqual(
            ["c-server-1", "c-a-1", "c-a-2", "c-b-1"].map((vm) => hostsOf(plan)[vm]),
            ["h1", "h2", "h2", "h1"],
        );
        // Explained in the config's order, whatever the order of placing.
        assert.deepStrictEqual(
            plan.placement.decisions.map((d) => d.node),
            ["server-1", "a-1", "a-2", "b-1"],
        );
    });

    it("refuse a hand-written node its one host cannot run, and etcd members a record put together", () => {
        const pinned = handCluster("hand", { dedicatedCpu: true });
        assert.deepStrictEqual(problemsOf(siteWith([host({ name: "h1" })], [pinned])), [
            "clusters[0].nodes[0]: h1, the site's only host, has no dedicated CPUs (label kubevirt.io/cpumanager=true), which the node needs",
        ]);
        const selected = structuredClone(pinned);
        (selected.nodes[0] as Record<string, unknown>).hostSelector = {
            "kubernetes.io/hostname": "h1",
        };
        assert.deepStrictEqual(
            problemsOf(siteWith([host({ name: "h1" }), host({ name: "h2" })], [selected])),
            [
                "clusters[0].nodes[0].hostSelector: h1, the one host it selects, has no dedicated CPUs (label kubevirt.io/cpumanager=true), which the node needs",
            ],
        );
        // The launcher pod selects on the label of the site's KubeVirt (the e2e checker sees it in
        // the pod's nodeSelector): `cpumanager` up to 1.7, `kubevirt.io/cpumanager` from 1.8.
        const at = (version: string, labels: Record<string, string>) => {
            const raw = siteWith(
                [{ ...host({ name: "h1" }), labels }],
                [pinned],
            ) as RawStackConfig & {
                site: Record<string, unknown>;
            };
            return { ...raw, site: { ...raw.site, kubevirtVersion: version } };
        };
        assert.deepStrictEqual(problemsOf(at("1.9", { cpumanager: "true" })), [
            "clusters[0].nodes[0]: h1, the site's only host, has no dedicated CPUs (label kubevirt.io/cpumanager=true), which the node needs",
        ]);
        assert.deepStrictEqual(problemsOf(at("1.7", { "kubevirt.io/cpumanager": "true" })), [
            "clusters[0].nodes[0]: h1, the site's only host, has no dedicated CPUs (label cpumanager=true), which the node needs",
        ]);
        assert.strictEqual(planOf(at("1.7", { cpumanager: "true" })).clusters.length, 1);
        const both = { cpumanager: "true", "kubevirt.io/cpumanager": "true" };
        assert.strictEqual(planOf(at("1.8", both)).clusters.length, 1);

        const hosts = [host({ name: "h1" }), host({ name: "h2" }), host({ name: "h3" })];
        const ha = intentCluster("ha", [pool("w", 1)], {
            servers: { count: 3 },
        });
        const record = structuredClone(planOf(siteWith(hosts, [ha])).allocations);
        record.ha.hosts!["server-2"] = record.ha.hosts!["server-1"];
        assert.deepStrictEqual(
            problemsOf(siteWith(hosts, [{ ...ha, acknowledgeReplacement: true }], record)),
            [
                `allocations.ha.hosts.server-2: ${record.ha.hosts!["server-1"]} carries server-1 too, another etcd member of ha: one host failing would take both; delete this entry to place server-2 anew`,
            ],
        );
    });

    it("take hugepages from the host's pool and count the isolated emulator thread's core", () => {
        const hosts = [host({ name: "h1", cpuManager: true, hugepages1Gi: "16Gi" })];
        const pinned = pool("p", 1, {
            cpu: 4,
            memory: "8Gi",
            dedicatedCpu: true,
            isolateEmulatorThread: true,
            hugepages: "1Gi",
        });
        const plan = planOf(siteWith(hosts, [intentCluster("h", [pinned])]));
        const node = plan.clusters[0].nodes[1];
        assert.deepStrictEqual(node.virtualMachine.spec.template.spec.domain.memory, {
            guest: "8Gi",
            hugepages: { pageSize: "1Gi" },
        });
        assert.deepStrictEqual(
            nodeDemand({
                ...pinned,
                name: "p-1",
                roles: ["worker"],
                image: "ubuntu-jammy",
                networks: [{ network: "lab" }],
                hostSelector: {},
            } as never),
            {
                // Millicores: 4 pinned vCPUs, the isolated emulator thread's core and the
                // guest-console-log's 15m limit as its request (renderresources.go WithCPUPinning,
                // serialconsolelog.go).
                cpu: 5015,
                // KubeVirt 1.9: the overhead alone (hugepages hold the guest), 100Mi of it for
                // dedicated CPUs, none for the tcpSocket readiness probe, and the
                // guest-console-log's 60M limit as its request.
                memory: (220 + 4 * 8 + 8 + 32 + 100) * 2 ** 20 + 60_000_000,
                hugepages: { "1Gi": 8 * 2 ** 30 },
                devices: {},
                dedicatedCpu: true,
            },
        );
        assert.deepStrictEqual(plan.placement.hosts[0].used.hugepages, { "1Gi": 8 * 2 ** 30 });
        const twice = pool("p", 3, { memory: "8Gi", hugepages: "1Gi" });
        assert.deepStrictEqual(problemsOf(siteWith(hosts, [intentCluster("h", [twice])])), [
            "clusters[0].intent.workers[0]: p-3 fits no host: h1 needs 8Gi more 1Gi hugepages (0 of 16Gi free); no placement of the new nodes keeps every rule (searched exhaustively, 3 steps)",
        ]);
    });
});

describe("placement search", () => {
    /** Bytes a node of `memory` and `cpu` cores takes, as placement counts it (KubeVirt 1.9). */
    const taken = (memory: string, cpu = 2) =>
        nodeDemand({
            name: "n",
            roles: ["worker"],
            cpu,
            memory,
            disk: "20Gi",
            image: "ubuntu-jammy",
            networks: [{ network: "lab" }],
            hostSelector: {},
        } as never).memory;

    /** Every intent node's host, or undefined when there is no valid one, by enumeration. */
    function bruteForce(
        raw: RawStackConfig,
        only?: Record<string, string | undefined>,
    ): Record<string, string> | undefined {
        const problems = new ProblemList();
        const config = readStackConfig(raw, problems).config!;
        const hosts = config.site.hosts;
        const nodes = config.clusters.flatMap((cluster) =>
            cluster.nodes.map((node) => ({ cluster, node, demand: nodeDemand(node) })),
        );
        const labelsOf = (h: (typeof hosts)[number]) => h.labels["kubevirt.io/cpumanager"];
        const usable = nodes.map(({ cluster, node, demand }) =>
            hosts.filter(
                (h) =>
                    Object.keys(demand.devices).every((d) => h.devices[d] !== undefined) &&
                    Object.keys(demand.hugepages).every(
                        (size) => h.hugepages[size as "1Gi"] !== undefined,
                    ) &&
                    (!demand.dedicatedCpu || labelsOf(h) === "true") &&
                    (cluster.intent!.spread.by === "host" || h.zone !== undefined) &&
                    (only === undefined || only[`${cluster.name}-${node.name}`] === h.name),
            ),
        );
        const valid = (choice: number[]): boolean => {
            const at = choice.map((c, k) => usable[k][c]);
            for (const h of hosts) {
                const here = nodes.filter((_, k) => at[k] === h).map((n) => n.demand);
                const sum = (f: (d: Demand) => number) => here.reduce((t, d) => t + f(d), 0);
                if (
                    sum((d) => d.cpu) > h.cpu * 1000 ||
                    sum((d) => d.memory) > bytes(h.memory) ||
                    Object.entries(h.devices).some(
                        ([name, count]) => sum((d) => d.devices[name] ?? 0) > count,
                    ) ||
                    Object.entries(h.hugepages).some(
                        ([size, total]) =>
                            sum((d) => d.hugepages[size as "1Gi"] ?? 0) > bytes(total!),
                    )
                ) {
                    return false;
                }
            }
            for (const cluster of config.clusters) {
                const of = nodes.flatMap((n, k) => (n.cluster === cluster ? [k] : []));
                const etcd = of.filter((k) => nodes[k].node.roles.includes("etcd"));
                if (new Set(etcd.map((k) => at[k])).size < etcd.length) {
                    return false;
                }
                const { by, maxSkew } = cluster.intent!.spread;
                for (const pool of new Set(of.map((k) => nodes[k].node.pool))) {
                    const mates = of.filter((k) => nodes[k].node.pool === pool);
                    const domain = (h: (typeof hosts)[number]) =>
                        by === "host" ? h.name : h.zone!;
                    const counts = new Map(usable[mates[0]].map((h) => [domain(h), 0]));
                    for (const k of mates) {
                        counts.set(domain(at[k]), counts.get(domain(at[k]))! + 1);
                    }
                    if (Math.max(...counts.values()) - Math.min(...counts.values()) > maxSkew) {
                        return false;
                    }
                }
            }
            return true;
        };
        const choice = nodes.map(() => 0);
        if (usable.some((u) => u.length === 0)) {
            return undefined;
        }
        for (;;) {
            if (valid(choice)) {
                return Object.fromEntries(
                    nodes.map((n, k) => [
                        `${n.cluster.name}-${n.node.name}`,
                        usable[k][choice[k]].name,
                    ]),
                );
            }
            let k = 0;
            while (k < choice.length && ++choice[k] === usable[k].length) {
                choice[k] = 0;
                k += 1;
            }
            if (k === choice.length) {
                return undefined;
            }
        }
    }

    it("places 3 nodes on 2 hosts that the largest-first order would not fit", () => {
        // b on the roomier h1 would leave a-1 and a-2 no host; h1 takes a, a and the server.
        const hosts = [
            { ...host({ name: "h1" }), memory: `${2 * taken("8Gi") + taken("4Gi")}` },
            { ...host({ name: "h2" }), memory: `${taken("16Gi")}` },
        ];
        const cluster = intentCluster(
            "c",
            [pool("a", 2, { memory: "8Gi" }), pool("b", 1, { memory: "16Gi" })],
            {
                spread: { maxSkew: 2 },
            },
        );
        const plan = planOf(siteWith(hosts, [cluster]));
        assert.deepStrictEqual(
            ["c-server-1", "c-a-1", "c-a-2", "c-b-1"].map((vm) => hostsOf(plan)[vm]),
            ["h1", "h1", "h1", "h2"],
        );
        const b = plan.placement.decisions.find((d) => d.node === "b-1")!;
        assert.deepStrictEqual(b.rejected, [
            {
                host: "h1",
                reason: "fits, but then the other new nodes would not all fit (searched)",
            },
        ]);
    });

    it("keeps room for etcd servers that must be apart", () => {
        // A worker on h3 (no devices) would leave the servers two hosts.
        const hosts = [
            { ...host({ name: "h1", gpus: 1 }), memory: `${taken("4Gi") + taken("8Gi")}` },
            { ...host({ name: "h2" }), memory: `${taken("4Gi")}` },
            { ...host({ name: "h3" }), memory: `${taken("8Gi")}` },
        ];
        const cluster = intentCluster("ha", [pool("w", 1, { memory: "8Gi" })], {
            servers: { count: 3 },
        });
        const plan = planOf(siteWith(hosts, [cluster]));
        assert.deepStrictEqual(
            ["ha-server-1", "ha-server-2", "ha-server-3", "ha-w-1"].map((vm) => hostsOf(plan)[vm]),
            ["h1", "h2", "h3", "h1"],
        );
    });

    it("uses a device host for a pool that needs none when the spread leaves no other way", () => {
        // maxSkew 1 over h1, h2 and the GPU host h3: keeping h3 for GPU nodes starves the pool.
        // The server on h1 or h2, as the GPU host's spare devices would have it, leaves w-3 only
        // the host it is on, which the spread forbids.
        const hosts = [
            { ...host({ name: "h1" }), memory: `${taken("4Gi")}` },
            { ...host({ name: "h2" }), memory: `${taken("4Gi")}` },
            { ...host({ name: "h3", gpus: 1 }), memory: `${2 * taken("4Gi")}` },
        ];
        const cluster = intentCluster("c", [pool("w", 3)]);
        const plan = planOf(siteWith(hosts, [cluster]));
        assert.deepStrictEqual(
            ["c-server-1", "c-w-1", "c-w-2", "c-w-3"].map((vm) => hostsOf(plan)[vm]),
            ["h3", "h1", "h2", "h3"],
        );
    });

    it("refuses with a proof when no placement exists, and says so when the search gave up", () => {
        const hosts = [1, 2, 3, 4, 5, 6].map((i) => ({
            ...host({ name: `h${i}` }),
            memory: `${3 * taken("4Gi") - 1}`,
        }));
        // 13 nodes of 4Gi and room for 12, which the total of the hosts' room does not show: each
        // host is one byte short of a third node.
        const clusters = [intentCluster("c", [pool("w", 12)], { spread: { maxSkew: 12 } })];
        assert.deepStrictEqual(problemsOf(siteWith(hosts, clusters)), [
            "clusters[0].intent.workers[0]: w-12 fits no host: h1 needs 1 byte more memory (4.3Gi of 12.91Gi free); h2 needs 1 byte more memory (4.3Gi of 12.91Gi free); h3 needs 1 byte more memory (4.3Gi of 12.91Gi free); h4 needs 1 byte more memory (4.3Gi of 12.91Gi free); h5 needs 1 byte more memory (4.3Gi of 12.91Gi free); h6 needs 1 byte more memory (4.3Gi of 12.91Gi free); no placement of the new nodes keeps every rule (searched exhaustively, 2916 steps)",
        ]);
        const tight = [
            { ...host({ name: "h1" }), memory: `${2 * taken("8Gi") + taken("4Gi")}` },
            { ...host({ name: "h2" }), memory: `${taken("16Gi")}` },
        ];
        const cluster = intentCluster(
            "c",
            [pool("a", 2, { memory: "8Gi" }), pool("b", 1, { memory: "16Gi" })],
            { spread: { maxSkew: 2 } },
        );
        const problems = new ProblemList();
        placeNodes(readStackConfig(siteWith(tight, [cluster]), problems).config!, problems, 3);
        assert.deepStrictEqual(
            problems.problems.map((p) => `${p.path}: ${p.message}`),
            [
                "clusters[0].intent.workers[0]: a-2 fits no host: h1 needs 3.7Gi more memory (4.6Gi of 20.91Gi free); h2 needs 309.38Mi more memory (8Gi of 16.3Gi free); the search for a placement of the new nodes gave up after 3 steps, so one may exist; pin nodes with edge:allocations or give the hosts room",
            ],
        );
    });

    it("refuses only sites that no placement fits, and keeps every rule when it places", () => {
        const hostArbitrary = fc.record({
            cpu: fc.integer({ min: 2, max: 8 }),
            memory: fc.integer({ min: 1, max: 4 }),
            zone: fc.constantFrom("a", "b"),
            gpus: fc.integer({ min: 0, max: 1 }),
        });
        const poolArbitrary = fc.record({
            count: fc.integer({ min: 0, max: 3 }),
            big: fc.boolean(),
            gpu: fc.boolean(),
        });
        fc.assert(
            fc.property(
                fc.array(hostArbitrary, { minLength: 2, maxLength: 3 }),
                fc.array(fc.array(poolArbitrary, { maxLength: 2 }), { minLength: 1, maxLength: 2 }),
                fc.constantFrom(1, 3),
                fc.constantFrom("host" as const, "zone" as const),
                fc.integer({ min: 1, max: 2 }),
                (specs, clusters, servers, by, maxSkew) => {
                    // Small enough to enumerate: hosts ** nodes placements.
                    const nodes = clusters.flat().reduce((n, p) => n + p.count, 0);
                    fc.pre(nodes + servers + clusters.length - 1 <= 8);
                    const small = taken("4Gi");
                    const hosts = specs.map((h, i) => ({
                        ...host({ name: `h${i}`, cpu: h.cpu, zone: h.zone, gpus: h.gpus }),
                        memory: `${h.memory * small}`,
                    }));
                    const raw = siteWith(
                        hosts,
                        clusters.map((pools, i) =>
                            intentCluster(
                                `c${i}`,
                                pools.map((p, j) =>
                                    pool(`p${j}`, p.count, {
                                        ...(p.big ? { memory: "8Gi", cpu: 3 } : {}),
                                        ...(p.gpu ? { gpus: [gpuModel] } : {}),
                                    }),
                                ),
                                {
                                    servers: { count: i === 0 ? servers : 1, worker: true },
                                    spread: { by, maxSkew },
                                },
                            ),
                        ),
                    );
                    const exists = bruteForce(raw);
                    let plan: StackPlan | undefined;
                    try {
                        plan = planOf(raw);
                    } catch (error) {
                        if (!(error instanceof ConfigError)) {
                            throw error;
                        }
                        // A GPU pool on a site without GPUs is refused before placement.
                        if (error.problems.some((p) => !p.message.includes("fits no host"))) {
                            return;
                        }
                        assert.strictEqual(exists, undefined, JSON.stringify(error.problems));
                        return;
                    }
                    const placed = hostsOf(plan);
                    assert.ok(exists !== undefined, "placed what enumeration found impossible");
                    assert.ok(bruteForce(raw, placed) !== undefined, JSON.stringify(placed));
                },
            ),
            { numRuns: 400 },
        );
    });
});

describe("launcher pod memory, to the byte, per KubeVirt version", () => {
    // kubevirt pkg/hypervisor/kvm/hypervisorbackend.go (GetMemoryOverhead; renderresources.go up
    // to 1.7), pkg/virt-controller/services/renderresources.go (WithMemoryRequests,
    // WithHugePages, WithMemoryOverhead) and serialconsolelog.go (guest-console-log).
    const Mi = 2 ** 20;
    const Gi = 2 ** 30;
    const node = (extra: Record<string, unknown> = {}) =>
        ({
            name: "w-1",
            pool: "w",
            roles: ["worker"],
            cpu: 2,
            memory: "4Gi",
            disk: "20Gi",
            image: "ubuntu-jammy",
            networks: [{ network: "lab" }],
            hostSelector: {},
            ...extra,
        }) as never;
    /** The VM lib/plan/stackPlan.ts renders for `node`, as launcherMemory reads it. */
    const specOf = (extra: Record<string, unknown> = {}) => {
        const raw = siteWith(
            [host({ name: "h1", cpuManager: true, gpus: 1, hugepages1Gi: "64Gi" })],
            [intentCluster("c", [pool("w", 1, extra)])],
        );
        const spec = planOf(raw).clusters[0].nodes[1].virtualMachine.spec.template.spec;
        // An exec readiness probe, so that the worked values below count the probe term;
        // lib/render/manifests.ts renders a tcpSocket probe, which has none (tested on its own
        // below).
        const exec = { exec: { command: ["/usr/bin/test", "-f", "/run/x"] } };
        return { ...spec, readinessProbe: { ...exec, initialDelaySeconds: 60 } };
    };

    it("counts a 4Gi VM with its exec readiness probe: 220Mi, vCPUs, IOThread, video, probe, console log", () => {
        const expected = 4 * Gi + (220 + 2 * 8 + 8 + 32 + 100 + 10) * Mi + 35_000_000;
        assert.strictEqual(expected, 4_734_717_632);
        for (const version of ["1.7", "1.8", "1.9"] as const) {
            assert.deepStrictEqual(launcherMemory(specOf(), version), {
                compute: 4 * Gi + 386 * Mi,
                // No page tables: requests.memory is unset when only memory.guest is.
                overhead: 404_750_336,
                consoleLog: 35_000_000,
                total: expected,
            });
        }
    });

    it("counts the 4Gi VM as rendered, whose tcpSocket readiness probe adds nothing", () => {
        const rendered = planOf(
            siteWith([host({ name: "h1" })], [intentCluster("c", [pool("w", 1)])]),
        ).clusters[0].nodes[1].virtualMachine.spec.template.spec;
        assert.deepStrictEqual(rendered.readinessProbe.tcpSocket, { port: 10290 });
        // addProbeOverheads counts exec probes only: 110Mi less than with the exec probe above.
        const expected = 4 * Gi + (220 + 2 * 8 + 8 + 32) * Mi + 35_000_000;
        assert.strictEqual(expected, 4_734_717_632 - 110 * Mi);
        assert.strictEqual(expected, 4_619_374_272);
        for (const version of ["1.7", "1.8", "1.9"] as const) {
            assert.deepStrictEqual(launcherMemory(rendered, version), {
                compute: 4 * Gi + 276 * Mi,
                overhead: 289_406_976,
                consoleLog: 35_000_000,
                total: expected,
            });
            // Placement reads the VM as rendered.
            assert.strictEqual(nodeDemand(node(), {}, version).memory, expected);
        }
    });

    it("adds the probe overhead only for exec probes, as the rendered VM has them", () => {
        const spec = specOf();
        const tcp = { tcpSocket: { port: 22 }, initialDelaySeconds: 60 };
        const probed = { ...spec, readinessProbe: tcp };
        assert.strictEqual(launcherMemory(probed, "1.9").total, 4_619_374_272);
        assert.strictEqual(
            launcherMemory({ ...spec, livenessProbe: spec.readinessProbe }, "1.9").total,
            4_734_717_632 + 10 * Mi,
        );
        const quiet = {
            ...spec,
            domain: {
                ...spec.domain,
                devices: {
                    ...spec.domain.devices,
                    autoattachGraphicsDevice: false,
                    autoattachSerialConsole: false,
                },
            },
        };
        assert.strictEqual(launcherMemory(quiet, "1.9").total, 4_734_717_632 - 32 * Mi - 35e6);
    });

    it("counts a 16Gi VM per version: page tables up to 1.6, 210Mi and 16Mi video before", () => {
        const big = { cpu: 4, memory: "16Gi" };
        const base = 16 * Gi;
        // ceil(16Gi / 1000) * 1000 / 512, rounded down.
        const pageTables = 33_554_433;
        const cases: [KubevirtVersion, number][] = [
            ["1.9", base + 402 * Mi + 35_000_000],
            ["1.7", base + 402 * Mi + 35_000_000],
            ["1.6", base + 402 * Mi + pageTables + 35_000_000],
            ["1.5", base + 386 * Mi + pageTables + 35_000_000],
            ["1.4", base + 376 * Mi + pageTables + 35_000_000],
            ["1.0", base + 376 * Mi + pageTables],
        ];
        assert.deepStrictEqual(
            cases.map(([version]) => [version, launcherMemory(specOf(big), version).total]),
            cases,
        );
        assert.strictEqual(cases[0][1], 17_636_396_736);
        assert.strictEqual(cases[2][1], 17_669_951_169);
    });

    it("counts dedicated CPUs, hugepages, GPUs and SR-IOV VFs (VFIO)", () => {
        const pinned = { cpu: 4, memory: "8Gi", dedicatedCpu: true, hugepages: "1Gi" };
        assert.deepStrictEqual(launcherMemory(specOf(pinned), "1.9"), {
            compute: 502 * Mi,
            overhead: 502 * Mi,
            consoleLog: 60_000_000,
            total: 586_385_152,
        });
        // Before 1.1 there is no 100Mi for dedicated CPUs and no console log container; up to
        // 1.6, page tables of ceil(8Gi / 1000) * 1000 / 512 though hugepages hold the guest.
        assert.strictEqual(
            launcherMemory(specOf(pinned), "1.0").total,
            (210 + 32 + 8 + 16 + 110) * Mi + 16_777_216,
        );
        const gpu = { cpu: 8, memory: "32Gi", gpus: [gpuModel] };
        assert.strictEqual(
            launcherMemory(specOf(gpu), "1.9").total,
            32 * Gi + (220 + 64 + 8 + 32 + 1024 + 110) * Mi + 35_000_000,
        );
        assert.strictEqual(launcherMemory(specOf(gpu), "1.9").total, 35_923_562_176);
        const vf = specOf();
        const sriov = {
            ...vf,
            domain: {
                ...vf.domain,
                devices: {
                    ...vf.domain.devices,
                    interfaces: [...vf.domain.devices.interfaces, { sriov: {} }],
                },
            },
        };
        assert.strictEqual(launcherMemory(sriov, "1.9").total, 4_734_717_632 + 1024 * Mi);
    });

    it("places by the site's edge:site.kubevirtVersion, and refuses one it does not model", () => {
        // Room for 14 launcher pods of 1.9 as rendered (13 workers and the server, tcpSocket
        // probes); 1.6 counts each 8_388_609 bytes of page tables more, 112Mi in all.
        const memory = `${14 * 4_619_374_272}`;
        const raw = (version?: string) => {
            const base = siteWith(
                [host({ name: "h1", memory })],
                [intentCluster("c", [pool("w", 13)])],
            ) as RawStackConfig & { site: Record<string, unknown> };
            return {
                ...base,
                site: {
                    ...base.site,
                    ...(version === undefined ? {} : { kubevirtVersion: version }),
                },
            };
        };
        assert.strictEqual(planOf(raw()).placement.hosts[0].used.memory, 14 * 4_619_374_272);
        assert.deepStrictEqual(problemsOf(raw("1.6")), [
            "clusters[0].intent.workers[0]: w-13 fits no host: h1 needs 112Mi more memory (4.2Gi of 60.23Gi free); no placement of the new nodes keeps every rule (searched exhaustively, 0 steps)",
        ]);
        assert.deepStrictEqual(problemsOf(raw("1.10")), [
            "site.kubevirtVersion: KubeVirt 1.10 is not modelled: placement knows the launcher pods of KubeVirt 1.0 to 1.9",
        ]);
        assert.deepStrictEqual(problemsOf(raw("v1.9")), [
            'site.kubevirtVersion: "v1.9" is not a KubeVirt minor version like "1.9"',
        ]);
    });
});

describe("launcher pod CPU, to the millicore", () => {
    // kubevirt pkg/virt-controller/services/renderresources.go (WithCPUPinning,
    // WithoutDedicatedCPU) and serialconsolelog.go; the e2e suite checks it against both.
    const rendered = (extra: Record<string, unknown> = {}) =>
        planOf(
            siteWith(
                [host({ name: "h1", cpuManager: true, hugepages1Gi: "64Gi" })],
                [intentCluster("c", [pool("w", 1, { cpu: 3, ...extra })])],
            ),
        ).clusters[0].nodes[1].virtualMachine.spec.template.spec;

    it("declares a shared VM's vCPUs as its CPU request, so its pod asks for whole cores", () => {
        const spec = rendered();
        assert.deepStrictEqual(spec.domain.resources, { requests: { cpu: "3" } });
        for (const version of ["1.1", "1.7", "1.9"] as const) {
            assert.deepStrictEqual(launcherCpu(spec, version), {
                compute: 3000,
                consoleLog: 5,
                total: 3005,
            });
        }
        // KubeVirt 1.0 had no guest-console-log container.
        assert.strictEqual(launcherCpu(spec, "1.0").total, 3000);
    });

    it("without a CPU request, counts the vCPUs over KubeVirt's default cpuAllocationRatio", () => {
        const { resources: _resources, ...domain } = rendered().domain;
        assert.deepStrictEqual(launcherCpu({ ...rendered(), domain }, "1.9"), {
            compute: 300,
            consoleLog: 5,
            total: 305,
        });
    });

    it("leaves a pinned VM's request to KubeVirt: its vCPUs, the emulator thread, 15m", () => {
        const pinned = rendered({ dedicatedCpu: true, isolateEmulatorThread: true });
        // WithCPUPinning sets it; validateRequestOrLimitWithCoresProvidedOnDedicatedCPUPlacement
        // refuses any other value.
        assert.strictEqual(pinned.domain.resources, undefined);
        assert.deepStrictEqual(launcherCpu(pinned, "1.9"), {
            compute: 4000,
            consoleLog: 15,
            total: 4015,
        });
        const withoutLog = {
            ...pinned,
            domain: {
                ...pinned.domain,
                devices: { ...pinned.domain.devices, logSerialConsole: false },
            },
        };
        assert.strictEqual(launcherCpu(withoutLog, "1.9").total, 4000);
    });
});

describe("assurance: --check-drift", () => {
    /** A `pulumi stack export` holding these VMs as the provider's outputs. */
    function exportOf(vms: unknown[]): unknown {
        return {
            version: 3,
            deployment: {
                resources: vms.map((vm) => ({
                    type: "kubernetes:kubevirt.io/v1:VirtualMachine",
                    outputs: vm,
                })),
            },
        };
    }

    it("finds none when the state holds the planned VMs, and names each difference", () => {
        const plan = france();
        const vms = plan.clusters.flatMap((c) =>
            c.nodes.map((n) => structuredClone(n.virtualMachine)),
        );
        assert.deepStrictEqual(checkDrift(plan, exportOf(vms)), []);
        const gpu = vms.find((vm) => vm.metadata.name === "ml-gpu-1")!;
        gpu.spec.template.spec.nodeSelector = { "kubernetes.io/hostname": "fr-host-1" };
        gpu.spec.template.spec.domain.cpu = { cores: 4, sockets: 1, threads: 1 };
        delete gpu.spec.template.spec.domain.devices.gpus;
        const extra = structuredClone(gpu);
        extra.metadata.name = "ml-gpu-9";
        const drift = checkDrift(
            plan,
            exportOf([...vms.filter((vm) => vm.metadata.name !== "ml-cpu-1"), extra]),
        );
        assert.deepStrictEqual(drift, [
            "ml-cpu-1: planned, not in the stack's state (not deployed yet)",
            "ml-gpu-1: host is fr-host-1, planned fr-host-3",
            "ml-gpu-1: cores is 4, planned 8",
            "ml-gpu-1: dedicated CPUs is false, planned true",
            "ml-gpu-1: gpus is none, planned nvidia.com/TU104GL_Tesla_T4",
            "ml/ml-gpu-9: in the stack's state, no longer planned (the next up deletes it)",
        ]);
    });

    it("says what is wrong with a file that is no stack export", () => {
        assert.throws(
            () => checkDrift(france(), { resources: [] }),
            new ExportError(
                "is not the output of pulumi stack export (no deployment.resources list)",
            ),
        );
    });
});

describe("placement properties", () => {
    interface Model {
        hosts: HostSpec[];
        clusters: {
            name: string;
            servers: number;
            pools: { name: string; count: number; cpu: number; gpu: boolean }[];
        }[];
    }

    const hostArbitrary = fc.record({
        cpu: fc.integer({ min: 4, max: 48 }),
        memoryGi: fc.integer({ min: 8, max: 96 }),
        zone: fc.constantFrom("a", "b"),
        gpus: fc.integer({ min: 0, max: 2 }),
    });
    const poolArbitrary = fc.record({
        count: fc.integer({ min: 0, max: 4 }),
        cpu: fc.integer({ min: 1, max: 8 }),
        gpu: fc.boolean(),
    });
    const step = fc.oneof(
        fc.record({
            op: fc.constant("resize" as const),
            cluster: fc.nat(5),
            pool: fc.nat(3),
            count: fc.integer({ min: 0, max: 5 }),
        }),
        fc.record({
            op: fc.constant("add" as const),
            at: fc.nat(5),
            pools: fc.array(poolArbitrary, { minLength: 1, maxLength: 2 }),
        }),
        fc.record({ op: fc.constant("remove" as const), cluster: fc.nat(5) }),
    );

    function raw(
        model: Model,
        spreadBy: "host" | "zone",
        allocations?: Allocations,
    ): RawStackConfig {
        return siteWith(
            model.hosts.map(host),
            model.clusters.map((c) =>
                intentCluster(
                    c.name,
                    c.pools.map((p) =>
                        pool(p.name, p.count, {
                            cpu: p.cpu,
                            ...(p.gpu ? { gpus: [gpuModel] } : {}),
                        }),
                    ),
                    { servers: { count: c.servers, worker: true }, spread: { by: spreadBy } },
                ),
            ),
            allocations,
        );
    }

    /** The plan, or undefined when the site cannot carry the model. */
    function tryPlan(config: RawStackConfig): StackPlan | undefined {
        try {
            return planOf(config);
        } catch (error) {
            if (error instanceof ConfigError) {
                assert.ok(
                    error.problems.every((p) =>
                        /fits no host|cannot carry|no host in site.hosts has/.test(p.message),
                    ),
                    JSON.stringify(error.problems),
                );
                return undefined;
            }
            throw error;
        }
    }

    /** Capacity is never exceeded, and etcd members never share a host. */
    function checkCapacity(model: Model, plan: StackPlan): void {
        for (const load of plan.placement.hosts) {
            const spec = model.hosts.find((h) => h.name === load.name)!;
            assert.ok(load.used.cpu <= spec.cpu! * 1000, `${load.name} millicores`);
            assert.ok(
                load.used.memory <= Number.parseInt(spec.memory!) * 2 ** 30,
                `${load.name} memory`,
            );
            assert.ok((load.used.devices[gpuModel] ?? 0) <= (spec.gpus ?? 0), `${load.name} gpus`);
        }
        for (const cluster of plan.clusters) {
            const etcd = cluster.nodes.filter((n) => n.roles.includes("etcd")).map((n) => n.host);
            assert.strictEqual(new Set(etcd).size, etcd.length, `${cluster.name} etcd apart`);
        }
    }

    it("never exceeds a host, keeps the spread on a fresh plan, and is the same every time", () => {
        fc.assert(
            fc.property(
                fc.array(hostArbitrary, { minLength: 2, maxLength: 5 }),
                fc.array(fc.array(poolArbitrary, { minLength: 1, maxLength: 2 }), {
                    minLength: 1,
                    maxLength: 3,
                }),
                fc.constantFrom("host" as const, "zone" as const),
                (hosts, clusters, by) => {
                    const model: Model = {
                        hosts: hosts.map((h, i) => ({
                            name: `h${i}`,
                            cpu: h.cpu,
                            memory: `${h.memoryGi}Gi`,
                            zone: h.zone,
                            gpus: h.gpus,
                        })),
                        clusters: clusters.map((pools, i) => ({
                            name: `c${i}`,
                            servers: 1,
                            pools: pools.map((p, j) => ({ ...p, name: `p${j}` })),
                        })),
                    };
                    const plan = tryPlan(raw(model, by));
                    if (!plan) {
                        return;
                    }
                    checkCapacity(model, plan);
                    const domainOf = (name: string) =>
                        by === "host" ? name : model.hosts.find((h) => h.name === name)!.zone!;
                    for (const cluster of model.clusters) {
                        for (const p of cluster.pools) {
                            const eligible = model.hosts.filter((h) => !p.gpu || (h.gpus ?? 0) > 0);
                            const counts = new Map(eligible.map((h) => [domainOf(h.name), 0]));
                            for (const node of plan.clusters.find((c) => c.name === cluster.name)!
                                .nodes) {
                                if (node.name.startsWith(`${p.name}-`)) {
                                    const d = domainOf(node.host!);
                                    counts.set(d, counts.get(d)! + 1);
                                }
                            }
                            const values = [...counts.values()];
                            assert.ok(
                                Math.max(...values) - Math.min(...values) <= 1,
                                `${cluster.name}/${p.name} skew ${values}`,
                            );
                        }
                    }
                    planOf(siteWith([host({ name: "other" })], []));
                    assert.strictEqual(
                        JSON.stringify(planOf(raw(model, by))),
                        JSON.stringify(plan),
                    );
                },
            ),
            { numRuns: 120 },
        );
    });

    it("never moves a recorded node as intents grow, shrink, come and go", () => {
        fc.assert(
            fc.property(
                fc.array(hostArbitrary, { minLength: 2, maxLength: 5 }),
                fc.array(step, { minLength: 1, maxLength: 6 }),
                (hosts, steps) => {
                    let counter = 0;
                    let model: Model = {
                        hosts: hosts.map((h, i) => ({
                            name: `h${i}`,
                            cpu: h.cpu * 4,
                            memory: `${h.memoryGi * 4}Gi`,
                            zone: h.zone,
                            gpus: h.gpus,
                        })),
                        clusters: [
                            {
                                name: `c${counter++}`,
                                servers: 1,
                                pools: [{ name: "p0", count: 1, cpu: 1, gpu: false }],
                            },
                        ],
                    };
                    let first = tryPlan(raw(model, "host"));
                    if (!first) {
                        return;
                    }
                    let record = first.allocations;
                    let before = hostsOf(first);
                    for (const s of steps) {
                        const next = structuredClone(model);
                        if (s.op === "resize" && next.clusters.length > 0) {
                            const cluster = next.clusters[s.cluster % next.clusters.length];
                            cluster.pools[s.pool % cluster.pools.length].count = s.count;
                        } else if (s.op === "add") {
                            next.clusters.splice(s.at % (next.clusters.length + 1), 0, {
                                name: `c${counter++}`,
                                servers: 1,
                                pools: s.pools.map((p, j) => ({ ...p, name: `p${j}` })),
                            });
                        } else if (s.op === "remove" && next.clusters.length > 0) {
                            next.clusters.splice(s.cluster % next.clusters.length, 1);
                        }
                        const plan = tryPlan(raw(next, "host", record));
                        if (!plan) {
                            continue;
                        }
                        checkCapacity(next, plan);
                        const after = hostsOf(plan);
                        for (const [vm, where] of Object.entries(after)) {
                            if (before[vm] !== undefined) {
                                assert.strictEqual(where, before[vm], `${vm} moved`);
                            }
                        }
                        model = next;
                        record = plan.allocations;
                        before = after;
                    }
                },
            ),
            { numRuns: 100 },
        );
    });
});
