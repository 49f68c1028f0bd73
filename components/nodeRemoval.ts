import * as pulumi from "@pulumi/pulumi";
import { resourceNames } from "../lib/naming";
import {
    RancherApi,
    deletedNodeOf,
    removalDecision,
    removeRancherMachine,
} from "../lib/nodeRemoval";
import { StackPlan } from "../lib/plan";

/** How long a node may take to drain and leave its cluster before the hook gives up. */
const removalTimeoutMs = 30 * 60 * 1000;

/** An Output's value, once known; the hook runs during `up`, when every value is. */
const valueOf = <T>(output: pulumi.Output<T>) => new Promise<T>((resolve) => output.apply(resolve));

/**
 * Rancher's API as the rancher2 provider is configured (its config keys first, then their
 * environment variables: terraform-provider-rancher2 rancher2/provider.go), trusting Rancher's
 * own CA too.
 */
async function rancherApi(rancherCaCerts: string): Promise<RancherApi> {
    const config = new pulumi.Config("rancher2");
    const secret = async (key: string, variable: string) => {
        const configured = config.getSecret(key);
        return configured ? await valueOf(configured) : process.env[variable];
    };
    const url = config.get("apiUrl") ?? process.env.RANCHER_URL;
    const accessKey = config.get("accessKey") ?? process.env.RANCHER_ACCESS_KEY;
    const secretKey = await secret("secretKey", "RANCHER_SECRET_KEY");
    const token =
        (await secret("tokenKey", "RANCHER_TOKEN_KEY")) ??
        (accessKey && secretKey ? `${accessKey}:${secretKey}` : undefined);
    if (!url || !token) {
        throw new Error(
            "removing a node needs Rancher's API as the rancher2 provider reaches it: set rancher2:apiUrl, and RANCHER_TOKEN_KEY (or rancher2:tokenKey)",
        );
    }
    const caCerts = [config.get("caCerts") ?? process.env.RANCHER_CA_CERTS, rancherCaCerts]
        .filter((pem): pem is string => pem !== undefined && pem.trim() !== "")
        .join("\n");
    return {
        url,
        token,
        ...(caCerts === "" ? {} : { caCerts }),
        ...((config.getBoolean("insecure") ?? process.env.RANCHER_INSECURE === "true")
            ? { insecure: true }
            : {}),
    };
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
        pulumi.log.info(`${args.name}: ${decision.reason}; removing it from Rancher first`);
        const outcome = await removeRancherMachine(
            await rancherApi(await valueOf(rancherCaCerts)),
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
