import { ChildProcess, spawn } from "child_process";
import { generateKeyPairSync } from "crypto";
import {
    existsSync,
    mkdtempSync,
    openSync,
    readFileSync,
    readdirSync,
    rmSync,
    writeFileSync,
} from "fs";
import { request } from "https";
import { AddressInfo, createServer } from "net";
import { tmpdir } from "os";
import * as path from "path";
import { toolsBin } from "./pulumiEnv";

/** A throwaway Kubernetes control plane on loopback: etcd, kube-apiserver, kube-controller-manager. */
export interface ControlPlane {
    server: string;
    kubeconfig: string;
    /** The admin's bearer token. */
    token: string;
    /** One authenticated request to the API server; JSON in and out. */
    call(
        method: string,
        apiPath: string,
        body?: unknown,
        contentType?: string,
    ): Promise<{ status: number; body: any }>;
    stop(): Promise<void>;
}

function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = createServer();
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const { port } = server.address() as AddressInfo;
            server.close(() => resolve(port));
        });
    });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts the control plane from the binaries in `bin`; everything lives in one temp dir. */
export async function startControlPlane(bin: string): Promise<ControlPlane> {
    const dir = mkdtempSync(path.join(tmpdir(), "edge-control-plane-"));
    const processes: ChildProcess[] = [];
    const start = (name: string, args: string[]) => {
        const log = openSync(path.join(dir, `${name}.log`), "w");
        const child = spawn(path.join(bin, name), args, { cwd: dir, stdio: ["ignore", log, log] });
        processes.push(child);
    };
    const stop = async () => {
        for (const child of processes.reverse()) {
            child.kill("SIGTERM");
        }
        await sleep(500);
        for (const child of processes) {
            if (child.exitCode === null) {
                child.kill("SIGKILL");
            }
        }
        rmSync(dir, { recursive: true, force: true });
    };
    try {
        const [client, peer, secure] = [await freePort(), await freePort(), await freePort()];
        const token = "e2e-admin-token";
        const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
        writeFileSync(
            path.join(dir, "sa.key"),
            privateKey.export({ type: "pkcs1", format: "pem" }),
        );
        writeFileSync(path.join(dir, "sa.pub"), publicKey.export({ type: "spki", format: "pem" }));
        writeFileSync(path.join(dir, "tokens.csv"), `${token},admin,admin,system:masters\n`);
        const server = `https://127.0.0.1:${secure}`;
        // The server's certificate is self-signed in --cert-dir; this client only talks to loopback.
        const kubeconfig = [
            "apiVersion: v1",
            "kind: Config",
            "clusters:",
            `- {name: e2e, cluster: {server: "${server}", insecure-skip-tls-verify: true}}`,
            "users:",
            `- {name: admin, user: {token: ${token}}}`,
            "contexts:",
            "- {name: e2e, context: {cluster: e2e, user: admin}}",
            "current-context: e2e",
            "",
        ].join("\n");
        writeFileSync(path.join(dir, "kubeconfig"), kubeconfig);

        start("etcd", [
            "--data-dir=etcd",
            `--listen-client-urls=http://127.0.0.1:${client}`,
            `--advertise-client-urls=http://127.0.0.1:${client}`,
            `--listen-peer-urls=http://127.0.0.1:${peer}`,
            `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`,
            `--initial-cluster=default=http://127.0.0.1:${peer}`,
        ]);
        start("kube-apiserver", [
            `--etcd-servers=http://127.0.0.1:${client}`,
            "--bind-address=127.0.0.1",
            `--secure-port=${secure}`,
            "--cert-dir=certs",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            "--service-account-key-file=sa.pub",
            "--service-account-signing-key-file=sa.key",
            "--service-cluster-ip-range=10.96.0.0/16",
            "--token-auth-file=tokens.csv",
            "--authorization-mode=RBAC",
        ]);

        const call: ControlPlane["call"] = (
            method,
            apiPath,
            body,
            contentType = "application/json",
        ) =>
            new Promise((resolve, reject) => {
                const req = request(
                    `${server}${apiPath}`,
                    {
                        method,
                        headers: {
                            Authorization: `Bearer ${token}`,
                            "Content-Type": contentType,
                            Accept: "application/json",
                        },
                        rejectUnauthorized: false,
                    },
                    (res) => {
                        const chunks: Buffer[] = [];
                        res.on("data", (c: Buffer) => chunks.push(c));
                        res.on("end", () => {
                            const text = Buffer.concat(chunks).toString("utf8");
                            let parsed: unknown = text;
                            try {
                                parsed = JSON.parse(text);
                            } catch {
                                // /readyz answers in text.
                            }
                            resolve({ status: res.statusCode ?? 0, body: parsed });
                        });
                    },
                );
                req.on("error", reject);
                req.end(
                    body === undefined
                        ? undefined
                        : typeof body === "string"
                          ? body
                          : JSON.stringify(body),
                );
            });

        for (let attempt = 0; ; attempt++) {
            const ready = await call("GET", "/readyz").catch(() => ({ status: 0 }));
            if (ready.status === 200) {
                break;
            }
            if (attempt > 120) {
                throw new Error(
                    `kube-apiserver did not become ready; see ${dir}/kube-apiserver.log`,
                );
            }
            await sleep(500);
        }
        // Namespaces and owned objects really go away: the namespace and garbage collectors.
        start("kube-controller-manager", [
            "--kubeconfig=kubeconfig",
            "--bind-address=127.0.0.1",
            "--secure-port=0",
            "--leader-elect=false",
            "--service-account-private-key-file=sa.key",
            "--root-ca-file=certs/apiserver.crt",
            "--controllers=namespace,garbagecollector,serviceaccount,serviceaccount-token",
        ]);
        return { server, kubeconfig, token, call, stop };
    } catch (error) {
        await stop();
        throw error;
    }
}

/** CRDs built from the upstream schemas for a test API server (../shared/crds); never copied. */
export const crdRoot = path.resolve(__dirname, "..", "..", "shared", "crds");

/** Whether the CRDs are there; says why the suite skips when they are not. */
export function crdsPresent(): boolean {
    if (existsSync(crdRoot)) {
        return true;
    }
    console.log(`    (skipped: ${crdRoot} not found; the API server needs its CRDs)`);
    return false;
}

/** Applies every CRD of ../shared/crds to the control plane. */
export async function applyCrds(controlPlane: ControlPlane): Promise<void> {
    for (const file of readdirSync(crdRoot)
        .filter((f) => f.endsWith(".yaml"))
        .sort()) {
        const created = await controlPlane.call(
            "POST",
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            readFileSync(path.join(crdRoot, file), "utf8"),
            "application/yaml",
        );
        if (created.status !== 201) {
            throw new Error(`${file}: ${JSON.stringify(created.body)}`);
        }
    }
}

/** Plays CDI: marks every DataVolume not yet imported or cloned as done, as CDI reports it. */
export async function completeDataVolumes(controlPlane: ControlPlane): Promise<void> {
    const volumes = await controlPlane.call("GET", "/apis/cdi.kubevirt.io/v1beta1/datavolumes");
    for (const dv of volumes.body?.items ?? []) {
        if (dv.status?.phase !== "Succeeded") {
            await controlPlane.call(
                "PATCH",
                `/apis/cdi.kubevirt.io/v1beta1/namespaces/${dv.metadata.namespace}/datavolumes/${dv.metadata.name}/status`,
                {
                    status: {
                        phase: "Succeeded",
                        progress: "100.0%",
                        conditions: [
                            { type: "Bound", status: "True" },
                            { type: "Ready", status: "True" },
                            { type: "Running", status: "False", reason: "Completed" },
                        ],
                    },
                },
                "application/merge-patch+json",
            );
        }
    }
}

/** A live API server with our CRDs, and a temp dir for the test's own files. */
export interface LiveApiServer {
    bin: string;
    work: string;
    controlPlane: ControlPlane;
}

/** Builds or reuses the tools, then starts a control plane with the CRDs applied. */
export async function startLiveApiServer(prefix: string): Promise<LiveApiServer> {
    const bin = toolsBin();
    const work = mkdtempSync(path.join(tmpdir(), prefix));
    const controlPlane = await startControlPlane(bin);
    await applyCrds(controlPlane);
    return { bin, work, controlPlane };
}

/** Stops what `startLiveApiServer` started, whatever of it a failed start left. */
export async function stopLiveApiServer(live: Partial<LiveApiServer>): Promise<void> {
    await live.controlPlane?.stop();
    if (live.work) {
        rmSync(live.work, { recursive: true, force: true });
    }
}
