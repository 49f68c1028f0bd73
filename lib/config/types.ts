import {
    Allocations,
    ClusterSettings,
    ClusterType,
    HostShape,
    ImageShape,
    IntentShape,
    NetworkShape,
    NodeConfig,
    SiteSettings,
} from "./shape";

/** Addresses nodes may be given on a network, inclusive. */
export interface AddressRange {
    first: string;
    last: string;
}

/** A bridge network of the site that VMs join with a static address, its range resolved. */
export type SiteNetworkConfig = Omit<NetworkShape, "range"> & { range: AddressRange };

export type SiteConfig = Omit<SiteSettings, "networks" | "hosts" | "kubeconfig"> & {
    networks: SiteNetworkConfig[];
    hosts: HostShape[];
};

/** A node of a cluster: written by hand, or expanded from its intent (lib/config/intent.ts). */
export type ClusterNode = NodeConfig & {
    /** The intent pool it comes from: `servers` or a worker pool's name. */
    pool?: string;
    /** The host it is placed on (lib/plan/placement.ts); intent nodes only. */
    host?: string;
};

export type ImageConfig = ImageShape & { name: string };

/** A cluster with the defaults that depend on its other fields applied. */
export type ClusterConfig = Omit<ClusterSettings, "cni" | "namespace" | "nodes" | "intent"> & {
    cni: string;
    namespace: string;
    nodes: ClusterNode[];
    /** What the nodes were expanded from, when the cluster is declared as an intent. */
    intent?: IntentShape;
};

export interface StackConfig {
    site: SiteConfig;
    images: ImageConfig[];
    clusters: ClusterConfig[];
    allocations: Allocations;
}

/** interconnects.yaml, parsed, and the member sites' configs as their committed files give them. */
export interface LoadedInterconnects {
    raw: unknown;
    sites: Record<string, StackConfig>;
    /** Member sites whose stack files have config errors, so are not in `sites`. */
    broken: string[];
}

/** The stack's config as read from `edge:*` keys, not yet trusted. */
export interface RawStackConfig {
    site?: unknown;
    images?: unknown;
    clusters?: unknown;
    allocations?: unknown;
    /** Whether the `edge:sshPrivateKey` secret is set; its value never reaches validation. */
    hasSshPrivateKey?: boolean;
    /** Whether the `edge:wireguardPrivateKey` secret is set: the site's gateways exist only then. */
    hasWireguardKey?: boolean;
    /** interconnects.yaml and the committed config of every site it names (lib/plan/interconnect.ts). */
    interconnects?: LoadedInterconnects;
    /** Keys of the project's namespace that the program does not know, such as `edge:cluster`. */
    unknownKeys?: string[];
    /** Keys that hold credentials but were stored in plain text, such as `rancher2:tokenKey`. */
    plaintextSecrets?: string[];
    /**
     * About how many bytes the stack file's whole config takes as the Node.js language host hands
     * it to the program (lib/config/stackFile.ts); absent where the config is not read from a file.
     */
    languageHostConfigBytes?: number;
}

export type { ClusterType };
