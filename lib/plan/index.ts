/**
 * lib/plan: a stack's plan, what the program declares. Addresses and CIDRs (addresses.ts), a
 * host for every node (placement.ts), gateways and tunnels between sites (interconnect.ts),
 * what replaces a node and keeps etcd's quorum (lifecycle.ts), and the whole plan of a site,
 * its networks, images, clusters and nodes (stackPlan.ts).
 *
 * May import: core, config, rancher, render.
 */
export * from "./addresses";
export * from "./interconnect";
export * from "./lifecycle";
export * from "./placement";
export * from "./stackPlan";
