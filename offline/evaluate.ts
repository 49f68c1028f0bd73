import * as pulumi from "@pulumi/pulumi";
import { withCappedStackTraces } from "../runtime/stackTraces";
import { compareText } from "../lib/core";

/** A resource the program registered, as the mock monitor saw it. */
export interface RecordedResource {
    type: string;
    name: string;
    inputs: Record<string, any>;
    provider?: string;
    /**
     * `type::name` of every resource it depends on, as the engine sees them: `dependsOn` and
     * every resource whose outputs flow into its inputs. Destroy runs in the reverse order.
     */
    dependencies: string[];
}

/** `type::name` of a URN: `urn:pulumi:stack::project::parent$type::name`. */
function keyOfUrn(urn: string): string {
    const [, , types, name] = urn.split("::");
    return `${types.split("$").pop()}::${name}`;
}

/** What providers would compute, and the program reads: Rancher's and the host cluster's. */
export interface ProviderValues {
    clusterV1Id: (name: string) => string;
    token: string;
    nodeCommand: string;
    insecureNodeCommand: string;
    kubeconfig: string;
    nodePort: number | string;
    /** What `cat` of a server node's admin kubeconfig prints. */
    adminKubeconfig: string;
    /** Rancher's `cacerts` setting: its private CA, or empty for a public one. */
    rancherCaCerts: string;
    /** A downstream cluster's CA as Rancher reports it (`getCluster`'s `caCert`, base64 PEM). */
    clusterCaCert: string;
    /** A node's generated SSH host key. */
    hostKey: (name: string) => { privateKeyOpenssh: string; publicKeyOpenssh: string };
}

function computed(what: string): string {
    return `<computed: ${what}>`;
}

/** Clearly marked stand-ins for every provider-computed value an offline plan shows. */
export const placeholders: ProviderValues = {
    clusterV1Id: () => computed("Rancher cluster id"),
    token: computed("registration token"),
    nodeCommand: computed("Rancher node command"),
    insecureNodeCommand: computed("Rancher insecure node command"),
    kubeconfig: computed("kubeconfig"),
    nodePort: computed("node port"),
    adminKubeconfig: [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        "- name: default",
        "  cluster:",
        `    server: "${computed("server")}"`,
        "",
    ].join("\n"),
    rancherCaCerts: computed("Rancher cacerts setting"),
    clusterCaCert: computed("cluster CA"),
    hostKey: () => ({
        privateKeyOpenssh: computed("SSH host private key"),
        publicKeyOpenssh: computed("SSH host public key"),
    }),
};

/** Provider-computed outputs the program reads, per resource type. */
function computedState(
    args: pulumi.runtime.MockResourceArgs,
    values: ProviderValues,
): Record<string, any> {
    switch (args.type) {
        case "rancher2:index/clusterV2:ClusterV2":
            return {
                ...args.inputs,
                clusterV1Id: values.clusterV1Id(args.name),
                clusterRegistrationToken: {
                    token: values.token,
                    nodeCommand: values.nodeCommand,
                    insecureNodeCommand: values.insecureNodeCommand,
                },
                kubeConfig: values.kubeconfig,
            };
        case "rancher2:index/clusterSync:ClusterSync":
            return { ...args.inputs, kubeConfig: values.kubeconfig, synced: true };
        case "kubernetes:core/v1:Service": {
            const ports = args.inputs.spec.ports.map((p: Record<string, unknown>) => ({
                nodePort: values.nodePort,
                ...p,
            }));
            return { ...args.inputs, spec: { ...args.inputs.spec, ports } };
        }
        case "command:remote:Command":
            return { ...args.inputs, stdout: values.adminKubeconfig, stderr: "" };
        case "tls:index/privateKey:PrivateKey":
            return { ...args.inputs, ...values.hostKey(args.name) };
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
    /** Provider-computed values to use instead of the computed ones, per resource type. */
    overrides?: Record<string, Record<string, any>>;
    /** Receives the name of every resource hook the program registers. */
    hooks?: string[];
    /** Receives every function call (invoke) the program makes, with its inputs. */
    calls?: { token: string; inputs: Record<string, any> }[];
}

/**
 * Installs Pulumi's mock runtime with `config`, recording every resource the program registers.
 * The program reads two things from Rancher; any other function call is unexpected.
 */
export async function installMocks(
    config: Record<string, unknown>,
    values: ProviderValues,
    options: MockOptions = {},
): Promise<RecordedResource[]> {
    const resources: RecordedResource[] = [];
    const dependencies = new Map<string, string[]>();
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
                    dependencies: dependencies.get(resourceKey(args)) ?? [],
                });
                const state = { ...computedState(args, values), ...options.overrides?.[args.type] };
                return { id: `${args.name}-id`, state };
            },
            call(args) {
                options.calls?.push({ token: args.token, inputs: args.inputs });
                switch (args.token) {
                    case "rancher2:index/getSetting:getSetting":
                        return { name: args.inputs.name, value: values.rancherCaCerts };
                    case "rancher2:index/getCluster:getCluster":
                        return { name: args.inputs.name, caCert: values.clusterCaCert };
                    default:
                        throw new Error(`unexpected call to ${args.token}`);
                }
            },
        },
        "edge",
        options.stack ?? "test",
        options.preview ?? false,
    );
    // Mocks see a resource's inputs but not the dependencies the SDK computed for it; the
    // registration request carries them, so note them on the way through.
    const monitor = pulumi.runtime.getMonitor() as unknown as {
        registerResource(request: RegistrationRequest, callback: unknown): unknown;
        registerResourceHook?(
            request: { getName(): string },
            callback: (error: null, response: {}) => void,
        ): void;
    };
    // The mock monitor knows no resource hooks: note their names, as the engine would.
    monitor.registerResourceHook = (request, callback) => {
        options.hooks?.push(request.getName());
        callback(null, {});
    };
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (request, callback) => {
        const key = `${request.getType()}::${request.getName()}`;
        dependencies.set(key, [...new Set(request.getDependenciesList().map(keyOfUrn))].sort());
        return register(request, callback);
    };
    return resources;
}

/** The part of the engine's registration request that mocks do not pass on. */
interface RegistrationRequest {
    getType(): string;
    getName(): string;
    getDependenciesList(): string[];
}

/** Options a resource was declared with that decide how Pulumi diffs it. */
export interface DeclaredOptions {
    /** `type::name` of its parent; absent for the stack's own children. */
    parent?: string;
    dependsOn: string[];
    replaceOnChanges: string[];
    deleteBeforeReplace: boolean;
    protect: boolean;
    /** Replaced whenever this value changes (`replacementTrigger`); absent when not set. */
    replacementTrigger?: string;
    /** Names of the hooks that run before it is deleted. */
    beforeDelete: string[];
    /** Names of the hooks that run before it is created. */
    beforeCreate: string[];
    /** `type::name` of the resources whose replacement replaces it (`replaceWith`). */
    replaceWith: string[];
}

/** One resource of an evaluated program: what it is, where it sits, what it was given. */
export interface EvaluatedResource {
    type: string;
    name: string;
    options: DeclaredOptions;
    /** Inputs as the provider would receive them, secrets unwrapped; `{}` for components. */
    inputs: Record<string, any>;
    /** What it depends on as the engine sees it; see `RecordedResource.dependencies`. */
    dependencies: string[];
}

export interface Evaluation {
    resources: EvaluatedResource[];
    /** The stack's exports, resolved. */
    outputs: Record<string, any>;
}

export function resourceKey(resource: { type: string; name: string }): string {
    return `${resource.type}::${resource.name}`;
}

/** Pulumi's wire form of a secret, as the mock monitor receives secret inputs. */
const secretSignature = {
    key: pulumi.runtime.specialSigKey,
    value: pulumi.runtime.specialSecretSig,
};

/** The value inside a secret input, or undefined when the input was not sent as a secret. */
export function secretValue(input: unknown): any {
    const wire = input as Record<string, unknown> | undefined;
    return wire?.[secretSignature.key] === secretSignature.value ? wire.value : undefined;
}

/** Inputs with every secret replaced by its value; offline, no secret has a real value. */
function unwrapSecrets(value: unknown): any {
    if (Array.isArray(value)) {
        return value.map(unwrapSecrets);
    }
    if (typeof value === "object" && value !== null) {
        const inner = secretValue(value);
        if (inner !== undefined) {
            return unwrapSecrets(inner);
        }
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrapSecrets(v)]));
    }
    return value;
}

/**
 * Runs the program (`index.ts`) as the Pulumi language host would, inside a root stack, under
 * mocks that answer with `values`. Every resource comes back with its parent and the options
 * that decide replacements. Rejects as the program does, e.g. with a RunError for bad config.
 */
export async function evaluateProgram(
    config: Record<string, unknown>,
    values: ProviderValues,
    options: MockOptions = {},
): Promise<Evaluation> {
    const recorded = await installMocks(config, values, options);
    const declared = new Map<string, DeclaredOptions>();
    const keys = new Map<pulumi.Resource, string>();
    const keyOf = (resource: unknown) => keys.get(resource as pulumi.Resource);
    const program = require.resolve("../index");
    delete require.cache[program];

    // Offline, no stack trace is ever shown, and the SDK's continuations would record one for
    // each of its promises (see runtime/stackTraces.ts): capped until every registration is done.
    const outputs = await withCappedStackTraces(async () => {
        const exported = await pulumi.runtime.runInPulumiStack(async () => {
            pulumi.runtime.registerStackTransformation((args) => {
                const key = resourceKey(args);
                keys.set(args.resource, key);
                const opts = args.opts as pulumi.CustomResourceOptions;
                const dependsOn = ([] as unknown[]).concat(opts.dependsOn ?? []);
                declared.set(key, {
                    ...(keyOf(opts.parent) ? { parent: keyOf(opts.parent) } : {}),
                    dependsOn: dependsOn.map((d) => keyOf(d) ?? "?"),
                    replaceOnChanges: opts.replaceOnChanges ?? [],
                    deleteBeforeReplace: opts.deleteBeforeReplace ?? false,
                    // Children inherit protect from their component, after transformations run.
                    protect:
                        opts.protect ?? declared.get(keyOf(opts.parent) ?? "")?.protect ?? false,
                    ...(typeof opts.replacementTrigger === "string"
                        ? { replacementTrigger: opts.replacementTrigger }
                        : {}),
                    beforeDelete: (opts.hooks?.beforeDelete ?? []).map((hook) => hook.name),
                    beforeCreate: (opts.hooks?.beforeCreate ?? []).map((hook) =>
                        hook instanceof pulumi.ResourceHook ? hook.name : "(anonymous)",
                    ),
                    replaceWith: (opts.replaceWith ?? []).map((r) => keyOf(r) ?? "?"),
                });
                return undefined;
            });
            return require(program);
        });
        const resolved = await new Promise<Record<string, any>>((resolve) =>
            pulumi.output(exported ?? {}).apply((value) => resolve(value as Record<string, any>)),
        );
        await pulumi.runtime.disconnect();
        return resolved;
    });

    const registered = new Map(recorded.map((r) => [resourceKey(r), r]));
    const resources = [...declared.entries()]
        .map(([key, opts]) => {
            const [type, name] = key.split("::");
            const resource = registered.get(key);
            return {
                type,
                name,
                options: opts,
                inputs: unwrapSecrets(resource?.inputs ?? {}),
                dependencies: resource?.dependencies ?? [],
            };
        })
        .sort((a, b) => compareText(resourceKey(a), resourceKey(b)));
    return { resources, outputs: unwrapSecrets(outputs) };
}
