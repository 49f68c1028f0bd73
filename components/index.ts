export { EdgeCluster, type EdgeClusterArgs, type NodeSummary } from "./edgeCluster";
export { KubevirtNode, type KubevirtNodeArgs } from "./kubevirtNode";
export {
    type ImageSummary,
    type NetworkSummary,
    SiteNetwork,
    type SiteNetworkArgs,
} from "./siteNetwork";
export { nodeJoinHook } from "./nodeJoin";
export { nodeRemovalHook } from "./nodeRemoval";
export { InterconnectGateway, type InterconnectGatewayArgs } from "./interconnectGateway";
