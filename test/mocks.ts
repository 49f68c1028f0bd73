import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import { readStackFile, stackFilePath } from "../lib/stackFile";

/** A resource the program registered, as the mock monitor saw it. */
export interface RecordedResource {
    type: string;
    name: string;
    inputs: Record<string, any>;
    provider?: string;
}

/** What the mocked Rancher hands out; tests look for these values in emitted documents. */
export const mockRancher = {
    token: "mock-registration-token",
    nodeCommand:
        "curl -fL https://rancher.example.org/system-agent-install.sh | sudo sh -s - --server https://rancher.example.org --label 'cattle.io/os=linux' --token mock-registration-token --ca-checksum 0f1e2d3c",
    insecureNodeCommand:
        "curl --insecure -fL https://rancher.example.org/system-agent-install.sh | sudo sh -s - --server https://rancher.example.org --label 'cattle.io/os=linux' --token mock-registration-token",
    kubeconfig:
        "apiVersion: v1\nkind: Config\nusers:\n- name: rancher\n  user:\n    token: mock-kubeconfig-token\n",
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
};

/** Provider-computed outputs the program reads, per resource type. */
function computedState(args: pulumi.runtime.MockResourceArgs): Record<string, any> {
    switch (args.type) {
        case "rancher2:index/clusterV2:ClusterV2":
            return {
                ...args.inputs,
                clusterV1Id: `c-m-${args.name}`,
                clusterRegistrationToken: {
                    token: mockRancher.token,
                    nodeCommand: mockRancher.nodeCommand,
                    insecureNodeCommand: mockRancher.insecureNodeCommand,
                },
                kubeConfig: mockRancher.kubeconfig,
            };
        case "rancher2:index/clusterSync:ClusterSync":
            return { ...args.inputs, kubeConfig: mockRancher.kubeconfig, synced: true };
        case "kubernetes:core/v1:Service": {
            const ports = args.inputs.spec.ports.map((p: any) => ({
                nodePort: mockRancher.nodePort,
                ...p,
            }));
            return { ...args.inputs, spec: { ...args.inputs.spec, ports } };
        }
        case "command:remote:Command":
            return { ...args.inputs, stdout: mockRancher.adminKubeconfig, stderr: "" };
        default:
            return args.inputs;
    }
}

export interface MockOptions {
    /** Evaluate as `pulumi preview` rather than `pulumi up`. Defaults to false. */
    preview?: boolean;
    /** The stack name the program sees. Defaults to "test". */
    stack?: string;
    /** Config keys the program must read as secrets. Defaults to none. */
    secretKeys?: string[];
    /** Provider-computed values to use instead of those in `computedState`, per resource type. */
    overrides?: Record<string, Record<string, any>>;
}

/**
 * Installs Pulumi's mock runtime with `config`, recording every resource the program registers.
 * Any function call is unexpected: the program makes none.
 */
export async function setupMocks(
    config: Record<string, unknown>,
    options: MockOptions = {},
): Promise<RecordedResource[]> {
    const resources: RecordedResource[] = [];
    pulumi.runtime.setAllConfig(
        Object.fromEntries(
            Object.entries(config).map(([key, value]) => [
                key,
                typeof value === "string" ? value : JSON.stringify(value),
            ]),
        ),
        options.secretKeys ?? [],
    );
    await pulumi.runtime.setMocks(
        {
            newResource(args) {
                resources.push({
                    type: args.type,
                    name: args.name,
                    inputs: args.inputs,
                    provider: args.provider,
                });
                const state = { ...computedState(args), ...options.overrides?.[args.type] };
                return { id: `${args.name}-id`, state };
            },
            call(args) {
                throw new Error(`unexpected call to ${args.token}`);
            },
        },
        "edge",
        options.stack ?? "test",
        options.preview ?? false,
    );
    return resources;
}

/** An Output's value; mocks make every value known, so this always settles. */
export function promiseOf<T>(output: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => output.apply(resolve));
}

/** Pulumi's wire form of a secret, as the mock monitor receives secret inputs. */
const secretSignature = {
    key: "4dabf18193072939515e22adb298388d",
    value: "1b47061264138c4ac30d75fd1eb44270",
};

/** The value inside a secret input, or undefined when the input was not sent as a secret. */
export function secretValue(input: unknown): any {
    const wire = input as Record<string, unknown> | undefined;
    return wire?.[secretSignature.key] === secretSignature.value ? wire.value : undefined;
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
 * Evaluates the program (`index.ts`) afresh under mocks with `config`, and waits until every
 * resource is registered.
 */
export async function runProgram(
    config: Record<string, unknown>,
    options: MockOptions = {},
): Promise<{ resources: RecordedResource[]; outputs: Record<string, any> }> {
    const resources = await setupMocks(config, options);
    delete require.cache[require.resolve("../index")];
    const outputs = await import("../index");
    await pulumi.runtime.disconnect();
    return { resources, outputs };
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

export const types = {
    namespace: "kubernetes:core/v1:Namespace",
    secret: "kubernetes:core/v1:Secret",
    service: "kubernetes:core/v1:Service",
    nad: "kubernetes:k8s.cni.cncf.io/v1:NetworkAttachmentDefinition",
    dataVolume: "kubernetes:cdi.kubevirt.io/v1beta1:DataVolume",
    virtualMachine: "kubernetes:kubevirt.io/v1:VirtualMachine",
    clusterV2: "rancher2:index/clusterV2:ClusterV2",
    clusterSync: "rancher2:index/clusterSync:ClusterSync",
    remoteCommand: "command:remote:Command",
    k8sProvider: "pulumi:providers:kubernetes",
    siteNetwork: "edge:index:SiteNetwork",
    edgeCluster: "edge:index:EdgeCluster",
    kubevirtNode: "edge:index:KubevirtNode",
} as const;
