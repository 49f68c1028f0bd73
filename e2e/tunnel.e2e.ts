import * as assert from "assert";
import { execFileSync, spawnSync } from "child_process";
import {
    chmodSync,
    existsSync,
    mkdirSync,
    mkdtempSync,
    readFileSync,
    rmSync,
    writeFileSync,
} from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { parse } from "yaml";
import {
    GatewayPlan,
    InterconnectPlan,
    interconnectsFile,
    planInterconnects,
    privateKeyPlaceholder,
    renderPeerEndpoints,
    renderWgQuick,
    tunnelScriptText,
} from "../lib/plan/interconnect";
import { ProblemList } from "../lib/core/problems";
import { projectRoot, toolsBin } from "./pulumiEnv";
import { loadInterconnects } from "../runtime/projectFiles";

/**
 * The example interconnect for real: the two gateways' wg-quick files from the plan, brought up by
 * Debian's wg-quick over a userspace WireGuard (wireguard-go, built by scripts/e2e-tools.sh) in two
 * network namespaces joined by a veth pair, each with a node namespace behind it on its site
 * network, routed as the plan routes nodes, and greece's gateway with a third namespace behind it
 * that stands for what a gateway must never let a peer reach (the host cluster, the Internet).
 * Only the test's own namespaces, and their /etc/netns/<ns> files, are used.
 *
 * Endpoints are DNS names, resolved from each gateway namespace's own hosts file (`ip netns exec`
 * bind-mounts /etc/netns/<ns>/* over /etc), with `hosts: files` only, so a missing name fails as
 * NXDOMAIN does. Greece has a third peer, spain, whose name never resolves. There is no systemd in
 * the namespaces: the test runs the tunnel keeper script that the gateway's timer runs, itself,
 * with a `systemctl` on its PATH that only records what it is asked.
 */

const run = (...args: string[]) =>
    execFileSync(args[0], args.slice(1), { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
const inside = (ns: string, ...args: string[]) => run("ip", "netns", "exec", ns, ...args);
/** A command's exit status and output, for pings that must fail. */
const attempt = (ns: string, ...args: string[]) => {
    const result = spawnSync("ip", ["netns", "exec", ns, ...args], { encoding: "utf8" });
    return { status: result.status, output: `${result.stdout}${result.stderr}` };
};

/** Two pings from `ns`, two seconds each at most; `from` picks the source address. */
const pingTwice = (ns: string, to: string, from?: string) =>
    attempt(ns, "ping", "-c", "2", "-W", "2", ...(from ? ["-I", from] : []), to);

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
        /** Behind greece's gateway, outside what greece offers: the host cluster, the Internet. */
        outside: `exgr${id}`,
    };
    const underlay = { greece: "198.18.0.1", france: "198.18.0.2" };
    const names = {
        greece: "gr-gw.edge-e2e.test",
        france: "fr-gw.edge-e2e.test",
        spain: "es-gw.edge-e2e.test",
    };
    const interfaces = { greece: `wgr${id}`, france: `wfr${id}` };
    const outsideAddress = "172.31.255.1";
    let work: string;
    let plan: InterconnectPlan;
    let gateways: Record<"greece" | "france", GatewayPlan>;
    let spainKey: string;
    let wireguardGo: string;

    /** What a gateway namespace resolves: `hosts` lines, files only. */
    const resolves = (space: string, lines: string[]) => {
        const dir = path.join("/etc/netns", space);
        mkdirSync(dir, { recursive: true });
        writeFileSync(path.join(dir, "nsswitch.conf"), "hosts: files\n");
        writeFileSync(path.join(dir, "hosts"), ["127.0.0.1 localhost", ...lines, ""].join("\n"));
    };
    /** Runs the tunnel keeper in a gateway's namespace: its stderr and what it asked systemctl. */
    const keeper = (site: "greece" | "france") => {
        const space = site === "greece" ? ns.greeceGateway : ns.franceGateway;
        const log = path.join(work, site, "systemctl.log");
        writeFileSync(log, "");
        const result = spawnSync(
            "ip",
            [
                "netns",
                "exec",
                space,
                "bash",
                path.join(work, "edge-tunnel"),
                interfaces[site],
                path.join(work, site, "endpoints"),
                path.join(work, site, "ready", "tunnel-up"),
            ],
            {
                encoding: "utf8",
                env: {
                    ...process.env,
                    PATH: `${path.join(work, "bin")}:${process.env.PATH}`,
                    SYSTEMCTL_LOG: log,
                },
            },
        );
        assert.strictEqual(result.status, 0, result.stderr);
        return {
            stderr: result.stderr,
            systemctl: readFileSync(log, "utf8").split("\n").filter(Boolean),
            ready: existsSync(path.join(work, site, "ready", "tunnel-up")),
        };
    };
    /** `wg show <interface> <what>` in a gateway's namespace, by peer public key. */
    const show = (site: "greece" | "france", what: string) =>
        Object.fromEntries(
            inside(
                site === "greece" ? ns.greeceGateway : ns.franceGateway,
                "wg",
                "show",
                interfaces[site],
                what,
            )
                .trim()
                .split("\n")
                .map((line) => line.split("\t")),
        );

    before(function () {
        const why = missing();
        if (why) {
            console.log(`    (skipped: ${why})`);
            this.skip();
        }
        wireguardGo = path.join(toolsBin(), "wireguard-go");
        work = mkdtempSync(path.join(tmpdir(), "edge-wg-"));
        const keys = Object.fromEntries(
            ["greece", "france", "spain"].map((site) => {
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
            member.endpoint = `${names[member.site as "greece" | "france"]}:51820`;
        }
        spainKey = keys.spain.publicKey;
        const problems = new ProblemList();
        const loaded = loadInterconnects(projectRoot)!;
        plan = planInterconnects(declaration, loaded.sites, problems, loaded.broken)!;
        assert.deepStrictEqual(problems.problems, []);
        const greece = plan.gateways.find((g) => g.site === "greece")!;
        // A third peer, spain, which has no gateway and whose name never resolves.
        const peers = [
            ...greece.peers,
            {
                site: "spain",
                publicKey: keys.spain.publicKey,
                endpoint: `${names.spain}:51820`,
                tunnelAddress: "10.255.0.3",
                allowedIps: ["10.255.0.3/32", "10.130.0.0/24"],
            },
        ];
        gateways = {
            greece: { ...greece, peers, wgQuickConfig: renderWgQuick({ ...greece, peers }) },
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
        link(ns.greeceGateway, "172.31.255.2/30", ns.outside, `${outsideAddress}/30`, "x");
        // Were anything forwarded to it, its replies would go back through greece's gateway.
        inside(ns.outside, "ip", "route", "add", "default", "via", "172.31.255.2");
        // Counts what reaches it from france's networks, and from greece's site network.
        inside(ns.outside, "iptables", "-I", "INPUT", "-s", "10.120.0.0/16");
        inside(ns.outside, "iptables", "-I", "INPUT", "-s", "192.168.18.0/24");
        // Each node routes the peer site's prefixes as the plan routes nodes on its network.
        for (const [site, space] of [
            ["greece", ns.greeceNode],
            ["france", ns.franceNode],
        ] as const) {
            for (const route of plan.nodeRoutes[site]) {
                inside(space, "ip", "route", "add", route.to, "via", route.via);
            }
        }
        // The tunnel keeper as the gateway's timer runs it, and a systemctl that only records.
        writeFileSync(path.join(work, "edge-tunnel"), tunnelScriptText(), { mode: 0o755 });
        mkdirSync(path.join(work, "bin"));
        writeFileSync(
            path.join(work, "bin", "systemctl"),
            '#!/bin/sh\necho "$*" >>"$SYSTEMCTL_LOG"\n',
        );
        chmodSync(path.join(work, "bin", "systemctl"), 0o755);
        for (const site of ["greece", "france"] as const) {
            mkdirSync(path.join(work, site));
            writeFileSync(path.join(work, site, "endpoints"), renderPeerEndpoints(gateways[site]));
            // wg-quick names the interface after the file: one per namespace, as sockets are shared.
            writeFileSync(
                path.join(work, `${interfaces[site]}.conf`),
                gateways[site].wgQuickConfig.replace(privateKeyPlaceholder, keys[site].privateKey),
                { mode: 0o600 },
            );
        }
        // No gateway resolves any peer's name yet.
        resolves(ns.greeceGateway, []);
        resolves(ns.franceGateway, []);
    });

    after(() => {
        for (const name of Object.values(ns)) {
            const pids = spawnSync("ip", ["netns", "pids", name], { encoding: "utf8" }).stdout;
            for (const pid of pids.split("\n").filter(Boolean)) {
                spawnSync("kill", [pid]);
            }
            spawnSync("ip", ["netns", "del", name]);
            rmSync(path.join("/etc/netns", name), { recursive: true, force: true });
        }
        if (work) {
            rmSync(work, { recursive: true, force: true });
        }
    });

    /** What is behind greece's gateway counted no packet from `source`. */
    const assertNothingArrivedFrom = (source: string) => {
        const arrived = inside(ns.outside, "iptables", "-L", "INPUT", "-v", "-x", "-n");
        const counted = arrived.split("\n").find((line) => line.includes(source))!;
        assert.strictEqual(counted.trim().split(/\s+/)[0], "0", arrived);
    };

    it("brings each gateway's interface up though no peer's name resolves yet, not ready", () => {
        for (const [site, space] of [
            ["greece", ns.greeceGateway],
            ["france", ns.franceGateway],
        ] as const) {
            const up = spawnSync(
                "ip",
                [
                    "netns",
                    "exec",
                    space,
                    "wg-quick",
                    "up",
                    path.join(work, `${interfaces[site]}.conf`),
                ],
                {
                    encoding: "utf8",
                    env: { ...process.env, WG_QUICK_USERSPACE_IMPLEMENTATION: wireguardGo },
                },
            );
            assert.strictEqual(up.status, 0, up.stderr);
        }
        const greece = keeper("greece");
        const [france] = gateways.greece.peers;
        assert.deepStrictEqual(
            greece.stderr.split("\n").filter((l) => l.startsWith(`${interfaces.greece}: `)),
            [
                `${interfaces.greece}: peer ${france.publicKey}: cannot set endpoint ${names.france}:51820, trying again next time`,
                `${interfaces.greece}: peer ${spainKey}: cannot set endpoint ${names.spain}:51820, trying again next time`,
            ],
        );
        assert.deepStrictEqual(greece.systemctl, ["stop edge-ready.socket"]);
        assert.strictEqual(greece.ready, false);
        assert.deepStrictEqual(show("greece", "endpoints"), {
            [france.publicKey]: "(none)",
            [spainKey]: "(none)",
        });
        assert.deepStrictEqual(keeper("france").systemctl, ["stop edge-ready.socket"]);
    });

    it("sets a peer's endpoint once its name resolves: the handshake follows, and readiness", async () => {
        resolves(ns.greeceGateway, [`${underlay.france} ${names.france}`]);
        const [france] = gateways.greece.peers;
        const greece = keeper("greece");
        // Spain still fails, on its own.
        assert.deepStrictEqual(
            greece.stderr.split("\n").filter((l) => l.startsWith(`${interfaces.greece}: `)),
            [
                `${interfaces.greece}: peer ${spainKey}: cannot set endpoint ${names.spain}:51820, trying again next time`,
            ],
        );
        assert.deepStrictEqual(show("greece", "endpoints"), {
            [france.publicKey]: `${underlay.france}:51820`,
            [spainKey]: "(none)",
        });
        // No traffic: the persistent keepalive's handshake, retried every 5 s (RekeyTimeout).
        const deadline = Date.now() + 30000;
        while (Number(show("greece", "latest-handshakes")[france.publicKey]) === 0) {
            assert.ok(Date.now() < deadline, "no handshake with france within 30 s");
            await new Promise((resolve) => setTimeout(resolve, 500));
        }
        const ready = keeper("greece");
        assert.deepStrictEqual(ready.systemctl, ["start edge-ready.socket"]);
        assert.strictEqual(ready.ready, true);
        // France never resolved greece's name: it learnt greece's address from the handshake.
        assert.deepStrictEqual(show("france", "endpoints"), {
            [gateways.france.peers[0].publicKey]: `${underlay.greece}:51820`,
        });
        const franceKeeper = keeper("france");
        assert.deepStrictEqual(franceKeeper.systemctl, ["start edge-ready.socket"]);
        assert.strictEqual(franceKeeper.stderr, "");
    });

    it("carries a ping from a node in greece to a node in france, and back", () => {
        const there = attempt(ns.greeceNode, "ping", "-c", "3", "-W", "2", "10.120.0.11");
        assert.strictEqual(there.status, 0, there.output);
        assert.match(there.output, /3 packets transmitted, 3 received/);
        const back = attempt(ns.franceNode, "ping", "-c", "3", "-W", "2", "192.168.18.203");
        assert.strictEqual(back.status, 0, back.output);
        // France's line: wg lists greece's peers in no fixed order, and spain never answers.
        const handshakes = inside(ns.greeceGateway, "wg", "show", `wgr${id}`, "latest-handshakes");
        const france = handshakes
            .split("\n")
            .find((line) => line.startsWith(`${gateways.france.publicKey}\t`));
        assert.ok(france, handshakes);
        assert.notStrictEqual(Number(france.split("\t")[1]), 0, "a handshake happened");
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

    it("drops what a peer sends past greece's offered network, or to the gateway itself", () => {
        // France's gateway as anyone holding its key could set it: greece's tunnel for everything.
        inside(
            ns.franceGateway,
            "wg",
            "set",
            interfaces.france,
            "peer",
            gateways.greece.publicKey,
            "allowed-ips",
            `10.255.0.1/32,192.168.18.0/24,${outsideAddress}/32`,
        );
        inside(ns.franceGateway, "ip", "route", "add", outsideAddress, "dev", interfaces.france);
        // From one of france's routed addresses, sent by the gateway itself (not forwarded, so
        // france's own filter does not see it): greece's filter is all that stands in the way.
        const from = gateways.france.ip;
        const allowed = pingTwice(ns.franceGateway, "192.168.18.203", from);
        assert.strictEqual(allowed.status, 0, allowed.output);
        const outside = pingTwice(ns.franceGateway, outsideAddress, from);
        assert.notStrictEqual(outside.status, 0, outside.output);
        assert.match(outside.output, /2 packets transmitted, 0 received/);
        assertNothingArrivedFrom("10.120.0.0/16");
        // A node in france reaches greece's nodes, not greece's gateway.
        const gateway = pingTwice(ns.franceNode, gateways.greece.ip);
        assert.notStrictEqual(gateway.status, 0, gateway.output);
        const dropped = inside(
            ns.greeceGateway,
            "iptables",
            "-S",
            `edge-${interfaces.greece}`,
            "-v",
        );
        assert.match(dropped, new RegExp(`-A edge-${interfaces.greece} -c [1-9]\\d* \\d+ -j DROP`));
        const input = inside(
            ns.greeceGateway,
            "iptables",
            "-S",
            `edge-${interfaces.greece}-in`,
            "-v",
        );
        assert.match(
            input,
            new RegExp(`-A edge-${interfaces.greece}-in -c [1-9]\\d* \\d+ -j DROP`),
        );
    });

    it("forwards nothing between greece's site network and what is behind its gateway", () => {
        // A host on the site network that routes through the gateway, to the host cluster.
        inside(ns.greeceNode, "ip", "route", "add", outsideAddress, "via", gateways.greece.ip);
        const sent = pingTwice(ns.greeceNode, outsideAddress);
        assert.notStrictEqual(sent.status, 0, sent.output);
        assert.match(sent.output, /2 packets transmitted, 0 received/);
        assertNothingArrivedFrom("192.168.18.0/24");
        inside(ns.greeceNode, "ip", "route", "del", outsideAddress);
    });

    it("clamps the MSS of forwarded TCP to the tunnel, as the gateway's wg-quick file says", () => {
        const rules = inside(ns.greeceGateway, "iptables", "-t", "mangle", "-S", "FORWARD");
        assert.match(rules, new RegExp(`-o wgr${id} .*--set-mss ${gateways.greece.mss}`));
        assert.match(rules, new RegExp(`-i wgr${id} .*--set-mss ${gateways.greece.mss}`));
    });

    it("comes back once its interface vanished, with each rule once", () => {
        const conf = path.join(work, `${interfaces.france}.conf`);
        const wgQuick = (command: "up" | "down") =>
            spawnSync("ip", ["netns", "exec", ns.franceGateway, "wg-quick", command, conf], {
                encoding: "utf8",
                env: { ...process.env, WG_QUICK_USERSPACE_IMPLEMENTATION: wireguardGo },
            });
        inside(ns.franceGateway, "ip", "link", "del", interfaces.france);
        // As the keeper's restart of wg-quick@: its `down` fails before PostDown, then `up`.
        const down = wgQuick("down");
        assert.notStrictEqual(down.status, 0);
        assert.match(down.stderr, /is not a WireGuard interface/);
        const up = wgQuick("up");
        assert.strictEqual(up.status, 0, up.stderr);
        const count = (table: string[], pattern: RegExp) =>
            inside(ns.franceGateway, "iptables", ...table)
                .split("\n")
                .filter((line) => pattern.test(line)).length;
        const mangle = ["-t", "mangle", "-S", "FORWARD"];
        assert.strictEqual(count(mangle, new RegExp(`-i ${interfaces.france} .*TCPMSS`)), 1);
        assert.strictEqual(count(mangle, new RegExp(`-o ${interfaces.france} .*TCPMSS`)), 1);
        const forward = new RegExp(`-j edge-${interfaces.france}$`);
        assert.strictEqual(count(["-S", "FORWARD"], forward), 2);
        assert.strictEqual(
            count(["-S", "INPUT"], new RegExp(`-j edge-${interfaces.france}-in$`)),
            1,
        );
    });
});
