import * as assert from "assert";
import { execFileSync } from "child_process";
import { readFileSync } from "fs";
import * as path from "path";
import { parse } from "yaml";
import { evaluateProgram, placeholders } from "../offline/evaluate";
import { projectRoot, stackConfig } from "./mocks";

/** The SDK's reader of a tsconfig's compilerOptions, which the language host's run.js uses. */
const { loadTypeScriptCompilerOptions } = require("@pulumi/pulumi/tsutils") as {
    loadTypeScriptCompilerOptions(path: string): Record<string, unknown>;
};

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
    });

    for (const [site, count] of [
        ["greece", 21],
        ["france", 72],
    ] as const) {
        it(`loads ${site}'s program through ts-node without type checks, declaring what the offline plan evaluates`, async () => {
            const env = Object.fromEntries(
                Object.entries(process.env).filter(([key]) => !key.startsWith("TS_NODE_")),
            );
            const loaded = JSON.parse(
                execFileSync(
                    process.execPath,
                    [path.join(projectRoot, "scripts", "languageHost.js"), site],
                    { encoding: "utf8", env },
                ),
            );
            assert.strictEqual(loaded.tsconfig, "tsconfig.pulumi.json");
            assert.strictEqual(loaded.transpileOnly, true);
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
