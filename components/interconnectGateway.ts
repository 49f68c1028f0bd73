import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { privateKeyPlaceholder, GatewayNodePlan } from "../lib/plan";
import { typeTokens } from "../lib/core";
import { declareClonedDiskVm } from "./clonedDiskVm";

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

        ({
            cloudInit: this.cloudInit,
            rootDisk: this.rootDisk,
            virtualMachine: this.virtualMachine,
        } = declareClonedDiskVm(this, name, {
            rootDisk: gateway.rootDisk,
            virtualMachine: gateway.virtualMachine,
            cloudInit: {
                secretName: gateway.cloudInitSecretName,
                // Secret: the user-data carries the WireGuard private key.
                data: pulumi.secret(
                    userData.apply((userdata) => ({ userdata, networkdata: gateway.networkData })),
                ),
            },
            namespace: args.namespace,
            goldenImage: args.goldenImage,
            networkAttachments: [args.networkAttachment],
        }));
        this.ip = gateway.gateway.ip;
        this.tunnelAddress = gateway.gateway.tunnelAddress;
        this.registerOutputs({ ip: this.ip, tunnelAddress: this.tunnelAddress });
    }
}
