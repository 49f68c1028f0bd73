import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import { parse } from "yaml";
import { registrationScript, resourceNames, typeTokens } from "../lib/core/naming";
import { stackFilePath } from "../lib/config/stackFile";
import {
    MockOptions,
    ProviderValues,
    RecordedResource,
    installMocks,
    secretValue,
} from "../offline/evaluate";
import { readStackFile } from "../runtime/projectFiles";

export { type RecordedResource, secretValue };

/** A private CA as Rancher's `cacerts` setting would hold it. */
export const mockRancherCa =
    "-----BEGIN CERTIFICATE-----\nMIIBmockRancherPrivateCA\n-----END CERTIFICATE-----\n";

/** The downstream cluster's own CA, which signs its API server's certificate. */
export const mockClusterCa =
    "-----BEGIN CERTIFICATE-----\nMIIBmockDownstreamClusterCA\n-----END CERTIFICATE-----\n";

/** What the mocked providers hand out; tests look for these values in emitted documents. */
export const mockRancher = {
    clusterV1Id: (name: string) => `c-m-${name}`,
    token: "mock-registration-token",
    nodeCommand:
        "curl -fL https://rancher.example.org/system-agent-install.sh | sudo sh -s - --server https://rancher.example.org --label 'cattle.io/os=linux' --token mock-registration-token --ca-checksum 0f1e2d3c",
    insecureNodeCommand:
        "curl --insecure -fL https://rancher.example.org/system-agent-install.sh | sudo sh -s - --server https://rancher.example.org --label 'cattle.io/os=linux' --token mock-registration-token",
    kubeconfig: [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        "- name: mock",
        "  cluster:",
        "    server: https://rancher.example.org/k8s/clusters/mock",
        "- name: mock-fqdn",
        "  cluster:",
        "    server: https://172.28.2.88:31443",
        "- name: mock-france-fqdn",
        "  cluster:",
        "    server: https://172.30.0.11:30643",
        "users:",
        "- name: rancher",
        "  user:",
        "    token: mock-kubeconfig-token",
        "",
    ].join("\n"),
    nodePort: 31443,
    adminKubeconfig: [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        "- name: default",
        "  cluster:",
        "    server: https://127.0.0.1:6443",
        "    certificate-authority-data: bW9jaw==",
        "users:",
        "- name: default",
        "  user:",
        "    client-key-data: bW9jay1hZG1pbi1rZXk=",
        "",
    ].join("\n"),
    rancherCaCerts: mockRancherCa,
    clusterCaCert: Buffer.from(mockClusterCa).toString("base64"),
    hostKey: (name: string) => ({
        privateKeyOpenssh: `-----BEGIN OPENSSH PRIVATE KEY-----\nmock-host-key-of-${name}\n-----END OPENSSH PRIVATE KEY-----\n`,
        publicKeyOpenssh: `ssh-ed25519 AAAAmockhostkey${name.replace(/[^A-Za-z0-9]/g, "")}\n`,
    }),
} satisfies ProviderValues;

/** Installs the mock runtime with `config` and the test's provider values. */
export function setupMocks(
    config: Record<string, unknown>,
    options: MockOptions = {},
): Promise<RecordedResource[]> {
    return installMocks(config, mockRancher, options);
}

/**
 * Runs `body` with the environment variable `name` set to `value` (unset when undefined), then
 * puts back what was there before, whatever `body` does.
 */
export async function withEnvironment<T>(
    name: string,
    value: string | undefined,
    body: () => Promise<T>,
): Promise<T> {
    const before = process.env[name];
    const set = (v: string | undefined) =>
        v === undefined ? delete process.env[name] : (process.env[name] = v);
    set(value);
    try {
        return await body();
    } finally {
        set(before);
    }
}

/** An Output's value; mocks make every value known, so this always settles. */
export function promiseOf<T>(output: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => output.apply(resolve));
}

export const projectRoot = path.resolve(__dirname, "..");

/** The `config:` map of one of the project's stack files, secure values redacted. */
export function stackConfig(stack: string): Record<string, any> {
    return readStackFile(path.join(projectRoot, stackFilePath(stack))).config;
}

/** A deep copy of a stack's config, for tests that edit it. */
export function editableStackConfig(stack: string): Record<string, any> {
    return structuredClone(stackConfig(stack));
}

/**
 * Runs `declare` inside a fresh root stack, as Pulumi runs a program, so that no root stack from
 * an earlier test becomes the parent of what it declares. Resolves once every resource is
 * registered.
 */
export async function inStack<T>(declare: () => Promise<T>): Promise<T> {
    let result: T | undefined;
    await pulumi.runtime.runInPulumiStack(async () => {
        result = await declare();
    });
    await pulumi.runtime.disconnect();
    return result as T;
}

/**
 * Evaluates the program (`index.ts`) afresh under mocks with `config`, and waits until every
 * resource is registered.
 */
export async function runProgram(
    config: Record<string, unknown>,
    options: MockOptions = {},
): Promise<{ resources: RecordedResource[]; outputs: Record<string, any> }> {
    const resources = await setupMocks(config, options);
    delete require.cache[require.resolve("../index")];
    const outputs = await inStack(() => import("../index"));
    return { resources, outputs };
}

/** Evaluates the program as `runProgram` does, for config it must reject. */
export async function failingProgram(
    config: Record<string, unknown>,
    options: MockOptions = {},
): Promise<{ error: unknown; resources: RecordedResource[] }> {
    const resources = await setupMocks(config, options);
    delete require.cache[require.resolve("../index")];
    const error = await inStack(() => import("../index")).then(
        () => assert.fail("expected the program to fail"),
        (failure: unknown) => failure,
    );
    return { error, resources };
}

/** Resource options by resource name, as components passed them to their children. */
export function captureOptions(): {
    transformation: pulumi.ResourceTransformation;
    options: Map<string, pulumi.CustomResourceOptions>;
} {
    const options = new Map<string, pulumi.CustomResourceOptions>();
    return {
        options,
        transformation: (args) => {
            // Every child we inspect is a custom resource.
            options.set(args.name, args.opts as pulumi.CustomResourceOptions);
            return undefined;
        },
    };
}

/** The recorded resources of one type, e.g. `kubernetes:kubevirt.io/v1:VirtualMachine`. */
export function ofType(resources: RecordedResource[], type: string): RecordedResource[] {
    return resources.filter((r) => r.type === type);
}

/** The type tokens tests look resources up by: the program's own (lib/core/naming.ts). */
export const types = typeTokens;

/** The site's node removal hook as tests declare components with it; it does nothing here. */
export function testRemovalHook(): pulumi.ResourceHook {
    return new pulumi.ResourceHook(resourceNames.nodeRemovalHook, async () => undefined);
}

/** The site's node join hook as tests declare components with it; it does nothing here. */
export function testJoinHook(): pulumi.ResourceHook {
    return new pulumi.ResourceHook(resourceNames.nodeJoinHook, async () => undefined);
}

/** The registration script inside a node's user-data. */
export function registrationScriptOf(userData: string): string {
    const files: { path: string; content: string }[] = parse(userData).write_files;
    return files.find((file) => file.path === registrationScript)!.content;
}

/** The registration command inside a node's user-data: the line its script retries. */
export function registrationCommandOf(userData: string): string {
    const script = registrationScriptOf(userData);
    const line = script.split("\n").find((l) => l.startsWith("    if "));
    assert.ok(line, "the registration script runs a command");
    return line.slice("    if ".length, -"; then".length);
}

/** Runs `run` and returns what it logged with `pulumi.log.warn`, which is restored afterwards. */
export async function warningsOf(run: () => Promise<unknown>): Promise<string[]> {
    const warnings: string[] = [];
    const warn = pulumi.log.warn;
    (pulumi.log as { warn: typeof warn }).warn = async (message: string) => {
        warnings.push(message);
    };
    try {
        await run();
    } finally {
        (pulumi.log as { warn: typeof warn }).warn = warn;
    }
    return warnings;
}
