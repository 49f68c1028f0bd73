import { labels, resourceNames, typeTokens, compareText } from "../lib/core";
import { StackPlan } from "../lib/plan";
import { ExportError, ExportedResource, ExportedState } from "./drift";

/**
 * What is deployed beside what is planned: `npm run plan -- --html <file> --state <dir>` reads a
 * stack's `pulumi stack export` (and, when there is one, `kubectl get virtualmachines -A -o json`
 * from its host cluster) and keeps only names, statuses and conditions. The page never holds a
 * value of the state itself, so no secret (each is ciphertext in the export) or credential
 * reaches it.
 */

export interface LiveVm {
    /** `cluster/node`, or the VM's name when the plan has no node for it. */
    node: string;
    vmName: string;
    namespace: string;
    /** KubeVirt's printableStatus (Running, Stopped, Provisioning, ...). */
    status: string;
    /** The Ready condition: `True`, or `False: <reason>: <message>`. */
    ready: string;
    /** When the Ready condition last changed. */
    since: string;
    /** Where the status comes from: the host cluster now, or the state at its last refresh. */
    source: "host cluster" | "stack state";
}

export interface LiveCluster {
    cluster: string;
    rancherName: string;
    /**
     * The ClusterSync's reading of Rancher's cluster at the last `up` or `refresh`: `synced` is
     * whether it was active (terraform-provider-rancher2 rancher2/resource_rancher2_cluster_sync.go).
     */
    state: "active" | "not active" | "not deployed";
    /**
     * The nodes Rancher listed then; absent when the state keeps the list secret, as the rancher2
     * provider's does (a node field is Sensitive: terraform-provider-rancher2
     * rancher2/schema_cluster_sync.go, so the bridge makes the whole list a secret).
     */
    rancherNodes?: string[];
}

export interface LiveStateView {
    stack: string;
    /** The export's time (deployment.manifest.time). */
    exportedAt?: string;
    inBoth: number;
    /** `type name` of each resource in the state and not in the plan: the next up deletes it. */
    onlyInState: string[];
    /** ...and in the plan, not in the state: the next up creates it. */
    onlyInPlan: string[];
    vms: LiveVm[];
    clusters: LiveCluster[];
}

export interface VmObject {
    metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
    status?: {
        printableStatus?: string;
        conditions?: {
            type?: string;
            status?: string;
            reason?: string;
            message?: string;
            lastTransitionTime?: string;
        }[];
    };
}

/** The VirtualMachines of `kubectl get virtualmachines -A -o json`, or an ExportError. */
export function virtualMachineList(list: unknown): VmObject[] {
    const items = (list as { items?: unknown } | null)?.items;
    if (!Array.isArray(items)) {
        throw new ExportError(
            "is not a VirtualMachine list (kubectl get virtualmachines -A -o json)",
        );
    }
    return items as VmObject[];
}

/** A resource's name: the last part of its URN (`urn:pulumi:<stack>::<project>::<type>::<name>`). */
const urnName = (urn: string) => urn.slice(urn.lastIndexOf("::") + 2);

/** The engine's own resources, never the program's: the stack and its default providers. */
const enginesOwn = (type: string, name: string) =>
    type === "pulumi:pulumi:Stack" ||
    (type.startsWith("pulumi:providers:") && name.startsWith("default"));

function vmStatus(vm: VmObject, source: LiveVm["source"]): Omit<LiveVm, "node"> {
    const ready = vm.status?.conditions?.find((c) => c.type === "Ready");
    const because = [ready?.reason, ready?.message].filter((s) => s).join(": ");
    return {
        vmName: vm.metadata?.name ?? "",
        namespace: vm.metadata?.namespace ?? "",
        status: vm.status?.printableStatus ?? "unknown",
        ready: ready
            ? `${ready.status}${ready.status !== "True" && because ? `: ${because}` : ""}`
            : "unknown",
        since: ready?.lastTransitionTime ?? "",
        source,
    };
}

/**
 * The live state of `plan`'s stack: `resources` are the plan's own (type and name, as the offline
 * evaluation registers them), `exported` the stack's state, `vms` the VirtualMachines read from
 * the host cluster. A VM the host cluster lists is shown as it lists it; one it does not
 * list, as the state last saw it.
 */
export function liveStateView(
    stack: string,
    plan: StackPlan,
    resources: { type: string; name: string }[],
    exported: ExportedState,
    vms?: VmObject[],
): LiveStateView {
    const state = exported.resources.filter(
        (r): r is ExportedResource & { urn: string; type: string } =>
            typeof r?.urn === "string" &&
            typeof r?.type === "string" &&
            !enginesOwn(r.type, urnName(r.urn)),
    );
    const key = (type: string, name: string) => `${type} ${name}`;
    const planned = new Set(resources.map((r) => key(r.type, r.name)));
    const deployed = new Set(state.map((r) => key(r.type, urnName(r.urn))));
    const live = new Map(
        (vms ?? []).map((vm) => [`${vm.metadata?.namespace}/${vm.metadata?.name}`, vm]),
    );
    const nodeOf = new Map(
        plan.clusters.flatMap((c) =>
            c.nodes.map((n) => [`${n.namespace}/${n.vmName}`, `${c.name}/${n.name}`]),
        ),
    );
    const fromState = state
        .filter((r) => r.type === typeTokens.virtualMachine)
        .map((r) => r.outputs as VmObject);
    const names = [
        ...new Set([
            ...fromState.map((vm) => `${vm.metadata?.namespace}/${vm.metadata?.name}`),
            ...[...live.keys()].filter(
                (k) =>
                    nodeOf.has(k) ||
                    live.get(k)?.metadata?.labels?.[labels.site] === plan.site.name,
            ),
        ]),
    ].sort(compareText);
    const liveVms = names.map((name): LiveVm => {
        const vm = live.get(name);
        const status = vm
            ? vmStatus(vm, "host cluster")
            : vmStatus(
                  fromState.find((s) => `${s.metadata?.namespace}/${s.metadata?.name}` === name)!,
                  "stack state",
              );
        return { node: nodeOf.get(name) ?? status.vmName, ...status };
    });
    const syncs = state.filter((r) => r.type === typeTokens.clusterSync);
    const clusters = plan.clusters.map((cluster): LiveCluster => {
        const sync = syncs.find((s) => urnName(s.urn) === resourceNames.clusterSync(cluster.name));
        const outputs = sync?.outputs as { synced?: unknown; nodes?: unknown } | undefined;
        const nodes = outputs?.nodes;
        return {
            cluster: cluster.name,
            rancherName: cluster.rancherName,
            state: !sync ? "not deployed" : outputs?.synced === true ? "active" : "not active",
            ...(Array.isArray(nodes)
                ? {
                      rancherNodes: (nodes as { hostname?: string; name?: string }[])
                          .map((n) => n.hostname ?? n.name ?? "")
                          .sort(compareText),
                  }
                : {}),
        };
    });
    return {
        stack,
        ...(exported.time ? { exportedAt: exported.time } : {}),
        inBoth: [...planned].filter((k) => deployed.has(k)).length,
        onlyInState: [...deployed].filter((k) => !planned.has(k)).sort(compareText),
        onlyInPlan: [...planned].filter((k) => !deployed.has(k)).sort(compareText),
        vms: liveVms,
        clusters,
    };
}
