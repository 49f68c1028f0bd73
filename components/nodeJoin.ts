import * as pulumi from "@pulumi/pulumi";
import { nodeJoinWait } from "../lib/config";
import { resourceNames } from "../lib/core";
import { joiningNodes, waitForNodeJoin } from "../runtime/nodeJoin";
import { StackPlan } from "../lib/plan";
import { rancherApi, valueOf } from "./nodeRemoval";

/**
 * The site's one beforeCreate hook, bound to every cluster's ClusterSync, which depends on the
 * cluster's nodes and is replaced whenever one joins, leaves or is replaced: `pulumi up` waits
 * there until Rancher lists every node of the cluster, and a failure fails the ClusterSync's
 * create, and so `up`. Not an afterCreate hook on each VM: the engine runs after-hooks holding
 * the resource's state lock, which every snapshot write takes, so every other step of the run
 * would stall behind one waiting node, a worker waiting for servers not yet created among them
 * (pulumi pkg/resource/deploy/step.go CreateStep.Apply, resource/stack/deployment.go
 * SerializeResource). Hooks do not run on preview.
 */
export function nodeJoinHook(
    plan: StackPlan,
    rancherCaCerts: pulumi.Output<string>,
): pulumi.ResourceHook {
    const api = rancherApi(rancherCaCerts, "waiting for new nodes to join their cluster");
    return new pulumi.ResourceHook(resourceNames.nodeJoinHook, async (args) => {
        const nodes = joiningNodes(plan, args.name);
        if (nodes.length === 0) {
            return;
        }
        const reachable = await valueOf(api);
        if (typeof reachable === "string") {
            throw new Error(`${args.name}: ${reachable}`);
        }
        const outcomes = await Promise.all(
            nodes.map((node) =>
                waitForNodeJoin(reachable, node, {
                    ...nodeJoinWait,
                    log: (message) => pulumi.log.info(`${args.name}: ${message}`),
                }),
            ),
        );
        for (const outcome of outcomes) {
            pulumi.log.info(`${args.name}: ${outcome}`);
        }
    });
}
