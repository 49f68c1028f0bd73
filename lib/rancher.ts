import { parse, stringify } from "yaml";
import { ClusterType } from "./config";
import { base64Bytes, bytesBase64, utf8Bytes, utf8Text } from "./bytes";

export interface MachineGlobalConfigArgs {
    type: ClusterType;
    cni: string;
    podCidr: string;
    serviceCidr: string;
    clusterDns: string;
    tlsSans: string[];
    /** The guest interface that holds the node address: flannel must not pick the pod NIC. */
    nodeInterface: string;
}

/** The k3s/rke2 server config Rancher applies to every node, as the YAML ClusterV2 expects. */
export function machineGlobalConfig(args: MachineGlobalConfigArgs): string {
    const config = {
        // k3s bundles flannel and takes no `cni` key; rke2 installs the named CNI chart.
        ...(args.type === "rke2" ? { cni: args.cni } : {}),
        ...(args.type === "k3s" && args.cni === "none" ? { "flannel-backend": "none" } : {}),
        // k3s's flannel takes the default-route interface unless told (k3s pkg/agent/flannel).
        ...(args.type === "k3s" && args.cni === "flannel"
            ? { "flannel-iface": args.nodeInterface }
            : {}),
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

/** The PEM text of base64 `caBase64`; empty when it is not base64. */
function caText(caBase64: string): string {
    try {
        return utf8Text(base64Bytes(caBase64));
    } catch {
        return "";
    }
}

/**
 * Rancher's kubeconfig with `caBase64` (the cluster's CA, base64 PEM as Rancher reports it) on
 * every cluster entry that points at `server`: the direct API, whose certificate no public CA
 * signs. `matched` says whether there was one.
 */
export function addCertificateAuthority(
    kubeconfig: string,
    server: string,
    caBase64: string,
): { kubeconfig: string; matched: boolean } {
    const document = parse(kubeconfig) as {
        clusters?: { cluster?: Record<string, unknown> }[];
    } | null;
    const ca = caText(caBase64);
    const entries = (typeof document === "object" && document?.clusters) || [];
    const direct = entries.filter((entry) => entry.cluster?.server === server);
    if (direct.length === 0 || !ca.includes("BEGIN CERTIFICATE")) {
        return { kubeconfig, matched: false };
    }
    for (const entry of direct) {
        entry.cluster!["certificate-authority-data"] = bytesBase64(utf8Bytes(ca));
    }
    return { kubeconfig: stringify(document), matched: true };
}

/**
 * The rke2 CNI chart values that make the CNI use the node's site-network address. Every VM's first
 * NIC is the pod network, whose address (10.0.2.2) is the same on every node; auto-detection
 * would take it there (calico and canal's `first-found`), so each CNI is told explicitly.
 */
export function cniChartValues(cni: string, nodeInterface: string): Record<string, unknown> {
    switch (cni) {
        case "calico":
            // tigera/operator api/v1/installation_types.go: NodeAddressAutodetection.kubernetes.
            return {
                "rke2-calico": {
                    installation: {
                        calicoNetwork: {
                            nodeAddressAutodetectionV4: { kubernetes: "NodeInternalIP" },
                        },
                    },
                },
            };
        case "canal":
            // rke2-charts packages/rke2-canal: calico's IP_AUTODETECTION_METHOD and FLANNELD_IFACE.
            return {
                "rke2-canal": {
                    calico: { ipAutoDetectionMethod: "kubernetes-internal-ip" },
                    flannel: { iface: nodeInterface },
                },
            };
        case "cilium":
            // Cilium takes the node IP from the Node's InternalIP; its devices would include the pod NIC.
            return { "rke2-cilium": { devices: [nodeInterface] } };
        case "flannel":
            // The chart has no interface value; Helm replaces lists, so its default args repeat.
            return {
                "rke2-flannel": {
                    flannel: {
                        args: ["--ip-masq", "--kube-subnet-mgr", `--iface=${nodeInterface}`],
                    },
                },
            };
        default:
            return {};
    }
}

/** `rkeConfig.chartValues` of an rke2 cluster, as the YAML ClusterV2 expects; empty for none. */
export function chartValues(cni: string, nodeInterface: string): string | undefined {
    const values = cniChartValues(cni, nodeInterface);
    return Object.keys(values).length === 0 ? undefined : stringify(values);
}

/** Per CNI, what an rke2 release must offer, and the oldest release per minor that does. */
export const cniMinimumVersions: Record<
    string,
    { offers: string; minimums: { minor: number; patch: number }[] }
> = {
    // Calico 3.22 (tigera-operator 1.25) brought NodeInternalIP; rke2 first shipped it in v1.23.4.
    calico: {
        offers: "calico's NodeInternalIP address detection",
        minimums: [{ minor: 23, patch: 4 }],
    },
    // Calico 3.22.2 brought kubernetes-internal-ip to canal in these rke2 releases.
    canal: {
        offers: "canal's kubernetes-internal-ip address detection",
        minimums: [
            { minor: 22, patch: 10 },
            { minor: 23, patch: 7 },
            { minor: 24, patch: 1 },
        ],
    },
    // rke2 pkg/cli/cmds: `cni: flannel` is accepted from these releases.
    flannel: {
        offers: "cni: flannel",
        minimums: [
            { minor: 26, patch: 14 },
            { minor: 27, patch: 11 },
            { minor: 28, patch: 7 },
            { minor: 29, patch: 2 },
            { minor: 30, patch: 0 },
        ],
    },
};

/**
 * Why an rke2 version (`v1.31.5+rke2r1`) cannot run the CNI as planned, or undefined when it can:
 * it needs at least the listed patch of its minor, or any later minor than the last listed.
 */
export function cniVersionProblem(cni: string, version: string): string | undefined {
    const requirement = cniMinimumVersions[cni];
    const match = /^v1\.(\d+)\.(\d+)\+/.exec(version);
    if (!requirement || !match) {
        return undefined;
    }
    const [minor, patch] = [Number(match[1]), Number(match[2])];
    const { minimums } = requirement;
    const sameMinor = minimums.find((m) => m.minor === minor);
    const supported = sameMinor
        ? patch >= sameMinor.patch
        : minor > Math.max(...minimums.map((m) => m.minor));
    if (supported) {
        return undefined;
    }
    const oldest = minimums.map((m) => `v1.${m.minor}.${m.patch}+rke2r1`).join(", ");
    return `rke2 ${version} predates ${requirement.offers}; the oldest releases with it are ${oldest} (per minor), and every later minor`;
}
