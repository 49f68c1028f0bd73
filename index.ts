import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as rancher2 from "@pulumi/rancher2";
import {
    EdgeCluster,
    InterconnectGateway,
    SiteNetwork,
    nodeJoinHook,
    nodeRemovalHook,
} from "./components";
import { resourceNames, ConfigError, formatProblems } from "./lib/core";
import { withCappedStackTraces } from "./runtime/stackTraces";
import { StackPlan, planStack, wireguardKeyProblem } from "./lib/plan";
import { configNamespace, parseConfigValue, rawStackConfig, secretPlaceholder } from "./lib/config";
import { withInterconnects } from "./runtime/projectFiles";

const config = new pulumi.Config(configNamespace);
const stack = pulumi.getStack();
const sshPrivateKey = config.getSecret("sshPrivateKey");
const wireguardPrivateKey = config.getSecret("wireguardPrivateKey");

/** Keys whose values never reach validation: only whether they are set does. */
const privateKeys = [`${configNamespace}:sshPrivateKey`, `${configNamespace}:wireguardPrivateKey`];

/** The project's config keys as the user wrote them; private keys' values stay out of it. */
function projectConfig(): Record<string, unknown> {
    return Object.fromEntries(
        Object.entries(pulumi.runtime.allConfig())
            .filter(([key]) => key.startsWith(`${configNamespace}:`))
            .map(([key, text]) => [
                key,
                privateKeys.includes(key) ? secretPlaceholder : parseConfigValue(text),
            ]),
    );
}

function loadPlan(): { plan: StackPlan; kubeconfig?: string } {
    try {
        // Pulumi runs the program in the project folder, where interconnects.yaml is.
        return planStack(withInterconnects(rawStackConfig(projectConfig()), process.cwd()));
    } catch (error) {
        // A RunError ends the program with its message alone, without a stack trace.
        throw error instanceof ConfigError ? new pulumi.RunError(error.message) : error;
    }
}

const { plan, kubeconfig } = loadPlan();

// The WireGuard key must be the pair of the committed public key, before anything is declared.
// Offline, the key is a placeholder.
const wireguardKey = pulumi.runtime.allConfig()[`${configNamespace}:wireguardPrivateKey`];
const keyProblem =
    plan.gateways.length > 0 && wireguardKey !== undefined && wireguardKey !== secretPlaceholder
        ? wireguardKeyProblem(wireguardKey, plan.site.name, plan.gateways[0].gateway.publicKey)
        : undefined;
if (keyProblem) {
    throw new pulumi.RunError(
        formatProblems([{ path: `${configNamespace}:wireguardPrivateKey`, message: keyProblem }]),
    );
}

if (plan.lockChanges.length > 0) {
    const message = [
        `edge:allocations in Pulumi.${stack}.yaml does not record this config's addresses and placements:`,
        ...plan.lockChanges.map((change) => `  ${change}`),
        `Run \`npm run lock -- --stack ${stack}\` and commit the stack file so that they stay put.`,
    ].join("\n");
    // A preview may show what would be assigned; an update must not hand out unrecorded addresses.
    if (!pulumi.runtime.isDryRun()) {
        throw new pulumi.RunError(message);
    }
    pulumi.log.warn(message);
}

/** Everything the site declares: its shared objects, then each edge cluster, one at a time. */
async function declareSite(): Promise<{ siteNetwork: SiteNetwork; edgeClusters: EdgeCluster[] }> {
    // Empty when Rancher's certificate is publicly signed (rancher pkg/tls/tls.go, --no-cacerts).
    const rancherCaCerts = rancher2.getSettingOutput({ name: "cacerts" }).value;

    const removalHook = nodeRemovalHook(plan, rancherCaCerts);
    const joinHook = nodeJoinHook(plan, rancherCaCerts);

    const hostCluster = new k8s.Provider(
        resourceNames.hostProvider(plan.site.name),
        {
            kubeconfig: kubeconfig === undefined ? undefined : pulumi.secret(kubeconfig),
            // A Secret whose data changes is updated, not replaced (pulumi-kubernetes
            // provider/pkg/provider/diff.go): a protected site's cloud-init Secrets are protected,
            // and Pulumi refuses to replace a protected resource.
            enableSecretMutable: true,
        },
        {
            // The SDK waits for a hook's registration only where a resource binds it; the provider
            // always exists, so the hook is registered even when no node is left to bind it, and a
            // deleted VM's hook is found. The hook ignores anything but node VMs.
            hooks: { beforeDelete: [removalHook] },
        },
    );

    const siteNetwork = new SiteNetwork(
        plan.site.name,
        { site: plan.site },
        { providers: [hostCluster] },
    );

    const edgeClusters: EdgeCluster[] = [];
    for (const cluster of plan.clusters) {
        edgeClusters.push(
            new EdgeCluster(
                cluster.name,
                {
                    site: plan.site,
                    cluster,
                    siteNetwork,
                    sshPrivateKey,
                    rancherCaCerts,
                    removalHook,
                    joinHook,
                },
                { providers: [hostCluster] },
            ),
        );
        // Lets the SDK send this cluster's registrations before the next cluster is declared:
        // with all declared at once, every resource's pending registration was alive at the same
        // time (at 1,000 VMs, a peak of 850–890 MiB under mocks instead of 510 MiB; npm run bench).
        await new Promise((resolve) => setImmediate(resolve));
    }
    // The site's ends of its interconnects; planned only once its WireGuard key is set.
    for (const gateway of plan.gateways) {
        new InterconnectGateway(
            gateway.vmName,
            {
                gateway,
                privateKey: wireguardPrivateKey!,
                namespace: siteNetwork.namespaces[gateway.namespace],
                goldenImage: siteNetwork.goldenImages[gateway.gateway.image],
                networkAttachment: siteNetwork.networkAttachments[gateway.gateway.network],
            },
            { providers: [hostCluster], protect: plan.site.protect },
        );
    }
    return { siteNetwork, edgeClusters };
}

const declared = withCappedStackTraces(declareSite);

// Promises, so that each output keeps its own secrecy (a kubeconfig is secret, a CIDR is not).
export const site = declared.then(({ siteNetwork }) => ({
    name: plan.site.name,
    networks: siteNetwork.networks,
    images: siteNetwork.images,
}));

export const clusters = declared.then(({ edgeClusters }) =>
    Object.fromEntries(
        edgeClusters.map((cluster, i) => [
            plan.clusters[i].name,
            {
                id: cluster.clusterId,
                kubeconfig: cluster.kubeconfig,
                breakGlassKubeconfig: cluster.breakGlassKubeconfig,
                podCidr: cluster.podCidr,
                serviceCidr: cluster.serviceCidr,
                apiEndpoint: cluster.apiEndpoint,
                nodes: cluster.nodeSummaries,
            },
        ]),
    ),
);
