import * as assert from "assert";
import { build } from "esbuild";
import { readFileSync, readdirSync } from "fs";
import * as path from "path";
import * as ts from "typescript";
import { projectRoot } from "./mocks";

/** Every TypeScript file under lib/, relative to the project root, sorted. */
function libFiles(): string[] {
    return (readdirSync(path.join(projectRoot, "lib"), { recursive: true }) as string[])
        .filter((file) => file.endsWith(".ts"))
        .map((file) => path.join("lib", file))
        .sort();
}

/** Globals that Node.js has and a browser does not. */
const nodeGlobals = new Set([
    "Buffer",
    "process",
    "require",
    "module",
    "__dirname",
    "__filename",
    "global",
    "setImmediate",
]);

describe("lib/ runs in a browser as it does in Node.js", () => {
    it("bundles for the browser with no Node.js built-in module", async () => {
        const result = await build({
            absWorkingDir: projectRoot,
            entryPoints: libFiles(),
            bundle: true,
            write: false,
            outdir: "out",
            platform: "browser",
            format: "esm",
            logLevel: "silent",
        }).catch((error: { errors: { text: string }[] }) => error);
        const errors = "errors" in result ? result.errors.map((e) => e.text) : [];
        assert.deepStrictEqual(errors, []);
    });

    it("uses none of Node.js's own globals", () => {
        const uses: string[] = [];
        for (const file of libFiles()) {
            const scanner = ts.createScanner(ts.ScriptTarget.ES2022, true);
            scanner.setText(readFileSync(path.join(projectRoot, file), "utf8"));
            let previous = ts.SyntaxKind.Unknown;
            for (let kind = scanner.scan(); kind !== ts.SyntaxKind.EndOfFileToken;) {
                const name = scanner.getTokenText();
                // A property (`x.process`) is not the global.
                if (
                    kind === ts.SyntaxKind.Identifier &&
                    nodeGlobals.has(name) &&
                    previous !== ts.SyntaxKind.DotToken
                ) {
                    uses.push(`${file}: ${name}`);
                }
                previous = kind;
                kind = scanner.scan();
            }
        }
        assert.deepStrictEqual(uses, []);
    });
});
