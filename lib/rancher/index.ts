/**
 * lib/rancher: what Rancher and its distributions, k3s and rke2, take and give. The server
 * config and CNI chart values of a cluster, where a server keeps its admin kubeconfig and how it
 * is pointed elsewhere, and which rke2 releases offer what a CNI needs. Requests to Rancher are
 * made at run time by runtime/, never here.
 *
 * May import: core.
 */
export * from "./kubeconfig";
export * from "./serverConfig";
export * from "./versions";
