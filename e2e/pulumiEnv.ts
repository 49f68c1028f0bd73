import { execFileSync } from "child_process";
import { chmodSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "fs";
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

/** The pins the tools in `bin` were built from (scripts/e2e-tools.sh writes them beside it). */
export function toolPins(bin: string): Record<string, string> {
    const text = readFileSync(path.join(bin, "..", "versions.env"), "utf8");
    return Object.fromEntries(
        text
            .split("\n")
            .filter((line) => /^[A-Z][A-Z0-9_]*=/.test(line))
            .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
    );
}

export type Plugin = "kubernetes" | "rancher2" | "tls" | "command" | "dynamic";

/** Each built provider with the version it is installed as: the one its npm SDK asks for. */
export function pluginVersions(bin: string): Record<Exclude<Plugin, "dynamic">, string> {
    const pins = toolPins(bin);
    return {
        kubernetes: pins.PULUMI_KUBERNETES_VERSION,
        rancher2: pins.RANCHER2_PROVIDER_AS,
        tls: pins.TLS_PROVIDER_AS,
        command: pins.COMMAND_PROVIDER_REF.replace(/^v/, ""),
    };
}

/**
 * A Pulumi CLI with the Node.js language host built beside it, a local state backend in `work`,
 * no update checks, no plugin downloads, and only the plugins named: each provider built by
 * scripts/e2e-tools.sh installed where the CLI finds it (`pulumi plugin install resource NAME
 * VERSION --file BIN` into this PULUMI_HOME), and the SDK's own dynamic provider.
 */
export async function pulumiEnvironment(
    work: string,
    bin: string,
    plugins: Plugin[],
    extraEnv: Record<string, string> = {},
): Promise<{ pulumiCommand: PulumiCommand; env: Record<string, string>; backend: string }> {
    mkdirSync(path.join(work, "cli", "bin"), { recursive: true });
    // The CLI runs the language host found beside its own executable (the symlink's target).
    symlinkSync(path.join(bin, "pulumi"), path.join(work, "cli", "bin", "pulumi"));
    const pluginDir = path.join(work, "plugins");
    mkdirSync(pluginDir);
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
    mkdirSync(path.join(work, "state"));
    const env = {
        PATH: `${pluginDir}:${process.env.PATH}`,
        PULUMI_HOME: path.join(work, "home"),
        PULUMI_CONFIG_PASSPHRASE: "e2e",
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        ...extraEnv,
    };
    const versions = pluginVersions(bin);
    for (const plugin of plugins) {
        if (plugin !== "dynamic") {
            execFileSync(
                path.join(bin, "pulumi"),
                [
                    "plugin",
                    "install",
                    "resource",
                    plugin,
                    versions[plugin],
                    "--file",
                    path.join(bin, `pulumi-resource-${plugin}`),
                ],
                { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"] },
            );
        }
    }
    // The inline program runs in this process: the plugins it starts must be on its PATH too.
    Object.assign(process.env, env);
    const pulumiCommand = await PulumiCommand.get({
        root: path.join(work, "cli"),
        skipVersionCheck: true,
    });
    return { pulumiCommand, env, backend: `file://${path.join(work, "state")}` };
}
