import { stringify } from "yaml";
import { SitePlan, StackPlan } from "../lib/plan";
import { formatPrerequisites, sitePrerequisites } from "../lib/site";
import { Problem, parseQuantity, compareText } from "../lib/core";
import type { EvaluatedResource, Evaluation } from "./evaluate";

/** Addresses and sizes per cluster and node, as the summary and `addresses.yaml` show them. */
export interface AddressSummary {
    clusters: Record<
        string,
        {
            type: string;
            kubernetesVersion: string;
            podCidr: string;
            serviceCidr: string;
            apiEndpoint: string;
            nodes: Record<
                string,
                {
                    roles: string[];
                    cpu: number;
                    memory: string;
                    disk: string;
                    image: string;
                    ips: Record<string, string>;
                    macs: Record<string, string>;
                }
            >;
        }
    >;
    /** What `npm run lock` would change in the stack file; empty when the record is current. */
    recordChanges: string[];
}

/** The program's exports joined with the sizes only the plan knows. */
export function addressSummary(plan: StackPlan, outputs: Record<string, any>): AddressSummary {
    return {
        clusters: Object.fromEntries(
            plan.clusters.map((cluster) => {
                const exported = outputs.clusters[cluster.name];
                return [
                    cluster.name,
                    {
                        type: cluster.type,
                        kubernetesVersion: cluster.kubernetesVersion,
                        podCidr: exported.podCidr,
                        serviceCidr: exported.serviceCidr,
                        apiEndpoint: exported.apiEndpoint,
                        nodes: Object.fromEntries(
                            cluster.nodes.map((node) => [
                                node.name,
                                {
                                    roles: exported.nodes[node.name].roles,
                                    cpu: node.cpu,
                                    memory: node.memory,
                                    disk: node.disk,
                                    image: node.image,
                                    ips: exported.nodes[node.name].ips,
                                    macs: exported.nodes[node.name].macs,
                                },
                            ]),
                        ),
                    },
                ];
            }),
        ),
        recordChanges: plan.lockChanges,
    };
}

/** A value with every map's keys sorted, so that output never depends on insertion order. */
export function sortKeys(value: unknown): unknown {
    if (Array.isArray(value)) {
        return value.map(sortKeys);
    }
    if (typeof value === "object" && value !== null) {
        return Object.fromEntries(
            Object.keys(value)
                .sort()
                .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
        );
    }
    return value;
}

export function toYaml(value: unknown): string {
    return stringify(sortKeys(value), { lineWidth: 0 });
}

/** The short kind a reviewer knows a resource by: `VirtualMachine`, `ClusterV2`, `EdgeCluster`. */
export function kindOf(type: string): string {
    const last = type.split(":").pop()!;
    return type.startsWith("pulumi:providers:") ? `Provider(${last})` : last;
}

/** `namespace/name` of a Kubernetes object, or its Pulumi name for anything else. */
export function displayName(resource: EvaluatedResource): string {
    const metadata = resource.inputs.metadata as { name?: string; namespace?: string } | undefined;
    if (resource.type.startsWith("kubernetes:") && metadata?.name) {
        return metadata.namespace ? `${metadata.namespace}/${metadata.name}` : metadata.name;
    }
    return resource.inputs.name && resource.type.startsWith("rancher2:")
        ? `${resource.name} (Rancher: ${resource.inputs.name})`
        : resource.name;
}

/** Which rendered folder a resource's file goes to, or none for components and providers. */
function folderOf(type: string): string | undefined {
    if (type.startsWith("kubernetes:")) {
        return "kubernetes";
    }
    if (type.startsWith("rancher2:")) {
        return "rancher";
    }
    if (type.startsWith("command:")) {
        return "command";
    }
    return undefined;
}

/** The folders and files `--out` owns inside its directory; nothing else there is touched. */
export const renderedEntries = [
    "kubernetes",
    "rancher",
    "command",
    "addresses.yaml",
    "prerequisites.md",
];

/** Header lines that identify a rendered file's resource, read back by `--diff`. */
export const headerPrefix = {
    resource: "# pulumi: ",
    parent: "# parent: ",
    replacementTrigger: "# replacementTrigger: ",
} as const;

/**
 * One file per Kubernetes, Rancher and command resource, keyed by its path inside the output
 * directory: a header naming the Pulumi resource, then its inputs as YAML with sorted keys.
 */
export function renderFiles(
    evaluation: Evaluation,
    addresses: AddressSummary,
    site: SitePlan,
): Record<string, string> {
    const files: Record<string, string> = {
        "addresses.yaml": `# Addresses and sizes of every cluster and node (npm run plan).\n${toYaml(addresses)}`,
        "prerequisites.md": `# Site prerequisites of ${site.name} (npm run plan)\n\n${formatPrerequisites(site)}\n`,
    };
    for (const resource of evaluation.resources) {
        const folder = folderOf(resource.type);
        if (!folder) {
            continue;
        }
        const metadata = resource.inputs.metadata as { namespace?: string } | undefined;
        const where =
            folder === "kubernetes" ? `${folder}/${metadata?.namespace ?? "_cluster"}` : folder;
        const header = [
            `${headerPrefix.resource}${resource.type} ${resource.name}`,
            ...(resource.options.parent
                ? [`${headerPrefix.parent}${resource.options.parent}`]
                : []),
            // A JSON string, so that a multi-line trigger stays on its header line.
            ...(resource.options.replacementTrigger === undefined
                ? []
                : [
                      `${headerPrefix.replacementTrigger}${JSON.stringify(resource.options.replacementTrigger)}`,
                  ]),
        ];
        files[`${where}/${kindOf(resource.type)}.${resource.name}.yaml`] =
            `${header.join("\n")}\n${toYaml(resource.inputs)}`;
    }
    return Object.fromEntries(Object.entries(files).sort(([a], [b]) => compareText(a, b)));
}

function table(rows: string[][]): string[] {
    const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
    return rows.map((row) =>
        row
            .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i])))
            .join("  ")
            .trimEnd(),
    );
}

/** The sum of quantities the plan already validated, in Gi. */
function gibibytes(quantities: string[]): string {
    const bytes = quantities.reduce((sum, q) => sum + (parseQuantity(q) ?? 0), 0);
    return `${Number((bytes / 2 ** 30).toFixed(2))}Gi`;
}

export function count(n: number, noun: string): string {
    return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

/** The resource tree: each resource under its parent, in registration order. */
function resourceTree(evaluation: Evaluation): string[] {
    const lines: string[] = [];
    const children = new Map<string | undefined, EvaluatedResource[]>();
    for (const r of evaluation.resources) {
        const list = children.get(r.options.parent) ?? [];
        list.push(r);
        children.set(r.options.parent, list);
    }
    const walk = (parent: string | undefined, depth: number) => {
        for (const r of children.get(parent) ?? []) {
            lines.push(`${"  ".repeat(depth + 1)}${kindOf(r.type)} ${displayName(r)}`);
            walk(`${r.type}::${r.name}`, depth + 1);
        }
    };
    walk(undefined, 0);
    return lines;
}

type SummaryNode = AddressSummary["clusters"][string]["nodes"][string] & { id: string };

/** The tables of clusters and of nodes. */
function clusterAndNodeTables(
    clusters: [string, AddressSummary["clusters"][string]][],
    nodes: SummaryNode[],
): string[] {
    const pairs = (map: Record<string, string>) =>
        Object.entries(map)
            .map(([network, value]) => `${network}=${value}`)
            .join(" ");
    return [
        "",
        "Clusters",
        ...table([
            ["cluster", "type", "version", "pod CIDR", "service CIDR", "API endpoint"],
            ...clusters.map(([name, c]) => [
                name,
                c.type,
                c.kubernetesVersion,
                c.podCidr,
                c.serviceCidr,
                c.apiEndpoint,
            ]),
        ]).map((line) => `  ${line}`),
        "",
        "Nodes",
        ...table([
            ["node", "roles", "cpu", "memory", "disk", "image", "IPs", "MACs"],
            ...nodes.map((n) => [
                n.id,
                n.roles.join(","),
                String(n.cpu),
                n.memory,
                n.disk,
                n.image,
                pairs(n.ips),
                pairs(n.macs),
            ]),
        ]).map((line) => `  ${line}`),
    ];
}

/** The terminal summary: resource tree, address tables, totals. */
export function renderSummary(
    stack: string,
    evaluation: Evaluation,
    addresses: AddressSummary,
    site: SitePlan,
): string {
    const lines = [
        `Offline plan of stack ${stack}: values providers compute are shown as <computed: ...>.`,
        "",
        "Resources",
        ...resourceTree(evaluation),
    ];
    const clusters = Object.entries(addresses.clusters);
    const nodes = clusters.flatMap(([cluster, c]) =>
        Object.entries(c.nodes).map(([name, n]) => ({ id: `${cluster}/${name}`, ...n })),
    );
    lines.push(...clusterAndNodeTables(clusters, nodes));
    lines.push("", "Site prerequisites (none of these is a resource of the stack)");
    for (const prerequisite of sitePrerequisites(site)) {
        lines.push(`  ${prerequisite.topic}`, ...prerequisite.lines.map((line) => `    ${line}`));
    }
    const kubernetes = evaluation.resources.filter((r) => folderOf(r.type) === "kubernetes").length;
    const rancher = evaluation.resources.filter((r) => folderOf(r.type) === "rancher").length;
    lines.push(
        "",
        `Totals: ${count(clusters.length, "cluster")}, ${count(nodes.length, "node")}, ` +
            `${nodes.reduce((sum, n) => sum + n.cpu, 0)} CPUs, ` +
            `${gibibytes(nodes.map((n) => n.memory))} memory, ${gibibytes(nodes.map((n) => n.disk))} disk; ` +
            `${evaluation.resources.length} resources (${kubernetes} Kubernetes, ${rancher} Rancher)`,
    );
    if (addresses.recordChanges.length > 0) {
        lines.push(
            "",
            `The allocation record is not current; \`npm run lock -- --stack ${stack}\` would record:`,
            ...addresses.recordChanges.map((change) => `  ${change}`),
        );
    }
    return `${lines.join("\n")}\n`;
}

/** The `--json` document. */
export interface PlanDocument {
    stack: string;
    errors: Problem[];
    resources: {
        type: string;
        name: string;
        parent?: string;
        inputs: Record<string, unknown>;
        options: Omit<EvaluatedResource["options"], "parent">;
        dependencies: string[];
    }[];
    addresses?: AddressSummary;
}

export function renderJson(document: unknown): string {
    return `${JSON.stringify(sortKeys(document), null, 2)}\n`;
}

export function planDocument(
    stack: string,
    evaluation: Evaluation,
    addresses: AddressSummary,
): PlanDocument {
    return {
        stack,
        errors: [],
        resources: evaluation.resources.map((r) => {
            const { parent, ...options } = r.options;
            return {
                type: r.type,
                name: r.name,
                ...(parent ? { parent } : {}),
                inputs: r.inputs,
                options,
                dependencies: r.dependencies,
            };
        }),
        addresses,
    };
}
