import { execFileSync } from "child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { planStack } from "../lib/plan";
import { withCappedStackTraces } from "../lib/stackTraces";
import { evaluateProgram, installMocks, placeholders } from "../offline/evaluate";
import { addressSummary, renderFiles, renderSummary } from "../offline/render";
import { syntheticStack } from "../offline/synthetic";

/**
 * `npm run bench`: the work of `npm run plan -- --out` (planning, evaluating the program under
 * mocks, rendering) for synthetic sites of 100 to 1,000 VMs, each in a fresh process, against the
 * SDK's floor: the same resources replayed through the mock runtime with no program logic, in
 * another fresh process. Figures, not assertions.
 */

const nodesPerCluster = 5;
const sizes = [100, 200, 500, 1000];

const milliseconds = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;
const peakRssMiB = () => process.resourceUsage().maxRSS / 1024;

function syntheticSite(vms: number) {
    const clusters = Array.from({ length: vms / nodesPerCluster }, (_, i) => ({
        name: `c${i}`,
        nodes: nodesPerCluster,
    }));
    return syntheticStack(clusters);
}

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
    let start = process.hrtime.bigint();
    const raw = syntheticSite(vms);
    const { plan } = planStack(raw);
    const planMs = milliseconds(start);
    start = process.hrtime.bigint();
    const evaluation = await evaluateProgram(
        {
            "edge:site": raw.site,
            "edge:images": raw.images,
            "edge:clusters": raw.clusters,
            "edge:allocations": plan.allocations,
        },
        placeholders,
        { stack: "bench", preview: true },
    );
    const programMs = milliseconds(start);
    start = process.hrtime.bigint();
    const addresses = addressSummary(plan, evaluation.outputs);
    const files = renderFiles(evaluation, addresses, plan.site);
    renderSummary("bench", evaluation, addresses, plan.site);
    const renderMs = milliseconds(start);
    writeFileSync(
        resourcesFile,
        JSON.stringify(
            evaluation.resources.map(({ type, name, inputs }) => ({ type, name, inputs })),
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

/** The SDK's floor: the same resources and inputs, registered with no logic in between. */
async function measureFloor(resourcesFile: string): Promise<{ floorMs: number; peakMiB: number }> {
    const resources: { type: string; name: string; inputs: Record<string, unknown> }[] = JSON.parse(
        readFileSync(resourcesFile, "utf8"),
    );
    await installMocks({}, placeholders, { stack: "bench", preview: true });
    class Replayed extends pulumi.CustomResource {}
    const start = process.hrtime.bigint();
    await pulumi.runtime.runInPulumiStack(async () => {
        // Under the same conditions as the program (see lib/stackTraces.ts).
        withCappedStackTraces(() => {
            for (const { type, name, inputs } of resources) {
                new Replayed(type, name, inputs);
            }
        });
    });
    return { floorMs: milliseconds(start), peakMiB: peakRssMiB() };
}

/** Runs this script again in a fresh process for one measurement, and returns its figures. */
function child<T>(...args: string[]): T {
    const output = execFileSync(process.execPath, [__filename, ...args], { encoding: "utf8" });
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
    const work = mkdtempSync(path.join(tmpdir(), "edge-bench-"));
    try {
        console.log(
            "VMs   resources  plan ms  program ms  floor ms  ×floor  render ms  wall s  peak MiB  ms/VM",
        );
        for (const vms of sizes) {
            const resourcesFile = path.join(work, `resources-${vms}.json`);
            const start = process.hrtime.bigint();
            const program = child<ProgramFigures>("--program", String(vms), resourcesFile);
            const wall = milliseconds(start);
            const { floorMs } = child<{ floorMs: number }>("--floor", resourcesFile);
            const cells = [
                String(vms).padEnd(6),
                String(program.resources).padStart(9),
                program.planMs.toFixed(0).padStart(8),
                program.programMs.toFixed(0).padStart(11),
                floorMs.toFixed(0).padStart(9),
                (program.programMs / floorMs).toFixed(2).padStart(7),
                program.renderMs.toFixed(0).padStart(10),
                (wall / 1000).toFixed(1).padStart(7),
                program.peakMiB.toFixed(0).padStart(9),
                (wall / vms).toFixed(1).padStart(6),
            ];
            console.log(cells.join(" "));
        }
    } finally {
        rmSync(work, { recursive: true, force: true });
    }
}

main(process.argv.slice(2)).catch((error) => {
    console.error(error);
    process.exitCode = 1;
});
