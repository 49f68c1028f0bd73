import * as pulumi from "@pulumi/pulumi";
import { nodeJoinWait } from "../lib/defaults";
import { resourceNames } from "../lib/naming";
import { joiningNodeOf, waitForNodeJoin } from "../lib/nodeJoin";
import { rancherApi, valueOf } from "./nodeRemoval";

/**
 * The site's one afterCreate hook, bound to every node VM: `pulumi up` waits until a created or
 * replacing VM's node joined its cluster. The engine runs it inside the VM's create step, so the
 * step, and whatever depends on the VM (the cluster's ClusterSync), waits for it; a failure is an
 * error on the VM that fails `up`, its VM recorded as created (pulumi pkg/resource/deploy/step.go
 * CreateStep.Apply, step_executor.go). Not on preview, nor on update: an update of a running VM
 * takes effect on its restart, which `up` leaves to the operator.
 */
export function nodeJoinHook(rancherCaCerts: pulumi.Output<string>): pulumi.ResourceHook {
    const api = rancherApi(rancherCaCerts, "waiting for a new node to join its cluster");
    return new pulumi.ResourceHook(resourceNames.nodeJoinHook, async (args) => {
        const joining = joiningNodeOf(args.newInputs);
        if (!joining) {
            return;
        }
        const reachable = await valueOf(api);
        if (typeof reachable === "string") {
            throw new Error(`${args.name}: ${reachable}`);
        }
        const outcome = await waitForNodeJoin(reachable, joining, {
            ...nodeJoinWait,
            log: (message) => pulumi.log.info(`${args.name}: ${message}`),
        });
        pulumi.log.info(`${args.name}: ${outcome}`);
    });
}
