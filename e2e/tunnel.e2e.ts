import * as assert from "assert";
import { execFileSync, spawnSync } from "child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { parse } from "yaml";
import {
    GatewayPlan,
    InterconnectPlan,
    interconnectsFile,
    loadInterconnects,
    planInterconnects,
    privateKeyPlaceholder,
} from "../lib/interconnect";
import { ProblemList } from "../lib/problems";
import { projectRoot, toolsBin } from "./pulumiEnv";

/**
 * The example interconnect for real: the two gateways' wg-quick files from the plan, brought up by
 * Debian's wg-quick over a userspace WireGuard (wireguard-go, built by scripts/e2e-tools.sh) in two
 * network namespaces joined by a veth pair, each with a node namespace behind it on its site
 * network, routed as the plan routes nodes. Only the test's own namespaces are used.
 */

const run = (...args: string[]) =>
    execFileSync(args[0], args.slice(1), { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
const inside = (ns: string, ...args: string[]) => run("ip", "netns", "exec", ns, ...args);
/** A command's exit status and output, for pings that must fail. */
const attempt = (ns: string, ...args: string[]) => {
    const result = spawnSync("ip", ["netns", "exec", ns, ...args], { encoding: "utf8" });
    return { status: result.status, output: `${result.stdout}${result.stderr}` };
};

/** Why this machine cannot run the test, or undefined when it can. */
function missing(): string | undefined {
    if (process.getuid?.() !== 0) {
        return "not root";
    }
    if (!existsSync("/dev/net/tun")) {
        return "no /dev/net/tun";
    }
    for (const tool of ["ip", "wg", "wg-quick", "iptables", "ping"]) {
        if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) {
            return `no ${tool} (.ci/run installs wireguard-tools, iptables and iputils-ping)`;
        }
    }
    return undefined;
}

describe("the example interconnect through real WireGuard tunnels", function () {
    this.timeout(180000);
    const id = String(process.pid % 100000);
    const ns = {
        greeceGateway: `gwgr${id}`,
        franceGateway: `gwfr${id}`,
        greeceNode: `ndgr${id}`,
        franceNode: `ndfr${id}`,
    };
    const underlay = { greece: "198.18.0.1", france: "198.18.0.2" };
    let work: string;
    let plan: InterconnectPlan;
    let gateways: Record<"greece" | "france", GatewayPlan>;

    before(function () {
        const why = missing();
        if (why) {
            console.log(`    (skipped: ${why})`);
            this.skip();
        }
        const wireguardGo = path.join(toolsBin(), "wireguard-go");
        work = mkdtempSync(path.join(tmpdir(), "edge-wg-"));
        const keys = Object.fromEntries(
            ["greece", "france"].map((site) => {
                const privateKey = run("wg", "genkey").trim();
                const publicKey = execFileSync("wg", ["pubkey"], { input: privateKey })
                    .toString()
                    .trim();
                return [site, { privateKey, publicKey }];
            }),
        );
        // The committed declaration, with this test's keys and the veth pair as the Internet.
        const declaration = parse(readFileSync(path.join(projectRoot, interconnectsFile), "utf8"));
        for (const site of ["greece", "france"] as const) {
            declaration.sites[site].publicKey = keys[site].publicKey;
        }
        for (const member of declaration.interconnects[0].members) {
            member.endpoint = `${underlay[member.site as "greece" | "france"]}:51820`;
        }
        const problems = new ProblemList();
        const loaded = loadInterconnects(projectRoot)!;
        plan = planInterconnects(declaration, loaded.sites, problems, loaded.broken)!;
        assert.deepStrictEqual(problems.problems, []);
        gateways = {
            greece: plan.gateways.find((g) => g.site === "greece")!,
            france: plan.gateways.find((g) => g.site === "france")!,
        };

        for (const name of Object.values(ns)) {
            run("ip", "netns", "add", name);
            inside(name, "ip", "link", "set", "lo", "up");
        }
        /** A veth pair between two namespaces, each end addressed. */
        const link = (a: string, aAddress: string, b: string, bAddress: string, tag: string) => {
            run(
                "ip",
                "link",
                "add",
                `a${tag}${id}`,
                "type",
                "veth",
                "peer",
                "name",
                `b${tag}${id}`,
            );
            for (const [end, space, address] of [
                [`a${tag}${id}`, a, aAddress],
                [`b${tag}${id}`, b, bAddress],
            ]) {
                run("ip", "link", "set", end, "netns", space);
                inside(space, "ip", "address", "add", address, "dev", end);
                inside(space, "ip", "link", "set", end, "up");
            }
        };
        link(
            ns.greeceGateway,
            `${underlay.greece}/30`,
            ns.franceGateway,
            `${underlay.france}/30`,
            "u",
        );
        const greeceNode = "192.168.18.203";
        const franceNode = "10.120.0.11";
        link(ns.greeceGateway, `${gateways.greece.ip}/24`, ns.greeceNode, `${greeceNode}/24`, "g");
        link(ns.franceGateway, `${gateways.france.ip}/24`, ns.franceNode, `${franceNode}/24`, "f");
        // Each node routes the peer site's prefixes as the plan routes nodes on its network.
        for (const [site, space] of [
            ["greece", ns.greeceNode],
            ["france", ns.franceNode],
        ] as const) {
            for (const route of plan.nodeRoutes[site]) {
                inside(space, "ip", "route", "add", route.to, "via", route.via);
            }
        }
        for (const [site, space] of [
            ["greece", ns.greeceGateway],
            ["france", ns.franceGateway],
        ] as const) {
            // wg-quick names the interface after the file: one per namespace, as sockets are shared.
            const file = path.join(work, `w${site.slice(0, 2)}${id}.conf`);
            writeFileSync(
                file,
                gateways[site].wgQuickConfig.replace(privateKeyPlaceholder, keys[site].privateKey),
                { mode: 0o600 },
            );
            execFileSync("ip", ["netns", "exec", space, "wg-quick", "up", file], {
                env: { ...process.env, WG_QUICK_USERSPACE_IMPLEMENTATION: wireguardGo },
                stdio: "pipe",
            });
        }
    });

    after(() => {
        for (const name of Object.values(ns)) {
            const pids = spawnSync("ip", ["netns", "pids", name], { encoding: "utf8" }).stdout;
            for (const pid of pids.split("\n").filter(Boolean)) {
                spawnSync("kill", [pid]);
            }
            spawnSync("ip", ["netns", "del", name]);
        }
        if (work) {
            rmSync(work, { recursive: true, force: true });
        }
    });

    it("carries a ping from a node in greece to a node in france, and back", () => {
        const there = attempt(ns.greeceNode, "ping", "-c", "3", "-W", "2", "10.120.0.11");
        assert.strictEqual(there.status, 0, there.output);
        assert.match(there.output, /3 packets transmitted, 3 received/);
        const back = attempt(ns.franceNode, "ping", "-c", "3", "-W", "2", "192.168.18.203");
        assert.strictEqual(back.status, 0, back.output);
        const handshake = inside(ns.greeceGateway, "wg", "show", `wgr${id}`, "latest-handshakes");
        assert.notStrictEqual(Number(handshake.trim().split(/\s+/)[1]), 0, "a handshake happened");
    });

    it("passes don't-fragment packets of exactly the computed MTU, and not one byte more", () => {
        const mtu = gateways.greece.mtu;
        // ICMP echo: 20 bytes of IPv4 and 8 of ICMP around the payload.
        /** A don't-fragment ping from the greece node with `payload` bytes of data. */
        const dontFragment = (payload: number) =>
            attempt(
                ns.greeceNode,
                "ping",
                "-M",
                "do",
                "-c",
                "2",
                "-W",
                "2",
                "-s",
                String(payload),
                "10.120.0.11",
            );
        const fits = dontFragment(mtu - 28);
        assert.strictEqual(fits.status, 0, fits.output);
        // The first attempt learns the tunnel's MTU from the gateway's ICMP reply.
        const tooBig = dontFragment(mtu - 27);
        assert.notStrictEqual(tooBig.status, 0, tooBig.output);
        assert.match(
            tooBig.output,
            new RegExp(`(Frag needed and DF set \\(mtu = ${mtu}\\)|message too long, mtu=${mtu})`),
        );
    });

    it("clamps the MSS of forwarded TCP to the tunnel, as the gateway's wg-quick file says", () => {
        const rules = inside(ns.greeceGateway, "iptables", "-t", "mangle", "-S", "FORWARD");
        assert.match(rules, new RegExp(`-o wgr${id} .*--set-mss ${gateways.greece.mss}`));
        assert.match(rules, new RegExp(`-i wgr${id} .*--set-mss ${gateways.greece.mss}`));
    });
});
