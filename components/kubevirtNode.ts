import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { nodeRegistrationCommand, renderUserData, CloudInitData } from "../lib/render";
import { resourceNames, typeTokens } from "../lib/core";
import { NodePlan } from "../lib/plan";
import { declareClonedDiskVm } from "./clonedDiskVm";

export interface KubevirtNodeArgs {
    /** The node's resolved plan: names, addresses, MACs and manifests (see `planStack`). */
    node: NodePlan;
    /** Rancher's registration command for the node's cluster, before the node's own flags. */
    registrationCommand: pulumi.Input<string>;
    /** Rancher's private CA, which the guest must trust to fetch the agent; empty for a public CA. */
    rancherCaCerts: pulumi.Input<string>;
    /** Removes the node from Rancher before its VM goes (see runtime/nodeRemoval.ts). */
    removalHook: pulumi.ResourceHook;
    /** The golden image DataVolume the root disk clones; the clone waits for its import. */
    goldenImage: pulumi.Resource;
    /** The namespace the node's objects live in, created before them. */
    namespace: pulumi.Resource;
    /** The NetworkAttachmentDefinitions of the node's site networks, created before the VM. */
    networkAttachments: pulumi.Resource[];
}

/**
 * One edge cluster node: a KubeVirt VM booted from a clone of the site's golden image, with
 * static addresses, its own SSH host key, and the Rancher registration handed in through a
 * cloud-init Secret.
 */
export class KubevirtNode extends pulumi.ComponentResource {
    /** The node's IPs by site network: planned, so plain data. */
    public readonly ips: Record<string, string>;
    /** The node's MACs by site network. */
    public readonly macs: Record<string, string>;
    /** The node's Rancher roles. */
    public readonly roles: string[];
    /** The public half of the node's SSH host key, as `ssh-ed25519 AAAA...`. */
    public readonly hostPublicKey: pulumi.Output<string>;
    /** The Secret holding cloud-init user-data (with the registration token) and network-data. */
    public readonly cloudInit: k8s.core.v1.Secret;
    /** The node's root disk. */
    public readonly rootDisk: k8s.apiextensions.CustomResource;
    /** The node's VirtualMachine. */
    public readonly virtualMachine: k8s.apiextensions.CustomResource;

    constructor(name: string, args: KubevirtNodeArgs, opts?: pulumi.ComponentResourceOptions) {
        super(typeTokens.kubevirtNode, name, {}, opts);
        const { node } = args;

        // Generated once and kept in the state, so that SSH clients can pin it.
        const hostKey = new tls.PrivateKey(
            resourceNames.hostKey(name),
            { algorithm: "ED25519" },
            { parent: this },
        );
        this.hostPublicKey = hostKey.publicKeyOpenssh.apply((key) => key.trim());

        ({
            cloudInit: this.cloudInit,
            rootDisk: this.rootDisk,
            virtualMachine: this.virtualMachine,
        } = declareClonedDiskVm(this, name, {
            rootDisk: node.rootDisk,
            virtualMachine: node.virtualMachine,
            cloudInit: {
                secretName: node.cloudInitSecretName,
                data: cloudInitData(node, args, hostKey),
            },
            namespace: args.namespace,
            goldenImage: args.goldenImage,
            networkAttachments: args.networkAttachments,
            // The node leaves Rancher (drain, etcd member, Node object) before its VM goes.
            removalHook: args.removalHook,
        }));

        this.ips = Object.fromEntries(node.interfaces.map((i) => [i.network, i.ip]));
        this.macs = Object.fromEntries(node.interfaces.map((i) => [i.network, i.mac]));
        this.roles = [...node.roles];
        // The data outputs only: each child is in the state already, and serializing a resource
        // as an output awaits its URN and ID for nothing.
        this.registerOutputs({
            ips: this.ips,
            macs: this.macs,
            roles: this.roles,
            hostPublicKey: this.hostPublicKey,
        });
    }
}

/**
 * The cloud-init Secret's data; secret because user-data carries the registration token and the
 * host's private key.
 */
function cloudInitData(
    node: NodePlan,
    args: KubevirtNodeArgs,
    hostKey: tls.PrivateKey,
): pulumi.Output<CloudInitData> {
    return pulumi.secret(
        pulumi
            .all([
                args.registrationCommand,
                args.rancherCaCerts,
                hostKey.privateKeyOpenssh,
                hostKey.publicKeyOpenssh,
            ])
            .apply(([base, caCerts, privateKey, publicKey]) => ({
                userdata: renderUserData({
                    hostname: node.userData.hostname,
                    sshAuthorizedKeys: node.userData.sshAuthorizedKeys,
                    registrationCommand: nodeRegistrationCommand(base, node.userData.registration),
                    hostKey: { privateKey, publicKey: publicKey.trim() },
                    ...(caCerts.trim() === "" ? {} : { rancherCaCerts: caCerts }),
                    os: node.os,
                }),
                networkdata: node.networkData,
            })),
    );
}
