import { hex, sha256Of } from "../core";

/** A VM's cloud-init Secret data, under the keys its cloudInitNoCloud volume reads. */
export type CloudInitData = { userdata: string; networkdata: string };

/**
 * The firmware UUID of a VM with this cloud-init: KubeVirt hands the VMI's firmware UUID to the
 * guest as the NoCloud instance-id (kubevirt pkg/cloud-init/cloud-init.go cloudInitUUIDFromVMI),
 * and cloud-init applies its per-instance modules and network config only for a new instance-id
 * (cloudinit/stages.py is_new_instance). So the UUID changes exactly when the content does.
 *
 * The first 128 bits of SHA-256 over the VM's namespace and name and both documents (JSON, so
 * that no two inputs frame alike), as an RFC 9562 version 8 UUID. The name keeps two VMs' SMBIOS
 * UUIDs apart whatever their content.
 */
export function cloudInitUuid(
    vm: { namespace: string; name: string },
    data: CloudInitData,
): string {
    const input = JSON.stringify([vm.namespace, vm.name, data.userdata, data.networkdata]);
    const bytes = sha256Of(input).slice(0, 16);
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const digits = hex(bytes);
    return [
        digits.slice(0, 8),
        digits.slice(8, 12),
        digits.slice(12, 16),
        digits.slice(16, 20),
        digits.slice(20, 32),
    ].join("-");
}
