import { execFileSync, spawn } from "child_process";
import { readFileSync, writeFileSync } from "fs";
import * as path from "path";
import { parseDocument, stringify } from "yaml";
import { HostShape, RawStackConfig, languageHostConfigLimit } from "../../lib/config";
import { labels } from "../../lib/core/naming";
import { planStack } from "../../lib/plan/stackPlan";
import { languageHostConfigBytes, stackFilePath } from "../../lib/config/stackFile";
import { EvaluatedResource, evaluateProgram, placeholders } from "../../offline/evaluate";
import { ReplayedResource } from "../../offline/replay";
import {
    lockedStackConfig,
    syntheticNodesPerCluster,
    syntheticSite,
} from "../../offline/synthetic";
import { copyProject, resourceSummary } from "../cliProject";
import { ControlPlane, startLiveApiServer, stopLiveApiServer } from "../controlPlane";
import { FakeRancher, rancherToken, startFakeRancher } from "../fakeRancher";
import { playHosts } from "../kubevirt";
import { kubevirtFeatures, planVirtualMachines } from "../kubevirtCheck";
import { pulumiEnvironment } from "../pulumiEnv";
import { RoleUsage, watchProcessTree } from "./processes";

/**
 * `npm run bench:engine [-- --sizes 200,400] [--parallel N] [--repeats N] [--checkpoints]
 * [--profile DIR]`: synthetic sites of 200 and 400 VMs (the generator of `npm run bench`, on
 * hosts with room for them) through the real CLI, language host and providers, as cli.e2e.ts
 * runs them: the e2e API server with KubeVirt's own virt-api and virt-controller, the test
 * playing CDI, kubelets and virt-handlers, and e2e/fakeRancher.ts. For each, `preview` of the
 * empty stack, `up`, a no-change `preview`, a one-node change (`preview`, then `up`) and
 * `destroy --run-program`, for the program and then for the engine's floor (e2e/bench/floor):
 * the same resources with the same options and no logic, through the same engine and
 * providers. Figures: wall time, resources per second, and each process's peak memory and CPU
 * time. Previews run three times (`--repeats`; the median is shown), the rest once.
 */

/** A synthetic site's hosts: room for every VM, as a site's inventory would list them. */
function syntheticHosts(vms: number): HostShape[] {
    return Array.from({ length: Math.ceil(vms / 25) }, (_, i) => ({
        name: `host-${i}`,
        cpu: 128,
        memory: "512Gi",
        labels: {},
        devices: {},
        hugepages: {},
    }));
}

/** The synthetic site of `npm run bench` on its hosts; `changed`, with one node resized. */
function benchSite(vms: number, changed: boolean): RawStackConfig {
    const stack = syntheticSite(vms) as {
        site: object;
        images: object;
        clusters: { nodes: { memory: string }[] }[];
    };
    if (changed) {
        // The one-node change: a worker's memory, as an operator resizes it.
        stack.clusters[0].nodes[1].memory = "6Gi";
    }
    return { ...stack, site: { ...stack.site, hosts: syntheticHosts(vms) } };
}

interface Step {
    step: string;
    seconds: number;
    resources: number;
    usage: Record<string, RoleUsage>;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1];

/** A state export's inputs with each secret as `{ $secret: value }`, as the floor revives it. */
function exportedInputs(value: unknown): unknown {
    if (Array.isArray(value)) {
        return value.map(exportedInputs);
    }
    if (typeof value === "object" && value !== null) {
        const record = value as Record<string, unknown>;
        // The engine's secret signature (sdk/go/common/resource/sig).
        if (record["4dabf18193072939515e22adb298388d"] === "1b47061264138c4ac30d75fd1eb44270") {
            return { $secret: exportedInputs(JSON.parse(record.plaintext as string)) };
        }
        return Object.fromEntries(
            Object.entries(record)
                // The bridge's bookkeeping of which defaults it applied, not an input.
                .filter(([key]) => key !== "__defaults")
                .map(([k, v]) => [k, exportedInputs(v)]),
        );
    }
    return value;
}

class Bench {
    private env: Record<string, string> = {};
    /** `--parallel` for every preview, up and destroy; the CLI's default when undefined. */
    parallel: string | undefined;
    /** How many times each preview runs. */
    previewRepeats = 3;
    /**
     * Whether the engine writes the whole state after every step, as the file and cloud-storage
     * backends do (pulumi pkg/backend/snapshot.go, defaultServiceLoop): quadratic in the stack's
     * size. Otherwise only at the end (PULUMI_SKIP_CHECKPOINTS), the nearest this machine has to
     * Pulumi Cloud's journal of each step (pkg/backend/journal.go), which it cannot reach.
     */
    checkpoints = false;
    /** Where the engine's Go profiles and the program's V8 CPU and heap profiles go, when set. */
    private profileDir: string | undefined;
    private runs = 0;

    constructor(
        private readonly project: string,
        private readonly controlPlane: ControlPlane,
        private readonly rancher: FakeRancher,
    ) {}

    static async start(
        vmsMax: number,
        profileDir?: string,
    ): Promise<{ bench: Bench; stop: () => Promise<void> }> {
        const largest = planStack(benchSite(vmsMax, false)).plan;
        const live = await startLiveApiServer(
            "edge-engine-bench-",
            kubevirtFeatures(planVirtualMachines(largest)),
        );
        const rancher = await startFakeRancher(path.join(live.work, "rancher"), async () => true);
        const environment = await pulumiEnvironment(
            live.work,
            live.bin,
            ["kubernetes", "rancher2", "tls", "command"],
            { RANCHER_TOKEN_KEY: rancherToken },
        );
        const project = path.join(live.work, "project");
        copyProject(project);
        const bench = new Bench(project, live.controlPlane, rancher);
        bench.profileDir = profileDir;
        if (profileDir) {
            // Node.js refuses --cpu-prof in NODE_OPTIONS; the language host passes nodeargs on.
            for (const dir of [project, path.join(project, "e2e", "bench", "floor")]) {
                const file = path.join(dir, "Pulumi.yaml");
                const document = parseDocument(readFileSync(file, "utf8"));
                document.setIn(
                    ["runtime", "options", "nodeargs"],
                    `--cpu-prof --heap-prof --diagnostic-dir=${profileDir}`,
                );
                writeFileSync(file, document.toString());
            }
        }
        bench.env = {
            ...environment.env,
            PATH: `${path.join(live.work, "cli", "bin")}:${environment.env.PATH}`,
            PULUMI_BACKEND_URL: environment.backend,
        };
        return {
            bench,
            stop: async () => {
                await rancher.stop();
                await stopLiveApiServer(live);
            },
        };
    }

    /** Runs the CLI in `dir`, sampling its processes; throws with its output unless it exits 0. */
    private pulumi(dir: string, args: string[], input = ""): Promise<Step & { output: string }> {
        return new Promise((resolve, reject) => {
            const start = process.hrtime.bigint();
            const operation = ["preview", "up", "destroy"].includes(args[0]);
            const parallel = operation && this.parallel ? ["--parallel", this.parallel] : [];
            const profiling =
                operation && this.profileDir
                    ? ["--profiling", path.join(this.profileDir, `${++this.runs}-${args[0]}`)]
                    : [];
            const child = spawn(
                "pulumi",
                [...args, ...parallel, ...profiling, "--non-interactive"],
                {
                    cwd: dir,
                    env: {
                        ...process.env,
                        ...this.env,
                        ...(this.checkpoints ? {} : { PULUMI_SKIP_CHECKPOINTS: "true" }),
                    },
                    stdio: ["pipe", "pipe", "pipe"],
                },
            );
            const stopWatching = watchProcessTree(child.pid!);
            let output = "";
            child.stdout.on("data", (chunk) => (output += chunk));
            child.stderr.on("data", (chunk) => (output += chunk));
            child.on("error", reject);
            child.on("close", (status) => {
                const seconds = Number(process.hrtime.bigint() - start) / 1e9;
                const usage = stopWatching();
                if (status !== 0) {
                    reject(new Error(`pulumi ${args.join(" ")} exited ${status}:\n${output}`));
                    return;
                }
                const summary = resourceSummary(output);
                const resources = Object.values(summary).reduce((a, b) => a + b, 0);
                resolve({ step: args[0], seconds, resources, usage, output });
            });
            child.stdin.end(input);
        });
    }

    /** A preview's median run over its repeats. */
    private async preview(dir: string, args: string[]): Promise<Step> {
        const runs: Step[] = [];
        for (let i = 0; i < this.previewRepeats; i++) {
            runs.push(await this.pulumi(dir, args));
        }
        const seconds = median(runs.map((r) => r.seconds));
        return runs.find((r) => r.seconds === seconds)!;
    }

    /** The state's inputs by `type::name`. */
    private exportState(dir: string, stack: string): Map<string, Record<string, any>> {
        const exported = JSON.parse(
            execFileSync("pulumi", ["stack", "export", "--stack", stack, "--show-secrets"], {
                cwd: dir,
                env: { ...process.env, ...this.env },
                encoding: "utf8",
                maxBuffer: 1 << 30,
            }),
        );
        const inputs = new Map<string, Record<string, any>>();
        for (const resource of exported.deployment.resources ?? []) {
            const name = resource.urn.slice(resource.urn.lastIndexOf("::") + 2);
            inputs.set(
                `${resource.type}::${name}`,
                exportedInputs(resource.inputs ?? {}) as Record<string, any>,
            );
        }
        return inputs;
    }

    /**
     * Every step for one program: `writeChange` makes the one-node change. Returns the steps and
     * the state's inputs after `up` and after the change, for the floor.
     */
    private async steps(
        dir: string,
        stack: string,
        writeChange: () => void,
    ): Promise<{
        steps: Step[];
        before: Map<string, Record<string, any>>;
        after: Map<string, Record<string, any>>;
    }> {
        const steps: Step[] = [];
        const record = (step: string, run: Step) => {
            // Progress on stderr: a 400-VM site takes half an hour.
            const program = run.usage.program;
            console.error(
                `  ${stack}: ${step} ${run.seconds.toFixed(1)} s` +
                    (program
                        ? `, program ${program.peakMiB.toFixed(0)} MiB, ${program.cpuSeconds.toFixed(0)} s CPU`
                        : ""),
            );
            steps.push({ ...run, step });
        };
        const s = ["--stack", stack];
        record("preview", await this.preview(dir, ["preview", ...s]));
        record("up", await this.pulumi(dir, ["up", ...s, "--yes"]));
        record(
            "preview, no change",
            await this.preview(dir, ["preview", ...s, "--expect-no-changes"]),
        );
        const before = this.exportState(dir, stack);
        writeChange();
        record("preview, one node", await this.preview(dir, ["preview", ...s]));
        record("up, one node", await this.pulumi(dir, ["up", ...s, "--yes"]));
        const after = this.exportState(dir, stack);
        record("destroy", await this.pulumi(dir, ["destroy", ...s, "--yes", "--run-program"]));
        await this.pulumi(dir, ["stack", "rm", ...s, "--yes"]);
        return { steps, before, after };
    }

    /** Writes a stack file and initialises the stack, with Rancher's URL and CA. */
    private async initStack(dir: string, stack: string, config: Record<string, unknown>) {
        const file = path.join(dir, stackFilePath(stack));
        writeFileSync(
            file,
            stringify({
                config: {
                    "rancher2:apiUrl": this.rancher.url,
                    "rancher2:caCerts": this.rancher.caCerts,
                    ...config,
                },
            }),
        );
        await this.pulumi(dir, ["stack", "init", stack]);
        return file;
    }

    async run(vms: number): Promise<{ program: Step[]; floor: Step[]; resources: number }> {
        const site = benchSite(vms, false);
        const plan = planStack(site).plan;
        const rancherNames = new Map(plan.clusters.map((c) => [c.name, c.rancherName]));
        const stopPlaying = playHosts(
            this.controlPlane,
            () => syntheticHosts(vms),
            () => true,
            (vmi) =>
                this.rancher.registerNode(
                    rancherNames.get(vmi.metadata.labels[labels.cluster])!,
                    vmi.metadata.labels[labels.node],
                ),
        );
        try {
            const stack = `bench-${vms}`;
            const stackFile = await this.initStack(this.project, stack, lockedStackConfig(site));
            await this.pulumi(
                this.project,
                ["config", "set", "--path", "--secret", "site.kubeconfig", "--stack", stack],
                this.controlPlane.kubeconfig,
            );
            const program = await this.steps(this.project, stack, () => {
                const document = parseDocument(readFileSync(stackFile, "utf8"));
                document.setIn(["config", "edge:clusters", 0, "nodes", 1, "memory"], "6Gi");
                writeFileSync(stackFile, document.toString());
            });

            const floorDir = path.join(this.project, "e2e", "bench", "floor");
            const resourcesFile = path.join(floorDir, "resources.json");
            const floorResources = (
                declared: EvaluatedResource[],
                state: Map<string, Record<string, any>>,
            ): ReplayedResource[] =>
                declared.map((resource) => ({
                    ...resource,
                    inputs: state.get(`${resource.type}::${resource.name}`) ?? {},
                }));
            writeFileSync(
                resourcesFile,
                JSON.stringify(floorResources(evaluate(vms, false), program.before)),
            );
            const floorStack = `floor-${vms}`;
            await this.initStack(floorDir, floorStack, {});
            const floor = await this.steps(floorDir, floorStack, () =>
                writeFileSync(
                    resourcesFile,
                    JSON.stringify(floorResources(evaluate(vms, true), program.after)),
                ),
            );
            return { program: program.steps, floor: floor.steps, resources: program.before.size };
        } finally {
            stopPlaying();
        }
    }
}

/** The program's resources under mocks (types, names, options, dependencies), in a child. */
function evaluate(vms: number, changed: boolean): EvaluatedResource[] {
    const output = execFileSync(
        process.execPath,
        [...process.execArgv, __filename, "--evaluate", String(vms), String(changed)],
        { encoding: "utf8", maxBuffer: 1 << 30 },
    );
    return JSON.parse(output);
}

const roles = ["engine", "language host", "program", "kubernetes", "rancher2", "tls", "command"];

function printTable(vms: number, resources: number, program: Step[], floor: Step[]): void {
    console.log(
        `\n${vms} VMs, ${resources} resources in the state` +
            "\nstep                 program s  floor s  ×floor  res/s   peak MiB (CPU s): " +
            roles.join(", "),
    );
    program.forEach((run, i) => {
        const base = floor[i];
        const usage = (step: Step) =>
            roles
                .map((role) => {
                    const u = step.usage[role];
                    return u ? `${u.peakMiB.toFixed(0)} (${u.cpuSeconds.toFixed(0)})` : "-";
                })
                .join(", ");
        console.log(
            [
                run.step.padEnd(20),
                run.seconds.toFixed(1).padStart(10),
                base.seconds.toFixed(1).padStart(8),
                (run.seconds / base.seconds).toFixed(2).padStart(7),
                (run.resources / run.seconds).toFixed(0).padStart(6),
                `  program ${usage(run)}`,
            ].join(" "),
        );
        console.log(`${"".padEnd(56)}floor   ${usage(base)}`);
    });
}

async function main(argv: string[]): Promise<void> {
    if (argv[0] === "--evaluate") {
        const evaluation = await evaluateProgram(
            lockedStackConfig(benchSite(Number(argv[1]), argv[2] === "true")),
            placeholders,
            { stack: "bench", preview: false },
        );
        process.stdout.write(JSON.stringify(evaluation.resources));
        return;
    }
    const flag = (name: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
    // Listed node by node, a site of more than about 450 VMs has a config the language host cannot
    // pass to the program (languageHostConfigLimit in lib/config).
    const sizeTexts = (flag("--sizes") ?? "200,400").split(",");
    const sizes = sizeTexts.map(Number);
    const problems = sizes.flatMap((vms, i) =>
        !Number.isInteger(vms) || vms <= 0 || vms % syntheticNodesPerCluster !== 0
            ? [
                  `--sizes: "${sizeTexts[i]}" is not a positive multiple of ${syntheticNodesPerCluster} VMs`,
              ]
            : languageHostConfigBytes(lockedStackConfig(benchSite(vms, true))) >
                languageHostConfigLimit
              ? [
                    `--sizes: a site of ${vms} VMs listed node by node is over the language host's limit`,
                ]
              : [],
    );
    if (problems.length > 0) {
        console.error(problems.join("\n"));
        process.exitCode = 2;
        return;
    }
    const profileDir = flag("--profile") && path.resolve(flag("--profile")!);
    const { bench, stop } = await Bench.start(Math.max(...sizes), profileDir);
    bench.parallel = flag("--parallel");
    bench.previewRepeats = Number(flag("--repeats") ?? bench.previewRepeats);
    bench.checkpoints = argv.includes("--checkpoints");
    console.log(
        `--parallel ${bench.parallel ?? "default (4 × GOMAXPROCS)"}, ` +
            (bench.checkpoints ? "a checkpoint after every step" : "PULUMI_SKIP_CHECKPOINTS"),
    );
    try {
        for (const vms of sizes) {
            const { program, floor, resources } = await bench.run(vms);
            printTable(vms, resources, program, floor);
        }
    } finally {
        await stop();
    }
}

main(process.argv.slice(2)).catch((error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
});
