import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
    CloudInitData,
    cloudInitUuid,
    DataVolume,
    VirtualMachine,
    withFirmwareUuid,
} from "../lib/render";
import { annotations, resourceNames } from "../lib/core";

export interface ClonedDiskVmArgs {
    rootDisk: DataVolume;
    virtualMachine: VirtualMachine;
    /** The VM's cloud-init: its Secret's name, and the Secret's data as a secret output. */
    cloudInit: { secretName: string; data: pulumi.Output<CloudInitData> };
    /** The namespace both live in, created before them. */
    namespace: pulumi.Resource;
    /** The golden image the root disk clones; the clone waits for its import. */
    goldenImage: pulumi.Resource;
    /** The NetworkAttachmentDefinitions of the VM's site networks, created before it. */
    networkAttachments: pulumi.Resource[];
    /** Runs before the VM is deleted: a node leaves Rancher first. */
    removalHook?: pulumi.ResourceHook;
}

/**
 * A VM booted from its own clone of the site's golden image, as nodes and interconnect gateways
 * are, declared under `parent` with its cloud-init Secret and the options that keep disk and VM
 * in step.
 */
export function declareClonedDiskVm(
    parent: pulumi.ComponentResource,
    name: string,
    args: ClonedDiskVmArgs,
): {
    cloudInit: k8s.core.v1.Secret;
    rootDisk: k8s.apiextensions.CustomResource;
    virtualMachine: k8s.apiextensions.CustomResource;
} {
    const { metadata } = args.virtualMachine;
    const cloudInit = new k8s.core.v1.Secret(
        resourceNames.cloudInit(name),
        {
            metadata: { name: args.cloudInit.secretName, namespace: metadata.namespace },
            stringData: args.cloudInit.data,
        },
        { parent, dependsOn: [args.namespace] },
    );
    // From the Secret's data as the program computes it, not from the Secret's outputs: a preview
    // of an unchanged VM knows it. A change marks a running VM RestartRequired (kubevirt
    // pkg/virt-controller/watch/vm/vm.go syncRestartRequired); its guest applies the new
    // cloud-init on its next restart, which KubeVirt leaves to the operator.
    // Not secret: a SHA-256 of data holding high-entropy keys reveals nothing of them.
    const uuid = pulumi.unsecret(
        args.cloudInit.data.apply((data) => cloudInitUuid(metadata, data)),
    );
    const rootDisk = new k8s.apiextensions.CustomResource(
        resourceNames.rootDisk(name),
        args.rootDisk,
        {
            parent,
            dependsOn: [args.namespace, args.goldenImage],
            // A DataVolume's spec is immutable, a node's roles are installed on its disk, and a
            // rebuilt cluster needs fresh disks: each must recreate it (a gateway carries neither
            // annotation)...
            replaceOnChanges: [
                "spec",
                `metadata.annotations["${annotations.rootDisk}"]`,
                `metadata.annotations["${annotations.clusterIdentity}"]`,
            ],
            // ...and its fixed name means the old one must go first.
            deleteBeforeReplace: true,
        },
    );
    const vm = withFirmwareUuid(args.virtualMachine, uuid);
    const virtualMachine = new k8s.apiextensions.CustomResource(name, vm, {
        parent,
        dependsOn: [cloudInit, rootDisk, ...args.networkAttachments],
        // The annotations carry every reason its root disk or cluster is replaced, so the VM
        // is replaced with them (Pulumi does not cascade replacements along dependsOn); a new
        // firmware UUID is in neither, so it updates the VM...
        replaceOnChanges: [
            `metadata.annotations["${annotations.rootDisk}"]`,
            `metadata.annotations["${annotations.clusterIdentity}"]`,
        ],
        // ...and the disk's delete-before-replace deletes the VM first, not the disk under it
        // (pulumi pkg/resource/deploy/step_generator.go, findDependentCascadeReplacements).
        replaceWith: [rootDisk],
        // The VM keeps its name, so the old one must be deleted before the new one exists.
        deleteBeforeReplace: true,
        ...(args.removalHook ? { hooks: { beforeDelete: [args.removalHook] } } : {}),
    });
    return { cloudInit, rootDisk, virtualMachine };
}
