import { execFileSync } from "child_process";
import { copyFileSync, mkdirSync, symlinkSync } from "fs";
import * as path from "path";
import { projectRoot } from "./pulumiEnv";

/** What the CLI suite and the engine benchmark share: the project copy and the CLI's summary. */

/** The tracked files of this checkout, copied, with its node_modules linked. */
export function copyProject(to: string): void {
    const files = execFileSync("git", ["ls-files", "-z"], { cwd: projectRoot, encoding: "utf8" })
        .split("\0")
        .filter((file) => file !== "");
    for (const file of files) {
        mkdirSync(path.dirname(path.join(to, file)), { recursive: true });
        copyFileSync(path.join(projectRoot, file), path.join(to, file));
    }
    symlinkSync(path.join(projectRoot, "node_modules"), path.join(to, "node_modules"));
}

/** The `Resources:` summary of a CLI run: `{ created: 22 }`, `{ unchanged: 22 }`. */
export function resourceSummary(output: string): Record<string, number> {
    const block = output.slice(output.lastIndexOf("Resources:"));
    const summary: Record<string, number> = {};
    for (const [, count, what] of block.matchAll(/^\s+[+~\-]?\s*(\d+) (\w+)/gm)) {
        summary[what] = Number(count);
    }
    return summary;
}
