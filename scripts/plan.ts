import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "fs";
import * as path from "path";
import { StackPlan, planStack, interconnectsFile, planInterconnects } from "../lib/plan";
import { ConfigError, ProblemList, formatProblems } from "../lib/core";
import { stackFileConfig, stackFilePath } from "../lib/config";
import { diffResources, formatDiff, parseRendered } from "../offline/diff";
import { ExportError, checkDrift, exportedState } from "../offline/drift";
import { LiveStateView, liveStateView, virtualMachineList } from "../offline/liveState";
import { renderExplanation } from "../offline/explain";
import { sitePolicyConfig } from "../policy/policies";
import { evaluateProgram, placeholders } from "../offline/evaluate";
import { WorkbenchInput, renderPage } from "../offline/page";
import { workbenchScript } from "../offline/pageScript";
import { readTree } from "../offline/tree";
import { SiteInput, pageModel } from "../offline/viewModel";
import {
    addressSummary,
    planDocument,
    renderFiles,
    renderJson,
    renderSummary,
    renderedEntries,
} from "../offline/render";
import {
    loadInterconnects,
    projectStacks,
    readStackFile,
    withInterconnects,
    workbenchFiles,
} from "../runtime/projectFiles";

const usage = [
    "usage: npm run plan -- --stack <name> [--out <dir>] [--json] [--diff <dir>] [--policy-config <file>] [--html <file> [--state <dir>]]",
    "       npm run plan -- --stack <name> --explain",
    "       npm run plan -- --stack <name> --check-drift <pulumi stack export file>",
    "       npm run plan -- --all --html <file> [--diff <dir with a folder per site>] [--state <dir>]",
    "       (--state: <dir>/<stack>.json from pulumi stack export, and <dir>/<stack>.vms.json from",
    "        kubectl get virtualmachines -A -o json when read)",
].join("\n");

interface Arguments {
    stack?: string;
    all: boolean;
    out?: string;
    json: boolean;
    diff?: string;
    policyConfig?: string;
    html?: string;
    explain: boolean;
    checkDrift?: string;
    state?: string;
}

const valueFlags: Record<
    string,
    "stack" | "out" | "diff" | "policyConfig" | "html" | "checkDrift" | "state"
> = {
    "--state": "state",
    "--stack": "stack",
    "--out": "out",
    "--diff": "diff",
    "--policy-config": "policyConfig",
    "--html": "html",
    "--check-drift": "checkDrift",
};

function parseArguments(argv: string[]): Arguments | string {
    const args: Arguments = { json: false, all: false, explain: false };
    for (let i = 0; i < argv.length; i++) {
        const flag = argv[i];
        const value = argv[i + 1];
        if (flag === "--json") {
            args.json = true;
        } else if (flag === "--all") {
            args.all = true;
        } else if (flag === "--explain") {
            args.explain = true;
        } else if (flag in valueFlags && value) {
            args[valueFlags[flag]] = value;
            i++;
        } else {
            return `unknown or incomplete argument "${flag}"\n${usage}`;
        }
    }
    const others = [args.out, args.json || undefined, args.policyConfig, args.diff, args.html];
    // The live state is a view of the page.
    if (args.state && !args.html) {
        return usage;
    }
    if (args.all) {
        return args.html && !args.stack && !args.out && !args.json && !args.policyConfig
            ? args
            : usage;
    }
    // Both print a report of their own instead of the plan.
    if ((args.explain || args.checkDrift) && others.some((flag) => flag !== undefined)) {
        return usage;
    }
    if (args.explain && args.checkDrift) {
        return usage;
    }
    if (!args.stack || !/^[A-Za-z0-9_.-]+$/.test(args.stack)) {
        return usage;
    }
    return args;
}

/**
 * `--html`: the topology page of `stacks`, each planned as `--stack` plans it; with `--diff`, each
 * compared with `<diff>` (one site) or `<diff>/<site>` (`--all`), absent folders as empty.
 */
async function writePage(args: Arguments, stacks: string[]): Promise<number> {
    // Both ends of every interconnect, checked against the committed stack files.
    const problems = new ProblemList();
    const loaded = loadInterconnects(".");
    const interconnects =
        loaded && planInterconnects(loaded.raw, loaded.sites, problems, loaded.broken);
    if (!problems.empty) {
        console.error(formatProblems(problems.problems, interconnectsFile));
        return 1;
    }
    const inputs: SiteInput[] = [];
    const states: LiveStateView[] = [];
    for (const stack of stacks) {
        const stackFile = readStackFile(stackFilePath(stack));
        // As the program reads it, so that it finds this plan made (planStack keeps the last).
        const raw = withInterconnects(stackFileConfig(stackFile), ".");
        let plan;
        try {
            ({ plan } = planStack(raw));
        } catch (error) {
            if (error instanceof ConfigError) {
                console.error(`${stack}: ${formatProblems(error.problems)}`);
                return 1;
            }
            throw error;
        }
        const evaluation = await evaluateProgram(stackFile.config, placeholders, {
            stack,
            preview: true,
        });
        const base = args.diff && (args.all ? path.join(args.diff, stack) : args.diff);
        const before = base && existsSync(base) ? parseRendered(readTree(base)) : [];
        inputs.push({
            stack,
            plan,
            raw,
            resources: evaluation.resources,
            outputs: evaluation.outputs,
            ...(args.diff ? { changes: diffResources(before, evaluation.resources) } : {}),
        });
        if (args.state) {
            states.push(readState(args.state, stack, plan, evaluation.resources));
        }
    }
    const model = pageModel(inputs, interconnects);
    writeFileSync(
        args.html!,
        renderPage(args.state ? { ...model, states } : model, workbenchInput()),
    );
    console.error(`wrote ${args.html} (${stacks.join(", ")})`);
    return 0;
}

/** A JSON file's value; an Error naming the file when it is not JSON. */
function readJson(file: string): unknown {
    try {
        return JSON.parse(readFileSync(file, "utf8"));
    } catch (error) {
        throw new Error(`${file} is not JSON: ${(error as Error).message}`);
    }
}

/**
 * `--state <dir>`: the live state of `stack` from `<dir>/<stack>.json` (`pulumi stack export`;
 * none: nothing deployed yet) and `<dir>/<stack>.vms.json` (`kubectl get virtualmachines -A -o
 * json`, when the host cluster was read).
 */
function readState(
    dir: string,
    stack: string,
    plan: StackPlan,
    resources: { type: string; name: string }[],
): LiveStateView {
    const exportFile = path.join(dir, `${stack}.json`);
    const vmsFile = path.join(dir, `${stack}.vms.json`);
    const checked = <T>(file: string, read: () => T): T => {
        try {
            return read();
        } catch (error) {
            throw error instanceof ExportError ? new Error(`${file} ${error.message}`) : error;
        }
    };
    const exported = existsSync(exportFile)
        ? checked(exportFile, () => exportedState(readJson(exportFile)))
        : { resources: [] };
    const vms = existsSync(vmsFile)
        ? checked(vmsFile, () => virtualMachineList(readJson(vmsFile)))
        : undefined;
    return liveStateView(stack, plan, resources, exported, vms);
}

/** The page's workbench holds every site: interconnects join them, so each plans with its peers. */
function workbenchInput(): WorkbenchInput {
    return { files: workbenchFiles("."), script: workbenchScript() };
}

/** Replaces what an earlier `--out` wrote in `dir`, leaving anything else there alone. */
function writeTree(dir: string, files: Record<string, string>): void {
    for (const entry of renderedEntries) {
        rmSync(path.join(dir, entry), { recursive: true, force: true });
    }
    for (const [relative, text] of Object.entries(files)) {
        mkdirSync(path.dirname(path.join(dir, relative)), { recursive: true });
        writeFileSync(path.join(dir, relative), text);
    }
}

/** `--check-drift`: exit 1 when the stack's state differs from the plan, 2 for a bad file. */
function reportDrift(file: string, plan: StackPlan): number {
    let drift: string[];
    try {
        drift = checkDrift(plan, JSON.parse(readFileSync(file, "utf8")));
    } catch (error) {
        if (error instanceof ExportError || error instanceof SyntaxError) {
            console.error(
                `${file} ${error instanceof SyntaxError ? "is not JSON" : error.message}`,
            );
            return 2;
        }
        throw error;
    }
    const vms = plan.clusters.reduce((sum, cluster) => sum + cluster.nodes.length, 0);
    if (drift.length === 0) {
        console.log(`No drift: the ${vms} node VMs in ${file} are as planned.`);
        return 0;
    }
    console.log(`Drift between the plan and ${file} (${drift.length}):`);
    console.log(drift.map((line) => `  ${line}`).join("\n"));
    return 1;
}

async function main(argv: string[]): Promise<number> {
    const args = parseArguments(argv);
    if (typeof args === "string") {
        console.error(args);
        return 2;
    }
    if (args.all) {
        return writePage(args, projectStacks("."));
    }
    const stack = args.stack!;
    const file = stackFilePath(stack);
    if (!existsSync(file)) {
        console.error(`${file} not found\n${usage}`);
        return 2;
    }
    const stackFile = readStackFile(file);
    const { config } = stackFile;
    // As the program reads it, so that it finds this plan made (planStack keeps the last).
    const raw = withInterconnects(stackFileConfig(stackFile), ".");
    let plan;
    try {
        ({ plan } = planStack(raw));
    } catch (error) {
        if (!(error instanceof ConfigError)) {
            throw error;
        }
        if (args.json) {
            process.stdout.write(renderJson({ stack, errors: error.problems, resources: [] }));
        } else {
            console.log(formatProblems(error.problems));
        }
        return 1;
    }
    if (args.explain) {
        process.stdout.write(renderExplanation(stack, plan));
        return 0;
    }
    if (args.checkDrift) {
        return reportDrift(args.checkDrift, plan);
    }

    const evaluation = await evaluateProgram(config, placeholders, { stack, preview: true });
    const addresses = addressSummary(plan, evaluation.outputs);
    const changes = args.diff
        ? diffResources(parseRendered(readTree(args.diff)), evaluation.resources)
        : undefined;
    if (changes) {
        process.stdout.write(formatDiff(changes));
    } else if (args.json) {
        process.stdout.write(renderJson(planDocument(stack, evaluation, addresses)));
    } else {
        process.stdout.write(renderSummary(stack, evaluation, addresses, plan.site));
    }
    if (args.policyConfig) {
        writeFileSync(args.policyConfig, renderJson(sitePolicyConfig(plan.site)));
    }
    if (args.out) {
        const files = renderFiles(evaluation, addresses, plan.site);
        writeTree(args.out, files);
        console.error(`wrote ${Object.keys(files).length} files to ${args.out}`);
    }
    if (args.html) {
        const { resources, outputs } = evaluation;
        const site = { stack, plan, raw, resources, outputs, ...(changes ? { changes } : {}) };
        const model = pageModel([site]);
        const states = args.state ? [readState(args.state, stack, plan, resources)] : undefined;
        writeFileSync(
            args.html,
            renderPage(states ? { ...model, states } : model, workbenchInput()),
        );
        console.error(`wrote ${args.html}`);
    }
    return 0;
}

main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (error) => {
        console.error(error instanceof Error ? error.message : String(error));
        process.exitCode = 2;
    },
);
