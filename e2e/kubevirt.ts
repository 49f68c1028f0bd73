import { execFileSync } from "child_process";
import { mkdirSync, readFileSync, writeFileSync } from "fs";
import { request } from "https";
import * as path from "path";
import { HostShape } from "../lib/config";
import { hostLabels } from "../lib/core/naming";
import { hostLabelSet } from "../lib/plan/placement";
import { bytes } from "../lib/core/quantity";
import { issueCert } from "./certs";
import { ControlPlane, freePort } from "./controlPlane";

/**
 * KubeVirt v1.9.0's own virt-api and virt-controller against the e2e control plane, set up as
 * virt-operator would from KubeVirt's own generator (e2e/kubevirt/setup), and the parts the tests
 * still play: the kubelet, virt-handler and CDI's importer (`playHosts`).
 */

export const kubevirtNamespace = "kubevirt";

/** The KubeVirt CR of the live control plane, with `configuration` (kubevirtConfigurationFor). */
export function kubevirtCr(configuration: Record<string, unknown>): any {
    return {
        apiVersion: "kubevirt.io/v1",
        kind: "KubeVirt",
        metadata: { name: "kubevirt", namespace: kubevirtNamespace },
        spec: { configuration },
    };
}

/** The items of a JSON List one of the setup programs prints. */
function setupItems(bin: string, program: string, args: string[]): any[] {
    const out = execFileSync(path.join(bin, program), args, {
        encoding: "utf8",
        maxBuffer: 256 * 1024 * 1024,
        stdio: ["ignore", "pipe", "ignore"],
    });
    return JSON.parse(out).items;
}

/** The REST path of a collection of `object`'s kind. */
function collectionPath(object: any): string {
    const [group, version] = object.apiVersion.includes("/")
        ? object.apiVersion.split("/")
        : ["", object.apiVersion];
    const base = group === "" ? `/api/${version}` : `/apis/${group}/${version}`;
    const plural: Record<string, string> = {
        CustomResourceDefinition: "customresourcedefinitions",
        Namespace: "namespaces",
        Node: "nodes",
        KubeVirt: "kubevirts",
        ServiceAccount: "serviceaccounts",
        ClusterRole: "clusterroles",
        ClusterRoleBinding: "clusterrolebindings",
        Role: "roles",
        RoleBinding: "rolebindings",
        MutatingWebhookConfiguration: "mutatingwebhookconfigurations",
        ValidatingWebhookConfiguration: "validatingwebhookconfigurations",
    };
    const namespace = object.metadata.namespace;
    return `${base}${namespace ? `/namespaces/${namespace}` : ""}/${plural[object.kind]}`;
}

async function create(controlPlane: ControlPlane, object: any): Promise<void> {
    const created = await controlPlane.call("POST", collectionPath(object), object);
    if (created.status !== 201) {
        throw new Error(
            `${object.kind} ${object.metadata.name}: ${created.status} ${JSON.stringify(created.body)}`,
        );
    }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits for `ready`, or fails naming `what` and the log to read. */
async function waitFor(what: string, ready: () => Promise<boolean>, log: string): Promise<void> {
    for (let attempt = 0; attempt < 240; attempt++) {
        if (await ready().catch(() => false)) {
            return;
        }
        await sleep(500);
    }
    throw new Error(`${what} did not become ready; see ${log}`);
}

/**
 * KubeVirt's and CDI's CRDs from their own code (e2e/kubevirt/setup, e2e/cdi/setup), and
 * Multus' NetworkAttachmentDefinition CRD from `nadCrd`, established.
 */
export async function applyCrds(
    controlPlane: ControlPlane,
    bin: string,
    crFile: string,
    nadCrd: string,
): Promise<void> {
    const crds = [
        ...setupItems(bin, "edge-kubevirt-setup", ["crds", "--kubevirt", crFile]),
        ...setupItems(bin, "edge-cdi-setup", ["crds"]),
    ];
    for (const crd of crds) {
        await create(controlPlane, crd);
    }
    const nad = await controlPlane.call(
        "POST",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        readFileSync(nadCrd, "utf8"),
        "application/yaml",
    );
    if (nad.status !== 201) {
        throw new Error(`${nadCrd}: ${JSON.stringify(nad.body)}`);
    }
    const names = [...crds.map((crd) => crd.metadata.name), nad.body.metadata.name];
    await waitFor(
        "the CRDs",
        async () => {
            for (const name of names) {
                const crd = await controlPlane.call(
                    "GET",
                    `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`,
                );
                const established = (crd.body.status?.conditions ?? []).some(
                    (c: any) => c.type === "Established" && c.status === "True",
                );
                if (!established) {
                    return false;
                }
            }
            return true;
        },
        path.join(controlPlane.dir, "kube-apiserver.log"),
    );
}

/** Whether an HTTPS server on loopback answers `apiPath` with 200, trusting `ca`. */
function answers(port: number, apiPath: string, ca: string): Promise<boolean> {
    return new Promise((resolve) => {
        const req = request(
            { host: "127.0.0.1", port, path: apiPath, ca, method: "GET", timeout: 2000 },
            (res) => {
                const chunks: Buffer[] = [];
                res.on("data", (c: Buffer) => chunks.push(c));
                res.on("end", () =>
                    resolve(
                        res.statusCode === 200 &&
                            (apiPath !== "/leader" ||
                                Buffer.concat(chunks).toString().includes('"leader": "true"')),
                    ),
                );
            },
        );
        req.on("error", () => resolve(false));
        req.on("timeout", () => req.destroy());
        req.end();
    });
}

/**
 * What virt-operator installs and runs, on the control plane: the namespace, KubeVirt's RBAC,
 * the KubeVirt CR (status Deployed, as virt-operator reports it), virt-api with its webhooks
 * registered by URL, and virt-controller as the kubevirt-controller service account.
 */
export async function startKubevirt(
    controlPlane: ControlPlane,
    bin: string,
    crFile: string,
): Promise<void> {
    const { dir, ca } = controlPlane;
    await create(controlPlane, {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name: kubevirtNamespace },
    });
    for (const object of setupItems(bin, "edge-kubevirt-setup", ["rbac", "--kubevirt", crFile])) {
        await create(controlPlane, object);
    }
    const cr = JSON.parse(readFileSync(crFile, "utf8"));
    const kubevirtPath = `/apis/kubevirt.io/v1/namespaces/${kubevirtNamespace}/kubevirts`;
    await create(controlPlane, cr);
    // virt-config reads the configuration of the KubeVirt CR whose status has a phase, and the
    // default architecture from its status (kubevirt pkg/virt-config/configuration.go).
    const status = await controlPlane.call(
        "PATCH",
        `${kubevirtPath}/${cr.metadata.name}/status`,
        { status: { phase: "Deployed", defaultArchitecture: "amd64" } },
        "application/merge-patch+json",
    );
    if (status.status !== 200) {
        throw new Error(`KubeVirt status: ${JSON.stringify(status.body)}`);
    }
    // The CA virt-api trusts virt-handler's client certificates by (virt-operator's kubevirt-ca).
    await controlPlane.call("POST", `/api/v1/namespaces/${kubevirtNamespace}/configmaps`, {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "kubevirt-ca", namespace: kubevirtNamespace },
        data: { "ca-bundle": readFileSync(ca.cert, "utf8") },
    });

    // virt-api reads its serving and handler-client certificates from files (pkg/virt-api/api.go,
    // --tls-cert-file and --handler-cert-file) and its namespace falls back to "kubevirt".
    // In a folder of their own: KubeVirt reloads its certificates on any inotify event in their
    // folder (pkg/certificates/bootstrap/cert-manager.go), and each reload logs a line, so
    // beside the processes' logs it reloaded in a loop and kept a core busy.
    const certDir = path.join(dir, "kubevirt-certs");
    mkdirSync(certDir);
    const serving = issueCert(certDir, ca, "virt-api", "virt-api.kubevirt.svc", "server");
    const handlerClient = issueCert(certDir, ca, "virt-handler-client", "virt-handler", "client");
    const apiPort = await freePort();
    controlPlane.start("virt-api", path.join(bin, "virt-api"), [
        `--kubeconfig=${controlPlane.kubeconfigFile("virtApi")}`,
        "--listen=127.0.0.1",
        `--port=${apiPort}`,
        `--tls-cert-file=${serving.cert}`,
        `--tls-key-file=${serving.key}`,
        `--handler-cert-file=${handlerClient.cert}`,
        `--handler-key-file=${handlerClient.key}`,
    ]);
    const caPem = readFileSync(ca.cert, "utf8");
    await waitFor(
        "virt-api",
        () => answers(apiPort, "/apis/subresources.kubevirt.io/v1/healthz", caPem),
        path.join(dir, "virt-api.log"),
    );
    for (const webhooks of setupItems(bin, "edge-kubevirt-setup", [
        "webhooks",
        "--url",
        `https://127.0.0.1:${apiPort}`,
        "--ca-bundle",
        ca.cert,
        "--kubevirt",
        crFile,
    ])) {
        await create(controlPlane, webhooks);
    }

    const controllerPort = await freePort();
    controlPlane.start("virt-controller", path.join(bin, "virt-controller"), [
        `--kubeconfig=${controlPlane.kubeconfigFile("virtController")}`,
        "--listen=127.0.0.1",
        `--port=${controllerPort}`,
        "--launcher-image=quay.io/kubevirt/virt-launcher:v1.9.0",
        `--prom-cert-file=${serving.cert}`,
        `--prom-key-file=${serving.key}`,
    ]);
    await waitFor(
        "virt-controller",
        () => answers(controllerPort, "/leader", caPem),
        path.join(dir, "virt-controller.log"),
    );
}

/** The Node of `host`, as its kubelet and virt-handler's heartbeat report it. */
export function hostNode(host: HostShape, heartbeat: string): any {
    const labels = hostLabelSet(host);
    const pinnable = labels[hostLabels.cpuManager] === "true" ? "true" : "false";
    const resources: Record<string, string> = {
        cpu: String(host.cpu),
        memory: host.memory,
        pods: "250",
        // What the kubelet reports of its disk, which the launcher pod requests a little of.
        "ephemeral-storage": "500Gi",
        // virt-handler's device plugins (kubevirt cmd/virt-handler/virt-handler.go, maxDevices).
        "devices.kubevirt.io/kvm": "1000",
        "devices.kubevirt.io/tun": "1000",
        "devices.kubevirt.io/vhost-net": "1000",
        ...Object.fromEntries(
            Object.entries(host.hugepages).map(([size, total]) => [`hugepages-${size}`, total!]),
        ),
        ...Object.fromEntries(
            Object.entries(host.devices).map(([device, count]) => [device, String(count)]),
        ),
    };
    return {
        apiVersion: "v1",
        kind: "Node",
        metadata: {
            name: host.name,
            labels: {
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/os": "linux",
                ...labels,
                // kubevirt pkg/virt-handler/heartbeat/heartbeat.go: what virt-handler sets.
                "kubevirt.io/schedulable": "true",
                // Its node labeller's machine type, which virt-controller selects on.
                "machine-type.node.kubevirt.io/q35": "true",
                [hostLabels.cpuManager]: pinnable,
                [hostLabels.deprecatedCpuManager]: pinnable,
            },
            annotations: { "kubevirt.io/heartbeat": heartbeat },
        },
        status: {
            capacity: resources,
            allocatable: resources,
            conditions: [
                {
                    type: "Ready",
                    status: "True",
                    reason: "KubeletReady",
                    lastHeartbeatTime: heartbeat,
                    lastTransitionTime: heartbeat,
                },
            ],
            nodeInfo: { architecture: "amd64", operatingSystem: "linux" },
        },
    };
}

/** Makes the control plane's Nodes those of `hosts`: created, updated, or deleted. */
export async function syncNodes(controlPlane: ControlPlane, hosts: HostShape[]): Promise<void> {
    const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    const existing = await controlPlane.call("GET", "/api/v1/nodes");
    const wanted = new Set(hosts.map((h) => h.name));
    for (const node of existing.body.items ?? []) {
        if (!wanted.has(node.metadata.name)) {
            await controlPlane.call("DELETE", `/api/v1/nodes/${node.metadata.name}`);
        }
    }
    const present = new Set((existing.body.items ?? []).map((n: any) => n.metadata.name));
    for (const host of hosts) {
        const node = hostNode(host, now);
        if (!present.has(host.name)) {
            await create(controlPlane, node);
            // The API server taints a new Node not-ready (TaintNodesByCondition); the node
            // lifecycle controller, which the e2e does not run, lifts it once the Node is Ready.
            await controlPlane.call(
                "PATCH",
                `/api/v1/nodes/${host.name}`,
                { spec: { taints: null } },
                "application/merge-patch+json",
            );
        } else {
            await controlPlane.call(
                "PATCH",
                `/api/v1/nodes/${host.name}`,
                { metadata: node.metadata },
                "application/merge-patch+json",
            );
        }
        const status = await controlPlane.call(
            "PATCH",
            `/api/v1/nodes/${host.name}/status`,
            { status: node.status },
            "application/merge-patch+json",
        );
        if (status.status !== 200) {
            throw new Error(`Node ${host.name} status: ${JSON.stringify(status.body)}`);
        }
    }
}

const mergePatch = "application/merge-patch+json";

/**
 * Plays CDI's importer: every DataVolume is done, with the Bound PVC and the PV CDI's import
 * leaves (what virt-controller and kube-scheduler look up for a DataVolume volume).
 */
async function playCdi(controlPlane: ControlPlane): Promise<void> {
    const volumes = await controlPlane.call("GET", "/apis/cdi.kubevirt.io/v1beta1/datavolumes");
    const claims = await controlPlane.call("GET", "/api/v1/persistentvolumeclaims");
    const claimed = new Set(
        (claims.body.items ?? []).map((c: any) => `${c.metadata.namespace}/${c.metadata.name}`),
    );
    for (const dv of volumes.body?.items ?? []) {
        const { name, namespace, uid } = dv.metadata;
        if (dv.metadata.deletionTimestamp) {
            continue;
        }
        if (!claimed.has(`${namespace}/${name}`)) {
            const volumeName = `pv-${uid}`;
            const size = dv.spec.storage?.resources?.requests?.storage ?? "1Gi";
            await controlPlane.call("POST", "/api/v1/persistentvolumes", {
                apiVersion: "v1",
                kind: "PersistentVolume",
                metadata: { name: volumeName },
                spec: {
                    capacity: { storage: size },
                    accessModes: ["ReadWriteOnce"],
                    hostPath: { path: `/var/lib/e2e/${volumeName}` },
                    claimRef: { namespace, name },
                    persistentVolumeReclaimPolicy: "Delete",
                },
            });
            const pvc = await controlPlane.call(
                "POST",
                `/api/v1/namespaces/${namespace}/persistentvolumeclaims`,
                {
                    apiVersion: "v1",
                    kind: "PersistentVolumeClaim",
                    metadata: {
                        name,
                        namespace,
                        // What kube-scheduler's volume binding takes for a bound claim.
                        annotations: {
                            "pv.kubernetes.io/bind-completed": "yes",
                            "pv.kubernetes.io/bound-by-controller": "yes",
                        },
                        ownerReferences: [
                            {
                                apiVersion: "cdi.kubevirt.io/v1beta1",
                                kind: "DataVolume",
                                name,
                                uid,
                                controller: true,
                                blockOwnerDeletion: true,
                            },
                        ],
                    },
                    spec: {
                        accessModes: ["ReadWriteOnce"],
                        resources: { requests: { storage: size } },
                        storageClassName: "",
                        volumeName,
                    },
                },
            );
            if (pvc.status === 201) {
                await controlPlane.call(
                    "PATCH",
                    `/api/v1/persistentvolumes/${volumeName}/status`,
                    { status: { phase: "Bound" } },
                    mergePatch,
                );
                await controlPlane.call(
                    "PATCH",
                    `/api/v1/namespaces/${namespace}/persistentvolumeclaims/${name}/status`,
                    {
                        status: {
                            phase: "Bound",
                            accessModes: ["ReadWriteOnce"],
                            capacity: { storage: size },
                        },
                    },
                    mergePatch,
                );
            }
        }
        if (dv.status?.phase !== "Succeeded") {
            await controlPlane.call(
                "PATCH",
                `/apis/cdi.kubevirt.io/v1beta1/namespaces/${namespace}/datavolumes/${name}/status`,
                {
                    status: {
                        phase: "Succeeded",
                        progress: "100.0%",
                        claimName: name,
                        conditions: [
                            { type: "Bound", status: "True" },
                            { type: "Ready", status: "True" },
                            { type: "Running", status: "False", reason: "Completed" },
                        ],
                    },
                },
                mergePatch,
            );
        }
    }
    // A PV whose claim is gone goes too, as its reclaim policy says.
    const pvs = await controlPlane.call("GET", "/api/v1/persistentvolumes");
    const live = await controlPlane.call("GET", "/api/v1/persistentvolumeclaims");
    const liveClaims = new Set(
        (live.body.items ?? []).map((c: any) => `${c.metadata.namespace}/${c.metadata.name}`),
    );
    for (const pv of pvs.body.items ?? []) {
        const ref = pv.spec.claimRef;
        if (
            ref &&
            !liveClaims.has(`${ref.namespace}/${ref.name}`) &&
            pv.metadata.creationTimestamp
        ) {
            const age = Date.now() - Date.parse(pv.metadata.creationTimestamp);
            if (age > 5000) {
                await controlPlane.call("DELETE", `/api/v1/persistentvolumes/${pv.metadata.name}`);
            }
        }
    }
}

/** Plays each bound pod's kubelet: its containers start and are ready; a deleted pod goes. */
async function playKubelets(controlPlane: ControlPlane): Promise<void> {
    const pods = await controlPlane.call("GET", "/api/v1/pods");
    for (const pod of pods.body.items ?? []) {
        const { name, namespace } = pod.metadata;
        const podPath = `/api/v1/namespaces/${namespace}/pods/${name}`;
        if (pod.metadata.deletionTimestamp) {
            await controlPlane.call("DELETE", podPath, { gracePeriodSeconds: 0 });
            continue;
        }
        if (!pod.spec.nodeName || pod.status?.phase === "Running") {
            continue;
        }
        const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
        const running = (c: any) => ({
            name: c.name,
            image: c.image,
            imageID: c.image,
            ready: true,
            started: true,
            restartCount: 0,
            state: { running: { startedAt: now } },
        });
        const condition = (type: string) => ({
            type,
            status: "True",
            lastProbeTime: null,
            lastTransitionTime: now,
        });
        await controlPlane.call(
            "PATCH",
            `${podPath}/status`,
            {
                status: {
                    phase: "Running",
                    hostIP: "172.28.2.88",
                    podIP: "10.42.0.10",
                    startTime: now,
                    conditions: ["Initialized", "Ready", "ContainersReady", "PodScheduled"].map(
                        condition,
                    ),
                    containerStatuses: pod.spec.containers.map(running),
                    // Native sidecars (restartPolicy Always) run; other init containers finished.
                    initContainerStatuses: (pod.spec.initContainers ?? []).map((c: any) =>
                        c.restartPolicy === "Always"
                            ? running(c)
                            : {
                                  ...running(c),
                                  started: false,
                                  state: {
                                      terminated: {
                                          exitCode: 0,
                                          reason: "Completed",
                                          startedAt: now,
                                          finishedAt: now,
                                      },
                                  },
                              },
                    ),
                },
            },
            mergePatch,
        );
    }
}

/**
 * Plays virt-handler on each host: a VMI virt-controller handed over (Scheduled) runs once
 * `mayRun` says so, and a deleted one shuts down. As virt-handler does, as its service account
 * on the VMI's node: virt-api keeps the status of a VMI others update, and lets virt-handler
 * change only VMIs on its own node (kubevirt pkg/virt-api/webhooks/mutating-webhook/mutators/
 * vmi-mutator.go, validating-webhook/admitters/vmi-update-admitter.go).
 */
async function playVirtHandlers(
    controlPlane: ControlPlane,
    mayRun: () => boolean,
    onRun: (vmi: any) => void,
): Promise<void> {
    const vmis = await controlPlane.call("GET", "/apis/kubevirt.io/v1/virtualmachineinstances");
    for (const vmi of vmis.body.items ?? []) {
        const vmiPath = `/apis/kubevirt.io/v1/namespaces/${vmi.metadata.namespace}/virtualmachineinstances/${vmi.metadata.name}`;
        const phase = vmi.status?.phase;
        // Its RBAC has update, not patch (kubevirt pkg/virt-operator/resource/generate/rbac/
        // handler.go): the object as listed, with the new phase; a conflict retries next tick.
        const asHandler = (status: { phase: string }) =>
            controlPlane.call(
                "PUT",
                vmiPath,
                { ...vmi, status: { ...vmi.status, ...status } },
                "application/json",
                {
                    "Impersonate-User": "system:serviceaccount:kubevirt:kubevirt-handler",
                    "Impersonate-Group": "system:serviceaccounts",
                    "Impersonate-Extra-authentication.kubernetes.io%2fnode-name":
                        vmi.status.nodeName,
                },
            );
        if (vmi.metadata.deletionTimestamp) {
            if (phase === "Scheduled" || phase === "Running") {
                await asHandler({ phase: "Succeeded" });
            }
        } else if (phase === "Scheduled" && mayRun()) {
            if ((await asHandler({ phase: "Running" })).status === 200) {
                onRun(vmi);
            }
        }
    }
}

/**
 * Plays what the e2e runs no binary of, every 250 ms until the returned function is called:
 * CDI's importer, each host's kubelet and virt-handler (`mayRun` holds VMIs back; `onRun` hears
 * of each guest it starts), and virt-handler's heartbeat on the Nodes of `hosts()`.
 */
export function playHosts(
    controlPlane: ControlPlane,
    hosts: () => HostShape[],
    mayRun: () => boolean = () => true,
    onRun: (vmi: any) => void = () => undefined,
): () => void {
    let busy = false;
    let lastHeartbeat = 0;
    let lastHosts = "";
    let lastError = "";
    let stopped = false;
    const timer = setInterval(async () => {
        if (busy) {
            return;
        }
        busy = true;
        try {
            const current = hosts();
            const key = JSON.stringify(current);
            if (key !== lastHosts || Date.now() - lastHeartbeat > 30000) {
                await syncNodes(controlPlane, current);
                lastHosts = key;
                lastHeartbeat = Date.now();
            }
            await playCdi(controlPlane);
            await playKubelets(controlPlane);
            await playVirtHandlers(controlPlane, mayRun, onRun);
        } catch (error) {
            // The next tick retries: objects come and go under a running test. Said once.
            const message = String(error);
            if (message !== lastError && !stopped) {
                console.error(`    (played hosts: ${message}; retrying)`);
                lastError = message;
            }
        } finally {
            busy = false;
        }
    }, 250);
    return () => {
        stopped = true;
        clearInterval(timer);
    };
}

/** The KubeVirt CR file with `configuration` in `dir`, for the setup programs and the API server. */
export function writeKubevirtCr(dir: string, configuration: Record<string, unknown>): string {
    const file = path.join(dir, "kubevirt-cr.json");
    writeFileSync(file, JSON.stringify(kubevirtCr(configuration)));
    return file;
}

/** `quantity` in its base unit: bytes, or millicores for CPU. */
function quantityValue(quantity: string, resource: "cpu" | "memory"): number {
    if (resource === "cpu") {
        return quantity.endsWith("m") ? Number(quantity.slice(0, -1)) : Number(quantity) * 1000;
    }
    return Math.ceil(bytes(quantity));
}

/**
 * What kube-scheduler counts of `pod`'s `resource` (kubernetes pkg/api/v1/resource, PodRequests):
 * its containers and native sidecars, or its largest init container if that is more.
 */
export function schedulerRequest(pod: any, resource: "cpu" | "memory"): number {
    const request = (c: any) => {
        const value = c.resources?.requests?.[resource];
        return value === undefined ? 0 : quantityValue(value, resource);
    };
    let sidecars = 0;
    let largestInit = 0;
    for (const c of pod.spec.initContainers ?? []) {
        if (c.restartPolicy === "Always") {
            sidecars += request(c);
        } else {
            largestInit = Math.max(largestInit, sidecars + request(c));
        }
    }
    const containers = pod.spec.containers.reduce((sum: number, c: any) => sum + request(c), 0);
    return Math.max(containers + sidecars, largestInit);
}

/** The launcher pod of VMI `namespace/name` once kube-scheduler bound it (up to a minute). */
export async function boundLauncherPod(
    controlPlane: ControlPlane,
    namespace: string,
    name: string,
): Promise<any> {
    for (let attempt = 0; attempt < 240; attempt++) {
        const vmi = await controlPlane.call(
            "GET",
            `/apis/kubevirt.io/v1/namespaces/${namespace}/virtualmachineinstances/${name}`,
        );
        // kubevirt pkg/virt-controller/services/template.go: the pod names its VMI by uid.
        const selector = encodeURIComponent(
            `kubevirt.io=virt-launcher,kubevirt.io/created-by=${vmi.body.metadata?.uid}`,
        );
        const pods = await controlPlane.call(
            "GET",
            `/api/v1/namespaces/${namespace}/pods?labelSelector=${selector}`,
        );
        const bound = (pods.body.items ?? []).filter(
            (p: any) => p.spec.nodeName && !p.metadata.deletionTimestamp,
        );
        if (vmi.status === 200 && bound.length === 1) {
            return bound[0];
        }
        await sleep(250);
    }
    throw new Error(`no launcher pod of ${namespace}/${name} was bound to a Node`);
}
