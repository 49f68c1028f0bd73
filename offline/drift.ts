import { hostLabels, typeTokens, compareText } from "../lib/core";
import { StackPlan } from "../lib/plan";
import { VirtualMachine } from "../lib/render";

/**
 * Assurance: `npm run plan -- --stack X --check-drift <file>` compares what the plan says each
 * node VM is (its host, size and hardware) with what a stack's state says it is, from
 * `pulumi stack export` (after `pulumi refresh`, the state holds the live objects). Fulfilment is
 * `pulumi up`; this only reports.
 */

/** Thrown for a file that is not a stack export; its message is for the operator. */
export class ExportError extends Error {}

/** The facts of a VM that placement and intents decide, as comparable text. */
function vmFacts(vm: VirtualMachine): Record<string, string> {
    const spec = vm.spec.template.spec;
    const { cpu, memory, devices } = spec.domain;
    const names = (list: { deviceName: string }[] | undefined) =>
        (list ?? []).map((d) => d.deviceName).join(", ") || "none";
    return {
        host: spec.nodeSelector?.[hostLabels.hostname] ?? "any (the scheduler chooses)",
        cores: String(cpu.cores),
        memory: memory.guest,
        "dedicated CPUs": String(cpu.dedicatedCpuPlacement ?? false),
        "isolated emulator thread": String(cpu.isolateEmulatorThread ?? false),
        hugepages: memory.hugepages?.pageSize ?? "none",
        gpus: names(devices.gpus),
        "host devices": names(devices.hostDevices),
    };
}

/** A resource of a `pulumi stack export`, as far as it is read. */
export interface ExportedResource {
    urn?: unknown;
    type?: unknown;
    outputs?: Record<string, unknown>;
}

/** What is read of a `pulumi stack export`. */
export interface ExportedState {
    resources: ExportedResource[];
    time?: string;
}

/** A `pulumi stack export`'s resources and time, or an ExportError saying why it is not one. */
export function exportedState(exported: unknown): ExportedState {
    const deployment = (
        exported as { deployment?: { resources?: unknown; manifest?: { time?: unknown } } } | null
    )?.deployment;
    if (!Array.isArray(deployment?.resources)) {
        throw new ExportError(
            "is not the output of pulumi stack export (no deployment.resources list)",
        );
    }
    const time = deployment.manifest?.time;
    return {
        resources: deployment.resources as ExportedResource[],
        ...(typeof time === "string" ? { time } : {}),
    };
}

/** The VirtualMachines a `pulumi stack export` holds, by `namespace/name`. */
export function exportedVms(exported: unknown): Map<string, VirtualMachine> {
    const vms = new Map<string, VirtualMachine>();
    for (const resource of exportedState(exported).resources) {
        if (resource?.type !== typeTokens.virtualMachine) {
            continue;
        }
        const vm = resource.outputs as VirtualMachine | undefined;
        const meta = vm?.metadata;
        if (typeof meta?.name !== "string" || vm?.spec?.template?.spec?.domain === undefined) {
            throw new ExportError(`holds a VirtualMachine without metadata.name or spec`);
        }
        vms.set(`${meta.namespace}/${meta.name}`, vm);
    }
    return vms;
}

/** One line per difference between the plan's node VMs and the exported ones; none: no drift. */
export function checkDrift(plan: StackPlan, exported: unknown): string[] {
    const deployed = exportedVms(exported);
    const drift: string[] = [];
    const planned = plan.clusters
        .flatMap((cluster) => cluster.nodes)
        .sort((a, b) => compareText(a.vmName, b.vmName));
    for (const node of planned) {
        const key = `${node.namespace}/${node.vmName}`;
        const vm = deployed.get(key);
        deployed.delete(key);
        if (!vm) {
            drift.push(`${node.vmName}: planned, not in the stack's state (not deployed yet)`);
            continue;
        }
        const want = vmFacts(node.virtualMachine);
        const have = vmFacts(vm);
        for (const fact of Object.keys(want)) {
            if (want[fact] !== have[fact]) {
                drift.push(`${node.vmName}: ${fact} is ${have[fact]}, planned ${want[fact]}`);
            }
        }
    }
    for (const gateway of plan.gateways) {
        deployed.delete(`${gateway.namespace}/${gateway.vmName}`);
    }
    for (const key of [...deployed.keys()].sort(compareText)) {
        drift.push(`${key}: in the stack's state, no longer planned (the next up deletes it)`);
    }
    return drift;
}
