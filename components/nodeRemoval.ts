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

/** Rancher's API as the rancher2 provider is configured, trusting Rancher's own CA too. */
function rancherApi(caCerts: string): RancherApi {
    const config = new pulumi.Config("rancher2");
    const url = config.get("apiUrl") ?? process.env.RANCHER_URL;
    const token = process.env.RANCHER_TOKEN_KEY;
    if (!url || !token) {
        throw new Error(
            "removing a node needs Rancher's API: set rancher2:apiUrl and RANCHER_TOKEN_KEY as for the rancher2 provider",
        );
    }
    return {
        url,
        token,
        ...(caCerts.trim() === "" ? {} : { caCerts }),
        ...(config.getBoolean("insecure") ? { insecure: true } : {}),
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
        const caCerts = await new Promise<string>((resolve) => rancherCaCerts.apply(resolve));
        const outcome = await removeRancherMachine(
            rancherApi(caCerts),
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
