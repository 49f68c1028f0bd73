import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { readFileSync } from "fs";
import * as path from "path";
import { parse } from "yaml";
import { InvalidCase, applyEdits } from "./corpus/edits";
import { editableStackConfig, failingProgram, projectRoot, types } from "./mocks";

const corpus = parse(
    readFileSync(path.join(projectRoot, "test", "corpus", "invalid-configs.yaml"), "utf8"),
) as InvalidCase[];

describe("bad input corpus", () => {
    it("holds at least 40 cases, each expecting at least one problem", () => {
        assert.ok(corpus.length >= 40, `${corpus.length} cases`);
        for (const c of corpus) {
            assert.ok(c.expect.length > 0, c.case);
        }
    });

    for (const c of corpus) {
        it(`rejects ${c.case}, declaring nothing`, async () => {
            const config = applyEdits(editableStackConfig(c.stack), c);
            const { error, resources } = await failingProgram(config, { stack: c.stack });
            assert.ok(error instanceof pulumi.RunError, "a RunError prints without a stack trace");
            const noun = c.expect.length === 1 ? "problem" : "problems";
            assert.strictEqual(
                error.message,
                [
                    `invalid stack config (${c.expect.length} ${noun}):`,
                    ...c.expect.map((line) => `  - ${line}`),
                ].join("\n"),
            );
            assert.deepStrictEqual(
                resources.map((r) => r.type),
                [types.stack],
                "nothing but the root stack is registered",
            );
        });
    }
});
