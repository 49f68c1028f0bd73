/**
 * The entry point of config validation: reads each part of a stack's config with its shape
 * (lib/config/shape.ts), then applies the rules between fields (lib/config/rules.ts). Sites,
 * networks, clusters and nodes are read one by one, so that one malformed part does not hide
 * another's problems.
 */

import { ProblemList } from "../core";
import { isRecord, keyPath } from "./report";
import { shaped } from "./issues";
import {
    RuleContext,
    checkClusterNodes,
    checkImageRelease,
    checkNode,
    reportDuplicateNames,
    reportNetworkOverlaps,
    reportVmNameCollisions,
    resolveClusterSettings,
    resolveNetwork,
} from "./rules";
import {
    Allocations,
    NodeConfig,
    checkLabel,
    allocationsSchema,
    clusterSettingsSchema,
    clustersSchema,
    imagesSchema,
    networkSchema,
    nodeSchema,
    siteSettingsSchema,
    hostSchema,
    HostShape,
} from "./shape";
import { readIntent } from "./intent";
import { ClusterConfig, ImageConfig, RawStackConfig, SiteConfig, StackConfig } from "./types";

/** The keys of the project's config namespace, without the `edge:` prefix. */
export const configKeys = [
    "site",
    "images",
    "clusters",
    "allocations",
    "sshPrivateKey",
    "wireguardPrivateKey",
] as const;

function listAt(value: unknown, field: string): unknown[] {
    return isRecord(value) && Array.isArray(value[field]) ? value[field] : [];
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
    const before = problems.problems.length;
    const settings = shaped(siteSettingsSchema, value, path, problems);
    const networksPath = keyPath(path, "networks");
    const rawNetworks = listAt(value, "networks");
    const networks = rawNetworks.map((item, i) => {
        const itemPath = `${networksPath}[${i}]`;
        const network = shaped(networkSchema, item, itemPath, problems);
        return network && resolveNetwork(network, itemPath, problems);
    });
    reportNetworkOverlaps(networks, networksPath, problems);
    reportDuplicateNames(rawNetworks, networksPath, problems, "network name");
    const hostsPath = keyPath(path, "hosts");
    const rawHosts = listAt(value, "hosts");
    const hosts = rawHosts.map((item, i) =>
        shaped(hostSchema, item, `${hostsPath}[${i}]`, problems),
    );
    reportDuplicateNames(rawHosts, hostsPath, problems, "host name");
    if (!settings || problems.problems.length > before) {
        return {};
    }
    const { kubeconfig, networks: _raw, hosts: _rawHosts, ...rest } = settings;
    return {
        site: {
            ...rest,
            networks: networks as SiteConfig["networks"],
            hosts: hosts as HostShape[],
        },
        kubeconfig,
    };
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
    // A record drops a `__proto__` key without a word; it is no DNS label anyway.
    if (isRecord(value) && Object.keys(value).includes("__proto__")) {
        problems.add(keyPath(path, "__proto__"), checkLabel("__proto__")!);
    }
    const images = shaped(imagesSchema, value, path, problems);
    const declared = isRecord(value) ? Object.keys(value) : undefined;
    for (const [name, image] of Object.entries(images ?? {})) {
        checkImageRelease(image, keyPath(path, name), problems);
    }
    return {
        images: images && Object.entries(images).map(([name, image]) => ({ name, ...image })),
        declared,
    };
}

function readCluster(
    value: unknown,
    path: string,
    problems: ProblemList,
    context: RuleContext,
): ClusterConfig | undefined {
    const before = problems.problems.length;
    const settings = shaped(clusterSettingsSchema, value, path, problems);
    const resolved = settings && resolveClusterSettings(settings, path, problems, context);
    const nodesPath = keyPath(path, "nodes");
    const hasIntent = isRecord(value) && value.intent !== undefined;
    if (hasIntent && value.nodes !== undefined) {
        problems.add(
            keyPath(path, "intent"),
            "give either nodes or an intent: an intent's nodes are generated",
        );
        return undefined;
    }
    if (settings && !hasIntent && settings.nodes === undefined) {
        problems.add(nodesPath, "is required (or declare the cluster as an intent)");
        return undefined;
    }
    const expanded = hasIntent
        ? readIntent(value.intent, keyPath(path, "intent"), problems, context)
        : undefined;
    const rawNodes = listAt(value, "nodes");
    const nodes = rawNodes.map((item, i) => {
        const nodePath = `${nodesPath}[${i}]`;
        const node = shaped(nodeSchema, item, nodePath, problems);
        return node && checkNode(node, nodePath, problems, context) ? node : undefined;
    });
    reportDuplicateNames(rawNodes, nodesPath, problems, "node name");
    const sound = expanded
        ? expanded.nodes
        : nodes.filter((node): node is NodeConfig => node !== undefined);
    if (sound.length > 0 && (expanded || sound.length === nodes.length)) {
        checkClusterNodes(sound, path, problems);
    }
    return resolved && problems.problems.length === before
        ? { ...resolved, nodes: sound, ...(expanded ? { intent: expanded.intent } : {}) }
        : undefined;
}

function readClusters(
    value: unknown,
    problems: ProblemList,
    context: RuleContext,
): ClusterConfig[] {
    const path = "clusters";
    // An empty `edge:clusters:` (YAML's null) is refused, not read as "no clusters": that would
    // tear every cluster down. No clusters is `[]`.
    if (value === undefined) {
        return [];
    }
    const list = shaped(clustersSchema, value, path, problems) ?? [];
    const read = list.map((item, i) => readCluster(item, `${path}[${i}]`, problems, context));
    reportDuplicateNames(list, path, problems, "cluster name");
    reportVmNameCollisions(list, read, path, problems);
    // The valid clusters, once each, still go through address planning so that its problems are
    // reported together with these.
    const valid = read.filter((c): c is ClusterConfig => c !== undefined);
    return valid.filter((c, i) => valid.findIndex((other) => other.name === c.name) === i);
}

/**
 * The most a stack's config may take: the Node.js language host passes the whole config, every
 * namespace and decrypted secret included, to the program in one environment variable,
 * PULUMI_CONFIG (pulumi sdk/nodejs/cmd/pulumi-language-nodejs/main.go); Linux refuses to
 * start a process with any one variable over 128 KiB (MAX_ARG_STRLEN): `pulumi preview` then
 * fails with "argument list too long" (pulumi/pulumi#8680, still open).
 */
export const languageHostConfigLimit = 128 * 1024;

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
    if ((raw.languageHostConfigBytes ?? 0) > languageHostConfigLimit) {
        const kib = Math.ceil(raw.languageHostConfigBytes! / 1024);
        problems.add(
            "config",
            `takes about ${kib} KiB as the Node.js language host passes it to the program, in one environment variable that Linux caps at 128 KiB: \`pulumi preview\` and \`up\` would fail with "argument list too long" (pulumi/pulumi#8680). Declare nodes by intent (edge:clusters[].intent) rather than one by one: a node listed takes about 140 bytes, its record in edge:allocations about 100`,
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
    const allocations: Allocations | undefined =
        raw.allocations === undefined
            ? {}
            : shaped(allocationsSchema, raw.allocations, "allocations", problems);
    if (!site || !images || !allocations) {
        return {};
    }
    return { config: { site, images, clusters, allocations }, kubeconfig };
}
