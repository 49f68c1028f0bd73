import * as assert from "assert";
import { execFileSync } from "child_process";
import { generateKeyPairSync } from "crypto";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "fs";
import * as path from "path";
import { parse, stringify } from "yaml";
import { EngineEvent, LocalWorkspace, Stack, UpResult } from "@pulumi/pulumi/automation";
import {
    interconnectsFile,
    privateKeyPlaceholder,
    wireguardPublicKey,
} from "../lib/plan/interconnect";
import { CloudInitData, cloudInitUuid } from "../lib/render/instanceId";
import { labels, vmName } from "../lib/core/naming";
import { NodePlan, StackPlan, planStack } from "../lib/plan/stackPlan";
import {
    parseStackFile,
    stackFileConfig,
    stackFilePath,
    withAllocations,
} from "../lib/config/stackFile";
import { checkDrift } from "../offline/drift";
import { sitePolicyConfig } from "../policy/policies";
import { HostShape, readStackConfig } from "../lib/config";
import { KubevirtVersion } from "../lib/config/defaults";
import { nodeDemand } from "../lib/plan/placement";
import { ProblemList } from "../lib/core/problems";
import { ControlPlane, crdsPresent, startLiveApiServer, stopLiveApiServer } from "./controlPlane";
import { boundLauncherPod, playHosts, schedulerRequest } from "./kubevirt";
import {
    FakeRancher,
    clusterV1Id,
    rancherToken,
    registrationSecret,
    startFakeRancher,
} from "./fakeRancher";
import { projectRoot, pulumiEnvironment } from "./pulumiEnv";
import { withInterconnects } from "../runtime/projectFiles";

/**
 * The project's own program, index.ts, run by the real CLI with greece's stack file as the CLI
 * reads it: the real Kubernetes provider applies it to a live API server with our CRDs, while the
 * test plays CDI, KubeVirt and each node's Rancher agent through `status` and a fake Rancher that
 * the real rancher2 provider talks to (e2e/fakeRancher.ts). Every provider is the real one.
 */

const stackName = "greece";
const operatorKey = "-----BEGIN OPENSSH PRIVATE KEY-----\ne2e-operator-ssh-key\n";

interface Run {
    summary: Record<string, number>;
    /** Engine steps in the order the engine finished them: `<op> <resource name>`. */
    steps: string[];
    /** When (`Date.now()`) the engine finished each step. */
    finishedAt: Record<string, number>;
    output: string;
}

/** A URN as `<type name> <resource name>`, e.g. `VirtualMachine final-test-worker1`. */
function shortUrn(urn: string): string {
    const [, , types, name] = urn.split("::");
    return `${types.split("$").pop()!.split(":").pop()} ${name}`;
}

/** Where `needle` appears in plain text in a state export: resource URN and property path. */
function plainTextPaths(deployment: any, needle: string): string[] {
    const found: string[] = [];
    const walk = (value: unknown, where: string) => {
        if (typeof value === "string") {
            if (value.includes(needle)) {
                found.push(`${needle} at ${where}`);
            }
        } else if (Array.isArray(value)) {
            value.forEach((item, i) => walk(item, `${where}[${i}]`));
        } else if (typeof value === "object" && value !== null) {
            for (const [key, child] of Object.entries(value)) {
                walk(child, `${where}.${key}`);
            }
        }
    };
    for (const resource of deployment.resources ?? []) {
        walk(resource, resource.urn);
    }
    return found;
}

/** Asserts that `first` finished before each of `later` in the engine's order. */
function assertBefore(steps: string[], first: string, later: string[]): void {
    const at = (step: string) => {
        const index = steps.indexOf(step);
        assert.ok(index >= 0, `${step} is not among the steps: ${steps.join(", ")}`);
        return index;
    };
    for (const step of later) {
        assert.ok(at(first) < at(step), `${first} finished after ${step}`);
    }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("index.ts against a live API server", function () {
    this.timeout(30 * 60 * 1000);
    let work: string;
    let controlPlane: ControlPlane | undefined;
    let rancher: FakeRancher | undefined;
    let stack: Stack;
    let stackFile: string;
    let policyConfigs: Record<"greece" | "france", string>;
    let policyPack: string;
    let stopPlaying: (() => void) | undefined;
    let environment: Awaited<ReturnType<typeof pulumiEnvironment>>;

    /**
     * A site's stack as an operator has it: its committed stack file (Rancher's URL pointed at
     * the fake), then the host kubeconfig and an SSH key set with `--secret`.
     */
    async function openStack(site: string): Promise<{ stack: Stack; stackFile: string }> {
        const workDir = path.join(work, `project-${site}`);
        mkdirSync(workDir);
        const file = path.join(workDir, stackFilePath(site));
        writeFileSync(
            file,
            readFileSync(path.join(projectRoot, stackFilePath(site)), "utf8").replace(
                "rancher2:apiUrl: https://rancher.example.org",
                `rancher2:apiUrl: ${rancher!.url}`,
            ),
        );
        const opened = await LocalWorkspace.createOrSelectStack(
            {
                stackName: site,
                projectName: "edge",
                // The program is index.ts itself, evaluated afresh on every run.
                program: async () => {
                    const entry = require.resolve(path.join(projectRoot, "index"));
                    delete require.cache[entry];
                    return { ...require(entry) };
                },
            },
            {
                workDir,
                pulumiCommand: environment.pulumiCommand,
                envVars: environment.env,
                projectSettings: {
                    name: "edge",
                    runtime: "nodejs",
                    backend: { url: environment.backend },
                },
            },
        );
        await opened.setConfig(
            "edge:site.kubeconfig",
            { value: controlPlane!.kubeconfig, secret: true },
            true,
        );
        await opened.setConfig("edge:sshPrivateKey", { value: operatorKey, secret: true });
        // A Rancher whose certificate a private CA issued (docs/site-prerequisites.md: "Rancher
        // with a private CA").
        await opened.setConfig("rancher2:caCerts", { value: rancher!.caCerts });
        return { stack: opened, stackFile: file };
    }
    /** Whether the played virt-handler may run VMIs; the first up checks it waits until then. */
    let vmsMayStart = true;

    /** The stack file as the workspace holds it, edited, re-recorded and written back. */
    function editStack(edit: (config: any) => void): StackPlan {
        const file = parseStackFile(readFileSync(stackFile, "utf8"), stackFile);
        const config = file.document.get("config") as any;
        const plain = config.toJSON();
        edit(plain);
        file.document.set(
            "config",
            file.document.createNode(plain, { aliasDuplicateObjects: false }),
        );
        const edited = parseStackFile(file.document.toString(), stackFile);
        const { plan } = planStack(stackFileConfig(edited));
        writeFileSync(stackFile, withAllocations(edited.document, plan.allocations));
        return plan;
    }

    /** The plan of the stack file as the workspace holds it now. */
    function currentPlan(): StackPlan {
        return planStack(
            stackFileConfig(parseStackFile(readFileSync(stackFile, "utf8"), stackFile)),
        ).plan;
    }

    const cluster = (config: any, name: string) =>
        config["edge:clusters"].find((c: any) => c.name === name);

    async function vmPresent(rancherCluster: string, node: string): Promise<boolean> {
        const selector = encodeURIComponent(
            `${labels.cluster}=${rancherCluster.replace(`${stackName}-`, "")},${labels.node}=${node}`,
        );
        const list = await controlPlane!.call(
            "GET",
            `/apis/kubevirt.io/v1/virtualmachines?labelSelector=${selector}`,
        );
        return list.body.items.length === 1;
    }

    const vmPath = (vm: { namespace: string; vmName: string }) =>
        `/apis/kubevirt.io/v1/namespaces/${vm.namespace}/virtualmachines/${vm.vmName}`;

    /** The firmware UUID of each VM on the API server, by name. */
    async function firmwareUuids(
        vms: { namespace: string; vmName: string }[],
    ): Promise<Record<string, string>> {
        const uuids: Record<string, string> = {};
        for (const vm of vms) {
            const live = await controlPlane!.call("GET", vmPath(vm));
            uuids[vm.vmName] = live.body.spec.template.spec.domain.firmware.uuid;
        }
        return uuids;
    }

    /** A cloud-init Secret's data on the API server. */
    async function cloudInitData(namespace: string, name: string): Promise<CloudInitData> {
        const secret = await controlPlane!.call(
            "GET",
            `/api/v1/namespaces/${namespace}/secrets/${name}`,
        );
        const decode = (key: string) => Buffer.from(secret.body.data[key], "base64").toString();
        return { userdata: decode("userdata"), networkdata: decode("networkdata") };
    }

    /** The site's hosts as the stack file in the workspace declares them: the test's Nodes. */
    function currentHosts(): HostShape[] {
        const raw = stackFileConfig(parseStackFile(readFileSync(stackFile, "utf8"), stackFile));
        return readStackConfig(raw, new ProblemList()).config!.site.hosts;
    }

    /**
     * Plays CDI's importer, each host's kubelet and virt-handler (VMIs run once `vmsMayStart`)
     * and the nodes' Rancher agents. Restarts nothing: that is the operator's, after `up`.
     */
    function play(): () => void {
        // The node's agent registers once its guest runs.
        return playHosts(
            controlPlane!,
            currentHosts,
            () => vmsMayStart,
            (vmi) => {
                const node = vmi.metadata.labels[labels.node];
                const clusterName = vmi.metadata.labels[labels.cluster];
                rancher!.registerNode(`${stackName}-${clusterName}`, node);
            },
        );
    }

    /**
     * Asserts that KubeVirt's virt-controller rendered a launcher pod for every node VM of the
     * stack as it is now, requesting the CPU and memory placement computed for it
     * (lib/plan/placement.ts nodeDemand), and that kube-scheduler bound it to the host placement
     * chose.
     */
    async function assertLaunchersAsPlaced(): Promise<void> {
        const plan = currentPlan();
        const raw = stackFileConfig(parseStackFile(readFileSync(stackFile, "utf8"), stackFile));
        const config = readStackConfig(raw, new ProblemList()).config!;
        const vfs = Object.fromEntries(
            config.site.networks.flatMap((n) => (n.sriov ? [[n.name, n.sriov.resourceName]] : [])),
        );
        const version = plan.site.kubevirtVersion as KubevirtVersion;
        const expected: Record<string, { host?: string; memory: number; cpu: number }> = {};
        const found: typeof expected = {};
        for (const cluster of config.clusters) {
            const { namespace } = plan.clusters.find((c) => c.name === cluster.name)!;
            for (const node of cluster.nodes) {
                const name = vmName(cluster.name, node.name);
                const demand = nodeDemand(node, vfs, version);
                const host = plan.placement.decisions.find((d) => d.vmName === name)?.host;
                expected[name] = { host, memory: demand.memory, cpu: demand.cpu };
                const pod = await boundLauncherPod(controlPlane!, namespace, name);
                found[name] = {
                    host: host === undefined ? undefined : pod.spec.nodeName,
                    memory: schedulerRequest(pod, "memory"),
                    cpu: schedulerRequest(pod, "cpu"),
                };
            }
        }
        assert.deepStrictEqual(found, expected);
    }

    function recorder(): {
        onEvent: (event: EngineEvent) => void;
        steps: string[];
        finishedAt: Record<string, number>;
    } {
        const steps: string[] = [];
        const finishedAt: Record<string, number> = {};
        return {
            steps,
            finishedAt,
            onEvent: (event) => {
                const done = event.resOutputsEvent?.metadata;
                if (done && done.op !== "same" && done.op !== "read") {
                    const step = `${done.op} ${shortUrn(done.urn)}`;
                    steps.push(step);
                    finishedAt[step] = Date.now();
                }
            },
        };
    }

    async function up(): Promise<Run> {
        const { onEvent, steps, finishedAt } = recorder();
        let output = "";
        const result: UpResult = await stack.up({
            onEvent,
            onOutput: (text) => {
                output += text;
                if (process.env.EDGE_E2E_ECHO) {
                    process.stdout.write(text);
                }
            },
        });
        return { summary: result.summary.resourceChanges ?? {}, steps, finishedAt, output };
    }

    /** What the engine would change, by operation, leaving out what stays the same. */
    const changes = (summary: Record<string, number>) =>
        Object.fromEntries(Object.entries(summary).filter(([op]) => op !== "same"));

    before(async function () {
        if (!crdsPresent()) {
            this.skip();
        }
        // What the stacks' VMs need of KubeVirt (lib/site/prerequisites.ts): the GPU and dedicated
        // CPUs that a later test's intent asks for.
        const live = await startLiveApiServer("edge-program-e2e-", {
            gpus: ["nvidia.com/TU104GL_Tesla_T4"],
            hostDevices: [],
            dedicatedCpu: true,
        });
        ({ work, controlPlane } = live);
        const { bin } = live;
        rancher = await startFakeRancher(path.join(work, "rancher"), vmPresent);

        policyPack = path.join(projectRoot, "policy");
        policyConfigs = { greece: "", france: "" };
        for (const site of ["greece", "france"] as const) {
            const { plan } = planStack(
                stackFileConfig(
                    parseStackFile(
                        readFileSync(path.join(projectRoot, stackFilePath(site)), "utf8"),
                        site,
                    ),
                ),
            );
            policyConfigs[site] = path.join(work, `policy-${site}.json`);
            writeFileSync(policyConfigs[site], JSON.stringify(sitePolicyConfig(plan.site)));
        }

        environment = await pulumiEnvironment(
            work,
            bin,
            ["kubernetes", "rancher2", "tls", "command"],
            { RANCHER_TOKEN_KEY: rancherToken },
        );
        ({ stack, stackFile } = await openStack(stackName));
        stopPlaying = play();
    });

    after(async () => {
        stopPlaying?.();
        await rancher?.stop();
        await stopLiveApiServer({ controlPlane, work });
    });

    it("passes the policy pack under the CLI with greece's policy config, and fails it with france's", async () => {
        const passed = await stack.preview({
            policyPacks: [policyPack],
            policyPackConfigs: [policyConfigs.greece],
        });
        // Only advisories: the password rule cannot read user-data that Rancher's token makes
        // unknown until `up`, where it runs (and the offline plan's tests run it on every change).
        assert.match(passed.stdout, /Policies:\n\s+⚠️ edge-sites@v0\.1\.0/);
        assert.doesNotMatch(passed.stdout, /\[mandatory\]/);
        assert.deepStrictEqual(passed.stdout.match(/\[advisory\] {2}\S+/g), [
            "[advisory]  user-data-no-passwords",
            "[advisory]  user-data-no-passwords",
        ]);
        // Before the Service exists its nodePort, and so the direct endpoint, is unknown.
        assert.match(passed.stdout, /apiEndpoint: \[unknown\]/);
        await assert.rejects(
            stack.preview({
                policyPacks: [policyPack],
                policyPackConfigs: [policyConfigs.france],
            }),
            (error: Error) => {
                assert.match(
                    error.message,
                    /\[mandatory\] {2}nads-on-declared-bridges {2}\(kubernetes:k8s\.cni\.cncf\.io\/v1:NetworkAttachmentDefinition: greece-nad-lab\)\n.*\n\s+bridge br0 is not a network the site declares/,
                );
                return true;
            },
        );
    });

    it("creates every object once, and finishes only when CDI reports the image ready and every node joined Rancher", async () => {
        vmsMayStart = false;
        let finished = false;
        const running = up().finally(() => (finished = true));
        // Reported by `await running` below, or made moot by an earlier assertion.
        running.catch(() => undefined);
        const vmsCreated = async () =>
            (await controlPlane!.call("GET", "/apis/kubevirt.io/v1/virtualmachines")).body.items
                .length === 2;
        while (!(await vmsCreated())) {
            assert.strictEqual(finished, false, "up finished before its VMs existed");
            await sleep(250);
        }
        await sleep(3000);
        assert.strictEqual(finished, false, "up finished before its nodes joined Rancher");
        assert.strictEqual(rancher!.registrations.length, 0, "a node registered early");
        vmsMayStart = true;
        const run = await running;
        assert.deepStrictEqual(run.summary, { create: 22 });
        // The ClusterSync's create, and so `up`, waited in the join hook until every node had
        // joined; the VMs themselves are not awaited.
        const nodes = currentPlan().clusters[0].nodes;
        assert.deepStrictEqual(
            rancher!.registrations.map((r) => `${r.rancherCluster} ${r.node}`).sort(),
            nodes.map((node) => `greece-final-test ${node.name}`).sort(),
        );
        const synced = run.finishedAt["create ClusterSync final-test-sync"];
        for (const { node, at } of rancher!.registrations) {
            assert.ok(at <= synced, `the ClusterSync was created before ${node} joined`);
        }
        assert.match(run.output, /Found \{\.status\.phase\}=Succeeded/);
        assert.doesNotMatch(
            run.output,
            // The provider's progress while a VM has no conditions yet is a warning; it waits on.
            /unknown field|pruned|warning: (?!using pulumi-resource-\w+ from \$PATH|Has no \.status\.conditions)/i,
        );
        assert.deepStrictEqual(rancher!.clusters(), {
            "greece-final-test": clusterV1Id("greece-final-test"),
        });
    });

    it("left the planned objects on the API server, with Rancher's registration in cloud-init", async () => {
        const plan = currentPlan();
        const [clusterPlan] = plan.clusters;
        for (const node of clusterPlan.nodes) {
            const vm = await controlPlane!.call(
                "GET",
                `/apis/kubevirt.io/v1/namespaces/${node.namespace}/virtualmachines/${node.vmName}`,
            );
            assert.deepStrictEqual(
                vm.body.spec.template.spec.domain.devices.interfaces,
                node.virtualMachine.spec.template.spec.domain.devices.interfaces,
            );
            assert.deepStrictEqual(
                vm.body.spec.template.spec.networks,
                node.virtualMachine.spec.template.spec.networks,
            );
            const secret = await controlPlane!.call(
                "GET",
                `/api/v1/namespaces/${node.namespace}/secrets/${node.cloudInitSecretName}`,
            );
            assert.deepStrictEqual(Object.keys(secret.body.data).sort(), [
                "networkdata",
                "userdata",
            ]);
            const userData = Buffer.from(secret.body.data.userdata, "base64").toString("utf8");
            const networkData = Buffer.from(secret.body.data.networkdata, "base64").toString(
                "utf8",
            );
            assert.strictEqual(networkData, node.networkData);
            assert.match(userData, /^#cloud-config\n/);
            assert.ok(
                userData.includes(
                    `--token ${registrationSecret(clusterV1Id("greece-final-test"))}`,
                ),
            );
            assert.ok(
                userData.includes(rancher!.caCerts.split("\n")[1]),
                "Rancher's CA in ca_certs",
            );
            assert.match(userData, /BEGIN OPENSSH PRIVATE KEY/);
            const disk = await controlPlane!.call(
                "GET",
                `/apis/cdi.kubevirt.io/v1beta1/namespaces/${node.namespace}/datavolumes/${node.rootDisk.metadata.name}`,
            );
            assert.deepStrictEqual(disk.body.spec, node.rootDisk.spec);
        }
        const [lab] = plan.site.networks;
        const nad = await controlPlane!.call(
            "GET",
            `/apis/k8s.cni.cncf.io/v1/namespaces/${lab.nad.metadata.namespace}/network-attachment-definitions/lab`,
        );
        assert.deepStrictEqual(JSON.parse(nad.body.spec.config), JSON.parse(lab.nad.spec.config));
        const service = await controlPlane!.call(
            "GET",
            `/api/v1/namespaces/${clusterPlan.namespace}/services/${clusterPlan.apiService!.metadata.name}`,
        );
        const nodePort = service.body.spec.ports[0].nodePort;
        const outputs = await stack.outputs();
        const exported = outputs.clusters.value["final-test"];
        assert.strictEqual(exported.apiEndpoint, `https://${plan.site.hostNodeIps[0]}:${nodePort}`);
        // Rancher's kubeconfig, with the cluster's CA added to its direct-API context.
        assert.ok(
            exported.kubeconfig.includes(
                `server: https://${plan.site.hostNodeIps[0]}:${nodePort}\n      certificate-authority-data: ${Buffer.from(rancher!.caCerts).toString("base64")}`,
            ),
        );
    });

    it("ran every VM through KubeVirt: each launcher pod requests what placement computed, bound where it placed it", async () => {
        await assertLaunchersAsPlaced();
    });

    it("changes nothing on a second up, and a preview expects no changes", async () => {
        const run = await up();
        assert.deepStrictEqual(changes(run.summary), {});
        await stack.preview({ expectNoChanges: true });
    });

    /** The state as an operator exports it: without --show-secrets (which exportStack() passes). */
    function exportedState(): any {
        const exported = execFileSync(
            stack.workspace.pulumiCommand.command,
            ["stack", "export", "--stack", stackName],
            {
                cwd: path.dirname(stackFile),
                env: { ...process.env, ...environment.env },
                encoding: "utf8",
            },
        );
        return JSON.parse(exported);
    }

    it("keeps every secret out of the state in plain text", async () => {
        const state = exportedState();
        const leaks = [
            "e2e-registration-token",
            "kubeconfig-token",
            "BEGIN OPENSSH PRIVATE KEY",
            "e2e-operator-ssh-key",
            controlPlane!.token,
        ].flatMap((plain) => plainTextPaths(state.deployment, plain));
        assert.deepStrictEqual(leaks, []);
        assert.ok(JSON.stringify(state).includes('"ciphertext"'));
    });

    it("updates only a node's VM when its memory changes, leaving its restart to the operator", async () => {
        const node = currentPlan().clusters[0].nodes[1];
        const vmiPath = `/apis/kubevirt.io/v1/namespaces/${node.namespace}/virtualmachineinstances/${node.vmName}`;
        const vmiBefore = (await controlPlane!.call("GET", vmiPath)).body.metadata.uid;
        editStack((config) => {
            cluster(config, "final-test").nodes[1].memory = "6Gi";
        });
        const run = await up();
        assert.deepStrictEqual(changes(run.summary), { update: 1 });
        assert.deepStrictEqual(run.steps, ["update VirtualMachine final-test-worker1"]);
        // KubeVirt takes the new memory only on a restart: it marks the VM RestartRequired and
        // keeps its observedGeneration behind, which no longer holds `up`.
        let vm: any;
        for (let tries = 0; ; tries++) {
            vm = (await controlPlane!.call("GET", vmPath(node))).body;
            const conditions = vm.status?.conditions ?? [];
            if (conditions.some((c: any) => c.type === "RestartRequired" && c.status === "True")) {
                break;
            }
            assert.ok(tries < 120, `no RestartRequired: ${JSON.stringify(conditions)}`);
            await sleep(250);
        }
        assert.strictEqual(vm.spec.template.spec.domain.memory.guest, "6Gi");
        assert.ok(vm.status.observedGeneration < vm.metadata.generation, "generation observed");
        // Nothing restarted it: the same VMI runs, and no restart is requested.
        const vmi = (await controlPlane!.call("GET", vmiPath)).body;
        assert.strictEqual(vmi.metadata.uid, vmiBefore);
        assert.strictEqual(vmi.status.phase, "Running");
        assert.strictEqual(vm.status.stateChangeRequests, undefined);
        const again = await up();
        assert.deepStrictEqual(changes(again.summary), {});
    });

    it("replaces a node's disk and VM in order when its disk grows, taking it out of Rancher first", async () => {
        editStack((config) => {
            cluster(config, "final-test").nodes[1].disk = "20Gi";
        });
        const run = await up();
        assert.deepStrictEqual(changes(run.summary), { replace: 3 });
        assert.deepStrictEqual(run.steps, [
            "delete-replaced VirtualMachine final-test-worker1",
            "delete-replaced DataVolume final-test-worker1-rootdisk",
            "replace DataVolume final-test-worker1-rootdisk",
            "create-replacement DataVolume final-test-worker1-rootdisk",
            "replace VirtualMachine final-test-worker1",
            "create-replacement VirtualMachine final-test-worker1",
            "create-replacement ClusterSync final-test-sync",
            "replace ClusterSync final-test-sync",
            "delete-replaced ClusterSync final-test-sync",
        ]);
        // The hook ran while the old VM still existed, before the engine deleted it.
        assert.deepStrictEqual(rancher!.removals, [
            { rancherCluster: "greece-final-test", node: "worker1", vmPresent: true },
        ]);
    });

    it("creates only a new node's objects", async () => {
        editStack((config) => {
            cluster(config, "final-test").nodes.push({
                ...structuredClone(cluster(config, "final-test").nodes[1]),
                name: "worker2",
                networks: [{ network: "lab", ip: "192.168.18.205" }],
            });
        });
        const run = await up();
        // The ClusterSync is replaced so that `up` waits for Rancher to report the cluster active.
        assert.deepStrictEqual(changes(run.summary), { create: 5, replace: 1 });
        assert.deepStrictEqual(run.steps.sort(), [
            "create DataVolume final-test-worker2-rootdisk",
            "create KubevirtNode final-test-worker2",
            "create PrivateKey final-test-worker2-hostkey",
            "create Secret final-test-worker2-cloudinit",
            "create VirtualMachine final-test-worker2",
            "create-replacement ClusterSync final-test-sync",
            "delete-replaced ClusterSync final-test-sync",
            "replace ClusterSync final-test-sync",
        ]);
    });

    it("deletes only a removed cluster's objects, and its Rancher cluster", async () => {
        editStack((config) => {
            config["edge:clusters"].push({
                name: "extra",
                type: "k3s",
                kubernetesVersion: "v1.31.5+k3s1",
                nodes: [
                    {
                        name: "solo",
                        roles: ["controlplane", "etcd", "worker"],
                        cpu: 2,
                        memory: "2Gi",
                        disk: "15Gi",
                        image: "ubuntu-focal",
                        networks: [{ network: "lab", ip: "192.168.18.210" }],
                    },
                ],
            });
        });
        const added = await up();
        assert.deepStrictEqual(changes(added.summary), { create: 9 });
        assert.deepStrictEqual(Object.keys(rancher!.clusters()).sort(), [
            "greece-extra",
            "greece-final-test",
        ]);
        editStack((config) => {
            config["edge:clusters"] = config["edge:clusters"].filter(
                (c: any) => c.name !== "extra",
            );
        });
        const removalsBefore = rancher!.removals.length;
        const removed = await up();
        assert.deepStrictEqual(changes(removed.summary), { delete: 9 });
        assert.deepStrictEqual([...removed.steps].sort(), [
            "delete ClusterSync extra-sync",
            "delete ClusterV2 extra",
            "delete DataVolume extra-solo-rootdisk",
            "delete EdgeCluster extra",
            "delete KubevirtNode extra-solo",
            "delete Namespace greece-ns-extra",
            "delete PrivateKey extra-solo-hostkey",
            "delete Secret extra-solo-cloudinit",
            "delete VirtualMachine extra-solo",
        ]);
        assertBefore(removed.steps, "delete VirtualMachine extra-solo", [
            "delete DataVolume extra-solo-rootdisk",
            "delete Secret extra-solo-cloudinit",
            "delete ClusterV2 extra",
            "delete Namespace greece-ns-extra",
        ]);
        // The whole cluster goes with its Rancher cluster: no machine is removed one by one.
        assert.strictEqual(rancher!.removals.length, removalsBefore);
        assert.deepStrictEqual(Object.keys(rancher!.clusters()), ["greece-final-test"]);
    });

    it("places an intent's nodes as planned, with their hardware, and reports drift from the state", async () => {
        const gpu = "nvidia.com/TU104GL_Tesla_T4";
        const plan = editStack((config) => {
            config["edge:site"].hosts.push({
                name: "gr-host-2",
                cpu: 16,
                memory: "64Gi",
                labels: { "kubevirt.io/cpumanager": "true" },
                devices: { [gpu]: 1 },
            });
            config["edge:clusters"].push({
                name: "ml",
                type: "k3s",
                kubernetesVersion: "v1.31.5+k3s1",
                intent: {
                    image: "ubuntu-focal",
                    networks: ["lab"],
                    workers: [
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
            });
        });
        assert.deepStrictEqual(plan.allocations.ml.hosts, {
            "server-1": "gr-host-1",
            "gpu-1": "gr-host-2",
        });
        const added = await up();
        assert.deepStrictEqual(changes(added.summary), { create: 14 });
        // Admitted by virt-api without a warning, which the provider would print.
        assert.doesNotMatch(
            added.output,
            /unknown field|pruned|warning: (?!using pulumi-resource-\w+ from \$PATH|Has no \.status\.conditions)/i,
        );
        await assertLaunchersAsPlaced();
        const vm = await controlPlane!.call(
            "GET",
            "/apis/kubevirt.io/v1/namespaces/ml/virtualmachines/ml-gpu-1",
        );
        const spec = vm.body.spec.template.spec;
        assert.deepStrictEqual(spec.nodeSelector, { "kubernetes.io/hostname": "gr-host-2" });
        assert.strictEqual(spec.domain.cpu.dedicatedCpuPlacement, true);
        assert.deepStrictEqual(spec.domain.devices.gpus, [{ name: "gpu1", deviceName: gpu }]);

        // Assurance: the state as `pulumi stack export` writes it holds what was planned...
        assert.deepStrictEqual(checkDrift(currentPlan(), await stack.exportStack()), []);
        // ...until someone moves the VM by hand, which a refresh brings into the state.
        await controlPlane!.call(
            "PATCH",
            "/apis/kubevirt.io/v1/namespaces/ml/virtualmachines/ml-gpu-1",
            {
                spec: {
                    template: { spec: { nodeSelector: { "kubernetes.io/hostname": "gr-host-1" } } },
                },
            },
            "application/merge-patch+json",
        );
        await stack.refresh();
        assert.deepStrictEqual(checkDrift(currentPlan(), await stack.exportStack()), [
            "ml-gpu-1: host is gr-host-1, planned gr-host-2",
        ]);

        editStack((config) => {
            config["edge:clusters"] = config["edge:clusters"].filter((c: any) => c.name !== "ml");
            config["edge:site"].hosts.pop();
        });
        const removed = await up();
        assert.deepStrictEqual(changes(removed.summary), { delete: 14 });
        assert.deepStrictEqual(Object.keys(rancher!.clusters()), ["greece-final-test"]);
    });

    it("declares the site's interconnect gateway once its WireGuard key is set, and routes its nodes through it", async () => {
        // The site's key pair: the workspace's interconnects.yaml commits its public half, beside
        // france's stack file as committed, as every site's checkout has them.
        const workDir = path.dirname(stackFile);
        const jwk = generateKeyPairSync("x25519").privateKey.export({ format: "jwk" });
        const wireguardKey = Buffer.from(jwk.d!, "base64url").toString("base64");
        const interconnects = parse(
            readFileSync(path.join(projectRoot, interconnectsFile), "utf8"),
        );
        interconnects.sites.greece.publicKey = wireguardPublicKey(wireguardKey);
        writeFileSync(path.join(workDir, interconnectsFile), stringify(interconnects));
        copyFileSync(
            path.join(projectRoot, stackFilePath("france")),
            path.join(workDir, stackFilePath("france")),
        );
        const keyConfig = "edge:wireguardPrivateKey";
        await stack.setConfig(keyConfig, { value: wireguardKey, secret: true });
        const { plan } = planStack(
            withInterconnects(
                stackFileConfig(parseStackFile(readFileSync(stackFile, "utf8"), stackFile)),
                workDir,
            ),
        );
        const [gateway] = plan.gateways;
        const secretData = async (namespace: string, name: string, key: string) => {
            const secret = await controlPlane!.call(
                "GET",
                `/api/v1/namespaces/${namespace}/secrets/${name}`,
            );
            return Buffer.from(secret.body.data[key], "base64").toString("utf8");
        };
        const routesViaGateway = async (node: NodePlan) => {
            const networkData = parse(
                await secretData(node.namespace, node.cloudInitSecretName, "networkdata"),
            );
            return Object.values(networkData.ethernets)
                .flatMap((nic: any) => nic.routes ?? [])
                .filter((route: any) => route.via === gateway.gateway.ip);
        };
        const nodes = plan.clusters.flatMap((c) => c.nodes);
        // The host provider's enableSecretMutable updates each node's cloud-init Secret in place,
        // and each node's VM takes the new cloud-init's firmware UUID.
        const updatedInPlace = async (steps: string[]) => {
            assert.deepStrictEqual(
                steps.filter(
                    (step) =>
                        / (Secret|VirtualMachine) /.test(step) && !step.includes(gateway.vmName),
                ),
                nodes
                    .flatMap((node) => [
                        `update Secret ${node.vmName}-cloudinit`,
                        `update VirtualMachine ${node.vmName}`,
                    ])
                    .sort(),
            );
            const uuids = await firmwareUuids(nodes);
            for (const node of nodes) {
                assert.strictEqual(
                    uuids[node.vmName],
                    cloudInitUuid(
                        node.virtualMachine.metadata,
                        await cloudInitData(node.namespace, node.cloudInitSecretName),
                    ),
                    node.vmName,
                );
            }
        };
        const gatewayObjects = [
            `/apis/kubevirt.io/v1/namespaces/${gateway.namespace}/virtualmachines/${gateway.vmName}`,
            `/apis/cdi.kubevirt.io/v1beta1/namespaces/${gateway.namespace}/datavolumes/${gateway.rootDisk.metadata.name}`,
            `/api/v1/namespaces/${gateway.namespace}/secrets/${gateway.cloudInitSecretName}`,
        ];
        const statuses = async () =>
            Promise.all(
                gatewayObjects.map(async (url) => (await controlPlane!.call("GET", url)).status),
            );
        // Pulumi runs the program in the project folder, where it reads interconnects.yaml.
        const cwd = process.cwd();
        process.chdir(workDir);
        let joinedSite = true;
        try {
            const joined = await up();
            // Every node's cloud-init, whose network-data gains the routes, is updated, and so is
            // its VM's firmware UUID.
            assert.deepStrictEqual(changes(joined.summary), { create: 4, update: 6 });
            assert.deepStrictEqual(
                joined.steps.filter((step) => step.startsWith("create ")).sort(),
                [
                    `create DataVolume ${gateway.vmName}-rootdisk`,
                    `create InterconnectGateway ${gateway.vmName}`,
                    `create Secret ${gateway.vmName}-cloudinit`,
                    `create VirtualMachine ${gateway.vmName}`,
                ],
            );
            await updatedInPlace(joined.steps.sort());
            const [gatewayUuid] = Object.values(await firmwareUuids([gateway]));
            assert.strictEqual(
                gatewayUuid,
                cloudInitUuid(
                    gateway.virtualMachine.metadata,
                    await cloudInitData(gateway.namespace, gateway.cloudInitSecretName),
                ),
            );
            for (const node of nodes) {
                assert.deepStrictEqual(
                    await routesViaGateway(node),
                    [
                        { to: "10.120.0.0/24", via: gateway.gateway.ip },
                        { to: "10.121.0.0/24", via: gateway.gateway.ip },
                    ],
                    node.vmName,
                );
            }
            assert.deepStrictEqual(await statuses(), [200, 200, 200]);
            // The key is in the gateway's cloud-init on the host cluster, and nowhere in the state.
            const userData = await secretData(
                gateway.namespace,
                gateway.cloudInitSecretName,
                "userdata",
            );
            assert.ok(userData.includes(`PrivateKey = ${wireguardKey}`));
            assert.ok(!userData.includes(privateKeyPlaceholder));
            const state = exportedState();
            assert.deepStrictEqual(plainTextPaths(state.deployment, wireguardKey), []);
            // Nor encoded: the Secret's data (the provider records stringData as data, base64 of
            // the user-data) is encrypted too.
            const secret = state.deployment.resources.find((r: any) =>
                r.urn.endsWith(`::${gateway.vmName}-cloudinit`),
            );
            assert.strictEqual(typeof secret.inputs.data.ciphertext, "string");
            assert.strictEqual(typeof secret.outputs.data.ciphertext, "string");

            await stack.removeConfig(keyConfig);
            joinedSite = false;
            const left = await up();
            assert.deepStrictEqual(changes(left.summary), { delete: 4, update: 6 });
            await updatedInPlace(left.steps.sort());
            for (const node of nodes) {
                assert.deepStrictEqual(await routesViaGateway(node), [], node.vmName);
            }
            assert.deepStrictEqual(await statuses(), [404, 404, 404]);
        } finally {
            // Later tests run the program in the project folder, whose interconnects.yaml has
            // another public key for greece: leave the site as it was.
            if (joinedSite) {
                await stack.removeConfig(keyConfig).catch(() => undefined);
                await up().catch(() => undefined);
            }
            process.chdir(cwd);
        }
    });

    it("with site.protect, refuses to remove a node or destroy anything, and touches nothing", async () => {
        editStack((config) => {
            config["edge:site"].protect = true;
        });
        const protect = await up();
        // The VMs carry the protection for the removal hook; nothing else changes on the server.
        assert.deepStrictEqual(changes(protect.summary), { update: 3 });
        // A protected site still takes cloud-init changes: its protected Secrets are updated in
        // place, which Pulumi allows, where a replacement would be refused.
        const key =
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIuugjcbloVjbQTTkAhCMPaGjQ9D0W6PssFpJlAYGFuX noc@example";
        const uuidsBefore = await firmwareUuids(currentPlan().clusters.flatMap((c) => c.nodes));
        // As KubeVirt's firmware sync does to a VM created without a UUID (kubevirt
        // pkg/virt-controller/watch/vm/firmware.go): another field manager now owns the UUID.
        const synced = currentPlan().clusters[0].nodes[0];
        const patched = await controlPlane!.call(
            "PATCH",
            `${vmPath(synced)}?fieldManager=virt-controller`,
            [
                {
                    op: "replace",
                    path: "/spec/template/spec/domain/firmware",
                    value: { uuid: "5b0a1f4e-0c6d-5d8e-9a7b-3c2d1e0f9a8b" },
                },
            ],
            "application/json-patch+json",
        );
        assert.strictEqual(patched.status, 200, JSON.stringify(patched.body));
        const protectedPlan = editStack((config) => {
            config["edge:site"].sshAuthorizedKeys.push(key);
        });
        const newKey = await up();
        // Each VM takes its new cloud-init's firmware UUID, the guest's instance-id, in place.
        assert.deepStrictEqual(changes(newKey.summary), { update: 6 });
        const protectedNodes = protectedPlan.clusters.flatMap((c) => c.nodes);
        assert.deepStrictEqual(
            newKey.steps.filter((step) => / (Secret|VirtualMachine) /.test(step)).sort(),
            protectedNodes
                .flatMap((node) => [
                    `update Secret ${node.vmName}-cloudinit`,
                    `update VirtualMachine ${node.vmName}`,
                ])
                .sort(),
        );
        const uuidsAfter = await firmwareUuids(protectedNodes);
        for (const node of protectedNodes) {
            const data = await cloudInitData(node.namespace, node.cloudInitSecretName);
            assert.ok(data.userdata.includes(`  - ${key}\n`), node.vmName);
            assert.strictEqual(
                uuidsAfter[node.vmName],
                cloudInitUuid(node.virtualMachine.metadata, data),
                node.vmName,
            );
            assert.notStrictEqual(uuidsAfter[node.vmName], uuidsBefore[node.vmName], node.vmName);
        }
        let removedNode: unknown;
        editStack((config) => {
            removedNode = cluster(config, "final-test").nodes.pop();
        });
        await assert.rejects(up(), (error: Error) => {
            assert.match(
                error.message,
                /before hook "edge-node-removal" failed: final-test-worker2: node worker2 left cluster final-test, but its VM is protected \(site\.protect\), so Pulumi would keep it: run pulumi up with site\.protect unset first, then make this change/,
            );
            return true;
        });
        await assert.rejects(
            stack.destroy({ runProgram: true }),
            /cannot be deleted\s+because it is protected/,
        );
        assert.strictEqual(rancher!.removals.length, 1, "Rancher was left alone");
        const vms = await controlPlane!.call("GET", "/apis/kubevirt.io/v1/virtualmachines");
        assert.deepStrictEqual(vms.body.items.map((vm: any) => vm.metadata.name).sort(), [
            "final-test-cluster-master",
            "final-test-worker1",
            "final-test-worker2",
        ]);
        assert.deepStrictEqual(Object.keys(rancher!.clusters()), ["greece-final-test"]);
        // As the message says: the node stays until the site is unprotected.
        editStack((config) => {
            cluster(config, "final-test").nodes.push(removedNode);
        });
    });

    it("previews france's stack with the policy pack: every resource a create, only advisories", async () => {
        const france = await openStack("france");
        const preview = await france.stack.preview({
            policyPacks: [policyPack],
            policyPackConfigs: [policyConfigs.france],
        });
        assert.deepStrictEqual(preview.changeSummary, { create: 73 });
        assert.match(preview.stdout, /Policies:\n\s+⚠️ edge-sites@v0\.1\.0/);
        assert.doesNotMatch(preview.stdout, /\[mandatory\]/);
    });

    it("destroys everything in dependency order once unprotected, namespaces included", async () => {
        editStack((config) => {
            delete config["edge:site"].protect;
        });
        await up();
        const { onEvent, steps } = recorder();
        await stack.destroy({ runProgram: true, onEvent });
        for (const node of ["cluster-master", "worker1", "worker2"]) {
            assertBefore(steps, `delete VirtualMachine final-test-${node}`, [
                `delete DataVolume final-test-${node}-rootdisk`,
                `delete Secret final-test-${node}-cloudinit`,
                "delete ClusterV2 final-test",
                "delete NetworkAttachmentDefinition greece-nad-lab",
            ]);
            assertBefore(steps, `delete DataVolume final-test-${node}-rootdisk`, [
                "delete DataVolume greece-image-ubuntu-focal",
            ]);
        }
        assertBefore(steps, "delete DataVolume greece-image-ubuntu-focal", [
            "delete Namespace greece-ns-edge-images",
        ]);
        const plan = currentPlan();
        for (const namespace of plan.site.namespaces) {
            assert.strictEqual(
                (await controlPlane!.call("GET", `/api/v1/namespaces/${namespace}`)).status,
                404,
                namespace,
            );
        }
        assert.deepStrictEqual(rancher!.clusters(), {});
        // Destroying the stack is not removing nodes: Rancher's machines go with the cluster.
        assert.strictEqual(rancher!.removals.length, 1);
    });
});
