import { rancherClusterName, resourceNames } from "../lib/core";
import { StackPlan } from "../lib/plan";
import {
    RancherApi,
    RancherError,
    call,
    downstreamClusterId,
    duration,
    sleep,
} from "./nodeRemoval";

/**
 * Before a cluster's ClusterSync is created (first, or replaced because a node joined, left or was
 * replaced), `pulumi up` waits until Rancher lists each of the cluster's nodes as a downstream
 * Node. The VMs themselves are not awaited (see awaitAnnotations in lib/plan/stackPlan.ts), so that
 * an update KubeVirt applies only on a restart does not hold `up` until the restart.
 */

/** A node `up` waits for, with its VM for the operator to look at. */
export interface JoiningNode {
    site: string;
    cluster: string;
    node: string;
    namespace: string;
    vmName: string;
}

/** The planned nodes of the cluster whose ClusterSync is `syncName`; none for anything else. */
export function joiningNodes(plan: StackPlan, syncName: string): JoiningNode[] {
    const cluster = plan.clusters.find((c) => resourceNames.clusterSync(c.name) === syncName);
    return (cluster?.nodes ?? []).map((node) => ({
        site: plan.site.name,
        cluster: cluster!.name,
        node: node.name,
        namespace: node.namespace,
        vmName: node.vmName,
    }));
}

export interface JoinOptions {
    timeoutMs: number;
    pollMs: number;
    log?: (message: string) => void;
}

type JoinState = { joined: true } | { joined: false; reason: string };

/** Where the node stands, once: joined, or why not yet. */
async function joinState(
    api: RancherApi,
    rancherCluster: string,
    node: string,
): Promise<JoinState> {
    const clusterId = await downstreamClusterId(api, rancherCluster);
    if (clusterId === undefined) {
        return { joined: false, reason: `Rancher has no cluster ${rancherCluster} yet` };
    }
    const found = await call(api, "GET", `/k8s/clusters/${clusterId}/api/v1/nodes/${node}`);
    return found.status === 404
        ? { joined: false, reason: `Rancher lists no node ${node} in ${rancherCluster} yet` }
        : { joined: true };
}

/**
 * Waits until Rancher lists `node` in its cluster. Rancher's proxy answers errors while the
 * cluster has no agent connected, so any answer but a refused token is waited out; the last one
 * is reported when the node has not joined in time.
 */
export async function waitForNodeJoin(
    api: RancherApi,
    joining: JoiningNode,
    options: JoinOptions,
): Promise<string> {
    const log = options.log ?? (() => undefined);
    const rancherCluster = rancherClusterName(joining.site, joining.cluster);
    const deadline = Date.now() + options.timeoutMs;
    let last = "";
    for (;;) {
        let state: JoinState;
        try {
            state = await joinState(api, rancherCluster, joining.node);
        } catch (error) {
            const status = error instanceof RancherError ? error.status : undefined;
            if (status === 401 || status === 403) {
                throw new Error(
                    `${(error as Error).message}: Rancher refused the token; node ${joining.node}'s VM is created, but whether it joined ${rancherCluster} is unknown`,
                );
            }
            state = { joined: false, reason: (error as Error).message };
        }
        if (state.joined) {
            return `node ${joining.node} joined ${rancherCluster}`;
        }
        if (state.reason !== last) {
            log(`waiting for node ${joining.node} to join ${rancherCluster}: ${state.reason}`);
            last = state.reason;
        }
        if (Date.now() >= deadline) {
            throw new Error(
                `node ${joining.node} has not joined ${rancherCluster} ${duration(options.timeoutMs)} after its VM was created (${state.reason}). See the VM's console (virtctl console -n ${joining.namespace} ${joining.vmName}) and the cluster's machines in Rancher; the VM is kept, and pulumi up waits for it again when run again`,
            );
        }
        await sleep(options.pollMs);
    }
}
