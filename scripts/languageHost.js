// `node scripts/languageHost.js <stack> [tsconfig]`: loads the program as Pulumi's Node.js
// language host does for `pulumi preview` and `pulumi up`, then evaluates the stack under the
// offline plan's mocks and prints one JSON line: how ts-node ran, the time from start until
// every resource is registered, peak memory, and the resources. The tsconfig defaults to the one
// Pulumi.yaml names. Plain JavaScript, so that nothing but the language host's own ts-node
// registration compiles the program.
"use strict";
const { readFileSync } = require("fs");
const path = require("path");
const { parse } = require("yaml");

const start = process.hrtime.bigint();
const root = path.resolve(__dirname, "..");
// The language host runs the program in its directory.
process.chdir(root);
const [stack, tsconfigArgument] = process.argv.slice(2);
const project = parse(readFileSync("Pulumi.yaml", "utf8"));
const tsconfig = path.resolve(
    tsconfigArgument ?? project.runtime.options.tsconfig ?? "tsconfig.json",
);

// As @pulumi/pulumi cmd/run/run.js registers ts-node when Pulumi.yaml says `typescript: true`:
// the file's own compilerOptions (tsutils.js reads no `extends`), noCheck as transpileOnly.
const { loadTypeScriptCompilerOptions } = require("@pulumi/pulumi/tsutils");
const compilerOptions = loadTypeScriptCompilerOptions(tsconfig);
const transpileOnlyVariable = process.env.PULUMI_NODEJS_TRANSPILE_ONLY;
require("ts-node").register({
    compiler: "typescript",
    transpileOnly: transpileOnlyVariable
        ? transpileOnlyVariable === "true"
        : compilerOptions.noCheck,
    project: tsconfig,
    skipProject: false,
    compilerOptions: {
        target: "ES2020",
        module: "nodenext",
        moduleResolution: "nodenext",
        sourceMap: "true",
        ...compilerOptions,
    },
});
const tsNode = process[Symbol.for("ts-node.register.instance")];
const ts = require("typescript");

const { stackFilePath } = require("../lib/config/stackFile");
const { readStackFile } = require("../runtime/projectFiles");
const { evaluateProgram, placeholders } = require("../offline/evaluate");

evaluateProgram(readStackFile(stackFilePath(stack)).config, placeholders, { stack, preview: true })
    .then((evaluation) => {
        const result = {
            tsconfig: path.relative(root, tsconfig),
            transpileOnly:
                tsNode.options.transpileOnly === true && tsNode.options.typeCheck !== true,
            // What ts-node compiles with, by name: `{ target: "ES2022", ... }`.
            compilerOptions: Object.fromEntries(
                [
                    ["target", ts.ScriptTarget],
                    ["module", ts.ModuleKind],
                    ["moduleResolution", ts.ModuleResolutionKind],
                ].map(([option, names]) => [option, names[tsNode.config.options[option]]]),
            ),
            ms: Math.round(Number(process.hrtime.bigint() - start) / 1e6),
            peakMiB: Math.round(process.resourceUsage().maxRSS / 1024),
            resources: evaluation.resources.map(({ type, name, inputs }) => ({
                type,
                name,
                inputs,
            })),
        };
        console.log(JSON.stringify(result));
    })
    .catch((error) => {
        console.error(error);
        process.exitCode = 1;
    });
