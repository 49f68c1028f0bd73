import * as assert from "assert";
import { readFileSync } from "fs";
import * as path from "path";
import { Diagnostic, YamlLanguageServer } from "./languageServer";
import { projectRoot } from "./mocks";

function stackText(stack: string): string {
    return readFileSync(path.join(projectRoot, `Pulumi.${stack}.yaml`), "utf8");
}

/** Diagnostics as `line: message`, lines counted from 1 as editors show them. */
function shown(diagnostics: Diagnostic[]): string[] {
    return diagnostics.map((d) => `${d.range.start.line + 1}: ${d.message}`);
}

function lineOf(text: string, fragment: string): number {
    return text.split("\n").findIndex((line) => line.includes(fragment)) + 1;
}

describe("an editor running yaml-language-server on a stack file", function () {
    this.timeout(60000);
    const server = new YamlLanguageServer();
    before(() => server.start());
    after(() => server.stop());

    for (const stack of ["greece", "france"]) {
        it(`finds nothing wrong with Pulumi.${stack}.yaml`, async () => {
            assert.deepStrictEqual(
                shown(await server.diagnostics(`Pulumi.${stack}.yaml`, stackText(stack))),
                [],
            );
        });
    }

    it("flags a misspelt field where it is written, through the schema on the first line", async () => {
        const text = stackText("greece").replace("memory: 4Gi", "memmory: 4Gi");
        assert.deepStrictEqual(shown(await server.diagnostics("Pulumi.typo.yaml", text)), [
            `${lineOf(text, "- name: cluster-master")}: Missing property "memory".`,
            `${lineOf(text, "memmory")}: Property memmory is not allowed.`,
        ]);
    });

    it("flags a Rancher token in plain text", async () => {
        const text = stackText("greece").replace(
            "  rancher2:apiUrl: https://rancher.example.org\n",
            "  rancher2:apiUrl: https://rancher.example.org\n  rancher2:tokenKey: token-abcde:0123\n",
        );
        assert.deepStrictEqual(shown(await server.diagnostics("Pulumi.token.yaml", text)), [
            `${lineOf(text, "rancher2:tokenKey")}: Incorrect type. Expected "an encrypted value: pulumi config set --secret".`,
        ]);
    });

    it("shows a field's description on hover", async () => {
        const text = stackText("greece");
        await server.diagnostics("Pulumi.hover.yaml", text);
        const line = lineOf(text, "cpu: 6") - 1;
        const character = text.split("\n")[line].indexOf("cpu") + 1;
        assert.match(await server.hover("Pulumi.hover.yaml", line, character), /Virtual CPU cores/);
    });
});
