/** Every default of the stack config, in one place; the README and the Args docs quote these. */
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
 * minutes, inside the VM's 30-minute create timeout with boot and installs), then systemd starts
 * another round after `restartSeconds`, for as long as it takes, across reboots.
 */
export const registrationRetry = {
    attempts: 8,
    firstDelaySeconds: 15,
    maxDelaySeconds: 300,
    restartSeconds: 300,
};

/** Per-node pod subnet size that k3s and rke2 carve from the cluster CIDR. */
export const nodePodCidrPrefix = 24;

/** How many times, 5 s apart, ClusterSync must see a cluster active before `pulumi up` goes on. */
export const clusterSyncStateConfirm = 6;

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

/**
 * What KubeVirt adds to a VM's launcher pod on top of its guest memory, as placement counts it
 * (kubevirt pkg/hypervisor/kvm/hypervisorbackend.go, GetMemoryOverhead): virt-launcher, virtlogd,
 * virtqemud, QEMU and the monitor (240Mi), an IOThread (8Mi), the video device (32Mi), the exec
 * readiness probe (100Mi and 10Mi per probe), 8Mi per vCPU, page tables of 1/512 of the guest
 * memory, 1Gi when a device is passed through with VFIO, and 100Mi for dedicated CPUs.
 */
export const vmMemoryOverhead = {
    fixedMi: 240 + 8 + 32 + 100 + 10,
    perCpuMi: 8,
    pageTableDivisor: 512,
    vfioMi: 1024,
    dedicatedCpuMi: 100,
} as const;
