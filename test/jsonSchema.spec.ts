import * as assert from "assert";
import Ajv2020, { ErrorObject } from "ajv/dist/2020";
import { readFileSync, readdirSync } from "fs";
import * as path from "path";
import { parse } from "yaml";
import { configKeys } from "../lib/config";
import { stackJsonSchema, stackJsonSchemaText, stackSchemaPath } from "../lib/config/jsonSchema";
import { configReference, referenceEnd, referenceStart } from "../lib/config/reference";
import { credentialPaths } from "../lib/config/stackFile";
import { InvalidCase, applyEdits } from "./corpus/edits";
import { projectRoot } from "./mocks";

const committedSchema = readFileSync(path.join(projectRoot, stackSchemaPath), "utf8");
const validate = new Ajv2020({ allErrors: true }).compile(JSON.parse(committedSchema));
/** Every stack file of the project, so that a new site's is checked too. */
const stacks = readdirSync(projectRoot)
    .map((file) => /^Pulumi\.(.+)\.yaml$/.exec(file)?.[1])
    .filter((stack): stack is string => stack !== undefined);

function stackFile(stack: string): { text: string; document: Record<string, unknown> } {
    const text = readFileSync(path.join(projectRoot, `Pulumi.${stack}.yaml`), "utf8");
    return { text, document: parse(text) };
}

/** What ajv finds wrong with a stack file, as `instancePath keyword` lines. */
function schemaErrors(document: unknown): string[] {
    return validate(document)
        ? []
        : (validate.errors ?? []).map(
              (e: ErrorObject) =>
                  `${e.instancePath} ${e.keyword}${e.keyword === "additionalProperties" ? ` ${e.params.additionalProperty}` : ""}`,
          );
}

/** A stack file with `edits` applied to its `config:` map, as in the bad-input corpus. */
function edited(stack: string, edits: Omit<InvalidCase, "case" | "stack" | "expect">) {
    const { document } = stackFile(stack);
    const config = applyEdits(document.config as Record<string, unknown>, {
        case: "",
        stack,
        expect: [],
        ...edits,
    });
    return { ...document, config };
}

describe("the stack file's JSON Schema for editors", () => {
    it(`is current in ${stackSchemaPath} (regenerate with npm run schema)`, () => {
        assert.strictEqual(committedSchema, stackJsonSchemaText());
    });

    it("is current in the docs' config reference (regenerate with npm run schema)", () => {
        const readme = readFileSync(path.join(projectRoot, "docs/config-reference.md"), "utf8");
        const start = readme.indexOf(referenceStart);
        const end = readme.indexOf(referenceEnd) + referenceEnd.length;
        assert.strictEqual(readme.slice(start, end), configReference(stackJsonSchema()));
    });

    it("is named on the first line of every stack file", () => {
        assert.deepStrictEqual([...stacks].sort(), ["france", "greece"]);
        for (const stack of stacks) {
            assert.strictEqual(
                stackFile(stack).text.split("\n")[0],
                `# yaml-language-server: $schema=./${stackSchemaPath}`,
            );
        }
    });

    it("accepts every stack file", () => {
        for (const stack of stacks) {
            assert.deepStrictEqual(schemaErrors(stackFile(stack).document), [], stack);
        }
    });

    it("knows exactly the edge: keys the program reads", () => {
        const config = (stackJsonSchema().properties as Record<string, any>).config;
        assert.deepStrictEqual(
            Object.keys(config.properties).filter((key) => key.startsWith("edge:")),
            configKeys.map((key) => `edge:${key}`),
        );
    });

    it("takes every credential only as {secure: ...}", () => {
        for (const credential of credentialPaths) {
            const plain = edited("greece", { set: { [credential.join(".")]: "s3cr3t" } });
            const [key, ...rest] = credential;
            const at = ["", "config", key, ...rest].join("/");
            assert.deepStrictEqual(schemaErrors(plain), [`${at} type`], credential.join("."));
            const encrypted = edited("greece", {
                set: { [credential.join(".")]: { secure: "v1:AAAA" } },
            });
            assert.deepStrictEqual(schemaErrors(encrypted), [], credential.join("."));
        }
    });

    it("takes what the program takes: provider flags as strings, a key with a newline", () => {
        const accepted = edited("greece", {
            set: {
                "rancher2:insecure": "true",
                "rancher2:retries": "3",
                "rancher2:accessKey": { secure: "v1:AAAA" },
                "edge:site.sshAuthorizedKeys[0]":
                    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINsL/4OAxrJsNjLyutJehSkC65kVE4R357h3S360fiKd ops@example\n",
            },
        });
        assert.deepStrictEqual(schemaErrors(accepted), []);
    });

    const invalid: {
        what: string;
        edits: Omit<InvalidCase, "case" | "stack" | "expect">;
        expect: string[];
    }[] = [
        {
            what: "a misspelt node field",
            edits: { set: { "edge:clusters[0].nodes[0].memmory": "4Gi" } },
            expect: ["/config/edge:clusters/0/nodes/0 additionalProperties memmory"],
        },
        {
            what: "a misspelt edge: key",
            edits: { set: { "edge:cluster": [] } },
            expect: ["/config additionalProperties edge:cluster"],
        },
        {
            what: "a misspelt rancher2: key",
            edits: { set: { "rancher2:apiURL": "https://rancher.example.org" } },
            expect: ["/config additionalProperties rancher2:apiURL"],
        },
        {
            what: "a VLAN out of range",
            edits: { set: { "edge:site.networks[0].vlan": 9999 } },
            expect: ["/config/edge:site/networks/0/vlan maximum"],
        },
        {
            what: "an unknown cluster type",
            edits: { set: { "edge:clusters[0].type": "microk8s" } },
            expect: ["/config/edge:clusters/0/type enum"],
        },
        {
            what: "memory without a unit",
            edits: { set: { "edge:clusters[0].nodes[0].memory": 4 } },
            expect: ["/config/edge:clusters/0/nodes/0/memory type"],
        },
        {
            what: "a host selector value YAML reads as a boolean",
            edits: { set: { "edge:clusters[0].nodes[0].hostSelector": { "slices-gr": true } } },
            expect: ["/config/edge:clusters/0/nodes/0/hostSelector/slices-gr type"],
        },
        {
            what: "a missing required field",
            edits: { unset: ["edge:clusters[0].nodes[1].disk"] },
            expect: ["/config/edge:clusters/0/nodes/1 required"],
        },
        {
            what: "the pod network's name for a site network",
            edits: { set: { "edge:site.networks[0].name": "pod" } },
            expect: ["/config/edge:site/networks/0/name not"],
        },
        {
            what: "more DNS servers than KubeVirt takes",
            edits: {
                set: {
                    "edge:site.dnsServers": ["172.28.2.89", "172.28.2.90", "1.1.1.1", "9.9.9.9"],
                },
            },
            expect: ["/config/edge:site/dnsServers maxItems"],
        },
        {
            what: "a private key among the authorized keys",
            edits: {
                set: {
                    "edge:site.sshAuthorizedKeys[0]":
                        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n-----END OPENSSH PRIVATE KEY-----",
                },
            },
            expect: ["/config/edge:site/sshAuthorizedKeys/0 pattern"],
        },
        {
            what: "an image URL with credentials",
            edits: {
                set: {
                    "edge:images.ubuntu-focal.url": "https://ops:hunter2@images.example.org/a.img",
                },
            },
            // The entry is a map, so the URL-only form reports its type as well.
            expect: [
                "/config/edge:images/ubuntu-focal type",
                "/config/edge:images/ubuntu-focal/url pattern",
            ],
        },
        {
            what: "an IP that is not an address",
            edits: { set: { "edge:clusters[0].nodes[0].networks[0].ip": "192.168.18.300" } },
            // The entry is a map, so the name-only form reports its type as well.
            expect: [
                "/config/edge:clusters/0/nodes/0/networks/0 type",
                "/config/edge:clusters/0/nodes/0/networks/0/ip pattern",
            ],
        },
    ];
    for (const c of invalid) {
        it(`rejects ${c.what}`, () => {
            const errors = schemaErrors(edited("greece", c.edits));
            // ajv closes the errors of a `name | map` field with one saying neither form fits.
            assert.deepStrictEqual(
                errors.filter((e) => !e.endsWith(" anyOf")),
                c.expect,
            );
        });
    }
});
