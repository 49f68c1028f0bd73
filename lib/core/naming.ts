import { sha256Of } from "./bytes";

/** Prefix of every label and annotation this project sets; `.testbed` is not a public suffix. */
export const labelPrefix = "edge.testbed";

export const labels = {
    site: `${labelPrefix}/site`,
    cluster: `${labelPrefix}/cluster`,
    node: `${labelPrefix}/node`,
    /** Set to "true" on control-plane VMs so the direct API Service can select them. */
    controlplane: `${labelPrefix}/controlplane`,
    /** On a gateway VM: the interconnect it serves. */
    interconnect: `${labelPrefix}/interconnect`,
} as const;

/** Multus' annotation naming the device plugin resource a NAD's interfaces need, one each. */
export const nadResourceAnnotation = "k8s.v1.cni.cncf.io/resourceName";

/** Well-known labels of the host cluster's nodes that placement reads and VMs select on. */
export const hostLabels = {
    hostname: "kubernetes.io/hostname",
    zone: "topology.kubernetes.io/zone",
    /**
     * virt-handler sets it "true" on hosts whose kubelet runs the static CPU manager policy when
     * the CPUManager feature gate is on, and virt-controller adds it to the nodeSelector of a VM
     * with dedicated CPUs (kubevirt pkg/virt-controller/services/nodeselectorrenderer.go).
     */
    cpuManager: "kubevirt.io/cpumanager",
    /** What virt-controller selected on before KubeVirt 1.8, which still sets it alongside. */
    deprecatedCpuManager: "cpumanager",
} as const;

/**
 * The label a pinned VM's launcher pod selects its host by under KubeVirt `version` ("1.9"):
 * v1.CPUManager in nodeselectorrenderer.go, `cpumanager` up to 1.7, `kubevirt.io/cpumanager`
 * from 1.8.
 */
export function pinnedHostLabel(version: string): string {
    return Number(version.split(".")[1]) >= 8
        ? hostLabels.cpuManager
        : hostLabels.deprecatedCpuManager;
}

export const annotations = {
    /** A node's root disk, on its DataVolume and VM: a change replaces both (`rootDiskIdentity`). */
    rootDisk: `${labelPrefix}/root-disk`,
    /** A cluster's distribution and CIDRs; changing them replaces the cluster and its nodes. */
    clusterIdentity: `${labelPrefix}/cluster-identity`,
    /** "true" on the VMs of a site with `site.protect`, which the removal hook reads back. */
    protected: `${labelPrefix}/protected`,
} as const;

/** What a cluster cannot change without being rebuilt, as one annotation value. */
export function clusterIdentity(type: string, podCidr: string, serviceCidr: string): string {
    return `${type} pods=${podCidr} services=${serviceCidr}`;
}

/**
 * What a node's root disk is: every field of its DataVolume's spec, and the roles the node
 * registered with, which k3s/rke2 install onto it and never change on a running node.
 */
export interface RootDiskSpec {
    sourceNamespace: string;
    image: string;
    size: string;
    storageClass?: string;
    roles: string[];
    /**
     * The host an intent placed the node on: a disk on node-local storage cannot follow its VM
     * elsewhere, so moving a node replaces both.
     */
    host?: string;
}

/**
 * The `root-disk` annotation of a node's DataVolume and VM, which both replace on it: whatever
 * replaces the disk (a DataVolume's spec is immutable) replaces the VM that boots from it too.
 */
export function rootDiskIdentity(disk: RootDiskSpec): string {
    const storageClass = disk.storageClass ?? "(cluster default)";
    const host = disk.host === undefined ? "" : ` host=${disk.host}`;
    return `image=${disk.sourceNamespace}/${disk.image} size=${disk.size} storageClass=${storageClass} roles=${disk.roles.join(",")}${host}`;
}

/** What replaces a node's VM when it changes: its namespace and its root disk. */
export function vmIdentity(namespace: string, disk: RootDiskSpec): string {
    return `namespace=${namespace} ${rootDiskIdentity(disk)}`;
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
    const digest = sha256Of(`${site}/${cluster}/${node}/${network}`);
    const octets = Array.from(digest.subarray(0, 6));
    // Set the locally administered bit and clear the multicast bit.
    octets[0] = (octets[0] & 0xfc) | 0x02;
    return octets.map((o) => o.toString(16).padStart(2, "0")).join(":");
}

/**
 * Pulumi type tokens: ours (never renamed without `aliases`, or every resource is replaced), and
 * the providers' that the program, the policy pack, the offline plan and the tests refer to.
 */
export const typeTokens = {
    siteNetwork: "edge:index:SiteNetwork",
    edgeCluster: "edge:index:EdgeCluster",
    kubevirtNode: "edge:index:KubevirtNode",
    interconnectGateway: "edge:index:InterconnectGateway",
    namespace: "kubernetes:core/v1:Namespace",
    secret: "kubernetes:core/v1:Secret",
    service: "kubernetes:core/v1:Service",
    nad: "kubernetes:k8s.cni.cncf.io/v1:NetworkAttachmentDefinition",
    dataVolume: "kubernetes:cdi.kubevirt.io/v1beta1:DataVolume",
    virtualMachine: "kubernetes:kubevirt.io/v1:VirtualMachine",
    clusterV2: "rancher2:index/clusterV2:ClusterV2",
    clusterSync: "rancher2:index/clusterSync:ClusterSync",
    remoteCommand: "command:remote:Command",
    hostKey: "tls:index/privateKey:PrivateKey",
    stack: "pulumi:pulumi:Stack",
    k8sProvider: "pulumi:providers:kubernetes",
} as const;

/** Pulumi names of every resource the components declare, and of the site's shared hook. */
export const resourceNames = {
    hostProvider: (site: string) => `${site}-host`,
    namespace: (site: string, namespace: string) => `${site}-ns-${namespace}`,
    nad: (site: string, network: string) => `${site}-nad-${network}`,
    goldenImage: (site: string, image: string) => `${site}-image-${image}`,
    apiService: (cluster: string) => `${cluster}-api`,
    clusterSync: (cluster: string) => `${cluster}-sync`,
    breakGlass: (cluster: string) => `${cluster}-break-glass`,
    node: (cluster: string, node: string) => `${cluster}-${node}`,
    cloudInit: (node: string) => `${node}-cloudinit`,
    rootDisk: (node: string) => `${node}-rootdisk`,
    hostKey: (node: string) => `${node}-hostkey`,
    /** An interconnect's gateway VM at a site, and its component. */
    gateway: (site: string, interconnect: string) => `${site}-${interconnect}-gw`,
    /** The beforeDelete hook of every node VM; its name must never change (see components). */
    nodeRemovalHook: "edge-node-removal",
    /** The beforeCreate hook of every ClusterSync: `up` waits until each node joined. */
    nodeJoinHook: "edge-node-join",
} as const;

/** The pool of an intent's servers; worker pools may not take its name. */
export const serverPoolName = "server";

/** The node name an intent gives the `number`th node of `pool`; it never changes once given. */
export function intentNodeName(pool: string, number: number): string {
    return `${pool}-${number}`;
}

/** The name of the VM's pod network interface; a site network may not take it. */
export const podInterfaceName = "pod";

/** Where a node's registration script leaves its marker once Rancher's installer succeeded. */
export const registrationMarker = "/var/lib/edge-testbed/registered";

/**
 * The guest's readiness socket: systemd listens on it, on the pod network's guest address, only
 * once the node is registered (on a gateway, while its tunnel has a recent handshake). The VM's
 * tcpSocket readiness probe connects to it through the masquerade binding, so readiness needs no
 * guest agent. The port is none that k3s, rke2 or their CNIs listen on.
 */
export const readinessSocket = {
    unit: "edge-ready.socket",
    service: "edge-ready@.service",
    port: 10290,
} as const;

/** Where a gateway keeps its marker while its tunnel has a recent handshake; its readiness. */
export const tunnelMarker = "/var/lib/edge-testbed/tunnel-up";

/**
 * On a gateway: the script its timer runs to keep the tunnel up (peers' endpoints from their DNS
 * names, wg-quick again when the interface is gone) and readiness in step with the handshakes, and
 * the file of each peer's public key and endpoint it reads.
 */
export const tunnelKeeper = {
    script: "/usr/local/sbin/edge-tunnel",
    service: "edge-tunnel.service",
    timer: "edge-tunnel.timer",
    endpoints: (interfaceName: string) => `/etc/wireguard/${interfaceName}.endpoints`,
} as const;

/** Where cloud-init writes the node's registration script. */
export const registrationScript = "/usr/local/sbin/edge-register";

/** The systemd service that runs the registration script until it succeeds, across reboots. */
export const registrationService = "edge-register.service";

/**
 * Where NetworkManager guests get their pod-network script, and the service that runs it: what
 * cloud-init's NetworkManager renderer cannot write (no IPv6, the reply policy route).
 */
export const podNetworkScript = "/usr/local/sbin/edge-pod-network";
export const podNetworkService = "edge-pod-network.service";

/** Name of the Role in the image namespace that lets cluster namespaces clone golden images. */
export const cloneSourceRoleName = "edge-clone-source";
