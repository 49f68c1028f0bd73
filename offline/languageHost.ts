import { execFileSync } from "child_process";
import * as path from "path";

/** What scripts/languageHost.js reports of a stack's program as the language host loads it. */
export interface LanguageHostLoad {
    /** The tsconfig ts-node was registered with, relative to the project. */
    tsconfig: string;
    /** Whether ts-node compiled without type checks. */
    transpileOnly: boolean;
    /** What ts-node compiled with, by name: `{ target: "ES2022", ... }`. */
    compilerOptions: Record<string, string>;
    /** From start until every resource is registered. */
    ms: number;
    peakMiB: number;
    resources: { type: string; name: string; inputs: Record<string, unknown> }[];
}

/**
 * `stack`'s program loaded by scripts/languageHost.js in a fresh plain node, as the language host
 * starts it without nodeargs, and with no variable that would change how ts-node compiles.
 * `tsconfig` defaults to the one Pulumi.yaml names.
 */
export function loadAsLanguageHost(
    root: string,
    stack: string,
    tsconfig?: string,
): LanguageHostLoad {
    const env = Object.fromEntries(
        Object.entries(process.env).filter(
            ([key]) => !key.startsWith("TS_NODE_") && key !== "PULUMI_NODEJS_TRANSPILE_ONLY",
        ),
    );
    const script = path.join(root, "scripts", "languageHost.js");
    const output = execFileSync(
        process.execPath,
        [script, stack, ...(tsconfig ? [tsconfig] : [])],
        {
            encoding: "utf8",
            env,
        },
    );
    return JSON.parse(output) as LanguageHostLoad;
}
