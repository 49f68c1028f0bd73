import { execFileSync } from "child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { planStack } from "../lib/plan";
import { rawStackConfig } from "../lib/config";
import { withCappedStackTraces } from "../runtime/stackTraces";
import { evaluateProgram, installMocks, placeholders } from "../offline/evaluate";
import { loadAsLanguageHost } from "../offline/languageHost";
import { addressSummary, renderFiles, renderSummary } from "../offline/render";
import { ReplayedResource, replayDeclared } from "../offline/replay";
import { lockedStackConfig, syntheticSite } from "../offline/synthetic";
import { withInterconnects } from "../runtime/projectFiles";

/**
 * `npm run bench`: the work of `npm run plan -- --out` on a locked stack file (planning,
 * evaluating the program under mocks, rendering) for synthetic sites of 100 to 1,000 VMs, each in a fresh process, against two
 * floors, each in another fresh process, replaying the resources the program registered through
 * the mock runtime with no program logic (no planning, no applies, inputs as plain values):
 * - bare: each as a generic CustomResource with its type, name and inputs, and no options;
 * - declared: each with its own SDK class (whose output properties cost promises of their own)
 *   and the options the program gave it: parent, provider, dependsOn, replaceOnChanges,
 *   deleteBeforeReplace, replaceWith, protect and its removal hook.
 * Then greece's program as the Node.js language host loads it for `pulumi preview`, with and
 * without ts-node's type checks. Each figure is the median of three runs. Figures, not assertions.
 */

const sizes = [100, 200, 500, 1000];
const repeats = 3;

const milliseconds = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;
const peakRssMiB = () => process.resourceUsage().maxRSS / 1024;

interface ProgramFigures {
    planMs: number;
    programMs: number;
    renderMs: number;
    resources: number;
    files: number;
    peakMiB: number;
}

/** One site's offline plan; writes the registered resources to `resourcesFile` for the floor. */
async function measureProgram(vms: number, resourcesFile: string): Promise<ProgramFigures> {
    // A committed stack file records its allocations (`npm run lock`), so lock the site first.
    const synthetic = syntheticSite(vms);
    const config = lockedStackConfig(synthetic);
    // Then as `npm run plan`: plan the stack file, then evaluate the program, which finds that
    // plan made already (planStack keeps the last one).
    let start = process.hrtime.bigint();
    const { plan } = planStack(withInterconnects(rawStackConfig(config), "."));
    const planMs = milliseconds(start);
    start = process.hrtime.bigint();
    const evaluation = await evaluateProgram(config, placeholders, {
        stack: "bench",
        preview: true,
    });
    const programMs = milliseconds(start);
    start = process.hrtime.bigint();
    const addresses = addressSummary(plan, evaluation.outputs);
    const files = renderFiles(evaluation, addresses, plan.site);
    renderSummary("bench", evaluation, addresses, plan.site);
    const renderMs = milliseconds(start);
    writeFileSync(
        resourcesFile,
        JSON.stringify(
            evaluation.resources.map(({ type, name, inputs, options }) => ({
                type,
                name,
                inputs,
                options,
            })),
        ),
    );
    return {
        planMs,
        programMs,
        renderMs,
        resources: evaluation.resources.length,
        files: Object.keys(files).length,
        peakMiB: peakRssMiB(),
    };
}

/**
 * Declares resources in a root stack and waits until every registration is done, under the
 * program's conditions in evaluateProgram (stack traces capped throughout).
 */
function replay(declare: () => void): Promise<void> {
    return withCappedStackTraces(async () => {
        await pulumi.runtime.runInPulumiStack(async () => declare());
        await pulumi.runtime.disconnect();
    });
}

/** The SDK's bare floor: the same resources and inputs, registered with no logic in between. */
async function measureFloor(resourcesFile: string): Promise<{ floorMs: number; peakMiB: number }> {
    const resources: ReplayedResource[] = JSON.parse(readFileSync(resourcesFile, "utf8"));
    await installMocks({}, placeholders, { stack: "bench", preview: true });
    class Replayed extends pulumi.CustomResource {}
    const start = process.hrtime.bigint();
    await replay(() => {
        for (const { type, name, inputs } of resources) {
            new Replayed(type, name, inputs);
        }
    });
    return { floorMs: milliseconds(start), peakMiB: peakRssMiB() };
}

/**
 * The SDK's declared floor: each resource with its own class and the options the program gave
 * it, dependencies first; inputs plain, hooks doing nothing.
 */
async function measureDeclaredFloor(
    resourcesFile: string,
): Promise<{ floorMs: number; peakMiB: number }> {
    const resources: ReplayedResource[] = JSON.parse(readFileSync(resourcesFile, "utf8"));
    await installMocks({}, placeholders, { stack: "bench", preview: true });
    const start = process.hrtime.bigint();
    await replay(() => {
        const hook = new pulumi.ResourceHook("replayed-removal", () => {});
        replayDeclared(resources, { hook: () => hook });
    });
    return { floorMs: milliseconds(start), peakMiB: peakRssMiB() };
}

/** The median of one figure over several runs. */
function medianOf<T>(runs: T[], figure: (run: T) => number): number {
    return runs.map(figure).sort((a, b) => a - b)[Math.floor(runs.length / 2)];
}

/** Runs this script again in a fresh process for one measurement, and returns its figures. */
function child<T>(...args: string[]): T {
    // With this process's V8 flags (package.json), so that program and floors run alike.
    const output = execFileSync(process.execPath, [...process.execArgv, __filename, ...args], {
        encoding: "utf8",
    });
    return JSON.parse(output.trim().split("\n").pop()!) as T;
}

async function main(argv: string[]): Promise<void> {
    if (argv[0] === "--program") {
        console.log(JSON.stringify(await measureProgram(Number(argv[1]), argv[2])));
        return;
    }
    if (argv[0] === "--floor") {
        console.log(JSON.stringify(await measureFloor(argv[1])));
        return;
    }
    if (argv[0] === "--declared-floor") {
        console.log(JSON.stringify(await measureDeclaredFloor(argv[1])));
        return;
    }
    const work = mkdtempSync(path.join(tmpdir(), "edge-bench-"));
    try {
        console.log(
            "VMs   resources  plan ms  program ms  floor ms  ×floor  declared ms  ×declared  render ms  wall s  peak MiB  declared peak MiB  ms/VM",
        );
        for (const vms of sizes) {
            const resourcesFile = path.join(work, `resources-${vms}.json`);
            // Each measurement several times, interleaved, each figure the median of its runs:
            // two cores share this machine with whatever else runs.
            const runs = Array.from({ length: repeats }, () => {
                const start = process.hrtime.bigint();
                const program = child<ProgramFigures>("--program", String(vms), resourcesFile);
                const wall = milliseconds(start);
                const floor = child<{ floorMs: number }>("--floor", resourcesFile);
                const declared = child<{ floorMs: number; peakMiB: number }>(
                    "--declared-floor",
                    resourcesFile,
                );
                return {
                    ...program,
                    wall,
                    floorMs: floor.floorMs,
                    declaredMs: declared.floorMs,
                    declaredPeakMiB: declared.peakMiB,
                };
            });
            const median = (figure: (run: (typeof runs)[number]) => number) =>
                medianOf(runs, figure);
            const program = {
                resources: runs[0].resources,
                planMs: median((r) => r.planMs),
                programMs: median((r) => r.programMs),
                renderMs: median((r) => r.renderMs),
                peakMiB: median((r) => r.peakMiB),
            };
            const wall = median((r) => r.wall);
            const floorMs = median((r) => r.floorMs);
            const declared = {
                floorMs: median((r) => r.declaredMs),
                peakMiB: median((r) => r.declaredPeakMiB),
            };
            const cells = [
                String(vms).padEnd(6),
                String(program.resources).padStart(9),
                program.planMs.toFixed(0).padStart(8),
                program.programMs.toFixed(0).padStart(11),
                floorMs.toFixed(0).padStart(9),
                (program.programMs / floorMs).toFixed(2).padStart(7),
                declared.floorMs.toFixed(0).padStart(12),
                (program.programMs / declared.floorMs).toFixed(2).padStart(10),
                program.renderMs.toFixed(0).padStart(10),
                (wall / 1000).toFixed(1).padStart(7),
                program.peakMiB.toFixed(0).padStart(9),
                declared.peakMiB.toFixed(0).padStart(18),
                (wall / vms).toFixed(1).padStart(6),
            ];
            console.log(cells.join(" "));
        }
    } finally {
        rmSync(work, { recursive: true, force: true });
    }
    measureLanguageHost();
}

/**
 * Greece's program as the Node.js language host loads it for `pulumi preview` (ts-node, see
 * scripts/languageHost.js), with ts-node's type checks (tsconfig.json) and as Pulumi.yaml
 * configures it (transpile-only): time until every resource is registered, and peak memory.
 */
function measureLanguageHost(): void {
    console.log("\ngreece as the language host loads it   ts-node          ms  peak MiB");
    for (const tsconfig of ["tsconfig.json", "tsconfig.pulumi.json"]) {
        const runs = Array.from({ length: repeats }, () =>
            loadAsLanguageHost(process.cwd(), "greece", tsconfig),
        );
        const cells = [
            tsconfig.padEnd(37),
            (runs[0].transpileOnly ? "transpile-only" : "type-checked").padEnd(14),
            String(medianOf(runs, (r) => r.ms)).padStart(6),
            String(medianOf(runs, (r) => r.peakMiB)).padStart(9),
        ];
        console.log(cells.join(" "));
    }
}

main(process.argv.slice(2)).catch((error) => {
    console.error(error);
    process.exitCode = 1;
});
