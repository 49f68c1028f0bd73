import { buildSync } from "esbuild";
import { existsSync } from "fs";
import * as path from "path";

/** The project folder: where page/app.ts is, whether this runs from its source or from build/. */
function projectRoot(): string {
    for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
        if (existsSync(path.join(dir, "page", "app.ts"))) {
            return dir;
        }
    }
    throw new Error(`page/app.ts not found above ${__dirname}`);
}

let script: string | undefined;

/**
 * The workbench's script: page/app.ts with lib/, yaml, zod and Cytoscape.js bundled for the
 * browser into one IIFE, once per process. esbuild is pinned to one version in package.json, so
 * the same sources give the same bytes. Licence comments are kept at its end.
 */
export function workbenchScript(): string {
    if (script === undefined) {
        const root = projectRoot();
        const result = buildSync({
            absWorkingDir: root,
            entryPoints: [path.join(root, "page", "app.ts")],
            bundle: true,
            write: false,
            platform: "browser",
            format: "iife",
            target: "es2022",
            minify: true,
            charset: "utf8",
            legalComments: "eof",
            logLevel: "silent",
        });
        script = result.outputFiles[0].text;
    }
    return script;
}
