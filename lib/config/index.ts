/**
 * lib/config: a stack's config. Its shape, declared once with zod (shape.ts; the types,
 * the editor's JSON Schema and the config reference are generated from it), every default
 * (defaults.ts), the rules between fields (rules.ts), intents expanded into nodes (intent.ts),
 * how problems are worded (issues.ts, report.ts), reading a whole stack's config (read.ts), and
 * the stack file's text: read, locked, written (stackFile.ts).
 *
 * May import: core, rancher.
 */
export * from "./defaults";
export * from "./intent";
export * from "./issues";
export * from "./jsonSchema";
export * from "./read";
export * from "./reference";
export * from "./report";
export * from "./rules";
export * from "./shape";
export * from "./stackFile";
export * from "./types";
