import { createHash } from "crypto";
import { mkdirSync, readFileSync } from "fs";
import { IncomingMessage, ServerResponse } from "http";
import { Server, createServer } from "https";
import { AddressInfo } from "net";
import { stringify } from "yaml";
import { issueCert, makeCa } from "./certs";

/**
 * Rancher on loopback, over HTTPS with a private CA, as far as the real rancher2 provider
 * (terraform-provider-rancher2 at the pinned commit, through pulumi-rancher2) and our hooks
 * (runtime/nodeRemoval.ts, runtime/nodeJoin.ts) use it:
 *
 * - `/ping`, and norman's discovery of `/v3` and Steve's `/k8s/clusters/local/v1` (the
 *   `X-API-Schemas` header and schema collections: rancher/norman clientbase/common.go);
 * - the settings the provider reads (`k8s-version` and `server-version` on first use, config.go;
 *   `cacerts` for getSetting);
 * - Steve's `provisioning.cattle.io.clusters` with their `Created` condition and `clusterName`,
 *   the v3 cluster with its `Updated` and `Connected` conditions and `generateKubeconfig` action,
 *   its `default-token` registration token, projects, nodes and the kubeconfig token's validity;
 * - the removal hook's Steve machines and the join hook's downstream Nodes.
 *
 * Each request is checked as real Rancher would: the API token, a JSON body where one is needed,
 * a cluster object its webhook admits, the resourceVersion of an update. What it refuses is
 * answered as Rancher answers and kept in `refused`; every request is kept in `requests`.
 * The test plays each node's agent by registering its machine once the node's guest runs.
 */
export interface FakeRancher {
    url: string;
    /** Rancher's `cacerts` setting: the private CA its certificate is issued by. */
    caCerts: string;
    /** Requests in order, as `METHOD path?query status`. */
    requests: string[];
    /** Requests Rancher would refuse, with why. */
    refused: string[];
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

/** The API token the provider and hooks send (RANCHER_TOKEN_KEY). */
export const rancherToken = "token-e2e:rancher";
/** The token of the kubeconfigs Rancher generates (its id before the colon). */
const kubeconfigToken = "kubeconfig-u-e2e:kubeconfig-secret";
/** What `server-version` says: the provider compares it with 2.6.0 (util.go). */
export const rancherServerVersion = "v2.12.3";

interface Cluster {
    id: string;
    /** The Steve object as stored: metadata, spec and status. */
    object: any;
    resourceVersion: number;
    machines: Map<string, string>;
}

const fleetNamespace = "fleet-default";

/** Rancher's v1 cluster id (`c-m-` and 8 characters), stable for a name. */
export function clusterV1Id(name: string): string {
    return `c-m-${createHash("sha256").update(name).digest("hex").slice(0, 8)}`;
}

/** A registration token's secret, stable for a cluster id. */
export function registrationSecret(clusterId: string): string {
    return `e2e-registration-token-${clusterId}`;
}

function readBody(request: IncomingMessage): Promise<string> {
    return new Promise((resolve) => {
        const chunks: Buffer[] = [];
        request.on("data", (chunk: Buffer) => chunks.push(chunk));
        request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    });
}

/** A condition as wrangler's genericcondition marshals it. */
const condition = (type: string, status: boolean) => ({
    type,
    status: status ? "True" : "Unknown",
    lastUpdateTime: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    reason: "",
    message: "",
});

/** A norman schema (rancher/norman types/types.go): what the Go client reads of it. */
function schema(
    base: string,
    id: string,
    pluralName: string,
    collectionMethods: string[],
    resourceMethods: string[],
) {
    return {
        id,
        type: "schema",
        pluralName,
        links: { self: `${base}/schemas/${id}`, collection: `${base}/${pluralName}` },
        collectionMethods,
        resourceMethods,
        resourceFields: {},
    };
}

/**
 * What Rancher's webhook and the CRD's schema refuse of a provisioning cluster (rancher/webhook
 * pkg/resources/provisioning.cattle.io/v1/cluster/validator.go; rancher pkg/apis
 * provisioning.cattle.io/v1 cluster_types.go), as far as our clusters use it.
 */
function clusterProblems(body: any, name: string): string[] {
    const problems: string[] = [];
    if (body?.apiVersion !== "provisioning.cattle.io/v1" || body?.kind !== "Cluster") {
        problems.push(`apiVersion/kind: ${body?.apiVersion}/${body?.kind}`);
    }
    const meta = body?.metadata ?? {};
    if (meta.name !== name || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name) || name.length > 63) {
        problems.push(`metadata.name: ${JSON.stringify(meta.name)} is not a DNS-1123 label`);
    }
    if (meta.namespace !== fleetNamespace) {
        problems.push(`metadata.namespace: ${meta.namespace}`);
    }
    for (const key of ["labels", "annotations"]) {
        const values = Object.values(meta[key] ?? {});
        if (values.some((value) => typeof value !== "string")) {
            problems.push(`metadata.${key}: not all strings`);
        }
    }
    const spec = body?.spec ?? {};
    if (!/^v1\.\d+\.\d+\+(k3s|rke2r)\d+$/.test(spec.kubernetesVersion ?? "")) {
        problems.push(`spec.kubernetesVersion: ${JSON.stringify(spec.kubernetesVersion)}`);
    }
    const rke = spec.rkeConfig;
    if (typeof rke !== "object" || rke === null) {
        problems.push("spec.rkeConfig: a custom cluster needs one");
    } else {
        for (const key of ["machineGlobalConfig", "chartValues"]) {
            if (rke[key] !== undefined && rke[key] !== null && typeof rke[key] !== "object") {
                problems.push(`spec.rkeConfig.${key}: not an object`);
            }
        }
    }
    const endpoint = spec.localClusterAuthEndpoint ?? {};
    if (endpoint.enabled && !/^[^/:]+(:\d+)?$/.test(endpoint.fqdn ?? "")) {
        problems.push(`spec.localClusterAuthEndpoint.fqdn: ${JSON.stringify(endpoint.fqdn)}`);
    }
    return problems;
}

/**
 * Starts the fake Rancher with its CA and certificate in `dir`. `vmPresent(node)` is asked when a
 * machine is deleted, so the test can show that the hook ran while the node's VM still existed.
 */
export async function startFakeRancher(
    dir: string,
    vmPresent: (rancherCluster: string, node: string) => Promise<boolean>,
): Promise<FakeRancher> {
    mkdirSync(dir, { recursive: true });
    const ca = makeCa(dir, "rancher-ca");
    const serving = issueCert(dir, ca, "rancher", "rancher", "server");
    const caCerts = readFileSync(ca.cert, "utf8");
    const clusters = new Map<string, Cluster>();
    const removals: FakeRancher["removals"] = [];
    const registrations: FakeRancher["registrations"] = [];
    const requests: string[] = [];
    const refused: string[] = [];
    let url = "";

    const byId = (id: string) => [...clusters.values()].find((c) => c.id === id);
    const nameOf = (cluster: Cluster) => cluster.object.metadata.name as string;
    const joined = (cluster: Cluster) => cluster.machines.size > 0;

    /** The kubeconfig Rancher generates: its proxy, and the direct endpoint when enabled. */
    function kubeconfig(cluster: Cluster): string {
        const name = nameOf(cluster);
        const endpoint = cluster.object.spec.localClusterAuthEndpoint ?? {};
        const entries = [
            {
                name,
                cluster: {
                    server: `${url}/k8s/clusters/${cluster.id}`,
                    "certificate-authority-data": Buffer.from(caCerts).toString("base64"),
                },
            },
            ...(endpoint.enabled
                ? [{ name: `${name}-fqdn`, cluster: { server: `https://${endpoint.fqdn}` } }]
                : []),
        ];
        return stringify({
            apiVersion: "v1",
            kind: "Config",
            clusters: entries,
            users: [{ name, user: { token: kubeconfigToken } }],
            contexts: entries.map((entry) => ({
                name: entry.name,
                context: { user: name, cluster: entry.name },
            })),
            "current-context": name,
        });
    }

    /** The v3 view of a cluster (management.cattle.io Cluster through norman). */
    function v3Cluster(cluster: Cluster) {
        const self = `${url}/v3/clusters/${cluster.id}`;
        const up = joined(cluster);
        return {
            id: cluster.id,
            type: "cluster",
            name: nameOf(cluster),
            state: up ? "active" : "provisioning",
            conditions: [condition("Updated", up), condition("Connected", up)],
            caCert: Buffer.from(caCerts).toString("base64"),
            localClusterAuthEndpoint: cluster.object.spec.localClusterAuthEndpoint ?? {},
            labels: cluster.object.metadata.labels ?? {},
            annotations: cluster.object.metadata.annotations ?? {},
            links: { self },
            actions: { generateKubeconfig: `${self}?action=generateKubeconfig` },
        };
    }

    /** Rancher's registration token (rancher pkg/api/norman/store/cluster/registrationtoken.go). */
    function registrationToken(cluster: Cluster) {
        const secret = registrationSecret(cluster.id);
        const install = `${url}/system-agent-install.sh`;
        const checksum = createHash("sha256").update(caCerts).digest("hex");
        const flags = `--server ${url} --label 'cattle.io/os=linux' --token ${secret}`;
        const id = `${cluster.id}:default-token`;
        return {
            id,
            type: "clusterRegistrationToken",
            state: "active",
            clusterId: cluster.id,
            name: "default-token",
            token: secret,
            command: `kubectl apply -f ${url}/v3/import/${secret}_${cluster.id}.yaml`,
            insecureCommand: `curl --insecure -sfL ${url}/v3/import/${secret}_${cluster.id}.yaml | kubectl apply -f -`,
            // provisioningV2NodeCommandFormat: a leading space and two after `sudo`.
            nodeCommand: ` curl -fL ${install} | sudo  sh -s - ${flags} --ca-checksum ${checksum}`,
            insecureNodeCommand: ` curl --insecure -fL ${install} | sudo  sh -s - ${flags}`,
            manifestUrl: `${url}/v3/import/${secret}_${cluster.id}.yaml`,
            windowsNodeCommand: "",
            insecureWindowsNodeCommand: "",
            annotations: {},
            labels: {},
            links: { self: `${url}/v3/clusterregistrationtokens/${id}` },
        };
    }

    /** The Steve object, with its links under the prefix it was asked for. */
    function steveCluster(steveBase: string, cluster: Cluster) {
        const self = `${steveBase}/provisioning.cattle.io.clusters/${fleetNamespace}/${nameOf(cluster)}`;
        return {
            id: `${fleetNamespace}/${nameOf(cluster)}`,
            type: "provisioning.cattle.io.cluster",
            links: { self, update: self, remove: self, view: self },
            ...cluster.object,
            metadata: { ...cluster.object.metadata, resourceVersion: `${cluster.resourceVersion}` },
            status: {
                clusterName: cluster.id,
                fleetWorkspaceName: fleetNamespace,
                ready: joined(cluster),
                observedGeneration: cluster.resourceVersion,
                conditions: [
                    condition("Created", true),
                    condition("Updated", true),
                    condition("Ready", joined(cluster)),
                ],
            },
        };
    }

    const handle = async (request: IncomingMessage, response: ServerResponse) => {
        const { pathname, searchParams } = new URL(request.url ?? "/", "https://rancher");
        const method = request.method ?? "GET";
        const raw = await readBody(request);
        const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
            requests.push(`${method} ${request.url} ${status}`);
            response.writeHead(status, { "Content-Type": "application/json", ...headers });
            response.end(typeof body === "string" ? body : JSON.stringify(body));
        };
        // Norman's and Steve's error body (rancher/apiserver pkg/apierror).
        const refuse = (status: number, code: string, message: string) => {
            refused.push(`${method} ${request.url}: ${status} ${code}: ${message}`);
            send(status, { type: "error", status: `${status}`, code, message });
        };
        const notFound = () =>
            send(404, { type: "error", status: "404", code: "NotFound", message: "not found" });

        if (pathname === "/ping") {
            // Plain `pong`: the provider compares the body (config.go isRancherReady).
            send(200, "pong", { "Content-Type": "text/plain" });
            return;
        }
        const auth = request.headers.authorization;
        if (auth !== `Bearer ${rancherToken}` && auth !== `Bearer ${kubeconfigToken}`) {
            refuse(401, "Unauthorized", `must authenticate (Authorization: ${auth ?? "none"})`);
            return;
        }
        let body: any;
        if (method === "POST" || method === "PUT") {
            if (raw !== "") {
                try {
                    body = JSON.parse(raw);
                } catch {
                    refuse(422, "InvalidBodyContent", `not JSON: ${raw.slice(0, 80)}`);
                    return;
                }
            }
        }
        const parts = pathname.split("/").filter((p) => p !== "");

        // Steve on the local cluster: `/v1` (our hooks) and `/k8s/clusters/local/v1` (the provider).
        const steve =
            parts[0] === "v1"
                ? { base: `${url}/v1`, rest: parts.slice(1) }
                : parts.slice(0, 4).join("/") === "k8s/clusters/local/v1"
                  ? { base: `${url}/k8s/clusters/local/v1`, rest: parts.slice(4) }
                  : undefined;
        if (steve) {
            const [collection, namespace, name] = steve.rest;
            if (collection === undefined) {
                send(
                    200,
                    { type: "collection", links: { schemas: `${steve.base}/schemas` } },
                    {
                        "X-API-Schemas": `${steve.base}/schemas`,
                    },
                );
            } else if (collection === "schemas") {
                send(200, {
                    type: "collection",
                    data: [
                        schema(
                            steve.base,
                            "provisioning.cattle.io.cluster",
                            "provisioning.cattle.io.clusters",
                            ["GET", "POST"],
                            ["GET", "PUT", "DELETE"],
                        ),
                        schema(
                            steve.base,
                            "cluster.x-k8s.io.machine",
                            "cluster.x-k8s.io.machines",
                            ["GET"],
                            ["GET", "DELETE"],
                        ),
                    ],
                });
            } else if (collection === "provisioning.cattle.io.clusters") {
                await provisioningClusters(steve.base, namespace, name);
            } else if (collection === "cluster.x-k8s.io.machines") {
                await machines(name);
            } else {
                notFound();
            }
            return;
        }

        async function provisioningClusters(base: string, namespace?: string, name?: string) {
            if (method === "POST" && namespace === undefined) {
                const wanted = body?.metadata?.name;
                const problems = clusterProblems(body, wanted);
                if (problems.length > 0) {
                    refuse(
                        400,
                        "BadRequest",
                        `admission webhook denied the request: ${problems.join("; ")}`,
                    );
                } else if (clusters.has(wanted)) {
                    refuse(
                        409,
                        "AlreadyExists",
                        `clusters.provisioning.cattle.io "${wanted}" already exists`,
                    );
                } else {
                    const cluster: Cluster = {
                        id: clusterV1Id(wanted),
                        object: {
                            apiVersion: body.apiVersion,
                            kind: body.kind,
                            metadata: body.metadata,
                            spec: body.spec,
                        },
                        resourceVersion: 1,
                        machines: new Map(),
                    };
                    clusters.set(wanted, cluster);
                    send(201, steveCluster(base, cluster));
                }
                return;
            }
            const cluster = namespace === fleetNamespace ? clusters.get(name ?? "") : undefined;
            if (!cluster) {
                notFound();
            } else if (method === "GET") {
                send(200, steveCluster(base, cluster));
            } else if (method === "PUT") {
                const problems = clusterProblems(body, cluster.object.metadata.name);
                if (problems.length > 0) {
                    refuse(
                        400,
                        "BadRequest",
                        `admission webhook denied the request: ${problems.join("; ")}`,
                    );
                } else if (body.metadata.resourceVersion !== `${cluster.resourceVersion}`) {
                    refuse(
                        409,
                        "Conflict",
                        `the object has been modified (resourceVersion ${body.metadata.resourceVersion}, now ${cluster.resourceVersion})`,
                    );
                } else {
                    // Status is the controllers'; an update changes metadata and spec only.
                    cluster.object = {
                        ...cluster.object,
                        metadata: body.metadata,
                        spec: body.spec,
                    };
                    cluster.resourceVersion += 1;
                    send(200, steveCluster(base, cluster));
                }
            } else if (method === "DELETE") {
                clusters.delete(name!);
                send(200, steveCluster(base, cluster));
            } else {
                refuse(405, "MethodNotAllowed", method);
            }
        }

        async function machines(name?: string) {
            if (method === "DELETE") {
                for (const [rancherCluster, cluster] of clusters) {
                    const node = cluster.machines.get(name ?? "");
                    if (node !== undefined) {
                        removals.push({
                            rancherCluster,
                            node,
                            vmPresent: await vmPresent(rancherCluster, node),
                        });
                        cluster.machines.delete(name!);
                        send(200, {});
                        return;
                    }
                }
                notFound();
                return;
            }
            const selector = searchParams.get("labelSelector") ?? "";
            const rancherCluster = selector.replace("cluster.x-k8s.io/cluster-name=", "");
            const found = [...(clusters.get(rancherCluster)?.machines ?? new Map())];
            send(200, {
                type: "collection",
                data: found.map(([machine, node]) => ({
                    id: `${fleetNamespace}/${machine}`,
                    type: "cluster.x-k8s.io.machine",
                    metadata: {
                        name: machine,
                        namespace: fleetNamespace,
                        labels: { "cluster.x-k8s.io/cluster-name": rancherCluster },
                    },
                    status: { nodeRef: { name: node } },
                })),
            });
        }

        if (parts[0] === "k8s" && parts[1] === "clusters") {
            const cluster = byId(parts[2]);
            if (cluster && parts[3] === "version") {
                // The provider checks a kubeconfig it holds by reaching the cluster through it.
                const [, minor] = cluster.object.spec.kubernetesVersion.match(/^v1\.(\d+)/)!;
                send(200, { major: "1", minor, gitVersion: cluster.object.spec.kubernetesVersion });
            } else if (cluster && parts.slice(3, 6).join("/") === "api/v1/nodes") {
                // The downstream cluster's Node, for the join hook.
                const node = parts[6];
                if ([...cluster.machines.values()].includes(node)) {
                    send(200, { kind: "Node", metadata: { name: node } });
                } else {
                    send(404, { kind: "Status", reason: "NotFound", code: 404 });
                }
            } else {
                notFound();
            }
            return;
        }

        if (parts[0] !== "v3") {
            notFound();
            return;
        }
        const base = `${url}/v3`;
        const [, collection, id] = parts;
        const decodedId = id === undefined ? undefined : decodeURIComponent(id);
        if (collection === undefined) {
            send(
                200,
                { type: "collection", links: { schemas: `${base}/schemas` } },
                {
                    "X-API-Schemas": `${base}/schemas`,
                },
            );
        } else if (collection === "schemas") {
            send(200, {
                type: "collection",
                data: [
                    schema(base, "setting", "settings", ["GET"], ["GET"]),
                    schema(base, "cluster", "clusters", ["GET"], ["GET"]),
                    schema(
                        base,
                        "clusterRegistrationToken",
                        "clusterregistrationtokens",
                        ["GET", "POST"],
                        ["GET"],
                    ),
                    schema(base, "project", "projects", ["GET"], ["GET"]),
                    schema(base, "node", "nodes", ["GET"], ["GET"]),
                    schema(base, "token", "tokens", ["GET", "POST"], ["GET"]),
                ],
            });
        } else if (collection === "settings") {
            const settings: Record<string, string> = {
                cacerts: caCerts,
                "server-version": rancherServerVersion,
                "k8s-version": "v1.31.5+rke2r1",
            };
            if (decodedId !== undefined && decodedId in settings) {
                send(200, {
                    id: decodedId,
                    type: "setting",
                    name: decodedId,
                    value: settings[decodedId],
                    links: { self: `${base}/settings/${decodedId}` },
                });
            } else {
                notFound();
            }
        } else if (collection === "clusters") {
            if (decodedId === undefined) {
                const name = searchParams.get("name");
                const data = [...clusters.values()]
                    .filter((c) => name === null || nameOf(c) === name)
                    .map(v3Cluster);
                send(200, { type: "collection", resourceType: "cluster", data });
                return;
            }
            const cluster = byId(decodedId);
            if (!cluster) {
                notFound();
            } else if (method === "POST" && searchParams.get("action") === "generateKubeconfig") {
                send(200, { type: "generateKubeConfigOutput", config: kubeconfig(cluster) });
            } else if (method === "GET") {
                send(200, v3Cluster(cluster));
            } else {
                refuse(405, "MethodNotAllowed", `${method} on a cluster`);
            }
        } else if (collection === "clusterregistrationtokens") {
            const clusterId = decodedId?.split(":")[0] ?? body?.clusterId;
            const cluster = byId(clusterId ?? "");
            if (!cluster) {
                notFound();
            } else if (method === "POST" || decodedId === `${cluster.id}:default-token`) {
                send(method === "POST" ? 201 : 200, registrationToken(cluster));
            } else {
                notFound();
            }
        } else if (collection === "projects") {
            const cluster = byId(searchParams.get("clusterId") ?? "");
            const project = (kind: "default" | "system") => ({
                id: `${cluster!.id}:p-${kind}`,
                type: "project",
                clusterId: cluster!.id,
                name: kind === "default" ? "Default" : "System",
                labels: { [`authz.management.cattle.io/${kind}-project`]: "true" },
            });
            send(200, {
                type: "collection",
                data: cluster ? [project("default"), project("system")] : [],
            });
        } else if (collection === "nodes") {
            const cluster = byId(searchParams.get("clusterId") ?? "");
            const data = [...(cluster?.machines ?? new Map())].map(([machine, node]) => ({
                id: `${cluster!.id}:${machine}`,
                type: "node",
                clusterId: cluster!.id,
                nodeName: node,
                hostname: node,
                requestedHostname: node,
            }));
            send(200, { type: "collection", data });
        } else if (collection === "tokens" && decodedId === kubeconfigToken.split(":")[0]) {
            send(200, { id: decodedId, type: "token", enabled: true, expired: false });
        } else {
            notFound();
        }
    };

    const server: Server = createServer(
        { cert: readFileSync(serving.cert), key: readFileSync(serving.key) },
        (request, response) => {
            handle(request, response).catch((error) => {
                refused.push(`${request.method} ${request.url}: 500 ${error}`);
                response.writeHead(500, { "Content-Type": "application/json" });
                response.end(JSON.stringify({ type: "error", status: "500", message: `${error}` }));
            });
        },
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return {
        url,
        caCerts,
        requests,
        refused,
        clusters: () =>
            Object.fromEntries([...clusters].map(([name, cluster]) => [name, cluster.id])),
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
