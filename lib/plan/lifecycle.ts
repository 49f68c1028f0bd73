import { ClusterConfig, ClusterNode, SiteConfig, StackConfig } from "../config";
import { RootDiskSpec, vmIdentity, ProblemList, compareText } from "../core";

/**
 * How nodes come and go without breaking their cluster. A node's VM is replaced when its root
 * disk (image, size, storage class, roles) or namespace changes and removed when it leaves the
 * config; before either, a hook removes
 * its Rancher machine (see components/nodeRemoval.ts). etcd loses quorum when more than one member
 * goes at once, so a change may replace or remove at most one etcd node, and must leave an odd
 * number of them, unless the operator acknowledges the risk.
 */

export function rootDiskSpec(
    site: SiteConfig,
    node: Pick<ClusterNode, "image" | "disk" | "roles" | "host">,
): RootDiskSpec {
    return {
        sourceNamespace: site.imageNamespace,
        image: node.image,
        size: node.disk,
        ...(site.storageClass === undefined ? {} : { storageClass: site.storageClass }),
        roles: node.roles,
        ...(node.host === undefined ? {} : { host: node.host }),
    };
}

/** etcd node name → what replaces its VM, as the allocation record keeps it. */
export function etcdMembers(site: SiteConfig, cluster: ClusterConfig): Record<string, string> {
    return Object.fromEntries(
        cluster.nodes
            .filter((node) => node.roles.includes("etcd"))
            .map((node) => [node.name, vmIdentity(cluster.namespace, rootDiskSpec(site, node))]),
    );
}

/** How the config changes the etcd members the record knows, one line per member that goes. */
function departingMembers(recorded: Record<string, string>, now: Record<string, string>): string[] {
    return Object.entries(recorded).flatMap(([node, identity]) => {
        if (now[node] === undefined) {
            return [`${node} removed`];
        }
        return now[node] === identity ? [] : [`${node} replaced (${now[node]})`];
    });
}

/** Refuses a change that would cost a cluster its etcd quorum; see the note at the top. */
export function checkEtcdQuorum(config: StackConfig, problems: ProblemList): void {
    config.clusters.forEach((cluster, i) => {
        if (cluster.acknowledgeReplacement) {
            return;
        }
        const path = `clusters[${i}].nodes`;
        const acknowledge = `set clusters[${i}].acknowledgeReplacement: true`;
        const now = etcdMembers(config.site, cluster);
        const recorded = config.allocations[cluster.name]?.etcd;
        const departing = recorded ? departingMembers(recorded, now) : [];
        const members = Object.keys(recorded ?? {}).length;
        if (departing.length > 1) {
            problems.add(
                path,
                `this change replaces or removes ${departing.length} etcd members at once (${departing.join("; ")}); etcd can lose its quorum when members go more than one at a time. Change one etcd node, run \`npm run lock\` and \`pulumi up\`, wait for the cluster to be active, then change the next; or ${acknowledge} to accept losing the cluster`,
            );
        } else if (departing.length === 1 && members === 1) {
            // Rancher removes a member safely while another remains (rancher
            // pkg/controllers/capr/bootstrap/controller.go); the last one takes the datastore along.
            problems.add(
                path,
                `this change replaces or removes ${departing[0].split(" ")[0]}, the only etcd member: the cluster's datastore goes with it. Give the etcd role to more nodes first (to 3), one \`pulumi up\` before this change; or ${acknowledge} to accept losing the cluster`,
            );
        }
        const count = Object.keys(now).length;
        // A step down from an odd count (3 to 2 on the way to 1) is how a cluster shrinks safely.
        const shrinking = recorded !== undefined && count < members;
        if (count % 2 === 0 && !shrinking) {
            problems.add(
                path,
                `has ${count} etcd nodes; an even number survives no more failures than one fewer would, and a split vote stalls it: give one more or one fewer node the etcd role (1, 3 or 5), or ${acknowledge} to accept it`,
            );
        }
    });
}

/**
 * The value that replaces a cluster's ClusterSync, which waits for the cluster to be active only
 * when it is created: whenever a node joins, leaves or is replaced, `pulumi up` waits again.
 */
export function clusterSyncTrigger(
    site: SiteConfig,
    cluster: ClusterConfig,
    identity: string,
): string {
    const nodes = [...cluster.nodes]
        .sort((a, b) => compareText(a.name, b.name))
        .map((node) => `${node.name} ${vmIdentity(cluster.namespace, rootDiskSpec(site, node))}`);
    return [identity, ...nodes].join("\n");
}
