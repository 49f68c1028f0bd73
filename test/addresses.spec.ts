import * as assert from "assert";
import { Allocations, RawStackConfig } from "../lib/config";
import { interfaceMac } from "../lib/core/naming";
import { StackPlan, planStack } from "../lib/plan/stackPlan";
import { rawStackConfig } from "../lib/config/stackFile";
import { syntheticStack } from "../offline/synthetic";
import { editableStackConfig } from "./mocks";

/** What must never move for a cluster: its CIDRs, and per node its IPs and MACs. */
function addressesOf(plan: StackPlan): Record<string, unknown> {
    return Object.fromEntries(
        plan.clusters.map((c) => [
            c.name,
            {
                podCidr: c.podCidr,
                serviceCidr: c.serviceCidr,
                nodes: Object.fromEntries(
                    c.nodes.map((n) => [n.name, { podMac: n.podMac, interfaces: n.interfaces }]),
                ),
            },
        ]),
    );
}

function plan(raw: RawStackConfig, allocations?: Allocations): StackPlan {
    return planStack({ ...raw, allocations }).plan;
}

describe("address planning", () => {
    it("keeps the committed allocation records of both stacks current", () => {
        for (const stack of ["greece", "france"]) {
            const { plan: planned } = planStack(rawStackConfig(editableStackConfig(stack)));
            assert.deepStrictEqual(planned.lockChanges, [], `run npm run lock -- --stack ${stack}`);
        }
    });

    it("assigns unpinned clusters the first free blocks of the pool", () => {
        const { plan: france } = planStack(rawStackConfig(editableStackConfig("france")));
        const lab = france.clusters.find((c) => c.name === "lab")!;
        assert.strictEqual(lab.podCidr, "10.80.0.0/16");
        assert.strictEqual(lab.serviceCidr, "10.81.0.0/20");
        const core = france.clusters.find((c) => c.name === "core")!;
        assert.strictEqual(core.podCidr, "10.90.0.0/16");
        assert.strictEqual(core.serviceCidr, "10.91.0.0/20");
    });

    it("skips reserved ranges, networks and pins when allocating", () => {
        const raw = syntheticStack([{ name: "a", nodes: 1 }]) as any;
        raw.site.clusterCidrPool = "10.40.0.0/13";
        raw.site.podCidrPrefix = 16;
        raw.site.serviceCidrPrefix = 16;
        raw.clusters.unshift({
            ...structuredClone(raw.clusters[0]),
            name: "pinned",
            podCidr: "10.40.0.0/16",
        });
        raw.clusters[0].nodes[0].networks = [{ network: "lab", ip: "192.168.0.2" }, "data"];
        const planned = plan(raw);
        const a = planned.clusters[1];
        // 10.40 is pinned, 10.42 and 10.43 are reserved.
        assert.strictEqual(planned.clusters[0].serviceCidr, "10.41.0.0/16");
        assert.strictEqual(a.podCidr, "10.44.0.0/16");
        assert.strictEqual(a.serviceCidr, "10.45.0.0/16");
        // .1 is the gateway and .2 is pinned.
        assert.strictEqual(a.nodes[0].interfaces[0].ip, "192.168.0.3");
    });

    it("skips DNS servers and host node IPs inside a range", () => {
        const raw = syntheticStack([{ name: "a", nodes: 2 }]) as any;
        raw.site.dnsServers = ["192.168.0.2"];
        raw.site.hostNodeIps = ["192.168.0.3"];
        const planned = plan(raw);
        assert.deepStrictEqual(
            planned.clusters[0].nodes.map((n) => n.interfaces[0].ip),
            ["192.168.0.4", "192.168.0.5"],
        );
    });

    it("derives stable, locally administered unicast MACs", () => {
        const mac = interfaceMac("greece", "final-test", "cluster-master", "lab");
        assert.strictEqual(mac, "e6:d3:d0:a5:8f:c8");
        for (const node of ["a", "b", "c", "d", "e", "f", "g", "h"]) {
            const first = parseInt(interfaceMac("s", "c", node, "lab").slice(0, 2), 16);
            assert.strictEqual(first & 0x02, 0x02, "locally administered");
            assert.strictEqual(first & 0x01, 0, "unicast");
        }
    });

    describe("stability under the allocation record", () => {
        const base = [
            { name: "alpha", nodes: 3 },
            { name: "bravo", nodes: 2 },
            { name: "charlie", nodes: 3 },
        ];
        const lock = plan(syntheticStack(base)).allocations;
        const before = addressesOf(plan(syntheticStack(base), lock));

        /** Every cluster and node both plans share has the same CIDRs, IPs and MACs. */
        function assertUnmoved(after: Record<string, any>): void {
            for (const [cluster, addresses] of Object.entries(before) as [string, any][]) {
                if (!after[cluster]) {
                    continue;
                }
                assert.strictEqual(after[cluster].podCidr, addresses.podCidr, cluster);
                assert.strictEqual(after[cluster].serviceCidr, addresses.serviceCidr, cluster);
                for (const [node, nic] of Object.entries(addresses.nodes)) {
                    if (after[cluster].nodes[node]) {
                        assert.deepStrictEqual(
                            after[cluster].nodes[node],
                            nic,
                            `${cluster}/${node}`,
                        );
                    }
                }
            }
        }

        const edits: [string, { name: string; nodes: number }[]][] = [
            ["a cluster inserted first", [{ name: "zulu", nodes: 2 }, ...base]],
            [
                "a cluster inserted in the middle",
                [base[0], { name: "zulu", nodes: 2 }, ...base.slice(1)],
            ],
            ["a cluster appended", [...base, { name: "zulu", nodes: 2 }]],
            ["the first cluster removed", base.slice(1)],
            ["the middle cluster removed", [base[0], base[2]]],
            ["the last cluster removed", base.slice(0, 2)],
        ];
        for (const [what, clusters] of edits) {
            it(`moves nothing when ${what}`, () => {
                const after = plan(syntheticStack(clusters), lock);
                assertUnmoved(addressesOf(after));
                const added = clusters.filter((c) => !base.some((b) => b.name === c.name));
                for (const cluster of added) {
                    const planned = after.clusters.find((c) => c.name === cluster.name)!;
                    assert.ok(planned.podCidr, `${cluster.name} got a pod CIDR`);
                }
            });
        }

        it("moves nothing when a node is inserted first or removed", () => {
            const inserted = syntheticStack(base) as any;
            const bravo = inserted.clusters[1];
            bravo.nodes.unshift({ ...structuredClone(bravo.nodes[1]), name: "node9" });
            const withNode = plan(inserted, lock);
            assertUnmoved(addressesOf(withNode));
            const node9 = withNode.clusters[1].nodes[0];
            assert.deepStrictEqual(
                node9.interfaces.map((i) => i.ip),
                ["192.168.0.10", "172.20.0.10"],
                "the new node takes the first free addresses",
            );

            const removed = syntheticStack(base) as any;
            removed.clusters[0].nodes.splice(0, 1);
            removed.clusters[0].nodes[0].roles = ["controlplane", "etcd", "worker"];
            // That moves the only etcd member, which only an acknowledged change may do.
            removed.clusters[0].acknowledgeReplacement = true;
            assertUnmoved(addressesOf(plan(removed, lock)));
        });

        it("holds a removed cluster's addresses until the record drops them", () => {
            const swapped = syntheticStack([{ name: "zulu", nodes: 1 }, ...base.slice(1)]);
            const first = plan(swapped, lock);
            const zulu = first.clusters[0];
            const alpha = before.alpha as any;
            assert.notStrictEqual(zulu.podCidr, alpha.podCidr);
            assert.notStrictEqual(zulu.nodes[0].interfaces[0].ip, "192.168.0.2");
            // Once `npm run lock` has dropped alpha, its addresses are free for the next change.
            const next = syntheticStack([
                { name: "zulu", nodes: 1 },
                { name: "yankee", nodes: 1 },
                ...base.slice(1),
            ]);
            const yankee = plan(next, first.allocations).clusters[1];
            assert.strictEqual(yankee.podCidr, alpha.podCidr);
            assert.strictEqual(yankee.nodes[0].interfaces[0].ip, "192.168.0.2");
        });

        it("would move addresses without the record, which is why it exists", () => {
            const unlocked = addressesOf(
                plan(syntheticStack([{ name: "zulu", nodes: 2 }, ...base])),
            );
            assert.notDeepStrictEqual(
                (unlocked.alpha as any).podCidr,
                (before.alpha as any).podCidr,
            );
        });

        it("lists what a new node adds to the record, and what a removal releases", () => {
            const raw = syntheticStack([...base.slice(0, 2)]) as any;
            raw.clusters[1].nodes.push({
                ...structuredClone(raw.clusters[1].nodes[1]),
                name: "node7",
            });
            assert.deepStrictEqual(plan(raw, lock).lockChanges, [
                // charlie may still run while node7 boots, so its addresses are not reused yet.
                "bravo.nodes.node7.lab: 192.168.0.10 (new)",
                "bravo.nodes.node7.data: 172.20.0.10 (new)",
                "charlie.type: k3s (released)",
                "charlie.podCidr: 10.128.48.0/20 (released)",
                "charlie.serviceCidr: 10.128.24.0/22 (released)",
                "charlie.nodes.node0.lab: 192.168.0.7 (released)",
                "charlie.nodes.node0.data: 172.20.0.7 (released)",
                "charlie.nodes.node1.lab: 192.168.0.8 (released)",
                "charlie.nodes.node1.data: 172.20.0.8 (released)",
                "charlie.nodes.node2.lab: 192.168.0.9 (released)",
                "charlie.nodes.node2.data: 172.20.0.9 (released)",
                "charlie.etcd.node0: namespace=charlie image=edge-images/ubuntu-jammy size=20Gi storageClass=(cluster default) roles=controlplane,etcd,worker (released)",
            ]);
        });
    });

    it("refuses a recorded IP that no longer fits its network", () => {
        const raw = editableStackConfig("greece");
        const config = rawStackConfig(raw) as any;
        delete config.clusters[0].nodes[1].networks[0].ip;
        config.site.networks[0].range = "192.168.18.200-192.168.18.203";
        assert.throws(
            () => planStack(config),
            (error: Error) =>
                error.message.includes(
                    "allocations.final-test.nodes.worker1.lab: recorded 192.168.18.204 is outside the range 192.168.18.200-192.168.18.203 of network lab; delete this entry to assign a new address",
                ),
        );
    });
});
