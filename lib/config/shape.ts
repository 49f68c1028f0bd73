import { z } from "zod";
import {
    defaults,
    kubevirtLauncher,
    minimumNodeMemory,
    nodePortRange,
    supportedCnis,
} from "./defaults";
import {
    ipv4Address,
    ipv4Pattern,
    parseCidr,
    podInterfaceName,
    bytes,
    quantityPattern,
} from "../core";
import { describe } from "./report";
import { distributions } from "../rancher";

/**
 * The shape of a stack's config, declared once: field types, formats, defaults and descriptions.
 * The program parses with it (lib/config/read.ts), the editor's JSON Schema and the config
 * reference (docs/config-reference.md) are generated from it (lib/config/jsonSchema.ts). Rules
 * that relate fields to each other are in lib/config/rules.ts. Each failure message names what
 * was given and what is expected; lib/config/issues.ts words the generic ones.
 */

export const clusterTypes = distributions;
export const nodeRoles = ["controlplane", "etcd", "worker"] as const;
/**
 * Guest families, as their current cloud images render network config (see guestRenderers):
 * ubuntu (20.04 and newer) and debian (12 and newer) through netplan, rhel (EL 9 and newer)
 * through NetworkManager; rules.ts refuses older releases their image URLs name.
 */
export const guestOses = ["ubuntu", "debian", "rhel"] as const;
/** Every CNI some distribution installs; which one a cluster may use is a rule of its type. */
export const cnis = [...supportedCnis.rke2] as const;

export type ClusterType = (typeof clusterTypes)[number];
export type NodeRole = (typeof nodeRoles)[number];
export type GuestOs = (typeof guestOses)[number];

/**
 * What configures each family's network, by cloud-init's renderer order (cloud-init
 * config/cloud.cfg.tmpl): Ubuntu and Debian 12+ images have netplan and no ifupdown, so netplan
 * wins; EL images have NetworkManager, which reads what cloud-init writes (keyfiles, or ifcfg
 * files on EL 9's older cloud-init).
 */
export const guestRenderers = {
    ubuntu: "netplan",
    debian: "netplan",
    rhel: "network-manager",
} as const satisfies Record<GuestOs, string>;
export type GuestRenderer = (typeof guestRenderers)[GuestOs];

const dns1123Label = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const linuxInterfaceName = /^[A-Za-z0-9_.-]{1,15}$/;
const linuxUserName = /^[a-z_][a-z0-9_-]{0,31}$/;
const labelKey =
    /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const labelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;
const extendedResource =
    /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+\/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const publicKey =
    /^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com) [A-Za-z0-9+/]+={0,3}( .*)?$/;
/** A public key as the program takes it: surrounding whitespace is trimmed. */
const paddedPublicKey = new RegExp(`^\\s*${publicKey.source.slice(1, -1)}\\s*$`);
/** An http(s) URL with no credentials before its host. */
const imageUrl = /^https?:\/\/[^/?#@]+([/?#].*)?$/;
const cidrShape = /^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/;
const ipv4Range = new RegExp(`^${ipv4Address} *- *${ipv4Address}$`);

/** Text that says something: every string field starts here. */
export function text() {
    return z.string().regex(/\S/, { error: "must not be empty", abort: true });
}

/** Text matching `pattern`, which editors check too; `message` says what is wrong with `given`. */
export function matching(pattern: RegExp, message: (given: string) => string) {
    return text().regex(pattern, { error: (issue) => message(String(issue.input)), abort: true });
}

/** Text that `check` accepts; `check` says what is wrong. `pattern` gives editors a first check. */
function checked(check: (text: string) => string | undefined, pattern?: RegExp) {
    const schema = text().superRefine((value, context) => {
        const message = check(value);
        if (message !== undefined) {
            // Checks after this one assume what it checked.
            context.addIssue({ code: "custom", message, input: value, continue: false });
        }
    });
    return pattern === undefined ? schema : schema.meta({ pattern: pattern.source });
}

export function wholeNumber(min: number, max: number) {
    const outside = (issue: { input?: unknown }) =>
        `must be between ${min} and ${max}, got ${String(issue.input)}`;
    // z.int() bounds numbers to safe integers itself; its issue is worded like ours.
    return z
        .int({
            error: (issue) =>
                issue.code === "too_big" || issue.code === "too_small" ? outside(issue) : undefined,
        })
        .min(min, { error: outside })
        .max(max, { error: outside });
}

/** A list of at least one item, with `empty` saying why one is needed. */
export function listOf<T extends z.ZodType>(item: T, empty: string) {
    return z.array(item).min(1, { error: empty });
}

/** A map with exactly these fields: any other is reported as unknown, with the known ones. */
export function fields<T extends z.core.$ZodLooseShape>(shape: T) {
    const known = Object.keys(shape).join(", ");
    return z.strictObject(shape, {
        error: (issue) =>
            issue.code === "unrecognized_keys"
                ? `unknown field (expected one of: ${known})`
                : undefined,
    });
}

function notALabel(text: string): string {
    return `"${text}" is not a DNS-1123 label (lowercase letters, digits and "-", at most 63 characters, starting and ending with a letter or digit)`;
}

export function checkLabel(text: string): string | undefined {
    return dns1123Label.test(text) ? undefined : notALabel(text);
}

export const label = () => matching(dns1123Label, notALabel);
export const ipv4 = () => matching(ipv4Pattern, (given) => `"${given}" is not an IPv4 address`);
export const cidr = () =>
    checked((value) => {
        const parsed = parseCidr(value);
        return "error" in parsed ? parsed.error : undefined;
    }, cidrShape);

/** A Kubernetes quantity; a bare number is the usual slip, so it gets its own message. */
function quantity() {
    return z
        .string({
            error: (issue) =>
                typeof issue.input === "number"
                    ? `${issue.input} has no unit; write a Kubernetes quantity such as ${issue.input}Gi`
                    : undefined,
        })
        .regex(/\S/, { error: "must not be empty", abort: true })
        .regex(quantityPattern, {
            error: (issue) =>
                `"${String(issue.input)}" is not a Kubernetes quantity (e.g. 4Gi, 512Mi)`,
            abort: true,
        });
}

/** A quantity of something a host gives: none at all is a slip (a host without it leaves it out). */
function positiveQuantity() {
    return quantity().refine((value) => bytes(value) > 0, {
        error: (issue) => `must be more than 0, got ${String(issue.input)}`,
    });
}

function nodeMemory() {
    return quantity().refine((value) => bytes(value) >= bytes(minimumNodeMemory), {
        error: (issue) =>
            `${String(issue.input)} is less than the ${minimumNodeMemory} a Kubernetes node needs`,
    });
}

function checkPublicKey(value: string): string | undefined {
    if (value.includes("PRIVATE KEY")) {
        return "is a private key; put the public key here and the private key in the edge:sshPrivateKey secret";
    }
    return publicKey.test(value.trim())
        ? undefined
        : "is not an OpenSSH public key (e.g. ssh-ed25519 AAAA... ops@example)";
}

function checkImageUrl(value: string): string | undefined {
    const url = URL.canParse(value) ? new URL(value) : undefined;
    if (url?.protocol !== "https:" && url?.protocol !== "http:") {
        return `"${value}" is not an http(s) URL`;
    }
    if (url.username !== "" || url.password !== "") {
        // Never repeat the credentials: this message reaches CI logs.
        url.username = "";
        url.password = "";
        return `${url.href} carries credentials, which would land in the DataVolume spec and in rendered/; put them in a Secret (keys accessKeyId and secretKey) in the image namespace and name it in secretRef`;
    }
    // WHATWG parsing forgives what CDI's importer (Go's net/url) would not: spaces, a missing
    // "//", backslashes. The pattern editors check is the rule.
    return imageUrl.test(value) ? undefined : `"${value}" is not an http(s) URL`;
}

/** Kubernetes labels: keys and values as the API server takes them. */
function labelMap() {
    return z.record(
        z.string().regex(labelKey),
        z
            .string({
                error: (issue) =>
                    typeof issue.input === "boolean" || typeof issue.input === "number"
                        ? `must be a string, got ${describe(issue.input)} (quote it: "${String(issue.input)}")`
                        : undefined,
            })
            .regex(labelValue, {
                error: (issue) => `"${String(issue.input)}" is not a Kubernetes label value`,
            }),
        {
            error: (issue) =>
                issue.code === "invalid_key"
                    ? `"${String(issue.input)}" is not a Kubernetes label key`
                    : undefined,
        },
    );
}

/**
 * An extended resource a device plugin advertises on host nodes, such as a GPU model
 * (nvidia.com/TU104GL_Tesla_T4) or SR-IOV VFs: a qualified name with a domain.
 */
const resourceName = () =>
    matching(
        extendedResource,
        (given) =>
            `"${given}" is not an extended resource name (<domain>/<name>, as kubectl describe node lists it, e.g. nvidia.com/TU104GL_Tesla_T4)`,
    );

export const networkSchema = fields({
    name: label()
        .max(15, {
            error: (issue) =>
                `"${String(issue.input)}" is longer than 15 characters; it names the guest's interface on the network`,
            abort: true,
        })
        .refine((name) => name !== podInterfaceName, {
            error: `"${podInterfaceName}" is reserved for the VM's pod network`,
        })
        .meta({
            not: { const: podInterfaceName },
            description:
                "Network name (DNS label of at most 15 characters, not pod): names the guest's interface and the NetworkAttachmentDefinition",
        }),
    bridge: matching(
        linuxInterfaceName,
        (given) =>
            `"${given}" is not a Linux interface name (at most 15 letters, digits, "_", "-", ".")`,
    )
        .optional()
        .meta({
            description: "Linux bridge on every host node that the network's VMs join; or sriov",
        }),
    sriov: fields({
        resourceName: resourceName().meta({
            description:
                "The SR-IOV device plugin's resource of the VFs (e.g. intel.com/sriov_fabric)",
        }),
    })
        .optional()
        .meta({
            description:
                "Instead of a bridge: VMs get a virtual function of a host NIC, passed through",
        }),
    vlan: wholeNumber(1, 4094).optional().meta({
        description:
            "VLAN tag on the bridge; the host bridge must be VLAN-filtering (see the printed prerequisites)",
    }),
    cidr: cidr()
        .refine((value) => Number(value.split("/")[1]) <= 30, {
            error: (issue) =>
                `/${String(issue.input).split("/")[1]} leaves no room for a gateway and nodes`,
        })
        .meta({
            description: "The network's IPv4 CIDR, at most /30; no two site networks overlap",
        }),
    gateway: ipv4().meta({ description: "Default gateway of nodes on the network, inside cidr" }),
    range: matching(
        ipv4Range,
        (given) =>
            `"${given}" is not a range of two IPv4 addresses (e.g. 192.168.18.200-192.168.18.250)`,
    )
        .optional()
        .meta({
            description:
                "Addresses nodes may be given, first-last inclusive; absent: the whole CIDR but network and broadcast",
        }),
});

function siteNetworks<T extends z.ZodType>(network: T) {
    return listOf(network, "must list at least one site network: nodes need a stable address").meta(
        {
            description:
                "The site's bridge and SR-IOV networks that nodes join with static addresses",
        },
    );
}

/**
 * Most nameservers KubeVirt admits in a VM's dnsConfig (maxDNSNameservers in kubevirt
 * pkg/virt-api/webhooks/validating-webhook/admitters/vmi-create-admitter.go).
 */
const maxDnsServers = 3;

/** The site's own settings; its networks are read one by one with networkSchema. */
const siteFields = {
    name: label().meta({
        description: "Site name (DNS label); prefixes Rancher cluster names and labels",
    }),
    kubeconfig: text().optional().meta({
        description:
            "Host cluster kubeconfig, set as a secret (pulumi config set --secret --path edge:site.kubeconfig); absent: the ambient kubeconfig",
    }),
    storageClass: matching(dns1123Subdomain, (given) => `"${given}" is not a StorageClass name`)
        .optional()
        .meta({
            description: "StorageClass of every DataVolume; absent: the host cluster's default",
        }),
    imageNamespace: label()
        .default(defaults.imageNamespace)
        .meta({ description: "Namespace of the golden image DataVolumes" }),
    networkNamespace: label()
        .default(defaults.networkNamespace)
        .meta({ description: "Namespace of the NetworkAttachmentDefinitions" }),
    dnsServers: listOf(
        ipv4(),
        "must list at least one DNS server: nodes resolve the Rancher URL with it",
    )
        // Not .max(): zod checks the length of anything that has one, a string given for the list too.
        .refine((servers) => servers.length <= maxDnsServers, {
            error: (issue) =>
                `lists ${(issue.input as unknown[]).length} DNS servers; KubeVirt takes at most ${maxDnsServers} in a VM's dnsConfig`,
        })
        .meta({
            maxItems: maxDnsServers,
            description: "IPv4 DNS servers of every node, in its VM's dnsConfig too",
        }),
    hostNodeIps: z.array(ipv4()).default([]).meta({
        description:
            "Host cluster node IPs: the clusters' tls-san, and where the direct API endpoint is reached",
    }),
    reservedCidrs: z.array(cidr()).default([]).meta({
        description:
            "Host pod and service CIDRs and the site LAN: no edge cluster may overlap them",
    }),
    clusterCidrPool: cidr().meta({
        description: "The block that pod and service CIDRs not pinned by a cluster come from",
    }),
    podCidrPrefix: wholeNumber(8, 24)
        .default(defaults.podCidrPrefix)
        .meta({ description: "Prefix length of an assigned pod CIDR" }),
    serviceCidrPrefix: wholeNumber(12, 24)
        .default(defaults.serviceCidrPrefix)
        .meta({ description: "Prefix length of an assigned service CIDR" }),
    sshAuthorizedKeys: listOf(
        checked(checkPublicKey, paddedPublicKey).transform((key) => key.trim()),
        "must list at least one key: nodes have no password login",
    ).meta({ description: "OpenSSH public keys of the nodes' default user" }),
    sshUser: matching(linuxUserName, (given) => `"${given}" is not a Linux user name`)
        .default(defaults.sshUser)
        .meta({ description: "The cloud image's default user, who gets the SSH keys" }),
    networks: siteNetworks(z.unknown()),
    hosts: z.array(z.unknown()).default([]).meta({
        description:
            "The host cluster's nodes that run VMs, with what they can give: intents are placed on them (npm run hosts converts kubectl get nodes -o json)",
    }),
    insecureRegistration: z.boolean().default(false).meta({
        description:
            "Nodes fetch Rancher's agent without checking its certificate (a self-signed Rancher)",
    }),
    protect: z.boolean().default(false).meta({
        description:
            "Put Pulumi's protect on everything the site declares but ClusterSync and the break-glass read (production sites)",
    }),
    kubevirtVersion: checked(checkKubevirtVersion, /^1\.(0|[1-9][0-9]*)$/)
        .default(defaults.kubevirtVersion)
        .meta({
            description:
                "The host cluster's KubeVirt minor version (kubectl -n kubevirt get kubevirt kubevirt -o jsonpath='{.status.observedKubeVirtVersion}'): the launcher overhead placement counts and the prerequisites follow it",
        }),
};

/** A KubeVirt minor version whose launcher pod lib/config/defaults.ts models, or what is wrong. */
function checkKubevirtVersion(given: string): string | undefined {
    if (!/^1\.(0|[1-9][0-9]*)$/.test(given)) {
        return `"${given}" is not a KubeVirt minor version like "${defaults.kubevirtVersion}"`;
    }
    const known = Object.keys(kubevirtLauncher);
    return given in kubevirtLauncher
        ? undefined
        : `KubeVirt ${given} is not modelled: placement knows the launcher pods of KubeVirt ${known[0]} to ${known[known.length - 1]}`;
}

export const hugepageSizes = ["2Mi", "1Gi"] as const;
export type HugepageSize = (typeof hugepageSizes)[number];

export const hostSchema = fields({
    name: matching(dns1123Subdomain, (given) => `"${given}" is not a Kubernetes node name`).meta({
        description: "The host node's name (its kubernetes.io/hostname label)",
    }),
    cpu: wholeNumber(1, 4096).meta({
        description:
            "Cores VMs may have in all: the node's allocatable CPU, less what it keeps for itself",
    }),
    memory: positiveQuantity().meta({
        description: "Memory VMs may have in all, overhead included: the node's allocatable memory",
    }),
    zone: matching(labelValue, (given) => `"${given}" is not a Kubernetes label value`)
        .optional()
        .meta({ description: "Its topology.kubernetes.io/zone: what spread by zone counts" }),
    labels: labelMap().default({}).meta({
        description:
            'Its labels that hostSelectors and features use (kubevirt.io/cpumanager: "true" allows dedicated CPUs)',
    }),
    devices: z
        .record(resourceName(), wholeNumber(1, 4096), {
            error: (issue) =>
                issue.code === "invalid_key"
                    ? `${describe(issue.input)} is not an extended resource name`
                    : undefined,
        })
        .default({})
        .meta({
            description:
                "Allocatable devices by extended resource name: GPUs, host devices, SR-IOV VFs",
        }),
    hugepages: z
        .partialRecord(z.enum(hugepageSizes), positiveQuantity(), {
            // zod reports a key outside the enum as unrecognized_keys, which the type of a
            // record's issues leaves out.
            error: (issue) =>
                (issue.code as string) === "unrecognized_keys"
                    ? `unknown page size (expected one of: ${hugepageSizes.join(", ")})`
                    : undefined,
        })
        .default({})
        .meta({ description: "Allocatable hugepages by page size (2Mi, 1Gi): the total of each" }),
});

export const siteSettingsSchema = fields(siteFields);
export const siteSchema = fields({
    ...siteFields,
    networks: siteNetworks(networkSchema),
    hosts: z.array(hostSchema).default([]).meta(siteFields.hosts.meta()!),
});

const imageFields = fields({
    url: checked(checkImageUrl, imageUrl).meta({
        description: "http(s) URL of the cloud image CDI imports, without credentials",
    }),
    size: quantity()
        .default(defaults.imageSize)
        .meta({ description: "Size of the golden image volume; node disks are at least as large" }),
    secretRef: label().optional().meta({
        description:
            "Secret in the image namespace with accessKeyId and secretKey for the image server",
    }),
    os: z.enum(guestOses).default(defaults.imageOs).meta({
        description:
            "Guest family: ubuntu (20.04+) and debian (12+) configure the network with netplan, rhel (EL 9+) with NetworkManager",
    }),
});

export const imageSchema = z
    .union([
        checked(checkImageUrl, imageUrl).transform((url) => imageFields.parse({ url })),
        imageFields,
    ])
    .meta({ description: "A cloud image: its URL, or a map with url, size, secretRef and os" });

export const imagesSchema = z
    .record(label(), imageSchema, {
        error: (issue) =>
            issue.code === "invalid_key" ? checkLabel(String(issue.input)) : undefined,
    })
    .refine((images) => Object.keys(images).length > 0, { error: "must define at least one image" })
    .meta({ description: "Cloud images CDI imports once per site, by name" });

const nodeNetworkFields = fields({
    network: text().meta({ description: "Name of a site network" }),
    ip: ipv4()
        .optional()
        .meta({ description: "Pinned address; absent: assigned from the network's range" }),
});

export const nodeNetworkSchema = z
    .union([
        text().transform((network): { network: string; ip?: string } => ({ network })),
        nodeNetworkFields,
    ])
    .meta({ description: "A site network the node joins: its name, or a map with network and ip" });

/** What a VM may ask of its host beyond cores and memory; hand-written nodes and pools alike. */
const hardwareFields = {
    gpus: z.array(resourceName()).optional().meta({
        description:
            "GPUs passed through, one per entry, by device name (must be in KubeVirt's permittedHostDevices)",
    }),
    hostDevices: z.array(resourceName()).optional().meta({
        description:
            "Other PCI or mediated host devices, one per entry, by device name (permittedHostDevices)",
    }),
    dedicatedCpu: z.boolean().optional().meta({
        description:
            "Pin each vCPU to its own host core (dedicatedCpuPlacement); the host needs the CPU manager's static policy",
    }),
    isolateEmulatorThread: z.boolean().optional().meta({
        description: "With dedicatedCpu: one more host core for QEMU's emulator thread",
    }),
    hugepages: z.enum(hugepageSizes).optional().meta({
        description: "Back guest memory with hugepages of this size (2Mi or 1Gi)",
    }),
};

export const nodeSchema = fields({
    name: label().meta({ description: "Node name (DNS label); the VM is <cluster>-<node>" }),
    roles: listOf(z.enum(nodeRoles), `must list at least one of: ${nodeRoles.join(", ")}`).meta({
        description: "Rancher roles of the node",
    }),
    cpu: wholeNumber(1, 512).meta({ description: "Virtual CPU cores" }),
    memory: nodeMemory().meta({ description: `Guest memory, at least ${minimumNodeMemory}` }),
    disk: quantity().meta({ description: "Root disk size, at least the image's size" }),
    image: text().meta({ description: "Name of an image in edge:images" }),
    networks: listOf(
        nodeNetworkSchema,
        "must attach the node to at least one site network: its cluster address cannot be a pod IP, which changes on restart",
    ).meta({ description: "Site networks the node joins; the first carries its node address" }),
    hostSelector: labelMap()
        .default({})
        .meta({ description: "Host node labels the VM must be scheduled on" }),
    ...hardwareFields,
});

const directApiSchema = fields({
    enabled: z
        .boolean()
        .default(false)
        .meta({ description: "Serve the cluster's API through a host NodePort" }),
    nodePort: wholeNumber(nodePortRange.first, nodePortRange.last)
        .optional()
        .meta({ description: "The NodePort; absent: any free port" }),
})
    .default({ enabled: false })
    .meta({
        description:
            "A NodePort Service and Rancher's authorized endpoint for the cluster's API, reached through the control-plane VMs' pod network",
    });

/** What each node of an intent's pool needs: it gets exactly these sizes. */
const poolFields = {
    cpu: wholeNumber(1, 512).meta({ description: "Virtual CPU cores of each node" }),
    memory: nodeMemory().meta({
        description: `Guest memory of each node, at least ${minimumNodeMemory}`,
    }),
    disk: quantity().meta({
        description: "Root disk size of each node, at least the image's size",
    }),
    image: text().optional().meta({ description: "Image of these nodes; absent: the intent's" }),
    sriov: z.array(text()).optional().meta({
        description: "SR-IOV site networks these nodes join too, each with a VF of their host",
    }),
    ...hardwareFields,
};

export const serverPoolSchema = fields({
    count: wholeNumber(1, 7)
        .default(defaults.intentServers.count)
        .meta({ description: "Servers (control plane and etcd), an odd number" }),
    worker: z.boolean().default(false).meta({
        description:
            "Servers run workloads too (the worker role); needed when there are no workers",
    }),
    cpu: poolFields.cpu.default(defaults.intentServers.cpu),
    memory: poolFields.memory.default(defaults.intentServers.memory),
    disk: poolFields.disk.default(defaults.intentServers.disk),
    image: poolFields.image,
    sriov: poolFields.sriov,
    ...hardwareFields,
});

export const workerPoolSchema = fields({
    name: label().meta({
        description: "Pool name (DNS label); its nodes are <name>-1, <name>-2, ...",
    }),
    count: wholeNumber(0, 500).meta({
        description: "Nodes; shrinking removes the highest-numbered",
    }),
    ...poolFields,
});

export const spreadSchema = fields({
    by: z
        .enum(["host", "zone"])
        .default(defaults.intentSpread.by)
        .meta({ description: "Spread each pool's nodes over hosts or zones" }),
    maxSkew: wholeNumber(1, 100).default(defaults.intentSpread.maxSkew).meta({
        description:
            "Most a pool's node count may differ between two hosts or zones that could take it",
    }),
});

export const intentSchema = fields({
    image: text().meta({ description: "Name of an image in edge:images for every node" }),
    networks: listOf(
        text(),
        "must name at least one site network: nodes need a stable address",
    ).meta({
        description:
            "Site networks every node joins, addresses assigned; the first carries the node address",
    }),
    spread: spreadSchema.default(defaults.intentSpread).meta({
        description: "How each pool spreads; absent: by host, skew 1",
    }),
    servers: serverPoolSchema.default(defaults.intentServers).meta({
        description: `The servers, named server-1, server-2, ...; absent: ${defaults.intentServers.count} of ${defaults.intentServers.cpu} cores, ${defaults.intentServers.memory}, ${defaults.intentServers.disk}`,
    }),
    workers: z.array(workerPoolSchema).default([]).meta({
        description: "Worker pools; a node's name is <pool>-<number> and never changes",
    }),
});

function clusterNodes<T extends z.ZodType>(node: T) {
    return listOf(node, "must list at least one node").optional().meta({
        description:
            "The nodes, written by hand: at least one per role, an odd number of etcd nodes, all listing the same network first; or an intent instead",
    });
}

/** A cluster's own settings; its nodes are read one by one with nodeSchema. */
const clusterFields = {
    name: label().meta({
        description: "Cluster name (DNS label); Rancher's name is <site>-<name>",
    }),
    type: z.enum(clusterTypes).meta({ description: "Distribution" }),
    kubernetesVersion: text().meta({
        description: "e.g. v1.31.5+k3s1 or v1.31.5+rke2r1, matching type",
    }),
    cni: z
        .enum(cnis)
        .optional()
        .meta({
            description: `CNI; k3s takes ${supportedCnis.k3s.join(" or ")}; absent: ${defaults.cni.k3s} for k3s, ${defaults.cni.rke2} for rke2`,
        }),
    podCidr: cidr()
        .optional()
        .meta({ description: "Pinned pod CIDR; absent: from the site's pool" }),
    serviceCidr: cidr()
        .optional()
        .meta({ description: "Pinned service CIDR; absent: from the site's pool" }),
    namespace: label()
        .optional()
        .meta({ description: "Host namespace of the cluster's VMs; absent: the cluster name" }),
    directApi: directApiSchema,
    breakGlassKubeconfig: z
        .boolean()
        .default(false)
        .meta({ description: "Read the admin kubeconfig over SSH (needs edge:sshPrivateKey)" }),
    acknowledgeReplacement: z.boolean().default(false).meta({
        description:
            "Accept that a changed type, podCidr or serviceCidr rebuilds the cluster, or that a change replaces or removes several etcd nodes or leaves an even number",
    }),
    nodes: clusterNodes(z.unknown()),
    intent: z.unknown().optional(),
};

const intentDescription =
    "What the cluster needs, instead of nodes: pools of servers and workers that the plan places on site.hosts";

export const clusterSettingsSchema = fields(clusterFields);
export const clusterSchema = fields({
    ...clusterFields,
    nodes: clusterNodes(nodeSchema),
    intent: intentSchema.optional().meta({ description: intentDescription }),
}).meta({ oneOf: [{ required: ["nodes"] }, { required: ["intent"] }] });

export const clustersSchema = z
    .array(z.unknown())
    .meta({ description: "The site's edge clusters; absent: none" });

export const allocationSchema = fields({
    type: z.enum(clusterTypes),
    podCidr: cidr(),
    serviceCidr: cidr(),
    /** node name → site network name → IP */
    nodes: z.record(z.string(), z.record(z.string(), ipv4())).default({}),
    /**
     * etcd node name → what replaces its VM (see `vmIdentity`): how the next change is checked
     * for etcd quorum. Absent in records written before it existed.
     */
    etcd: z.record(z.string(), text()).optional(),
    /** Intent node name → the host it was placed on: placement is sticky. */
    hosts: z.record(z.string(), text()).optional(),
});

export const allocationsSchema = z.record(z.string(), allocationSchema).meta({
    description:
        "Written by npm run lock: the addresses handed out so far, each cluster's etcd members and where intents' nodes were placed; commit it with the config",
});

export type HostShape = z.output<typeof hostSchema>;
export type IntentShape = z.output<typeof intentSchema>;
export type WorkerPoolShape = z.output<typeof workerPoolSchema>;
export type ServerPoolShape = z.output<typeof serverPoolSchema>;
export type NetworkShape = z.output<typeof networkSchema>;
export type SiteSettings = z.output<typeof siteSettingsSchema>;
export type ImageShape = z.output<typeof imageSchema>;
export type NodeNetworkConfig = z.output<typeof nodeNetworkSchema>;
export type NodeConfig = z.output<typeof nodeSchema>;
export type ClusterSettings = z.output<typeof clusterSettingsSchema>;
export type ClusterAllocation = z.output<typeof allocationSchema>;
export type Allocations = z.output<typeof allocationsSchema>;
