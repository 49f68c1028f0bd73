import * as assert from "assert";
import * as path from "path";
import { RawStackConfig, readStackConfig } from "../lib/config";
import { KubevirtVersion, defaults } from "../lib/config/defaults";
import { pinnedHostLabel, vmName } from "../lib/core/naming";
import { nodeDemand } from "../lib/plan/placement";
import { StackPlan, planStack } from "../lib/plan/stackPlan";
import { ProblemList } from "../lib/core/problems";
import { bytes } from "../lib/core/quantity";
import { rawStackConfig, stackFilePath } from "../lib/config/stackFile";
import { syntheticStack } from "../offline/synthetic";
import {
    KubevirtCheckResult,
    LauncherPod,
    checkedKubevirt,
    kubevirtToolsBin,
    pinned,
    planCheckInput,
    planDataVolumes,
    planVirtualMachines,
    runCdiCheck,
    runKubevirtCheck,
} from "./kubevirtCheck";
import { projectRoot } from "./pulumiEnv";
import { readStackFile, withInterconnects } from "../runtime/projectFiles";

const gpu = "nvidia.com/TU104GL_Tesla_T4";
const qat = "intel.com/qat";
const vf = "intel.com/sriov_fabric";

/** A host with everything the synthetic sites' VMs ask for. */
function bigHost(name: string): Record<string, unknown> {
    return {
        name,
        cpu: 96,
        memory: "768Gi",
        // What virt-handler sets on a host with the static CPU manager policy: `cpumanager` up to
        // 1.7, both from 1.8.
        labels: { cpumanager: "true", "kubevirt.io/cpumanager": "true" },
        devices: { [gpu]: 4, [qat]: 4, [vf]: 32 },
        hugepages: { "2Mi": "64Gi", "1Gi": "128Gi" },
    };
}

/**
 * A synthetic site of `clusters` on two big hosts, with the synthetic stack's bridge networks
 * (lab, data) and an SR-IOV network (fabric).
 */
function syntheticSite(name: string, clusters: Record<string, unknown>[]): RawStackConfig {
    const raw = syntheticStack([]) as RawStackConfig & { site: Record<string, any> };
    return {
        ...raw,
        site: {
            ...raw.site,
            name,
            networks: [
                ...raw.site.networks,
                {
                    name: "fabric",
                    sriov: { resourceName: vf },
                    vlan: 122,
                    cidr: "10.122.0.0/24",
                    gateway: "10.122.0.1",
                },
            ],
            hosts: [bigHost("h1"), bigHost("h2"), bigHost("h3")],
        },
        clusters,
    };
}

function intent(
    name: string,
    type: "k3s" | "rke2",
    workers: Record<string, unknown>[],
): Record<string, unknown> {
    return {
        name,
        type,
        kubernetesVersion: type === "k3s" ? "v1.31.5+k3s1" : "v1.31.5+rke2r1",
        intent: {
            image: "ubuntu-jammy",
            networks: ["lab"],
            servers: { count: 1, cpu: 2, memory: "4Gi", disk: "20Gi" },
            workers: workers.map((w) => ({ count: 1, disk: "20Gi", ...w })),
        },
    };
}

/** Sites whose VMs cover what the config lets a VM ask for: sizes, devices, pinning, pages. */
const syntheticSites: Record<string, RawStackConfig> = {
    sizes: syntheticSite("sizes", [
        intent("small", "k3s", [
            { name: "tiny", cpu: 1, memory: "1Gi" },
            { name: "odd", cpu: 3, memory: "3584Mi" },
            { name: "two-nets", cpu: 2, memory: "6Gi" },
        ]),
        intent("large", "rke2", [
            { name: "big", cpu: 16, memory: "64Gi" },
            { name: "wide", cpu: 24, memory: "48Gi" },
            { name: "mid", cpu: 6, memory: "12Gi" },
        ]),
    ]),
    devices: syntheticSite("devices", [
        intent("accel", "k3s", [
            { name: "gpu", cpu: 4, memory: "16Gi", gpus: [gpu] },
            { name: "gpus", cpu: 8, memory: "32Gi", gpus: [gpu, gpu] },
            { name: "qat", cpu: 2, memory: "4Gi", hostDevices: [qat] },
            { name: "vf", cpu: 4, memory: "8Gi", sriov: ["fabric"] },
        ]),
        intent("fabric", "rke2", [
            {
                name: "all",
                cpu: 8,
                memory: "16Gi",
                gpus: [gpu],
                hostDevices: [qat],
                sriov: ["fabric"],
            },
        ]),
    ]),
    pinned: syntheticSite("pinned", [
        intent("rt", "rke2", [
            { name: "pin", cpu: 4, memory: "8Gi", dedicatedCpu: true },
            { name: "iso", cpu: 4, memory: "8Gi", dedicatedCpu: true, isolateEmulatorThread: true },
            { name: "huge2m", cpu: 2, memory: "4Gi", hugepages: "2Mi" },
            { name: "huge1g", cpu: 8, memory: "16Gi", hugepages: "1Gi", dedicatedCpu: true },
            {
                name: "everything",
                cpu: 6,
                memory: "12Gi",
                dedicatedCpu: true,
                isolateEmulatorThread: true,
                hugepages: "1Gi",
                gpus: [gpu],
                sriov: ["fabric"],
            },
        ]),
        intent("edge", "k3s", [
            {
                name: "iso2m",
                cpu: 2,
                memory: "2Gi",
                dedicatedCpu: true,
                isolateEmulatorThread: true,
                hugepages: "2Mi",
            },
        ]),
    ]),
};

/** An example stack as its file gives it, with its WireGuard key set: its gateway VMs too. */
function stackFileConfig(stack: string): RawStackConfig {
    const raw = rawStackConfig(readStackFile(path.join(projectRoot, stackFilePath(stack))).config);
    return withInterconnects({ ...raw, hasWireguardKey: true }, projectRoot);
}

/** Both example stacks and the synthetic sites, at KubeVirt minor `minor`. */
function sites(minor: KubevirtVersion): { name: string; raw: RawStackConfig; plan: StackPlan }[] {
    const raws: [string, RawStackConfig][] = [
        ["greece", stackFileConfig("greece")],
        ["france", stackFileConfig("france")],
        ...Object.entries(syntheticSites),
    ];
    return raws.map(([name, raw]) => {
        const at = { ...raw, site: { ...(raw.site as object), kubevirtVersion: minor } };
        return { name, raw: at, plan: planStack(at).plan };
    });
}

function admissions(r: KubevirtCheckResult) {
    return [r.vmMutation, r.vmValidation, r.vmiMutation, r.vmiValidation];
}

/**
 * What a launcher pod takes from a node, as placement's Demand counts it: the scheduler's CPU
 * (millicores) and memory requests, hugepages by page size, and extended resources. From 1.9
 * KubeVirt's pod requests no SR-IOV VF (ExternalNetResourceInjection, beta, on by default):
 * Multus' network-resources-injector adds one per interface from the NAD's resourceName
 * annotation (lib/site/prerequisites.ts), so they are added here as the injector would.
 */
function podDemand(
    pod: LauncherPod,
    networks: { network: string }[],
    vfs: Record<string, string>,
    minor: KubevirtVersion,
) {
    const hugepages: Record<string, number> = {};
    const devices: Record<string, number> = {};
    for (const [resource, quantity] of Object.entries(pod.requests)) {
        if (resource.startsWith("hugepages-")) {
            hugepages[resource.slice("hugepages-".length)] = bytes(quantity);
        } else if (resource.includes("/") && !resource.startsWith("devices.kubevirt.io/")) {
            devices[resource] = Number(quantity);
        }
    }
    if (Number(minor.split(".")[1]) >= 9) {
        for (const { network } of networks) {
            if (vfs[network] !== undefined) {
                devices[vfs[network]] = (devices[vfs[network]] ?? 0) + 1;
            }
        }
    }
    return { cpuMillis: pod.cpuMillis, memoryBytes: pod.memoryBytes, hugepages, devices };
}

describe("KubeVirt's and CDI's own code on every VM and DataVolume of the plans", function () {
    this.timeout(30 * 60 * 1000);
    let bin: string;

    before(function () {
        bin = kubevirtToolsBin();
    });

    for (const kubevirt of checkedKubevirt()) {
        describe(`KubeVirt ${kubevirt.release}`, () => {
            const checked = () =>
                sites(kubevirt.minor).map((site) => ({
                    ...site,
                    output: runKubevirtCheck(
                        path.join(bin, kubevirt.binary),
                        planCheckInput(site.plan, Number(kubevirt.minor.split(".")[1])),
                    ),
                }));
            let runs: ReturnType<typeof checked>;
            before(() => {
                runs = checked();
            });

            it("admits every VM, with no warning, and renders its launcher pod", () => {
                assert.strictEqual(runs[0].output.kubevirtVersion, kubevirt.release);
                assert.deepStrictEqual(
                    runs.map((r) => `${r.name} ${r.plan.gateways.map((g) => g.vmName)}`),
                    ["greece greece-eu-gw", "france france-eu-gw", "sizes ", "devices ", "pinned "],
                );
                for (const { name, output, plan } of runs) {
                    const vms = plan.clusters.flatMap((c) => c.nodes).length + plan.gateways.length;
                    assert.strictEqual(output.results.length, vms, name);
                    for (const r of output.results) {
                        const at = `${name} ${r.namespace}/${r.name}`;
                        assert.strictEqual(r.error, undefined, `${at}: ${r.error}`);
                        assert.deepStrictEqual(r.vmiSetup, [], at);
                        for (const a of admissions(r)) {
                            assert.ok(a?.allowed, `${at}: ${a?.message}`);
                            assert.deepStrictEqual(a.warnings, [], at);
                        }
                        // The pod goes where the VM's nodeSelector says, pinned VMs to hosts
                        // whose CPU manager KubeVirt found (nodeselectorrenderer.go).
                        const vm = planVirtualMachines(plan).find(
                            (v) => v.metadata.name === r.name,
                        )!.spec.template.spec;
                        const pod = r.pod!;
                        for (const [key, value] of Object.entries(vm.nodeSelector ?? {})) {
                            assert.strictEqual(pod.nodeSelector[key], value, at);
                        }
                        assert.strictEqual(
                            pod.nodeSelector[pinnedHostLabel(kubevirt.minor)],
                            vm.domain.cpu.dedicatedCpuPlacement ? "true" : undefined,
                            at,
                        );
                        assert.deepStrictEqual(
                            pod.containers.map((c) => `${c.kind} ${c.name}`),
                            ["sidecar guest-console-log", "container compute"],
                            at,
                        );
                    }
                }
            });

            it("gives each launcher pod what placement counts, to the byte and the millicore", () => {
                const differences: string[] = [];
                for (const { name, raw, output } of runs) {
                    const config = readStackConfig(raw, new ProblemList()).config!;
                    const vfs = Object.fromEntries(
                        config.site.networks.flatMap((n) =>
                            n.sriov ? [[n.name, n.sriov.resourceName]] : [],
                        ),
                    );
                    for (const cluster of config.clusters) {
                        for (const node of cluster.nodes) {
                            const vm = vmName(cluster.name, node.name);
                            const pod = output.results.find((r) => r.name === vm)!.pod!;
                            const demand = nodeDemand(node, vfs, kubevirt.minor);
                            const ours = {
                                cpuMillis: demand.cpu,
                                memoryBytes: demand.memory,
                                hugepages: demand.hugepages,
                                devices: demand.devices,
                            };
                            const theirs = podDemand(pod, node.networks, vfs, kubevirt.minor);
                            try {
                                assert.deepStrictEqual(ours, theirs);
                            } catch {
                                differences.push(
                                    `${name} ${vm}: placement ${JSON.stringify(ours)}, launcher pod ${JSON.stringify(theirs)}`,
                                );
                            }
                        }
                    }
                }
                assert.deepStrictEqual(differences, []);
            });

            it("denies a pinned VM that asks for other CPUs than its cores, in KubeVirt's words", () => {
                const plan = sites(kubevirt.minor).find((s) => s.name === "pinned")!.plan;
                const pinned = plan.clusters[0].nodes.find((n) => n.name === "pin-1")!;
                const vm = structuredClone(pinned.virtualMachine) as any;
                vm.spec.template.spec.domain.resources = { requests: { cpu: "6" } };
                const input = planCheckInput(plan, Number(kubevirt.minor.split(".")[1]));
                const [denied] = runKubevirtCheck(path.join(bin, kubevirt.binary), {
                    ...input,
                    vms: [vm],
                }).results;
                assert.deepStrictEqual(denied.vmValidation, {
                    allowed: false,
                    code: 422,
                    message:
                        "spec.template.spec.domain.resources.requests.cpu or spec.template.spec.domain.resources.limits.cpu must not be provided at the same time with spec.template.spec.domain.cpu.cores when DedicatedCPUPlacement is true ",
                    warnings: [],
                });
                assert.strictEqual(denied.pod, undefined);
            });
        });
    }

    it("has CDI admit every DataVolume, asking clone permission in the image namespace", () => {
        const binary = path.join(bin, "edge-cdi-check");
        for (const { name, plan } of sites(defaults.kubevirtVersion)) {
            const output = runCdiCheck(binary, plan, "edge-operator");
            assert.strictEqual(output.cdiVersion, pinned("CDI_VERSION"));
            const images = plan.site.images.map((i) => i.dataVolume.metadata.name);
            for (const r of output.results) {
                const at = `${name} ${r.namespace}/${r.name}`;
                assert.strictEqual(r.error, undefined, `${at}: ${r.error}`);
                assert.deepStrictEqual(r.mutation, { allowed: true, warnings: [] }, at);
                assert.deepStrictEqual(r.validation, { allowed: true, warnings: [] }, at);
                const dv = planDataVolumes(plan).find(
                    (d) => d.metadata.namespace === r.namespace && d.metadata.name === r.name,
                )!;
                const source = "pvc" in dv.spec.source ? dv.spec.source.pvc : undefined;
                if (source === undefined) {
                    assert.ok(images.includes(r.name), at);
                    assert.deepStrictEqual(r.subjectAccessReviews, [], at);
                    continue;
                }
                // The review lib/site/prerequisites.ts's clone Role grants (CDI authorize.go).
                assert.deepStrictEqual(
                    r.subjectAccessReviews,
                    [
                        {
                            resourceAttributes: {
                                namespace: plan.site.imageNamespace,
                                verb: "create",
                                group: "cdi.kubevirt.io",
                                resource: "datavolumes",
                                subresource: "source",
                                name: source.name,
                            },
                            user: "edge-operator",
                            groups: ["system:authenticated"],
                        },
                    ],
                    at,
                );
                assert.strictEqual(
                    r.annotations?.["cdi.kubevirt.io/storage.clone.token"],
                    "<clone token>",
                    at,
                );
            }
            assert.strictEqual(output.results.length, planDataVolumes(plan).length, name);
        }
    });
});
