import { stringify } from "yaml";
import { Distribution } from "./versions";

export interface MachineGlobalConfigArgs {
    type: Distribution;
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
            // Cilium takes the node IP from the Node's InternalIP; its devices would include the
            // pod NIC.
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
