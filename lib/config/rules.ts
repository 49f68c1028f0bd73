import { defaults, supportedCnis } from "./defaults";
import {
    contains,
    intToIp,
    ipToInt,
    lastAddress,
    overlaps,
    parseCidr,
    ProblemList,
    bytes,
} from "../core";
import { cniVersionProblem } from "../rancher";
import { isRecord, keyPath, reportDuplicates } from "./report";
import {
    ClusterSettings,
    ClusterType,
    GuestOs,
    NetworkShape,
    NodeConfig,
    HostShape,
    nodeRoles,
} from "./shape";
import { ClusterConfig, ImageConfig, SiteConfig, SiteNetworkConfig } from "./types";

/**
 * The rules that relate fields to each other or to the rest of the config. Each takes values
 * that already have their shape (lib/config/shape.ts) and reports at the path of the field to
 * change.
 */

/** What node and cluster rules need to know of the rest of the config. */
export interface RuleContext {
    site?: SiteConfig;
    /** The images, with their sizes, when all are valid. */
    images?: ImageConfig[];
    /** Every image name edge:images declares, valid or not. */
    imageNames?: string[];
    hasSshPrivateKey: boolean;
}

const versionPatterns: Record<ClusterType, { pattern: RegExp; example: string }> = {
    k3s: { pattern: /^v\d+\.\d+\.\d+\+k3s\d+$/, example: "v1.31.5+k3s1" },
    rke2: { pattern: /^v\d+\.\d+\.\d+\+rke2r\d+$/, example: "v1.31.5+rke2r1" },
};

/** The network with its range resolved, once its gateway and range fit its CIDR. */
export function resolveNetwork(
    network: NetworkShape,
    path: string,
    problems: ProblemList,
): SiteNetworkConfig | undefined {
    const parsed = parseCidr(network.cidr);
    if (!("cidr" in parsed)) {
        return undefined;
    }
    const cidr = parsed.cidr;
    const before = problems.problems.length;
    if ((network.bridge === undefined) === (network.sriov === undefined)) {
        problems.add(
            path,
            network.bridge === undefined
                ? "needs bridge (a Linux bridge on the hosts) or sriov (VFs of a host NIC)"
                : "has both bridge and sriov; a network is one or the other",
        );
    }
    const gateway = ipToInt(network.gateway);
    if (!contains(cidr, gateway)) {
        problems.add(keyPath(path, "gateway"), `${network.gateway} is outside ${network.cidr}`);
    } else if (gateway === cidr.base || gateway === lastAddress(cidr)) {
        problems.add(
            keyPath(path, "gateway"),
            `${network.gateway} is the network or broadcast address of ${network.cidr}`,
        );
    }
    const usable = (ip: number) =>
        contains(cidr, ip) && ip !== cidr.base && ip !== lastAddress(cidr);
    let range = { first: intToIp(cidr.base + 1), last: intToIp(lastAddress(cidr) - 1) };
    if (network.range !== undefined) {
        const [first, last] = network.range.split("-").map((part) => part.trim());
        const rangePath = keyPath(path, "range");
        if (!usable(ipToInt(first)) || !usable(ipToInt(last))) {
            problems.add(
                rangePath,
                `${network.range} is not inside the usable addresses of ${network.cidr}`,
            );
        } else if (ipToInt(first) > ipToInt(last)) {
            problems.add(rangePath, `${network.range} starts after it ends`);
        }
        range = { first, last };
    }
    return problems.problems.length > before ? undefined : { ...network, range };
}

/** Two site networks on one range would give the guest two routes to it, and clash addresses. */
export function reportNetworkOverlaps(
    networks: (SiteNetworkConfig | undefined)[],
    path: string,
    problems: ProblemList,
): void {
    const blocks = networks.flatMap((network, index) => {
        const parsed = network ? parseCidr(network.cidr) : undefined;
        return network && parsed && "cidr" in parsed ? [{ network, index, cidr: parsed.cidr }] : [];
    });
    blocks.forEach(({ network, index, cidr }, j) => {
        const earlier = blocks.slice(0, j).find((other) => overlaps(other.cidr, cidr));
        if (earlier) {
            problems.add(
                `${path}[${index}].cidr`,
                `${network.cidr} overlaps site.networks[${earlier.index}] ${earlier.network.name} (${earlier.network.cidr})`,
            );
        }
    });
}

/** Reports every name written more than once among `items`, whatever else is wrong with them. */
export function reportDuplicateNames(
    items: unknown[],
    path: string,
    problems: ProblemList,
    what: string,
): void {
    reportDuplicates(
        items.flatMap((item, i) => {
            const name = nameOf(item);
            return name === undefined ? [] : [{ value: name, path: `${path}[${i}].name` }];
        }),
        problems,
        what,
    );
}

function nameOf(item: unknown): string | undefined {
    return isRecord(item) && typeof item.name === "string" ? item.name : undefined;
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

/** What hardware fields ask for, on a node or an intent's pool. */
export type Hardware = Pick<
    NodeConfig,
    "memory" | "gpus" | "hostDevices" | "dedicatedCpu" | "isolateEmulatorThread" | "hugepages"
>;

/** Hardware fields against each other, and against what the site's hosts have at all. */
export function checkHardware(
    hardware: Hardware,
    path: string,
    problems: ProblemList,
    hosts: HostShape[],
): void {
    if (hardware.isolateEmulatorThread && !hardware.dedicatedCpu) {
        // kubevirt pkg/virt-api/webhooks/validating-webhook/admitters/vmi-create-admitter.go
        problems.add(
            keyPath(path, "isolateEmulatorThread"),
            "needs dedicatedCpu: true; KubeVirt isolates the emulator thread only of a pinned VM",
        );
    }
    const pageSize = hardware.hugepages;
    if (pageSize !== undefined && bytes(hardware.memory) % bytes(pageSize) !== 0) {
        problems.add(
            keyPath(path, "memory"),
            `${hardware.memory} is not a whole number of ${pageSize} hugepages`,
        );
    }
    if (hosts.length === 0) {
        return;
    }
    // An inventory, when there is one, names every device a host has: a name it never lists is a
    // typo.
    const known = new Set(hosts.flatMap((host) => Object.keys(host.devices)));
    for (const field of ["gpus", "hostDevices"] as const) {
        (hardware[field] ?? []).forEach((device, i) => {
            if (!known.has(device)) {
                problems.add(
                    `${keyPath(path, field)}[${i}]`,
                    `no host in site.hosts has ${device}${known.size === 0 ? "" : ` (they have: ${[...known].sort().join(", ")})`}`,
                );
            }
        });
    }
}

/** A node's image and disk: the image must exist and fit on the disk. */
export function checkImageAndDisk(
    image: string,
    disk: string,
    paths: { image: string; disk: string },
    problems: ProblemList,
    context: RuleContext,
): void {
    if (context.imageNames && !context.imageNames.includes(image)) {
        problems.add(
            paths.image,
            `unknown image "${image}" (edge:images has: ${context.imageNames.join(", ")})`,
        );
    }
    const imageSize = context.images?.find((i) => i.name === image)?.size;
    if (imageSize !== undefined && bytes(disk) < bytes(imageSize)) {
        problems.add(paths.disk, `${disk} is smaller than image ${image} (${imageSize})`);
    }
}

/** Why `network` is not a site network, or undefined when it is. */
export function unknownNetwork(network: string, site: SiteConfig): string | undefined {
    if (site.networks.some((n) => n.name === network)) {
        return undefined;
    }
    const known = site.networks.map((n) => n.name).join(", ");
    return `unknown site network "${network}" (site.networks has: ${known})`;
}

/** A node's roles, image, disk and networks against each other and the rest of the config. */
export function checkNode(
    node: NodeConfig,
    path: string,
    problems: ProblemList,
    context: RuleContext,
): boolean {
    const before = problems.problems.length;
    reportDuplicates(
        node.roles.map((role, i) => ({ value: role, path: `${path}.roles[${i}]` })),
        problems,
        "role",
    );
    const paths = { image: keyPath(path, "image"), disk: keyPath(path, "disk") };
    checkImageAndDisk(node.image, node.disk, paths, problems, context);
    checkHardware(node, path, problems, context.site?.hosts ?? []);
    const site = context.site;
    node.networks.forEach(({ network, ip }, i) => {
        const itemPath = `${path}.networks[${i}]`;
        const siteNetwork = site?.networks.find((n) => n.name === network);
        if (site && !siteNetwork) {
            problems.add(keyPath(itemPath, "network"), unknownNetwork(network, site)!);
            return;
        }
        const vfs = siteNetwork?.sriov?.resourceName;
        if (site && vfs && site.hosts.length > 0 && !site.hosts.some((h) => vfs in h.devices)) {
            problems.add(
                keyPath(itemPath, "network"),
                `is an SR-IOV network, and no host in site.hosts has ${vfs}`,
            );
        }
        const error = site && siteNetwork && ip ? checkNodeIp(ip, siteNetwork, site) : undefined;
        if (error) {
            problems.add(keyPath(itemPath, "ip"), error);
        }
    });
    reportDuplicates(
        node.networks.map((n, i) => ({ value: n.network, path: `${path}.networks[${i}].network` })),
        problems,
        "network",
    );
    return problems.problems.length === before;
}

/**
 * A cluster's own settings against each other and the site; the cluster with the defaults that
 * depend on other fields, or undefined when a rule fails.
 */
export function resolveClusterSettings(
    settings: ClusterSettings,
    path: string,
    problems: ProblemList,
    context: RuleContext,
): Omit<ClusterConfig, "nodes" | "intent"> | undefined {
    const before = problems.problems.length;
    const { type, kubernetesVersion } = settings;
    if (context.site && `${context.site.name}-${settings.name}`.length > 63) {
        problems.add(
            keyPath(path, "name"),
            `the Rancher cluster name "${context.site.name}-${settings.name}" is longer than 63 characters`,
        );
    }
    const versionPattern = versionPatterns[type];
    const versionFits = versionPattern.pattern.test(kubernetesVersion);
    if (!versionFits) {
        problems.add(
            keyPath(path, "kubernetesVersion"),
            `"${kubernetesVersion}" is not a valid ${type} version (e.g. ${versionPattern.example})`,
        );
    }
    const allowed: readonly string[] = supportedCnis[type];
    const cni = settings.cni ?? defaults.cni[type];
    if (!allowed.includes(cni)) {
        problems.add(keyPath(path, "cni"), `"${cni}" is not one of: ${allowed.join(", ")}`);
    }
    const cniProblem =
        type === "rke2" && versionFits ? cniVersionProblem(cni, kubernetesVersion) : undefined;
    if (cniProblem) {
        problems.add(keyPath(path, "kubernetesVersion"), cniProblem);
    }
    if (settings.directApi.enabled && context.site && context.site.hostNodeIps.length === 0) {
        problems.add(
            keyPath(keyPath(path, "directApi"), "enabled"),
            "needs site.hostNodeIps: the API is reached through a host node's NodePort",
        );
    }
    if (settings.breakGlassKubeconfig && !context.hasSshPrivateKey) {
        problems.add(
            keyPath(path, "breakGlassKubeconfig"),
            "needs the SSH private key: pulumi config set --secret edge:sshPrivateKey < ~/.ssh/id_ed25519",
        );
    }
    if (problems.problems.length > before) {
        return undefined;
    }
    const { nodes: _nodes, intent: _intent, ...rest } = settings;
    return { ...rest, cni, namespace: settings.namespace ?? settings.name };
}

/** The rules over a cluster's nodes together, once every node is sound. */
export function checkClusterNodes(nodes: NodeConfig[], path: string, problems: ProblemList): void {
    const nodesPath = keyPath(path, "nodes");
    reportMixedNodeNetworks(nodes, nodesPath, problems);
    // Rancher waits "for at least one control plane, etcd, and worker node to be registered"
    // (rancher pkg/capr/planner/planner.go) and the cluster never becomes active without.
    for (const role of nodeRoles) {
        if (!nodes.some((n) => n.roles.includes(role))) {
            problems.add(nodesPath, `needs at least one node with the ${role} role`);
        }
    }
}

/**
 * A node's first network carries its node address, and the CNI is told that interface by name
 * for the whole cluster (see lib/rancher/serverConfig.ts), so every node lists the same network
 * first.
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

/**
 * VM names join cluster and node names, so `a` + `b-c` and `a-b` + `c` would collide; names are
 * compared as written, so that a cluster with other problems is still checked.
 */
export function reportVmNameCollisions(
    clusters: unknown[],
    expanded: ({ nodes: { name: string }[]; intent?: unknown } | undefined)[],
    path: string,
    problems: ProblemList,
): void {
    const vmNames = clusters.flatMap((item, i) => {
        const clusterName = nameOf(item);
        const generated = expanded[i]?.intent === undefined ? undefined : expanded[i]!.nodes;
        const nodes = generated ?? (isRecord(item) && Array.isArray(item.nodes) ? item.nodes : []);
        const withinCluster = new Set<string>();
        return nodes.flatMap((node, j) => {
            const nodeName = nameOf(node);
            const vm = `${clusterName}-${nodeName}`;
            // A name repeated inside one cluster is reported as a duplicate node name already.
            if (!clusterName || !nodeName || withinCluster.has(vm)) {
                return [];
            }
            withinCluster.add(vm);
            const at = generated ? `${path}[${i}].intent` : `${path}[${i}].nodes[${j}].name`;
            return [{ value: vm, path: at }];
        });
    });
    reportDuplicates(vmNames, problems, "VM name");
    for (const vm of vmNames) {
        if (vm.value.length > 63) {
            problems.add(vm.path, `the VM name "${vm.value}" is longer than 63 characters`);
        }
    }
}

/**
 * Releases each family's value cannot serve, by the names their cloud image URLs carry: Debian 11
 * and older configure the network with ifupdown, whose cloud-init renderer drops policy routing
 * and the pod NIC's settings; Ubuntu before 20.04 and EL before 9 have a systemd older than 240,
 * which has no Type=exec for the registration's service.
 */
const unsupportedReleases: Record<GuestOs, { pattern: RegExp; instead: string }> = {
    debian: {
        pattern:
            /(?<![a-z0-9])(?<release>bullseye|buster|stretch|jessie|debian-(7|8|9|10|11))(?![a-z0-9])/i,
        instead: "a Debian 12 (bookworm) or newer image, which configures its network with netplan",
    },
    ubuntu: {
        pattern: /(?<![a-z0-9])(?<release>bionic|xenial|trusty|18\.04|16\.04|14\.04)(?![a-z0-9])/i,
        instead: "an Ubuntu 20.04 (focal) or newer image",
    },
    rhel: {
        pattern:
            /(?<![a-z0-9])(?<release>el[5-8]|(centos|rhel|rocky|almalinux)-[5-8]|centos-stream-genericcloud-8)(?![0-9])/i,
        instead: "an EL 9 or newer image (RHEL, Rocky Linux, AlmaLinux, CentOS Stream)",
    },
};

/** An image whose URL names a release its `os` family cannot serve. */
export function checkImageRelease(
    image: Pick<ImageConfig, "url" | "os">,
    path: string,
    problems: ProblemList,
): void {
    const release = unsupportedReleases[image.os].pattern.exec(new URL(image.url).pathname)?.groups
        ?.release;
    if (release) {
        problems.add(
            path,
            `${image.url} names ${release}, which os: ${image.os} does not cover; use ${unsupportedReleases[image.os].instead}`,
        );
    }
}
