import { GuestAgent } from "./agent";

/** One interface as the running guest has it. */
export interface LiveNic {
    mac: string;
    /** IPv4 `address/prefix`, sorted. */
    ipv4: string[];
    /** Every IPv6 address, sorted; link-local ones as `link-local` (their suffix is the kernel's). */
    ipv6: string[];
}

/**
 * The guest's IPv4 network as its kernel runs it and its resolver uses it, in plain strings so a
 * failure shows the whole difference:
 * - routes: `table <t> <dst> [via <gw>] dev <if>[ onlink]`, the local table left out (the kernel
 *   fills it from the addresses); metrics, protocols and scopes are the renderer's business;
 * - rules: `from <src> lookup <table>`, the kernel's default rules left out, and ` (after main)`
 *   when the rule comes too late to matter;
 * - dns: `<interface>: <server>` for each server the resolver uses, `global: <server>` for ones
 *   not tied to an interface.
 */
export interface LiveNetwork {
    nics: Record<string, LiveNic>;
    routes: string[];
    rules: string[];
    dns: string[];
}

const defaultRules = new Set([
    "from all lookup local",
    "from all lookup main",
    "from all lookup default",
]);
/** The priority of the kernel's rule for the main table. */
const mainRulePriority = 32766;

export async function readNetwork(agent: GuestAgent): Promise<LiveNetwork> {
    const links: any[] = JSON.parse(await agent.run("ip -j address show"));
    const nics: Record<string, LiveNic> = {};
    for (const link of links.filter((l) => l.ifname !== "lo")) {
        const addresses = (family: string) =>
            (link.addr_info as any[])
                .filter((a) => a.family === family)
                .map((a) => (a.scope === "link" ? "link-local" : `${a.local}/${a.prefixlen}`))
                .sort();
        nics[link.ifname] = {
            mac: link.address,
            ipv4: addresses("inet"),
            ipv6: addresses("inet6"),
        };
    }
    const routes = (JSON.parse(await agent.run("ip -j -4 route show table all")) as any[])
        .filter((r) => r.table !== "local")
        .map(
            (r) =>
                `table ${r.table ?? "main"} ${r.dst}${r.gateway ? ` via ${r.gateway}` : ""} dev ${r.dev}${(r.flags ?? []).includes("onlink") ? " onlink" : ""}`,
        )
        .sort();
    const rules = (JSON.parse(await agent.run("ip -j -4 rule show")) as any[])
        .map((r) => ({ rule: `from ${r.src} lookup ${r.table}`, priority: r.priority as number }))
        .filter(({ rule }) => !defaultRules.has(rule))
        .map(({ rule, priority }) => (priority < mainRulePriority ? rule : `${rule} (after main)`))
        .sort();
    return { nics, routes, rules, dns: await readDns(agent) };
}

/**
 * The DNS servers the guest's resolver uses: systemd-resolved's per link and global servers where
 * /etc/resolv.conf points at its stub, else resolv.conf's nameservers (NetworkManager writes it).
 */
async function readDns(agent: GuestAgent): Promise<string[]> {
    const resolvConf = await agent.run("cat /etc/resolv.conf");
    const nameservers = [...resolvConf.matchAll(/^nameserver\s+(\S+)/gm)].map((m) => m[1]);
    if (!nameservers.every((n) => n === "127.0.0.53")) {
        return nameservers.map((n) => `global: ${n}`);
    }
    // `resolvectl dns`: "Global: 1.2.3.4" and "Link 2 (lab): 1.2.3.4 5.6.7.8" lines.
    const servers: string[] = [];
    for (const line of (await agent.run("resolvectl dns")).split("\n")) {
        const match = /^(?:Global|Link \d+ \((\S+)\)):\s*(.*)$/.exec(line.trim());
        for (const server of match?.[2].split(/\s+/).filter(Boolean) ?? []) {
            servers.push(`${match![1] ?? "global"}: ${server}`);
        }
    }
    return servers.sort();
}

/** cloud-init's own view of its run: status and every error it reported. */
export async function cloudInitResult(
    agent: GuestAgent,
): Promise<{ status: string; errors: string[]; recoverable: Record<string, string[]> }> {
    // --wait: until cloud-init's final stage is done. The JSON format is in 22.4 and newer.
    const run = await agent.sh("cloud-init status --wait --format json", 30 * 60 * 1000);
    const result = JSON.parse(run.stdout);
    return {
        status: result.status,
        errors: result.errors ?? [],
        recoverable: result.recoverable_errors ?? {},
    };
}
