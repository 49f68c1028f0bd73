import { execFileSync } from "child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { typeTokens } from "../../lib/core/naming";
import { evaluateProgram } from "../../offline/evaluate";
import { mockRancher } from "../../test/mocks";

/** What a VM boots with, as the program declares it. */
export interface VmDocuments {
    vmName: string;
    hostname: string;
    /** The cloud-init Secret's `userdata` and `networkdata`, byte for byte. */
    userData: string;
    networkData: string;
    /** The NoCloud meta-data KubeVirt writes for the VM (see noCloudMetaData). */
    metaData: string;
    podMac: string;
    /** Site NICs in the VM's order. */
    nics: { network: string; mac: string }[];
    /** A node's host key, as the stack output pins it; gateways have none. */
    hostKey?: string;
}

/** What the test's stand-in Rancher hands the program instead of the mocks' values. */
export interface RancherValues {
    nodeCommand: string;
    caCerts: string;
}

/**
 * NoCloud meta-data as KubeVirt writes it for a VM's cloudInitNoCloud volume: JSON of the
 * firmware UUID as instance-id and the sanitized hostname (kubevirt pkg/cloud-init/cloud-init.go:
 * ReadCloudInitVolumeDataSource, readCloudInitNoCloudMetaData, GenerateLocalData).
 */
export function noCloudMetaData(vm: any): string {
    const spec = vm.spec.template.spec;
    return JSON.stringify({
        "instance-id": spec.domain.firmware.uuid,
        "local-hostname": spec.hostname ?? vm.metadata.name,
    });
}

/** A fresh ed25519 key in OpenSSH form, as the tls provider's PrivateKey outputs it. */
function sshKey(
    dir: string,
    name: string,
): { privateKeyOpenssh: string; publicKeyOpenssh: string } {
    const file = path.join(dir, name.replace(/[^A-Za-z0-9-]/g, "_"));
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "", "-f", file]);
    return {
        privateKeyOpenssh: readFileSync(file, "utf8"),
        publicKeyOpenssh: readFileSync(`${file}.pub`, "utf8"),
    };
}

/**
 * Runs the program on `config` under the mock runtime, with Rancher's answers from the stand-in
 * and real host keys, in `projectDir` (where it reads interconnects.yaml, as Pulumi runs it in the
 * project's directory), and returns every VM's documents: nodes' and interconnect gateways'.
 */
export async function vmDocuments(
    config: Record<string, unknown>,
    stack: string,
    rancher: RancherValues,
    projectDir: string,
): Promise<VmDocuments[]> {
    const keys = mkdtempSync(path.join(tmpdir(), "guest-keys-"));
    const cwd = process.cwd();
    process.chdir(projectDir);
    try {
        const evaluation = await evaluateProgram(
            config,
            {
                ...mockRancher,
                nodeCommand: rancher.nodeCommand,
                insecureNodeCommand: rancher.nodeCommand,
                rancherCaCerts: rancher.caCerts,
                hostKey: (name) => sshKey(keys, name),
            },
            { stack },
        );
        const secrets = new Map(
            evaluation.resources
                .filter((r) => r.type === typeTokens.secret)
                .map((r) => [r.inputs.metadata.name as string, r.inputs]),
        );
        // A node's summary in the stack output, by any of its MACs.
        const summaries = new Map<string, any>();
        for (const cluster of Object.values<any>(evaluation.outputs.clusters)) {
            for (const summary of Object.values<any>(cluster.nodes)) {
                for (const mac of Object.values<string>(summary.macs)) {
                    summaries.set(mac, summary);
                }
            }
        }
        return evaluation.resources
            .filter((r) => r.type === typeTokens.virtualMachine)
            .map(({ inputs: vm }) => {
                const spec = vm.spec.template.spec;
                const volume = spec.volumes.find((v: any) => v.cloudInitNoCloud);
                const secret = secrets.get(volume.cloudInitNoCloud.secretRef.name)!;
                const interfaces: any[] = spec.domain.devices.interfaces;
                const nics = interfaces
                    .filter((i) => i.bridge || i.sriov)
                    .map((i) => ({ network: i.name as string, mac: i.macAddress as string }));
                const summary = summaries.get(nics[0].mac);
                return {
                    vmName: vm.metadata.name,
                    hostname: spec.hostname,
                    userData: secret.stringData.userdata,
                    networkData: secret.stringData.networkdata,
                    metaData: noCloudMetaData(vm),
                    podMac: interfaces.find((i) => i.masquerade).macAddress,
                    nics,
                    ...(summary ? { hostKey: summary.hostKey.trim() } : {}),
                };
            });
    } finally {
        process.chdir(cwd);
        rmSync(keys, { recursive: true, force: true });
    }
}

/**
 * The NoCloud seed of a VM as KubeVirt makes it: user-data, meta-data and network-config in an
 * ISO labelled cidata, by the same xorrisofs call (kubevirt pkg/cloud-init/cloud-init.go:
 * defaultIsoFunc). Returns the ISO's path.
 */
export function noCloudSeed(dir: string, documents: VmDocuments): string {
    const data = path.join(dir, "cidata");
    mkdirSync(data, { recursive: true });
    writeFileSync(path.join(data, "user-data"), documents.userData);
    writeFileSync(path.join(data, "meta-data"), documents.metaData);
    writeFileSync(path.join(data, "network-config"), documents.networkData);
    const iso = path.join(dir, "noCloud.iso");
    execFileSync(
        "xorrisofs",
        [
            "-output",
            iso,
            "-volid",
            "cidata",
            "-joliet",
            "-rock",
            "-partition_cyl_align",
            "on",
            data,
        ],
        { stdio: ["ignore", "pipe", "pipe"] },
    );
    return iso;
}
