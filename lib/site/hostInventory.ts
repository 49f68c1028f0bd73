import { Document, YAMLMap } from "yaml";
import { HugepageSize, hostSchema, hugepageSizes, isRecord } from "../config";
import { hostLabels } from "../core";

/**
 * Converts `kubectl get nodes -o json` into `site.hosts` entries (`npm run hosts`, scripts/hosts.ts):
 * what each node can give VMs, as the scheduler sees it, for the nodes KubeVirt runs VMs on.
 * Pure: the caller reads the input and prints the result.
 */

/** A `site.hosts` entry as written in the stack file: optional maps left out when empty. */
export interface HostEntry {
    name: string;
    cpu: number;
    memory: string;
    zone?: string;
    labels?: Record<string, string>;
    devices?: Record<string, number>;
    hugepages?: Partial<Record<HugepageSize, string>>;
}

export interface SkippedNode {
    name: string;
    reason: string;
}

/** Input that is not a node list: its message is one line, for the operator. */
export class NodeListError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "NodeListError";
    }
}

const expected = "expected the output of kubectl get nodes -o json";

// KubeVirt's virt-handler heartbeat sets it "true" once its device plugins are up, "false" when
// it stops (kubevirt staging/src/kubevirt.io/api/core/v1/types.go NodeSchedulable,
// pkg/virt-handler/heartbeat/heartbeat.go).
const kubevirtSchedulable = "kubevirt.io/schedulable";
// Every device plugin of virt-handler's own (kvm or mshv, tun, vhost-net, sev, vhost-vsock,
// iommufd, the persistent reservation socket) registers in this namespace (kubevirt
// pkg/virt-handler/device-manager/generic_device.go DeviceNamespace, device_controller.go):
// plumbing each VM's pod takes one of, not devices VMs are given.
const kubevirtDeviceNamespace = "devices.kubevirt.io/";
// Cordoning sets spec.unschedulable and the node lifecycle controller adds this NoSchedule taint
// (kubernetes staging/src/k8s.io/api/core/v1/well_known_taints.go TaintNodeUnschedulable).
const unschedulableTaint = "node.kubernetes.io/unschedulable";
// Taint effects that keep a VM's pod, which tolerates none, off the node (kubernetes
// staging/src/k8s.io/api/core/v1/types.go TaintEffect); PreferNoSchedule only discourages.
const blockingEffects = ["NoSchedule", "NoExecute"];
/**
 * The labels placement reads: virt-handler's heartbeat sets both to "true" on nodes whose kubelet
 * runs the static CPU manager policy (kubevirt pkg/virt-handler/heartbeat/heartbeat.go);
 * virt-controller selects dedicated-CPU VMs by kubevirt.io/cpumanager since v1.8 and by the
 * deprecated cpumanager before (staging/src/kubevirt.io/api/core/v1/types.go CPUManager,
 * DeprecatedCPUManager; pkg/virt-controller/services/nodeselectorrenderer.go). "false" says
 * nothing a selector would ask for, so only "true" is kept.
 */
const keptLabels = [hostLabels.cpuManager, hostLabels.deprecatedCpuManager];

/** The text as JSON, or a NodeListError saying it is not. */
export function parseNodeListText(text: string): unknown {
    if (text.trim() === "") {
        throw new NodeListError(`the input is empty: ${expected}`);
    }
    try {
        return JSON.parse(text);
    } catch {
        throw new NodeListError(`the input is not JSON: ${expected}`);
    }
}

/**
 * The hosts of a node list (`kind: List` from kubectl, `NodeList` from the API, or one `Node`),
 * sorted by name, and the nodes left out with why. Throws NodeListError for anything else.
 */
export function hostsFromNodeList(json: unknown): { hosts: HostEntry[]; skipped: SkippedNode[] } {
    const hosts: HostEntry[] = [];
    const skipped: SkippedNode[] = [];
    for (const [i, node] of nodesOf(json).entries()) {
        const where = `items[${i}]`;
        const metadata = isRecord(node.metadata) ? node.metadata : {};
        const name = metadata.name;
        if (typeof name !== "string" || name === "") {
            throw new NodeListError(`${where} has no metadata.name: ${expected}`);
        }
        const labels = stringMap(metadata.labels, `node ${name}: metadata.labels`);
        const spec = isRecord(node.spec) ? node.spec : {};
        const status = isRecord(node.status) ? node.status : {};
        if (!isRecord(status.allocatable)) {
            throw new NodeListError(`node ${name} has no status.allocatable: ${expected}`);
        }
        const allocatable = stringMap(status.allocatable, `node ${name}: status.allocatable`);

        const reasons = exclusions(spec, labels, `node ${name}: spec.taints`);
        if (reasons.length > 0) {
            skipped.push({ name, reason: reasons.join("; ") });
            continue;
        }
        const host = hostOf(name, labels, allocatable);
        if (typeof host === "string") {
            skipped.push({ name, reason: host });
        } else {
            hosts.push(host);
        }
    }
    hosts.sort((a, b) => compareText(a.name, b.name));
    skipped.sort((a, b) => compareText(a.name, b.name));
    return { hosts, skipped };
}

/** The Node objects of the input, or a NodeListError saying what it is instead. */
function nodesOf(json: unknown): Record<string, unknown>[] {
    if (!isRecord(json)) {
        throw new NodeListError(`the input is ${kindOfValue(json)}, not a NodeList: ${expected}`);
    }
    if (json.kind === "Node") {
        return [json];
    }
    if (json.kind !== "List" && json.kind !== "NodeList") {
        const kind = typeof json.kind === "string" ? `a ${json.kind}` : "a map without a kind";
        throw new NodeListError(`the input is ${kind}, not a NodeList: ${expected}`);
    }
    if (!Array.isArray(json.items)) {
        throw new NodeListError(`the ${json.kind} has no items list: ${expected}`);
    }
    return json.items.map((item: unknown, i) => {
        // The API server's NodeList leaves kind out of its items; kubectl's List writes it.
        if (!isRecord(item) || (item.kind !== undefined && item.kind !== "Node")) {
            const what = isRecord(item) ? `a ${String(item.kind)}` : kindOfValue(item);
            throw new NodeListError(`items[${i}] is ${what}, not a Node: ${expected}`);
        }
        return item;
    });
}

function kindOfValue(value: unknown): string {
    if (Array.isArray(value)) {
        return "a list";
    }
    return value === null ? "null" : `a ${typeof value}`;
}

/** A map of strings, such as labels or allocatable quantities; absent is empty. */
function stringMap(value: unknown, where: string): Record<string, string> {
    if (value === undefined) {
        return {};
    }
    if (!isRecord(value) || Object.values(value).some((v) => typeof v !== "string")) {
        throw new NodeListError(`${where} is not a map of strings: ${expected}`);
    }
    return value as Record<string, string>;
}

/** Why VMs cannot run on the node, if they cannot. */
function exclusions(
    spec: Record<string, unknown>,
    labels: Record<string, string>,
    where: string,
): string[] {
    const reasons: string[] = [];
    const cordoned = spec.unschedulable === true;
    if (cordoned) {
        reasons.push("it is cordoned (spec.unschedulable: true)");
    }
    if (labels[kubevirtSchedulable] !== "true") {
        const value = labels[kubevirtSchedulable];
        const has = value === undefined ? "no" : `${kubevirtSchedulable}=${value}, not the`;
        reasons.push(
            `it has ${has} ${kubevirtSchedulable}=true label: KubeVirt's virt-handler does not run VMs there`,
        );
    }
    const taints = spec.taints ?? [];
    if (!Array.isArray(taints) || !taints.every((taint) => isRecord(taint))) {
        throw new NodeListError(`${where} is not a list of taints: ${expected}`);
    }
    const blocking: string[] = [];
    for (const taint of taints) {
        const { key, value, effect } = taint as Record<string, unknown>;
        if (typeof key !== "string" || typeof effect !== "string") {
            throw new NodeListError(`${where} has a taint without a key or effect: ${expected}`);
        }
        if (!blockingEffects.includes(effect) || (cordoned && key === unschedulableTaint)) {
            continue;
        }
        // As kubectl describe node writes a taint: key[=value]:effect.
        const keyValue = typeof value === "string" && value !== "" ? `${key}=${value}` : key;
        blocking.push(`${keyValue}:${effect}`);
    }
    if (blocking.length > 0) {
        const taintWord = blocking.length === 1 ? "taint" : "taints";
        reasons.push(`it has the ${taintWord} ${blocking.join(", ")}, which VMs do not tolerate`);
    }
    return reasons;
}

/** The node as a host, or why it cannot be one. */
function hostOf(
    name: string,
    labels: Record<string, string>,
    allocatable: Record<string, string>,
): HostEntry | string {
    const amount = (resource: string): Fraction => {
        const text = allocatable[resource];
        const parsed = text === undefined ? undefined : parseQuantity(text);
        if (parsed === undefined) {
            throw new NodeListError(
                text === undefined
                    ? `node ${name} has no status.allocatable.${resource}: ${expected}`
                    : `node ${name}: status.allocatable.${resource} "${text}" is not a Kubernetes quantity`,
            );
        }
        return parsed;
    };
    // Whole cores: a VM's cores are whole, and what the kubelet reserves may leave a fraction.
    const cpu = floor(amount("cpu"));
    if (cpu < 1n) {
        return `its allocatable CPU ${allocatable.cpu} is less than one whole core`;
    }
    const host: HostEntry = { name, cpu: Number(cpu), memory: mebibytes(amount("memory")) };
    // The well-known zone label (kubernetes staging/src/k8s.io/api/core/v1/well_known_labels.go
    // LabelTopologyZone), which spread by zone counts.
    if ((labels[hostLabels.zone] ?? "") !== "") {
        host.zone = labels[hostLabels.zone];
    }
    const kept = keptLabels.filter((key) => labels[key] === "true").sort(compareText);
    if (kept.length > 0) {
        host.labels = Object.fromEntries(kept.map((key) => [key, labels[key]]));
    }
    const devices: Record<string, number> = {};
    for (const resource of Object.keys(allocatable).sort(compareText)) {
        if (!isExtendedResource(resource) || resource.startsWith(kubevirtDeviceNamespace)) {
            continue;
        }
        const count = floor(amount(resource));
        if (count > 0n) {
            devices[resource] = Number(count);
        }
    }
    if (Object.keys(devices).length > 0) {
        host.devices = devices;
    }
    const hugepages: Partial<Record<HugepageSize, string>> = {};
    for (const size of hugepageSizes) {
        // The kubelet reports pre-allocated pages of each size as hugepages-<size> (kubernetes
        // staging/src/k8s.io/api/core/v1/types.go ResourceHugePagesPrefix); "0" when none.
        const resource = `hugepages-${size}`;
        if (allocatable[resource] !== undefined && floor(amount(resource)) > 0n) {
            hugepages[size] = mebibytes(amount(resource));
        }
    }
    if (Object.keys(hugepages).length > 0) {
        host.hugepages = hugepages;
    }
    const parsed = hostSchema.safeParse(host);
    if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const field = issue.path.map(String).join(".");
        return `it does not fit site.hosts: ${field}: ${issue.message}`;
    }
    return host;
}

/**
 * An extended resource, as the scheduler counts device plugins' resources: a name with a domain
 * outside kubernetes.io, not the quota form requests.* (kubernetes
 * pkg/apis/core/v1/helper/helpers.go IsExtendedResourceName, IsNativeResource).
 */
function isExtendedResource(resource: string): boolean {
    return (
        resource.includes("/") &&
        !resource.includes("kubernetes.io/") &&
        !resource.startsWith("requests.")
    );
}

/** An exact quantity: numerator over denominator. */
interface Fraction {
    numerator: bigint;
    denominator: bigint;
}

const binarySuffixes: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const decimalSuffixes: Record<string, number> = {
    n: -9,
    u: -6,
    m: -3,
    "": 0,
    k: 3,
    M: 6,
    G: 9,
    T: 12,
    P: 15,
    E: 18,
};

/**
 * A serialized Kubernetes quantity, exactly: a decimal number with a binary-SI, decimal-SI or
 * exponent suffix (kubernetes staging/src/k8s.io/apimachinery/pkg/api/resource/quantity.go).
 */
function parseQuantity(text: string): Fraction | undefined {
    const match = /^\+?(\d+)(?:\.(\d*))?(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][-+]?\d+)?$/.exec(text);
    if (match === null) {
        return undefined;
    }
    const [, whole, fraction = "", suffix = ""] = match;
    let numerator = BigInt(whole + fraction);
    let denominator = 10n ** BigInt(fraction.length);
    if (suffix in binarySuffixes) {
        numerator *= 2n ** BigInt(binarySuffixes[suffix]);
    } else {
        const exponent =
            suffix in decimalSuffixes ? decimalSuffixes[suffix] : Number(suffix.slice(1));
        if (exponent >= 0) {
            numerator *= 10n ** BigInt(exponent);
        } else {
            denominator *= 10n ** BigInt(-exponent);
        }
    }
    return { numerator, denominator };
}

function floor(value: Fraction): bigint {
    return value.numerator / value.denominator;
}

/** Bytes rounded down to whole Mi, written in Gi when whole. */
function mebibytes(value: Fraction): string {
    const mi = floor(value) / 2n ** 20n;
    return mi % 1024n === 0n && mi > 0n ? `${mi / 1024n}Gi` : `${mi}Mi`;
}

/** Code-unit order, as the rest of the program sorts names. */
function compareText(a: string, b: string): number {
    return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The hosts as the `hosts:` field of `edge:site`, to paste under it: sorted by name, each with its
 * fields in the schema's order and its maps inline, as the stack files write them.
 */
export function renderHostsYaml(hosts: readonly HostEntry[]): string {
    const document = new Document({ hosts: [] });
    const items = [...hosts]
        .sort((a, b) => compareText(a.name, b.name))
        .map((host) => {
            const entry = document.createNode({
                name: host.name,
                cpu: host.cpu,
                memory: host.memory,
                ...(host.zone === undefined ? {} : { zone: host.zone }),
            }) as YAMLMap;
            const maps: [string, Record<string, unknown> | undefined][] = [
                ["labels", sortedMap(host.labels)],
                ["devices", sortedMap(host.devices)],
                [
                    "hugepages",
                    host.hugepages &&
                        Object.fromEntries(
                            hugepageSizes
                                .filter((size) => host.hugepages?.[size] !== undefined)
                                .map((size) => [size, host.hugepages?.[size]]),
                        ),
                ],
            ];
            for (const [key, map] of maps) {
                if (map !== undefined && Object.keys(map).length > 0) {
                    const node = document.createNode(map) as YAMLMap;
                    node.flow = true;
                    entry.add(document.createPair(key, node));
                }
            }
            return entry;
        });
    const list = document.createNode(items);
    document.set("hosts", list);
    // Label values such as "true" stay strings: YAML quotes what it would read as another type.
    return document.toString({ indentSeq: true, flowCollectionPadding: false });
}

function sortedMap<T>(map: Record<string, T> | undefined): Record<string, T> | undefined {
    return (
        map &&
        Object.fromEntries(
            Object.keys(map)
                .sort(compareText)
                .map((k) => [k, map[k]]),
        )
    );
}
