import { RawStackConfig } from "../lib/config";
import { planStack } from "../lib/plan";

/** A cluster of the synthetic stack: its name and how many nodes it has. */
export interface SyntheticCluster {
    name: string;
    nodes: number;
}

/**
 * A site config with no pins at all, so that every CIDR and IP comes from the planner: the
 * hardest case for address stability. Sized by its clusters; two site networks per node.
 */
export function syntheticStack(clusters: SyntheticCluster[]): RawStackConfig {
    return {
        site: {
            name: "synthetic",
            dnsServers: ["172.16.0.53"],
            hostNodeIps: ["172.16.0.11"],
            reservedCidrs: ["10.42.0.0/16", "10.43.0.0/16", "172.16.0.0/24"],
            clusterCidrPool: "10.128.0.0/9",
            podCidrPrefix: 20,
            serviceCidrPrefix: 22,
            sshAuthorizedKeys: [
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINsL/4OAxrJsNjLyutJehSkC65kVE4R357h3S360fiKd ops@example",
            ],
            networks: [
                { name: "lab", bridge: "br0", cidr: "192.168.0.0/20", gateway: "192.168.0.1" },
                {
                    name: "data",
                    bridge: "br1",
                    vlan: 30,
                    cidr: "172.20.0.0/20",
                    gateway: "172.20.0.1",
                },
            ],
        },
        images: {
            "ubuntu-jammy":
                "https://cloud-images.ubuntu.com/jammy/current/jammy-server-cloudimg-amd64.img",
        },
        clusters: clusters.map((cluster) => ({
            name: cluster.name,
            type: "k3s",
            kubernetesVersion: "v1.31.5+k3s1",
            nodes: Array.from({ length: cluster.nodes }, (_, i) => ({
                name: `node${i}`,
                roles: i === 0 ? ["controlplane", "etcd", "worker"] : ["worker"],
                cpu: 2,
                memory: "4Gi",
                disk: "20Gi",
                image: "ubuntu-jammy",
                networks: ["lab", "data"],
            })),
        })),
    };
}

/** The benchmarks' clusters have this many nodes each. */
export const syntheticNodesPerCluster = 5;

/** The synthetic site of `vms` VMs: clusters c0, c1, ... of five nodes each. */
export function syntheticSite(vms: number): RawStackConfig {
    return syntheticStack(
        Array.from({ length: vms / syntheticNodesPerCluster }, (_, i) => ({
            name: `c${i}`,
            nodes: syntheticNodesPerCluster,
        })),
    );
}

/** A site's stack config as `npm run lock` leaves it: its `edge:` keys and allocation record. */
export function lockedStackConfig(site: RawStackConfig): Record<string, unknown> {
    return {
        "edge:site": site.site,
        "edge:images": site.images,
        "edge:clusters": site.clusters,
        "edge:allocations": planStack(site).plan.allocations,
    };
}
