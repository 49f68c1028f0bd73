import {
    existsSync,
    mkdirSync,
    readFileSync,
    readdirSync,
    rmSync,
    statSync,
    writeFileSync,
} from "fs";
import * as path from "path";
import { planStack } from "../lib/plan";
import { ConfigError, formatProblems } from "../lib/problems";
import { readStackFile, stackFileConfig, stackFilePath } from "../lib/stackFile";
import { diffResources, formatDiff, parseRendered } from "../offline/diff";
import { sitePolicyConfig } from "../policy/policies";
import { evaluateProgram, placeholders } from "../offline/evaluate";
import {
    addressSummary,
    planDocument,
    renderFiles,
    renderJson,
    renderSummary,
    renderedEntries,
} from "../offline/render";

const usage =
    "usage: npm run plan -- --stack <name> [--out <dir>] [--json] [--diff <dir>] [--policy-config <file>]";

interface Arguments {
    stack: string;
    out?: string;
    json: boolean;
    diff?: string;
    policyConfig?: string;
}

const valueFlags: Record<string, "stack" | "out" | "diff" | "policyConfig"> = {
    "--stack": "stack",
    "--out": "out",
    "--diff": "diff",
    "--policy-config": "policyConfig",
};

function parseArguments(argv: string[]): Arguments | string {
    const args: Partial<Arguments> = { json: false };
    for (let i = 0; i < argv.length; i++) {
        const flag = argv[i];
        const value = argv[i + 1];
        if (flag === "--json") {
            args.json = true;
        } else if (flag in valueFlags && value) {
            args[valueFlags[flag]] = value;
            i++;
        } else {
            return `unknown or incomplete argument "${flag}"\n${usage}`;
        }
    }
    if (!args.stack || !/^[A-Za-z0-9_.-]+$/.test(args.stack)) {
        return usage;
    }
    return args as Arguments;
}

/** Every file below `dir`, by its path relative to it. */
function readTree(dir: string): Record<string, string> {
    const files: Record<string, string> = {};
    const visit = (relative: string) => {
        for (const entry of readdirSync(path.join(dir, relative)).sort()) {
            const child = path.join(relative, entry);
            if (statSync(path.join(dir, child)).isDirectory()) {
                visit(child);
            } else {
                files[child.split(path.sep).join("/")] = readFileSync(
                    path.join(dir, child),
                    "utf8",
                );
            }
        }
    };
    visit("");
    return files;
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

async function main(argv: string[]): Promise<number> {
    const args = parseArguments(argv);
    if (typeof args === "string") {
        console.error(args);
        return 2;
    }
    const file = stackFilePath(args.stack);
    if (!existsSync(file)) {
        console.error(`${file} not found\n${usage}`);
        return 2;
    }
    const stackFile = readStackFile(file);
    const { config } = stackFile;
    let plan;
    try {
        ({ plan } = planStack(stackFileConfig(stackFile)));
    } catch (error) {
        if (!(error instanceof ConfigError)) {
            throw error;
        }
        if (args.json) {
            process.stdout.write(
                renderJson({ stack: args.stack, errors: error.problems, resources: [] }),
            );
        } else {
            console.log(formatProblems(error.problems));
        }
        return 1;
    }

    const evaluation = await evaluateProgram(config, placeholders, {
        stack: args.stack,
        preview: true,
    });
    const addresses = addressSummary(plan, evaluation.outputs);
    if (args.diff) {
        const before = parseRendered(readTree(args.diff));
        process.stdout.write(formatDiff(diffResources(before, evaluation.resources)));
    } else if (args.json) {
        process.stdout.write(renderJson(planDocument(args.stack, evaluation, addresses)));
    } else {
        process.stdout.write(renderSummary(args.stack, evaluation, addresses, plan.site));
    }
    if (args.policyConfig) {
        writeFileSync(args.policyConfig, renderJson(sitePolicyConfig(plan.site)));
    }
    if (args.out) {
        const files = renderFiles(evaluation, addresses, plan.site);
        writeTree(args.out, files);
        console.error(`wrote ${Object.keys(files).length} files to ${args.out}`);
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
