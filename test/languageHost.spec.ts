import * as assert from "assert";
import { readFileSync } from "fs";
import * as path from "path";
import * as ts from "typescript";
import { parse } from "yaml";
import { evaluateProgram, placeholders } from "../offline/evaluate";
import { loadAsLanguageHost } from "../offline/languageHost";
import { projectRoot, stackConfig } from "./mocks";

/** The SDK's reader of a tsconfig's compilerOptions, which the language host's run.js uses. */
const { loadTypeScriptCompilerOptions } = require("@pulumi/pulumi/tsutils") as {
    loadTypeScriptCompilerOptions(path: string): Record<string, unknown>;
};

/** tsconfig.json's module settings, as `tsc --noEmit` in npm test reads them, by name. */
function checkedOptions(): Record<string, string> {
    const parsed = ts.getParsedCommandLineOfConfigFile(
        path.join(projectRoot, "tsconfig.json"),
        {},
        {
            ...ts.sys,
            onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
                throw new Error(String(diagnostic.messageText));
            },
        },
    )!;
    return {
        target: ts.ScriptTarget[parsed.options.target!],
        module: ts.ModuleKind[parsed.options.module!],
        moduleResolution: ts.ModuleResolutionKind[parsed.options.moduleResolution!],
    };
}

describe("the program as Pulumi's Node.js language host loads it", function () {
    this.timeout(60000);

    it("Pulumi.yaml names tsconfig.pulumi.json, which the SDK reads as transpile-only", () => {
        const project = parse(readFileSync(path.join(projectRoot, "Pulumi.yaml"), "utf8"));
        assert.deepStrictEqual(project.runtime, {
            name: "nodejs",
            options: { typescript: true, tsconfig: "tsconfig.pulumi.json" },
        });
        const options = (file: string) =>
            loadTypeScriptCompilerOptions(path.join(projectRoot, file));
        assert.strictEqual(options("tsconfig.pulumi.json").noCheck, true);
        // npm test's tsc still type-checks everything.
        assert.strictEqual(options("tsconfig.json").noCheck, undefined);
        // What the language host does with them (@pulumi/pulumi cmd/run/run.js): a change here
        // in an SDK upgrade would bring type checks back into every pulumi up.
        const run = readFileSync(require.resolve("@pulumi/pulumi/cmd/run/run.js"), "utf8");
        assert.match(run, /const tsConfigPath = process\.env\["PULUMI_NODEJS_TSCONFIG_PATH"\]/);
        assert.match(run, /transpileOnly = compilerOptions\.noCheck;/);
        // ...and the defaults that scripts/languageHost.js repeats, which the file's own options
        // override.
        assert.match(
            run,
            /target: "ES2020",\s+module: useNodeNext \? "nodenext" : "commonjs",\s+moduleResolution: useNodeNext \? "nodenext" : "node",\s+sourceMap: "true",\s+\.\.\.compilerOptions,/,
        );
    });

    for (const [site, count] of [
        ["greece", 21],
        ["france", 72],
    ] as const) {
        it(`loads ${site}'s program through ts-node without type checks, declaring what the offline plan evaluates`, async () => {
            const loaded = loadAsLanguageHost(projectRoot, site);
            assert.strictEqual(loaded.tsconfig, "tsconfig.pulumi.json");
            assert.strictEqual(loaded.transpileOnly, true);
            // Compiled as npm test checks it: the language host's defaults (ES2020, nodenext)
            // give way only to the file's own options.
            assert.deepStrictEqual(loaded.compilerOptions, checkedOptions());
            const evaluation = await evaluateProgram(stackConfig(site), placeholders, {
                stack: site,
                preview: true,
            });
            assert.strictEqual(loaded.resources.length, count);
            assert.deepStrictEqual(
                loaded.resources,
                evaluation.resources.map(({ type, name, inputs }) => ({ type, name, inputs })),
            );
        });
    }
});
