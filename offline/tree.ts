import { readFileSync, readdirSync, statSync } from "fs";
import * as path from "path";

/** Every file below `dir`, by its `/`-separated path relative to it, in name order. */
export function readTree(dir: string): Record<string, string> {
    const files: Record<string, string> = {};
    const visit = (relative: string) => {
        for (const entry of readdirSync(path.join(dir, relative)).sort()) {
            const child = relative ? `${relative}/${entry}` : entry;
            if (statSync(path.join(dir, child)).isDirectory()) {
                visit(child);
            } else {
                files[child] = readFileSync(path.join(dir, child), "utf8");
            }
        }
    };
    visit("");
    return files;
}
