import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { privateKeyPlaceholder } from "../lib/interconnect";
import { resourceNames, typeTokens } from "../lib/naming";
import { GatewayNodePlan } from "../lib/plan";

export interface InterconnectGatewayArgs {
    /** The gateway's resolved plan: its VM, disk, cloud-init and wg-quick file. */
    gateway: GatewayNodePlan;
    /** The site's WireGuard private key (`edge:wireguardPrivateKey`). */
    privateKey: pulumi.Input<string>;
    /** The namespace the gateway's objects live in, created before them. */
    namespace: pulumi.Resource;
    /** The golden image its root disk clones. */
    goldenImage: pulumi.Resource;
    /** The NetworkAttachmentDefinition of the site network it serves. */
    networkAttachment: pulumi.Resource;
}

/**
 * One site's end of an interconnect: a KubeVirt VM on the site network it serves, booted from the
 * site's golden image like a node, that runs WireGuard instead of registering to Rancher.
 */
export class InterconnectGateway extends pulumi.ComponentResource {
    /** The gateway's address on its site network: where nodes route the peer sites. */
    public readonly ip: string;
    /** Its address inside the interconnect's tunnel CIDR. */
    public readonly tunnelAddress: string;
    /** The Secret holding its cloud-init, with the private key. */
    public readonly cloudInit: k8s.core.v1.Secret;
    public readonly rootDisk: k8s.apiextensions.CustomResource;
    public readonly virtualMachine: k8s.apiextensions.CustomResource;

    constructor(
        name: string,
        args: InterconnectGatewayArgs,
        opts?: pulumi.ComponentResourceOptions,
    ) {
        super(typeTokens.interconnectGateway, name, {}, opts);
        const { gateway } = args;
        // The program checked the key against the committed public key before declaring this.
        const userData = pulumi
            .output(args.privateKey)
            .apply((key) => gateway.userData.replace(privateKeyPlaceholder, key));

        this.cloudInit = new k8s.core.v1.Secret(
            resourceNames.cloudInit(name),
            {
                metadata: { name: gateway.cloudInitSecretName, namespace: gateway.namespace },
                // Secret: the user-data carries the WireGuard private key.
                stringData: pulumi.secret(
                    userData.apply((userdata) => ({ userdata, networkdata: gateway.networkData })),
                ),
            },
            { parent: this, dependsOn: [args.namespace] },
        );
        this.rootDisk = new k8s.apiextensions.CustomResource(
            resourceNames.rootDisk(name),
            gateway.rootDisk,
            {
                parent: this,
                dependsOn: [args.namespace, args.goldenImage],
                // A DataVolume's spec is immutable: a new image or size needs a new disk...
                replaceOnChanges: ["spec"],
                // ...under the same name, so the old one must go first.
                deleteBeforeReplace: true,
            },
        );
        this.virtualMachine = new k8s.apiextensions.CustomResource(name, gateway.virtualMachine, {
            parent: this,
            dependsOn: [this.cloudInit, this.rootDisk, args.networkAttachment],
            // The disk's delete-before-replace deletes the VM first, not the disk under it.
            replaceWith: [this.rootDisk],
            // The VM keeps its name, so the old one must be deleted before the new one exists.
            deleteBeforeReplace: true,
            // Booting, cloning and installing WireGuard can outlast the default 10m.
            customTimeouts: { create: "30m", update: "30m" },
        });
        this.ip = gateway.gateway.ip;
        this.tunnelAddress = gateway.gateway.tunnelAddress;
        this.registerOutputs({ ip: this.ip, tunnelAddress: this.tunnelAddress });
    }
}
