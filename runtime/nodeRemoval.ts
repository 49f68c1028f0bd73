import { request as httpRequest } from "http";
import { request as httpsRequest } from "https";
import * as tls from "tls";
import { StackPlan } from "../lib/plan";
import { annotations, labels, rancherClusterName } from "../lib/core";

/**
 * Before a node's VM is deleted, its Rancher machine must go: Rancher then drains the node,
 * removes its etcd member safely (rancher pkg/controllers/capr/etcdmgmt/saferemoval.go) and
 * deletes the downstream Node, whose deletion in turn deletes k3s/rke2's node-password Secret
 * (k3s pkg/nodepassword). Until then a new VM with the same node name is refused ("Node password
 * rejected"), and the old etcd member stays in the member list.
 */

/** The node a VM stood for, read from the VM's recorded inputs. */
export interface DeletedNode {
    site: string;
    cluster: string;
    node: string;
    namespace?: string;
    rootDisk?: string;
    clusterIdentity?: string;
    /** Whether the VM was protected (`site.protect`) when it was last applied. */
    protected: boolean;
}

/** Reads the node out of a VirtualMachine's old inputs; undefined for anything else. */
export function deletedNodeOf(
    inputs: Record<string, unknown> | undefined,
): DeletedNode | undefined {
    const metadata = inputs?.metadata as
        | {
              namespace?: string;
              labels?: Record<string, string>;
              annotations?: Record<string, string>;
          }
        | undefined;
    const site = metadata?.labels?.[labels.site];
    const cluster = metadata?.labels?.[labels.cluster];
    const node = metadata?.labels?.[labels.node];
    if (!site || !cluster || !node) {
        return undefined;
    }
    return {
        site,
        cluster,
        node,
        namespace: metadata?.namespace,
        rootDisk: metadata?.annotations?.[annotations.rootDisk],
        clusterIdentity: metadata?.annotations?.[annotations.clusterIdentity],
        protected: metadata?.annotations?.[annotations.protected] === "true",
    };
}

export type RemovalDecision =
    | { action: "remove"; rancherCluster: string; node: string; reason: string }
    | { action: "skip"; reason: string }
    | { action: "refuse"; reason: string };

/**
 * Whether deleting this VM takes one node out of a cluster that lives on, so that its Rancher
 * machine must be removed first. Pulumi runs the hook on every delete, `pulumi destroy` included,
 * and tells the program nothing of which it is; the current plan tells: a node the plan still has
 * unchanged is going because everything is (destroy), a cluster the plan drops or rebuilds goes
 * with its Rancher cluster, and only a node dropped or replaced from a cluster that stays is
 * removed from Rancher.
 */
export function removalDecision(plan: StackPlan, deleted: DeletedNode): RemovalDecision {
    const cluster = plan.clusters.find((c) => c.name === deleted.cluster);
    if (deleted.site !== plan.site.name) {
        return { action: "skip", reason: `the VM belongs to site ${deleted.site}` };
    }
    if (!cluster) {
        return {
            action: "skip",
            reason: `cluster ${deleted.cluster} goes with its Rancher cluster`,
        };
    }
    if (deleted.clusterIdentity !== undefined && deleted.clusterIdentity !== cluster.identity) {
        return { action: "skip", reason: `cluster ${deleted.cluster} is rebuilt as a whole` };
    }
    const node = cluster.nodes.find((n) => n.name === deleted.node);
    const remove = (reason: string): RemovalDecision =>
        // The engine runs this hook before it refuses to delete a protected resource (pulumi
        // pkg/resource/deploy/step.go, DeleteStep.Apply): removing the node from Rancher first
        // would leave its VM running outside the cluster.
        deleted.protected
            ? {
                  action: "refuse",
                  reason: `${reason}, but its VM is protected (site.protect), so Pulumi would keep it: run pulumi up with site.protect unset first, then make this change`,
              }
            : {
                  action: "remove",
                  rancherCluster: rancherClusterName(deleted.site, deleted.cluster),
                  node: deleted.node,
                  reason,
              };
    if (!node) {
        return remove(`node ${deleted.node} left cluster ${deleted.cluster}`);
    }
    // The VM is replaced when its namespace or root disk changes (see lifecycle.ts).
    const rootDisk = node.virtualMachine.metadata.annotations?.[annotations.rootDisk];
    const moved = deleted.namespace !== undefined && deleted.namespace !== node.namespace;
    if (moved || (deleted.rootDisk !== undefined && deleted.rootDisk !== rootDisk)) {
        return remove(`node ${deleted.node} of cluster ${deleted.cluster} is replaced`);
    }
    return { action: "skip", reason: `the stack is being destroyed` };
}

/** Where and how to reach Rancher's API, as the rancher2 provider is configured. */
export interface RancherApi {
    /** `rancher2:apiUrl`. */
    url: string;
    /** The provider's token, `RANCHER_TOKEN_KEY`. */
    token: string;
    /** Rancher's private CA (its `cacerts` setting), trusted besides the system's. */
    caCerts?: string;
    /** `rancher2:insecure`: skip verifying Rancher's certificate, as the provider does. */
    insecure?: boolean;
}

export interface RemovalOptions {
    /** How long to wait for the downstream Node to disappear. */
    timeoutMs: number;
    pollMs: number;
    log?: (message: string) => void;
}

/** Rancher's fleet workspace for v2-provisioned clusters. */
const fleetNamespace = "fleet-default";

interface Machine {
    metadata: { name: string; labels?: Record<string, string> };
    status?: { nodeRef?: { name?: string } };
}

export class RancherError extends Error {
    /** Rancher's HTTP status, when it answered. */
    constructor(
        message: string,
        readonly status?: number,
    ) {
        super(message);
    }
}

/**
 * Whether a 404 says the object is gone: Steve's error (`code: NotFound`) or Kubernetes' Status
 * (`reason: NotFound`), not a wrong URL answered by something else.
 */
function isNotFound(body: any): boolean {
    return body?.code === "NotFound" || body?.reason === "NotFound";
}

const secureContexts = new Map<string, tls.SecureContext>();

/**
 * The TLS context that trusts the system's CAs and Rancher's, made once per CA: making one parses
 * every trusted certificate, and made for each request it took 26 of the program's 64 s of CPU in
 * `up` of a 200-VM site, and most of its memory (`npm run bench:engine -- --profile`).
 */
export function secureContextFor(caCerts: string): tls.SecureContext {
    let context = secureContexts.get(caCerts);
    if (!context) {
        context = tls.createSecureContext({ ca: [...tls.rootCertificates, caCerts] });
        secureContexts.set(caCerts, context);
    }
    return context;
}

/** One JSON request to Rancher; a Kubernetes NotFound is an answer, any other failure an error. */
export function call(
    api: RancherApi,
    method: string,
    path: string,
): Promise<{ status: number; body: any }> {
    // The provider keeps only scheme, host and port of rancher2:apiUrl (NormalizeURL in
    // terraform-provider-rancher2 rancher2/util.go).
    const url = new URL(path, new URL(api.url).origin);
    const secure = url.protocol === "https:";
    const send = secure ? httpsRequest : httpRequest;
    const fail = (reason: string, status?: number) =>
        new RancherError(`${method} ${path}: ${reason}`, status);
    return new Promise((resolve, reject) => {
        const request = send(
            url,
            {
                method,
                headers: { Authorization: `Bearer ${api.token}`, Accept: "application/json" },
                ...(secure && api.caCerts ? { secureContext: secureContextFor(api.caCerts) } : {}),
                ...(secure && api.insecure ? { rejectUnauthorized: false } : {}),
            },
            (response) => {
                const chunks: Buffer[] = [];
                response.on("data", (chunk: Buffer) => chunks.push(chunk));
                response.on("end", () => {
                    const status = response.statusCode ?? 0;
                    const text = Buffer.concat(chunks).toString("utf8");
                    let body: any;
                    try {
                        body = text === "" ? undefined : JSON.parse(text);
                    } catch {
                        reject(
                            fail(
                                `Rancher answered ${status} with no JSON; is rancher2:apiUrl Rancher?`,
                                status,
                            ),
                        );
                        return;
                    }
                    if (status === 404 && isNotFound(body)) {
                        resolve({ status, body });
                    } else if (status < 200 || status >= 300) {
                        reject(fail(`Rancher answered ${status}`, status));
                    } else {
                        resolve({ status, body });
                    }
                });
            },
        );
        request.on("error", (error) => reject(fail(requestFailure(error))));
        request.end();
    });
}

/**
 * Node.js 24 and later end a certificate error with a hint about its --use-system-ca flag; the
 * reason alone reads the same on every supported Node.js, and the CA this client trusts is
 * Rancher's cacerts setting (docs/site-prerequisites.md).
 */
const systemCaHint =
    /; if the root CA is installed locally, try running Node\.js with --use-system-ca$/;

function requestFailure(error: Error): string {
    return error.message.replace(systemCaHint, "");
}

export const duration = (ms: number) =>
    ms >= 60_000 ? `${Math.round(ms / 60_000)} min` : `${Math.round(ms / 1000)} s`;

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The id of the downstream cluster Rancher runs for provisioning cluster `rancherCluster` (its
 * `status.clusterName`), the one its `/k8s/clusters/<id>` proxy answers for; undefined while
 * Rancher has none.
 */
export async function downstreamClusterId(
    api: RancherApi,
    rancherCluster: string,
): Promise<string | undefined> {
    const cluster = await call(
        api,
        "GET",
        `/v1/provisioning.cattle.io.clusters/${fleetNamespace}/${rancherCluster}`,
    );
    const clusterId: string | undefined = cluster.body?.status?.clusterName;
    return cluster.status === 404 || !clusterId ? undefined : clusterId;
}

/**
 * Deletes the Rancher machine of `node` in `rancherCluster` and waits until the downstream Node
 * is gone. Idempotent: a machine or cluster that no longer exists is nothing to do.
 */
export async function removeRancherMachine(
    api: RancherApi,
    rancherCluster: string,
    node: string,
    options: RemovalOptions,
): Promise<string> {
    const log = options.log ?? (() => undefined);
    const clusterId = await downstreamClusterId(api, rancherCluster);
    if (clusterId === undefined) {
        return `Rancher has no cluster ${rancherCluster}; nothing to remove`;
    }
    // Steve's SQL cache ignores labelSelector on some Rancher versions: filter here as well.
    const selector = encodeURIComponent(`cluster.x-k8s.io/cluster-name=${rancherCluster}`);
    const list = await call(
        api,
        "GET",
        `/v1/cluster.x-k8s.io.machines/${fleetNamespace}?labelSelector=${selector}`,
    );
    const machines: Machine[] = list.body?.data ?? [];
    const machine = machines.find(
        (m) =>
            m.metadata.labels?.["cluster.x-k8s.io/cluster-name"] === rancherCluster &&
            (m.status?.nodeRef?.name === node ||
                m.metadata.labels?.["rke.cattle.io/node-name"] === node),
    );
    if (machine) {
        log(`deleting Rancher machine ${machine.metadata.name} of node ${node}`);
        await call(
            api,
            "DELETE",
            `/v1/cluster.x-k8s.io.machines/${fleetNamespace}/${machine.metadata.name}`,
        );
    }
    const deadline = Date.now() + options.timeoutMs;
    for (;;) {
        const found = await call(api, "GET", `/k8s/clusters/${clusterId}/api/v1/nodes/${node}`);
        if (found.status === 404) {
            return `node ${node} left ${rancherCluster}`;
        }
        if (Date.now() >= deadline) {
            throw new RancherError(
                `node ${node} is still in ${rancherCluster} ${duration(options.timeoutMs)} after its Rancher machine was deleted (a PodDisruptionBudget can block its drain); its VM is kept. Resolve it in Rancher and run pulumi up again`,
            );
        }
        await sleep(options.pollMs);
    }
}
