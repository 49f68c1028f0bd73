import { readFileSync, readdirSync } from "fs";

/**
 * What a command's process tree used, sampled from /proc: each process's peak resident memory
 * (VmHWM, which only grows, so the last sample before it exits is its peak up to then) and its
 * CPU time, grouped by role: the engine (the pulumi CLI, the tree's root), the language host,
 * the program (its Node.js process) and each provider plugin.
 */

export interface RoleUsage {
    /** The largest peak of any one of its processes. */
    peakMiB: number;
    /** CPU seconds of all its processes, as last sampled. */
    cpuSeconds: number;
}

const clockTicks = 100;

function role(pid: number, root: number): string {
    if (pid === root) {
        return "engine";
    }
    const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    const executable = argv[0].split("/").pop() ?? "";
    if (executable.startsWith("pulumi-resource-")) {
        return executable.slice("pulumi-resource-".length);
    }
    if (executable === "pulumi-language-nodejs") {
        return "language host";
    }
    return executable === "node" ? "program" : executable;
}

interface Sample {
    role: string;
    peakKiB: number;
    cpuTicks: number;
}

/** One reading of `pid`, or undefined when it has exited meanwhile. */
function sample(pid: number, root: number): Sample | undefined {
    try {
        const status = readFileSync(`/proc/${pid}/status`, "utf8");
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        return {
            role: role(pid, root),
            peakKiB: Number(status.match(/^VmHWM:\s+(\d+)/m)?.[1] ?? 0),
            cpuTicks: Number(fields[11]) + Number(fields[12]),
        };
    } catch {
        return undefined;
    }
}

/** The pids of `root`'s descendants and itself. */
function tree(root: number): number[] {
    const children = new Map<number, number[]>();
    for (const entry of readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) {
            continue;
        }
        try {
            const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
            const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
            children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
        } catch {
            // Gone since the listing.
        }
    }
    const found = [root];
    for (let i = 0; i < found.length; i++) {
        found.push(...(children.get(found[i]) ?? []));
    }
    return found;
}

/** Samples `root`'s tree every `everyMs` until the returned function is called. */
export function watchProcessTree(root: number, everyMs = 200): () => Record<string, RoleUsage> {
    const last = new Map<number, Sample>();
    const read = () => {
        for (const pid of tree(root)) {
            const reading = sample(pid, root);
            const earlier = last.get(pid);
            if (reading && earlier) {
                // An exited process not yet reaped has no command line and no VmHWM.
                last.set(pid, {
                    role: reading.role || earlier.role,
                    peakKiB: Math.max(earlier.peakKiB, reading.peakKiB),
                    cpuTicks: Math.max(earlier.cpuTicks, reading.cpuTicks),
                });
            } else if (reading) {
                last.set(pid, reading);
            }
        }
    };
    read();
    const timer = setInterval(read, everyMs);
    return () => {
        clearInterval(timer);
        read();
        const usage: Record<string, RoleUsage> = {};
        for (const { role, peakKiB, cpuTicks } of last.values()) {
            const current = usage[role] ?? { peakMiB: 0, cpuSeconds: 0 };
            usage[role] = {
                peakMiB: Math.max(current.peakMiB, peakKiB / 1024),
                cpuSeconds: current.cpuSeconds + cpuTicks / clockTicks,
            };
        }
        return usage;
    };
}
