import {
    Allocations,
    ClusterAllocation,
    StackConfig,
    checkNodeIp,
    masqueradeNetwork,
    nodePodCidrPrefix,
} from "../config";
import { etcdMembers } from "./lifecycle";
import {
    Cidr,
    formatCidr,
    intToIp,
    ipToInt,
    lastAddress,
    overlaps,
    parseCidr,
    ProblemList,
} from "../core";

/**
 * Address planning keeps every assignment still once made. The allocation record
 * (`edge:allocations` in the stack file, written by `npm run lock`) holds each cluster's pod and
 * service CIDRs and each node's IPs. Planning honours, in order: pins in the config, then the
 * record, then assigns what is left first-fit. Because recorded entities are fixed before anything
 * new is placed, inserting or removing a cluster or node anywhere cannot move any other.
 */

export interface ClusterAddresses {
    podCidr: string;
    serviceCidr: string;
    /** node name → site network name → IP */
    nodes: Record<string, Record<string, string>>;
}

export interface AddressPlan {
    clusters: Record<string, ClusterAddresses>;
    /** The allocation record for this config: what `npm run lock` writes. */
    allocations: Allocations;
    /** How `allocations` differs from the record in the stack file; empty when it is current. */
    lockChanges: string[];
}

interface TakenBlock {
    cidr: Cidr;
    owner: string;
}

function mustParseCidr(text: string): Cidr {
    const parsed = parseCidr(text);
    if ("error" in parsed) {
        throw new Error(`internal: unvalidated CIDR ${text}`);
    }
    return parsed.cidr;
}

/** The blocks no cluster CIDR may overlap: reserved ranges, site networks, the VM's pod network. */
function fixedBlocks(config: StackConfig): TakenBlock[] {
    const { site } = config;
    return [
        ...site.reservedCidrs.map((c, i) => ({
            cidr: mustParseCidr(c),
            owner: `site.reservedCidrs[${i}] (${c})`,
        })),
        ...site.networks.map((n, i) => ({
            cidr: mustParseCidr(n.cidr),
            owner: `site.networks[${i}] ${n.name} (${n.cidr})`,
        })),
        {
            cidr: mustParseCidr(masqueradeNetwork.cidr),
            owner: `KubeVirt's masquerade network (${masqueradeNetwork.cidr})`,
        },
    ];
}

function findOverlap(cidr: Cidr, taken: TakenBlock[]): TakenBlock | undefined {
    return taken.find((t) => overlaps(cidr, t.cidr));
}

/** First block of `prefix` inside `pool` that overlaps nothing taken. */
function firstFreeBlock(pool: Cidr, prefix: number, taken: TakenBlock[]): Cidr | undefined {
    if (prefix < pool.prefix) {
        return undefined;
    }
    const size = 2 ** (32 - prefix);
    // One sweep over the taken blocks by address: a site with hundreds of clusters stays linear.
    const sorted = taken.map((t) => t.cidr).sort((a, b) => a.base - b.base);
    let base = pool.base;
    for (const block of sorted) {
        if (lastAddress(block) < base) {
            continue;
        }
        if (block.base > base + size - 1) {
            break;
        }
        base = Math.ceil((lastAddress(block) + 1) / size) * size;
    }
    return base + size - 1 <= lastAddress(pool) ? { base, prefix } : undefined;
}

type ClusterCidrs = Record<string, { podCidr?: string; serviceCidr?: string }>;

const cidrKinds = (site: StackConfig["site"]) =>
    [
        { field: "podCidr", what: "pod CIDR", prefix: site.podCidrPrefix },
        { field: "serviceCidr", what: "service CIDR", prefix: site.serviceCidrPrefix },
    ] as const;

/** What the CIDR planner has taken so far, and what it gave each cluster. */
interface CidrState {
    taken: TakenBlock[];
    result: ClusterCidrs;
    problems: ProblemList;
}

/** Gives `text` to a cluster unless it overlaps something taken. */
function claimCidr(
    state: CidrState,
    clusterName: string,
    field: "podCidr" | "serviceCidr",
    text: string,
    at: { path: string; what: string },
): void {
    const cidr = mustParseCidr(text);
    const clash = findOverlap(cidr, state.taken);
    if (clash) {
        state.problems.add(at.path, `${at.what} ${text} overlaps ${clash.owner}`);
        return;
    }
    state.taken.push({ cidr, owner: `${at.path} (${text})` });
    state.result[clusterName] = { ...state.result[clusterName], [field]: text };
}

/**
 * Pins first, then recorded values: nothing new can displace what exists. Blocks of removed
 * clusters stay held until the record drops them: their old cluster may still be running while
 * this change creates new ones.
 */
function claimExistingCidrs(config: StackConfig, state: CidrState): void {
    const { clusters, allocations } = config;
    const kinds = cidrKinds(config.site);
    clusters.forEach((cluster, i) => {
        for (const kind of kinds) {
            const pin = cluster[kind.field];
            if (pin !== undefined) {
                const path = `clusters[${i}].${kind.field}`;
                claimCidr(state, cluster.name, kind.field, pin, { path, what: kind.what });
            }
        }
    });
    clusters.forEach((cluster) => {
        const record = allocations[cluster.name];
        for (const kind of kinds) {
            if (cluster[kind.field] === undefined && record) {
                claimCidr(state, cluster.name, kind.field, record[kind.field], {
                    path: `allocations.${cluster.name}.${kind.field}`,
                    what: `recorded ${kind.what}`,
                });
            }
        }
    });
    for (const [name, record] of Object.entries(allocations)) {
        if (!clusters.some((c) => c.name === name)) {
            for (const kind of kinds) {
                state.taken.push({
                    cidr: mustParseCidr(record[kind.field]),
                    owner: `released allocations.${name}.${kind.field}`,
                });
            }
        }
    }
}

/** New blocks from site.clusterCidrPool for clusters with neither a pin nor a record. */
function assignNewCidrs(config: StackConfig, state: CidrState): void {
    const { site, clusters, allocations } = config;
    const pool = mustParseCidr(site.clusterCidrPool);
    clusters.forEach((cluster, i) => {
        for (const kind of cidrKinds(site)) {
            if (cluster[kind.field] !== undefined || allocations[cluster.name]) {
                continue;
            }
            const block = firstFreeBlock(pool, kind.prefix, state.taken);
            if (!block) {
                state.problems.add(
                    `clusters[${i}].${kind.field}`,
                    `pool ${site.clusterCidrPool} (site.clusterCidrPool) has no free /${kind.prefix} left for a ${kind.what}`,
                );
                continue;
            }
            const text = formatCidr(block);
            state.taken.push({ cidr: block, owner: `clusters[${i}].${kind.field} (${text})` });
            state.result[cluster.name] = { ...state.result[cluster.name], [kind.field]: text };
        }
    });
}

/** A cluster's pod CIDR must hold a per-node pod subnet for each of its nodes. */
function checkPodCapacity(config: StackConfig, result: ClusterCidrs, problems: ProblemList): void {
    config.clusters.forEach((cluster, i) => {
        const podCidr = result[cluster.name]?.podCidr;
        if (podCidr === undefined) {
            return;
        }
        const prefix = mustParseCidr(podCidr).prefix;
        const capacity = prefix > nodePodCidrPrefix ? 0 : 2 ** (nodePodCidrPrefix - prefix);
        if (capacity < cluster.nodes.length) {
            problems.add(
                `clusters[${i}].podCidr`,
                `${podCidr} holds ${capacity} per-node /${nodePodCidrPrefix} pod subnets; the cluster has ${cluster.nodes.length} nodes`,
            );
        }
    });
}

function planClusterCidrs(config: StackConfig, problems: ProblemList): ClusterCidrs {
    const state: CidrState = { taken: fixedBlocks(config), result: {}, problems };
    claimExistingCidrs(config, state);
    assignNewCidrs(config, state);
    checkPodCapacity(config, state.result, problems);
    return state.result;
}

type NodeIps = Record<string, Record<string, Record<string, string>>>;

/** Per site network, each address given so far and to whom; and what each node was given. */
interface IpState {
    used: Map<string, Map<number, string>>;
    result: NodeIps;
    problems: ProblemList;
}

function assignIp(state: IpState, cluster: string, node: string, network: string, ip: string) {
    state.result[cluster] ??= {};
    state.result[cluster][node] = { ...state.result[cluster][node], [network]: ip };
}

function claimIp(state: IpState, network: string, ip: string, path: string): boolean {
    const owners = state.used.get(network)!;
    const owner = owners.get(ipToInt(ip));
    if (owner !== undefined) {
        state.problems.add(path, `${ip} is already used by ${owner}`);
        return false;
    }
    owners.set(ipToInt(ip), path);
    return true;
}

/** Visits every NIC of every node, in config order, with its path and pinned address. */
function eachNic(
    clusters: StackConfig["clusters"],
    visit: (cluster: string, node: string, network: string, path: string, ip?: string) => void,
): void {
    clusters.forEach((c, i) =>
        c.nodes.forEach((n, j) =>
            n.networks.forEach((nn, k) =>
                visit(
                    c.name,
                    n.name,
                    nn.network,
                    `clusters[${i}].nodes[${j}].networks[${k}].ip`,
                    nn.ip,
                ),
            ),
        ),
    );
}

/**
 * Recorded addresses that are still valid, and addresses released by this change, which are not
 * handed out again in it.
 */
function claimRecordedIps(config: StackConfig, state: IpState): void {
    const { site, clusters, allocations } = config;
    eachNic(clusters, (cluster, node, network, _path, pin) => {
        const recorded = allocations[cluster]?.nodes[node]?.[network];
        if (pin !== undefined || recorded === undefined) {
            return;
        }
        const path = `allocations.${cluster}.nodes.${node}.${network}`;
        const error = checkNodeIp(
            recorded,
            site.networks.find((n) => n.name === network)!,
            site,
        );
        if (error) {
            state.problems.add(
                path,
                `recorded ${error}; delete this entry to assign a new address`,
            );
        } else if (claimIp(state, network, recorded, path)) {
            assignIp(state, cluster, node, network, recorded);
        }
    });
    for (const [cluster, record] of Object.entries(allocations)) {
        for (const [node, ips] of Object.entries(record.nodes)) {
            for (const [network, ip] of Object.entries(ips)) {
                const owners = state.used.get(network);
                if (owners && state.result[cluster]?.[node]?.[network] === undefined) {
                    owners.set(
                        ipToInt(ip),
                        owners.get(ipToInt(ip)) ?? `released ${cluster}/${node}`,
                    );
                }
            }
        }
    }
}

/** The first free address of its network's range for each NIC with neither a pin nor a record. */
function assignNewIps(config: StackConfig, state: IpState): void {
    const { site, clusters, allocations } = config;
    eachNic(clusters, (cluster, node, network, path, pin) => {
        if (pin !== undefined || allocations[cluster]?.nodes[node]?.[network] !== undefined) {
            return;
        }
        const siteNetwork = site.networks.find((n) => n.name === network)!;
        const owners = state.used.get(network)!;
        const skip = new Set(
            [siteNetwork.gateway, ...site.dnsServers, ...site.hostNodeIps].map(ipToInt),
        );
        const last = ipToInt(siteNetwork.range.last);
        for (let ip = ipToInt(siteNetwork.range.first); ip <= last; ip++) {
            if (!owners.has(ip) && !skip.has(ip)) {
                owners.set(ip, path);
                assignIp(state, cluster, node, network, intToIp(ip));
                return;
            }
        }
        state.problems.add(
            path,
            `range ${siteNetwork.range.first}-${siteNetwork.range.last} of network ${network} has no free address`,
        );
    });
}

function planNodeIps(config: StackConfig, problems: ProblemList): NodeIps {
    const used = new Map(config.site.networks.map((n) => [n.name, new Map<number, string>()]));
    const state: IpState = { used, result: {}, problems };
    eachNic(config.clusters, (cluster, node, network, path, pin) => {
        if (pin !== undefined && claimIp(state, network, pin, path)) {
            assignIp(state, cluster, node, network, pin);
        }
    });
    claimRecordedIps(config, state);
    assignNewIps(config, state);
    return state.result;
}

/** Every leaf of an allocation record as `path → value`, for a readable diff. */
function flattenAllocations(allocations: Allocations): Map<string, string> {
    const flat = new Map<string, string>();
    for (const [cluster, record] of Object.entries(allocations)) {
        flat.set(`${cluster}.type`, record.type);
        flat.set(`${cluster}.podCidr`, record.podCidr);
        flat.set(`${cluster}.serviceCidr`, record.serviceCidr);
        for (const [node, ips] of Object.entries(record.nodes)) {
            for (const [network, ip] of Object.entries(ips)) {
                flat.set(`${cluster}.nodes.${node}.${network}`, ip);
            }
        }
        for (const [node, identity] of Object.entries(record.etcd ?? {})) {
            flat.set(`${cluster}.etcd.${node}`, identity);
        }
        for (const [node, host] of Object.entries(record.hosts ?? {})) {
            flat.set(`${cluster}.hosts.${node}`, host);
        }
    }
    return flat;
}

export function diffAllocations(recorded: Allocations, planned: Allocations): string[] {
    const before = flattenAllocations(recorded);
    const after = flattenAllocations(planned);
    const changes: string[] = [];
    for (const [path, value] of after) {
        const old = before.get(path);
        if (old === undefined) {
            changes.push(`${path}: ${value} (new)`);
        } else if (old !== value) {
            changes.push(`${path}: ${old} -> ${value}`);
        }
    }
    for (const [path, value] of before) {
        if (!after.has(path)) {
            changes.push(`${path}: ${value} (released)`);
        }
    }
    return changes;
}

const identityFields = [
    { field: "type", what: "distribution" },
    { field: "podCidr", what: "pod CIDR" },
    { field: "serviceCidr", what: "service CIDR" },
] as const;

/**
 * A recorded cluster's type and CIDRs cannot change in place: k3s and rke2 bake them into every
 * node. Changing one is refused unless the operator acknowledges that the cluster is replaced.
 */
function checkRecordedIdentity(config: StackConfig, problems: ProblemList): void {
    config.clusters.forEach((cluster, i) => {
        const record = config.allocations[cluster.name];
        if (!record || cluster.acknowledgeReplacement) {
            return;
        }
        for (const { field, what } of identityFields) {
            const now = cluster[field] ?? record[field];
            if (now !== record[field]) {
                problems.add(
                    `clusters[${i}].${field}`,
                    `${now} differs from ${record[field]} recorded in edge:allocations; a running cluster cannot change its ${what} in place. Set clusters[${i}].acknowledgeReplacement: true to replace the cluster and all its nodes`,
                );
            }
        }
    });
}

/** Checks overlaps and assigns every cluster CIDR and node IP; see the note at the top. */
export function planAddresses(config: StackConfig, problems: ProblemList): AddressPlan | undefined {
    checkRecordedIdentity(config, problems);
    const cidrs = planClusterCidrs(config, problems);
    const ips = planNodeIps(config, problems);
    if (!problems.empty) {
        return undefined;
    }
    const clusters: Record<string, ClusterAddresses> = {};
    const allocations: Allocations = {};
    for (const cluster of config.clusters) {
        const nodes: Record<string, Record<string, string>> = {};
        for (const node of cluster.nodes) {
            nodes[node.name] = Object.fromEntries(
                node.networks.map((n) => [n.network, ips[cluster.name][node.name][n.network]]),
            );
        }
        const { podCidr, serviceCidr } = cidrs[cluster.name] as {
            podCidr: string;
            serviceCidr: string;
        };
        clusters[cluster.name] = { podCidr, serviceCidr, nodes };
        const hosts = Object.fromEntries(
            cluster.nodes.flatMap((node) =>
                node.host === undefined ? [] : [[node.name, node.host]],
            ),
        );
        const record: ClusterAllocation = {
            type: cluster.type,
            podCidr,
            serviceCidr,
            nodes,
            etcd: etcdMembers(config.site, cluster),
            ...(Object.keys(hosts).length === 0 ? {} : { hosts }),
        };
        allocations[cluster.name] = record;
    }
    return { clusters, allocations, lockChanges: diffAllocations(config.allocations, allocations) };
}

/** The address Kubernetes gives its in-cluster DNS service: the tenth of the service CIDR. */
export function clusterDnsAddress(serviceCidr: string): string {
    return intToIp(mustParseCidr(serviceCidr).base + 10);
}
