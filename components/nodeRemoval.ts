import * as pulumi from "@pulumi/pulumi";
import { resourceNames } from "../lib/core";
import {
    RancherApi,
    deletedNodeOf,
    removalDecision,
    removeRancherMachine,
} from "../runtime/nodeRemoval";
import { StackPlan } from "../lib/plan";

/** How long a node may take to drain and leave its cluster before the hook gives up. */
const removalTimeoutMs = 30 * 60 * 1000;

/** An Output's value, once known; the hook runs during `up`, when every value is. */
export const valueOf = <T>(output: pulumi.Output<T>) =>
    new Promise<T>((resolve) => output.apply(resolve));

/**
 * Rancher's API as the rancher2 provider is configured (its config keys first, then their
 * environment variables: terraform-provider-rancher2 rancher2/provider.go), trusting Rancher's
 * own CA too; or why it cannot be reached. Read while the program runs: a hook's callback can run
 * outside the run's config (the Automation API keeps each run's config in async-local storage,
 * @pulumi/pulumi runtime/state.js), where every key reads as unset.
 */
export function rancherApi(
    rancherCaCerts: pulumi.Output<string>,
    needs: string,
): pulumi.Output<RancherApi | string> {
    const config = new pulumi.Config("rancher2");
    const secret = (key: string, variable: string) =>
        config.getSecret(key) ?? pulumi.secret(process.env[variable]);
    const url = config.get("apiUrl") ?? process.env.RANCHER_URL;
    const accessKey = config.get("accessKey") ?? process.env.RANCHER_ACCESS_KEY;
    const configuredCa = config.get("caCerts") ?? process.env.RANCHER_CA_CERTS;
    const insecure = config.getBoolean("insecure") ?? process.env.RANCHER_INSECURE === "true";
    return pulumi
        .all([
            secret("secretKey", "RANCHER_SECRET_KEY"),
            secret("tokenKey", "RANCHER_TOKEN_KEY"),
            rancherCaCerts,
        ])
        .apply(([secretKey, tokenKey, rancherCa]): RancherApi | string => {
            const token =
                tokenKey ?? (accessKey && secretKey ? `${accessKey}:${secretKey}` : undefined);
            if (!url || !token) {
                return `${needs} needs Rancher's API as the rancher2 provider reaches it: set rancher2:apiUrl, and RANCHER_TOKEN_KEY (or rancher2:tokenKey)`;
            }
            const caCerts = [configuredCa, rancherCa]
                .filter((pem): pem is string => pem !== undefined && pem.trim() !== "")
                .join("\n");
            return {
                url,
                token,
                ...(caCerts === "" ? {} : { caCerts }),
                ...(insecure ? { insecure: true } : {}),
            };
        });
}

/**
 * The site's one beforeDelete hook, bound to every node VM. The engine finds a deleted VM's hook
 * by this name among the hooks the current run registers, so it is registered on every run, even
 * when no node is declared (pulumi pkg/resource/deploy/deployment.go, RunHooks).
 */
export function nodeRemovalHook(
    plan: StackPlan,
    rancherCaCerts: pulumi.Output<string>,
): pulumi.ResourceHook {
    const api = rancherApi(rancherCaCerts, "removing a node");
    return new pulumi.ResourceHook(resourceNames.nodeRemovalHook, async (args) => {
        const deleted = deletedNodeOf(args.oldInputs);
        if (!deleted) {
            return;
        }
        const decision = removalDecision(plan, deleted);
        if (decision.action === "skip") {
            pulumi.log.info(`${args.name}: Rancher machine kept: ${decision.reason}`);
            return;
        }
        if (decision.action === "refuse") {
            throw new Error(`${args.name}: ${decision.reason}`);
        }
        pulumi.log.info(`${args.name}: ${decision.reason}; removing it from Rancher first`);
        const reachable = await valueOf(api);
        if (typeof reachable === "string") {
            throw new Error(reachable);
        }
        const outcome = await removeRancherMachine(
            reachable,
            decision.rancherCluster,
            decision.node,
            {
                timeoutMs: removalTimeoutMs,
                pollMs: 10_000,
                log: (message) => pulumi.log.info(`${args.name}: ${message}`),
            },
        );
        pulumi.log.info(`${args.name}: ${outcome}`);
    });
}
