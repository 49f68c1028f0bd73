import { execFileSync, spawnSync } from "child_process";
import { existsSync, mkdtempSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";

export const projectRoot = path.resolve(__dirname, "../..");

/** Why this machine cannot boot the suite's guests, or undefined when it can. */
export function missing(): string | undefined {
    if (process.getuid?.() !== 0) {
        return "not root (network namespaces, taps, mmdebstrap)";
    }
    if (!existsSync("/dev/net/tun")) {
        return "no /dev/net/tun";
    }
    for (const [tool, source] of [
        ["qemu-system-x86_64", "qemu-system-x86"],
        ["xorrisofs", "xorriso"],
        ["mmdebstrap", "mmdebstrap"],
        ["ssh", "openssh-client"],
        ["ssh-keygen", "openssh-client"],
        ["openssl", "openssl"],
        ["wg", "wireguard-tools"],
        ["iptables", "iptables"],
    ]) {
        if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) {
            return `no ${tool} (.ci/run installs Debian's ${source})`;
        }
    }
    return undefined;
}

/** The images' directory from scripts/guest-images.sh, which builds what is not cached. */
export function guestImages(): string {
    const out = execFileSync(path.join(projectRoot, "scripts/guest-images.sh"), {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"],
    });
    return out.trim().split("\n").pop()!;
}

/**
 * The start of a guest suite's `before`: skips it, saying why, where guests cannot boot; else
 * the images' directory (built when missing) and a fresh work directory.
 */
export function prepareGuests(
    context: Mocha.Context,
    workPrefix: string,
): { images: string; work: string } {
    const reason = missing();
    if (reason) {
        console.log(`    (skipped: ${reason})`);
        context.skip();
    }
    return { images: guestImages(), work: mkdtempSync(path.join(tmpdir(), workPrefix)) };
}
