import { execFileSync } from "child_process";
import { readFileSync } from "fs";
import * as path from "path";
import { DataVolume, NetworkAttachmentDefinition, VirtualMachine } from "../lib/render/manifests";
import { StackPlan } from "../lib/plan/stackPlan";
import { projectRoot } from "./pulumiEnv";

/**
 * Runs KubeVirt's and CDI's own admission and rendering code on a plan, through the programs
 * e2e/kubevirt/check and e2e/cdi/check that scripts/kubevirt-tools.sh builds inside their trees.
 */

/** A pin of e2e/versions.env. */
export function pinned(key: string): string {
    const text = readFileSync(path.join(projectRoot, "e2e", "versions.env"), "utf8");
    const line = text.split("\n").find((l) => l.startsWith(`${key}=`));
    if (line === undefined) {
        throw new Error(`e2e/versions.env has no ${key}`);
    }
    return line.slice(key.length + 1);
}

/** The bin dir scripts/kubevirt-tools.sh builds (or reuses). */
export function kubevirtToolsBin(): string {
    const out = execFileSync(path.join(projectRoot, "scripts", "kubevirt-tools.sh"), {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"],
    });
    return out.trim().split("\n").pop()!;
}

/** The KubeVirt releases the checker is built for, by the project's minor version key. */
export function checkedKubevirt(): { minor: "1.9" | "1.7"; release: string; binary: string }[] {
    const live = pinned("KUBEVIRT_VERSION");
    const older = pinned("KUBEVIRT_OLDER_VERSION");
    const minor = (release: string) => release.replace(/^v(\d+\.\d+)\..*$/, "$1") as "1.9" | "1.7";
    return [
        { minor: minor(live), release: live, binary: "edge-kubevirt-check" },
        { minor: minor(older), release: older, binary: `edge-kubevirt-check-${older}` },
    ];
}

/** A placeholder PCI vendor:device: KubeVirt matches devices by resource name here. */
const pciSelector = "10de:1eb8";

/** What a site's VMs ask of KubeVirt's configuration. */
export interface KubevirtFeatures {
    /** GPU and host device resource names. */
    gpus: string[];
    hostDevices: string[];
    dedicatedCpu: boolean;
}

/** Asks nothing of KubeVirt: its default configuration. */
export const noKubevirtFeatures: KubevirtFeatures = {
    gpus: [],
    hostDevices: [],
    dedicatedCpu: false,
};

/**
 * The KubeVirt CR's spec.configuration for `features` under KubeVirt 1.`minor`, as the site's
 * prerequisites ask for it (lib/site/prerequisites.ts): every passed-through device permitted by
 * its resource name, the HostDevices gate for host devices, CPUManager for dedicated CPUs, GPU
 * before 1.4. SR-IOV keeps KubeVirt's default.
 */
export function kubevirtConfigurationFor(
    features: KubevirtFeatures,
    minor: number,
): Record<string, unknown> {
    const { gpus, hostDevices } = features;
    const devices = [...new Set([...gpus, ...hostDevices])].sort();
    const gates = [
        ...(features.dedicatedCpu ? ["CPUManager"] : []),
        ...(gpus.length > 0 && minor <= 3 ? ["GPU"] : []),
        ...(hostDevices.length > 0 ? ["HostDevices"] : []),
    ];
    return {
        developerConfiguration: { featureGates: gates },
        ...(devices.length === 0
            ? {}
            : {
                  permittedHostDevices: {
                      pciHostDevices: devices.map((resourceName) => ({
                          pciVendorSelector: pciSelector,
                          resourceName,
                      })),
                  },
              }),
    };
}

/** What the VMs `vms` ask of KubeVirt. */
export function kubevirtFeatures(vms: VirtualMachine[]): KubevirtFeatures {
    const domains = vms.map((vm) => vm.spec.template.spec.domain);
    return {
        gpus: domains.flatMap((d) => d.devices.gpus ?? []).map((d) => d.deviceName),
        hostDevices: domains.flatMap((d) => d.devices.hostDevices ?? []).map((d) => d.deviceName),
        dedicatedCpu: domains.some((d) => d.cpu.dedicatedCpuPlacement === true),
    };
}

/** The configuration the VMs `vms` ask of KubeVirt 1.`minor` (see kubevirtConfigurationFor). */
export function kubevirtConfiguration(
    vms: VirtualMachine[],
    minor: number,
): Record<string, unknown> {
    return kubevirtConfigurationFor(kubevirtFeatures(vms), minor);
}

/** KubeVirt's minor version number of `release` (v1.9.0: 9). */
export function kubevirtMinor(release: string): number {
    return Number(release.split(".")[1]);
}

/** Every VM a plan emits: its nodes' and its interconnect gateways'. */
export function planVirtualMachines(plan: StackPlan): VirtualMachine[] {
    return [
        ...plan.clusters.flatMap((c) => c.nodes.map((n) => n.virtualMachine)),
        ...plan.gateways.map((g) => g.virtualMachine),
    ];
}

/** Every DataVolume a plan emits: golden images first, then root disks (which clone them). */
export function planDataVolumes(plan: StackPlan): DataVolume[] {
    return [
        ...plan.site.images.map((i) => i.dataVolume),
        ...plan.clusters.flatMap((c) => c.nodes.map((n) => n.rootDisk)),
        ...plan.gateways.map((g) => g.rootDisk),
    ];
}

export interface KubevirtCheckInput {
    kubevirtNamespace?: string;
    user?: string;
    configuration: Record<string, unknown>;
    nads: NetworkAttachmentDefinition[];
    vms: unknown[];
}

export interface Admission {
    allowed: boolean;
    code?: number;
    message?: string;
    warnings: string[];
    patch?: unknown[];
}

export interface ContainerResources {
    name: string;
    kind: "container" | "init" | "sidecar";
    requests: Record<string, string>;
    limits: Record<string, string>;
}

export interface LauncherPod {
    containers: ContainerResources[];
    nodeSelector: Record<string, string>;
    requests: Record<string, string>;
    cpuMillis: number;
    memoryBytes: number;
}

export interface KubevirtCheckResult {
    namespace: string;
    name: string;
    vmMutation?: Admission;
    vmValidation?: Admission;
    vmiSetup: string[];
    vmiMutation?: Admission;
    vmiValidation?: Admission;
    vmiDomain?: Record<string, any>;
    memoryOverhead?: string;
    memoryOverheadBytes?: number;
    pod?: LauncherPod;
    clientCalls: string[];
    error?: string;
}

export interface KubevirtCheckOutput {
    kubevirtVersion: string;
    kubevirtCommit: string;
    results: KubevirtCheckResult[];
}

/** Runs one built checker on `input`. */
export function runKubevirtCheck(binary: string, input: KubevirtCheckInput): KubevirtCheckOutput {
    const out = execFileSync(binary, {
        input: JSON.stringify(input),
        encoding: "utf8",
        maxBuffer: 256 * 1024 * 1024,
    });
    return JSON.parse(out) as KubevirtCheckOutput;
}

/** The checker's input for every VM of `plan`, with the configuration its prerequisites ask. */
export function planCheckInput(plan: StackPlan, minor: number): KubevirtCheckInput {
    const vms = planVirtualMachines(plan);
    return {
        configuration: kubevirtConfiguration(vms, minor),
        nads: plan.site.networks.map((n) => n.nad),
        vms,
    };
}

export interface CdiCheckResult {
    namespace: string;
    name: string;
    mutation?: Admission;
    validation?: Admission;
    /** The annotations after the mutating webhook's patch, CDI's clone token masked. */
    annotations?: Record<string, string>;
    /** The SubjectAccessReviews CDI asked (answered allowed). */
    subjectAccessReviews: Record<string, any>[];
    error?: string;
}

export interface CdiCheckOutput {
    cdiVersion: string;
    cdiCommit: string;
    results: CdiCheckResult[];
}

/** Runs CDI's DataVolume webhooks on every DataVolume of `plan` (in order) as `user`. */
export function runCdiCheck(binary: string, plan: StackPlan, user?: string): CdiCheckOutput {
    const input = {
        namespaces: plan.site.namespaces,
        dataVolumes: planDataVolumes(plan),
        ...(user === undefined ? {} : { user }),
    };
    const out = execFileSync(binary, {
        input: JSON.stringify(input),
        encoding: "utf8",
        maxBuffer: 64 * 1024 * 1024,
    });
    return JSON.parse(out) as CdiCheckOutput;
}
