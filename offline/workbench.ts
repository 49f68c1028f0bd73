import { Document, YAMLMap, isMap, isSeq, parse, parseDocument, stringify } from "yaml";
import {
    GatewayPlan,
    InterconnectPlan,
    PlacementDecision,
    interconnectsFile,
    interconnectsOf,
    planInterconnects,
    ClusterPlan,
    NodePlan,
    StackPlan,
    planStack,
} from "../lib/plan";
import type { ObjectMeta } from "../lib/render";
import { annotations, compareText, ConfigError, ProblemList, formatProblems } from "../lib/core";
import {
    type LoadedInterconnects,
    configNamespace,
    parseStackFile,
    stackFileConfig,
    stackFilePath,
    stackFileText,
    withAllocations,
} from "../lib/config";

/**
 * The topology page's workbench, without the page: the project's files as a person edits them,
 * planned by the same code as `npm run plan`, the change against the committed files, the graph
 * of it all and the edits the page offers. No DOM and no Node.js built-in: page/app.ts runs it in
 * the browser, and the tests run it here.
 */

/** The files a workbench edits: each site's stack file, and interconnects.yaml when there is one. */
export interface WorkbenchFiles {
    stacks: Record<string, string>;
    interconnects?: string;
}

export interface PlannedSite {
    stack: string;
    plan?: StackPlan;
    /** What `npm run plan -- --stack <stack>` prints instead of a plan. */
    problems?: string;
}

export interface Planned {
    sites: PlannedSite[];
    interconnects?: InterconnectPlan;
    /** What `npm run plan -- --all --html` prints about interconnects.yaml instead of a page. */
    interconnectProblems?: string;
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** A cache of one value per name, kept while what it was made from stays the same. */
function lastOf<T>(): (name: string, from: string, make: () => T) => T {
    const last = new Map<string, { from: string; value: T }>();
    return (name, from, make) => {
        const hit = last.get(name);
        if (hit?.from === from) {
            return hit.value;
        }
        const value = make();
        last.set(name, { from, value });
        return value;
    };
}

/** Each site's last plan: an edit re-plans the sites it touches, not every site of the testbed. */
const lastPlanned = lastOf<PlannedSite>();

/** Every site of `files` planned as `npm run plan` plans it, the interconnects as `--all` does. */
export function planFiles(files: WorkbenchFiles): Planned {
    let loaded: LoadedInterconnects | undefined;
    let interconnects: InterconnectPlan | undefined;
    let interconnectProblems: string | undefined;
    if (files.interconnects !== undefined) {
        try {
            loaded = interconnectsOf(files.interconnects, (site) => files.stacks[site]);
            const problems = new ProblemList();
            interconnects = planInterconnects(loaded.raw, loaded.sites, problems, loaded.broken);
            if (!problems.empty) {
                interconnects = undefined;
                interconnectProblems = formatProblems(problems.problems, interconnectsFile);
            }
        } catch (error) {
            // interconnects.yaml is not YAML: no site plans, as `npm run plan` stops on it too.
            const problems = messageOf(error);
            return {
                sites: Object.keys(files.stacks)
                    .sort(compareText)
                    .map((stack) => ({ stack, problems })),
                interconnectProblems: problems,
            };
        }
    }
    // The texts a site's plan depends on: its own, and interconnects.yaml's with its members'.
    const members = loaded
        ? Object.keys(files.stacks)
              .filter((s) => loaded.sites[s] !== undefined || loaded.broken.includes(s))
              .sort(compareText)
        : [];
    const sites = Object.keys(files.stacks)
        .sort(compareText)
        .map((stack): PlannedSite => {
            const key = JSON.stringify([
                files.stacks[stack],
                files.interconnects ?? null,
                ...members.map((s) => files.stacks[s]),
            ]);
            return lastPlanned(stack, key, () => planSite(stack));
        });
    return {
        sites,
        ...(interconnects ? { interconnects } : {}),
        ...(interconnectProblems ? { interconnectProblems } : {}),
    };

    function planSite(stack: string): PlannedSite {
        try {
            const raw = stackFileConfig(parseStackFile(files.stacks[stack], stackFilePath(stack)));
            const { plan } = planStack(loaded ? { ...raw, interconnects: loaded } : raw);
            return { stack, plan };
        } catch (error) {
            return {
                stack,
                problems:
                    error instanceof ConfigError
                        ? formatProblems(error.problems)
                        : messageOf(error),
            };
        }
    }
}

/**
 * The stack file as `npm run lock` would leave it: its text with `edge:allocations` recording
 * the plan's addresses and placements, or unchanged when they are recorded already or it has
 * problems (scripts/lock.ts, which plans it without interconnects too).
 */
export function lockedStackFile(stack: string, text: string): string {
    try {
        const file = parseStackFile(text, stackFilePath(stack));
        const { plan } = planStack(stackFileConfig(file));
        return plan.lockChanges.length === 0
            ? text
            : withAllocations(file.document, plan.allocations);
    } catch {
        return text;
    }
}

/** The files to hand in: each changed one, stack files locked, by file name. */
export function exportedFiles(
    files: WorkbenchFiles,
    committed: WorkbenchFiles,
): Record<string, string> {
    const out: Record<string, string> = {};
    for (const stack of Object.keys(files.stacks).sort(compareText)) {
        if (files.stacks[stack] !== committed.stacks[stack]) {
            out[stackFilePath(stack)] = lockedStackFile(stack, files.stacks[stack]);
        }
    }
    if (files.interconnects !== undefined && files.interconnects !== committed.interconnects) {
        out[interconnectsFile] = files.interconnects;
    }
    return out;
}

export type Action = "create" | "update" | "replace" | "delete";

export interface PlanChange {
    site: string;
    /** `cluster`, `cluster/node`, the gateway's interconnect, or a network, image or namespace. */
    what: string;
    kind: "cluster" | "node" | "gateway" | "network" | "image" | "namespace" | "site";
    action: Action;
    reasons: string[];
}

/** What happens to one thing: undefined when nothing does. */
type Verdict = Pick<PlanChange, "action" | "reasons">;

/** A verdict on something named, in a site and of a kind that the caller knows. */
type Row = Verdict & { what: string };

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Whether a Kubernetes object is renamed: the provider renames nothing, it replaces. */
const moved = (was: { metadata: ObjectMeta }, now: { metadata: ObjectMeta }) =>
    was.metadata.name !== now.metadata.name || was.metadata.namespace !== now.metadata.namespace;

/** The fields of `keys` that differ, as a person reads them. */
function changedFields<T>(before: T, after: T, keys: (keyof T & string)[]): string[] {
    const text = (value: unknown) =>
        value === undefined
            ? "(none)"
            : typeof value === "object"
              ? JSON.stringify(value)
              : String(value);
    return keys
        .filter((key) => !same(before[key], after[key]))
        .map((key) => `${key} ${text(before[key])} → ${text(after[key])}`);
}

/** What differs between two versions of a node, as a person reads it. */
function nodeFields(before: NodePlan, after: NodePlan): string[] {
    const networks = [
        ...new Set([...before.interfaces, ...after.interfaces].map((nic) => nic.network)),
    ];
    const view = (node: NodePlan) => ({
        cpu: node.cpu,
        memory: node.memory,
        disk: node.disk,
        image: node.image,
        roles: node.roles.join(","),
        host: node.host ?? "(scheduler)",
        namespace: node.namespace,
        ...Object.fromEntries(
            networks.map((network) => [
                `${network} address`,
                node.interfaces.find((nic) => nic.network === network)?.ip,
            ]),
        ),
    });
    const [was, now] = [view(before), view(after)];
    return changedFields(was, now, Object.keys(now) as (keyof typeof now & string)[]);
}

/** A VM with its root disk and cloud-init: a node's or a gateway's. */
type DiskVm = Pick<NodePlan, "rootDisk" | "virtualMachine" | "networkData"> & {
    userData: unknown;
};

/**
 * A VM's change as the program's resources take it (components/clonedDiskVm.ts): its root disk
 * and VM are replaced when the disk's spec, the root-disk or cluster-identity annotation, or the
 * name or namespace of either changes (Kubernetes renames nothing); anything else in the VM or
 * its cloud-init is updated in place. Undefined: no change.
 */
function vmChange(before: DiskVm, after: DiskVm, fields: string[]): Verdict | undefined {
    const replacing = (vm: DiskVm) => [
        vm.rootDisk.spec,
        ...[vm.rootDisk.metadata, vm.virtualMachine.metadata].map((meta) => [
            meta.annotations?.[annotations.rootDisk],
            meta.annotations?.[annotations.clusterIdentity],
        ]),
    ];
    if (
        !same(replacing(before), replacing(after)) ||
        moved(before.rootDisk, after.rootDisk) ||
        moved(before.virtualMachine, after.virtualMachine)
    ) {
        return { action: "replace", reasons: fields.length ? fields : ["its root disk changes"] };
    }
    const updated =
        !same(before.virtualMachine, after.virtualMachine) ||
        !same(before.userData, after.userData) ||
        before.networkData !== after.networkData;
    return updated
        ? { action: "update", reasons: fields.length ? fields : ["its VM or cloud-init changes"] }
        : undefined;
}

/** The change of each entry of two lists by name: created, deleted, or as `changed` says. */
function byName<T>(
    before: T[],
    after: T[],
    name: (item: T) => string,
    changed: (was: T, now: T) => Verdict | undefined,
): Row[] {
    const names = (items: T[]) => new Map(items.map((item) => [name(item), item]));
    const [was, now] = [names(before), names(after)];
    return [
        ...after.flatMap((item) => {
            const old = was.get(name(item));
            const change = old ? changed(old, item) : { action: "create" as const, reasons: [] };
            return change ? [{ what: name(item), ...change }] : [];
        }),
        ...before
            .filter((item) => !now.has(name(item)))
            .map((item) => ({ what: name(item), action: "delete" as const, reasons: [] })),
    ];
}

/** A cluster's own resources: its Rancher cluster (replaced with its identity) and API Service. */
function clusterChange(was: ClusterPlan, now: ClusterPlan): Verdict | undefined {
    const reasons = [
        ...changedFields(was, now, ["type", "kubernetesVersion", "cni", "podCidr", "serviceCidr"]),
        ...(same(was.machineGlobalConfig, now.machineGlobalConfig) &&
        same(was.chartValues, now.chartValues)
            ? []
            : ["its rke2/k3s config changes"]),
        ...(same(was.labels, now.labels) ? [] : ["its labels change"]),
        ...(same(was.apiService, now.apiService)
            ? []
            : [
                  now.apiService
                      ? was.apiService
                          ? "its direct API Service changes"
                          : "creates its direct API Service"
                      : "deletes its direct API Service",
              ]),
    ];
    if (was.identity !== now.identity) {
        return { action: "replace", reasons };
    }
    return reasons.length > 0 ? { action: "update", reasons } : undefined;
}

/** One site's change, from its last good plan `old` (none: a new site) to `now`. */
/** The rows of a site's namespaces, networks and golden images. */
function siteObjectRows(old: StackPlan | undefined, now: StackPlan) {
    const namespaces = byName(
        old?.site.namespaces ?? [],
        now.site.namespaces,
        (n) => n,
        () => undefined,
    );
    const networks = byName(
        old?.site.networks ?? [],
        now.site.networks,
        (n) => n.name,
        (was, is) =>
            same(was.nad, is.nad)
                ? undefined
                : {
                      action: moved(was.nad, is.nad) ? "replace" : "update",
                      reasons: changedFields(was, is, [
                          "bridge",
                          "sriov",
                          "vlan",
                          "cidr",
                          "gateway",
                          "range",
                      ]),
                  },
    );
    // A golden image's spec is immutable: a new URL or size is a new import (components/siteNetwork.ts).
    const images = byName(
        old?.site.images ?? [],
        now.site.images,
        (i) => i.name,
        (was, is) =>
            same(was.dataVolume, is.dataVolume)
                ? undefined
                : {
                      action:
                          same(was.dataVolume.spec, is.dataVolume.spec) &&
                          !moved(was.dataVolume, is.dataVolume)
                              ? "update"
                              : "replace",
                      reasons: changedFields(was, is, ["url", "size"]),
                  },
    );
    return { namespaces, networks, images };
}

function siteChanges(stack: string, old: StackPlan | undefined, now: StackPlan): PlanChange[] {
    const changes: PlanChange[] = [];
    const add = (kind: PlanChange["kind"], rows: Row[]) =>
        changes.push(...rows.map((row) => ({ site: stack, kind, ...row })));
    const { namespaces, networks, images } = siteObjectRows(old, now);
    add("namespace", namespaces);
    add("network", networks);
    add("image", images);
    const oldClusters = old?.clusters ?? [];
    const clusterRows = byName(oldClusters, now.clusters, (c) => c.name, clusterChange);
    const clusterNames = [...new Set([...now.clusters, ...oldClusters].map((c) => c.name))];
    for (const name of clusterNames) {
        add(
            "cluster",
            clusterRows.filter((row) => row.what === name),
        );
        const was = oldClusters.find((c) => c.name === name);
        const is = now.clusters.find((c) => c.name === name);
        const nodeRows = byName(
            was?.nodes ?? [],
            is?.nodes ?? [],
            (n) => n.name,
            (a, b) => vmChange(a, b, nodeFields(a, b)),
        );
        add(
            "node",
            nodeRows.map((row) => ({ ...row, what: `${name}/${row.what}` })),
        );
    }
    // A gateway VM is declared only where the site has its WireGuard key (plan.gateways).
    add(
        "gateway",
        byName(
            old?.gateways ?? [],
            now.gateways,
            (g) => g.gateway.interconnect,
            (a, b) => vmChange(a, b, []),
        ),
    );
    if (changes.length === 0 && old && !same(old, now)) {
        changes.push({
            site: stack,
            what: stack,
            kind: "site",
            action: "update",
            reasons: ["other resources of the site change: npm run plan -- --diff lists them"],
        });
    }
    return changes;
}

/**
 * The change from `before` to `after` per site, for what the program declares: namespaces,
 * networks, images, clusters, nodes and gateways. A site that does not plan now has no change to
 * show (its problems say why).
 */
export function planChanges(before: Planned, after: Planned): PlanChange[] {
    return after.sites.flatMap((site) =>
        site.plan
            ? siteChanges(
                  site.stack,
                  before.sites.find((s) => s.stack === site.stack)?.plan,
                  site.plan,
              )
            : [],
    );
}

/** A graph element, as Cytoscape.js takes it, with a position of its own. */
export interface GraphElement {
    group: "nodes" | "edges";
    data: {
        id: string;
        label: string;
        kind:
            | "site"
            | "network"
            | "cluster"
            | "node"
            | "host"
            | "gateway"
            | "nic"
            | "placement"
            | "link";
        parent?: string;
        source?: string;
        target?: string;
        change?: Action;
        /** Where its config is: the file and the YAML path of its entry. */
        file?: string;
        path?: (string | number)[];
    };
    position?: { x: number; y: number };
}

export const elementIds = {
    site: (site: string) => `site:${site}`,
    network: (site: string, network: string) => `net:${site}/${network}`,
    cluster: (site: string, cluster: string) => `cluster:${site}/${cluster}`,
    node: (site: string, cluster: string, node: string) => `node:${site}/${cluster}/${node}`,
    host: (site: string, host: string) => `host:${site}/${host}`,
    gateway: (site: string, interconnect: string) => `gw:${site}/${interconnect}`,
};

/** The index of the entry named `name` in the sequence at `path` of `document`, or -1. */
function indexByName(document: Document, path: (string | number)[], name: string): number {
    const seq = document.getIn(path);
    if (!isSeq(seq)) {
        return -1;
    }
    return seq.items.findIndex((item) => isMap(item) && item.get("name") === name);
}

const grid = { column: 150, row: 90, perRow: 8, siteGap: 260 };

/** Each file's last parse, read-only: the graph is drawn anew on every edit of any one file. */
const lastParsed = lastOf<Document>();
const documentOf = (file: string, text: string) =>
    lastParsed(file, text, () => parseDocument(text));

type YamlPath = (string | number)[];

/** What drawing one site's elements needs: where its entries are, its plans, and where to draw. */
interface SiteDrawing {
    elements: GraphElement[];
    stack: string;
    siteId: string;
    document: Document;
    /** Where an entry of the site's stack file is, as an element's file and path. */
    at: (path: YamlPath) => { file: string; path: YamlPath };
    plan: StackPlan;
    /** The plan before the change, which adds what the change deletes. */
    oldPlan?: StackPlan;
    /** Whether `plan` is the plan of the stack file as it is now, rather than the old one. */
    current: boolean;
    changeOf: (kind: PlanChange["kind"], what: string) => Action | undefined;
    x0: number;
}

const sitePath = ["config", `${configNamespace}:site`];
const clustersPath = ["config", `${configNamespace}:clusters`];

/** Where interconnects.yaml declares `site`'s end of `interconnect`. */
function memberAt(interconnects: Document | undefined, interconnect: string, site: string) {
    const index = interconnects ? indexByName(interconnects, ["interconnects"], interconnect) : -1;
    const members = interconnects?.getIn(["interconnects", index, "members"]);
    const member = isSeq(members)
        ? members.items.findIndex((m) => isMap(m) && m.get("site") === site)
        : -1;
    return member >= 0
        ? { file: interconnectsFile, path: ["interconnects", index, "members", member] }
        : {};
}

/** The site's networks in a row, its gateways beside them; gives how many columns they take. */
function drawNetworks(
    d: SiteDrawing,
    gateways: GatewayPlan[],
    interconnects: Document | undefined,
): number {
    const networks = d.plan.site.networks;
    networks.forEach((network, i) => {
        const index = indexByName(d.document, [...sitePath, "networks"], network.name);
        d.elements.push({
            group: "nodes",
            data: {
                id: elementIds.network(d.stack, network.name),
                label: `${network.name}\n${network.cidr}`,
                kind: "network",
                parent: d.siteId,
                ...(index >= 0 ? d.at([...sitePath, "networks", index]) : {}),
            },
            position: { x: d.x0 + i * grid.column, y: 0 },
        });
    });
    gateways.forEach((gateway, i) => {
        const id = elementIds.gateway(d.stack, gateway.interconnect);
        const change = d.changeOf("gateway", gateway.interconnect);
        d.elements.push({
            group: "nodes",
            data: {
                id,
                label: `gateway ${gateway.interconnect}\n${gateway.ip}`,
                kind: "gateway",
                parent: d.siteId,
                ...(change ? { change } : {}),
                ...memberAt(interconnects, gateway.interconnect, d.stack),
            },
            position: { x: d.x0 + (networks.length + i) * grid.column, y: 0 },
        });
        d.elements.push({
            group: "edges",
            data: {
                id: `${id}>${gateway.network}`,
                label: gateway.ip,
                kind: "nic",
                source: id,
                target: elementIds.network(d.stack, gateway.network),
            },
        });
    });
    return networks.length + gateways.length;
}

/** Where a node's entry is: its pool's for an intent node, its own for a hand-written one. */
function nodePath(
    d: SiteDrawing,
    clusterIndex: number,
    node: string,
    decision: PlacementDecision | undefined,
): YamlPath | undefined {
    if (clusterIndex < 0) {
        return undefined;
    }
    // A pool's index holds only in the plan of the text as it is now.
    const poolPath = (d.current ? decision : undefined)?.pool
        ?.replace(/\[(\d+)\]/g, ".$1")
        .split(".")
        .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
    if (poolPath) {
        return [...clustersPath, clusterIndex, ...poolPath];
    }
    const nodeIndex = indexByName(d.document, [...clustersPath, clusterIndex, "nodes"], node);
    return nodeIndex >= 0 ? [...clustersPath, clusterIndex, "nodes", nodeIndex] : undefined;
}

/** A node at `position`, its NICs' edges to their networks, and its edge to its host. */
function drawNode(
    d: SiteDrawing,
    cluster: { name: string; index: number; id: string },
    node: NodePlan,
    position: { x: number; y: number },
): void {
    const id = elementIds.node(d.stack, cluster.name, node.name);
    const decision = d.plan.placement.decisions.find(
        (decided) => decided.cluster === cluster.name && decided.node === node.name,
    );
    const path = nodePath(d, cluster.index, node.name, decision);
    const change = d.changeOf("node", `${cluster.name}/${node.name}`);
    d.elements.push({
        group: "nodes",
        data: {
            id,
            label: `${node.name}\n${node.cpu} CPU · ${node.memory}`,
            kind: "node",
            parent: cluster.id,
            ...(change ? { change } : {}),
            ...(path ? d.at(path) : {}),
        },
        position,
    });
    if (change === "delete") {
        return;
    }
    for (const nic of node.interfaces) {
        d.elements.push({
            group: "edges",
            data: {
                id: `${id}>${nic.network}`,
                label: nic.ip,
                kind: "nic",
                source: id,
                target: elementIds.network(d.stack, nic.network),
            },
        });
    }
    // Where it runs: the only host too, where the VM is not pinned (node.host).
    const host = decision?.host ?? node.host;
    if (host) {
        d.elements.push({
            group: "edges",
            data: {
                id: `${id}@${host}`,
                label: "",
                kind: "placement",
                source: id,
                target: elementIds.host(d.stack, host),
            },
        });
    }
}

/** A cluster with its nodes in rows from `y`, deleted ones too; gives its columns and rows. */
function drawCluster(
    d: SiteDrawing,
    cluster: ClusterPlan,
    y: number,
): { columns: number; height: number } {
    const clusterId = elementIds.cluster(d.stack, cluster.name);
    const clusterIndex = indexByName(d.document, clustersPath, cluster.name);
    const clusterChange = d.changeOf("cluster", cluster.name);
    d.elements.push({
        group: "nodes",
        data: {
            id: clusterId,
            label: `${cluster.name} (${cluster.type})`,
            kind: "cluster",
            parent: d.siteId,
            ...(clusterChange ? { change: clusterChange } : {}),
            ...(clusterIndex >= 0 ? d.at([...clustersPath, clusterIndex]) : {}),
        },
    });
    const wasCluster = d.oldPlan?.clusters.find((c) => c.name === cluster.name);
    const nodes = [
        ...cluster.nodes,
        ...(d.current && wasCluster
            ? wasCluster.nodes.filter((n) => !cluster.nodes.some((c) => c.name === n.name))
            : []),
    ];
    const at = { name: cluster.name, index: clusterIndex, id: clusterId };
    nodes.forEach((node, i) =>
        drawNode(d, at, node, {
            x: d.x0 + (i % grid.perRow) * grid.column,
            y: y + Math.floor(i / grid.perRow) * grid.row,
        }),
    );
    return {
        columns: Math.min(nodes.length, grid.perRow),
        height: (Math.ceil(Math.max(nodes.length, 1) / grid.perRow) + 0.6) * grid.row,
    };
}

/** The site's hosts in a row at `y`. */
function drawHosts(d: SiteDrawing, y: number): void {
    d.plan.placement.hosts.forEach((host, i) => {
        const index = indexByName(d.document, [...sitePath, "hosts"], host.name);
        d.elements.push({
            group: "nodes",
            data: {
                id: elementIds.host(d.stack, host.name),
                label: `host ${host.name}`,
                kind: "host",
                parent: d.siteId,
                ...(index >= 0 ? d.at([...sitePath, "hosts", index]) : {}),
            },
            position: { x: d.x0 + i * grid.column, y: y + grid.row * 0.4 },
        });
    });
}

/** Everything of one planned site, from `d.x0`; gives how many columns it takes. */
function drawSite(
    d: SiteDrawing,
    gateways: GatewayPlan[],
    interconnects: Document | undefined,
): number {
    let width = Math.max(1, drawNetworks(d, gateways, interconnects));
    let y = grid.row * 1.5;
    const { plan, oldPlan } = d;
    const clusterNames = [
        ...plan.clusters.map((c) => c.name),
        ...(d.current && oldPlan
            ? oldPlan.clusters
                  .map((c) => c.name)
                  .filter((n) => !plan.clusters.some((c) => c.name === n))
            : []),
    ];
    for (const clusterName of clusterNames) {
        const cluster =
            plan.clusters.find((c) => c.name === clusterName) ??
            oldPlan!.clusters.find((c) => c.name === clusterName)!;
        const { columns, height } = drawCluster(d, cluster, y);
        width = Math.max(width, columns);
        y += height;
    }
    drawHosts(d, y);
    return Math.max(width, plan.placement.hosts.length);
}

/**
 * The graph of every site: its networks on top, then each cluster's nodes in rows, its hosts at
 * the bottom, gateways beside the networks, and an edge for each NIC, placement and interconnect.
 * Positions are computed, not laid out by the library, so the same files draw the same graph.
 * `before` adds what a change deletes, marked so.
 */
export function graphOf(
    files: WorkbenchFiles,
    planned: Planned,
    changes: PlanChange[] = [],
    before?: Planned,
): GraphElement[] {
    const elements: GraphElement[] = [];
    const interconnects =
        files.interconnects === undefined
            ? undefined
            : documentOf(interconnectsFile, files.interconnects);
    let x0 = 0;
    for (const site of planned.sites) {
        const file = stackFilePath(site.stack);
        const document = documentOf(file, files.stacks[site.stack] ?? "");
        const siteId = elementIds.site(site.stack);
        elements.push({
            group: "nodes",
            data: {
                id: siteId,
                label: site.stack,
                kind: "site",
                ...(isMap(document.getIn(sitePath)) ? { file, path: sitePath } : {}),
            },
        });
        const oldPlan = before?.sites.find((s) => s.stack === site.stack)?.plan;
        const plan = site.plan ?? oldPlan;
        if (!plan) {
            x0 += grid.siteGap;
            continue;
        }
        const drawing: SiteDrawing = {
            elements,
            stack: site.stack,
            siteId,
            document,
            at: (path) => ({ file, path }),
            plan,
            oldPlan,
            current: site.plan !== undefined,
            changeOf: (kind, what) =>
                changes.find((c) => c.site === site.stack && c.kind === kind && c.what === what)
                    ?.action,
            x0,
        };
        const gateways = (planned.interconnects?.gateways ?? []).filter(
            (g) => g.site === site.stack,
        );
        x0 += drawSite(drawing, gateways, interconnects) * grid.column + grid.siteGap;
    }
    for (const link of linksOf(planned.interconnects)) {
        elements.push({
            group: "edges",
            data: {
                id: `link:${link.name}:${link.from}-${link.to}`,
                label: link.name,
                kind: "link",
                source: link.from,
                target: link.to,
            },
        });
    }
    // An edge to something not drawn (a site without a plan) would stop the whole graph.
    const ids = new Set(elements.filter((e) => e.group === "nodes").map((e) => e.data.id));
    return elements.filter(
        (e) => e.group === "nodes" || (ids.has(e.data.source!) && ids.has(e.data.target!)),
    );
}

function linksOf(plan: InterconnectPlan | undefined): { name: string; from: string; to: string }[] {
    const gateways = plan?.gateways ?? [];
    const names = [...new Set(gateways.map((g) => g.interconnect))].sort(compareText);
    return names.flatMap((name) => {
        const ends = gateways
            .filter((g) => g.interconnect === name)
            .map((g) => elementIds.gateway(g.site, name))
            .sort(compareText);
        return ends.flatMap((from, i) => ends.slice(i + 1).map((to) => ({ name, from, to })));
    });
}

/** A field of an entry, as the page's form shows it: a YAML value on one line. */
export interface Field {
    key: string;
    text: string;
}

const oneLine = (value: unknown) =>
    stringify(value, {
        collectionStyle: "flow",
        flowCollectionPadding: false,
        lineWidth: 0,
    }).trim();

/** The fields of the entry at `path` of a YAML file's text, in the file's order. */
export function fieldsAt(text: string, path: (string | number)[]): Field[] {
    const entry = parseDocument(text).getIn(path);
    if (!isMap(entry)) {
        return [];
    }
    return entry.items.map((pair) => ({
        key: String((pair.key as { value?: unknown })?.value ?? pair.key),
        text: oneLine((pair.value as { toJSON?: () => unknown })?.toJSON?.() ?? pair.value),
    }));
}

/**
 * The text with the entry at `path` given `key: value`, the value read as YAML; an empty value
 * removes the key. Comments and the rest of the file are kept.
 */
/** The document of a file to rewrite, or an Error saying why it cannot be. */
function editable(text: string): Document {
    const document = parseDocument(text);
    if (document.errors.length > 0) {
        throw new Error(
            `the file is not valid YAML, fix it in Files first: ${document.errors[0].message}`,
        );
    }
    return document;
}

/** The map at `path`, or an Error: the entry is gone (the file was edited since it was drawn). */
function entryAt(document: Document, path: (string | number)[]): YAMLMap {
    const entry = document.getIn(path);
    if (!isMap(entry)) {
        throw new Error(`nothing to edit at ${path.join(".")} any more`);
    }
    return entry;
}

export function setField(
    text: string,
    path: (string | number)[],
    key: string,
    value: string,
): string {
    const document = editable(text);
    const entry = entryAt(document, path);
    if (value.trim() === "") {
        entry.delete(key);
    } else {
        entry.set(key, document.createNode(parse(value), { flow: true }));
    }
    return stackFileText(document);
}

/** The text without the entry at `path`. */
export function removeEntry(text: string, path: (string | number)[]): string {
    const document = editable(text);
    entryAt(document, path);
    document.deleteIn(path);
    return stackFileText(document);
}

/** A free name like `name`: its trailing number counted up (`worker1` to `worker2`, `cpu` to `cpu2`). */
export function nextName(name: string, taken: string[]): string {
    const [, base, digits] = /^(.*?)(\d*)$/.exec(name)!;
    for (let n = digits ? Number(digits) + 1 : 2; ; n++) {
        if (!taken.includes(`${base}${n}`)) {
            return `${base}${n}`;
        }
    }
}

/** Fields that name something only one entry may have: a copy plans its own. */
const pinnedKeys = ["podCidr", "serviceCidr", "nodePort"];

/**
 * `node` without what a copy must not share with its original: pinned addresses (a NIC's `ip`),
 * pod and service CIDRs and the direct API's node port, at any depth.
 */
function withoutPinned(document: Document, node: unknown): void {
    if (isMap(node)) {
        for (const key of pinnedKeys) {
            node.delete(key);
        }
        const networks = node.get("networks");
        if (isSeq(networks)) {
            networks.items = networks.items.map((item) =>
                isMap(item) ? document.createNode(item.get("network")) : item,
            ) as typeof networks.items;
        }
        node.items.forEach((pair) => withoutPinned(document, pair.value));
    } else if (isSeq(node)) {
        node.items.forEach((item) => withoutPinned(document, item));
    }
}

/**
 * The text with a copy of the entry at `path` after it, named anew, without what would clash
 * with the original (withoutPinned); `undefined` when `path` is no named list entry.
 */
export function duplicateEntry(
    text: string,
    path: (string | number)[],
): { text: string; name: string } | undefined {
    const document = editable(text);
    const parentPath = path.slice(0, -1);
    const seq = document.getIn(parentPath);
    const index = path[path.length - 1];
    const entry = document.getIn(path);
    if (!isSeq(seq) || typeof index !== "number" || !isMap(entry)) {
        return undefined;
    }
    const copy = entry.clone() as typeof entry;
    // Interconnect members are named by their site.
    const key = entry.has("name") ? "name" : "site";
    const taken = seq.items.map((item) => (isMap(item) ? String(item.get(key)) : ""));
    const name = nextName(String(entry.get(key)), taken);
    copy.set(key, name);
    copy.commentBefore = undefined;
    withoutPinned(document, copy);
    seq.items.splice(index + 1, 0, copy);
    return { text: stackFileText(document), name };
}
