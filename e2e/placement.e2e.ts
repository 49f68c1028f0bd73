import * as assert from "assert";
import { readFileSync } from "fs";
import * as path from "path";
import { HostShape, readStackConfig } from "../lib/config";
import { StackPlan, planStack } from "../lib/plan/stackPlan";
import { ProblemList } from "../lib/core/problems";
import {
    parseStackFile,
    stackFileConfig,
    stackFilePath,
    withAllocations,
} from "../lib/config/stackFile";
import { ControlPlane, crdsPresent, startLiveApiServer, stopLiveApiServer } from "./controlPlane";
import { boundLauncherPod, playHosts, schedulerRequest } from "./kubevirt";
import { kubevirtFeatures, planVirtualMachines } from "./kubevirtCheck";
import { projectRoot } from "./pulumiEnv";
import { withInterconnects } from "../runtime/projectFiles";

const gpu = "nvidia.com/TU104GL_Tesla_T4";

/** greece's stack file with `edit` applied to its config, re-recorded, and its plan. */
function edited(text: string, edit: (config: any) => void): { text: string; plan: StackPlan } {
    const file = parseStackFile(text, "synthetic");
    const plain = (file.document.get("config") as any).toJSON();
    edit(plain);
    file.document.set("config", file.document.createNode(plain, { aliasDuplicateObjects: false }));
    const reparsed = parseStackFile(file.document.toString(), "synthetic");
    const { plan } = planStack(stackFileConfig(reparsed));
    const recorded = withAllocations(reparsed.document, plan.allocations);
    return { text: recorded, plan: planStack(stackFileConfig(parseStackFile(recorded, "s"))).plan };
}

/**
 * A synthetic site that placement fills to the byte: an intent's nodes placed on two roomy
 * hosts, then each host shrunk to exactly what placement counts on it. kube-scheduler, given
 * those hosts as Nodes, must bind every launcher pod KubeVirt renders for them to the host
 * placement chose: placement's memory is the launcher pods' request, or a pod stays pending.
 */
function fullSite(): { plan: StackPlan; hosts: HostShape[] } {
    const greece = readFileSync(path.join(projectRoot, stackFilePath("greece")), "utf8");
    const roomy = edited(greece, (config) => {
        delete config["edge:allocations"];
        config["edge:site"].hosts = [
            { name: "fill-1", cpu: 64, memory: "512Gi" },
            {
                name: "fill-2",
                cpu: 64,
                memory: "512Gi",
                labels: { "kubevirt.io/cpumanager": "true" },
                devices: { [gpu]: 1 },
            },
        ];
        config["edge:clusters"] = [
            {
                name: "fill",
                type: "k3s",
                kubernetesVersion: "v1.31.5+k3s1",
                intent: {
                    image: "ubuntu-focal",
                    networks: ["lab"],
                    workers: [
                        { name: "small", count: 5, cpu: 2, memory: "3Gi", disk: "15Gi" },
                        {
                            name: "gpu",
                            count: 1,
                            cpu: 2,
                            memory: "2Gi",
                            disk: "15Gi",
                            gpus: [gpu],
                            dedicatedCpu: true,
                        },
                    ],
                },
            },
        ];
    });
    const full = edited(roomy.text, (config) => {
        for (const host of config["edge:site"].hosts) {
            const load = roomy.plan.placement.hosts.find((h) => h.name === host.name)!;
            // Hosts have whole cores; the pods' millicores (sidecars included) round up.
            host.cpu = Math.ceil(load.used.cpu / 1000);
            host.memory = String(load.used.memory);
            host.devices = load.used.devices;
        }
    });
    const raw = stackFileConfig(parseStackFile(full.text, "s"));
    return { plan: full.plan, hosts: readStackConfig(raw, new ProblemList()).config!.site.hosts };
}

/**
 * Creates what `plan` declares on the host cluster, through the API server: namespaces, NADs,
 * golden images, and every node's and gateway's cloud-init Secret, root disk and VM (through
 * virt-api's admission; virt-controller renders the launcher pods).
 */
async function createSite(controlPlane: ControlPlane, plan: StackPlan): Promise<void> {
    const create = async (apiPath: string, body: unknown) => {
        const created = await controlPlane.call("POST", apiPath, body);
        assert.strictEqual(created.status, 201, `${apiPath}: ${JSON.stringify(created.body)}`);
    };
    for (const namespace of plan.site.namespaces) {
        await create("/api/v1/namespaces", { metadata: { name: namespace } });
    }
    for (const { nad } of plan.site.networks) {
        await create(
            `/apis/k8s.cni.cncf.io/v1/namespaces/${nad.metadata.namespace}/network-attachment-definitions`,
            nad,
        );
    }
    for (const image of plan.site.images) {
        await create(
            `/apis/cdi.kubevirt.io/v1beta1/namespaces/${plan.site.imageNamespace}/datavolumes`,
            image.dataVolume,
        );
    }
    for (const vm of [...plan.clusters.flatMap((c) => c.nodes), ...plan.gateways]) {
        await create(`/api/v1/namespaces/${vm.namespace}/secrets`, {
            metadata: { name: vm.cloudInitSecretName },
            stringData: { userdata: "#cloud-config\n", networkdata: vm.networkData },
        });
        await create(
            `/apis/cdi.kubevirt.io/v1beta1/namespaces/${vm.namespace}/datavolumes`,
            vm.rootDisk,
        );
        await create(
            `/apis/kubevirt.io/v1/namespaces/${vm.namespace}/virtualmachines`,
            vm.virtualMachine,
        );
    }
}

describe("a site placement fills, on KubeVirt and kube-scheduler", function () {
    this.timeout(15 * 60 * 1000);
    let work: string;
    let controlPlane: ControlPlane | undefined;
    let stopPlaying: (() => void) | undefined;
    const { plan, hosts } = fullSite();

    before(async function () {
        if (!crdsPresent()) {
            this.skip();
        }
        ({ work, controlPlane } = await startLiveApiServer("edge-placement-e2e-", {
            gpus: [gpu],
            hostDevices: [],
            dedicatedCpu: true,
        }));
        stopPlaying = playHosts(controlPlane, () => hosts);
    });

    after(async () => {
        stopPlaying?.();
        await stopLiveApiServer({ controlPlane, work });
    });

    it("is full: every host carries exactly the memory it has, by placement's count", () => {
        assert.deepStrictEqual(
            plan.placement.hosts.map((h) => [h.name, h.used.memory === h.capacity.memory]),
            [
                ["fill-1", true],
                ["fill-2", true],
            ],
        );
        assert.deepStrictEqual(
            plan.placement.decisions.map((d) => [d.vmName, d.host]).sort(),
            plan.placement.hosts.flatMap((h) => h.vms.map((vm) => [vm, h.name])).sort(),
        );
    });

    it("has every launcher pod bound by kube-scheduler to the host placement chose", async () => {
        await createSite(controlPlane!, plan);
        const nodes = plan.clusters.flatMap((c) => c.nodes);
        const placed: Record<string, string | undefined> = {};
        const bound: Record<string, string> = {};
        const requested: Record<string, number> = {};
        const requestedCpu: Record<string, number> = {};
        for (const node of nodes) {
            placed[node.vmName] = plan.placement.decisions.find(
                (d) => d.vmName === node.vmName,
            )?.host;
            const pod = await boundLauncherPod(controlPlane!, node.namespace, node.vmName);
            bound[node.vmName] = pod.spec.nodeName;
            requested[pod.spec.nodeName] =
                (requested[pod.spec.nodeName] ?? 0) + schedulerRequest(pod, "memory");
            requestedCpu[pod.spec.nodeName] =
                (requestedCpu[pod.spec.nodeName] ?? 0) + schedulerRequest(pod, "cpu");
        }
        assert.deepStrictEqual(bound, placed);
        // Each host's launcher pods request all of its allocatable memory, not a byte more.
        assert.deepStrictEqual(
            requested,
            Object.fromEntries(plan.placement.hosts.map((h) => [h.name, h.capacity.memory])),
        );
        // And the millicores placement counts on it.
        assert.deepStrictEqual(
            requestedCpu,
            Object.fromEntries(plan.placement.hosts.map((h) => [h.name, h.used.cpu])),
        );
    });
});

/** An example stack as its file gives it, with its WireGuard key set: its gateway VMs too. */
function exampleSite(stack: "greece" | "france"): { plan: StackPlan; hosts: HostShape[] } {
    const text = readFileSync(path.join(projectRoot, stackFilePath(stack)), "utf8");
    const raw = withInterconnects(
        { ...stackFileConfig(parseStackFile(text, stack)), hasWireguardKey: true },
        projectRoot,
    );
    const { plan } = planStack(raw);
    return { plan, hosts: readStackConfig(raw, new ProblemList()).config!.site.hosts };
}

for (const stack of ["greece", "france"] as const) {
    describe(`${stack}'s VMs on KubeVirt and kube-scheduler`, function () {
        this.timeout(15 * 60 * 1000);
        let work: string;
        let controlPlane: ControlPlane | undefined;
        let stopPlaying: (() => void) | undefined;
        const { plan, hosts } = exampleSite(stack);
        const vms = planVirtualMachines(plan);

        before(async function () {
            if (!crdsPresent()) {
                this.skip();
            }
            ({ work, controlPlane } = await startLiveApiServer(
                `edge-${stack}-e2e-`,
                kubevirtFeatures(vms),
            ));
            stopPlaying = playHosts(controlPlane, () => hosts);
        });

        after(async () => {
            stopPlaying?.();
            await stopLiveApiServer({ controlPlane, work });
        });

        it("has KubeVirt admit every VM and kube-scheduler bind its launcher pod where placement said", async () => {
            await createSite(controlPlane!, plan);
            const placed: Record<string, string> = {};
            const bound: Record<string, string> = {};
            for (const vm of vms) {
                const { namespace, name } = vm.metadata;
                const decision = plan.placement.decisions.find((d) => d.vmName === name);
                const pod = await boundLauncherPod(controlPlane!, namespace, name);
                // Gateways and nodes placement leaves to the scheduler may go to any host.
                placed[name] = decision?.host ?? (pod.spec.nodeName as string);
                bound[name] = pod.spec.nodeName;
            }
            assert.deepStrictEqual(bound, placed);
            // Its gateway too, and at least one node whose host placement chose.
            assert.deepStrictEqual(
                plan.gateways.map((g) => g.vmName),
                [`${stack}-eu-gw`],
            );
            assert.ok(plan.placement.decisions.some((d) => d.host !== undefined));
        });
    });
}
