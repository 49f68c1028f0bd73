import * as assert from "assert";
import { execFileSync } from "child_process";
import { mkdtempSync, readFileSync, rmSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { RecordedResource, runProgram, stackConfig } from "../test/mocks";
import { projectRoot, toolsBin } from "./pulumiEnv";

/**
 * Each provider built from source (scripts/e2e-tools.sh) is older code than the npm SDK that
 * asks for it, stamped with the SDK's version. This checks what that stamp promises for what
 * the program uses: every resource and function it calls is in the plugin's schema, every input
 * and output the SDK sends or reads is declared there, and every input the program gives (under
 * the mock runtime, for each site's stack) has the type the schema declares. A renamed or
 * retyped input fails here rather than in a live run.
 */

const packages = ["rancher2", "tls", "command", "kubernetes"] as const;
type Package = (typeof packages)[number];

/**
 * Where a plugin knowingly lacks what its npm SDK can send, and why; anything else is a failure,
 * and the program must send none of these. The source at the pinned commit
 * (terraform-provider-rancher2 a9ff219) predates getCluster's `generate_kube_config`, which
 * @pulumi/rancher2 13.0.0 offers; this plugin refuses it as an unknown key.
 */
const knownDrift = ["rancher2:index/getCluster:getCluster input generateKubeConfig"];

interface Call {
    token: string;
    inputs: Record<string, any>;
}

/** The SDK module of a type token: `rancher2:index/clusterV2:ClusterV2` → clusterV2.js. */
function sdkFile(token: string): string {
    const [pkg, module, name] = token.split(":");
    const parts = module.split("/");
    const dir = parts[0] === "index" ? [] : parts;
    const file =
        parts[0] === "index" && parts[1] ? parts[1] : name[0].toLowerCase() + name.slice(1);
    return path.join(projectRoot, "node_modules", "@pulumi", pkg, ...dir, `${file}.js`);
}

/** What the SDK's class sends as inputs and reads back as outputs. */
function sdkResourceProperties(token: string): { inputs: string[]; outputs: string[] } {
    const source = readFileSync(sdkFile(token), "utf8");
    const keys = (pattern: RegExp) => [...new Set([...source.matchAll(pattern)].map((m) => m[1]))];
    return {
        inputs: keys(/resourceInputs\["(\w+)"\] = args \? args\.\w+/g),
        outputs: keys(/resourceInputs\["(\w+)"\] = (?:state \? state\.\w+|undefined \/\*out\*\/)/g),
    };
}

/** What the SDK's function sends as arguments. */
function sdkFunctionInputs(token: string): string[] {
    const source = readFileSync(sdkFile(token), "utf8");
    const call = source.slice(source.indexOf(`invoke("${token}"`));
    return [...call.slice(0, call.indexOf("}")).matchAll(/"(\w+)": args\.\w+/g)].map((m) => m[1]);
}

/** Where `value` does not fit `spec` (a schema property), as `path: why`. */
function typeProblems(schema: any, spec: any, value: unknown, where: string): string[] {
    if (value === undefined || value === null) {
        return [];
    }
    if (spec.$ref) {
        const ref = decodeURIComponent(spec.$ref);
        if (!ref.startsWith("#/types/")) {
            // pulumi.json#/Any, #/Archive and the like: anything goes.
            return [];
        }
        const type = schema.types[ref.slice("#/types/".length)];
        if (type === undefined) {
            return [`${where}: the schema has no type ${ref}`];
        }
        if (type.type === "string" && type.enum) {
            return type.enum.some((e: any) => e.value === value)
                ? []
                : [`${where}: ${JSON.stringify(value)} is none of ${ref}'s values`];
        }
        return typeProblems(schema, { ...type, $ref: undefined }, value, where);
    }
    switch (spec.type) {
        case "string":
            return typeof value === "string" ? [] : [`${where}: a ${typeof value}, not a string`];
        case "integer":
            return Number.isInteger(value)
                ? []
                : [`${where}: ${JSON.stringify(value)} is not an integer`];
        case "number":
            return typeof value === "number" ? [] : [`${where}: a ${typeof value}, not a number`];
        case "boolean":
            return typeof value === "boolean" ? [] : [`${where}: a ${typeof value}, not a boolean`];
        case "array":
            return Array.isArray(value)
                ? value.flatMap((item, i) =>
                      typeProblems(schema, spec.items, item, `${where}[${i}]`),
                  )
                : [`${where}: not an array`];
        case "object": {
            if (typeof value !== "object" || Array.isArray(value)) {
                return [`${where}: not an object`];
            }
            if (spec.properties) {
                return objectProblems(schema, spec, value as Record<string, unknown>, where);
            }
            return Object.entries(value as Record<string, unknown>).flatMap(([key, item]) =>
                spec.additionalProperties
                    ? typeProblems(schema, spec.additionalProperties, item, `${where}.${key}`)
                    : [],
            );
        }
        default:
            return [];
    }
}

/** Where an object's keys are not the type's properties, or its values not their types. */
function objectProblems(
    schema: any,
    type: { properties?: Record<string, any>; inputProperties?: Record<string, any> },
    value: Record<string, unknown>,
    where: string,
): string[] {
    const properties = type.inputProperties ?? type.properties ?? {};
    return Object.entries(value).flatMap(([key, item]) => {
        if (item === undefined) {
            return [];
        }
        const spec = properties[key];
        return spec === undefined
            ? [`${where}.${key}: not an input the plugin declares`]
            : typeProblems(schema, spec, item, `${where}.${key}`);
    });
}

describe("the built providers' schemas, against the npm SDKs and what the program sends", function () {
    this.timeout(10 * 60 * 1000);
    const schemas = {} as Record<Package, any>;
    const resources: RecordedResource[] = [];
    const calls: Call[] = [];

    before(async function () {
        const bin = toolsBin();
        const home = mkdtempSync(path.join(tmpdir(), "edge-schemas-"));
        try {
            for (const pkg of packages) {
                // The plugin's own GetSchema, through the CLI (pkg/cmd/pulumi/package).
                const text = execFileSync(
                    path.join(bin, "pulumi"),
                    ["package", "get-schema", path.join(bin, `pulumi-resource-${pkg}`)],
                    {
                        encoding: "utf8",
                        maxBuffer: 512 * 1024 * 1024,
                        env: {
                            ...process.env,
                            PULUMI_HOME: home,
                            PULUMI_SKIP_UPDATE_CHECK: "true",
                        },
                        stdio: ["ignore", "pipe", "pipe"],
                    },
                );
                schemas[pkg] = JSON.parse(text);
            }
        } finally {
            rmSync(home, { recursive: true, force: true });
        }
        for (const site of ["greece", "france"]) {
            const recorded = await runProgram(stackConfig(site), { stack: site, calls });
            resources.push(...recorded.resources);
        }
    });

    it("stamps each plugin with the version its npm SDK asks for", () => {
        for (const pkg of packages) {
            const sdk = JSON.parse(
                readFileSync(
                    path.join(projectRoot, "node_modules", "@pulumi", pkg, "package.json"),
                    "utf8",
                ),
            );
            assert.strictEqual(schemas[pkg].version, sdk.pulumi.version, pkg);
        }
    });

    it("declares every resource the program uses, with every input and output its SDK has", () => {
        const problems: string[] = [];
        const used = new Set(
            resources
                .map((r) => r.type)
                .filter((type) => (packages as readonly string[]).includes(type.split(":")[0])),
        );
        assert.ok(used.has("rancher2:index/clusterV2:ClusterV2"), [...used].join(", "));
        for (const token of [...used].sort()) {
            const schema = schemas[token.split(":")[0] as Package];
            const declared = schema.resources[token];
            if (declared === undefined) {
                // Custom resources of CRDs have no schema; every other type must.
                if (
                    !token.startsWith("kubernetes:") ||
                    !/^kubernetes:(\w+\.)+\w+\/\w+:/.test(token)
                ) {
                    problems.push(`${token}: not in the plugin's schema`);
                }
                continue;
            }
            const sdk = sdkResourceProperties(token);
            for (const input of sdk.inputs) {
                if (!(input in (declared.inputProperties ?? {}))) {
                    problems.push(
                        `${token} input ${input}: sent by the SDK, unknown to the plugin`,
                    );
                }
            }
            for (const output of sdk.outputs) {
                if (
                    !(output in (declared.properties ?? {})) &&
                    !(output in (declared.inputProperties ?? {}))
                ) {
                    problems.push(
                        `${token} output ${output}: read by the SDK, not served by the plugin`,
                    );
                }
            }
        }
        assert.deepStrictEqual(problems, []);
    });

    it("accepts every input the program gives, by name and type, with every required one given", () => {
        const problems = resources
            .filter((r) => ["rancher2", "tls", "command"].includes(r.type.split(":")[0]))
            .flatMap((r) => {
                const schema = schemas[r.type.split(":")[0] as Package];
                const declared = schema.resources[r.type];
                const where = `${r.type} ${r.name}`;
                const missing = (declared.requiredInputs ?? [])
                    .filter((key: string) => r.inputs[key] === undefined)
                    .map((key: string) => `${where}.${key}: required, not given`);
                return [...missing, ...objectProblems(schema, declared, r.inputs, where)];
            });
        assert.deepStrictEqual(problems, []);
    });

    it("declares every function the program calls, with the SDK's arguments and the program's", () => {
        const problems: string[] = [];
        const tokens = [...new Set(calls.map((c) => c.token))].sort();
        assert.deepStrictEqual(tokens, [
            "rancher2:index/getCluster:getCluster",
            "rancher2:index/getSetting:getSetting",
        ]);
        for (const token of tokens) {
            const schema = schemas[token.split(":")[0] as Package];
            const declared = schema.functions[token];
            if (declared === undefined) {
                problems.push(`${token}: not in the plugin's schema`);
                continue;
            }
            const inputs = declared.inputs?.properties ?? {};
            for (const input of sdkFunctionInputs(token)) {
                if (!(input in inputs)) {
                    problems.push(`${token} input ${input}`);
                }
            }
        }
        assert.deepStrictEqual(problems, knownDrift);
        const given = calls.flatMap((call) =>
            objectProblems(
                schemas[call.token.split(":")[0] as Package],
                {
                    properties:
                        schemas[call.token.split(":")[0] as Package].functions[call.token].inputs
                            ?.properties ?? {},
                },
                call.inputs,
                call.token,
            ),
        );
        assert.deepStrictEqual([...new Set(given)], []);
        // What the program reads of them.
        const outputs = (token: string) =>
            Object.keys(schemas.rancher2.functions[token].outputs.properties);
        assert.ok(outputs("rancher2:index/getSetting:getSetting").includes("value"));
        assert.ok(outputs("rancher2:index/getCluster:getCluster").includes("caCert"));
    });
});
