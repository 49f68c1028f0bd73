import * as assert from "assert";
import fc from "fast-check";
import { Allocations, RawStackConfig } from "../lib/config";
import { masqueradeNetwork } from "../lib/config/defaults";
import { Cidr, contains, ipToInt, lastAddress, overlaps, parseCidr } from "../lib/core/ip";
import { StackPlan, planStack } from "../lib/plan/stackPlan";
import { syntheticStack } from "../offline/synthetic";

/**
 * Property tests of the address planner, after awsx's subnet planner tests: random sequences of
 * cluster and node insertions, removals and reorderings, with `npm run lock` between steps.
 */

/** The clusters of a stack as names: node0 of each is its only etcd member and always stays. */
type Model = { name: string; nodes: string[] }[];

type Step =
    | { op: "addCluster"; at: number; nodes: number }
    | { op: "removeCluster"; at: number }
    | { op: "moveCluster"; from: number; to: number }
    | { op: "addNode"; cluster: number; at: number }
    | { op: "removeNode"; cluster: number; at: number };

const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
    fc.record({
        op: fc.constant("addCluster" as const),
        at: fc.nat(8),
        nodes: fc.integer({ min: 1, max: 3 }),
    }),
    fc.record({ op: fc.constant("removeCluster" as const), at: fc.nat(8) }),
    fc.record({ op: fc.constant("moveCluster" as const), from: fc.nat(8), to: fc.nat(8) }),
    fc.record({ op: fc.constant("addNode" as const), cluster: fc.nat(8), at: fc.nat(4) }),
    fc.record({ op: fc.constant("removeNode" as const), cluster: fc.nat(8), at: fc.nat(4) }),
);

/** Applies a step; indexes wrap around, and a step with nothing to act on does nothing. */
function apply(model: Model, step: Step, fresh: () => string): Model {
    const next = model.map((c) => ({ name: c.name, nodes: [...c.nodes] }));
    const pick = (i: number) => (next.length === 0 ? undefined : i % next.length);
    switch (step.op) {
        case "addCluster": {
            const nodes = Array.from({ length: step.nodes }, (_, i) =>
                i === 0 ? "node0" : fresh(),
            );
            next.splice(step.at % (next.length + 1), 0, { name: fresh(), nodes });
            break;
        }
        case "removeCluster": {
            const at = pick(step.at);
            if (at !== undefined) {
                next.splice(at, 1);
            }
            break;
        }
        case "moveCluster": {
            const from = pick(step.from);
            if (from !== undefined) {
                const [moved] = next.splice(from, 1);
                next.splice(step.to % (next.length + 1), 0, moved);
            }
            break;
        }
        case "addNode": {
            const at = pick(step.cluster);
            if (at !== undefined) {
                const nodes = next[at].nodes;
                nodes.splice(step.at % (nodes.length + 1), 0, fresh());
            }
            break;
        }
        case "removeNode": {
            const at = pick(step.cluster);
            const workers = at === undefined ? [] : next[at].nodes.filter((n) => n !== "node0");
            if (at !== undefined && workers.length > 0) {
                const gone = workers[step.at % workers.length];
                next[at].nodes = next[at].nodes.filter((n) => n !== gone);
            }
            break;
        }
    }
    return next;
}

/** The synthetic site with the model's clusters; node0 is the etcd member wherever it sits. */
function stackOf(model: Model, allocations?: Allocations): RawStackConfig {
    const raw = syntheticStack([]) as any;
    const template = (syntheticStack([{ name: "t", nodes: 2 }]) as any).clusters[0];
    raw.clusters = model.map((cluster) => ({
        ...structuredClone(template),
        name: cluster.name,
        nodes: cluster.nodes.map((node) => ({
            ...structuredClone(template.nodes[node === "node0" ? 0 : 1]),
            name: node,
        })),
    }));
    return { ...raw, allocations };
}

function cidr(text: string): Cidr {
    const parsed = parseCidr(text);
    assert.ok("cidr" in parsed, text);
    return parsed.cidr;
}

/** Everything an address may never share: the reserved ranges, site networks, masquerade. */
function checkPlan(raw: RawStackConfig, plan: StackPlan): void {
    const site = raw.site as any;
    const pool = cidr(site.clusterCidrPool);
    const forbidden = [
        ...site.reservedCidrs,
        ...site.networks.map((n: any) => n.cidr),
        masqueradeNetwork.cidr,
    ].map((text: string) => ({ text, range: cidr(text) }));
    const blocks: { owner: string; range: Cidr }[] = [];
    for (const cluster of plan.clusters) {
        for (const [kind, text] of [
            ["pods", cluster.podCidr],
            ["services", cluster.serviceCidr],
        ]) {
            const range = cidr(text);
            const owner = `${cluster.name} ${kind} ${text}`;
            const inPool = contains(pool, range.base) && contains(pool, lastAddress(range));
            assert.ok(inPool, `${owner} in pool`);
            for (const other of forbidden) {
                assert.ok(!overlaps(range, other.range), `${owner} overlaps ${other.text}`);
            }
            for (const other of blocks) {
                assert.ok(!overlaps(range, other.range), `${owner} overlaps ${other.owner}`);
            }
            blocks.push({ owner, range });
        }
    }
    const taken = new Map<string, string>();
    const macs = new Map<string, string>();
    for (const cluster of plan.clusters) {
        for (const node of cluster.nodes) {
            for (const nic of node.interfaces) {
                const network = site.networks.find((n: any) => n.name === nic.network);
                const owner = `${cluster.name}/${node.name} ${nic.network} ${nic.ip}`;
                assert.ok(contains(cidr(network.cidr), ipToInt(nic.ip)), `${owner} in range`);
                assert.notStrictEqual(nic.ip, network.gateway, `${owner} is the gateway`);
                assert.ok(!site.dnsServers.includes(nic.ip), `${owner} is a DNS server`);
                assert.ok(!site.hostNodeIps.includes(nic.ip), `${owner} is a host node`);
                assert.strictEqual(taken.get(nic.ip), undefined, `${owner} taken twice`);
                taken.set(nic.ip, owner);
                assert.strictEqual(macs.get(nic.mac), undefined, `${owner} MAC ${nic.mac} twice`);
                macs.set(nic.mac, owner);
            }
        }
    }
}

/** Each cluster's CIDRs and each node's addresses by name, to compare across steps. */
function addressesOf(plan: StackPlan): Map<string, string> {
    const addresses = new Map<string, string>();
    for (const cluster of plan.clusters) {
        addresses.set(cluster.name, `${cluster.podCidr} ${cluster.serviceCidr}`);
        for (const node of cluster.nodes) {
            addresses.set(
                `${cluster.name}/${node.name}`,
                JSON.stringify([node.podMac, node.interfaces]),
            );
        }
    }
    return addresses;
}

describe("address planner properties", () => {
    it("never moves a recorded address, never overlaps, and a lock after a lock changes nothing", () => {
        fc.assert(
            fc.property(fc.array(stepArbitrary, { minLength: 1, maxLength: 10 }), (steps) => {
                let counter = 0;
                const fresh = () => `n${counter++}`;
                let model: Model = [{ name: fresh(), nodes: ["node0", fresh()] }];
                let record = planStack(stackOf(model)).plan.allocations;
                let before = addressesOf(planStack(stackOf(model, record)).plan);
                for (const step of steps) {
                    model = apply(model, step, fresh);
                    const raw = stackOf(model, record);
                    const { plan } = planStack(raw);
                    checkPlan(raw, plan);
                    const after = addressesOf(plan);
                    for (const [owner, addresses] of after) {
                        if (before.has(owner)) {
                            assert.strictEqual(addresses, before.get(owner), `${owner} moved`);
                        }
                    }
                    // `npm run lock`, then again: the second finds nothing to record.
                    record = plan.allocations;
                    const locked = planStack(stackOf(model, record)).plan;
                    assert.deepStrictEqual(locked.lockChanges, []);
                    assert.deepStrictEqual(addressesOf(locked), after);
                    before = after;
                }
            }),
            { numRuns: 150 },
        );
    });
});
