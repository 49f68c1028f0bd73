import { existsSync, readFileSync } from "fs";
import * as path from "path";
import { RawStackConfig, LoadedInterconnects } from "../lib/config/types";
import { interconnectsFile, interconnectsOf } from "../lib/interconnect";
import { StackFile, parseStackFile, stackFilePath } from "../lib/stackFile";

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
