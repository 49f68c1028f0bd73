import { execFileSync } from "child_process";
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from "fs";
import * as path from "path";
import { PulumiCommand } from "@pulumi/pulumi/automation";

export const projectRoot = path.resolve(__dirname, "..");

/** The bin dir of the tools scripts/e2e-tools.sh builds (or reuses) at the pinned versions. */
export function toolsBin(): string {
    const out = execFileSync(path.join(projectRoot, "scripts", "e2e-tools.sh"), {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"],
    });
    return out.trim().split("\n").pop()!;
}

/**
 * A Pulumi CLI that runs inline programs (the Node.js SDK is their language host) with a local
 * state backend in `work`, no update checks, no plugin downloads, and only the plugins named:
 * the Kubernetes provider from `bin`, or the SDK's own dynamic provider.
 */
export async function pulumiEnvironment(
    work: string,
    bin: string,
    plugins: ("kubernetes" | "dynamic")[],
): Promise<{ pulumiCommand: PulumiCommand; env: Record<string, string>; backend: string }> {
    mkdirSync(path.join(work, "cli", "bin"), { recursive: true });
    symlinkSync(path.join(bin, "pulumi"), path.join(work, "cli", "bin", "pulumi"));
    const pluginDir = path.join(work, "plugins");
    mkdirSync(pluginDir);
    if (plugins.includes("kubernetes")) {
        symlinkSync(
            path.join(bin, "pulumi-resource-kubernetes"),
            path.join(pluginDir, "pulumi-resource-kubernetes"),
        );
    }
    if (plugins.includes("dynamic")) {
        // The dynamic provider's plugin is the SDK's own entry point, as the CLI's shim runs it.
        const shim = path.join(pluginDir, "pulumi-resource-pulumi-nodejs");
        const entry = path.join(
            projectRoot,
            "node_modules",
            "@pulumi",
            "pulumi",
            "cmd",
            "dynamic-provider",
        );
        writeFileSync(shim, `#!/bin/sh\nexec "${process.execPath}" "${entry}" "$@"\n`);
        chmodSync(shim, 0o755);
    }
    mkdirSync(path.join(work, "state"));
    const env = {
        PATH: `${pluginDir}:${process.env.PATH}`,
        PULUMI_HOME: path.join(work, "home"),
        PULUMI_CONFIG_PASSPHRASE: "e2e",
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    };
    // The inline program runs in this process: the plugins it starts must be on its PATH too.
    Object.assign(process.env, env);
    const pulumiCommand = await PulumiCommand.get({
        root: path.join(work, "cli"),
        skipVersionCheck: true,
    });
    return { pulumiCommand, env, backend: `file://${path.join(work, "state")}` };
}
