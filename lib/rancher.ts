import { parse, stringify } from "yaml";
import { ClusterType } from "./config";

export interface MachineGlobalConfigArgs {
    type: ClusterType;
    cni: string;
    podCidr: string;
    serviceCidr: string;
    clusterDns: string;
    tlsSans: string[];
}

/** The k3s/rke2 server config Rancher applies to every node, as the YAML ClusterV2 expects. */
export function machineGlobalConfig(args: MachineGlobalConfigArgs): string {
    const config = {
        // k3s bundles flannel and takes no `cni` key; rke2 installs the named CNI chart.
        ...(args.type === "rke2" ? { cni: args.cni } : {}),
        ...(args.type === "k3s" && args.cni === "none" ? { "flannel-backend": "none" } : {}),
        "cluster-cidr": args.podCidr,
        "service-cidr": args.serviceCidr,
        "cluster-dns": args.clusterDns,
        ...(args.tlsSans.length > 0 ? { "tls-san": args.tlsSans } : {}),
    };
    return stringify(config);
}

/** Where the distribution writes its admin kubeconfig on a server node. */
export function adminKubeconfigPath(type: ClusterType): string {
    return type === "k3s" ? "/etc/rancher/k3s/k3s.yaml" : "/etc/rancher/rke2/rke2.yaml";
}

/**
 * Points every cluster entry of a node's admin kubeconfig (which says https://127.0.0.1:6443) at
 * an address reachable from outside the node.
 */
export function rewriteKubeconfigServer(kubeconfig: string, server: string): string {
    const document = parse(kubeconfig) as { clusters?: { cluster?: { server?: string } }[] } | null;
    if (!document || !Array.isArray(document.clusters) || document.clusters.length === 0) {
        throw new Error("the admin kubeconfig read from the node has no clusters");
    }
    for (const entry of document.clusters) {
        if (entry.cluster) {
            entry.cluster.server = server;
        }
    }
    return stringify(document);
}
