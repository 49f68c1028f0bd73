/** Every default of the stack config, in one place; docs/ and the Args docs quote these. */
export const defaults = {
    /** Namespace of the golden image DataVolumes. */
    imageNamespace: "edge-images",
    /** Namespace of the site's NetworkAttachmentDefinitions. */
    networkNamespace: "edge-networks",
    /** Prefix length of an auto-assigned pod CIDR. */
    podCidrPrefix: 16,
    /** Prefix length of an auto-assigned service CIDR. */
    serviceCidrPrefix: 16,
    /** Login of the cloud image's default user, who gets the SSH keys. */
    sshUser: "ubuntu",
    /** Size of a golden image volume when the image is given as a bare URL. */
    imageSize: "10Gi",
    /** Guest family of an image, which decides how cloud-init renders its network-data. */
    imageOs: "ubuntu",
    /** CNI per distribution when a cluster names none. */
    cni: { k3s: "flannel", rke2: "canal" },
    /** An intent's servers when it says nothing of them. */
    intentServers: { count: 1, worker: false, cpu: 2, memory: "4Gi", disk: "20Gi" },
    /** How an intent's pools spread when it says nothing: one node per host before a second. */
    intentSpread: { by: "host", maxSkew: 1 },
    /** The site's KubeVirt minor version when the stack says nothing. */
    kubevirtVersion: "1.9",
} as const;

/** CNIs each distribution can install through Rancher's machineGlobalConfig. */
export const supportedCnis = {
    k3s: ["flannel", "none"],
    rke2: ["canal", "calico", "cilium", "flannel", "none"],
} as const;

/** Smallest VM memory worth booting: k3s itself documents 512Mi as its floor, plus the OS. */
export const minimumNodeMemory = "1Gi";

/** Node port range of a stock kube-apiserver. */
export const nodePortRange = { first: 30000, last: 32767 } as const;

/**
 * The guest side of KubeVirt's masquerade binding: fixed unless the VM sets vmNetworkCIDR. Its
 * DHCP server leases the guest the second address, the first being the gateway.
 */
export const masqueradeNetwork = {
    cidr: "10.0.2.0/24",
    gateway: "10.0.2.1",
    guest: "10.0.2.2",
    /** The guest's address as it configures it, statically (see renderNetworkData). */
    guestAddress: "10.0.2.2/24",
} as const;

/** Routing table of replies that leave through the pod network (see renderNetworkData). */
export const podReplyTable = 100;

/**
 * How a node retries Rancher's registration: a round of attempts with doubling waits (about 18
 * minutes, inside `nodeJoinWait`'s 30 minutes with boot and installs), then systemd starts
 * another round after `restartSeconds`, for as long as it takes, across reboots.
 */
export const registrationRetry = {
    attempts: 8,
    firstDelaySeconds: 15,
    maxDelaySeconds: 300,
    restartSeconds: 300,
};

/**
 * How `pulumi up` waits for a cluster's nodes to join before its ClusterSync: Rancher is asked
 * for each downstream Node every `pollMs` until `timeoutMs` has passed (see runtime/nodeJoin.ts).
 */
export const nodeJoinWait = { pollMs: 10_000, timeoutMs: 30 * 60 * 1000 } as const;

/** Per-node pod subnet size that k3s and rke2 carve from the cluster CIDR. */
export const nodePodCidrPrefix = 24;

/** How many times, 5 s apart, ClusterSync must see a cluster active before `pulumi up` goes on. */
export const clusterSyncStateConfirm = 6;

/**
 * How many hosts placement's search tries, in all, before it gives up on a site whose new nodes
 * the first attempt could not place: enough for sites of tens of hosts and nodes, and a second.
 */
export const placementSearchSteps = 200_000;

/** A gateway VM's size: it forwards packets and runs WireGuard, nothing else. */
export const gatewaySize = { cpu: 1, memory: "1Gi" } as const;

/**
 * A gateway's tunnel timing, in seconds, from WireGuard's timers (wireguard-go device/constants.go):
 * a session is rekeyed after 120 s (RekeyAfterTime; PersistentKeepalive keeps traffic going so it
 * is) and rejected after 180 s (RejectAfterTime), so a peer whose last handshake is older than 180 s
 * carries nothing. Its endpoint is set again from its DNS name once the handshake is older than
 * 135 s, as wireguard-tools' contrib/reresolve-dns does. The timer checks every `check` seconds.
 */
export const tunnelTiming = { check: 10, reresolveAfter: 135, freshFor: 180 } as const;

/** One KubeVirt minor version's rules for the memory of a VM's launcher pod, in bytes. */
export interface LauncherRules {
    /** virt-launcher-monitor, virt-launcher, virtlogd, virtqemud and QEMU. */
    components: number;
    /** The VGA device KubeVirt attaches unless autoattachGraphicsDevice is false. */
    video: number;
    /** Added when the VM has dedicatedCpuPlacement. */
    dedicatedCpu: number;
    /** The guest-console-log container's request, and with dedicated CPUs its limit; absent before 1.1. */
    consoleLog?: { shared: number; dedicated: number };
    /** The guest-console-log container's CPU request in millicores, as `consoleLog`. */
    consoleLogCpu?: { shared: number; dedicated: number };
    /**
     * Whether KubeVirt's defaults copy memory.guest into the VMI's requests.memory, which the
     * page-table term is taken from; from 1.7 the launcher's renderer does, after the overhead.
     */
    pageTablesOfGuest: boolean;
}

const Mi = 2 ** 20;
const M = 10 ** 6;

/** What every version below adds alike (kubevirt GetMemoryOverhead and addProbeOverheads). */
export const launcherCommon = {
    perVcpu: 8 * Mi,
    ioThread: 8 * Mi,
    /** Any GPU, host device or SR-IOV interface: all guest RAM locked for DMA. */
    vfio: 1024 * Mi,
    /** Exec probes only: virt-probe once, and each exec probe. */
    execProbes: 100 * Mi,
    perExecProbe: 10 * Mi,
    /** requests.memory / 512, of requests.memory rounded up to a kilobyte (Quantity.ScaledValue). */
    pageTableDivisor: 512,
    /** vCPUs per core a VM without requests.cpu asks for (pkg/virt-config, DefaultCPUAllocationRatio). */
    cpuAllocationRatio: 10,
} as const;

const v1_0: LauncherRules = {
    // 25Mi + 100Mi + 20Mi + 35Mi + 30Mi (kubevirt pkg/virt-controller/services/template.go).
    components: 210 * Mi,
    video: 16 * Mi,
    dedicatedCpu: 0,
    pageTablesOfGuest: true,
};
// pkg/virt-controller/services/serialconsolelog.go: 35M and 5m requested; with dedicated CPUs
// its limits, 60M and 15m, as requests.
const v1_1 = {
    ...v1_0,
    dedicatedCpu: 100 * Mi,
    consoleLog: { shared: 35 * M, dedicated: 60 * M },
    consoleLogCpu: { shared: 5, dedicated: 15 },
};
// virtlogd 25Mi and virtqemud 40Mi.
const v1_5 = { ...v1_1, components: 220 * Mi };
const v1_6 = { ...v1_5, video: 32 * Mi };
// pkg/defaults/defaults.go no longer sets requests.memory (WithMemoryRequests in renderresources.go).
const v1_7 = { ...v1_6, pageTablesOfGuest: false };

/**
 * The launcher pod's memory by KubeVirt minor version, read in each release's sources: the
 * overhead of GetMemoryOverhead (pkg/virt-controller/services/renderresources.go up to 1.7,
 * pkg/hypervisor/kvm/hypervisorbackend.go from 1.8), the defaults that set the VMI's
 * requests.memory, and the guest-console-log container (serialconsolelog.go). Assumes KubeVirt's
 * default configuration: no additionalGuestMemoryOverheadRatio, memory overcommit 100%, serial
 * console log on, x86_64.
 */
export const kubevirtLauncher = {
    "1.0": v1_0,
    "1.1": v1_1,
    "1.2": v1_1,
    "1.3": v1_1,
    "1.4": v1_1,
    "1.5": v1_5,
    "1.6": v1_6,
    "1.7": v1_7,
    "1.8": v1_7,
    "1.9": v1_7,
} as const satisfies Record<string, LauncherRules>;

export type KubevirtVersion = keyof typeof kubevirtLauncher;
