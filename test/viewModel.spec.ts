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
        ]);
        assert.deepStrictEqual(site.networks[0].counts, {
            pinned: 3,
            recorded: 2,
            new: 1,
            reserved: 0,
            free: 84,
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
});
