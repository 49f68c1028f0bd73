import * as assert from "assert";
import { spawnSync } from "child_process";
import { readFileSync } from "fs";
import * as path from "path";
import { stringify } from "yaml";
import { languageHostConfigLimit } from "../lib/config";
import { planStack } from "../lib/plan/stackPlan";
import { lockedStackConfig, syntheticSite } from "../offline/synthetic";
import {
    languageHostConfigBytes,
    parseStackFile,
    rawStackConfig,
    secretPlaceholder,
    stackFileConfig,
    withAllocations,
} from "../lib/config/stackFile";
import { problemsOf } from "./fixtures";
import { projectRoot } from "./mocks";

describe("stack files", () => {
    it("the committed stack files are exactly what `npm run lock` writes", () => {
        for (const stack of ["greece", "france"]) {
            const file = path.join(projectRoot, `Pulumi.${stack}.yaml`);
            const text = readFileSync(file, "utf8");
            const parsed = parseStackFile(text, file);
            const { plan } = planStack(rawStackConfig(parsed.config));
            assert.strictEqual(withAllocations(parsed.document, plan.allocations), text, stack);
        }
    });

    it("records allocations under a comment, keeping the operator's comments and order", () => {
        const text = [
            "# site notes",
            "config:",
            "  rancher2:apiUrl: https://rancher.example.org # the central Rancher",
            "  edge:clusters: [] # none yet",
            "",
        ].join("\n");
        const written = withAllocations(parseStackFile(text, "x").document, {
            a: {
                type: "k3s",
                podCidr: "10.64.0.0/16",
                serviceCidr: "10.65.0.0/16",
                nodes: { n: { lab: "10.0.0.5" } },
                etcd: {
                    n: "namespace=a image=edge-images/focal size=10Gi storageClass=x roles=etcd",
                },
            },
        });
        assert.strictEqual(
            written,
            [
                "# site notes",
                "config:",
                "  rancher2:apiUrl: https://rancher.example.org # the central Rancher",
                "  edge:clusters: [] # none yet",
                "  # Written by `npm run lock`: the addresses handed out so far and the hosts intents' nodes",
                "  # were placed on, kept when the config changes, and each cluster's etcd members, against",
                "  # which the next change is checked for quorum. Commit it with the config. Delete an entry",
                "  # to let that cluster or node be re-addressed or placed anew.",
                "  edge:allocations:",
                "    a:",
                "      type: k3s",
                "      podCidr: 10.64.0.0/16",
                "      serviceCidr: 10.65.0.0/16",
                "      nodes:",
                "        n:",
                "          lab: 10.0.0.5",
                "      etcd:",
                "        n: namespace=a image=edge-images/focal size=10Gi storageClass=x roles=etcd",
                "",
            ].join("\n"),
        );
        assert.strictEqual(withAllocations(parseStackFile(written, "x").document, {}), text);
    });

    it("reads encrypted values as placeholders, never as config", () => {
        const text =
            "config:\n  edge:site:\n    kubeconfig:\n      secure: v1:abcdef\n  edge:sshPrivateKey:\n    secure: v1:123\n";
        const { config } = parseStackFile(text, "x");
        assert.deepStrictEqual(config["edge:site"], { kubeconfig: secretPlaceholder });
        assert.strictEqual(rawStackConfig(config).hasSshPrivateKey, true);
    });

    it("refuses credentials stored in plain text, naming the command that encrypts them", () => {
        const text = [
            "config:",
            "  rancher2:tokenKey: token-abcde:0123456789",
            "  rancher2:secretKey: 0123456789",
            "  edge:sshPrivateKey: not-encrypted",
            "  edge:site:",
            "    kubeconfig: apiVersion v1",
            "",
        ].join("\n");
        const problems = problemsOf(stackFileConfig(parseStackFile(text, "x")));
        assert.deepStrictEqual(problems.slice(0, 4), [
            "rancher2:tokenKey: holds a credential in plain text; store it encrypted: pulumi config set --secret rancher2:tokenKey",
            "rancher2:secretKey: holds a credential in plain text; store it encrypted: pulumi config set --secret rancher2:secretKey",
            "edge:sshPrivateKey: holds a credential in plain text; store it encrypted: pulumi config set --secret edge:sshPrivateKey",
            "edge:site.kubeconfig: holds a credential in plain text; store it encrypted: pulumi config set --secret --path edge:site.kubeconfig",
        ]);
        const encrypted = "config:\n  rancher2:tokenKey:\n    secure: v1:abc\n";
        assert.deepStrictEqual(
            stackFileConfig(parseStackFile(encrypted, "x")).plaintextSecrets,
            [],
        );
    });

    it("counts the config as the language host passes it: values as text, Go's escapes, secrets as ciphertext", () => {
        const config = {
            "rancher2:apiUrl": "https://rancher.example.org/<x>",
            "edge:images": { focal: "https://example.org/a&b.img" },
            "edge:sshPrivateKey": { secure: "v1:abc" },
        };
        const passed = String.raw`PULUMI_CONFIG={"edge:images":"{\"focal\":\"https://example.org/a\u0026b.img\"}","edge:sshPrivateKey":"v1:abc","rancher2:apiUrl":"https://rancher.example.org/\u003cx\u003e"}`;
        assert.strictEqual(languageHostConfigBytes(config), passed.length + 1);
    });

    it("uses Linux's own limit: a process starts with PULUMI_CONFIG of that size, not a byte more", () => {
        // The limit counts "NAME=value" and its terminating NUL.
        const value = (bytes: number) => "x".repeat(bytes - "PULUMI_CONFIG=".length - 1);
        const start = (bytes: number) =>
            spawnSync("true", { env: { PATH: process.env.PATH, PULUMI_CONFIG: value(bytes) } });
        assert.strictEqual(start(languageHostConfigLimit).status, 0);
        assert.strictEqual((start(languageHostConfigLimit + 1).error as any)?.code, "E2BIG");
    });

    it("refuses a config the language host could not pass to the program, before planning it", function () {
        this.timeout(60000);
        const stackFileOf = (vms: number) =>
            stackFileConfig(
                parseStackFile(stringify({ config: lockedStackConfig(syntheticSite(vms)) }), "x"),
            );
        assert.strictEqual(planStack(stackFileOf(400)).plan.clusters.length, 80);
        assert.deepStrictEqual(problemsOf(stackFileOf(460)), [
            'config: takes about 129 KiB as the Node.js language host passes it to the program, in one environment variable that Linux caps at 128 KiB: `pulumi preview` and `up` would fail with "argument list too long" (pulumi/pulumi#8680). Declare nodes by intent (edge:clusters[].intent) rather than one by one: a node listed takes about 140 bytes, its record in edge:allocations about 100',
        ]);
    });

    it("names the file when its YAML is broken", () => {
        assert.throws(
            () => parseStackFile("config:\n  a: [1,\n", "Pulumi.bad.yaml"),
            /^Error: Pulumi\.bad\.yaml: /,
        );
    });
});
