import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { execFileSync } from "child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { IncomingMessage, ServerResponse, createServer } from "http";
import { createServer as createTlsServer } from "https";
import { AddressInfo } from "net";
import { tmpdir } from "os";
import * as path from "path";
import { planStack } from "../lib/plan/stackPlan";
import {
    DeletedNode,
    RancherApi,
    deletedNodeOf,
    removalDecision,
    removeRancherMachine,
    secureContextFor,
} from "../runtime/nodeRemoval";
import { rawStackConfig } from "../lib/config/stackFile";
import { locked, problemsOf } from "./fixtures";
import { nodeRemovalHook } from "../components";
import { editableStackConfig, setupMocks, stackConfig, withEnvironment } from "./mocks";

function franceWith(edit: (clusters: any[], site: any) => void): Record<string, any> {
    const config = editableStackConfig("france");
    edit(config["edge:clusters"], config["edge:site"]);
    return config;
}

describe("node lifecycle", () => {
    describe("etcd quorum", () => {
        it("lets one etcd member be replaced per change", () => {
            const config = franceWith((clusters) => (clusters[0].nodes[0].image = "ubuntu-noble"));
            const { plan } = planStack(rawStackConfig(config));
            assert.deepStrictEqual(plan.lockChanges, [
                "core.etcd.server1: namespace=core image=edge-images/ubuntu-jammy size=40Gi storageClass=(cluster default) roles=controlplane,etcd -> namespace=core image=edge-images/ubuntu-noble size=40Gi storageClass=(cluster default) roles=controlplane,etcd",
            ]);
        });

        it("checks the next change against the record the last one wrote", () => {
            const first = locked(franceWith((c) => (c[0].nodes[0].image = "ubuntu-noble")));
            const second = structuredClone(first);
            second["edge:clusters"][0].nodes[1].image = "ubuntu-noble";
            assert.doesNotThrow(() => planStack(rawStackConfig(second)));
        });

        it("lets the operator replace every member at once when they acknowledge it", () => {
            const config = franceWith((clusters) => {
                clusters[0].acknowledgeReplacement = true;
                for (const node of clusters[0].nodes.slice(0, 3)) {
                    node.disk = "60Gi";
                }
            });
            assert.doesNotThrow(() => planStack(rawStackConfig(config)));
        });

        it("counts a role change as a replacement: roles are installed on the disk", () => {
            const problems = problemsOf(
                rawStackConfig(
                    franceWith((clusters) => {
                        clusters[0].nodes[0].roles = ["controlplane", "etcd", "worker"];
                        clusters[0].nodes[1].roles = ["controlplane", "etcd", "worker"];
                    }),
                ),
            );
            const identity = (node: string) =>
                `${node} replaced (namespace=core image=edge-images/ubuntu-jammy size=40Gi storageClass=(cluster default) roles=controlplane,etcd,worker)`;
            assert.deepStrictEqual(problems, [
                `clusters[0].nodes: this change replaces or removes 2 etcd members at once (${identity("server1")}; ${identity("server2")}); etcd can lose its quorum when members go more than one at a time. Change one etcd node, run \`npm run lock\` and \`pulumi up\`, wait for the cluster to be active, then change the next; or set clusters[0].acknowledgeReplacement: true to accept losing the cluster`,
            ]);
        });

        it("lets a cluster shrink from 3 etcd members to 1 through 2, one per change", () => {
            const two = locked(
                franceWith((clusters) => (clusters[0].nodes[2].roles = ["controlplane"])),
            );
            const one = structuredClone(two);
            one["edge:clusters"][0].nodes[1].roles = ["controlplane"];
            assert.doesNotThrow(() => planStack(rawStackConfig(one)));
        });

        it("refuses growing to an even number of etcd members", () => {
            const config = editableStackConfig("greece");
            config["edge:clusters"][0].nodes[1].roles = ["etcd", "worker"];
            assert.deepStrictEqual(problemsOf(rawStackConfig(config)), [
                "clusters[0].nodes: has 2 etcd nodes; an even number survives no more failures than one fewer would, and a split vote stalls it: give one more or one fewer node the etcd role (1, 3 or 5), or set clusters[0].acknowledgeReplacement: true to accept it",
            ]);
        });

        it("has nothing to compare against in a record written before etcd members were kept", () => {
            const config = franceWith((clusters) => {
                clusters[0].nodes[0].image = "ubuntu-noble";
                clusters[0].nodes[1].image = "ubuntu-noble";
            });
            delete config["edge:allocations"].core.etcd;
            assert.doesNotThrow(() => planStack(rawStackConfig(config)));
        });
    });

    describe("which deletions remove a node from Rancher", () => {
        const plan = planStack(rawStackConfig(stackConfig("france"))).plan;
        const vmOf = (cluster: number, node: number) =>
            deletedNodeOf(plan.clusters[cluster].nodes[node].virtualMachine as any)!;

        it("reads the node from the VM's labels and annotations", () => {
            assert.deepStrictEqual(vmOf(0, 3), {
                site: "france",
                cluster: "core",
                node: "worker1",
                namespace: "core",
                rootDisk:
                    "image=edge-images/ubuntu-jammy size=80Gi storageClass=(cluster default) roles=worker",
                clusterIdentity: "rke2 pods=10.90.0.0/16 services=10.91.0.0/20",
                protected: false,
            });
            assert.strictEqual(deletedNodeOf({ metadata: { name: "x" } }), undefined);
        });

        it("refuses to take a protected VM's node out of Rancher, as Pulumi will keep the VM", () => {
            const protectedPlan = planStack(
                rawStackConfig(franceWith((_, site) => (site.protect = true))),
            ).plan;
            const vm = protectedPlan.clusters[0].nodes[3].virtualMachine;
            assert.strictEqual(vm.metadata.annotations?.["edge.testbed/protected"], "true");
            const deleted = deletedNodeOf(vm as any)!;
            assert.strictEqual(deleted.protected, true);
            assert.deepStrictEqual(removalDecision(plan, { ...deleted, node: "worker9" }), {
                action: "refuse",
                reason: "node worker9 left cluster core, but its VM is protected (site.protect), so Pulumi would keep it: run pulumi up with site.protect unset first, then make this change",
            });
            // Destroying a protected site still leaves Rancher alone; Pulumi then refuses.
            assert.strictEqual(removalDecision(protectedPlan, deleted).action, "skip");
        });

        it("a node that left a cluster that stays", () => {
            assert.deepStrictEqual(removalDecision(plan, { ...vmOf(0, 3), node: "worker9" }), {
                action: "remove",
                rancherCluster: "france-core",
                node: "worker9",
                reason: "node worker9 left cluster core",
            });
        });

        it("a node whose VM is replaced", () => {
            const deleted: DeletedNode = { ...vmOf(0, 0), rootDisk: "image=edge-images/old" };
            assert.deepStrictEqual(removalDecision(plan, deleted), {
                action: "remove",
                rancherCluster: "france-core",
                node: "server1",
                reason: "node server1 of cluster core is replaced",
            });
        });

        it("a node whose VM moves to another namespace", () => {
            assert.deepStrictEqual(
                removalDecision(plan, { ...vmOf(0, 0), namespace: "old-core" }),
                {
                    action: "remove",
                    rancherCluster: "france-core",
                    node: "server1",
                    reason: "node server1 of cluster core is replaced",
                },
            );
        });

        it("not when the plan still has the node as it was: the whole stack is destroyed", () => {
            assert.deepStrictEqual(removalDecision(plan, vmOf(0, 0)), {
                action: "skip",
                reason: "the stack is being destroyed",
            });
        });

        it("not when its cluster goes or is rebuilt: the Rancher cluster goes with it", () => {
            assert.deepStrictEqual(removalDecision(plan, { ...vmOf(0, 0), cluster: "old" }), {
                action: "skip",
                reason: "cluster old goes with its Rancher cluster",
            });
            assert.deepStrictEqual(
                removalDecision(plan, { ...vmOf(0, 0), clusterIdentity: "k3s pods=x" }),
                { action: "skip", reason: "cluster core is rebuilt as a whole" },
            );
        });
    });

    describe("removing a Rancher machine, against a Rancher API on loopback", () => {
        interface FakeRancher {
            url: string;
            requests: string[];
            close: () => Promise<void>;
        }

        /**
         * Rancher's Steve API as far as removal uses it; the node goes `nodeLingers` polls after
         * the delete. Served over TLS when given a certificate.
         */
        async function fakeRancher(
            nodeLingers: number,
            certificate?: { key: string; cert: string },
        ): Promise<FakeRancher> {
            const requests: string[] = [];
            let deleted = false;
            let polls = 0;
            const machine = (name: string, node: string) => ({
                metadata: {
                    name,
                    labels: { "cluster.x-k8s.io/cluster-name": "france-core" },
                },
                status: { nodeRef: { name: node } },
            });
            const handler = (request: IncomingMessage, response: ServerResponse) => {
                requests.push(
                    `${request.method} ${request.url} ${request.headers.authorization ?? "-"}`,
                );
                const send = (status: number, body?: unknown) => {
                    response.writeHead(status, { "content-type": "application/json" });
                    response.end(body === undefined ? "" : JSON.stringify(body));
                };
                const url = request.url ?? "";
                // How Steve and the Kubernetes API say an object does not exist.
                const steveNotFound = { type: "error", status: "404", code: "NotFound" };
                const kubeNotFound = { kind: "Status", reason: "NotFound", code: 404 };
                if (url.startsWith("/v3/")) {
                    response.writeHead(404, { "content-type": "text/html" });
                    return response.end("<html>404 page not found</html>");
                }
                if (url === "/v1/provisioning.cattle.io.clusters/fleet-default/france-core") {
                    return send(200, { status: { clusterName: "c-m-abc123" } });
                }
                if (url.startsWith("/v1/cluster.x-k8s.io.machines/fleet-default?")) {
                    return send(200, {
                        data: [
                            machine("custom-1", "server1"),
                            ...(deleted ? [] : [machine("custom-4", "worker1")]),
                        ],
                    });
                }
                if (url === "/v1/cluster.x-k8s.io.machines/fleet-default/custom-4") {
                    deleted = true;
                    return send(200, {});
                }
                if (url === "/k8s/clusters/c-m-abc123/api/v1/nodes/worker1") {
                    polls++;
                    return deleted && polls > nodeLingers ? send(404, kubeNotFound) : send(200, {});
                }
                if (url.startsWith("/v1/")) {
                    return send(404, steveNotFound);
                }
                return send(404, { message: "no route" });
            };
            const server = certificate
                ? createTlsServer(certificate, handler)
                : createServer(handler);
            await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
            const { port } = server.address() as AddressInfo;
            return {
                url: `${certificate ? "https" : "http"}://127.0.0.1:${port}/`,
                requests,
                close: () => new Promise((resolve) => server.close(() => resolve())),
            };
        }

        /** Runs `body` against a fresh fake Rancher, closing it afterwards. */
        async function withRancher(
            nodeLingers: number,
            body: (rancher: FakeRancher) => Promise<void>,
            certificate?: { key: string; cert: string },
        ): Promise<void> {
            const rancher = await fakeRancher(nodeLingers, certificate);
            try {
                await body(rancher);
            } finally {
                await rancher.close();
            }
        }

        /** Removes worker1 of `cluster` through `rancher`, polling every 10 ms. */
        const removeWorker1 = (
            rancher: FakeRancher,
            api: Partial<RancherApi> = {},
            { cluster = "france-core", timeoutMs = 5000 } = {},
        ) =>
            removeRancherMachine({ url: rancher.url, token: "t", ...api }, cluster, "worker1", {
                timeoutMs,
                pollMs: 10,
            });

        it("deletes the node's machine and waits until the downstream Node is gone", () =>
            withRancher(2, async (rancher) => {
                const outcome = await removeWorker1(rancher, { token: "token-x:y" });
                assert.strictEqual(outcome, "node worker1 left france-core");
                assert.deepStrictEqual(rancher.requests, [
                    "GET /v1/provisioning.cattle.io.clusters/fleet-default/france-core Bearer token-x:y",
                    "GET /v1/cluster.x-k8s.io.machines/fleet-default?labelSelector=cluster.x-k8s.io%2Fcluster-name%3Dfrance-core Bearer token-x:y",
                    "DELETE /v1/cluster.x-k8s.io.machines/fleet-default/custom-4 Bearer token-x:y",
                    "GET /k8s/clusters/c-m-abc123/api/v1/nodes/worker1 Bearer token-x:y",
                    "GET /k8s/clusters/c-m-abc123/api/v1/nodes/worker1 Bearer token-x:y",
                    "GET /k8s/clusters/c-m-abc123/api/v1/nodes/worker1 Bearer token-x:y",
                ]);
            }));

        it("gives up, keeping the VM, when the node does not leave in time", () =>
            withRancher(Number.MAX_SAFE_INTEGER, async (rancher) => {
                await assert.rejects(removeWorker1(rancher, {}, { timeoutMs: 1000 }), {
                    message:
                        "node worker1 is still in france-core 1 s after its Rancher machine was deleted (a PodDisruptionBudget can block its drain); its VM is kept. Resolve it in Rancher and run pulumi up again",
                });
            }));

        it("the hook removes a node dropped from the config, with the provider's URL and token read while the program ran", () =>
            withRancher(0, async (rancher) => {
                await setupMocks({ "rancher2:apiUrl": `${rancher.url}v3` });
                const before = planStack(rawStackConfig(stackConfig("france"))).plan;
                const dropped = franceWith((clusters) => clusters[0].nodes.splice(3, 1));
                await withEnvironment("RANCHER_TOKEN_KEY", "token-from-env", async () => {
                    const hook = nodeRemovalHook(
                        planStack(rawStackConfig(dropped)).plan,
                        pulumi.output(""),
                    );
                    // An Automation API run's config is gone where the engine calls the hook.
                    pulumi.runtime.setAllConfig({}, []);
                    delete process.env.RANCHER_TOKEN_KEY;
                    await hook.callback({
                        urn: "urn:pulumi:france::edge::kubernetes:kubevirt.io/v1:VirtualMachine::core-worker1",
                        id: "core/core-worker1",
                        name: "core-worker1",
                        type: "kubernetes:kubevirt.io/v1:VirtualMachine",
                        oldInputs: before.clusters[0].nodes[3].virtualMachine as any,
                    });
                });
                assert.deepStrictEqual(
                    rancher.requests.filter((r) => r.startsWith("DELETE")),
                    [
                        "DELETE /v1/cluster.x-k8s.io.machines/fleet-default/custom-4 Bearer token-from-env",
                    ],
                );
            }));

        it("the hook leaves Rancher alone when the whole stack is destroyed", () =>
            withRancher(0, async (rancher) => {
                await setupMocks({ "rancher2:apiUrl": rancher.url });
                const plan = planStack(rawStackConfig(stackConfig("france"))).plan;
                await nodeRemovalHook(plan, pulumi.output("")).callback({
                    urn: "urn:pulumi:france::edge::kubernetes:kubevirt.io/v1:VirtualMachine::core-worker1",
                    id: "core/core-worker1",
                    name: "core-worker1",
                    type: "kubernetes:kubevirt.io/v1:VirtualMachine",
                    oldInputs: plan.clusters[0].nodes[3].virtualMachine as any,
                });
                assert.deepStrictEqual(rancher.requests, []);
            }));

        it("reaches Rancher at the apiUrl's host whatever its path, as the provider does", () =>
            withRancher(0, async (rancher) => {
                const outcome = await removeWorker1(rancher, { url: `${rancher.url}v3` });
                assert.strictEqual(outcome, "node worker1 left france-core");
            }));

        it("takes a 404 that is not Kubernetes' NotFound for an error, not for gone", () =>
            withRancher(0, async (rancher) => {
                await assert.rejects(removeWorker1(rancher, {}, { cluster: "../../../v3/x" }), {
                    message:
                        "GET /v1/provisioning.cattle.io.clusters/fleet-default/../../../v3/x: Rancher answered 404 with no JSON; is rancher2:apiUrl Rancher?",
                });
            }));

        it("has nothing to do for a cluster Rancher no longer has", () =>
            withRancher(0, async (rancher) => {
                const outcome = await removeWorker1(rancher, {}, { cluster: "france-gone" });
                assert.strictEqual(
                    outcome,
                    "Rancher has no cluster france-gone; nothing to remove",
                );
                assert.strictEqual(rancher.requests.length, 1);
            }));

        describe("over TLS signed by a private CA, as Rancher's own certificate is", () => {
            let dir: string;
            let ca: string;
            let certificate: { key: string; cert: string };

            before(() => {
                dir = mkdtempSync(path.join(tmpdir(), "rancher-ca-"));
                const file = (name: string) => path.join(dir, name);
                const openssl = (...args: string[]) =>
                    execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
                openssl(
                    "req",
                    "-x509",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                    "-nodes",
                    "-days",
                    "1",
                    "-subj",
                    "/CN=test Rancher CA",
                    "-keyout",
                    "ca.key",
                    "-out",
                    "ca.pem",
                );
                openssl(
                    "req",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                    "-nodes",
                    "-subj",
                    "/CN=rancher",
                    "-keyout",
                    "server.key",
                    "-out",
                    "server.csr",
                );
                writeFileSync(file("san.ext"), "subjectAltName=IP:127.0.0.1\n");
                openssl(
                    "x509",
                    "-req",
                    "-in",
                    "server.csr",
                    "-CA",
                    "ca.pem",
                    "-CAkey",
                    "ca.key",
                    "-CAcreateserial",
                    "-days",
                    "1",
                    "-extfile",
                    "san.ext",
                    "-out",
                    "server.pem",
                );
                ca = readFileSync(file("ca.pem"), "utf8");
                certificate = {
                    key: readFileSync(file("server.key"), "utf8"),
                    cert: readFileSync(file("server.pem"), "utf8"),
                };
            });

            after(() => rmSync(dir, { recursive: true, force: true }));

            it("trusts Rancher's cacerts setting", () =>
                withRancher(
                    0,
                    async (rancher) => {
                        const outcome = await removeWorker1(rancher, { caCerts: ca });
                        assert.strictEqual(outcome, "node worker1 left france-core");
                    },
                    certificate,
                ));

            it("makes the TLS context that trusts it once, not for every request", () => {
                assert.strictEqual(secureContextFor(ca), secureContextFor(ca));
                assert.notStrictEqual(secureContextFor(ca), secureContextFor(certificate.cert));
            });

            it("refuses the certificate without it", () =>
                withRancher(
                    0,
                    async (rancher) => {
                        await assert.rejects(removeWorker1(rancher), {
                            message:
                                "GET /v1/provisioning.cattle.io.clusters/fleet-default/france-core: unable to verify the first certificate",
                        });
                        assert.deepStrictEqual(rancher.requests, [], "nothing reached Rancher");
                    },
                    certificate,
                ));
        });
    });
});
