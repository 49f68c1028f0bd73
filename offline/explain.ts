import { HugepageSize, hugepageSizes } from "../lib/config";
import { compareText, formatBytes, formatCores } from "../lib/core";
import { HostLoad, PlacementDecision, StackPlan } from "../lib/plan";

/**
 * `npm run plan -- --stack X --explain`: where each node runs and why. Per intent, each node's
 * host and the reason it was chosen, with every host it was not put on and why; then the
 * hand-written nodes; then what each host carries against what it has.
 */
export function renderExplanation(stack: string, plan: StackPlan): string {
    const { decisions, hosts } = plan.placement;
    if (hosts.length === 0) {
        return `${stack}: site.hosts lists no host, so nothing is placed; the host cluster's scheduler chooses for every VM.\n`;
    }
    const lines: string[] = [];
    for (const cluster of plan.clusters) {
        const own = decisions.filter((d) => d.cluster === cluster.name);
        const intent = own.some((d) => d.pool !== undefined);
        lines.push(`Cluster ${cluster.name} (${intent ? "intent" : "hand-written nodes"})`);
        lines.push(...own.flatMap(explainDecision));
        lines.push("");
    }
    lines.push(`Hosts (site.hosts)`);
    lines.push(...hosts.map(describeHost));
    return `${lines.join("\n")}\n`;
}

function explainDecision(decision: PlacementDecision): string[] {
    const from = decision.pool === undefined ? "" : ` (${decision.pool})`;
    const where = decision.host === undefined ? "" : ` -> ${decision.host}`;
    return [
        `  ${decision.node}${from}${where}: ${decision.reason}`,
        ...decision.rejected.map((r) => `      not ${r.host}: ${r.reason}`),
    ];
}

function describeHost(load: HostLoad): string {
    const { capacity, used } = load;
    const parts = [
        `${formatCores(used.cpu)} of ${formatCores(capacity.cpu)} cores`,
        `${formatBytes(used.memory)} of ${formatBytes(capacity.memory)} memory`,
        ...hugepageSizes
            .filter((size: HugepageSize) => capacity.hugepages[size] !== undefined)
            .map(
                (size) =>
                    `${formatBytes(used.hugepages[size] ?? 0)} of ${formatBytes(capacity.hugepages[size]!)} ${size} hugepages`,
            ),
        ...Object.keys(capacity.devices)
            .sort(compareText)
            .map(
                (device) => `${used.devices[device] ?? 0} of ${capacity.devices[device]} ${device}`,
            ),
    ];
    const zone = load.zone === undefined ? "" : ` (zone ${load.zone})`;
    const vms = load.vms.length === 0 ? "nothing placed" : load.vms.join(", ");
    return `  ${load.name}${zone}: ${parts.join(", ")}; carries ${vms}`;
}
