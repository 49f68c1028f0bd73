import { defaults, minimumNodeMemory, nodePortRange, supportedCnis } from "./defaults";
import { contains, intToIp, ipToInt, isIpv4, lastAddress, overlaps, parseCidr } from "./ip";
import { podInterfaceName } from "./naming";
import { ProblemList } from "./problems";
import { parseQuantity } from "./quantity";
import { cniVersionProblem } from "./rancher";
import {
    checkedString,
    describe,
    isRecord,
    keyPath,
    readBoolean,
    readInteger,
    readList,
    readMap,
    readString,
    readStringList,
    reportDuplicates,
} from "./read";

export type ClusterType = "k3s" | "rke2";
/**
 * Guest families, by the renderer their cloud-init writes network config with: ubuntu netplan,
 * debian ENI (ifupdown), rhel sysconfig (ifcfg files).
 */
export type GuestOs = "ubuntu" | "debian" | "rhel";
export type NodeRole = "controlplane" | "etcd" | "worker";

export const clusterTypes: readonly ClusterType[] = ["k3s", "rke2"];
export const nodeRoles: readonly NodeRole[] = ["controlplane", "etcd", "worker"];
export const guestOses: readonly GuestOs[] = ["ubuntu", "debian", "rhel"];

/** A bridge network of the site that VMs join with a static address. */
export interface SiteNetworkConfig {
    name: string;
    bridge: string;
    vlan?: number;
    cidr: string;
    gateway: string;
    /** Addresses nodes may be given, inclusive. */
    range: { first: string; last: string };
}

export interface SiteConfig {
    name: string;
    storageClass?: string;
    imageNamespace: string;
    networkNamespace: string;
    dnsServers: string[];
    hostNodeIps: string[];
    reservedCidrs: string[];
    clusterCidrPool: string;
    podCidrPrefix: number;
    serviceCidrPrefix: number;
    sshAuthorizedKeys: string[];
    sshUser: string;
    networks: SiteNetworkConfig[];
    insecureRegistration: boolean;
    /** Puts Pulumi's `protect` on everything the site declares but Pulumi's bookkeeping. */
    protect: boolean;
}

export interface ImageConfig {
    name: string;
    url: string;
    size: string;
    /** Secret in the image namespace holding the image server's credentials, for CDI. */
    secretRef?: string;
    os: GuestOs;
}

export interface NodeNetworkConfig {
    network: string;
    /** Pinned address; assigned from the network's range when absent. */
    ip?: string;
}

export interface NodeConfig {
    name: string;
    roles: NodeRole[];
    cpu: number;
    memory: string;
    disk: string;
    image: string;
    networks: NodeNetworkConfig[];
    hostSelector: Record<string, string>;
}

export interface DirectApiConfig {
    enabled: boolean;
    nodePort?: number;
}

export interface ClusterConfig {
    name: string;
    type: ClusterType;
    kubernetesVersion: string;
    cni: string;
    podCidr?: string;
    serviceCidr?: string;
    namespace: string;
    directApi: DirectApiConfig;
    breakGlassKubeconfig: boolean;
    /** The operator accepts that a changed type or CIDR replaces the cluster and its nodes. */
    acknowledgeReplacement: boolean;
    nodes: NodeConfig[];
}

/** What the program has handed out; see lib/addresses.ts for how it keeps addresses still. */
export interface ClusterAllocation {
    type: ClusterType;
    podCidr: string;
    serviceCidr: string;
    /** node name → site network name → IP */
    nodes: Record<string, Record<string, string>>;
    /**
     * etcd node name → what replaces its VM (see `vmIdentity`): how the next change is checked
     * for etcd quorum. Absent in records written before it existed.
     */
    etcd?: Record<string, string>;
}

export type Allocations = Record<string, ClusterAllocation>;

export interface StackConfig {
    site: SiteConfig;
    images: ImageConfig[];
    clusters: ClusterConfig[];
    allocations: Allocations;
}

/** The stack's config as read from `edge:*` keys, not yet trusted. */
export interface RawStackConfig {
    site?: unknown;
    images?: unknown;
    clusters?: unknown;
    allocations?: unknown;
    /** Whether the `edge:sshPrivateKey` secret is set; its value never reaches validation. */
    hasSshPrivateKey?: boolean;
    /** Keys of the project's namespace that the program does not know, such as `edge:cluster`. */
    unknownKeys?: string[];
    /** Keys that hold credentials but were stored in plain text, such as `rancher2:tokenKey`. */
    plaintextSecrets?: string[];
}

/** The keys of the project's config namespace, without the `edge:` prefix. */
export const configKeys = ["site", "images", "clusters", "allocations", "sshPrivateKey"] as const;

const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const linuxInterfaceName = /^[A-Za-z0-9_.-]{1,15}$/;
const labelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const labelKey =
    /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const publicKey =
    /^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com) [A-Za-z0-9+/]+={0,3}( .*)?$/;
const versionPatterns: Record<ClusterType, { pattern: RegExp; example: string }> = {
    k3s: { pattern: /^v\d+\.\d+\.\d+\+k3s\d+$/, example: "v1.31.5+k3s1" },
    rke2: { pattern: /^v\d+\.\d+\.\d+\+rke2r\d+$/, example: "v1.31.5+rke2r1" },
};

function nameOf(item: unknown): string | undefined {
    return isRecord(item) && typeof item.name === "string" ? item.name : undefined;
}

export function checkLabel(text: string): string | undefined {
    return dns1123Label.test(text) && text.length <= 63
        ? undefined
        : `"${text}" is not a DNS-1123 label (lowercase letters, digits and "-", at most 63 characters, starting and ending with a letter or digit)`;
}

function checkIpv4(text: string): string | undefined {
    return isIpv4(text) ? undefined : `"${text}" is not an IPv4 address`;
}

function checkCidr(text: string): string | undefined {
    const parsed = parseCidr(text);
    return "error" in parsed ? parsed.error : undefined;
}

function checkPublicKey(text: string): string | undefined {
    if (text.includes("PRIVATE KEY")) {
        return "is a private key; put the public key here and the private key in the edge:sshPrivateKey secret";
    }
    return publicKey.test(text.trim())
        ? undefined
        : "is not an OpenSSH public key (e.g. ssh-ed25519 AAAA... ops@example)";
}

const readLabel = checkedString(checkLabel);
const readCidr = checkedString(checkCidr);
const readIpv4 = checkedString(checkIpv4);

const readQuantityText = checkedString((text) =>
    parseQuantity(text) ? undefined : `"${text}" is not a Kubernetes quantity (e.g. 4Gi, 512Mi)`,
);

function readQuantity(value: unknown, path: string, problems: ProblemList): string | undefined {
    if (typeof value === "number") {
        problems.add(path, `${value} has no unit; write a Kubernetes quantity such as ${value}Gi`);
        return undefined;
    }
    return readQuantityText(value, path, problems);
}

function readEnum<T extends string>(
    value: unknown,
    path: string,
    problems: ProblemList,
    allowed: readonly T[],
): T | undefined {
    const oneOf = checkedString((text) =>
        (allowed as readonly string[]).includes(text)
            ? undefined
            : `"${text}" is not one of: ${allowed.join(", ")}`,
    );
    return oneOf(value, path, problems) as T | undefined;
}

/** Reads `field` of `map`, reporting it as required when absent. */
function required<T>(
    map: Record<string, unknown>,
    field: string,
    path: string,
    problems: ProblemList,
    reader: (value: unknown, path: string, problems: ProblemList) => T | undefined,
): T | undefined {
    const fieldPath = keyPath(path, field);
    if (map[field] === undefined || map[field] === null) {
        problems.add(fieldPath, "is required");
        return undefined;
    }
    return reader(map[field], fieldPath, problems);
}

/** Reads `field` of `map` when present; `fallback` when absent. */
function optional<T>(
    map: Record<string, unknown>,
    field: string,
    path: string,
    problems: ProblemList,
    reader: (value: unknown, path: string, problems: ProblemList) => T | undefined,
    fallback: T,
): T | undefined {
    if (map[field] === undefined) {
        return fallback;
    }
    return reader(map[field], keyPath(path, field), problems);
}

const siteFields = [
    "name",
    "kubeconfig",
    "storageClass",
    "imageNamespace",
    "networkNamespace",
    "dnsServers",
    "hostNodeIps",
    "reservedCidrs",
    "clusterCidrPool",
    "podCidrPrefix",
    "serviceCidrPrefix",
    "sshAuthorizedKeys",
    "sshUser",
    "networks",
    "insecureRegistration",
    "protect",
] as const;

function readNetwork(
    value: unknown,
    path: string,
    problems: ProblemList,
): SiteNetworkConfig | undefined {
    const map = readMap(value, path, problems, [
        "name",
        "bridge",
        "vlan",
        "cidr",
        "gateway",
        "range",
    ]);
    if (!map) {
        return undefined;
    }
    const before = problems.problems.length;
    const name = required(map, "name", path, problems, readLabel);
    if (name !== undefined && name.length > 15) {
        problems.add(
            keyPath(path, "name"),
            `"${name}" is longer than 15 characters; it names the guest's interface on the network`,
        );
    }
    if (name === podInterfaceName) {
        problems.add(
            keyPath(path, "name"),
            `"${podInterfaceName}" is reserved for the VM's pod network`,
        );
    }
    const bridge = required(
        map,
        "bridge",
        path,
        problems,
        checkedString((text) =>
            linuxInterfaceName.test(text)
                ? undefined
                : `"${text}" is not a Linux interface name (at most 15 letters, digits, "_", "-", ".")`,
        ),
    );
    const vlan = optional(
        map,
        "vlan",
        path,
        problems,
        (v, p, pr) => readInteger(v, p, pr, { min: 1, max: 4094 }),
        undefined,
    );
    const cidrText = required(map, "cidr", path, problems, readCidr);
    const gateway = required(map, "gateway", path, problems, readIpv4);
    let range: SiteNetworkConfig["range"] | undefined;
    if (cidrText !== undefined) {
        const parsed = parseCidr(cidrText);
        const cidr = "cidr" in parsed ? parsed.cidr : undefined;
        if (cidr && cidr.prefix > 30) {
            problems.add(
                keyPath(path, "cidr"),
                `/${cidr.prefix} leaves no room for a gateway and nodes`,
            );
        } else if (cidr) {
            if (gateway !== undefined) {
                const gw = ipToInt(gateway);
                if (!contains(cidr, gw)) {
                    problems.add(keyPath(path, "gateway"), `${gateway} is outside ${cidrText}`);
                } else if (gw === cidr.base || gw === lastAddress(cidr)) {
                    problems.add(
                        keyPath(path, "gateway"),
                        `${gateway} is the network or broadcast address of ${cidrText}`,
                    );
                }
            }
            range = readRange(map.range, keyPath(path, "range"), problems, cidrText);
        }
    }
    if (problems.problems.length > before || !name || !bridge || !cidrText || !gateway || !range) {
        return undefined;
    }
    return {
        name,
        bridge,
        ...(vlan === undefined ? {} : { vlan }),
        cidr: cidrText,
        gateway,
        range,
    };
}

/** The usable range of a network: `a-b` inside its CIDR, or the CIDR less network and broadcast. */
function readRange(
    value: unknown,
    path: string,
    problems: ProblemList,
    cidrText: string,
): SiteNetworkConfig["range"] | undefined {
    const parsed = parseCidr(cidrText);
    if (!("cidr" in parsed)) {
        return undefined;
    }
    const cidr = parsed.cidr;
    if (value === undefined) {
        return { first: intToIp(cidr.base + 1), last: intToIp(lastAddress(cidr) - 1) };
    }
    const text = readString(value, path, problems);
    if (text === undefined) {
        return undefined;
    }
    const [first, last, ...rest] = text.split("-").map((part) => part.trim());
    if (rest.length > 0 || last === undefined || !isIpv4(first) || !isIpv4(last)) {
        problems.add(
            path,
            `"${text}" is not a range of two IPv4 addresses (e.g. 192.168.18.200-192.168.18.250)`,
        );
        return undefined;
    }
    const a = ipToInt(first);
    const b = ipToInt(last);
    const usable = (ip: number) =>
        contains(cidr, ip) && ip !== cidr.base && ip !== lastAddress(cidr);
    if (!usable(a) || !usable(b)) {
        problems.add(path, `${text} is not inside the usable addresses of ${cidrText}`);
        return undefined;
    }
    if (a > b) {
        problems.add(path, `${text} starts after it ends`);
        return undefined;
    }
    return { first, last };
}

function readSite(
    value: unknown,
    problems: ProblemList,
): { site?: SiteConfig; kubeconfig?: string } {
    const path = "site";
    if (value === undefined || value === null) {
        problems.add(path, "is required (set edge:site in the stack file)");
        return {};
    }
    const map = readMap(value, path, problems, siteFields);
    if (!map) {
        return {};
    }
    const before = problems.problems.length;
    const name = required(map, "name", path, problems, readLabel);
    const kubeconfig = optional(map, "kubeconfig", path, problems, readString, undefined);
    const storageClass = optional(
        map,
        "storageClass",
        path,
        problems,
        checkedString((text) =>
            dns1123Subdomain.test(text) ? undefined : `"${text}" is not a StorageClass name`,
        ),
        undefined,
    );
    const imageNamespace = optional(
        map,
        "imageNamespace",
        path,
        problems,
        readLabel,
        defaults.imageNamespace,
    );
    const networkNamespace = optional(
        map,
        "networkNamespace",
        path,
        problems,
        readLabel,
        defaults.networkNamespace,
    );
    const dnsServers = required(map, "dnsServers", path, problems, (v, p, pr) => {
        const list = readStringList(v, p, pr, checkIpv4);
        if (list && list.length === 0) {
            pr.add(p, "must list at least one DNS server: nodes resolve the Rancher URL with it");
            return undefined;
        }
        return list;
    });
    const hostNodeIps = optional(
        map,
        "hostNodeIps",
        path,
        problems,
        (v, p, pr) => readStringList(v, p, pr, checkIpv4),
        [],
    );
    const reservedCidrs = optional(
        map,
        "reservedCidrs",
        path,
        problems,
        (v, p, pr) => readStringList(v, p, pr, checkCidr),
        [],
    );
    const clusterCidrPool = required(map, "clusterCidrPool", path, problems, readCidr);
    const podCidrPrefix = optional(
        map,
        "podCidrPrefix",
        path,
        problems,
        (v, p, pr) => readInteger(v, p, pr, { min: 8, max: 24 }),
        defaults.podCidrPrefix,
    );
    const serviceCidrPrefix = optional(
        map,
        "serviceCidrPrefix",
        path,
        problems,
        (v, p, pr) => readInteger(v, p, pr, { min: 12, max: 24 }),
        defaults.serviceCidrPrefix,
    );
    const sshAuthorizedKeys = required(map, "sshAuthorizedKeys", path, problems, (v, p, pr) => {
        const list = readStringList(v, p, pr, checkPublicKey);
        if (list && list.length === 0) {
            pr.add(p, "must list at least one key: nodes have no password login");
            return undefined;
        }
        return list?.map((key) => key.trim());
    });
    const sshUser = optional(
        map,
        "sshUser",
        path,
        problems,
        checkedString((text) =>
            /^[a-z_][a-z0-9_-]{0,31}$/.test(text)
                ? undefined
                : `"${text}" is not a Linux user name`,
        ),
        defaults.sshUser,
    );
    const networks = required(map, "networks", path, problems, (v, p, pr) => {
        const list = readList(v, p, pr);
        if (!list) {
            return undefined;
        }
        if (list.length === 0) {
            pr.add(p, "must list at least one site network: nodes need a stable address");
            return undefined;
        }
        const read = list.map((item, i) => readNetwork(item, `${p}[${i}]`, pr));
        reportNetworkOverlaps(read, p, pr);
        reportDuplicates(
            list.flatMap((item, i) =>
                typeof (item as { name?: unknown })?.name === "string"
                    ? [{ value: (item as { name: string }).name, path: `${p}[${i}].name` }]
                    : [],
            ),
            pr,
            "network name",
        );
        return read.every((n) => n !== undefined) ? (read as SiteNetworkConfig[]) : undefined;
    });
    const insecureRegistration = optional(
        map,
        "insecureRegistration",
        path,
        problems,
        readBoolean,
        false,
    );
    const protect = optional(map, "protect", path, problems, readBoolean, false);
    if (problems.problems.length > before) {
        return {};
    }
    return {
        kubeconfig,
        site: {
            name: name!,
            ...(storageClass === undefined ? {} : { storageClass }),
            imageNamespace: imageNamespace!,
            networkNamespace: networkNamespace!,
            dnsServers: dnsServers!,
            hostNodeIps: hostNodeIps!,
            reservedCidrs: reservedCidrs!,
            clusterCidrPool: clusterCidrPool!,
            podCidrPrefix: podCidrPrefix!,
            serviceCidrPrefix: serviceCidrPrefix!,
            sshAuthorizedKeys: sshAuthorizedKeys!,
            sshUser: sshUser!,
            networks: networks!,
            insecureRegistration: insecureRegistration!,
            protect: protect!,
        },
    };
}

/** Two site networks on one range would give the guest two routes to it, and clash addresses. */
function reportNetworkOverlaps(
    networks: (SiteNetworkConfig | undefined)[],
    path: string,
    problems: ProblemList,
): void {
    const parsed = networks.map((n) => {
        const cidr = n ? parseCidr(n.cidr) : undefined;
        return cidr && "cidr" in cidr ? cidr.cidr : undefined;
    });
    parsed.forEach((cidr, j) => {
        const i = parsed.findIndex((other, k) => k < j && other && cidr && overlaps(other, cidr));
        if (i >= 0) {
            problems.add(
                `${path}[${j}].cidr`,
                `${networks[j]!.cidr} overlaps site.networks[${i}] ${networks[i]!.name} (${networks[i]!.cidr})`,
            );
        }
    });
}

/** The images, or none when any is invalid, and the names declared either way. */
function readImages(
    value: unknown,
    problems: ProblemList,
): { images?: ImageConfig[]; declared?: string[] } {
    const path = "images";
    if (value === undefined || value === null) {
        problems.add(path, "is required (set edge:images in the stack file)");
        return {};
    }
    const map = readMap(value, path, problems);
    if (!map) {
        return {};
    }
    const before = problems.problems.length;
    const images: ImageConfig[] = [];
    for (const [name, entry] of Object.entries(map)) {
        const entryPath = keyPath(path, name);
        const labelError = checkLabel(name);
        if (labelError) {
            problems.add(entryPath, labelError);
        }
        const spec =
            typeof entry === "string"
                ? { url: entry }
                : readMap(entry, entryPath, problems, ["url", "size", "secretRef", "os"]);
        if (!spec) {
            continue;
        }
        const url = required(spec, "url", entryPath, problems, readImageUrl);
        const size = optional(spec, "size", entryPath, problems, readQuantity, defaults.imageSize);
        const secretRef = optional(spec, "secretRef", entryPath, problems, readLabel, undefined);
        const os = optional(
            spec,
            "os",
            entryPath,
            problems,
            (v, p, pr) => readEnum(v, p, pr, guestOses),
            defaults.imageOs,
        );
        if (url && size && os) {
            images.push({ name, url, size, os, ...(secretRef === undefined ? {} : { secretRef }) });
        }
    }
    if (Object.keys(map).length === 0) {
        problems.add(path, "must define at least one image");
    }
    const declared = Object.keys(map);
    return problems.problems.length > before ? { declared } : { images, declared };
}

const readImageUrl = checkedString((text) => {
    const url = URL.canParse(text) ? new URL(text) : undefined;
    if (url?.protocol !== "https:" && url?.protocol !== "http:") {
        return `"${text}" is not an http(s) URL`;
    }
    if (url.username !== "" || url.password !== "") {
        // Never repeat the credentials: this message reaches CI logs.
        url.username = "";
        url.password = "";
        return `${url.href} carries credentials, which would land in the DataVolume spec and in rendered/; put them in a Secret (keys accessKeyId and secretKey) in the image namespace and name it in secretRef`;
    }
    return undefined;
});

type EntryReader = (
    key: string,
    value: unknown,
    path: string,
    problems: ProblemList,
) => string | undefined;

/** A map of strings, each entry read by `readEntry`; undefined when any entry is wrong. */
function readStringMap(
    value: unknown,
    path: string,
    problems: ProblemList,
    readEntry: EntryReader = (_key, entry, entryPath, pr) => readString(entry, entryPath, pr),
): Record<string, string> | undefined {
    const map = readMap(value, path, problems);
    if (!map) {
        return undefined;
    }
    const before = problems.problems.length;
    const entries = Object.entries(map).map(([key, entry]) => [
        key,
        readEntry(key, entry, keyPath(path, key), problems),
    ]);
    return problems.problems.length > before ? undefined : Object.fromEntries(entries);
}

const readHostSelectorEntry: EntryReader = (key, raw, entryPath, problems) => {
    if (!labelKey.test(key)) {
        problems.add(entryPath, `"${key}" is not a Kubernetes label key`);
        return undefined;
    }
    if (typeof raw !== "string") {
        problems.add(
            entryPath,
            `must be a string, got ${describe(raw)} (quote it: "${String(raw)}")`,
        );
        return undefined;
    }
    if (!labelValue.test(raw) || raw.length > 63) {
        problems.add(entryPath, `"${raw}" is not a Kubernetes label value`);
        return undefined;
    }
    return raw;
};

function readHostSelector(
    value: unknown,
    path: string,
    problems: ProblemList,
): Record<string, string> | undefined {
    return readStringMap(value, path, problems, readHostSelectorEntry);
}

function readNodeNetworks(
    value: unknown,
    path: string,
    problems: ProblemList,
    site: SiteConfig | undefined,
): NodeNetworkConfig[] | undefined {
    const list = readList(value, path, problems);
    if (!list) {
        return undefined;
    }
    if (list.length === 0) {
        problems.add(
            path,
            "must attach the node to at least one site network: its cluster address cannot be a pod IP, which changes on restart",
        );
        return undefined;
    }
    const before = problems.problems.length;
    const result: NodeNetworkConfig[] = [];
    list.forEach((item, i) => {
        const itemPath = `${path}[${i}]`;
        const map =
            typeof item === "string"
                ? { network: item }
                : readMap(item, itemPath, problems, ["network", "ip"]);
        if (!map) {
            return;
        }
        const network = required(map, "network", itemPath, problems, readString);
        const ip = optional(map, "ip", itemPath, problems, readIpv4, undefined);
        if (network === undefined) {
            return;
        }
        const siteNetwork = site?.networks.find((n) => n.name === network);
        if (site && !siteNetwork) {
            const known = site.networks.map((n) => n.name).join(", ");
            problems.add(
                keyPath(itemPath, "network"),
                `unknown site network "${network}" (site.networks has: ${known})`,
            );
            return;
        }
        if (siteNetwork && ip !== undefined) {
            const error = checkNodeIp(ip, siteNetwork, site!);
            if (error) {
                problems.add(keyPath(itemPath, "ip"), error);
            }
        }
        result.push({ network, ...(ip === undefined ? {} : { ip }) });
    });
    reportDuplicates(
        result.map((n, i) => ({ value: n.network, path: `${path}[${i}].network` })),
        problems,
        "network",
    );
    return problems.problems.length > before ? undefined : result;
}

/** Why `ip` cannot be a node's address on `network`, or undefined when it can. */
export function checkNodeIp(
    ip: string,
    network: SiteNetworkConfig,
    site: SiteConfig,
): string | undefined {
    const parsed = parseCidr(network.cidr);
    if (!("cidr" in parsed)) {
        return undefined;
    }
    const value = ipToInt(ip);
    if (!contains(parsed.cidr, value)) {
        return `${ip} is outside network ${network.name} (${network.cidr})`;
    }
    if (ip === network.gateway) {
        return `${ip} is the gateway of network ${network.name}`;
    }
    if (value < ipToInt(network.range.first) || value > ipToInt(network.range.last)) {
        return `${ip} is outside the range ${network.range.first}-${network.range.last} of network ${network.name}`;
    }
    if (site.dnsServers.includes(ip)) {
        return `${ip} is one of site.dnsServers`;
    }
    if (site.hostNodeIps.includes(ip)) {
        return `${ip} is one of site.hostNodeIps`;
    }
    return undefined;
}

/** What node and cluster checks need to know of the rest of the config. */
interface ValidationContext {
    site?: SiteConfig;
    /** The images, with their sizes, when all are valid. */
    images?: ImageConfig[];
    /** Every image name edge:images declares, valid or not. */
    imageNames?: string[];
    hasSshPrivateKey: boolean;
}

const nodeFields = [
    "name",
    "roles",
    "cpu",
    "memory",
    "disk",
    "image",
    "networks",
    "hostSelector",
] as const;

function readNode(
    value: unknown,
    path: string,
    problems: ProblemList,
    context: ValidationContext,
): NodeConfig | undefined {
    const map = readMap(value, path, problems, nodeFields);
    if (!map) {
        return undefined;
    }
    const before = problems.problems.length;
    const name = required(map, "name", path, problems, readLabel);
    const roles = required(map, "roles", path, problems, (v, p, pr) => {
        const list = readStringList(v, p, pr, (role) =>
            (nodeRoles as readonly string[]).includes(role)
                ? undefined
                : `"${role}" is not one of: ${nodeRoles.join(", ")}`,
        );
        if (list && list.length === 0) {
            pr.add(p, `must list at least one of: ${nodeRoles.join(", ")}`);
            return undefined;
        }
        if (list) {
            reportDuplicates(
                list.map((role, i) => ({ value: role, path: `${p}[${i}]` })),
                pr,
                "role",
            );
        }
        return list as NodeRole[] | undefined;
    });
    const cpu = required(map, "cpu", path, problems, (v, p, pr) =>
        readInteger(v, p, pr, { min: 1, max: 512 }),
    );
    const memory = required(map, "memory", path, problems, (v, p, pr) => {
        const text = readQuantity(v, p, pr);
        if (text !== undefined && parseQuantity(text)! < parseQuantity(minimumNodeMemory)!) {
            pr.add(p, `${text} is less than the ${minimumNodeMemory} a Kubernetes node needs`);
            return undefined;
        }
        return text;
    });
    const disk = required(map, "disk", path, problems, readQuantity);
    const image = required(
        map,
        "image",
        path,
        problems,
        checkedString((text) =>
            !context.imageNames || context.imageNames.includes(text)
                ? undefined
                : `unknown image "${text}" (edge:images has: ${context.imageNames.join(", ")})`,
        ),
    );
    const imageSize = context.images?.find((i) => i.name === image)?.size;
    if (disk !== undefined && imageSize !== undefined) {
        if (parseQuantity(disk)! < parseQuantity(imageSize)!) {
            problems.add(
                keyPath(path, "disk"),
                `${disk} is smaller than image ${image} (${imageSize})`,
            );
        }
    }
    const networks = required(map, "networks", path, problems, (v, p, pr) =>
        readNodeNetworks(v, p, pr, context.site),
    );
    const hostSelector = optional(map, "hostSelector", path, problems, readHostSelector, {});
    if (problems.problems.length > before) {
        return undefined;
    }
    return {
        name: name!,
        roles: roles!,
        cpu: cpu!,
        memory: memory!,
        disk: disk!,
        image: image!,
        networks: networks!,
        hostSelector: hostSelector!,
    };
}

const clusterFields = [
    "name",
    "type",
    "kubernetesVersion",
    "cni",
    "podCidr",
    "serviceCidr",
    "namespace",
    "directApi",
    "breakGlassKubeconfig",
    "acknowledgeReplacement",
    "nodes",
] as const;

function readCluster(
    value: unknown,
    path: string,
    problems: ProblemList,
    context: ValidationContext,
): ClusterConfig | undefined {
    const map = readMap(value, path, problems, clusterFields);
    if (!map) {
        return undefined;
    }
    const before = problems.problems.length;
    const name = required(map, "name", path, problems, readLabel);
    if (name && context.site && `${context.site.name}-${name}`.length > 63) {
        problems.add(
            keyPath(path, "name"),
            `the Rancher cluster name "${context.site.name}-${name}" is longer than 63 characters`,
        );
    }
    const type = required(map, "type", path, problems, (v, p, pr) =>
        readEnum(v, p, pr, clusterTypes),
    );
    const kubernetesVersion = required(map, "kubernetesVersion", path, problems, readString);
    if (type && kubernetesVersion && !versionPatterns[type].pattern.test(kubernetesVersion)) {
        problems.add(
            keyPath(path, "kubernetesVersion"),
            `"${kubernetesVersion}" is not a valid ${type} version (e.g. ${versionPatterns[type].example})`,
        );
    }
    const cni = type
        ? optional(
              map,
              "cni",
              path,
              problems,
              (v, p, pr) => readEnum(v, p, pr, supportedCnis[type]),
              defaults.cni[type],
          )
        : undefined;
    const cniProblem =
        type === "rke2" &&
        cni !== undefined &&
        kubernetesVersion !== undefined &&
        versionPatterns.rke2.pattern.test(kubernetesVersion)
            ? cniVersionProblem(cni, kubernetesVersion)
            : undefined;
    if (cniProblem) {
        problems.add(keyPath(path, "kubernetesVersion"), cniProblem);
    }
    const podCidr = optional(map, "podCidr", path, problems, readCidr, undefined);
    const serviceCidr = optional(map, "serviceCidr", path, problems, readCidr, undefined);
    const namespace = optional(map, "namespace", path, problems, readLabel, name);
    const directApi = optional(
        map,
        "directApi",
        path,
        problems,
        (v, p, pr) => {
            const m = readMap(v, p, pr, ["enabled", "nodePort"]);
            if (!m) {
                return undefined;
            }
            const enabled = optional(m, "enabled", p, pr, readBoolean, false);
            const nodePort = optional(
                m,
                "nodePort",
                p,
                pr,
                (x, q, r) =>
                    readInteger(x, q, r, { min: nodePortRange.first, max: nodePortRange.last }),
                undefined,
            );
            if (enabled && context.site && context.site.hostNodeIps.length === 0) {
                pr.add(
                    keyPath(p, "enabled"),
                    "needs site.hostNodeIps: the API is reached through a host node's NodePort",
                );
            }
            return enabled === undefined
                ? undefined
                : { enabled, ...(nodePort === undefined ? {} : { nodePort }) };
        },
        { enabled: false },
    );
    const breakGlassKubeconfig = optional(
        map,
        "breakGlassKubeconfig",
        path,
        problems,
        readBoolean,
        false,
    );
    const acknowledgeReplacement = optional(
        map,
        "acknowledgeReplacement",
        path,
        problems,
        readBoolean,
        false,
    );
    if (breakGlassKubeconfig && !context.hasSshPrivateKey) {
        problems.add(
            keyPath(path, "breakGlassKubeconfig"),
            "needs the SSH private key: pulumi config set --secret edge:sshPrivateKey < ~/.ssh/id_ed25519",
        );
    }
    const nodes = required(map, "nodes", path, problems, (v, p, pr) => {
        const list = readList(v, p, pr);
        if (!list) {
            return undefined;
        }
        if (list.length === 0) {
            pr.add(p, "must list at least one node");
            return undefined;
        }
        const read = list.map((item, i) => readNode(item, `${p}[${i}]`, pr, context));
        reportDuplicates(
            read.flatMap((node, i) =>
                node ? [{ value: node.name, path: `${p}[${i}].name` }] : [],
            ),
            pr,
            "node name",
        );
        if (read.every((n) => n !== undefined)) {
            reportMixedNodeNetworks(read as NodeConfig[], p, pr);
        }
        return read.every((n) => n !== undefined) ? (read as NodeConfig[]) : undefined;
    });
    if (directApi?.enabled && nodes) {
        reportUnroutedDirectApi(
            nodes,
            context.images ?? [],
            keyPath(keyPath(path, "directApi"), "enabled"),
            problems,
        );
    }
    if (nodes) {
        // Rancher waits "for at least one control plane, etcd, and worker node to be registered"
        // (rancher pkg/capr/planner/planner.go) and the cluster never becomes active without.
        for (const role of nodeRoles) {
            if (!nodes.some((n) => n.roles.includes(role))) {
                problems.add(
                    keyPath(path, "nodes"),
                    `needs at least one node with the ${role} role`,
                );
            }
        }
    }
    if (problems.problems.length > before) {
        return undefined;
    }
    return {
        name: name!,
        type: type!,
        kubernetesVersion: kubernetesVersion!,
        cni: cni!,
        ...(podCidr === undefined ? {} : { podCidr }),
        ...(serviceCidr === undefined ? {} : { serviceCidr }),
        namespace: namespace!,
        directApi: directApi!,
        breakGlassKubeconfig: breakGlassKubeconfig!,
        acknowledgeReplacement: acknowledgeReplacement!,
        nodes: nodes!,
    };
}

/**
 * The direct API reaches control-plane VMs through their pod network, and the replies find their
 * way back only by source policy routing, which cloud-init renders only through netplan: its eni,
 * sysconfig and networkd renderers drop `routing-policy` and a route's `table`.
 */
function reportUnroutedDirectApi(
    nodes: NodeConfig[],
    images: ImageConfig[],
    path: string,
    problems: ProblemList,
): void {
    const unrouted = nodes.filter((node) => {
        const os = images.find((image) => image.name === node.image)?.os;
        return node.roles.includes("controlplane") && os !== undefined && os !== "ubuntu";
    });
    if (unrouted.length > 0) {
        const which = unrouted.map((node) => `${node.name} (image ${node.image})`).join(", ");
        problems.add(
            path,
            `needs every control-plane node on an image with os: ubuntu, whose netplan routes replies back through the pod network; ${which} ${unrouted.length === 1 ? "is" : "are"} not. Use an Ubuntu image there, or disable directApi`,
        );
    }
}

/**
 * A node's first network carries its node address, and the CNI is told that interface by name
 * for the whole cluster (see lib/rancher.ts), so every node lists the same network first.
 */
function reportMixedNodeNetworks(nodes: NodeConfig[], path: string, problems: ProblemList): void {
    const first = nodes[0].networks[0].network;
    nodes.forEach((node, j) => {
        if (node.networks[0].network !== first) {
            problems.add(
                `${path}[${j}].networks[0]`,
                `is ${node.networks[0].network}, but ${nodes[0].name} lists ${first} first; every node of a cluster lists the same network first, because it carries the node addresses the CNI uses`,
            );
        }
    });
}

function readClusters(
    value: unknown,
    problems: ProblemList,
    context: ValidationContext,
): ClusterConfig[] {
    const path = "clusters";
    if (value === undefined || value === null) {
        return [];
    }
    const list = readList(value, path, problems);
    if (!list) {
        return [];
    }
    const read = list.map((item, i) => readCluster(item, `${path}[${i}]`, problems, context));
    // Names are compared as written, so that a cluster with other problems is still checked.
    const names = list.map(nameOf);
    reportDuplicates(
        names.flatMap((name, i) => (name ? [{ value: name, path: `${path}[${i}].name` }] : [])),
        problems,
        "cluster name",
    );
    // VM names join cluster and node names, so `a` + `b-c` and `a-b` + `c` would collide.
    const vmNames = list.flatMap((item, i) => {
        const nodes = isRecord(item) && Array.isArray(item.nodes) ? item.nodes : [];
        const withinCluster = new Set<string>();
        return nodes.flatMap((node, j) => {
            const nodeName = nameOf(node);
            const vm = `${names[i]}-${nodeName}`;
            // A name repeated inside one cluster is reported as a duplicate node name already.
            if (!names[i] || !nodeName || withinCluster.has(vm)) {
                return [];
            }
            withinCluster.add(vm);
            return [{ value: vm, path: `${path}[${i}].nodes[${j}].name` }];
        });
    });
    reportDuplicates(vmNames, problems, "VM name");
    for (const vm of vmNames) {
        if (vm.value.length > 63) {
            problems.add(vm.path, `the VM name "${vm.value}" is longer than 63 characters`);
        }
    }
    // The valid clusters, once each, still go through address planning so that its problems are
    // reported together with these.
    const valid = read.filter((c): c is ClusterConfig => c !== undefined);
    return valid.filter((c, i) => valid.findIndex((other) => other.name === c.name) === i);
}

function readAllocations(value: unknown, problems: ProblemList): Allocations | undefined {
    const path = "allocations";
    if (value === undefined || value === null) {
        return {};
    }
    const map = readMap(value, path, problems);
    if (!map) {
        return undefined;
    }
    const before = problems.problems.length;
    const result: Allocations = {};
    for (const [cluster, entry] of Object.entries(map)) {
        const entryPath = keyPath(path, cluster);
        const m = readMap(entry, entryPath, problems, [
            "type",
            "podCidr",
            "serviceCidr",
            "nodes",
            "etcd",
        ]);
        if (!m) {
            continue;
        }
        const type = required(m, "type", entryPath, problems, (v, p, pr) =>
            readEnum(v, p, pr, clusterTypes),
        );
        const podCidr = required(m, "podCidr", entryPath, problems, readCidr);
        const serviceCidr = required(m, "serviceCidr", entryPath, problems, readCidr);
        const nodes: Record<string, Record<string, string>> = {};
        const nodesMap = optional(m, "nodes", entryPath, problems, readMap, {});
        for (const [node, ips] of Object.entries(nodesMap ?? {})) {
            const ipsPath = keyPath(keyPath(entryPath, "nodes"), node);
            const ipsMap = readMap(ips, ipsPath, problems);
            for (const [network, ip] of Object.entries(ipsMap ?? {})) {
                const ipPath = keyPath(ipsPath, network);
                const text = readIpv4(ip, ipPath, problems);
                if (text !== undefined) {
                    nodes[node] = { ...nodes[node], [network]: text };
                }
            }
        }
        const etcd = optional(m, "etcd", entryPath, problems, readStringMap, undefined);
        if (type && podCidr && serviceCidr) {
            result[cluster] = {
                type,
                podCidr,
                serviceCidr,
                nodes,
                ...(etcd === undefined ? {} : { etcd }),
            };
        }
    }
    return problems.problems.length > before ? undefined : result;
}

/**
 * Checks the shape and the field-level rules of a stack's config and applies defaults. Address
 * planning (overlaps, allocation) follows in `planAddresses`; `planStack` runs both. The config
 * comes back whenever the site, images and record are sound, holding only the clusters that are,
 * so that planning can still report its own problems; any problem in `problems` means the whole
 * config is rejected.
 */
export function readStackConfig(
    raw: RawStackConfig,
    problems: ProblemList,
): { config?: StackConfig; kubeconfig?: string } {
    for (const key of raw.unknownKeys ?? []) {
        // A misspelt `edge:clusters` would otherwise read as "no clusters" and tear them down.
        problems.add(
            key,
            `unknown config key (expected one of: ${configKeys.map((k) => `edge:${k}`).join(", ")})`,
        );
    }
    for (const key of raw.plaintextSecrets ?? []) {
        problems.add(
            key,
            `holds a credential in plain text; store it encrypted: pulumi config set --secret ${key.includes(".") ? "--path " : ""}${key}`,
        );
    }
    const { site, kubeconfig } = readSite(raw.site, problems);
    const { images, declared } = readImages(raw.images, problems);
    const context = {
        site,
        images,
        imageNames: declared,
        hasSshPrivateKey: raw.hasSshPrivateKey ?? false,
    };
    const clusters = readClusters(raw.clusters, problems, context);
    const allocations = readAllocations(raw.allocations, problems);
    if (!site || !images || !allocations) {
        return {};
    }
    return { config: { site, images, clusters, allocations }, kubeconfig };
}
