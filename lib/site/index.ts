/**
 * lib/site: the host cluster a site runs on. Its hosts as `kubectl get nodes` lists them
 * (hostInventory.ts), and what a plan asks of the cluster before `pulumi up`: KubeVirt feature
 * gates, CDI, Multus and permissions (prerequisites.ts).
 *
 * May import: core, config, render, plan.
 */
export * from "./hostInventory";
export * from "./prerequisites";
