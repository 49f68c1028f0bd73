import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { SitePlan } from "../lib/plan";
import { resourceNames, typeTokens } from "../lib/core";

export interface SiteNetworkArgs {
    /** The site's resolved plan: namespaces, networks and golden images (see `planStack`). */
    site: SitePlan;
}

/** What the stack exports about a site network. */
export interface NetworkSummary {
    /** The Linux bridge, or the SR-IOV resource whose VFs VMs get. */
    bridge?: string;
    sriov?: string;
    vlan?: number;
    cidr: string;
    gateway: string;
    networkAttachmentDefinition: string;
}

/** What the stack exports about a golden image. */
export interface ImageSummary {
    url: string;
    size: string;
    dataVolume: string;
}

/**
 * What every cluster of a site shares on the host cluster: the namespaces, one bridge
 * NetworkAttachmentDefinition per site network, and one golden DataVolume per cloud image, imported
 * once and cloned by every node.
 */
export class SiteNetwork extends pulumi.ComponentResource {
    /** Namespaces by name. */
    public readonly namespaces: Record<string, k8s.core.v1.Namespace>;
    /** NetworkAttachmentDefinitions by site network name. */
    public readonly networkAttachments: Record<string, k8s.apiextensions.CustomResource>;
    /** Golden image DataVolumes by image name. */
    public readonly goldenImages: Record<string, k8s.apiextensions.CustomResource>;
    /** Site networks by name, as exported. */
    public readonly networks: Record<string, NetworkSummary>;
    /** Golden images by name, as exported. */
    public readonly images: Record<string, ImageSummary>;

    constructor(name: string, args: SiteNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
        // A production site (site.protect) protects everything in it: namespaces, images, NADs.
        super(typeTokens.siteNetwork, name, {}, { protect: args.site.protect, ...opts });
        const { site } = args;

        this.namespaces = Object.fromEntries(
            site.namespaces.map((ns) => [
                ns,
                new k8s.core.v1.Namespace(
                    resourceNames.namespace(name, ns),
                    { metadata: { name: ns } },
                    { parent: this },
                ),
            ]),
        );

        this.networkAttachments = Object.fromEntries(
            site.networks.map((network) => [
                network.name,
                new k8s.apiextensions.CustomResource(
                    resourceNames.nad(name, network.name),
                    network.nad,
                    {
                        parent: this,
                        dependsOn: [this.namespaces[network.nad.metadata.namespace]],
                    },
                ),
            ]),
        );

        this.goldenImages = Object.fromEntries(
            site.images.map((image) => [
                image.name,
                new k8s.apiextensions.CustomResource(
                    resourceNames.goldenImage(name, image.name),
                    image.dataVolume,
                    {
                        parent: this,
                        dependsOn: [this.namespaces[image.dataVolume.metadata.namespace]],
                        // A DataVolume's spec is immutable: a new URL or size means a new import...
                        replaceOnChanges: ["spec"],
                        // ...under the same name, so the old one must go first.
                        deleteBeforeReplace: true,
                        // Downloading and converting a cloud image can take a while on a site uplink.
                        customTimeouts: { create: "60m" },
                    },
                ),
            ]),
        );

        this.networks = Object.fromEntries(
            site.networks.map((n) => [
                n.name,
                {
                    ...(n.bridge === undefined ? {} : { bridge: n.bridge }),
                    ...(n.sriov === undefined ? {} : { sriov: n.sriov.resourceName }),
                    ...(n.vlan === undefined ? {} : { vlan: n.vlan }),
                    cidr: n.cidr,
                    gateway: n.gateway,
                    networkAttachmentDefinition: n.nadRef,
                },
            ]),
        );
        this.images = Object.fromEntries(
            site.images.map((i) => [
                i.name,
                {
                    url: i.url,
                    size: i.size,
                    dataVolume: `${i.dataVolume.metadata.namespace}/${i.dataVolume.metadata.name}`,
                },
            ]),
        );
        // The data outputs only: the namespaces, NADs and images are in the state already.
        this.registerOutputs({
            networks: this.networks,
            images: this.images,
        });
    }
}
