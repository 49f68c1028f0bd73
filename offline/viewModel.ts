import { hugepageSizes, type RawStackConfig } from "../lib/config";
import { nodeRegistrationCommand } from "../lib/render";
import {
    cidrSize,
    contains,
    ipToInt,
    lastAddress,
    overlaps,
    parseCidr,
    labels,
    resourceNames,
    typeTokens,
    formatBytes,
    compareText,
} from "../lib/core";
import type {
    ClusterPlan,
    InterconnectPlan,
    NodePlan,
    NetworkPlan,
    StackPlan,
    HostLoad,
    PlacementDecision,
} from "../lib/plan";
import { Action, ResourceChange, formatPath } from "./diff";
import { kindOf, toYaml } from "./render";
import type { LiveStateView } from "./liveState";

/**
 * What the topology page shows, shaped from the offline plan: plain data, sorted, with nothing
 * that differs from run to run. offline/page.ts turns it into HTML.
 */

/** How an address came to a node: pinned in the config, kept from the record, or new. */
export type AddressState = "pinned" | "recorded" | "new";

export interface ChangeMark {
    action: Action;
    /** `kind name` of the resource. */
    resource: string;
    reasons: string[];
}

export interface AddressView {
    ip: string;
    state: AddressState;
    /** Id of the node holding it. */
    node: string;
    /** What the change does to that node, when it does something. */
    change?: Action;
}

export interface NetworkView extends Pick<
    NetworkPlan,
    "name" | "bridge" | "sriov" | "vlan" | "cidr" | "gateway" | "range"
> {
    id: string;
    addresses: AddressView[];
    /**
     * Addresses of the range by what they are: assigned by state, reserved (the network's router,
     * DNS servers and host nodes inside it), free; `size` is the whole range.
     */
    counts: Record<AddressState | "reserved" | "free" | "size", number>;
    /** Share of the range in use, in percent. */
    usedPercent: number;
    nearlyFull: boolean;
}

export interface BlockView {
    cidr: string;
    kind: "pod" | "service" | "reserved";
    /** The cluster's id for its blocks; the reserved range's index otherwise. */
    owner: string;
    /** Position and width inside the pool, in percent; reserved ranges outside it are left out. */
    offsetPercent: number;
    widthPercent: number;
    /** Other blocks this one overlaps, by CIDR. */
    overlaps: string[];
}

export interface PoolView {
    cidr: string;
    blocks: BlockView[];
    /** Reserved ranges that lie outside the pool, so are not drawn on it. */
    reservedOutside: string[];
    usedPercent: number;
    nearlyFull: boolean;
}

export interface NicView {
    network: string;
    ip: string;
    mac: string;
    state: AddressState;
}

/** How a node came to its host: see lib/plan/placement.ts. */
export type PlacementHow = PlacementDecision["how"];

export const placementLabels: Record<PlacementHow, string> = {
    placed: "placed by intent",
    recorded: "recorded",
    selector: "hostSelector",
    "only host": "the only host",
    scheduler: "scheduler chooses",
};

/** Where a node runs, and why. */
export interface NodePlacementView {
    /** Absent when the host cluster's scheduler chooses. */
    host?: string;
    /** Id of that host's view. */
    hostId?: string;
    how: PlacementHow;
    /** `how` for people: "placed by intent", "recorded", "hostSelector", "scheduler chooses". */
    howLabel: string;
    reason: string;
    /** `intent.servers` or `intent.workers[i]` for intent nodes. */
    pool?: string;
    /** The hosts a newly placed node could not go to, and why. */
    rejected: { host: string; reason: string }[];
}

/** One resource of a host: what it has and what the VMs placed on it take. */
export interface HostUseView {
    /** As Kubernetes names it: `cpu`, `memory`, `hugepages-1Gi`, or the device's resource name. */
    resource: string;
    /** `cores`, `memory`, `1Gi hugepages`, or the device's resource name. */
    label: string;
    /** In cores, bytes or devices. */
    used: number;
    capacity: number;
    /** `14 of 62 cores`, `28.75Gi of 250Gi`, `0 of 64Gi`, `1 of 2 nvidia.com/TU104GL_Tesla_T4`. */
    text: string;
    usedPercent: number;
    nearlyFull: boolean;
    /** It takes more than the host has. */
    over: boolean;
}

/** A host of the site's inventory (`site.hosts`). */
export interface HostView {
    id: string;
    name: string;
    zone?: string;
    /** Cores, memory, each hugepage size, each device in name order. */
    use: HostUseView[];
    /** The VMs placement counts on it, in VM name order. */
    vms: { node: string; vmName: string; how: PlacementHow }[];
}

export interface NodeView {
    id: string;
    name: string;
    cluster: string;
    vmName: string;
    roles: string[];
    cpu: number;
    memory: string;
    disk: string;
    image: string;
    nics: NicView[];
    /** Flags the node adds to Rancher's registration command. */
    registration: string;
    /** cloud-init user-data as rendered offline: credentials are placeholders. */
    userData: string;
    /** The node's objects on the host cluster as the program declares them, as YAML. */
    manifests: { kind: string; name: string; yaml: string }[];
    networkData: string;
    changes: ChangeMark[];
    /** Where it runs; absent when the site has no host inventory. */
    placement?: NodePlacementView;
}

export interface ClusterView {
    id: string;
    name: string;
    rancherName: string;
    type: string;
    kubernetesVersion: string;
    cni: string;
    namespace: string;
    podCidr: string;
    serviceCidr: string;
    apiEndpoint: string;
    nodes: NodeView[];
    /** Changes to the cluster's own resources (the Rancher cluster, its sync, its Service). */
    changes: ChangeMark[];
    /** VMs of this cluster that the change deletes. */
    deletedNodes: string[];
}

export interface SiteView {
    id: string;
    name: string;
    dnsServers: string[];
    hostNodeIps: string[];
    networks: NetworkView[];
    images: { name: string; url: string; size: string }[];
    pool: PoolView;
    clusters: ClusterView[];
    /** The site's hosts (`site.hosts`) in inventory order, with what each carries. */
    hosts: HostView[];
    /** Nodes whose host the host cluster's scheduler chooses, in plan order: no host counts them. */
    unplaced: { node: string; vmName: string; reason: string }[];
    /** Changes to the site's shared objects (namespaces, NADs, golden images). */
    changes: ChangeMark[];
    /** Clusters the change deletes. */
    deletedClusters: string[];
}

/** An interconnect between sites' gateways. */
export interface LinkView {
    id: string;
    name: string;
    mtu: number;
    ends: {
        site: string;
        network: string;
        gateway: string;
        tunnelAddress: string;
        /** What this end's site offers the others. */
        prefixes: string[];
    }[];
}

export interface PageModel {
    sites: SiteView[];
    /** Interconnects between the sites, from interconnects.yaml. */
    links: LinkView[];
    /** Present when the page compares against an earlier plan. */
    changeCounts?: Record<Action, number>;
    /** What each site's stack state says is deployed (`npm run plan -- --state`). */
    states?: LiveStateView[];
}

/** One site's offline plan and what the program registered for it. */
export interface SiteInput {
    stack: string;
    plan: StackPlan;
    raw: RawStackConfig;
    resources: { type: string; name: string; inputs: Record<string, any> }[];
    outputs: Record<string, any>;
    /** Against an earlier plan, when the page shows a change. */
    changes?: ResourceChange[];
}

/** A range is nearly full from this share in use, in percent. */
export const nearlyFullPercent = 80;

const percent = (part: number, whole: number) => Math.round((part / whole) * 10000) / 100;

/** The resources each change belongs to, by the component that parents them. */
function changesBy(changes: ResourceChange[] | undefined) {
    const byParent = new Map<string, ChangeMark[]>();
    for (const change of changes ?? []) {
        const parent = change.parent ?? "";
        const marks = byParent.get(parent) ?? [];
        marks.push({
            action: change.action,
            resource: `${kindOf(change.type)} ${change.name}`,
            // An update has no reason but the fields it changes.
            reasons:
                change.action === "update"
                    ? change.fields.map((f) => `changes ${formatPath(f.path)}`)
                    : change.reasons,
        });
        byParent.set(parent, marks);
    }
    return (parent: string) => byParent.get(parent) ?? [];
}

function addressState(
    raw: RawStackConfig,
    cluster: string,
    node: string,
    network: string,
    ip: string,
): AddressState {
    const clusters = (raw.clusters ?? []) as any[];
    const declared = clusters
        .find((c) => c?.name === cluster)
        ?.nodes?.find((n: any) => n?.name === node)
        ?.networks?.find((n: any) => (typeof n === "string" ? n : n?.network) === network);
    if (typeof declared === "object" && declared?.ip === ip) {
        return "pinned";
    }
    const recorded = (raw.allocations as any)?.[cluster]?.nodes?.[node]?.[network];
    return recorded === ip ? "recorded" : "new";
}

/** The most telling action among changes: replace, then create, delete, update. */
export function strongestAction(changes: ChangeMark[]): Action | undefined {
    return (["replace", "create", "delete", "update"] as const).find((a) =>
        changes.some((c) => c.action === a),
    );
}

function networkViews(
    site: string,
    input: SiteInput,
    nodeIds: Map<string, string>,
    marksOf: (parent: string) => ChangeMark[],
) {
    return input.plan.site.networks.map((network): NetworkView => {
        const addresses = input.plan.clusters
            .flatMap((cluster) =>
                cluster.nodes.flatMap((node) =>
                    node.interfaces
                        .filter((nic) => nic.network === network.name)
                        .map((nic): AddressView => {
                            const change = strongestAction(
                                marksOf(`${typeTokens.kubevirtNode}::${node.vmName}`),
                            );
                            return {
                                ip: nic.ip,
                                state: addressState(
                                    input.raw,
                                    cluster.name,
                                    node.name,
                                    network.name,
                                    nic.ip,
                                ),
                                node: nodeIds.get(`${cluster.name}/${node.name}`)!,
                                ...(change ? { change } : {}),
                            };
                        }),
                ),
            )
            .sort((a, b) => ipToInt(a.ip) - ipToInt(b.ip));
        const first = ipToInt(network.range.first);
        const last = ipToInt(network.range.last);
        const size = last - first + 1;
        const { dnsServers, hostNodeIps } = input.plan.site;
        const reserved = new Set(
            [network.gateway, ...dnsServers, ...hostNodeIps].filter(
                (ip) => ipToInt(ip) >= first && ipToInt(ip) <= last,
            ),
        ).size;
        const count = (state: AddressState) => addresses.filter((a) => a.state === state).length;
        const usedPercent = percent(addresses.length, size - reserved);
        const { nad: _nad, nadRef: _nadRef, ...shown } = network;
        return {
            id: `${site}/net/${network.name}`,
            ...shown,
            addresses,
            counts: {
                pinned: count("pinned"),
                recorded: count("recorded"),
                new: count("new"),
                reserved,
                free: size - reserved - addresses.length,
                size,
            },
            usedPercent,
            nearlyFull: usedPercent >= nearlyFullPercent,
        };
    });
}

function poolView(input: SiteInput, clusterIds: Map<string, string>): PoolView {
    const parsedPool = parseCidr(input.plan.site.clusterCidrPool);
    if (!("cidr" in parsedPool)) {
        throw new Error(`${input.stack}: pool ${input.plan.site.clusterCidrPool} is not a CIDR`);
    }
    const pool = parsedPool.cidr;
    const blockOf = (cidr: string, kind: BlockView["kind"], owner: string) => {
        const parsed = parseCidr(cidr);
        return "cidr" in parsed ? { cidr, kind, owner, block: parsed.cidr } : undefined;
    };
    const candidates = [
        ...input.plan.clusters.flatMap((c) => [
            blockOf(c.podCidr, "pod", clusterIds.get(c.name)!),
            blockOf(c.serviceCidr, "service", clusterIds.get(c.name)!),
        ]),
        ...input.plan.site.reservedCidrs.map((cidr, i) => blockOf(cidr, "reserved", String(i))),
    ].filter((b) => b !== undefined);
    const inside = candidates.filter(
        (b) => contains(pool, b.block.base) && contains(pool, lastAddress(b.block)),
    );
    const blocks = inside
        .map((b): BlockView => ({
            cidr: b.cidr,
            kind: b.kind,
            owner: b.owner,
            offsetPercent: percent(b.block.base - pool.base, cidrSize(pool)),
            widthPercent: percent(cidrSize(b.block), cidrSize(pool)),
            overlaps: inside
                .filter((other) => other !== b && overlaps(other.block, b.block))
                .map((other) => other.cidr),
        }))
        .sort((a, b) => a.offsetPercent - b.offsetPercent || compareText(a.cidr, b.cidr));
    const used = inside
        .filter((b) => b.kind !== "reserved")
        .reduce((sum, b) => sum + cidrSize(b.block), 0);
    const usedPercent = percent(used, cidrSize(pool));
    return {
        cidr: input.plan.site.clusterCidrPool,
        blocks,
        reservedOutside: candidates
            .filter((b) => b.kind === "reserved" && !inside.includes(b))
            .map((b) => b.cidr),
        usedPercent,
        nearlyFull: usedPercent >= nearlyFullPercent,
    };
}

function hostUse(
    resource: string,
    label: string,
    used: number,
    capacity: number,
    format: (amount: number) => string,
    unit: string,
): HostUseView {
    const usedPercent = capacity > 0 ? percent(used, capacity) : used > 0 ? 100 : 0;
    return {
        resource,
        label,
        used,
        capacity,
        text: `${format(used)} of ${format(capacity)}${unit}`,
        usedPercent,
        nearlyFull: usedPercent >= nearlyFullPercent,
        over: used > capacity,
    };
}

/** The view of one host: its resources, and the VMs placed on it by the decisions. */
function hostView(
    site: string,
    load: HostLoad,
    decisions: PlacementDecision[],
    nodeIds: Map<string, string>,
): HostView {
    const { capacity, used } = load;
    const count = (n: number) => String(n);
    const hugepages = hugepageSizes
        .filter((size) => capacity.hugepages[size] !== undefined || used.hugepages[size])
        .map((size) =>
            hostUse(
                `hugepages-${size}`,
                `${size} hugepages`,
                used.hugepages[size] ?? 0,
                capacity.hugepages[size] ?? 0,
                formatBytes,
                "",
            ),
        );
    const devices = [...new Set([...Object.keys(capacity.devices), ...Object.keys(used.devices)])]
        .sort(compareText)
        .map((device) =>
            hostUse(
                device,
                device,
                used.devices[device] ?? 0,
                capacity.devices[device] ?? 0,
                count,
                ` ${device}`,
            ),
        );
    return {
        id: hostId(site, load.name),
        name: load.name,
        ...(load.zone === undefined ? {} : { zone: load.zone }),
        use: [
            hostUse("cpu", "cores", used.cpu / 1000, capacity.cpu / 1000, count, " cores"),
            hostUse("memory", "memory", used.memory, capacity.memory, formatBytes, ""),
            ...hugepages,
            ...devices,
        ],
        vms: decisions
            .filter((d) => d.host === load.name)
            .map((d) => ({
                node: nodeIds.get(`${d.cluster}/${d.node}`)!,
                vmName: d.vmName,
                how: d.how,
            }))
            .sort((a, b) => compareText(a.vmName, b.vmName) || compareText(a.node, b.node)),
    };
}

const hostId = (site: string, host: string) => `${site}/host/${host}`;

function placementView(site: string, decision: PlacementDecision): NodePlacementView {
    return {
        ...(decision.host === undefined
            ? {}
            : { host: decision.host, hostId: hostId(site, decision.host) }),
        how: decision.how,
        howLabel: placementLabels[decision.how],
        reason: decision.reason,
        ...(decision.pool === undefined ? {} : { pool: decision.pool }),
        rejected: decision.rejected.map(({ host, reason }) => ({ host, reason })),
    };
}

/** What the views of a site's clusters and nodes share. */
interface SiteViewContext {
    input: SiteInput;
    site: string;
    marksOf: ReturnType<typeof changesBy>;
    nodeIds: Map<string, string>;
}

function nodeView(c: SiteViewContext, cluster: ClusterPlan, node: NodePlan): NodeView {
    const { input, site } = c;
    const secret = input.resources.find(
        (r) => r.type === typeTokens.secret && r.name === resourceNames.cloudInit(node.vmName),
    );
    const decision = input.plan.placement.decisions.find(
        (d) => d.cluster === cluster.name && d.node === node.name,
    );
    return {
        id: c.nodeIds.get(`${cluster.name}/${node.name}`)!,
        name: node.name,
        cluster: cluster.name,
        vmName: node.vmName,
        roles: [...node.roles],
        cpu: node.cpu,
        memory: node.memory,
        disk: node.disk,
        image: node.image,
        nics: node.interfaces.map((nic) => ({
            network: nic.network,
            ip: nic.ip,
            mac: nic.mac,
            state: addressState(input.raw, cluster.name, node.name, nic.network, nic.ip),
        })),
        registration: nodeRegistrationCommand("", node.userData.registration).trim(),
        userData: String(secret?.inputs.stringData?.userdata ?? ""),
        manifests: [
            [typeTokens.virtualMachine, node.vmName],
            [typeTokens.dataVolume, resourceNames.rootDisk(node.vmName)],
        ].flatMap(([type, name]) => {
            const resource = input.resources.find((r) => r.type === type && r.name === name);
            return resource ? [{ kind: kindOf(type), name, yaml: toYaml(resource.inputs) }] : [];
        }),
        networkData: node.networkData,
        changes: c.marksOf(`${typeTokens.kubevirtNode}::${node.vmName}`),
        ...(decision ? { placement: placementView(site, decision) } : {}),
    };
}

function clusterView(c: SiteViewContext, cluster: ClusterPlan): ClusterView {
    const exported = c.input.outputs.clusters?.[cluster.name] ?? {};
    const deleted = (c.input.changes ?? []).filter((change) => change.action === "delete");
    return {
        id: `${c.site}/${cluster.name}`,
        name: cluster.name,
        rancherName: cluster.rancherName,
        type: cluster.type,
        kubernetesVersion: cluster.kubernetesVersion,
        cni: cluster.cni,
        namespace: cluster.namespace,
        podCidr: cluster.podCidr,
        serviceCidr: cluster.serviceCidr,
        apiEndpoint: String(exported.apiEndpoint ?? ""),
        nodes: cluster.nodes.map((node) => nodeView(c, cluster, node)),
        changes: c.marksOf(`${typeTokens.edgeCluster}::${cluster.name}`),
        // By the cluster label the VM carried: VM names alone are ambiguous (`a` + `b-c`).
        deletedNodes: deleted
            .filter(
                (change) =>
                    change.type === typeTokens.virtualMachine &&
                    (change.inputs as any)?.metadata?.labels?.[labels.cluster] === cluster.name &&
                    !cluster.nodes.some((n) => n.vmName === change.name),
            )
            .map((change) => change.name)
            .sort(),
    };
}

/** The view of one site. */
export function siteView(input: SiteInput): SiteView {
    const site = input.stack;
    const marksOf = changesBy(input.changes);
    const clusterIds = new Map(input.plan.clusters.map((c) => [c.name, `${site}/${c.name}`]));
    const nodeIds = new Map(
        input.plan.clusters.flatMap((c) =>
            c.nodes.map((n) => [`${c.name}/${n.name}`, `${site}/${c.name}/${n.name}`]),
        ),
    );
    const context: SiteViewContext = { input, site, marksOf, nodeIds };
    const deleted = (input.changes ?? []).filter((c) => c.action === "delete");
    const { decisions, hosts } = input.plan.placement;
    const planned = new Set(input.plan.clusters.map((c) => c.name));
    return {
        id: site,
        name: input.plan.site.name,
        dnsServers: input.plan.site.dnsServers,
        hostNodeIps: input.plan.site.hostNodeIps,
        networks: networkViews(site, input, nodeIds, marksOf),
        images: input.plan.site.images.map(({ name, url, size }) => ({ name, url, size })),
        pool: poolView(input, clusterIds),
        clusters: input.plan.clusters.map((cluster) => clusterView(context, cluster)),
        hosts: hosts.map((load) => hostView(site, load, decisions, nodeIds)),
        unplaced: decisions
            .filter((d) => d.host === undefined)
            .map((d) => ({
                node: nodeIds.get(`${d.cluster}/${d.node}`)!,
                vmName: d.vmName,
                reason: d.reason,
            })),
        changes: marksOf(`${typeTokens.siteNetwork}::${input.plan.site.name}`),
        deletedClusters: deleted
            .filter((c) => c.type === typeTokens.clusterV2 && !planned.has(c.name))
            .map((c) => c.name)
            .sort(),
    };
}

/** The links of an interconnect plan, in name order, each end in declaration order. */
export function linkViews(plan: InterconnectPlan | undefined): LinkView[] {
    const names = [...new Set((plan?.gateways ?? []).map((g) => g.interconnect))].sort(compareText);
    return names.map((name) => {
        const gateways = plan!.gateways.filter((g) => g.interconnect === name);
        return {
            id: `link/${name}`,
            name,
            mtu: gateways[0].mtu,
            ends: gateways.map((g) => ({
                site: g.site,
                network: g.network,
                gateway: g.ip,
                tunnelAddress: g.tunnelAddress,
                prefixes: g.prefixes,
            })),
        };
    });
}

/**
 * The whole page: every site, in name order, the interconnects between them, and the change
 * counts when there is a change.
 */
export function pageModel(inputs: SiteInput[], interconnects?: InterconnectPlan): PageModel {
    const sites = [...inputs].sort((a, b) => compareText(a.stack, b.stack)).map(siteView);
    const links = linkViews(interconnects);
    const compared = inputs.some((i) => i.changes !== undefined);
    if (!compared) {
        return { sites, links };
    }
    const changeCounts: Record<Action, number> = { create: 0, update: 0, replace: 0, delete: 0 };
    for (const change of inputs.flatMap((i) => i.changes ?? [])) {
        changeCounts[change.action]++;
    }
    return { sites, links, changeCounts };
}
