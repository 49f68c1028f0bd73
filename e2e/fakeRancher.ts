import { createHash } from "crypto";
import { IncomingMessage, Server, ServerResponse, createServer } from "http";
import { AddressInfo } from "net";
import { rootCertificates } from "tls";
import { stringify } from "yaml";

/**
 * Just enough of Rancher on loopback for the suite: the Steve and v3 paths the node removal hook
 * (lib/nodeRemoval.ts), the node join hook (lib/nodeJoin.ts) and the rancher2 stand-in provider
 * (e2e/standIns/rancher2.ts) call. The test plays each node's agent by registering its machine
 * once the node's guest runs.
 */
export interface FakeRancher {
    url: string;
    /** Rancher's `cacerts` setting: a real PEM certificate, so cloud-init gets a CA to install. */
    caCerts: string;
    /** Rancher cluster names with their v1 ids. */
    clusters(): Record<string, string>;
    /** A node's agent registered: its machine and downstream Node now exist. */
    registerNode(rancherCluster: string, node: string): void;
    /** Registrations that added a node, in order, with when (`Date.now()`). */
    registrations: { rancherCluster: string; node: string; at: number }[];
    /** Machine deletions, in order, with whether the hook's caller saw the VM still there. */
    removals: { rancherCluster: string; node: string; vmPresent: boolean }[];
    stop(): Promise<void>;
}

interface Cluster {
    id: string;
    fqdn?: string;
    machines: Map<string, string>;
}

const fleetNamespace = "fleet-default";

/** Rancher's v1 cluster id (`c-m-` and 8 characters), stable for a name. */
export function clusterV1Id(name: string): string {
    return `c-m-${createHash("sha256").update(name).digest("hex").slice(0, 8)}`;
}

/** The kubeconfig Rancher generates: its proxy, and the direct endpoint when one is enabled. */
function kubeconfig(url: string, name: string, cluster: Cluster): string {
    const entries = [
        { name, cluster: { server: `${url}/k8s/clusters/${cluster.id}` } },
        ...(cluster.fqdn
            ? [{ name: `${name}-fqdn`, cluster: { server: `https://${cluster.fqdn}` } }]
            : []),
    ];
    return stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: entries,
        users: [{ name, user: { token: `kubeconfig-u-e2e:${cluster.id}-kubeconfig-token` } }],
        contexts: entries.map((entry) => ({
            name: entry.name,
            context: { user: name, cluster: entry.name },
        })),
        "current-context": name,
    });
}

function readBody(request: IncomingMessage): Promise<any> {
    return new Promise((resolve) => {
        const chunks: Buffer[] = [];
        request.on("data", (chunk: Buffer) => chunks.push(chunk));
        request.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            resolve(text === "" ? undefined : JSON.parse(text));
        });
    });
}

/**
 * Starts the fake Rancher. `vmPresent(node)` is asked when a machine is deleted, so the test can
 * show that the hook ran while the node's VM still existed.
 */
export async function startFakeRancher(
    vmPresent: (rancherCluster: string, node: string) => Promise<boolean>,
): Promise<FakeRancher> {
    const clusters = new Map<string, Cluster>();
    const removals: FakeRancher["removals"] = [];
    const registrations: FakeRancher["registrations"] = [];
    const caCerts = rootCertificates[0];
    let url = "";

    const send = (response: ServerResponse, status: number, body: unknown) => {
        response.writeHead(status, { "Content-Type": "application/json" });
        response.end(JSON.stringify(body));
    };
    // Steve's answer for a missing object (rancher/steve pkg/stores/proxy).
    const notFound = (response: ServerResponse) =>
        send(response, 404, { type: "error", status: "404", code: "NotFound" });

    const handle = async (request: IncomingMessage, response: ServerResponse) => {
        const { pathname, searchParams } = new URL(request.url ?? "/", "http://rancher");
        const method = request.method ?? "GET";
        const parts = pathname.split("/").filter((p) => p !== "");
        const [version, collection, namespace, name] = parts;
        if (request.headers.authorization !== "Bearer token-e2e:rancher") {
            send(response, 401, { type: "error", status: "401", code: "Unauthorized" });
            return;
        }
        if (version === "v1" && collection === "provisioning.cattle.io.clusters") {
            if (method === "POST") {
                const body = await readBody(request);
                const cluster = {
                    id: clusterV1Id(body.metadata.name),
                    fqdn: body.spec?.localClusterAuthEndpoint?.fqdn,
                    machines: clusters.get(body.metadata.name)?.machines ?? new Map(),
                };
                clusters.set(body.metadata.name, cluster);
                send(response, 201, { ...body, status: { clusterName: cluster.id } });
                return;
            }
            const cluster = namespace === fleetNamespace ? clusters.get(name) : undefined;
            if (!cluster) {
                notFound(response);
            } else if (method === "DELETE") {
                clusters.delete(name);
                send(response, 200, {});
            } else {
                send(response, 200, { metadata: { name }, status: { clusterName: cluster.id } });
            }
            return;
        }
        if (version === "v1" && collection === "cluster.x-k8s.io.machines") {
            if (method === "DELETE") {
                for (const [rancherCluster, cluster] of clusters) {
                    const node = cluster.machines.get(name);
                    if (node !== undefined) {
                        removals.push({
                            rancherCluster,
                            node,
                            vmPresent: await vmPresent(rancherCluster, node),
                        });
                        cluster.machines.delete(name);
                        send(response, 200, {});
                        return;
                    }
                }
                notFound(response);
                return;
            }
            const selector = searchParams.get("labelSelector") ?? "";
            const rancherCluster = selector.replace("cluster.x-k8s.io/cluster-name=", "");
            const machines = [...(clusters.get(rancherCluster)?.machines ?? new Map())];
            send(response, 200, {
                data: machines.map(([machine, node]) => ({
                    metadata: {
                        name: machine,
                        labels: { "cluster.x-k8s.io/cluster-name": rancherCluster },
                    },
                    status: { nodeRef: { name: node } },
                })),
            });
            return;
        }
        if (version === "k8s" && collection === "clusters") {
            // /k8s/clusters/<id>/api/v1/nodes/<node>: the downstream cluster's Node.
            const node = parts[6];
            const cluster = [...clusters.values()].find((c) => c.id === namespace);
            if (cluster && [...cluster.machines.values()].includes(node)) {
                send(response, 200, { kind: "Node", metadata: { name: node } });
            } else {
                send(response, 404, { kind: "Status", reason: "NotFound", code: 404 });
            }
            return;
        }
        if (version === "v3" && collection === "clusters") {
            const entry = [...clusters].find(([n, c]) => c.id === namespace || n === namespace);
            if (!entry) {
                notFound(response);
            } else if (searchParams.get("action") === "generateKubeconfig") {
                send(response, 200, { config: kubeconfig(url, entry[0], entry[1]) });
            } else {
                send(response, 200, {
                    id: entry[1].id,
                    name: entry[0],
                    caCert: Buffer.from(caCerts).toString("base64"),
                    nodes: [...entry[1].machines.values()],
                });
            }
            return;
        }
        if (version === "v3" && collection === "settings" && namespace === "cacerts") {
            send(response, 200, { id: "cacerts", name: "cacerts", value: caCerts });
            return;
        }
        notFound(response);
    };

    const server: Server = createServer((request, response) => {
        handle(request, response).catch((error) => send(response, 500, { message: `${error}` }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return {
        url,
        caCerts,
        clusters: () => Object.fromEntries([...clusters].map(([name, c]) => [name, c.id])),
        registerNode(rancherCluster, node) {
            const cluster = clusters.get(rancherCluster);
            if (cluster && ![...cluster.machines.values()].includes(node)) {
                const machine = `custom-${createHash("sha256").update(node).digest("hex").slice(0, 12)}`;
                cluster.machines.set(machine, node);
                registrations.push({ rancherCluster, node, at: Date.now() });
            }
        },
        registrations,
        removals,
        stop: () => new Promise((resolve) => server.close(() => resolve())),
    };
}
