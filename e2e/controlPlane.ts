import { ChildProcess, spawn } from "child_process";
import { generateKeyPairSync } from "crypto";
import { existsSync, mkdtempSync, openSync, rmSync, writeFileSync } from "fs";
import { request } from "https";
import { AddressInfo, createServer } from "net";
import { tmpdir } from "os";
import * as path from "path";
import { CertFiles, issueCert, makeCa } from "./certs";
import { applyCrds, startKubevirt, writeKubevirtCr } from "./kubevirt";
import {
    KubevirtFeatures,
    kubevirtConfigurationFor,
    kubevirtMinor,
    noKubevirtFeatures,
    pinned,
} from "./kubevirtCheck";
import { kubevirtBin, toolsBin } from "./pulumiEnv";

/**
 * A throwaway Kubernetes control plane on loopback: etcd, kube-apiserver, kube-controller-manager
 * and kube-scheduler. No kubelet: the tests play it.
 */
export interface ControlPlane {
    server: string;
    kubeconfig: string;
    /** The admin's bearer token. */
    token: string;
    /** Its temp dir: certificates, kubeconfigs and every process's log. */
    dir: string;
    /** The CA of the request-header proxy client and of the servers the tests start. */
    ca: CertFiles;
    /** A kubeconfig file for one of the users of `controlPlaneUsers`. */
    kubeconfigFile(user: keyof typeof controlPlaneUsers): string;
    /** Starts a process that lives as long as the control plane, logging to `<dir>/<name>.log`. */
    start(name: string, executable: string, args: string[]): void;
    /** One authenticated request to the API server; JSON in and out; `headers` added. */
    call(
        method: string,
        apiPath: string,
        body?: unknown,
        contentType?: string,
        headers?: Record<string, string>,
    ): Promise<{ status: number; body: any }>;
    stop(): Promise<void>;
}

/**
 * The users besides the admin, with a static token each: KubeVirt's service accounts are
 * authenticated by name, which is what RBAC's ServiceAccount subjects and virt-api's checks of
 * KubeVirt's own service accounts match (kubevirt pkg/virt-api/webhooks/utils.go).
 */
export const controlPlaneUsers = {
    scheduler: { name: "system:kube-scheduler", groups: [] },
    virtController: {
        name: "system:serviceaccount:kubevirt:kubevirt-controller",
        groups: ["system:serviceaccounts", "system:serviceaccounts:kubevirt"],
    },
    virtApi: {
        name: "system:serviceaccount:kubevirt:kubevirt-apiserver",
        groups: ["system:serviceaccounts", "system:serviceaccounts:kubevirt"],
    },
} as const;

export function freePort(): Promise<number> {
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
    const startProcess = (name: string, executable: string, args: string[]) => {
        const log = openSync(path.join(dir, `${name}.log`), "w");
        const child = spawn(executable, args, { cwd: dir, stdio: ["ignore", log, log] });
        processes.push(child);
    };
    const start = (name: string, args: string[]) => startProcess(name, path.join(bin, name), args);
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
        const userToken = (user: string) => `e2e-${user}-token`;
        writeFileSync(
            path.join(dir, "tokens.csv"),
            [
                `${token},admin,admin,system:masters`,
                ...Object.entries(controlPlaneUsers).map(
                    ([user, { name, groups }]) =>
                        `${userToken(user)},${name},${name},"${groups.join(",")}"`,
                ),
                "",
            ].join("\n"),
        );
        const server = `https://127.0.0.1:${secure}`;
        // The server's certificate is self-signed in --cert-dir; this client only talks to loopback.
        const kubeconfigOf = (user: string, userToken: string) =>
            [
                "apiVersion: v1",
                "kind: Config",
                "clusters:",
                `- {name: e2e, cluster: {server: "${server}", insecure-skip-tls-verify: true}}`,
                "users:",
                `- {name: ${user}, user: {token: ${userToken}}}`,
                "contexts:",
                `- {name: e2e, context: {cluster: e2e, user: ${user}}}`,
                "current-context: e2e",
                "",
            ].join("\n");
        const kubeconfig = kubeconfigOf("admin", token);
        writeFileSync(path.join(dir, "kubeconfig"), kubeconfig);
        const kubeconfigFile = (user: keyof typeof controlPlaneUsers) => {
            const file = path.join(dir, `${user}.kubeconfig`);
            writeFileSync(file, kubeconfigOf(user, userToken(user)));
            return file;
        };
        // Request-header authentication, so that the API server publishes the
        // extension-apiserver-authentication ConfigMap virt-api reads its client CA from
        // (kubevirt pkg/virt-api/api.go, readRequestHeader).
        const ca = makeCa(dir, "ca");
        const proxyClient = issueCert(
            dir,
            ca,
            "front-proxy-client",
            "front-proxy-client",
            "client",
        );

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
            `--requestheader-client-ca-file=${ca.cert}`,
            "--requestheader-allowed-names=front-proxy-client",
            "--requestheader-username-headers=X-Remote-User",
            "--requestheader-group-headers=X-Remote-Group",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            `--proxy-client-cert-file=${proxyClient.cert}`,
            `--proxy-client-key-file=${proxyClient.key}`,
        ]);

        const call: ControlPlane["call"] = (
            method,
            apiPath,
            body,
            contentType = "application/json",
            headers = {},
        ) =>
            new Promise((resolve, reject) => {
                const payload =
                    body === undefined
                        ? undefined
                        : typeof body === "string"
                          ? body
                          : JSON.stringify(body);
                const req = request(
                    `${server}${apiPath}`,
                    {
                        method,
                        headers: {
                            Authorization: `Bearer ${token}`,
                            "Content-Type": contentType,
                            Accept: "application/json",
                            // Node frames no body of a DELETE by itself (no chunked encoding).
                            ...(payload === undefined
                                ? {}
                                : { "Content-Length": Buffer.byteLength(payload) }),
                            ...headers,
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
                req.end(payload);
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
        // Namespaces and owned objects really go away: the namespace and garbage collectors; a claim
        // (and its volume) once no pod uses it: the protection controllers.
        start("kube-controller-manager", [
            "--kubeconfig=kubeconfig",
            "--bind-address=127.0.0.1",
            "--secure-port=0",
            "--leader-elect=false",
            "--service-account-private-key-file=sa.key",
            "--root-ca-file=certs/apiserver.crt",
            "--controllers=namespace,garbagecollector,serviceaccount,serviceaccount-token,pvc-protection,pv-protection",
        ]);
        start("kube-scheduler", [
            `--kubeconfig=${kubeconfigFile("scheduler")}`,
            "--leader-elect=false",
            "--secure-port=0",
        ]);
        return {
            server,
            kubeconfig,
            token,
            dir,
            ca,
            kubeconfigFile,
            start: startProcess,
            call,
            stop,
        };
    } catch (error) {
        await stop();
        throw error;
    }
}

/** Multus' NetworkAttachmentDefinition CRD for a test API server (../shared/crds); never copied. */
export const nadCrd = path.resolve(
    __dirname,
    "..",
    "..",
    "shared",
    "crds",
    "k8s.cni.cncf.io_network-attachment-definitions.yaml",
);

/** Whether the NAD CRD is there; says why the suite skips when it is not. */
export function crdsPresent(): boolean {
    if (existsSync(nadCrd)) {
        return true;
    }
    console.log(`    (skipped: ${nadCrd} not found; the API server needs its CRDs)`);
    return false;
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

/** A live API server with KubeVirt and CDI, and a temp dir for the test's own files. */
export interface LiveApiServer {
    bin: string;
    work: string;
    controlPlane: ControlPlane;
}

/**
 * Builds or reuses the tools, then starts a control plane with KubeVirt's, CDI's and Multus'
 * CRDs, and KubeVirt's virt-api and virt-controller configured for `features`.
 */
export async function startLiveApiServer(
    prefix: string,
    features: KubevirtFeatures = noKubevirtFeatures,
): Promise<LiveApiServer> {
    const bin = toolsBin();
    const kubevirt = kubevirtBin();
    const work = mkdtempSync(path.join(tmpdir(), prefix));
    const controlPlane = await startControlPlane(bin);
    try {
        const crFile = writeKubevirtCr(
            controlPlane.dir,
            kubevirtConfigurationFor(features, kubevirtMinor(pinned("KUBEVIRT_VERSION"))),
        );
        await applyCrds(controlPlane, kubevirt, crFile, nadCrd);
        await startKubevirt(controlPlane, kubevirt, crFile);
    } catch (error) {
        await controlPlane.stop();
        rmSync(work, { recursive: true, force: true });
        throw error;
    }
    return { bin, work, controlPlane };
}

/** Stops what `startLiveApiServer` started, whatever of it a failed start left. */
export async function stopLiveApiServer(live: Partial<LiveApiServer>): Promise<void> {
    await live.controlPlane?.stop();
    if (live.work) {
        rmSync(live.work, { recursive: true, force: true });
    }
}
