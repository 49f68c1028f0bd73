import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as rancher2 from "@pulumi/rancher2";
import { ClusterPlan, SitePlan, directApiEndpoint } from "../lib/plan";
import { clusterSyncStateConfirm, nodePortRange } from "../lib/config";
import { annotations, resourceNames, typeTokens, withoutSecretEnvelopes } from "../lib/core";
import { addCertificateAuthority, rewriteKubeconfigServer } from "../lib/rancher";
import { KubevirtNode } from "./kubevirtNode";
import { SiteNetwork } from "./siteNetwork";

export interface EdgeClusterArgs {
    /** The site's resolved plan. */
    site: SitePlan;
    /** The cluster's resolved plan: CIDRs, nodes and their manifests (see `planStack`). */
    cluster: ClusterPlan;
    /** The site's shared objects: namespaces, network attachments and golden images. */
    siteNetwork: SiteNetwork;
    /**
     * Private key for the break-glass kubeconfig's SSH connection; required when the cluster
     * sets `breakGlassKubeconfig`. Defaults to none.
     */
    sshPrivateKey?: pulumi.Input<string>;
    /** Rancher's `cacerts` setting: its private CA, or empty when its certificate is public. */
    rancherCaCerts: pulumi.Input<string>;
    /** The site's node removal hook, bound to every node VM. */
    removalHook: pulumi.ResourceHook;
    /** The site's node join hook, bound to every cluster's ClusterSync. */
    joinHook: pulumi.ResourceHook;
}

/** What the stack exports about a node. */
export interface NodeSummary {
    roles: string[];
    ips: Record<string, string>;
    macs: Record<string, string>;
    /** The node's SSH host key, for operators' known_hosts. */
    hostKey: string;
    /** The host an intent placed it on. */
    host?: string;
}

/**
 * One edge Kubernetes cluster: a Rancher custom cluster (k3s or rke2) whose nodes are KubeVirt VMs
 * on the site's host cluster, and which is only done once Rancher reports it active.
 */
export class EdgeCluster extends pulumi.ComponentResource {
    /** The Rancher cluster. */
    public readonly rancherCluster: rancher2.ClusterV2;
    /** Rancher's cluster id (`c-m-...`). */
    public readonly clusterId: pulumi.Output<string>;
    /**
     * Kubeconfig through Rancher's proxy, available once the cluster is active (secret); its
     * direct-API context trusts the cluster's own CA.
     */
    public readonly kubeconfig: pulumi.Output<string>;
    /** Admin kubeconfig read from the first server node, when asked for (secret). */
    public readonly breakGlassKubeconfig: pulumi.Output<string | undefined>;
    /** The cluster's pod CIDR. */
    public readonly podCidr: string;
    /** The cluster's service CIDR. */
    public readonly serviceCidr: string;
    /** Where the Kubernetes API answers without going through Rancher. */
    public readonly apiEndpoint: pulumi.Output<string>;
    /** The cluster's nodes by name. */
    public readonly nodes: Record<string, KubevirtNode>;
    /** Per node: roles, IPs, MACs and SSH host key. */
    public readonly nodeSummaries: pulumi.Output<Record<string, NodeSummary>>;

    constructor(name: string, args: EdgeClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        // A production site (site.protect) protects everything in it, children included: a
        // protected Rancher cluster alone would let `pulumi destroy` delete every node VM.
        super(typeTokens.edgeCluster, name, {}, { protect: args.site.protect, ...opts });
        const { site, cluster } = args;
        const { sshPrivateKey } = args;
        if (cluster.breakGlassKubeconfig && sshPrivateKey === undefined) {
            throw new pulumi.InputPropertyError({
                propertyPath: "sshPrivateKey",
                reason: `cluster ${cluster.name} asks for a break-glass kubeconfig, which is read over SSH`,
            });
        }

        const nodePort = this.directApiNodePort(name, args);
        this.apiEndpoint = nodePort
            ? nodePort.apply((port) => directApiEndpoint(site, cluster, port))
            : pulumi.output(directApiEndpoint(site, cluster));
        this.rancherCluster = this.declareRancherCluster(name, site, cluster, nodePort);
        this.clusterId = this.rancherCluster.clusterV1Id;
        this.nodes = this.declareNodes(name, args);
        const sync = this.declareSync(name, args.joinHook, cluster);
        this.kubeconfig = nodePort
            ? this.withDirectApiCa(cluster, sync)
            : pulumi.secret(sync.kubeConfig);
        this.warnOfMissingNodes(cluster, sync);

        this.breakGlassKubeconfig =
            cluster.breakGlassKubeconfig && sshPrivateKey !== undefined
                ? this.readAdminKubeconfig(name, site, cluster, sync, sshPrivateKey)
                : pulumi.output(undefined);
        this.podCidr = cluster.podCidr;
        this.serviceCidr = cluster.serviceCidr;
        this.nodeSummaries = this.summariesOf(cluster);
        // The data outputs only: the Rancher cluster and the nodes are in the state already.
        this.registerOutputs({
            clusterId: this.clusterId,
            kubeconfig: this.kubeconfig,
            breakGlassKubeconfig: this.breakGlassKubeconfig,
            podCidr: this.podCidr,
            serviceCidr: this.serviceCidr,
            apiEndpoint: this.apiEndpoint,
            nodeSummaries: this.nodeSummaries,
        });
    }

    /** The direct API's Service on the host cluster, when planned, and the node port it gets. */
    private directApiNodePort(
        name: string,
        args: EdgeClusterArgs,
    ): pulumi.Output<number> | undefined {
        const { cluster, siteNetwork } = args;
        const apiService = cluster.apiService
            ? new k8s.core.v1.Service(resourceNames.apiService(name), cluster.apiService, {
                  parent: this,
                  dependsOn: [siteNetwork.namespaces[cluster.namespace]],
              })
            : undefined;
        return apiService?.spec.ports.apply((ports) => {
            const port = ports[0].nodePort;
            // A preview of a new Service reports its inputs (no port yet) or, in a namespace that
            // exists, the API server's dry run, whose dummy ports start above the node port range
            // (kubernetes pkg/registry/core/service/portallocator/operation.go, AllocateNext):
            // the endpoint is unknown then, not the node's :6443 or a port that will not exist.
            const dryRunDummy =
                port !== undefined && (port < nodePortRange.first || port > nodePortRange.last);
            if (pulumi.runtime.isDryRun() && (port === undefined || dryRunDummy)) {
                return pulumi.unknown as unknown as number;
            }
            if (port !== undefined) {
                return port;
            }
            throw new pulumi.ResourceError(
                `the host cluster assigned no nodePort to ${cluster.apiService!.metadata.namespace}/${cluster.apiService!.metadata.name}`,
                this,
            );
        });
    }

    private declareRancherCluster(
        name: string,
        site: SitePlan,
        cluster: ClusterPlan,
        nodePort: pulumi.Output<number> | undefined,
    ): rancher2.ClusterV2 {
        return new rancher2.ClusterV2(
            name,
            {
                name: cluster.rancherName,
                kubernetesVersion: cluster.kubernetesVersion,
                labels: cluster.labels,
                annotations: { [annotations.clusterIdentity]: cluster.identity },
                rkeConfig: {
                    machineGlobalConfig: cluster.machineGlobalConfig,
                    ...(cluster.chartValues === undefined
                        ? {}
                        : { chartValues: cluster.chartValues }),
                },
                ...(nodePort
                    ? {
                          localAuthEndpoint: {
                              enabled: true,
                              fqdn: pulumi.interpolate`${site.hostNodeIps[0]}:${nodePort}`,
                          },
                      }
                    : {}),
            },
            {
                parent: this,
                // A new type or CIDR needs a new cluster; validation asks the operator to agree first.
                replaceOnChanges: [`annotations["${annotations.clusterIdentity}"]`],
                // The replacement keeps the Rancher name, so the old cluster must go first.
                deleteBeforeReplace: true,
                // Rancher hands out the registration token and kubeconfig here.
                additionalSecretOutputs: ["clusterRegistrationToken", "kubeConfig"],
            },
        );
    }

    private declareNodes(name: string, args: EdgeClusterArgs): Record<string, KubevirtNode> {
        const { site, cluster, siteNetwork } = args;
        const registrationCommand = this.registrationCommand(site, cluster);
        return Object.fromEntries(
            cluster.nodes.map((node) => [
                node.name,
                new KubevirtNode(
                    resourceNames.node(name, node.name),
                    {
                        node,
                        registrationCommand,
                        rancherCaCerts: args.rancherCaCerts,
                        removalHook: args.removalHook,
                        goldenImage: siteNetwork.goldenImages[node.image],
                        namespace: siteNetwork.namespaces[node.namespace],
                        networkAttachments: node.interfaces.map(
                            (i) => siteNetwork.networkAttachments[i.network],
                        ),
                    },
                    { parent: this },
                ),
            ]),
        );
    }

    private declareSync(
        name: string,
        joinHook: EdgeClusterArgs["joinHook"],
        cluster: ClusterPlan,
    ): rancher2.ClusterSync {
        return new rancher2.ClusterSync(
            resourceNames.clusterSync(name),
            {
                clusterId: this.clusterId,
                // A cluster can read active for a moment before Rancher plans a new node; each
                // confirmation is 5 s apart (terraform-provider-rancher2 cluster_sync docs).
                stateConfirm: clusterSyncStateConfirm,
            },
            {
                parent: this,
                // `pulumi up` ends when the cluster is active, which needs every node registered.
                dependsOn: Object.values(this.nodes),
                // ...and only once Rancher lists each node (see runtime/nodeJoin.ts).
                hooks: { beforeCreate: [joinHook] },
                // ClusterSync waits only when created: a node joining, leaving or being replaced
                // replaces it, so that `pulumi up` waits for the cluster to be active again.
                replacementTrigger: cluster.syncTrigger,
                customTimeouts: { create: "45m", update: "45m" },
                // It returns the cluster's kubeconfig.
                additionalSecretOutputs: ["kubeConfig"],
                // Bookkeeping that deletes nothing in Rancher (terraform-provider-rancher2
                // resource_rancher2_cluster_sync.go): a protected site must still add nodes.
                protect: false,
            },
        );
    }

    /** Per node: the plan's roles, addresses and host, and the SSH host key it computes. */
    private summariesOf(cluster: ClusterPlan): pulumi.Output<Record<string, NodeSummary>> {
        const nodes = Object.entries(this.nodes);
        return pulumi.all(nodes.map(([, node]) => node.hostPublicKey)).apply((hostKeys) =>
            Object.fromEntries(
                nodes.map(([nodeName, { roles, ips, macs }], i): [string, NodeSummary] => {
                    const host = cluster.nodes.find((n) => n.name === nodeName)?.host;
                    return [
                        nodeName,
                        { roles, ips, macs, hostKey: hostKeys[i], ...(host ? { host } : {}) },
                    ];
                }),
            ),
        );
    }

    /** Says which planned nodes Rancher does not list once the cluster is active. */
    private warnOfMissingNodes(cluster: ClusterPlan, sync: rancher2.ClusterSync): void {
        // After a refresh the real provider's nodes reach `apply` in a secret envelope too.
        sync.nodes.apply((wrapped) => {
            const nodes = withoutSecretEnvelopes(wrapped);
            if (nodes === undefined) {
                return;
            }
            const listed = new Set(nodes.map((node) => node.name));
            const missing = cluster.nodes.filter((node) => !listed.has(node.name));
            if (missing.length > 0) {
                pulumi.log.warn(
                    `Rancher reports cluster ${cluster.rancherName} active without node ${missing.map((n) => n.name).join(", ")}; see its VM's console and the cluster's machines in Rancher`,
                    this,
                );
            }
        });
    }

    /** Rancher's node command, secure unless the site opted out of TLS verification. */
    private registrationCommand(site: SitePlan, cluster: ClusterPlan): pulumi.Output<string> {
        return pulumi.secret(
            this.rancherCluster.clusterRegistrationToken.apply((wrapped) => {
                const token = withoutSecretEnvelopes(wrapped);
                const base = site.insecureRegistration
                    ? token.insecureNodeCommand
                    : token.nodeCommand;
                if (!base || base.trim() === "") {
                    throw new pulumi.ResourceError(
                        `Rancher returned no ${site.insecureRegistration ? "insecureNodeCommand" : "nodeCommand"} for cluster ${cluster.rancherName}; its nodes could never register`,
                        this,
                    );
                }
                return base;
            }),
        );
    }

    /**
     * Rancher's kubeconfig with the cluster's CA on its direct-API (`-fqdn`) context. Rancher
     * leaves `certificate-authority-data` out of that context unless `localAuthEndpoint.caCerts`
     * is set (rancher pkg/kubeconfig/templates.go), and the API certificate is signed by a CA the
     * cluster generates when it starts, so it is read back from Rancher once the cluster is
     * active (rancher2 `getCluster`'s `caCert`, base64 PEM).
     */
    private withDirectApiCa(
        cluster: ClusterPlan,
        sync: rancher2.ClusterSync,
    ): pulumi.Output<string> {
        const clusterCa = rancher2.getClusterOutput(
            // No `generateKubeConfig: false`: providers before rancher2 13.0.0 refuse the key
            // ("invalid or unknown key", terraform-provider-rancher2 a9ff219
            // data_source_rancher2_cluster.go), so each read also has Rancher generate a
            // kubeconfig, whose token expires with Rancher's kubeconfig token TTL.
            { name: cluster.rancherName },
            { parent: this, dependsOn: [sync] },
        ).caCert;
        return pulumi.secret(
            pulumi
                .all([sync.kubeConfig, clusterCa, this.apiEndpoint])
                .apply(([kubeconfig, ca, endpoint]) => {
                    const result = addCertificateAuthority(kubeconfig, endpoint, ca);
                    if (!result.matched && !pulumi.runtime.isDryRun()) {
                        pulumi.log.warn(
                            `Rancher's kubeconfig for ${cluster.rancherName} has no context for ${endpoint} with a CA to add; its direct-API context will not verify`,
                            this,
                        );
                    }
                    return result.kubeconfig;
                }),
        );
    }

    /** Reads the distribution's admin kubeconfig over SSH and points it at the direct endpoint. */
    private readAdminKubeconfig(
        name: string,
        site: SitePlan,
        cluster: ClusterPlan,
        sync: rancher2.ClusterSync,
        sshPrivateKey: pulumi.Input<string>,
    ): pulumi.Output<string> {
        const server = cluster.nodes.find((n) => n.roles.includes("controlplane"))!;
        const read = new command.remote.Command(
            resourceNames.breakGlass(name),
            {
                connection: {
                    host: server.address,
                    user: site.sshUser,
                    privateKey: pulumi.secret(sshPrivateKey),
                    // The node's own host key, handed to it through cloud-init: no first-use trust
                    // (pulumi-command provider/pkg/provider/remote/connection.go: FixedHostKey).
                    hostKey: this.nodes[server.name].hostPublicKey,
                },
                create: `sudo cat ${cluster.adminKubeconfigPath}`,
                // A rebuilt cluster or a replaced server has a new kubeconfig: read it again.
                triggers: [
                    this.clusterId,
                    server.vmName,
                    server.virtualMachine.metadata.annotations?.[annotations.rootDisk],
                    cluster.identity,
                ],
                // The kubeconfig holds the cluster's admin credentials: keep it out of logs.
                logging: command.types.enums.remote.Logging.None,
            },
            {
                parent: this,
                dependsOn: [sync],
                // stdout is the admin kubeconfig.
                additionalSecretOutputs: ["stdout"],
                // A read: deleting it runs nothing on the node.
                protect: false,
            },
        );
        return pulumi.secret(
            pulumi
                .all([read.stdout, this.apiEndpoint])
                .apply(([kubeconfig, endpoint]) => rewriteKubeconfigServer(kubeconfig, endpoint)),
        );
    }
}
