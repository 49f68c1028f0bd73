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
 * The bin dir of what scripts/kubevirt-tools.sh builds (or reuses) from KubeVirt's and CDI's own
 * trees: virt-api, virt-controller and the e2e/kubevirt and e2e/cdi programs.
 */
export function kubevirtBin(): string {
    const out = execFileSync(path.join(projectRoot, "scripts", "kubevirt-tools.sh"), {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"],
    });
    return out.trim().split("\n").pop()!;
}

/** Writes an executable shim. */
function shim(file: string, lines: string[]): void {
    writeFileSync(file, ["#!/bin/sh", ...lines, ""].join("\n"));
    chmodSync(file, 0o755);
}

/**
 * A Pulumi CLI that runs inline programs (the Node.js SDK is their language host) with a local
 * state backend in `work`, no update checks, no plugin downloads, and only the plugins named:
 * the Kubernetes provider from `bin`, the SDK's own dynamic provider, and stand-ins for the
 * providers the module proxy does not serve (e2e/standIns/).
 */
export async function pulumiEnvironment(
    work: string,
    bin: string,
    plugins: ("kubernetes" | "dynamic" | "rancher2" | "tls")[],
    extraEnv: Record<string, string> = {},
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
        const entry = path.join(
            projectRoot,
            "node_modules",
            "@pulumi",
            "pulumi",
            "cmd",
            "dynamic-provider",
        );
        shim(path.join(pluginDir, "pulumi-resource-pulumi-nodejs"), [
            `exec "${process.execPath}" "${entry}" "$@"`,
        ]);
    }
    for (const standIn of (["rancher2", "tls"] as const).filter((p) => plugins.includes(p))) {
        shim(path.join(pluginDir, `pulumi-resource-${standIn}`), [
            `export TS_NODE_PROJECT="${path.join(projectRoot, "tsconfig.json")}"`,
            `exec "${process.execPath}" -r "${path.join(projectRoot, "node_modules", "ts-node", "register", "transpile-only")}" "${path.join(projectRoot, "e2e", "standIns", `${standIn}.ts`)}" "$@"`,
        ]);
    }
    mkdirSync(path.join(work, "state"));
    const env = {
        PATH: `${pluginDir}:${process.env.PATH}`,
        PULUMI_HOME: path.join(work, "home"),
        PULUMI_CONFIG_PASSPHRASE: "e2e",
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        ...extraEnv,
    };
    // The inline program runs in this process: the plugins it starts must be on its PATH too.
    Object.assign(process.env, env);
    const pulumiCommand = await PulumiCommand.get({
        root: path.join(work, "cli"),
        skipVersionCheck: true,
    });
    return { pulumiCommand, env, backend: `file://${path.join(work, "state")}` };
}

/**
 * The project's policy pack as an executable analyzer, for `--policy-pack`. The CLI runs a pack
 * directory only through the Node.js language plugin's RunPlugin, which the module proxy does not
 * serve; it also runs an executable path as the analyzer itself (pulumi
 * pkg/resource/plugin/analyzer_plugin.go, NewPolicyAnalyzer). This one starts the pack as that
 * RunPlugin does: run-policy-pack resolved from the pack's directory, then the engine's address
 * and the pack's directory (sdk/nodejs/cmd/pulumi-language-nodejs/main.go).
 */
export function policyPackRunner(work: string): string {
    const pack = path.join(projectRoot, "policy");
    const runner = path.join(work, "policy-runner", "edge-sites-policy");
    mkdirSync(path.dirname(runner), { recursive: true });
    shim(runner, [
        `cd "${pack}" || exit 1`,
        `entry=$("${process.execPath}" -e "console.log(require.resolve('@pulumi/pulumi/cmd/run-policy-pack'))") || exit 1`,
        "export PULUMI_NODEJS_TYPESCRIPT=true",
        `exec "${process.execPath}" "$entry" "$@" "${pack}"`,
    ]);
    return runner;
}
