import { writeFileSync } from "fs";
import { planStack } from "../lib/plan";
import { ConfigError } from "../lib/core";
import { stackFileConfig, stackFilePath, withAllocations } from "../lib/config";
import { readStackFile } from "../runtime/projectFiles";

function stackArgument(argv: string[]): { name: string } | { error: string } {
    const index = argv.indexOf("--stack");
    const name = index >= 0 ? argv[index + 1] : undefined;
    if (name === undefined || !/^[A-Za-z0-9_.-]+$/.test(name)) {
        return { error: "usage: npm run lock -- --stack <name> (reads Pulumi.<name>.yaml)" };
    }
    return { name };
}

/**
 * `npm run lock -- --stack <name>`: records the stack's pod/service CIDRs and node IPs in
 * `edge:allocations` of its stack file, so that later edits never move them.
 */
function main(argv: string[]): number {
    const stack = stackArgument(argv);
    if ("error" in stack) {
        console.error(stack.error);
        return 2;
    }
    const path = stackFilePath(stack.name);
    const file = readStackFile(path);
    const { plan } = planStack(stackFileConfig(file));
    if (plan.lockChanges.length === 0) {
        console.log(`${path}: edge:allocations is current`);
        return 0;
    }
    writeFileSync(path, withAllocations(file.document, plan.allocations));
    console.log(`${path}: edge:allocations updated`);
    for (const change of plan.lockChanges) {
        console.log(`  ${change}`);
    }
    return 0;
}

try {
    process.exitCode = main(process.argv.slice(2));
} catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = error instanceof ConfigError ? 1 : 2;
}
