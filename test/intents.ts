import { Allocations, RawStackConfig } from "../lib/config";
import { syntheticStack } from "../offline/synthetic";

/** Shared builders of the intent and placement tests: a site of hosts and intent clusters. */

export interface HostSpec {
    name: string;
    cpu?: number;
    memory?: string;
    zone?: string;
    gpus?: number;
    cpuManager?: boolean;
    hugepages1Gi?: string;
}

export const gpuModel = "nvidia.com/TU104GL_Tesla_T4";

export function host(spec: HostSpec): Record<string, unknown> {
    return {
        name: spec.name,
        cpu: spec.cpu ?? 32,
        memory: spec.memory ?? "128Gi",
        ...(spec.zone === undefined ? {} : { zone: spec.zone }),
        ...(spec.cpuManager ? { labels: { "kubevirt.io/cpumanager": "true" } } : {}),
        ...(spec.gpus ? { devices: { [gpuModel]: spec.gpus } } : {}),
        ...(spec.hugepages1Gi ? { hugepages: { "1Gi": spec.hugepages1Gi } } : {}),
    };
}

/** A worker pool of `count` nodes, 2 cores and 4Gi each unless `extra` says otherwise. */
export function pool(name: string, count: number, extra: Record<string, unknown> = {}) {
    return { name, count, cpu: 2, memory: "4Gi", disk: "20Gi", ...extra };
}

/** An intent cluster on the synthetic site's lab network. */
export function intentCluster(
    name: string,
    workers: Record<string, unknown>[],
    extra: Record<string, unknown> = {},
): Record<string, unknown> {
    return {
        name,
        type: "k3s",
        kubernetesVersion: "v1.31.5+k3s1",
        intent: { image: "ubuntu-jammy", networks: ["lab"], workers, ...extra },
    };
}

/** A cluster of one hand-written node with every role, 2 cores and 4Gi unless `node` says. */
export function handCluster(
    name: string,
    node: Record<string, unknown> = {},
): { name: string; type: string; kubernetesVersion: string; nodes: Record<string, unknown>[] } {
    return {
        name,
        type: "k3s",
        kubernetesVersion: "v1.31.5+k3s1",
        nodes: [
            {
                name: "solo",
                roles: ["controlplane", "etcd", "worker"],
                cpu: 2,
                memory: "4Gi",
                disk: "20Gi",
                image: "ubuntu-jammy",
                networks: ["lab"],
                ...node,
            },
        ],
    };
}

/** The synthetic site with `hosts` and `clusters`, and a record when given. */
export function siteWith(
    hosts: Record<string, unknown>[],
    clusters: unknown[],
    allocations?: Allocations,
): RawStackConfig {
    const raw = syntheticStack([]) as { site: Record<string, unknown> } & RawStackConfig;
    return {
        ...raw,
        site: { ...raw.site, hosts },
        clusters,
        ...(allocations === undefined ? {} : { allocations }),
    };
}
