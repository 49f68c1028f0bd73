import {
    ClusterConfig,
    ClusterNode,
    HostShape,
    HugepageSize,
    StackConfig,
    hugepageSizes,
    poolPath,
    KubevirtVersion,
    LauncherRules,
    defaults,
    kubevirtLauncher,
    launcherCommon,
    placementSearchSteps,
} from "../config";
import { virtualMachine, vmHardware } from "../render";
import {
    hostLabels,
    pinnedHostLabel,
    vmName,
    compareText,
    ProblemList,
    bytes,
    formatBytes,
    formatCores,
    millicores,
} from "../core";

/**
 * Placement puts each node of an intent on a host of the site's inventory (`site.hosts`) that can
 * carry it, deterministically and stickily: hosts recorded in the allocation record stay, and
 * everything already there (hand-written nodes pinned by their hostSelector, recorded intent
 * nodes) is counted before a new node is placed. Nothing here moves a placed node: a host that
 * no longer fits what it carries is a problem for the operator, who frees the record entry to
 * let the node move (which replaces its VM and disk).
 */

/** What a VM takes from its host, in millicores, bytes and devices. */
export interface Demand {
    /** Millicores: the launcher pod's CPU request, sidecars included. */
    cpu: number;
    memory: number;
    hugepages: Partial<Record<HugepageSize, number>>;
    devices: Record<string, number>;
    dedicatedCpu: boolean;
}

/** What a host has, or has left; CPU in millicores. */
interface Capacity {
    cpu: number;
    memory: number;
    hugepages: Partial<Record<HugepageSize, number>>;
    devices: Record<string, number>;
}

/** How one node came to its host. */
export interface PlacementDecision {
    cluster: string;
    node: string;
    vmName: string;
    /** `intent.servers` or `intent.workers[i]` for intent nodes. */
    pool?: string;
    /** Where it runs; absent when the host cluster's scheduler chooses among several. */
    host?: string;
    how: "recorded" | "placed" | "selector" | "only host" | "scheduler";
    reason: string;
    /** The hosts it could not go to, and why; new intent nodes only. */
    rejected: { host: string; reason: string }[];
}

export interface HostLoad {
    name: string;
    zone?: string;
    capacity: Capacity;
    used: Capacity;
    /** VM names it carries, in name order. */
    vms: string[];
}

export interface Placement {
    decisions: PlacementDecision[];
    hosts: HostLoad[];
}

/** The parts of a VMI spec that KubeVirt's launcher pod memory depends on. */
export interface LauncherSpec {
    domain: {
        cpu?: {
            cores?: number;
            sockets?: number;
            threads?: number;
            dedicatedCpuPlacement?: boolean;
            isolateEmulatorThread?: boolean;
        };
        memory?: { guest?: string; hugepages?: { pageSize: string } };
        resources?: { requests?: { memory?: string; cpu?: string } };
        devices: {
            gpus?: unknown[];
            hostDevices?: unknown[];
            interfaces?: { sriov?: unknown }[];
            autoattachGraphicsDevice?: boolean;
            autoattachSerialConsole?: boolean;
            logSerialConsole?: boolean;
        };
    };
    readinessProbe?: { exec?: unknown; initialDelaySeconds?: number };
    livenessProbe?: { exec?: unknown; initialDelaySeconds?: number };
}

/** The launcher pod's memory request, split as the scheduler counts it; all in bytes. */
export interface LauncherMemory {
    /** The compute container: guest memory (unless hugepages hold it) and the overhead. */
    compute: number;
    /** GetMemoryOverhead's estimate, inside `compute`. */
    overhead: number;
    /** The guest-console-log sidecar, 0 when there is none. */
    consoleLog: number;
    /** What the pod requests in all: `compute` and `consoleLog`. */
    total: number;
}

const quantityBytes = (text: string) => Math.ceil(bytes(text));

/**
 * The memory KubeVirt's launcher pod of `spec` requests under `version`, to the byte, as
 * virt-controller renders it: GetMemoryOverhead (kubevirt pkg/hypervisor/kvm/hypervisorbackend.go,
 * renderresources.go before 1.8), WithMemoryRequests, WithHugePages and WithMemoryOverhead
 * (pkg/virt-controller/services/renderresources.go), and the guest-console-log container
 * (serialconsolelog.go), a native sidecar whose request the scheduler adds. See
 * lib/config/defaults.ts for what differs between versions.
 */
export function launcherMemory(spec: LauncherSpec, version: KubevirtVersion): LauncherMemory {
    const rules: LauncherRules = kubevirtLauncher[version];
    const { domain } = spec;
    const guest = quantityBytes(domain.memory?.guest ?? "0");
    const requested = domain.resources?.requests?.memory;
    // The VMI's requests.memory, which the page-table term reads: defaulted from memory.guest by
    // pkg/defaults/defaults.go (virt-api's webhooks before 1.4) up to 1.6 only.
    const vmiRequest =
        requested !== undefined ? quantityBytes(requested) : rules.pageTablesOfGuest ? guest : 0;
    const pageTables = Math.floor(
        (Math.ceil(vmiRequest / 1000) * 1000) / launcherCommon.pageTableDivisor,
    );
    const cpu = domain.cpu ?? {};
    const vcpus = Math.max((cpu.cores ?? 1) * (cpu.sockets ?? 1) * (cpu.threads ?? 1), 1);
    const devices = domain.devices;
    const vfio =
        (devices.gpus?.length ?? 0) > 0 ||
        (devices.hostDevices?.length ?? 0) > 0 ||
        (devices.interfaces ?? []).some((i) => i.sriov !== undefined);
    const execProbes = [spec.readinessProbe, spec.livenessProbe].filter(
        (probe) => probe?.exec !== undefined,
    ).length;
    const dedicated = cpu.dedicatedCpuPlacement === true;
    const overhead =
        pageTables +
        rules.components +
        launcherCommon.perVcpu * vcpus +
        launcherCommon.ioThread +
        (devices.autoattachGraphicsDevice === false ? 0 : rules.video) +
        (vfio ? launcherCommon.vfio : 0) +
        (execProbes > 0
            ? launcherCommon.execProbes + launcherCommon.perExecProbe * execProbes
            : 0) +
        (dedicated ? rules.dedicatedCpu : 0);
    // WithMemoryRequests: requests.memory, else memory.guest. WithHugePages: the guest's memory
    // comes from hugepages, and the container keeps only what requests exceed the guest by.
    const request = requested !== undefined ? vmiRequest : guest;
    const compute =
        (domain.memory?.hugepages === undefined ? request : Math.max(request - guest, 0)) +
        overhead;
    const consoleLog = consoleLogShare(spec, rules.consoleLog);
    return { compute, overhead, consoleLog, total: compute + consoleLog };
}

/** The launcher pod's CPU request as the scheduler counts it, in millicores. */
export interface LauncherCpu {
    /** The compute container. */
    compute: number;
    /** The guest-console-log sidecar, 0 when there is none. */
    consoleLog: number;
    total: number;
}

/**
 * What the guest-console-log sidecar of `spec`'s launcher pod requests of `amounts`: nothing when
 * the pod has none, its limit with dedicated CPUs (kubevirt serialconsolelog.go).
 */
function consoleLogShare(
    spec: LauncherSpec,
    amounts: { shared: number; dedicated: number } | undefined,
): number {
    const { devices, cpu } = spec.domain;
    const logged = devices.autoattachSerialConsole !== false && devices.logSerialConsole !== false;
    if (!logged || amounts === undefined) {
        return 0;
    }
    return cpu?.dedicatedCpuPlacement === true ? amounts.dedicated : amounts.shared;
}

/**
 * The CPU KubeVirt's launcher pod of `spec` requests under `version`, to the millicore
 * (kubevirt pkg/virt-controller/services/renderresources.go): pinned, the vCPUs and an isolated
 * emulator thread's core (WithCPUPinning); otherwise requests.cpu, or else the vCPUs over the
 * cluster's cpuAllocationRatio (WithoutDedicatedCPU); and the guest-console-log sidecar's request,
 * its limit with dedicated CPUs (serialconsolelog.go).
 */
export function launcherCpu(spec: LauncherSpec, version: KubevirtVersion): LauncherCpu {
    const rules: LauncherRules = kubevirtLauncher[version];
    const cpu = spec.domain.cpu ?? {};
    const vcpus = Math.max((cpu.cores ?? 1) * (cpu.sockets ?? 1) * (cpu.threads ?? 1), 1);
    const dedicated = cpu.dedicatedCpuPlacement === true;
    const requested = spec.domain.resources?.requests?.cpu;
    const compute = dedicated
        ? (vcpus + (cpu.isolateEmulatorThread ? 1 : 0)) * 1000
        : requested !== undefined
          ? millicores(requested)
          : Math.ceil((vcpus * 1000) / launcherCommon.cpuAllocationRatio);
    const consoleLog = consoleLogShare(spec, rules.consoleLogCpu);
    return { compute, consoleLog, total: compute + consoleLog };
}

/**
 * The VMI spec of `node` as lib/plan/stackPlan.ts renders its VirtualMachine, with placeholder
 * names and addresses, which the launcher's memory does not depend on.
 */
function launcherSpecOf(node: ClusterNode, sriov: Set<string>): LauncherSpec {
    const placeholder = "placement";
    return virtualMachine({
        name: placeholder,
        namespace: placeholder,
        hostname: placeholder,
        cpu: node.cpu,
        memory: node.memory,
        labels: {},
        annotations: {},
        nodeSelector: {},
        dnsServers: [],
        podMac: "02:00:00:00:00:00",
        bridges: node.networks.map((n) => ({
            name: n.network,
            nad: n.network,
            mac: "02:00:00:00:00:00",
            ...(sriov.has(n.network) ? { sriov: true } : {}),
        })),
        rootDisk: placeholder,
        cloudInitSecret: placeholder,
        hardware: vmHardware(node),
    }).spec.template.spec;
}

/**
 * What `node` takes from a host under KubeVirt `version`: its launcher pod's CPU and memory
 * requests (see `launcherCpu` and `launcherMemory`). `vfs` maps each SR-IOV site network to its
 * resource: every interface on one takes a VF, which KubeVirt's pod requests up to 1.8 and
 * Multus' network-resources-injector adds from 1.9 (see lib/site/prerequisites.ts).
 */
export function nodeDemand(
    node: ClusterNode,
    vfs: Record<string, string> = {},
    version: KubevirtVersion = defaults.kubevirtVersion,
): Demand {
    const guest = bytes(node.memory);
    const devices: Record<string, number> = {};
    const vfResources = node.networks.flatMap((n) =>
        vfs[n.network] === undefined ? [] : [vfs[n.network]],
    );
    for (const device of [...(node.gpus ?? []), ...(node.hostDevices ?? []), ...vfResources]) {
        devices[device] = (devices[device] ?? 0) + 1;
    }
    const spec = launcherSpecOf(node, new Set(Object.keys(vfs)));
    return {
        cpu: launcherCpu(spec, version).total,
        memory: launcherMemory(spec, version).total,
        hugepages: node.hugepages ? { [node.hugepages]: guest } : {},
        devices,
        dedicatedCpu: node.dedicatedCpu ?? false,
    };
}

function capacityOf(host: HostShape): Capacity {
    return {
        cpu: host.cpu * 1000,
        memory: bytes(host.memory),
        hugepages: Object.fromEntries(
            Object.entries(host.hugepages).map(([size, total]) => [size, bytes(total!)]),
        ),
        devices: { ...host.devices },
    };
}

function emptyCapacity(): Capacity {
    return { cpu: 0, memory: 0, hugepages: {}, devices: {} };
}

function addDemand(used: Capacity, demand: Demand): void {
    used.cpu += demand.cpu;
    used.memory += demand.memory;
    for (const [size, amount] of Object.entries(demand.hugepages)) {
        const key = size as HugepageSize;
        used.hugepages[key] = (used.hugepages[key] ?? 0) + amount;
    }
    for (const [device, count] of Object.entries(demand.devices)) {
        used.devices[device] = (used.devices[device] ?? 0) + count;
    }
}

/** The labels a hostSelector matches a host by: its own and the well-known ones. */
export function hostLabelSet(host: HostShape): Record<string, string> {
    return {
        ...host.labels,
        [hostLabels.hostname]: host.name,
        ...(host.zone === undefined ? {} : { [hostLabels.zone]: host.zone }),
    };
}

/** What `host` lacks to ever carry `demand`, whatever else it carries, under KubeVirt `version`. */
function missingFeatures(host: HostShape, demand: Demand, version: KubevirtVersion): string[] {
    const missing: string[] = [];
    for (const device of Object.keys(demand.devices).sort(compareText)) {
        if (host.devices[device] === undefined) {
            missing.push(`has no ${device}`);
        }
    }
    for (const size of hugepageSizes) {
        if (demand.hugepages[size] !== undefined && host.hugepages[size] === undefined) {
            missing.push(`has no ${size} hugepages`);
        }
    }
    const label = pinnedHostLabel(version);
    if (demand.dedicatedCpu && hostLabelSet(host)[label] !== "true") {
        missing.push(`has no dedicated CPUs (label ${label}=true)`);
    }
    return missing;
}

/** How much more `host` would need to carry `demand` as well, item by item. */
function shortfall(load: HostLoad, demand: Demand): string[] {
    const { capacity, used } = load;
    const short: string[] = [];
    const freeCpu = capacity.cpu - used.cpu;
    if (demand.cpu > freeCpu) {
        short.push(
            `needs ${formatCores(demand.cpu - freeCpu)} more cores (${formatCores(Math.max(freeCpu, 0))} of ${formatCores(capacity.cpu)} free)`,
        );
    }
    const freeMemory = capacity.memory - used.memory;
    if (demand.memory > freeMemory) {
        short.push(
            `needs ${formatBytes(demand.memory - freeMemory)} more memory (${formatBytes(Math.max(freeMemory, 0))} of ${formatBytes(capacity.memory)} free)`,
        );
    }
    for (const size of hugepageSizes) {
        const wanted = demand.hugepages[size];
        const total = capacity.hugepages[size];
        if (wanted === undefined || total === undefined) {
            continue;
        }
        const free = total - (used.hugepages[size] ?? 0);
        if (wanted > free) {
            short.push(
                `needs ${formatBytes(wanted - free)} more ${size} hugepages (${formatBytes(Math.max(free, 0))} of ${formatBytes(total)} free)`,
            );
        }
    }
    for (const device of Object.keys(demand.devices).sort(compareText)) {
        const total = capacity.devices[device];
        if (total === undefined) {
            continue;
        }
        const free = total - (used.devices[device] ?? 0);
        if (demand.devices[device] > free) {
            short.push(
                `needs ${demand.devices[device] - free} more ${device} (${Math.max(free, 0)} of ${total} free)`,
            );
        }
    }
    return short;
}

/** What `load` carries beyond its capacity, item by item, or nothing. */
function overload(load: HostLoad): string[] {
    const { capacity, used } = load;
    const over: string[] = [];
    if (used.cpu > capacity.cpu) {
        over.push(`takes ${formatCores(used.cpu)} cores of ${formatCores(capacity.cpu)}`);
    }
    if (used.memory > capacity.memory) {
        over.push(`takes ${formatBytes(used.memory)} memory of ${formatBytes(capacity.memory)}`);
    }
    for (const size of hugepageSizes) {
        const taken = used.hugepages[size] ?? 0;
        if (taken > (capacity.hugepages[size] ?? 0)) {
            over.push(
                `takes ${formatBytes(taken)} ${size} hugepages of ${formatBytes(capacity.hugepages[size] ?? 0)}`,
            );
        }
    }
    for (const device of Object.keys(used.devices).sort(compareText)) {
        if (used.devices[device] > (capacity.devices[device] ?? 0)) {
            over.push(
                `takes ${used.devices[device]} ${device} of ${capacity.devices[device] ?? 0}`,
            );
        }
    }
    return over;
}

/** How a node came to its host, beyond which node it is. */
type DecisionDetails = Omit<PlacementDecision, "cluster" | "node" | "vmName" | "pool">;

/** What placing a node works with: the hosts, what they carry, and how a decision is kept. */
interface Placer {
    hosts: HostShape[];
    loads: HostLoad[];
    /** `cluster/node` → host, of every node whose host is known so far. */
    placed: Map<string, string>;
    demandOf(node: ClusterNode): Demand;
    /** What a host lacks to ever carry a demand (`missingFeatures` under the site's KubeVirt). */
    lacks(host: HostShape, demand: Demand): string[];
    carry(entry: Placing, host: string): void;
    decide(entry: Placing, details: DecisionDetails): void;
}

/** Nodes of a cluster in placement order: as the config lists them. */
interface Placing {
    cluster: ClusterConfig;
    clusterIndex: number;
    node: ClusterNode;
    nodeIndex: number;
    /** Its place among every node of the site, in config order. */
    index: number;
}

/** A placer over the site's hosts, with the decisions it records in placement order. */
interface PlacingState {
    placer: Placer;
    decisions: PlacementDecision[];
    /** Each decision's node's place in config order. */
    order: Map<PlacementDecision, number>;
}

function newPlacer(config: StackConfig): PlacingState {
    const hosts = config.site.hosts;
    const vfs = Object.fromEntries(
        config.site.networks.flatMap((n) => (n.sriov ? [[n.name, n.sriov.resourceName]] : [])),
    );
    const version = config.site.kubevirtVersion as KubevirtVersion;
    const demandOf = (node: ClusterNode) => nodeDemand(node, vfs, version);
    const loads: HostLoad[] = hosts.map((host) => ({
        name: host.name,
        ...(host.zone === undefined ? {} : { zone: host.zone }),
        capacity: capacityOf(host),
        used: emptyCapacity(),
        vms: [],
    }));
    const loadOf = (name: string) => loads.find((load) => load.name === name)!;
    const decisions: PlacementDecision[] = [];
    const placed = new Map<string, string>();
    const carry = (entry: Placing, host: string) => {
        const load = loadOf(host);
        addDemand(load.used, demandOf(entry.node));
        load.vms.push(vmName(entry.cluster.name, entry.node.name));
        placed.set(`${entry.cluster.name}/${entry.node.name}`, host);
    };
    const order = new Map<PlacementDecision, number>();
    const decide = (entry: Placing, rest: DecisionDetails) => {
        const decision: PlacementDecision = {
            cluster: entry.cluster.name,
            node: entry.node.name,
            vmName: vmName(entry.cluster.name, entry.node.name),
            ...(entry.node.pool === undefined || !entry.cluster.intent
                ? {}
                : { pool: poolPath(entry.cluster.intent, entry.node.pool) }),
            ...rest,
        };
        decisions.push(decision);
        order.set(decision, entry.index);
    };
    const lacks = (host: HostShape, demand: Demand) => missingFeatures(host, demand, version);
    const placer: Placer = { hosts, loads, placed, demandOf, lacks, carry, decide };
    return { placer, decisions, order };
}

/** What is there already: hand-written nodes pinned by their selector, recorded intent nodes. */
function placeExisting(
    entries: Placing[],
    config: StackConfig,
    placer: Placer,
    problems: ProblemList,
): void {
    const { hosts } = placer;
    for (const entry of entries) {
        if (hosts.length === 0) {
            break;
        }
        if (entry.node.pool === undefined) {
            fixHandWritten(entry, placer, problems);
            continue;
        }
        const recorded = config.allocations[entry.cluster.name]?.hosts?.[entry.node.name];
        if (recorded === undefined) {
            continue;
        }
        const at = `allocations.${entry.cluster.name}.hosts.${entry.node.name}`;
        const host = hosts.find((h) => h.name === recorded);
        if (!host) {
            problems.add(
                at,
                `${recorded} is not in site.hosts; delete this entry to place ${entry.node.name} anew (its VM and disk are replaced)`,
            );
            continue;
        }
        const missing = placer.lacks(host, placer.demandOf(entry.node));
        if (missing.length > 0) {
            problems.add(
                at,
                `${recorded} ${missing.join(", ")}, which ${entry.node.name} now needs; delete this entry to place it anew (its VM and disk are replaced)`,
            );
            continue;
        }
        placer.carry(entry, recorded);
        placer.decide(entry, {
            host: recorded,
            how: "recorded",
            reason: "recorded in edge:allocations",
            rejected: [],
        });
    }
}

function reportOverloads(loads: HostLoad[], problems: ProblemList): void {
    loads.forEach((load, i) => {
        const over = overload(load);
        if (over.length > 0) {
            problems.add(
                `site.hosts[${i}]`,
                `${load.name} cannot carry ${load.vms.join(", ")}: that ${over.join(", ")}; shrink them, or delete a record entry in edge:allocations to let an intent node move`,
            );
        }
    });
}

/**
 * New nodes most constrained first: fewest hosts that could ever take them, then largest first
 * (a big node placed last finds the hosts fragmented by small ones). Nodes of one pool are alike
 * and keep their order.
 */
function pendingNodes(entries: Placing[], config: StackConfig, placer: Placer): Placing[] {
    return entries
        .filter(
            (entry) =>
                entry.node.pool !== undefined &&
                config.allocations[entry.cluster.name]?.hosts?.[entry.node.name] === undefined,
        )
        .map((entry) => {
            const size = placer.demandOf(entry.node);
            const by = entry.cluster.intent!.spread.by;
            const eligible = placer.hosts.filter(
                (host) => placer.lacks(host, size).length === 0 && domainOf(host, by) !== undefined,
            ).length;
            return { entry, size, eligible };
        })
        .sort(
            (a, b) =>
                a.eligible - b.eligible ||
                b.size.memory - a.size.memory ||
                b.size.cpu - a.size.cpu ||
                a.entry.index - b.entry.index,
        )
        .map(({ entry }) => entry);
}

/**
 * First each new node on the host it ranks first; if one fits nowhere, a search of every
 * placement of the new nodes, whose result is then explained node by node. Gives the nodes that
 * stay unplaced, in config order.
 */
function placePending(
    pending: Placing[],
    state: PlacingState,
    searchSteps: number,
): { path: string; message: string; index: number }[] {
    const { placer, decisions } = state;
    const before = snapshot(placer, decisions.length);
    let unplaced = pending.flatMap((entry) => {
        const failure = placeNew(entry, placer);
        return failure === undefined ? [] : [{ ...failure, index: entry.index }];
    });
    if (unplaced.length > 0) {
        restore(placer, before, decisions);
        const found = searchPlacement(pending, placer, searchSteps);
        if (found.hosts) {
            for (const k of found.sequence!) {
                placeNew(pending[k], placer, found.hosts[k]);
            }
            unplaced = [];
        } else {
            const steps = `${found.steps} step${found.steps === 1 ? "" : "s"}`;
            const outcome = found.exhausted
                ? `no placement of the new nodes keeps every rule (searched exhaustively, ${steps})`
                : `the search for a placement of the new nodes gave up after ${steps}, so one may exist; pin nodes with edge:allocations or give the hosts room`;
            unplaced = unplaced.map((f) => ({ ...f, message: `${f.message}; ${outcome}` }));
        }
    }
    return unplaced.sort((a, b) => a.index - b.index);
}

/**
 * Chooses the host of every intent node (recorded ones stay), counts every node whose host is
 * known, and gives the config with `host` set on intent nodes. Problems name each unmet
 * constraint and how much is missing.
 */
export function placeNodes(
    config: StackConfig,
    problems: ProblemList,
    searchSteps: number = placementSearchSteps,
): { config: StackConfig; placement: Placement } {
    const state = newPlacer(config);
    const { placer, decisions, order } = state;
    const entries: Placing[] = config.clusters
        .flatMap((cluster, clusterIndex) =>
            cluster.nodes.map((node, nodeIndex) => ({ cluster, clusterIndex, node, nodeIndex })),
        )
        .map((entry, index) => ({ ...entry, index }));
    placeExisting(entries, config, placer, problems);
    reportSharedEtcdHosts(config, placer.placed, problems);
    reportOverloads(placer.loads, problems);
    const unplaced = placePending(pendingNodes(entries, config, placer), state, searchSteps);
    unplaced.forEach((f) => problems.add(f.path, f.message));
    // Reported in config order, whatever order they were placed in.
    decisions.sort((a, b) => order.get(a)! - order.get(b)!);

    const clusters = config.clusters.map((cluster) => ({
        ...cluster,
        nodes: cluster.nodes.map((node) => {
            const host =
                node.pool === undefined
                    ? undefined
                    : placer.placed.get(`${cluster.name}/${node.name}`);
            return host === undefined ? node : { ...node, host };
        }),
    }));
    for (const load of placer.loads) {
        load.vms.sort(compareText);
    }
    return { config: { ...config, clusters }, placement: { decisions, hosts: placer.loads } };
}

/**
 * An intent's etcd members on one host would lose quorum together; new ones are never put so,
 * but a record edited by hand could.
 */
function reportSharedEtcdHosts(
    config: StackConfig,
    placed: Map<string, string>,
    problems: ProblemList,
): void {
    for (const cluster of config.clusters.filter((c) => c.intent)) {
        const seen = new Map<string, string>();
        for (const node of cluster.nodes.filter((n) => n.roles.includes("etcd"))) {
            const host = placed.get(`${cluster.name}/${node.name}`);
            if (host === undefined) {
                continue;
            }
            const other = seen.get(host);
            if (other === undefined) {
                seen.set(host, node.name);
            } else {
                problems.add(
                    `allocations.${cluster.name}.hosts.${node.name}`,
                    `${host} carries ${other} too, another etcd member of ${cluster.name}: one host failing would take both; delete this entry to place ${node.name} anew`,
                );
            }
        }
    }
}

function fixHandWritten(entry: Placing, placer: Placer, problems: ProblemList): void {
    const { hosts, carry, decide, demandOf } = placer;
    const selector = entry.node.hostSelector;
    const keys = Object.keys(selector);
    const matching = hosts.filter((host) => {
        const set = hostLabelSet(host);
        return keys.every((key) => set[key] === selector[key]);
    });
    const nodePath = `clusters[${entry.clusterIndex}].nodes[${entry.nodeIndex}]`;
    const path = `${nodePath}.hostSelector`;
    if (matching.length === 0) {
        problems.add(path, "matches no host in site.hosts; the VM could never be scheduled");
    } else if (matching.length === 1) {
        const missing = placer.lacks(matching[0], demandOf(entry.node));
        if (missing.length > 0) {
            // KubeVirt adds its own selectors for these, which this host would never match.
            const where = keys.length === 0 ? "the site's only host" : "the one host it selects";
            problems.add(
                keys.length === 0 ? nodePath : path,
                `${matching[0].name}, ${where}, ${missing.join(", ")}, which the node needs`,
            );
            return;
        }
        carry(entry, matching[0].name);
        decide(entry, {
            host: matching[0].name,
            how: keys.length === 0 ? "only host" : "selector",
            reason:
                keys.length === 0
                    ? "the only host in site.hosts"
                    : "its hostSelector matches only this host",
            rejected: [],
        });
    } else {
        const among =
            keys.length === 0
                ? "no hostSelector"
                : `its hostSelector matches ${matching.map((h) => h.name).join(", ")}`;
        decide(entry, {
            how: "scheduler",
            reason: `the host cluster's scheduler chooses (${among}); placement does not count it`,
            rejected: [],
        });
    }
}

/** The topology domain a host is in when a pool spreads `by`. */
function domainOf(host: HostShape, by: "host" | "zone"): string | undefined {
    return by === "host" ? host.name : host.zone;
}

/**
 * Per spread domain that could take the pool at all, how many of the pool's nodes it has: what
 * the spread's skew is measured over.
 */
function poolCounts(entry: Placing, placer: Placer, demand: Demand): Map<string, number> {
    const { cluster, node } = entry;
    const by = cluster.intent!.spread.by;
    const eligible = placer.hosts.filter(
        (host) => placer.lacks(host, demand).length === 0 && domainOf(host, by) !== undefined,
    );
    const counts = new Map<string, number>();
    for (const host of eligible) {
        counts.set(domainOf(host, by)!, 0);
    }
    for (const mate of cluster.nodes.filter((other) => other.pool === node.pool)) {
        const mateHost = placer.placed.get(`${cluster.name}/${mate.name}`);
        const host = placer.hosts.find((h) => h.name === mateHost);
        const domain = host && domainOf(host, by);
        if (domain !== undefined && counts.has(domain)) {
            counts.set(domain, counts.get(domain)! + 1);
        }
    }
    return counts;
}

/** Why `host` cannot take `entry`'s new node, or the candidate it is. */
function judgeHost(
    entry: Placing,
    placer: Placer,
    host: HostShape,
    load: HostLoad,
    demand: Demand,
    counts: Map<string, number>,
    fewest: number,
): Candidate | string {
    const { cluster, node } = entry;
    const { by, maxSkew } = cluster.intent!.spread;
    const hostOf = (other: ClusterNode) => placer.placed.get(`${cluster.name}/${other.name}`);
    const missing = placer.lacks(host, demand);
    if (missing.length > 0) {
        return missing.join(", ");
    }
    const domain = domainOf(host, by);
    if (domain === undefined) {
        return "has no zone, and the pool spreads by zone";
    }
    const etcdMate = node.roles.includes("etcd")
        ? cluster.nodes.find(
              (other) =>
                  other !== node && other.roles.includes("etcd") && hostOf(other) === host.name,
          )
        : undefined;
    if (etcdMate) {
        return `carries ${etcdMate.name}, another etcd member of ${cluster.name}`;
    }
    const short = shortfall(load, demand);
    if (short.length > 0) {
        return short.join(", ");
    }
    const domainCount = counts.get(domain)!;
    if (domainCount + 1 - fewest > maxSkew) {
        return `would put ${domainCount + 1} of pool ${node.pool} on ${by} ${domain} against ${fewest} elsewhere (maxSkew ${maxSkew})`;
    }
    const clusterCount = cluster.nodes.filter((other) => hostOf(other) === host.name).length;
    const spareDevices = Object.keys(host.devices)
        .filter((d) => !(d in demand.devices))
        .sort(compareText);
    return { host, load, domainCount, clusterCount, spareDevices };
}

/**
 * Places a new intent node on the host that ranks first, or on `forced` (a search's choice), and
 * explains the choice; gives what is missing when no host fits.
 */
function placeNew(
    entry: Placing,
    placer: Placer,
    forced?: string,
): { path: string; message: string } | undefined {
    const { cluster, node } = entry;
    const intent = cluster.intent!;
    const by = intent.spread.by;
    const demand = placer.demandOf(node);
    const path = `clusters[${entry.clusterIndex}].${poolPath(intent, node.pool!)}`;
    const rejected: { host: string; reason: string }[] = [];
    const counts = poolCounts(entry, placer, demand);
    const fewest = Math.min(...counts.values());
    const candidates: Candidate[] = [];
    placer.hosts.forEach((host, i) => {
        const judged = judgeHost(entry, placer, host, placer.loads[i], demand, counts, fewest);
        if (typeof judged === "string") {
            rejected.push({ host: host.name, reason: judged });
        } else {
            candidates.push(judged);
        }
    });
    if (candidates.length === 0) {
        const reasons = rejected.map((r) => `${r.host} ${r.reason}`).join("; ");
        return { path, message: `${node.name} fits no host: ${reasons}` };
    }
    const free = (load: HostLoad) => load.capacity.memory - load.used.memory;
    // Fewest of its pool in the domain; then hosts without devices it does not need, which stay
    // free for nodes that do; then fewest of its cluster on the host, the most free memory and
    // the name: the same inventory and record always give the same choice.
    candidates.sort(
        (a, b) =>
            a.domainCount - b.domainCount ||
            a.spareDevices.length - b.spareDevices.length ||
            a.clusterCount - b.clusterCount ||
            free(b.load) - free(a.load) ||
            compareText(a.host.name, b.host.name),
    );
    const at = forced === undefined ? 0 : candidates.findIndex((c) => c.host.name === forced);
    if (at < 0) {
        throw new Error(`the search put ${node.name} on ${forced}, which placement refuses`);
    }
    const chosen = candidates[at];
    candidates.forEach((other, i) => {
        if (i < at) {
            rejected.push({
                host: other.host.name,
                reason: "fits, but then the other new nodes would not all fit (searched)",
            });
        } else if (i > at) {
            rejected.push({ host: other.host.name, reason: ranking(other, chosen, by, free) });
        }
    });
    const where = by === "host" ? "on this host" : `in zone ${chosen.host.zone}`;
    const reason = `fits, with ${formatCores(chosen.load.capacity.cpu - chosen.load.used.cpu)} cores and ${formatBytes(free(chosen.load))} free; pool ${node.pool} has ${chosen.domainCount} nodes ${where}, cluster ${cluster.name} ${chosen.clusterCount} on this host`;
    placer.carry(entry, chosen.host.name);
    placer.decide(entry, {
        host: chosen.host.name,
        how: "placed",
        reason,
        rejected: rejected.sort((a, b) => compareText(a.host, b.host)),
    });
    return undefined;
}

/** What placing new nodes changes, to undo a first attempt before a search. */
interface Snapshot {
    used: Capacity[];
    vms: string[][];
    placed: Map<string, string>;
    decisions: number;
}

function snapshot(placer: Placer, decisions: number): Snapshot {
    return {
        used: placer.loads.map((load) => structuredClone(load.used)),
        vms: placer.loads.map((load) => [...load.vms]),
        placed: new Map(placer.placed),
        decisions,
    };
}

function restore(placer: Placer, saved: Snapshot, decisions: PlacementDecision[]): void {
    placer.loads.forEach((load, i) => {
        load.used = structuredClone(saved.used[i]);
        load.vms = [...saved.vms[i]];
    });
    placer.placed.clear();
    saved.placed.forEach((host, node) => placer.placed.set(node, host));
    decisions.length = saved.decisions;
}

/** Whether `demand` fits in what `capacity` has beyond `used`. */
function fits(capacity: Capacity, used: Capacity, demand: Demand): boolean {
    return (
        used.cpu + demand.cpu <= capacity.cpu &&
        used.memory + demand.memory <= capacity.memory &&
        Object.entries(demand.hugepages).every(
            ([size, amount]) =>
                (used.hugepages[size as HugepageSize] ?? 0) + amount <=
                (capacity.hugepages[size as HugepageSize] ?? 0),
        ) &&
        Object.entries(demand.devices).every(
            ([device, count]) =>
                (used.devices[device] ?? 0) + count <= (capacity.devices[device] ?? 0),
        )
    );
}

function addScaled(used: Capacity, demand: Demand, sign: 1 | -1): void {
    used.cpu += sign * demand.cpu;
    used.memory += sign * demand.memory;
    for (const [size, amount] of Object.entries(demand.hugepages)) {
        const key = size as HugepageSize;
        used.hugepages[key] = (used.hugepages[key] ?? 0) + sign * amount;
    }
    for (const [device, count] of Object.entries(demand.devices)) {
        used.devices[device] = (used.devices[device] ?? 0) + sign * count;
    }
}

/**
 * A host for each of `order`'s new nodes, in that order, that keeps every rule placeNew keeps
 * (capacity, devices, hugepages, dedicated CPUs, etcd members apart, each pool's maxSkew), found
 * by depth-first search with the hosts in placeNew's ranking. It prunes a branch when a node
 * left has no host with room, or the hosts' room in all is less than the nodes left need, and
 * tries the alike nodes of a pool only in host order (any placement is one of those, reordered).
 * `exhausted` when every placement was ruled out within `budget` steps.
 */
function searchPlacement(
    order: Placing[],
    placer: Placer,
    budget: number,
): { hosts?: string[]; sequence?: number[]; exhausted: boolean; steps: number } {
    return new PlacementSearch(order, placer, budget).run();
}

/** A new node in the search: what it needs, how its pool spreads, and the hosts that could ever take it. */
interface SearchVar {
    entry: Placing;
    demand: Demand;
    by: "host" | "zone";
    maxSkew: number;
    candidates: number[];
    pool: string;
    etcd: boolean;
}

/** The state of searchPlacement's depth-first search; hosts are indexes into placer.hosts. */
class PlacementSearch {
    private readonly vars: SearchVar[];
    private readonly used: Capacity[];
    /** Per pool: its nodes in each domain that could take it. */
    private readonly poolCounts = new Map<string, Map<string, number>>();
    /** Per cluster: its nodes and etcd members on each host. */
    private readonly onHost = new Map<string, { nodes: number[]; etcd: number[] }>();
    /** poolCounts before the search placed anything. */
    private readonly initial: Map<string, Map<string, number>>;
    private readonly chosen: number[] = [];
    private steps = 0;
    private exhausted = true;

    constructor(
        order: Placing[],
        private readonly placer: Placer,
        private readonly budget: number,
    ) {
        this.used = placer.loads.map((load) => structuredClone(load.used));
        this.vars = order.map((entry) => {
            const demand = placer.demandOf(entry.node);
            const { by, maxSkew } = entry.cluster.intent!.spread;
            const candidates = placer.hosts.flatMap((host, i) =>
                placer.lacks(host, demand).length === 0 && domainOf(host, by) !== undefined
                    ? [i]
                    : [],
            );
            const pool = `${entry.cluster.name}/${entry.node.pool}`;
            const etcd = entry.node.roles.includes("etcd");
            return { entry, demand, by, maxSkew, candidates, pool, etcd };
        });
        this.vars.forEach((v) => this.countPlaced(v));
        this.initial = new Map(
            [...this.poolCounts].map(([pool, counts]) => [pool, new Map(counts)]),
        );
    }

    run(): { hosts?: string[]; sequence?: number[]; exhausted: boolean; steps: number } {
        if (!(this.hopeful(0) && this.descend(0))) {
            return { exhausted: this.exhausted, steps: this.steps };
        }
        const hosts = this.chosen.map((i) => this.placer.hosts[i].name);
        return { hosts, sequence: this.sequence(), exhausted: true, steps: this.steps };
    }

    private hostIndex(name: string | undefined): number {
        return this.placer.hosts.findIndex((h) => h.name === name);
    }

    /** Counts what is placed already of `v`'s cluster and pool, once per cluster and pool. */
    private countPlaced(v: SearchVar): void {
        const { cluster, node } = v.entry;
        const { hosts, placed } = this.placer;
        if (!this.onHost.has(cluster.name)) {
            const counts = { nodes: hosts.map(() => 0), etcd: hosts.map(() => 0) };
            for (const other of cluster.nodes) {
                const i = this.hostIndex(placed.get(`${cluster.name}/${other.name}`));
                if (i >= 0) {
                    counts.nodes[i] += 1;
                    counts.etcd[i] += other.roles.includes("etcd") ? 1 : 0;
                }
            }
            this.onHost.set(cluster.name, counts);
        }
        if (!this.poolCounts.has(v.pool)) {
            const counts = new Map(v.candidates.map((i) => [domainOf(hosts[i], v.by)!, 0]));
            for (const mate of cluster.nodes.filter((other) => other.pool === node.pool)) {
                const i = this.hostIndex(placed.get(`${cluster.name}/${mate.name}`));
                const domain = i >= 0 ? domainOf(hosts[i], v.by) : undefined;
                if (domain !== undefined && counts.has(domain)) {
                    counts.set(domain, counts.get(domain)! + 1);
                }
            }
            this.poolCounts.set(v.pool, counts);
        }
    }

    private open(v: SearchVar, i: number): boolean {
        return (
            !(v.etcd && this.onHost.get(v.entry.cluster.name)!.etcd[i] > 0) &&
            fits(this.placer.loads[i].capacity, this.used[i], v.demand)
        );
    }

    /**
     * A pool's spread holds when every domain that gained nodes has at most maxSkew more than the
     * emptiest: then placing them emptiest domain first keeps it at every step, as placeNew and
     * the scheduler check it. Counts only grow, so a domain beyond what its emptiest can still
     * reach with the pool's nodes left is a dead end.
     */
    private spreadHolds(v: SearchVar, from: number, final: boolean): boolean {
        const counts = this.poolCounts.get(v.pool)!;
        const left = this.vars.slice(from).filter((other) => other.pool === v.pool).length;
        const fewest = Math.min(...counts.values()) + (final ? 0 : left);
        return [...counts].every(
            ([domain, count]) =>
                count === this.initial.get(v.pool)!.get(domain) || count - fewest <= v.maxSkew,
        );
    }

    private apply(v: SearchVar, i: number, sign: 1 | -1): void {
        addScaled(this.used[i], v.demand, sign);
        const cluster = this.onHost.get(v.entry.cluster.name)!;
        cluster.nodes[i] += sign;
        cluster.etcd[i] += v.etcd ? sign : 0;
        const counts = this.poolCounts.get(v.pool)!;
        const domain = domainOf(this.placer.hosts[i], v.by)!;
        counts.set(domain, counts.get(domain)! + sign);
    }

    /**
     * `v`'s open hosts from index `from` on, in placeNew's ranking: fewest of the pool in the
     * domain, no devices it does not need, fewest of the cluster, most free memory, the name.
     */
    private ranked(v: SearchVar, from: number): number[] {
        const { hosts, loads } = this.placer;
        return v.candidates
            .filter((i) => i >= from && this.open(v, i))
            .map((i) => {
                const host = hosts[i];
                return {
                    i,
                    keys: [
                        this.poolCounts.get(v.pool)!.get(domainOf(host, v.by)!)!,
                        Object.keys(host.devices).filter((d) => !(d in v.demand.devices)).length,
                        this.onHost.get(v.entry.cluster.name)!.nodes[i],
                        this.used[i].memory - loads[i].capacity.memory,
                    ],
                };
            })
            .sort(
                (a, b) =>
                    a.keys.reduce((c, key, k) => c || key - b.keys[k], 0) ||
                    compareText(hosts[a.i].name, hosts[b.i].name),
            )
            .map((c) => c.i);
    }

    /** Whether every node from `from` on has an open host, and the hosts' room in all suffices. */
    private hopeful(from: number): boolean {
        const left = this.vars.slice(from);
        if (!left.every((v) => v.candidates.some((i) => this.open(v, i)))) {
            return false;
        }
        const free = (pick: (c: Capacity) => number) =>
            this.placer.loads.reduce(
                (sum, load, i) => sum + Math.max(pick(load.capacity) - pick(this.used[i]), 0),
                0,
            );
        const need = (pick: (d: Demand) => number) =>
            left.reduce((sum, v) => sum + pick(v.demand), 0);
        return (
            need((d) => d.cpu) <= free((c) => c.cpu) &&
            need((d) => d.memory) <= free((c) => c.memory)
        );
    }

    private descend(k: number): boolean {
        if (k === this.vars.length) {
            return this.vars.every((v) => this.spreadHolds(v, k, true));
        }
        const v = this.vars[k];
        // Alike nodes of a pool: only in host order.
        let previous = k - 1;
        while (previous >= 0 && this.vars[previous].pool !== v.pool) {
            previous -= 1;
        }
        for (const i of this.ranked(v, previous < 0 ? 0 : this.chosen[previous])) {
            if (this.steps === this.budget) {
                this.exhausted = false;
                return false;
            }
            this.steps += 1;
            this.apply(v, i, 1);
            this.chosen[k] = i;
            if (this.spreadHolds(v, k + 1, false) && this.hopeful(k + 1) && this.descend(k + 1)) {
                return true;
            }
            this.apply(v, i, -1);
            if (!this.exhausted) {
                return false;
            }
        }
        return false;
    }

    /** The order to place the chosen hosts in: each pool's emptiest domain first. */
    private sequence(): number[] {
        const { vars, chosen } = this;
        const hosts = this.placer.hosts;
        const counts = new Map([...this.initial].map(([pool, c]) => [pool, new Map(c)]));
        const sequence: number[] = [];
        const rest = vars.map((_, k) => k);
        while (rest.length > 0) {
            const countOf = (k: number) =>
                counts.get(vars[k].pool)!.get(domainOf(hosts[chosen[k]], vars[k].by)!)!;
            const next = rest.find((k) =>
                rest.every(
                    (other) => vars[other].pool !== vars[k].pool || countOf(other) >= countOf(k),
                ),
            )!;
            const domain = domainOf(hosts[chosen[next]], vars[next].by)!;
            counts.get(vars[next].pool)!.set(domain, countOf(next) + 1);
            sequence.push(next);
            rest.splice(rest.indexOf(next), 1);
        }
        return sequence;
    }
}

interface Candidate {
    host: HostShape;
    load: HostLoad;
    /** Nodes of the pool already in the host's topology domain. */
    domainCount: number;
    /** Nodes of the cluster already on the host. */
    clusterCount: number;
    /** Devices the host has that the node does not need. */
    spareDevices: string[];
}

/** Why a host that fits came after the chosen one. */
function ranking(
    other: Candidate,
    chosen: Candidate,
    by: "host" | "zone",
    free: (load: HostLoad) => number,
): string {
    if (other.domainCount !== chosen.domainCount) {
        return `fits, but its ${by} has more of the pool (${other.domainCount})`;
    }
    if (other.spareDevices.length !== chosen.spareDevices.length) {
        return `fits, but keeps its ${other.spareDevices.join(", ")} for nodes that need them`;
    }
    if (other.clusterCount !== chosen.clusterCount) {
        return `fits, but carries more of the cluster (${other.clusterCount})`;
    }
    if (free(other.load) !== free(chosen.load)) {
        return `fits, but has less free memory (${formatBytes(free(other.load))})`;
    }
    return "fits equally; the name comes later";
}
