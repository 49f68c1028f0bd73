import { createHash } from "crypto";

/** Prefix of every label and annotation this project sets; `.testbed` is not a public suffix. */
export const labelPrefix = "edge.testbed";

export const labels = {
    site: `${labelPrefix}/site`,
    cluster: `${labelPrefix}/cluster`,
    node: `${labelPrefix}/node`,
    /** Set to "true" on control-plane VMs so the direct API Service can select them. */
    controlplane: `${labelPrefix}/controlplane`,
} as const;

export const annotations = {
    /** The image and size a VM's root disk was cloned with; changing it replaces the VM. */
    rootDisk: `${labelPrefix}/root-disk`,
    /** A cluster's distribution and CIDRs; changing them replaces the cluster and its nodes. */
    clusterIdentity: `${labelPrefix}/cluster-identity`,
} as const;

/** What a cluster cannot change without being rebuilt, as one annotation value. */
export function clusterIdentity(type: string, podCidr: string, serviceCidr: string): string {
    return `${type} pods=${podCidr} services=${serviceCidr}`;
}

/** Kubernetes name of a node's VM, DataVolume and cloud-init Secret: unique across the site. */
export function vmName(cluster: string, node: string): string {
    return `${cluster}-${node}`;
}

/** Rancher's cluster name: one Rancher serves many sites, so the site keeps names apart. */
export function rancherClusterName(site: string, cluster: string): string {
    return `${site}-${cluster}`;
}

/**
 * A stable, locally administered unicast MAC for one interface of one node. Derived from the
 * interface's identity so that it survives re-runs, reordering and the addition of other nodes.
 */
export function interfaceMac(site: string, cluster: string, node: string, network: string): string {
    const digest = createHash("sha256").update(`${site}/${cluster}/${node}/${network}`).digest();
    const octets = Array.from(digest.subarray(0, 6));
    // Set the locally administered bit and clear the multicast bit.
    octets[0] = (octets[0] & 0xfc) | 0x02;
    return octets.map((o) => o.toString(16).padStart(2, "0")).join(":");
}
