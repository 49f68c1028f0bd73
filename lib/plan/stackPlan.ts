import { AddressPlan, clusterDnsAddress, planAddresses } from "./addresses";
import {
    GuestInterface,
    RegistrationArgs,
    renderNetworkData,
    DataVolume,
    NetworkAttachmentDefinition,
    Service,
    VirtualMachine,
    apiServerPort,
    apiService,
    goldenImageDataVolume,
    networkAttachmentDefinition,
    rootDiskDataVolume,
    virtualMachine,
    vmHardware,
} from "../render";
import {
    Allocations,
    ClusterConfig,
    ClusterNode,
    ClusterType,
    GuestOs,
    NodeConfig,
    guestRenderers,
    hugepageSizes,
    languageHostConfigLimit,
    RawStackConfig,
    SiteConfig,
    StackConfig,
    readStackConfig,
    gatewaySize,
} from "../config";
import {
    parseCidr,
    annotations,
    clusterIdentity,
    hostLabels,
    interfaceMac,
    labels,
    podInterfaceName,
    rancherClusterName,
    resourceNames,
    rootDiskIdentity,
    tunnelMarker,
    vmName,
    ConfigError,
    ProblemList,
    compareText,
} from "../core";
import { checkEtcdQuorum, clusterSyncTrigger, rootDiskSpec } from "./lifecycle";
import {
    GatewayPlan,
    InterconnectPlan,
    NodeRoute,
    interconnectsFile,
    planInterconnects,
    renderGatewayUserData,
} from "./interconnect";
import { Placement, placeNodes } from "./placement";
import { adminKubeconfigPath, chartValues, machineGlobalConfig } from "../rancher";

/**
 * Everything a site stack declares, resolved from config into plain data: names, addresses,
 * MACs and manifests. Components only add what providers compute (ids, tokens, node ports).
 */
export interface StackPlan {
    site: SitePlan;
    clusters: ClusterPlan[];
    /** The allocation record this config implies; `npm run lock` writes it to the stack file. */
    allocations: Allocations;
    /** How the stack file's record differs from `allocations`; empty when it is current. */
    lockChanges: string[];
    /** The site's interconnect gateways (interconnects.yaml), once its WireGuard key is set. */
    gateways: GatewayNodePlan[];
    /** Where each node runs and why, and what each host of `site.hosts` carries. */
    placement: Placement;
}

/** A gateway VM: one site's end of an interconnect's tunnel. */
export interface GatewayNodePlan {
    gateway: GatewayPlan;
    vmName: string;
    namespace: string;
    interfaces: NodeInterfacePlan[];
    cloudInitSecretName: string;
    /** cloud-config with the private key as a placeholder (see `privateKeyPlaceholder`). */
    userData: string;
    networkData: string;
    rootDisk: DataVolume;
    virtualMachine: VirtualMachine;
}

export interface SitePlan {
    name: string;
    /** Namespace of the golden images, which every root disk clones from. */
    imageNamespace: string;
    /** Namespaces the stack creates: images, networks and every cluster's. */
    namespaces: string[];
    networks: NetworkPlan[];
    images: ImagePlan[];
    dnsServers: string[];
    hostNodeIps: string[];
    /** Ranges no cluster CIDR may overlap, as the site declares them. */
    reservedCidrs: string[];
    /** The block unpinned pod and service CIDRs come from. */
    clusterCidrPool: string;
    sshUser: string;
    sshAuthorizedKeys: string[];
    insecureRegistration: boolean;
    protect: boolean;
    /** What the site's VMs ask of its hosts beyond cores and memory: the prerequisites say how. */
    hostFeatures: HostFeatures;
    /** The host cluster's KubeVirt minor version (`edge:site.kubevirtVersion`). */
    kubevirtVersion: string;
}

export interface HostFeatures {
    /** GPUs and host devices by resource name, in code-unit order. */
    devices: string[];
    /** Whether any VM passes through a GPU (`gpus`), which old KubeVirt gates. */
    gpus: boolean;
    dedicatedCpu: boolean;
    hugepageSizes: string[];
}

export interface NetworkPlan {
    name: string;
    /** The Linux bridge VMs join, or else... */
    bridge?: string;
    /** ...the SR-IOV resource whose VFs they get. */
    sriov?: { resourceName: string };
    vlan?: number;
    cidr: string;
    gateway: string;
    /** Addresses nodes may be given, inclusive. */
    range: { first: string; last: string };
    /** `namespace/name` of its NetworkAttachmentDefinition, as VMs reference it. */
    nadRef: string;
    nad: NetworkAttachmentDefinition;
}

export interface ImagePlan {
    name: string;
    url: string;
    size: string;
    secretRef?: string;
    dataVolume: DataVolume;
}

export interface NodeInterfacePlan {
    network: string;
    ip: string;
    mac: string;
    /** `ip/prefix`, as the guest configures it. */
    address: string;
}

export interface NodePlan extends Pick<
    NodeConfig,
    "name" | "roles" | "cpu" | "memory" | "disk" | "image"
> {
    /** The host an intent placed it on. */
    host?: string;
    vmName: string;
    namespace: string;
    /** Guest family of the node's image: how cloud-init renders its network-data. */
    os: GuestOs;
    /** First site-network IP: what Rancher and the cluster know the node by. */
    address: string;
    podMac: string;
    interfaces: NodeInterfacePlan[];
    cloudInitSecretName: string;
    /** cloud-init user-data is rendered later, once Rancher's registration command is known. */
    userData: { hostname: string; sshAuthorizedKeys: string[]; registration: RegistrationArgs };
    networkData: string;
    rootDisk: DataVolume;
    virtualMachine: VirtualMachine;
}

export interface ClusterPlan {
    name: string;
    rancherName: string;
    type: ClusterType;
    kubernetesVersion: string;
    cni: string;
    namespace: string;
    podCidr: string;
    serviceCidr: string;
    labels: Record<string, string>;
    /** Type and CIDRs as one annotation value: what only a replacement may change. */
    identity: string;
    machineGlobalConfig: string;
    /** Values for the CNI's chart, as the ClusterV2's `rkeConfig.chartValues` YAML; rke2 only. */
    chartValues?: string;
    /** Changes whenever a node joins, leaves or is replaced; see `clusterSyncTrigger`. */
    syncTrigger: string;
    /** NodePort Service for direct API access, when the cluster asks for it. */
    apiService?: Service;
    breakGlassKubeconfig: boolean;
    adminKubeconfigPath: string;
    nodes: NodePlan[];
}

/** Await annotations understood by the Pulumi Kubernetes provider. */
export const awaitAnnotations = {
    goldenImage: { "pulumi.com/waitFor": "jsonpath={.status.phase}=Succeeded" },
    // A running VM's update that waits for a restart (RestartRequired) leaves observedGeneration
    // behind (kubevirt pkg/virt-controller/watch/vm/vm.go syncGenerationInfo), and every waitFor
    // refuses until it catches up (pulumi-kubernetes pkg/await/condition/kubectl.go, jsonpath.go):
    // `up` would hang until the restart. Explicit, so that PULUMI_K8S_AWAIT_ALL adds no wait
    // (metadata/overrides.go ReadyCondition); a new node's `up` waits in its join hook instead.
    virtualMachine: { "pulumi.com/skipAwait": "true" },
    // Nothing depends on a gateway, and it is no Rancher node: `up` waits for none.
    gatewayVirtualMachine: { "pulumi.com/skipAwait": "true" },
    // The provider waits for a Service's pods (pulumi-kubernetes provider/pkg/await/service.go),
    // but these are the control-plane VMs', which wait on the Rancher cluster, which waits on this
    // Service's nodePort: without this, every first `up` deadlocks until the Service times out.
    apiService: { "pulumi.com/skipAwait": "true" },
} as const;

function prefixOf(cidr: string): number {
    const parsed = parseCidr(cidr);
    return "cidr" in parsed ? parsed.cidr.prefix : 32;
}

function planSite(config: StackConfig): SitePlan {
    const { site, images, clusters } = config;
    const namespaces = [
        site.imageNamespace,
        site.networkNamespace,
        ...clusters.map((c) => c.namespace),
    ];
    return {
        name: site.name,
        imageNamespace: site.imageNamespace,
        namespaces: [...new Set(namespaces)],
        networks: site.networks.map((n) => ({
            name: n.name,
            ...(n.bridge === undefined ? {} : { bridge: n.bridge }),
            ...(n.sriov === undefined ? {} : { sriov: n.sriov }),
            ...(n.vlan === undefined ? {} : { vlan: n.vlan }),
            cidr: n.cidr,
            gateway: n.gateway,
            range: n.range,
            nadRef: `${site.networkNamespace}/${n.name}`,
            nad: networkAttachmentDefinition({
                name: n.name,
                namespace: site.networkNamespace,
                bridge: n.bridge,
                vlan: n.vlan,
                sriovResource: n.sriov?.resourceName,
            }),
        })),
        images: images.map((image) => ({
            ...image,
            dataVolume: goldenImageDataVolume({
                name: image.name,
                namespace: site.imageNamespace,
                url: image.url,
                ...(image.secretRef === undefined ? {} : { secretRef: image.secretRef }),
                size: image.size,
                storageClass: site.storageClass,
                annotations: awaitAnnotations.goldenImage,
            }),
        })),
        dnsServers: site.dnsServers,
        hostNodeIps: site.hostNodeIps,
        reservedCidrs: site.reservedCidrs,
        clusterCidrPool: site.clusterCidrPool,
        sshUser: site.sshUser,
        sshAuthorizedKeys: site.sshAuthorizedKeys,
        insecureRegistration: site.insecureRegistration,
        protect: site.protect,
        hostFeatures: hostFeatures(clusters.flatMap((c) => c.nodes)),
        kubevirtVersion: site.kubevirtVersion,
    };
}

function hostFeatures(nodes: ClusterNode[]): HostFeatures {
    const devices = nodes.flatMap((n) => [...(n.gpus ?? []), ...(n.hostDevices ?? [])]);
    const pages = nodes.flatMap((n) => (n.hugepages === undefined ? [] : [n.hugepages]));
    return {
        devices: [...new Set(devices)].sort(compareText),
        gpus: nodes.some((n) => (n.gpus ?? []).length > 0),
        dedicatedCpu: nodes.some((n) => n.dedicatedCpu),
        hugepageSizes: hugepageSizes.filter((size) => pages.includes(size)),
    };
}

/** The interconnect routes of a node's NIC on `network`, when there are any. */
function routesThrough(
    routes: NodeRoute[],
    network: string,
): { routes?: { to: string; via: string }[] } {
    const through = routes.filter((r) => r.network === network).map(({ to, via }) => ({ to, via }));
    return through.length === 0 ? {} : { routes: through };
}

/** What nodes of a cluster share: its labels, its identity, and its site's interconnect routes. */
interface NodeShared {
    labels: Record<string, string>;
    identity: string;
    routes: NodeRoute[];
}

/** A node's NICs on the site's networks, in its config's order, the first holding its address. */
function nodeInterfaces(
    site: SiteConfig,
    cluster: ClusterConfig,
    node: ClusterNode,
    ips: Record<string, string>,
): NodeInterfacePlan[] {
    return node.networks.map((n) => {
        const network = site.networks.find((s) => s.name === n.network)!;
        const ip = ips[n.network];
        return {
            network: n.network,
            ip,
            mac: interfaceMac(site.name, cluster.name, node.name, n.network),
            address: `${ip}/${prefixOf(network.cidr)}`,
        };
    });
}

/** The guest's NICs: the pod network first, then the site's, the first with the default route. */
function guestInterfaces(
    site: SiteConfig,
    podMac: string,
    interfaces: NodeInterfacePlan[],
    routes: NodeRoute[],
): GuestInterface[] {
    return [
        { name: podInterfaceName, mac: podMac },
        ...interfaces.map((nic, i) => ({
            name: nic.network,
            mac: nic.mac,
            address: nic.address,
            ...(i === 0
                ? { gateway: site.networks.find((s) => s.name === nic.network)!.gateway }
                : {}),
            ...routesThrough(routes, nic.network),
        })),
    ];
}

/** What planNode has decided of a node when it renders the node's VirtualMachine. */
interface PlannedVm {
    name: string;
    cloudInitSecret: string;
    interfaces: NodeInterfacePlan[];
    podMac: string;
    labels: Record<string, string>;
    rootDisk: string;
    identity: string;
}

/** The VirtualMachine of a node whose name, NICs, labels and root disk identity are planned. */
function nodeVirtualMachine(
    site: SiteConfig,
    cluster: ClusterConfig,
    node: ClusterNode,
    planned: PlannedVm,
): ReturnType<typeof virtualMachine> {
    const { name, rootDisk, identity } = planned;
    return virtualMachine({
        name,
        namespace: cluster.namespace,
        hostname: node.name,
        cpu: node.cpu,
        memory: node.memory,
        labels: planned.labels,
        annotations: {
            ...awaitAnnotations.virtualMachine,
            [annotations.rootDisk]: rootDisk,
            [annotations.clusterIdentity]: identity,
            ...(site.protect ? { [annotations.protected]: "true" } : {}),
        },
        nodeSelector:
            node.host === undefined
                ? node.hostSelector
                : { ...node.hostSelector, [hostLabels.hostname]: node.host },
        dnsServers: site.dnsServers,
        podMac: planned.podMac,
        bridges: planned.interfaces.map((nic) => ({
            name: nic.network,
            nad: `${site.networkNamespace}/${nic.network}`,
            mac: nic.mac,
            ...(site.networks.find((n) => n.name === nic.network)!.sriov ? { sriov: true } : {}),
        })),
        rootDisk: name,
        cloudInitSecret: planned.cloudInitSecret,
        hardware: vmHardware(node),
    });
}

function planNode(
    config: StackConfig,
    cluster: ClusterConfig,
    node: ClusterNode,
    ips: Record<string, string>,
    shared: NodeShared,
): NodePlan {
    const clusterLabels = shared.labels;
    const { site } = config;
    const name = vmName(cluster.name, node.name);
    const interfaces = nodeInterfaces(site, cluster, node, ips);
    const podMac = interfaceMac(site.name, cluster.name, node.name, `:${podInterfaceName}`);
    const nodeLabels = {
        ...clusterLabels,
        [labels.node]: node.name,
        ...(node.roles.includes("controlplane") ? { [labels.controlplane]: "true" } : {}),
    };
    const image = config.images.find((i) => i.name === node.image)!;
    const rootDisk = rootDiskIdentity(rootDiskSpec(site, node));
    const cloudInitSecret = resourceNames.cloudInit(name);
    return {
        name: node.name,
        roles: node.roles,
        cpu: node.cpu,
        memory: node.memory,
        disk: node.disk,
        image: node.image,
        ...(node.host === undefined ? {} : { host: node.host }),
        vmName: name,
        namespace: cluster.namespace,
        os: image.os,
        address: interfaces[0].ip,
        podMac,
        interfaces,
        cloudInitSecretName: cloudInitSecret,
        userData: {
            hostname: node.name,
            sshAuthorizedKeys: site.sshAuthorizedKeys,
            registration: {
                roles: node.roles,
                nodeName: node.name,
                address: interfaces[0].ip,
                labels: clusterLabels,
            },
        },
        networkData: renderNetworkData({
            interfaces: guestInterfaces(site, podMac, interfaces, shared.routes),
            dnsServers: site.dnsServers,
            renderer: guestRenderers[image.os],
        }),
        rootDisk: rootDiskDataVolume({
            name,
            namespace: cluster.namespace,
            size: node.disk,
            storageClass: site.storageClass,
            source: { namespace: site.imageNamespace, name: image.name },
            labels: nodeLabels,
            annotations: {
                [annotations.rootDisk]: rootDisk,
                [annotations.clusterIdentity]: shared.identity,
            },
        }),
        virtualMachine: nodeVirtualMachine(site, cluster, node, {
            name,
            cloudInitSecret,
            interfaces,
            podMac,
            labels: nodeLabels,
            rootDisk,
            identity: shared.identity,
        }),
    };
}

function planCluster(
    config: StackConfig,
    cluster: ClusterConfig,
    addresses: AddressPlan,
    routes: NodeRoute[],
): ClusterPlan {
    const { site } = config;
    const { podCidr, serviceCidr, nodes: ips } = addresses.clusters[cluster.name];
    const clusterLabels = { [labels.site]: site.name, [labels.cluster]: cluster.name };
    const identity = clusterIdentity(cluster.type, podCidr, serviceCidr);
    // Validation made every node list this network first: it holds the node addresses.
    const nodeInterface = cluster.nodes[0].networks[0].network;
    const rke2ChartValues =
        cluster.type === "rke2" ? chartValues(cluster.cni, nodeInterface) : undefined;
    return {
        name: cluster.name,
        rancherName: rancherClusterName(site.name, cluster.name),
        type: cluster.type,
        kubernetesVersion: cluster.kubernetesVersion,
        cni: cluster.cni,
        namespace: cluster.namespace,
        podCidr,
        serviceCidr,
        labels: clusterLabels,
        identity,
        syncTrigger: clusterSyncTrigger(site, cluster, identity),
        ...(rke2ChartValues === undefined ? {} : { chartValues: rke2ChartValues }),
        machineGlobalConfig: machineGlobalConfig({
            type: cluster.type,
            cni: cluster.cni,
            podCidr,
            serviceCidr,
            clusterDns: clusterDnsAddress(serviceCidr),
            tlsSans: site.hostNodeIps,
            nodeInterface,
        }),
        ...(cluster.directApi.enabled
            ? {
                  apiService: apiService({
                      name: `${cluster.name}-api`,
                      namespace: cluster.namespace,
                      annotations: awaitAnnotations.apiService,
                      selector: { [labels.cluster]: cluster.name, [labels.controlplane]: "true" },
                      nodePort: cluster.directApi.nodePort,
                  }),
              }
            : {}),
        breakGlassKubeconfig: cluster.breakGlassKubeconfig,
        adminKubeconfigPath: adminKubeconfigPath(cluster.type),
        nodes: cluster.nodes.map((node) =>
            planNode(config, cluster, node, ips[node.name], {
                labels: clusterLabels,
                identity,
                routes,
            }),
        ),
    };
}

/** Where a cluster's API answers without Rancher: the host NodePort, or the first server node. */
export function directApiEndpoint(site: SitePlan, cluster: ClusterPlan, nodePort?: number): string {
    if (cluster.apiService && nodePort !== undefined) {
        return `https://${site.hostNodeIps[0]}:${nodePort}`;
    }
    const server = cluster.nodes.find((n) => n.roles.includes("controlplane"))!;
    return `https://${server.address}:${apiServerPort}`;
}

/**
 * The last config planned and its plan, frozen: `npm run plan` plans the stack file, then
 * evaluates the program, which plans the same config again.
 */
let lastPlanned: { key: string; result: { plan: StackPlan; kubeconfig?: string } } | undefined;

/**
 * Validates a stack's raw config and resolves it into a plan. Throws one ConfigError listing every
 * problem, before anything is declared.
 */
export function planStack(raw: RawStackConfig): { plan: StackPlan; kubeconfig?: string } {
    // Stack files hold no credential in plain text when a plan comes back, so the list is empty;
    // and only whether the config is over the language host's limit counts, which the program,
    // given no size, never is. Top-level fields in name order: callers build the same config in
    // different orders.
    const fields = Object.entries({
        ...raw,
        plaintextSecrets: raw.plaintextSecrets ?? [],
        languageHostConfigBytes: undefined,
        overLanguageHostLimit: (raw.languageHostConfigBytes ?? 0) > languageHostConfigLimit,
    }).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const key = JSON.stringify(fields, (_key, value) =>
        // JSON has no NaN or Infinity and would write null for both.
        typeof value === "number" && !Number.isFinite(value) ? { number: String(value) } : value,
    );
    if (lastPlanned?.key !== key) {
        lastPlanned = { key, result: deepFreeze(planAnew(raw)) };
    }
    return lastPlanned.result;
}

/** `value`, with it and everything inside it frozen: a shared plan must not change under anyone. */
function deepFreeze<T>(value: T): T {
    if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
        Object.freeze(value);
        Object.values(value).forEach(deepFreeze);
    }
    return value;
}

function planAnew(raw: RawStackConfig): { plan: StackPlan; kubeconfig?: string } {
    const problems = new ProblemList();
    const read = readStackConfig(raw, problems);
    const kubeconfig = read.kubeconfig;
    const placed = read.config && placeNodes(read.config, problems);
    const config = placed?.config;
    const addresses = config ? planAddresses(config, problems) : undefined;
    if (config) {
        checkEtcdQuorum(config, problems);
    }
    const tunnels =
        config && raw.interconnects ? siteInterconnects(raw, config, problems) : undefined;
    if (!config || !placed || !addresses || !problems.empty) {
        throw new ConfigError(problems.problems);
    }
    // A site joins its interconnects once its key is set: before, it has no gateway to route to.
    const joined = raw.hasWireguardKey ? tunnels : undefined;
    const routes = joined?.nodeRoutes[config.site.name] ?? [];
    return {
        kubeconfig,
        plan: {
            site: planSite(config),
            clusters: config.clusters.map((c) => planCluster(config, c, addresses, routes)),
            allocations: addresses.allocations,
            lockChanges: addresses.lockChanges,
            gateways: (joined?.gateways ?? [])
                .filter((g) => g.site === config.site.name)
                .map((g) => planGateway(config, g)),
            placement: placed.placement,
        },
    };
}

/**
 * This site's interconnects, checked with its config as it is now and the other members' as
 * committed; problems are reported at their path in interconnects.yaml.
 */
function siteInterconnects(
    raw: RawStackConfig,
    config: StackConfig,
    problems: ProblemList,
): InterconnectPlan | undefined {
    const found = new ProblemList();
    const sites = { ...raw.interconnects!.sites, [config.site.name]: config };
    const tunnels = planInterconnects(
        raw.interconnects!.raw,
        sites,
        found,
        raw.interconnects!.broken,
    );
    for (const problem of found.problems) {
        problems.add(`${interconnectsFile}:${problem.path}`, problem.message);
    }
    return tunnels;
}

/** The VM of one gateway, on the site network it serves, booted like a node but not registered. */
function planGateway(config: StackConfig, gateway: GatewayPlan): GatewayNodePlan {
    const { site } = config;
    const name = resourceNames.gateway(site.name, gateway.interconnect);
    const network = site.networks.find((n) => n.name === gateway.network)!;
    const image = config.images.find((i) => i.name === gateway.image)!;
    const mac = interfaceMac(site.name, `:${gateway.interconnect}`, "gateway", network.name);
    const podMac = interfaceMac(
        site.name,
        `:${gateway.interconnect}`,
        "gateway",
        `:${podInterfaceName}`,
    );
    const address = `${gateway.ip}/${prefixOf(network.cidr)}`;
    const gatewayLabels = { [labels.site]: site.name, [labels.interconnect]: gateway.interconnect };
    const cloudInitSecretName = resourceNames.cloudInit(name);
    return {
        gateway,
        vmName: name,
        namespace: site.networkNamespace,
        interfaces: [{ network: network.name, ip: gateway.ip, mac, address }],
        cloudInitSecretName,
        userData: renderGatewayUserData(gateway, {
            hostname: name,
            sshAuthorizedKeys: site.sshAuthorizedKeys,
            marker: tunnelMarker,
        }),
        networkData: renderNetworkData({
            interfaces: [
                { name: podInterfaceName, mac: podMac },
                { name: network.name, mac, address, gateway: network.gateway },
            ],
            dnsServers: site.dnsServers,
            renderer: guestRenderers[image.os],
        }),
        rootDisk: rootDiskDataVolume({
            name,
            namespace: site.networkNamespace,
            size: image.size,
            storageClass: site.storageClass,
            source: { namespace: site.imageNamespace, name: image.name },
            labels: gatewayLabels,
            annotations: {},
        }),
        virtualMachine: virtualMachine({
            name,
            namespace: site.networkNamespace,
            hostname: name,
            cpu: gatewaySize.cpu,
            memory: gatewaySize.memory,
            labels: gatewayLabels,
            annotations: {
                ...awaitAnnotations.gatewayVirtualMachine,
                ...(site.protect ? { [annotations.protected]: "true" } : {}),
            },
            nodeSelector: {},
            dnsServers: site.dnsServers,
            podMac,
            bridges: [{ name: network.name, nad: `${site.networkNamespace}/${network.name}`, mac }],
            rootDisk: name,
            cloudInitSecret: cloudInitSecretName,
        }),
    };
}
