import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as rancher2 from "@pulumi/rancher2";
import * as tls from "@pulumi/tls";
import { DeclaredOptions, EvaluatedResource, resourceKey } from "./evaluate";

/**
 * The floors of `npm run bench` and `npm run bench:engine`: the resources a program registered,
 * declared again with no program logic in between.
 */

export type ReplayedResource = Pick<EvaluatedResource, "type" | "name" | "inputs" | "options"> &
    Partial<Pick<EvaluatedResource, "dependencies">>;

class ReplayedComponent extends pulumi.ComponentResource {
    constructor(type: string, name: string, opts: pulumi.ComponentResourceOptions) {
        super(type, name, {}, opts);
        this.registerOutputs({});
    }
}

/** A resource of `type` declared with the SDK class the program uses for it. */
function declare(
    type: string,
    name: string,
    inputs: Record<string, any>,
    opts: pulumi.CustomResourceOptions,
): pulumi.Resource {
    switch (type) {
        case "pulumi:providers:kubernetes":
            return new k8s.Provider(name, inputs, opts);
        case "kubernetes:core/v1:Namespace":
            return new k8s.core.v1.Namespace(name, inputs, opts);
        case "kubernetes:core/v1:Secret":
            return new k8s.core.v1.Secret(name, inputs, opts);
        case "kubernetes:core/v1:Service":
            return new k8s.core.v1.Service(name, inputs, opts);
        case "rancher2:index/clusterV2:ClusterV2":
            return new rancher2.ClusterV2(name, inputs as rancher2.ClusterV2Args, opts);
        case "rancher2:index/clusterSync:ClusterSync":
            return new rancher2.ClusterSync(name, inputs as rancher2.ClusterSyncArgs, opts);
        case "tls:index/privateKey:PrivateKey":
            return new tls.PrivateKey(name, inputs as tls.PrivateKeyArgs, opts);
        case "command:remote:Command":
            return new command.remote.Command(name, inputs as command.remote.CommandArgs, opts);
        default:
            if (type.startsWith("kubernetes:")) {
                return new k8s.apiextensions.CustomResource(
                    name,
                    inputs as k8s.apiextensions.CustomResourceArgs,
                    opts,
                );
            }
            return new ReplayedComponent(type, name, opts);
    }
}

export interface ReplayOptions {
    /** The hook a resource gets where the program gave it the hook of that name. */
    hook: (name: string) => pulumi.ResourceHook;
    /** The inputs to declare it with; its recorded ones when not given. */
    inputs?: (resource: ReplayedResource) => Record<string, any>;
    /**
     * Whether it also depends on every resource whose outputs flowed into the program's inputs:
     * with plain inputs, only that keeps the engine's order the program's.
     */
    recordedDependencies?: boolean;
}

/**
 * Declares each resource with its own class and the options the program gave it, parents and
 * dependencies first, kubernetes resources with the program's provider.
 */
export function replayDeclared(resources: ReplayedResource[], options: ReplayOptions): void {
    const byKey = new Map(resources.map((r) => [resourceKey(r), r]));
    const declared = new Map<string, pulumi.Resource>();
    const providerKey = [...byKey.keys()].find((k) => k.startsWith("pulumi:providers:"));
    const resolve = (key: string): pulumi.Resource => {
        const existing = declared.get(key);
        if (existing) {
            return existing;
        }
        const resource = byKey.get(key)!;
        const declaredOptions: DeclaredOptions = resource.options;
        const refs = (keys: string[]) =>
            [...new Set(keys)].filter((k) => byKey.has(k) && k !== key).map(resolve);
        const hooks = (names: string[]) => names.map(options.hook);
        const opts: pulumi.CustomResourceOptions = {
            ...(declaredOptions.parent ? { parent: resolve(declaredOptions.parent) } : {}),
            ...(resource.type.startsWith("kubernetes:") && providerKey
                ? { provider: resolve(providerKey) as k8s.Provider }
                : {}),
            dependsOn: refs([
                ...declaredOptions.dependsOn,
                ...(options.recordedDependencies ? (resource.dependencies ?? []) : []),
            ]),
            replaceOnChanges: declaredOptions.replaceOnChanges,
            deleteBeforeReplace: declaredOptions.deleteBeforeReplace,
            replaceWith: refs(declaredOptions.replaceWith),
            protect: declaredOptions.protect,
            ...(declaredOptions.replacementTrigger !== undefined
                ? { replacementTrigger: declaredOptions.replacementTrigger }
                : {}),
            hooks: {
                beforeDelete: hooks(declaredOptions.beforeDelete),
                beforeCreate: hooks(declaredOptions.beforeCreate),
            },
        };
        const inputs = options.inputs ? options.inputs(resource) : resource.inputs;
        const made = declare(resource.type, resource.name, inputs, opts);
        declared.set(key, made);
        return made;
    };
    if (providerKey) {
        resolve(providerKey);
    }
    [...byKey.keys()].forEach(resolve);
}
