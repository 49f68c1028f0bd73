import { existsSync, readFileSync, readdirSync } from "fs";
import * as path from "path";
import {
    RawStackConfig,
    LoadedInterconnects,
    StackFile,
    parseStackFile,
    stackFileConfig,
    stackFilePath,
    stackOfFile,
} from "../lib/config";
import { interconnectsFile, interconnectsOf } from "../lib/plan";
import type { WorkbenchFiles } from "../offline/workbench";

/**
 * The project's files as the program, the CLI scripts and the tests read them from disk; lib/
 * reads none itself, so that the topology page runs the same code in a browser.
 */

export function readStackFile(file: string): StackFile {
    return parseStackFile(readFileSync(file, "utf8"), file);
}

/** `dir`'s interconnects.yaml and the stack files of the sites it names, or undefined without one. */
export function loadInterconnects(dir: string): LoadedInterconnects | undefined {
    const file = path.join(dir, interconnectsFile);
    if (!existsSync(file)) {
        return undefined;
    }
    return interconnectsOf(readFileSync(file, "utf8"), (site) => {
        const stackFile = path.join(dir, stackFilePath(site));
        return existsSync(stackFile) ? readFileSync(stackFile, "utf8") : undefined;
    });
}

/** `raw` with the project's interconnects.yaml (and its members' configs) when there is one. */
export function withInterconnects(raw: RawStackConfig, dir: string): RawStackConfig {
    const interconnects = loadInterconnects(dir);
    return interconnects ? { ...raw, interconnects } : raw;
}

/** Every site of the project: the stacks whose `Pulumi.<site>.yaml` is in `dir`, sorted. */
export function projectStacks(dir: string): string[] {
    return readdirSync(dir)
        .map(stackOfFile)
        .filter((stack): stack is string => stack !== undefined)
        .sort();
}

/**
 * What the topology page's workbench edits: every stack file and interconnects.yaml, as text. A
 * stack file with a credential in plain text is refused: the page would carry it.
 */
export function workbenchFiles(dir: string): WorkbenchFiles {
    const interconnects = path.join(dir, interconnectsFile);
    const stacks = projectStacks(dir).map((stack) => {
        const file = stackFilePath(stack);
        const text = readFileSync(path.join(dir, file), "utf8");
        const { plaintextSecrets } = stackFileConfig(parseStackFile(text, file));
        if (plaintextSecrets && plaintextSecrets.length > 0) {
            throw new Error(
                `${file} holds ${plaintextSecrets.join(", ")} in plain text, which the page would carry: store each with pulumi config set --secret, then write the page`,
            );
        }
        return [stack, text];
    });
    return {
        stacks: Object.fromEntries(stacks),
        ...(existsSync(interconnects)
            ? { interconnects: readFileSync(interconnects, "utf8") }
            : {}),
    };
}
