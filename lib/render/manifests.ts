import { cloneSourceRoleName, nadResourceAnnotation, readinessSocket } from "../core";

/**
 * Narrow types for the custom resources this project emits, checked against the upstream schemas
 * in the tests, and the pure functions that build them.
 */

export interface ObjectMeta {
    name: string;
    namespace: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
}

export interface NetworkAttachmentDefinition {
    apiVersion: "k8s.cni.cncf.io/v1";
    kind: "NetworkAttachmentDefinition";
    metadata: ObjectMeta;
    spec: { config: string };
}

export interface StorageSpec {
    storageClassName?: string;
    resources: { requests: { storage: string } };
}

export interface DataVolume {
    apiVersion: "cdi.kubevirt.io/v1beta1";
    kind: "DataVolume";
    metadata: ObjectMeta;
    spec: {
        source:
            | { http: { url: string; secretRef?: string } }
            | { pvc: { namespace: string; name: string } };
        storage: StorageSpec;
    };
}

export interface VmDisk {
    name: string;
    disk: { bus: "virtio" };
    bootOrder?: number;
}

export interface VmInterface {
    name: string;
    macAddress: string;
    masquerade?: Record<string, never>;
    bridge?: Record<string, never>;
    sriov?: Record<string, never>;
}

/** A GPU or other host device passed through, by the resource name its device plugin serves. */
export interface VmHostDevice {
    name: string;
    deviceName: string;
}

export interface VmNetwork {
    name: string;
    pod?: Record<string, never>;
    multus?: { networkName: string };
}

export interface VmVolume {
    name: string;
    dataVolume?: { name: string };
    cloudInitNoCloud?: {
        secretRef: { name: string };
        networkDataSecretRef: { name: string };
    };
}

/**
 * The kubelet connects to the launcher pod's IP, which KubeVirt's masquerade binding forwards to
 * the guest (kubevirt pkg/virt-controller/services/template.go copyProbe); no guest agent.
 */
export interface ReadinessProbe {
    tcpSocket: { port: number };
    initialDelaySeconds: number;
    periodSeconds: number;
    failureThreshold: number;
}

export interface VirtualMachine {
    apiVersion: "kubevirt.io/v1";
    kind: "VirtualMachine";
    metadata: ObjectMeta;
    spec: {
        runStrategy: "Always";
        template: {
            metadata: { labels: Record<string, string> };
            spec: {
                hostname: string;
                nodeSelector?: Record<string, string>;
                dnsPolicy: "None";
                dnsConfig: { nameservers: string[] };
                domain: {
                    cpu: {
                        cores: number;
                        sockets: 1;
                        threads: 1;
                        dedicatedCpuPlacement?: true;
                        isolateEmulatorThread?: true;
                    };
                    memory: { guest: string; hugepages?: { pageSize: string } };
                    resources?: { requests: { cpu: string } };
                    devices: {
                        disks: VmDisk[];
                        interfaces: VmInterface[];
                        gpus?: VmHostDevice[];
                        hostDevices?: VmHostDevice[];
                    };
                };
                networks: VmNetwork[];
                volumes: VmVolume[];
                readinessProbe: ReadinessProbe;
            };
        };
    };
}

/** Keeps a completed DataVolume object; garbage collection would make Pulumi recreate it. */
const retainAnnotation = { "cdi.kubevirt.io/storage.deleteAfterCompletion": "false" };

export interface NadArgs {
    name: string;
    namespace: string;
    vlan?: number;
    /** A Linux bridge on the hosts, or else... */
    bridge?: string;
    /** ...the SR-IOV device plugin's resource whose VFs the VMs get. */
    sriovResource?: string;
}

/**
 * A CNI attachment with no IPAM, guests setting their static addresses through cloud-init: a
 * bridge, or an SR-IOV VF. KubeVirt requests one VF of the NAD's resource per interface (kubevirt
 * pkg/network/multus/nad.go); sriov-cni leaves a VF's old VLAN unless told "vlan": 0
 * (kubevirt docs/network/sriov.md).
 */
export function networkAttachmentDefinition(args: NadArgs): NetworkAttachmentDefinition {
    const sriov = args.sriovResource !== undefined;
    const config = sriov
        ? { cniVersion: "0.3.1", name: args.name, type: "sriov", vlan: args.vlan ?? 0, ipam: {} }
        : {
              cniVersion: "0.3.1",
              name: args.name,
              type: "bridge",
              bridge: args.bridge,
              ...(args.vlan === undefined ? {} : { vlan: args.vlan }),
              ipam: {},
          };
    return {
        apiVersion: "k8s.cni.cncf.io/v1",
        kind: "NetworkAttachmentDefinition",
        metadata: {
            name: args.name,
            namespace: args.namespace,
            ...(sriov ? { annotations: { [nadResourceAnnotation]: args.sriovResource! } } : {}),
        },
        spec: { config: JSON.stringify(config) },
    };
}

function storage(size: string, storageClass: string | undefined): StorageSpec {
    return {
        ...(storageClass === undefined ? {} : { storageClassName: storageClass }),
        resources: { requests: { storage: size } },
    };
}

export interface GoldenImageArgs {
    name: string;
    namespace: string;
    url: string;
    /** Secret in the image namespace with `accessKeyId` and `secretKey` for the image server. */
    secretRef?: string;
    size: string;
    storageClass?: string;
    /** Annotations beyond CDI's, such as Pulumi's await condition. */
    annotations?: Record<string, string>;
}

/** The site's one import of a cloud image; nodes clone it instead of downloading again. */
export function goldenImageDataVolume(args: GoldenImageArgs): DataVolume {
    return {
        apiVersion: "cdi.kubevirt.io/v1beta1",
        kind: "DataVolume",
        metadata: {
            name: args.name,
            namespace: args.namespace,
            annotations: {
                // Import now, not when a first VM mounts it: nodes clone it in another namespace.
                "cdi.kubevirt.io/storage.bind.immediate.requested": "true",
                ...retainAnnotation,
                ...args.annotations,
            },
        },
        spec: {
            source: {
                http: {
                    url: args.url,
                    ...(args.secretRef === undefined ? {} : { secretRef: args.secretRef }),
                },
            },
            storage: storage(args.size, args.storageClass),
        },
    };
}

export interface RootDiskArgs {
    name: string;
    namespace: string;
    size: string;
    storageClass?: string;
    source: { namespace: string; name: string };
    labels: Record<string, string>;
    /** Annotations beyond CDI's. */
    annotations: Record<string, string>;
}

/** A node's root disk, cloned from the golden image. */
export function rootDiskDataVolume(args: RootDiskArgs): DataVolume {
    return {
        apiVersion: "cdi.kubevirt.io/v1beta1",
        kind: "DataVolume",
        metadata: {
            name: args.name,
            namespace: args.namespace,
            labels: args.labels,
            annotations: { ...retainAnnotation, ...args.annotations },
        },
        spec: {
            source: { pvc: { namespace: args.source.namespace, name: args.source.name } },
            storage: storage(args.size, args.storageClass),
        },
    };
}

export interface VirtualMachineArgs {
    name: string;
    namespace: string;
    hostname: string;
    cpu: number;
    memory: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
    nodeSelector: Record<string, string>;
    dnsServers: string[];
    podMac: string;
    /** Site networks in the node's order, each with its NAD reference and MAC. */
    bridges: { name: string; nad: string; mac: string; sriov?: boolean }[];
    rootDisk: string;
    cloudInitSecret: string;
    hardware?: VmHardware;
}

/** What a VM asks of its host beyond cores and memory. */
export interface VmHardware {
    gpus?: string[];
    hostDevices?: string[];
    dedicatedCpu?: boolean;
    isolateEmulatorThread?: boolean;
    hugepages?: string;
}

/** The hardware fields of a node's config, as its VM asks them of the host. */
export function vmHardware(node: VmHardware): VmHardware {
    return {
        gpus: node.gpus,
        hostDevices: node.hostDevices,
        dedicatedCpu: node.dedicatedCpu,
        isolateEmulatorThread: node.isolateEmulatorThread,
        hugepages: node.hugepages,
    };
}

/** Devices by resource name, each under a name unique in the VM (`gpu1`, `hostdevice1`). */
function hostDevices(prefix: string, devices: string[] | undefined): VmHostDevice[] | undefined {
    return devices === undefined || devices.length === 0
        ? undefined
        : devices.map((deviceName, i) => ({ name: `${prefix}${i + 1}`, deviceName }));
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
    return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

const podNetwork = "pod";

type VmDomain = VirtualMachine["spec"]["template"]["spec"]["domain"];

/** The VM's devices: passed-through hardware, root and cloud-init disks, and its NICs. */
function vmDevices(args: VirtualMachineArgs, hardware: VmHardware): VmDomain["devices"] {
    return {
        ...optional("gpus", hostDevices("gpu", hardware.gpus)),
        ...optional("hostDevices", hostDevices("hostdevice", hardware.hostDevices)),
        disks: [
            { name: "rootdisk", disk: { bus: "virtio" }, bootOrder: 1 },
            { name: "cloudinit", disk: { bus: "virtio" } },
        ],
        interfaces: [
            { name: podNetwork, macAddress: args.podMac, masquerade: {} },
            // KubeVirt passes an SR-IOV interface's MAC to sriov-cni, which
            // sets it on the VF (kubevirt pkg/network/multus/annotation.go).
            ...args.bridges.map((b) => ({
                name: b.name,
                macAddress: b.mac,
                ...(b.sriov ? { sriov: {} } : { bridge: {} }),
            })),
        ],
    };
}

/** The VM's domain: its CPU, memory and devices. */
function vmDomain(args: VirtualMachineArgs, hardware: VmHardware): VmDomain {
    return {
        cpu: {
            cores: args.cpu,
            sockets: 1,
            threads: 1,
            ...(hardware.dedicatedCpu ? { dedicatedCpuPlacement: true } : {}),
            ...(hardware.isolateEmulatorThread ? { isolateEmulatorThread: true } : {}),
        },
        memory: {
            guest: args.memory,
            ...(hardware.hugepages === undefined
                ? {}
                : { hugepages: { pageSize: hardware.hugepages } }),
        },
        // Whole cores, as placement reserves them: without this the launcher pod
        // requests vCPUs / cpuAllocationRatio (100m per vCPU by default; kubevirt
        // pkg/virt-controller/services/renderresources.go WithoutDedicatedCPU).
        // Pinned VMs get theirs from WithCPUPinning, which refuses another value.
        ...(hardware.dedicatedCpu ? {} : { resources: { requests: { cpu: String(args.cpu) } } }),
        devices: vmDevices(args, hardware),
    };
}

export function virtualMachine(args: VirtualMachineArgs): VirtualMachine {
    const hardware = args.hardware ?? {};
    return {
        apiVersion: "kubevirt.io/v1",
        kind: "VirtualMachine",
        metadata: {
            name: args.name,
            namespace: args.namespace,
            labels: args.labels,
            annotations: args.annotations,
        },
        spec: {
            runStrategy: "Always",
            template: {
                metadata: { labels: args.labels },
                spec: {
                    hostname: args.hostname,
                    ...(Object.keys(args.nodeSelector).length === 0
                        ? {}
                        : { nodeSelector: args.nodeSelector }),
                    dnsPolicy: "None",
                    dnsConfig: { nameservers: args.dnsServers },
                    domain: vmDomain(args, hardware),
                    networks: [
                        { name: podNetwork, pod: {} },
                        ...args.bridges.map((b) => ({
                            name: b.name,
                            multus: { networkName: b.nad },
                        })),
                    ],
                    volumes: [
                        { name: "rootdisk", dataVolume: { name: args.rootDisk } },
                        {
                            name: "cloudinit",
                            cloudInitNoCloud: {
                                secretRef: { name: args.cloudInitSecret },
                                networkDataSecretRef: { name: args.cloudInitSecret },
                            },
                        },
                    ],
                    readinessProbe: {
                        // The guest listens there once registered (see lib/render/cloudinit.ts).
                        tcpSocket: { port: readinessSocket.port },
                        // Boot and the first registration attempt.
                        initialDelaySeconds: 60,
                        periodSeconds: 15,
                        failureThreshold: 3,
                    },
                },
            },
        },
    };
}

/**
 * Pulumi's server-side apply takes fields another field manager set only when forced
 * (pulumi-kubernetes provider/pkg/await/await.go patchForce): KubeVirt gives every VM created
 * without a firmware UUID one of its own (virt-api's vm-mutator.go on create from 1.9,
 * virt-controller's pkg/virt-controller/watch/vm/firmware.go for VMs still without), so VMs
 * created before their UUID was declared would refuse ours. It also takes back any other declared
 * field someone changed (`virtctl stop` sets runStrategy Halted), when the VM is next updated.
 */
export const forceApplyAnnotation = { "pulumi.com/patchForce": "true" } as const;

/**
 * The VM with the firmware UUID that KubeVirt hands its guest as the cloud-init instance-id (see
 * cloudInitUuid in lib/render/instanceId.ts); generic so that the program can give a Pulumi output.
 */
export function withFirmwareUuid<U>(vm: VirtualMachine, uuid: U) {
    const { template } = vm.spec;
    return {
        ...vm,
        metadata: {
            ...vm.metadata,
            annotations: { ...vm.metadata.annotations, ...forceApplyAnnotation },
        },
        spec: {
            ...vm.spec,
            template: {
                ...template,
                spec: {
                    ...template.spec,
                    domain: { ...template.spec.domain, firmware: { uuid } },
                },
            },
        },
    };
}

export interface Service {
    apiVersion: "v1";
    kind: "Service";
    metadata: ObjectMeta;
    spec: {
        type: "NodePort";
        selector: Record<string, string>;
        ports: {
            name: string;
            protocol: "TCP";
            port: number;
            targetPort: number;
            nodePort?: number;
        }[];
    };
}

export interface ApiServiceArgs {
    name: string;
    namespace: string;
    annotations: Record<string, string>;
    selector: Record<string, string>;
    nodePort?: number;
}

/** Port of the Kubernetes API server inside k3s and rke2 nodes. */
export const apiServerPort = 6443;

/** Direct API access: a NodePort on the host cluster in front of the control-plane VMs. */
export function apiService(args: ApiServiceArgs): Service {
    return {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: args.name, namespace: args.namespace, annotations: args.annotations },
        spec: {
            type: "NodePort",
            selector: args.selector,
            ports: [
                {
                    name: "https",
                    protocol: "TCP",
                    port: apiServerPort,
                    targetPort: apiServerPort,
                    ...(args.nodePort === undefined ? {} : { nodePort: args.nodePort }),
                },
            ],
        },
    };
}

export interface Role {
    apiVersion: "rbac.authorization.k8s.io/v1";
    kind: "Role";
    metadata: { name: string; namespace: string };
    rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
}

/** What CDI requires of whoever creates a DataVolume that clones from `namespace`. */
export function cloneSourceRole(namespace: string): Role {
    return {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "Role",
        metadata: { name: cloneSourceRoleName, namespace },
        rules: [
            {
                apiGroups: ["cdi.kubevirt.io"],
                resources: ["datavolumes/source"],
                verbs: ["create"],
            },
        ],
    };
}
