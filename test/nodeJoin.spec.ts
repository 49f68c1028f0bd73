import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { IncomingMessage, ServerResponse, createServer } from "http";
import { AddressInfo } from "net";
import { nodeJoinHook } from "../components";
import { JoiningNode, joiningNodes, waitForNodeJoin } from "../runtime/nodeJoin";
import { planStack } from "../lib/plan/stackPlan";
import { rawStackConfig } from "../lib/config/stackFile";
import { setupMocks, stackConfig, withEnvironment } from "./mocks";

/**
 * Rancher as the join wait reads it. Poll by poll: the provisioning cluster exists from poll
 * `clusterFrom`, Rancher's proxy answers 503 (no agent connected yet) before poll `proxyFrom`,
 * and every downstream Node exists from poll `nodeFrom`; `status` answers every request instead.
 */
async function fakeRancher(script: {
    clusterFrom?: number;
    proxyFrom?: number;
    nodeFrom?: number;
    status?: number;
}) {
    const requests: string[] = [];
    let polls = 0;
    const handler = (request: IncomingMessage, response: ServerResponse) => {
        requests.push(`${request.method} ${request.url} ${request.headers.authorization}`);
        const send = (status: number, body: unknown) => {
            response.writeHead(status, { "content-type": "application/json" });
            response.end(JSON.stringify(body));
        };
        if (script.status !== undefined) {
            return send(script.status, { type: "error", status: `${script.status}` });
        }
        if (request.url === "/v1/provisioning.cattle.io.clusters/fleet-default/france-core") {
            polls++;
            return polls >= (script.clusterFrom ?? 0)
                ? send(200, { status: { clusterName: "c-m-abc123" } })
                : send(404, { type: "error", status: "404", code: "NotFound" });
        }
        if (request.url?.startsWith("/k8s/clusters/c-m-abc123/api/v1/nodes/")) {
            if (polls < (script.proxyFrom ?? 0)) {
                return send(503, { type: "error", status: "503", code: "ClusterUnavailable" });
            }
            return polls >= (script.nodeFrom ?? 0)
                ? send(200, { kind: "Node" })
                : send(404, { kind: "Status", reason: "NotFound", code: 404 });
        }
        return send(404, { message: "no route" });
    };
    const server = createServer(handler);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    return {
        url: `http://127.0.0.1:${port}`,
        requests,
        close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
}

type Rancher = Awaited<ReturnType<typeof fakeRancher>>;

async function withRancher(
    script: Parameters<typeof fakeRancher>[0],
    body: (rancher: Rancher) => Promise<void>,
): Promise<void> {
    const rancher = await fakeRancher(script);
    try {
        await body(rancher);
    } finally {
        await rancher.close();
    }
}

const worker1: JoiningNode = {
    site: "france",
    cluster: "core",
    node: "worker1",
    namespace: "core",
    vmName: "core-worker1",
};

/** Waits for worker1 of france's core through `rancher`, polling every 10 ms. */
function waitForWorker1(rancher: Rancher, timeoutMs = 5000, log?: (message: string) => void) {
    return waitForNodeJoin({ url: rancher.url, token: "token-x:y" }, worker1, {
        timeoutMs,
        pollMs: 10,
        log,
    });
}

describe("waiting for a created node to join its cluster", () => {
    it("waits for every planned node of the ClusterSync's cluster, and for nothing else", () => {
        const { plan } = planStack(rawStackConfig(stackConfig("france")));
        assert.deepStrictEqual(
            joiningNodes(plan, "core-sync").map((n) => n.node),
            ["server1", "server2", "server3", "worker1", "worker2"],
        );
        assert.deepStrictEqual(joiningNodes(plan, "core-sync")[3], worker1);
        assert.deepStrictEqual(joiningNodes(plan, "core-worker1"), []);
    });

    it("polls Rancher until it lists the downstream Node", () =>
        withRancher({ nodeFrom: 3 }, async (rancher) => {
            const log: string[] = [];
            const outcome = await waitForWorker1(rancher, 5000, (m) => log.push(m));
            assert.strictEqual(outcome, "node worker1 joined france-core");
            const cluster =
                "GET /v1/provisioning.cattle.io.clusters/fleet-default/france-core Bearer token-x:y";
            const node = "GET /k8s/clusters/c-m-abc123/api/v1/nodes/worker1 Bearer token-x:y";
            assert.deepStrictEqual(rancher.requests, [cluster, node, cluster, node, cluster, node]);
            // Said once, not on every poll.
            assert.deepStrictEqual(log, [
                "waiting for node worker1 to join france-core: Rancher lists no node worker1 in france-core yet",
            ]);
        }));

    it("waits out a cluster Rancher has not created yet and its proxy's errors before an agent connects", () =>
        withRancher({ clusterFrom: 2, proxyFrom: 3, nodeFrom: 4 }, async (rancher) => {
            const log: string[] = [];
            const outcome = await waitForWorker1(rancher, 5000, (m) => log.push(m));
            assert.strictEqual(outcome, "node worker1 joined france-core");
            assert.deepStrictEqual(log, [
                "waiting for node worker1 to join france-core: Rancher has no cluster france-core yet",
                "waiting for node worker1 to join france-core: GET /k8s/clusters/c-m-abc123/api/v1/nodes/worker1: Rancher answered 503",
                "waiting for node worker1 to join france-core: Rancher lists no node worker1 in france-core yet",
            ]);
        }));

    it("fails, naming the node and where to look, when it has not joined in time", () =>
        withRancher({ nodeFrom: Number.MAX_SAFE_INTEGER }, async (rancher) => {
            await assert.rejects(waitForWorker1(rancher, 1000), {
                message:
                    "node worker1 has not joined france-core 1 s after its VM was created (Rancher lists no node worker1 in france-core yet). See the VM's console (virtctl console -n core core-worker1) and the cluster's machines in Rancher; the VM is kept, and pulumi up waits for it again when run again",
            });
        }));

    it("fails at once when Rancher refuses the token", () =>
        withRancher({ status: 401 }, async (rancher) => {
            await assert.rejects(waitForWorker1(rancher), {
                message:
                    "GET /v1/provisioning.cattle.io.clusters/fleet-default/france-core: Rancher answered 401: Rancher refused the token; node worker1's VM is created, but whether it joined france-core is unknown",
            });
            assert.strictEqual(rancher.requests.length, 1);
        }));

    describe("the hook", () => {
        const syncArgs = {
            urn: "urn:pulumi:france::edge::rancher2:index/clusterSync:ClusterSync::core-sync",
            id: "",
            name: "core-sync",
            type: "rancher2:index/clusterSync:ClusterSync",
            newInputs: { clusterId: "c-m-abc123" },
        };

        it("waits with the provider's URL and token, read while the program ran", () =>
            withRancher({}, async (rancher) => {
                await setupMocks({ "rancher2:apiUrl": `${rancher.url}/v3` });
                const { plan } = planStack(rawStackConfig(stackConfig("france")));
                await withEnvironment("RANCHER_TOKEN_KEY", "token-from-env", async () => {
                    const hook = nodeJoinHook(plan, pulumi.output(""));
                    assert.strictEqual(hook.name, "edge-node-join");
                    // Not on preview: the engine runs it only once the VM was created.
                    assert.notStrictEqual(hook.opts?.onDryRun, true);
                    assert.notStrictEqual(hook.opts?.ignoreErrors, true);
                    // An Automation API run's config is gone where the engine calls the hook.
                    pulumi.runtime.setAllConfig({}, []);
                    delete process.env.RANCHER_TOKEN_KEY;
                    await hook.callback(syncArgs);
                });
                assert.deepStrictEqual(
                    rancher.requests.filter((r) => r.includes("/nodes/")).sort(),
                    ["server1", "server2", "server3", "worker1", "worker2"].map(
                        (node) =>
                            `GET /k8s/clusters/c-m-abc123/api/v1/nodes/${node} Bearer token-from-env`,
                    ),
                );
            }));

        it("says what to configure when Rancher's API is not", async () => {
            await setupMocks({});
            const { plan } = planStack(rawStackConfig(stackConfig("france")));
            await withEnvironment("RANCHER_TOKEN_KEY", undefined, async () => {
                const hook = nodeJoinHook(plan, pulumi.output(""));
                await assert.rejects(async () => hook.callback(syncArgs), {
                    message:
                        "core-sync: waiting for new nodes to join their cluster needs Rancher's API as the rancher2 provider reaches it: set rancher2:apiUrl, and RANCHER_TOKEN_KEY (or rancher2:tokenKey)",
                });
            });
        });
    });
});
