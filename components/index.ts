export { EdgeCluster, EdgeClusterArgs, NodeSummary } from "./edgeCluster";
export { KubevirtNode, KubevirtNodeArgs } from "./kubevirtNode";
export { ImageSummary, NetworkSummary, SiteNetwork, SiteNetworkArgs } from "./siteNetwork";
export { nodeRemovalHook } from "./nodeRemoval";
export { InterconnectGateway, InterconnectGatewayArgs } from "./interconnectGateway";
