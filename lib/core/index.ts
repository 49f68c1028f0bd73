/**
 * lib/core: what every other folder shares. The name of everything the program creates in a
 * real system (naming.ts, pinned by test/naming.spec.ts: renaming replaces resources), problems
 * with their config paths, and small helpers: bytes and hashes, IPv4, Kubernetes quantities,
 * stable ordering, and the Node.js SDK's secret envelopes.
 *
 * May import: nothing of the project's.
 */
export * from "./bytes";
export * from "./ip";
export * from "./naming";
export * from "./order";
export * from "./problems";
export * from "./quantity";
export * from "./secretEnvelopes";
