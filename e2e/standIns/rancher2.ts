import * as provider from "@pulumi/pulumi/provider";

/**
 * A stand-in for the rancher2 provider plugin, which the Go module proxy does not serve (see
 * e2e/versions.env). It keeps the real plugin's contract with our program: the same type tokens,
 * inputs and outputs (terraform-provider-rancher2 rancher2/schema_cluster_v2.go,
 * schema_cluster_sync.go), talking to the suite's fake Rancher instead of a real one.
 */

const rancher = process.env.EDGE_E2E_RANCHER_URL!;
const token = process.env.RANCHER_TOKEN_KEY!;

async function call(method: string, path: string, body?: unknown): Promise<any> {
    const response = await fetch(`${rancher}${path}`, {
        method,
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (!response.ok) {
        throw new Error(`${method} ${path}: Rancher answered ${response.status}`);
    }
    return response.json();
}

/** The URN's type is the parent types' chain, `$`-separated, ending with the resource's own. */
const typeOf = (urn: string) => urn.split("::")[2].split("$").pop();
const nameOf = (inputs: Record<string, any>) => inputs.name as string;

/** Rancher's node commands (rancher pkg/api/norman/store/cluster/registrationtoken.go shape). */
function registrationToken(id: string): Record<string, unknown> {
    const secret = `e2e-registration-token-${id}`;
    const install = `${rancher}/system-agent-install.sh`;
    const flags = `--server ${rancher} --label 'cattle.io/os=linux' --token ${secret}`;
    return {
        clusterId: id,
        name: "default-token",
        token: secret,
        command: `kubectl apply -f ${rancher}/v3/import/${secret}_${id}.yaml`,
        insecureCommand: `curl --insecure -sfL ${rancher}/v3/import/${secret}_${id}.yaml | kubectl apply -f -`,
        nodeCommand: `curl -fL ${install} | sudo sh -s - ${flags} --ca-checksum e2e`,
        insecureNodeCommand: `curl --insecure -fL ${install} | sudo sh -s - ${flags}`,
        manifestUrl: `${rancher}/v3/import/${secret}_${id}.yaml`,
        windowsNodeCommand: "",
        insecureWindowsNodeCommand: "",
        annotations: {},
        labels: {},
        id: `${id}:default-token`,
    };
}

async function createClusterV2(inputs: Record<string, any>): Promise<provider.CreateResult> {
    const created = await call("POST", "/v1/provisioning.cattle.io.clusters", {
        metadata: { name: nameOf(inputs), namespace: "fleet-default" },
        spec: { localClusterAuthEndpoint: inputs.localAuthEndpoint },
    });
    const id = created.status.clusterName as string;
    const { config } = await call("POST", `/v3/clusters/${id}?action=generateKubeconfig`);
    return {
        id: `fleet-default/${nameOf(inputs)}`,
        outs: {
            ...inputs,
            fleetNamespace: "fleet-default",
            clusterV1Id: id,
            clusterRegistrationToken: registrationToken(id),
            kubeConfig: config,
            resourceVersion: "1",
        },
    };
}

async function createClusterSync(inputs: Record<string, any>): Promise<provider.CreateResult> {
    const cluster = await call("GET", `/v3/clusters/${inputs.clusterId}`);
    const { config } = await call("POST", `/v3/clusters/${cluster.id}?action=generateKubeconfig`);
    return {
        id: cluster.id,
        outs: {
            ...inputs,
            synced: true,
            kubeConfig: config,
            nodes: (cluster.nodes as string[]).map((node) => ({ name: node })),
            defaultProjectId: `${cluster.id}:p-default`,
            systemProjectId: `${cluster.id}:p-system`,
        },
    };
}

const rancher2: provider.Provider = {
    version: "13.0.0",
    async create(urn, inputs) {
        switch (typeOf(urn)) {
            case "rancher2:index/clusterV2:ClusterV2":
                return createClusterV2(inputs);
            case "rancher2:index/clusterSync:ClusterSync":
                return createClusterSync(inputs);
            default:
                throw new Error(`the rancher2 stand-in has no ${typeOf(urn)}`);
        }
    },
    async update(_id, _urn, olds, news) {
        // Computed outputs stay; inputs are what the program now declares.
        return { outs: { ...olds, ...news } };
    },
    async delete(id, urn) {
        if (typeOf(urn) === "rancher2:index/clusterV2:ClusterV2") {
            await call("DELETE", `/v1/provisioning.cattle.io.clusters/${id}`);
        }
    },
    async invoke(token, inputs) {
        switch (token) {
            case "rancher2:index/getSetting:getSetting": {
                const setting = await call("GET", `/v3/settings/${inputs.name}`);
                return { outputs: { id: setting.id, name: setting.name, value: setting.value } };
            }
            case "rancher2:index/getCluster:getCluster": {
                const cluster = await call("GET", `/v3/clusters/${inputs.name}`);
                return { outputs: { ...inputs, id: cluster.id, caCert: cluster.caCert } };
            }
            default:
                throw new Error(`the rancher2 stand-in has no ${token}`);
        }
    },
};

provider.main(rancher2, process.argv.slice(2));
