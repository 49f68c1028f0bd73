/**
 * lib/render: the documents a planned node becomes. The host cluster's objects, VirtualMachines,
 * DataVolumes and their kin (manifests.ts), the cloud-init user-data and network-config a guest
 * boots with (cloudinit.ts), and the firmware UUID that tells cloud-init the content changed
 * (instanceId.ts). It renders what it is given and decides nothing.
 *
 * May import: core, config.
 */
export * from "./cloudinit";
export * from "./instanceId";
export * from "./manifests";
