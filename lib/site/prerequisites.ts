import { stringify } from "yaml";
import { cloneSourceRole } from "../render";
import {
    cloneSourceRoleName,
    nadResourceAnnotation,
    pinnedHostLabel,
    readinessSocket,
} from "../core";
import { SitePlan } from "../plan";

const indent = (text: string) =>
    text
        .trimEnd()
        .split("\n")
        .map((line) => `  ${line}`);

/** One thing the site must have before `pulumi up`, and how to provide it. */
export interface Prerequisite {
    topic: string;
    lines: string[];
}

/**
 * What the host cluster, its nodes and the operator must provide for this site, which no
 * resource of the stack can declare. `npm run plan` prints it and `--out` writes it.
 */
export function sitePrerequisites(site: SitePlan): Prerequisite[] {
    const bridges = [
        ...new Set(site.networks.flatMap((n) => (n.bridge === undefined ? [] : [n.bridge]))),
    ].sort();
    const sriov = site.networks.filter((n) => n.sriov !== undefined);
    return [
        ...bridges.map((bridge) => bridgePrerequisite(site, bridge)),
        ...(sriov.length === 0 ? [] : [sriovPrerequisite(sriov, site.kubevirtVersion)]),
        {
            topic: "CDI clone permission",
            lines: [
                `The identity that runs \`pulumi up\` needs \`create\` on \`datavolumes/source\` (group cdi.kubevirt.io) in namespace ${site.imageNamespace}:`,
                "CDI checks the requesting user on every create and update of a root disk that clones a golden image",
                "(CDI authorize_utils.go, CanUserClonePVC). The admin and edit roles include it; otherwise an admin applies",
                "this Role and binds it to that identity:",
                "  kubectl apply -f - <<'EOF'",
                ...indent(stringify(cloneSourceRole(site.imageNamespace), { lineWidth: 0 })),
                "  EOF",
                `  kubectl -n ${site.imageNamespace} create rolebinding ${cloneSourceRoleName} --role=${cloneSourceRoleName} --user=<who runs pulumi up>`,
            ],
        },
        {
            topic: "Rancher",
            lines: [
                `Nodes reach rancher2:apiUrl and their DNS servers (${site.dnsServers.join(", ")}) through the gateway of their first`,
                "site network; the pod network carries only replies. They install no packages at boot, so they need no package",
                "archive: an image needs cloud-init (NoCloud, network-config v2), systemd 240 or newer and, for os: rhel, NetworkManager.",
                `A node is Ready once it registered: the VM's tcpSocket readiness probe reaches port ${readinessSocket.port}, which the guest opens only then.`,
                "The kubelet probes a pod's first IP: the host cluster's pods must be IPv4 (or dual-stack IPv4 first), as the guest",
                "answers on KubeVirt's IPv4 masquerade address only.",
                site.insecureRegistration
                    ? "site.insecureRegistration is set: nodes fetch Rancher's agent without verifying its certificate."
                    : "Nodes verify Rancher's certificate: a public CA, or Rancher's own private CA, which the program reads from its cacerts setting and installs in every node's trust store.",
            ],
        },
        ...hostFeaturePrerequisites(site),
        {
            topic: "Removing nodes and destroying the stack",
            lines: [
                "Every node VM has a beforeDelete hook that removes the node from Rancher first; Pulumi runs delete hooks only",
                "with the program, so destroy with `pulumi destroy --run-program`, and export RANCHER_TOKEN_KEY (and rancher2:apiUrl) for `pulumi up` too.",
            ],
        },
    ];
}

/** The minor number of a KubeVirt version the config has accepted ("1.9" → 9). */
function minorOf(version: string): number {
    return Number(version.split(".")[1]);
}

function sriovPrerequisite(networks: SitePlan["networks"], kubevirtVersion: string): Prerequisite {
    const resources = networks.map((n) => `${n.sriov!.resourceName} (network ${n.name})`);
    const minor = minorOf(kubevirtVersion);
    // kubevirt pkg/virt-controller/services/template.go: with ExternalNetResourceInjection on,
    // virt-controller reads no NetworkAttachmentDefinition and the pod requests no VF.
    const request =
        minor <= 7
            ? [
                  `KubeVirt ${kubevirtVersion} reads each network's NetworkAttachmentDefinition, asks for one VF per interface and sets`,
                  "its MAC (kubevirt pkg/network/multus/nad.go).",
              ]
            : minor === 8
              ? [
                    "KubeVirt 1.8 reads each network's NetworkAttachmentDefinition and asks for one VF per interface",
                    `(kubevirt pkg/network/multus/nad.go) unless its ExternalNetResourceInjection feature gate is enabled; the gate is`,
                    "beta and off by default in 1.8 (pkg/virt-config/feature-gates.go). Leave it off, or run the network-resources-injector",
                    `webhook (k8snetworkplumbingwg), which adds the request from the NAD's ${nadResourceAnnotation} annotation.`,
                ]
              : [
                    `KubeVirt ${kubevirtVersion} does not ask for the VFs itself: its ExternalNetResourceInjection feature gate is beta, and beta`,
                    "gates are on by default from 1.9 (kubevirt pkg/virt-config/featuregate/active.go and feature-gates.go, IsEnabled);",
                    "with it virt-controller reads no NetworkAttachmentDefinition and the launcher pod requests no VF",
                    "(pkg/virt-controller/services/template.go), so no VF is allocated to it. Either run the network-resources-injector",
                    `webhook (k8snetworkplumbingwg), which adds the request from the NAD's ${nadResourceAnnotation} annotation, or`,
                    "turn the gate off in the KubeVirt CR's spec.configuration (kubectl -n kubevirt edit kubevirt kubevirt):",
                    "  developerConfiguration:",
                    "    disabledFeatureGates: [ExternalNetResourceInjection]",
                ];
    return {
        topic: "SR-IOV",
        lines: [
            `VMs get virtual functions of ${resources.join(", ")}. The SR-IOV network device plugin advertises`,
            "each resource on the hosts whose NICs have VFs bound to vfio-pci, and sriov-cni is installed on every host.",
            ...request,
            "List the VF counts under the host's devices in site.hosts. The site's router or switch carries the VLANs to",
            "those NICs.",
        ],
    };
}

/** What KubeVirt and the hosts need before VMs with devices, pinned CPUs or hugepages start. */
function hostFeaturePrerequisites(site: SitePlan): Prerequisite[] {
    const { devices, gpus, dedicatedCpu, hugepageSizes } = site.hostFeatures;
    const found: Prerequisite[] = [];
    if (devices.length > 0) {
        found.push({
            topic: "Passed-through devices",
            lines: [
                `VMs pass through ${devices.join(", ")}. KubeVirt starts them only when its CR permits each device by that`,
                "resource name (kubevirt renderresources.go, validatePermittedHostDevices) and a device plugin advertises it on",
                "the hosts (kubectl describe node shows it under Allocatable). Host devices other than GPUs also need the",
                "HostDevices feature gate.",
                // virt-api's vmi-create-admitter.go refuses gpus without the gate, GA from 1.4.
                ...(gpus && minorOf(site.kubevirtVersion) <= 3
                    ? [
                          `On KubeVirt ${site.kubevirtVersion} GPUs need the GPU feature gate as well (GA only from 1.4: kubevirt`,
                          "pkg/virt-config/feature-gates.go, GPUPassthroughEnabled); add it to the CR's spec.configuration:",
                          "  developerConfiguration:",
                          "    featureGates: [GPU]",
                      ]
                    : []),
                "For PCI devices bound to vfio-pci, add to the KubeVirt CR's spec.configuration",
                "(kubectl -n kubevirt edit kubevirt kubevirt), with each vendor:device ID from `lspci -nn`:",
                "  permittedHostDevices:",
                "    pciHostDevices:",
                ...devices.flatMap((device) => [
                    "      - pciVendorSelector: <vendor:device>",
                    `        resourceName: ${device}`,
                ]),
                "Add externalResourceProvider: true to a device whose vendor's plugin (such as NVIDIA's) advertises it, so",
                "that KubeVirt's own does not advertise the same name. Such VMs cannot live-migrate: with the",
                "LiveMigrate eviction strategy a drain of their host waits on them (kubevirt pod-eviction-admitter.go).",
            ],
        });
    }
    if (dedicatedCpu) {
        found.push({
            topic: "Dedicated CPUs",
            lines: [
                "VMs pin their vCPUs. The hosts that take them run the kubelet with the static CPU manager policy",
                "(--cpu-manager-policy=static and a CPU reservation), and KubeVirt's CR enables the CPUManager feature gate;",
                `virt-handler then labels those hosts ${pinnedHostLabel(site.kubevirtVersion)}=true, which such VMs are scheduled by`,
                "(kubevirt nodeselectorrenderer.go). List the label under the host's labels in site.hosts.",
            ],
        });
    }
    if (hugepageSizes.length > 0) {
        found.push({
            topic: "Hugepages",
            lines: [
                `VMs take their memory from ${hugepageSizes.join(" and ")} hugepages, which the hosts reserve at boot (for 1Gi pages on`,
                "the kernel command line: default_hugepagesz=1G hugepagesz=1G hugepages=<count>) and the kubelet reports as",
                "allocatable hugepages-<size>. List them under the host's hugepages in site.hosts.",
            ],
        });
    }
    return found;
}

function bridgePrerequisite(site: SitePlan, bridge: string): Prerequisite {
    const networks = site.networks.filter((n) => n.bridge === bridge);
    const vlans = networks
        .flatMap((n) => (n.vlan === undefined ? [] : [n.vlan]))
        .sort((a, b) => a - b);
    const names = networks.map((n) => n.name).join(", ");
    const lines = [
        `Every host node that may run a VM has Linux bridge ${bridge} (networks ${names}), with the uplink to the site LAN enslaved.`,
    ];
    if (vlans.length > 0) {
        // containernetworking/plugins plugins/main/bridge/bridge.go: ensureBridge sets
        // vlan_filtering only when it creates the bridge, and no VLAN is ever added to the uplink.
        lines.push(
            `The CNI bridge plugin tags only the VMs' ports (VLAN ${vlans.join(", ")}); on an existing bridge it neither turns on VLAN filtering nor tags the uplink. On each host node:`,
            `  ip link set ${bridge} type bridge vlan_filtering 1`,
            ...vlans.map((vlan) => `  bridge vlan add dev <uplink of ${bridge}> vid ${vlan}`),
            "and make it persistent in the host's network configuration (netplan, systemd-networkd or NetworkManager).",
        );
    }
    return { topic: `Bridge ${bridge}`, lines };
}

/** Markdown of one prerequisite: indented lines are commands or manifests, fenced. */
function markdown(prerequisite: Prerequisite): string {
    const out = [`## ${prerequisite.topic}`, ""];
    let fenced = false;
    for (const line of prerequisite.lines) {
        const code = line.startsWith("  ");
        if (code !== fenced) {
            out.push(code ? "```sh" : "```");
            fenced = code;
        }
        out.push(code ? line.slice(2) : line);
    }
    if (fenced) {
        out.push("```");
    }
    return out.join("\n");
}

/** The prerequisites as the Markdown of `prerequisites.md`, which `--out` writes. */
export function formatPrerequisites(site: SitePlan): string {
    return sitePrerequisites(site).map(markdown).join("\n\n");
}
