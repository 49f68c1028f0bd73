import * as assert from "assert";
import { spawnSync } from "child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { parse } from "yaml";
import {
    nodeRegistrationCommand,
    podNetworkScriptText,
    renderUserData,
} from "../lib/render/cloudinit";
import { planInterconnects } from "../lib/plan/interconnect";
import { NodePlan, SitePlan, planStack } from "../lib/plan/stackPlan";
import { rawStackConfig } from "../lib/config/stackFile";
import { ProblemList } from "../lib/core/problems";
import { syntheticStack } from "../offline/synthetic";
import { locked } from "./fixtures";
import {
    GuestNetwork,
    assertValidCloudConfig,
    readEni,
    readNetworkManager,
    readNetworkd,
    readSysconfig,
} from "./guestNetwork";
import { editableStackConfig, mockRancher, mockRancherCa, projectRoot } from "./mocks";
import { loadInterconnects, withInterconnects } from "../runtime/projectFiles";

/** The programs inside a guest that read our cloud-init, from Debian's packages (.ci/run). */
function version(command: string, ...args: string[]): string | undefined {
    const run = spawnSync(command, args, { encoding: "utf8" });
    return run.status === 0 ? `${run.stdout}${run.stderr}`.trim() : undefined;
}
const cloudInit = version("cloud-init", "--version");
const netplan = spawnSync("netplan", ["--help"]).status === 0;
/** NetworkManager's nmcli, whose --offline mode (1.42 and newer) edits keyfiles without a daemon. */
const nmcli = version("nmcli", "--version");

function requireGuestTools(context: Mocha.Context): void {
    if (!cloudInit || !netplan || !nmcli) {
        console.log(
            "    (skipped: cloud-init, netplan and nmcli are not installed; .ci/run installs them)",
        );
        context.skip();
    }
}

type Family = "ubuntu" | "debian" | "rhel";

/** A stack's config with every image of one family, direct API and all. */
function asFamily(config: Record<string, any>, family: Family): Record<string, any> {
    const copy = structuredClone(config);
    for (const [name, image] of Object.entries<string | Record<string, unknown>>(
        copy["edge:images"],
    )) {
        copy["edge:images"][name] = {
            ...(typeof image === "string" ? { url: image } : image),
            os: family,
        };
    }
    return copy;
}

function synthetic(): Record<string, any> {
    const raw = syntheticStack([
        { name: "alpha", nodes: 2 },
        { name: "bravo", nodes: 3 },
    ]);
    return locked({
        "edge:site": raw.site,
        "edge:images": raw.images,
        "edge:clusters": raw.clusters,
    });
}

const stacks: [string, () => Record<string, any>][] = [
    ["greece", () => editableStackConfig("greece")],
    ["france", () => editableStackConfig("france")],
    ["a synthetic site", synthetic],
];

/**
 * What the guest must end up with, derived from the plan's addresses, not from the renderer. The
 * pod NIC: KubeVirt's fixed masquerade address, no DHCP, no IPv6, and replies from it back
 * through it. `boot` leaves out what a NetworkManager guest's edge-pod-network adds at boot, for
 * files that nmcli --offline cannot edit; `siteIpv6`: whether the renderer leaves the site
 * networks' IPv6 on (as it is: the site LAN's business).
 */
function expectedNetwork(
    site: SitePlan,
    node: NodePlan,
    { boot = true, siteIpv6 = true } = {},
): GuestNetwork {
    const network: GuestNetwork = {
        pod: {
            mac: node.podMac,
            addresses: ["10.0.2.2/24"],
            dhcp: false,
            routes: boot ? ["0.0.0.0/0 via 10.0.2.1 table 100 on-link"] : [],
            rules: boot ? ["from 10.0.2.2 table 100"] : [],
            dns: [],
            ipv6: false,
        },
    };
    node.interfaces.forEach((nic, i) => {
        const gateway = site.networks.find((n) => n.name === nic.network)!.gateway;
        network[nic.network] = {
            mac: nic.mac,
            addresses: [nic.address],
            dhcp: false,
            routes: i === 0 ? [`0.0.0.0/0 via ${gateway}`] : [],
            rules: [],
            dns: i === 0 ? site.dnsServers : [],
            ipv6: siteIpv6,
        };
    });
    return network;
}

describe("image families", () => {
    it("serve the direct API on every family, since each now routes the pod network's replies", () => {
        for (const family of ["debian", "rhel"] as const) {
            const { plan } = planStack(
                rawStackConfig(asFamily(editableStackConfig("greece"), family)),
            );
            assert.strictEqual(plan.clusters[0].apiService?.metadata.name, "final-test-api");
        }
    });

    it("a gateway on a NetworkManager image is refused: its user-data has no pod network unit", () => {
        const problems = new ProblemList();
        const loaded = loadInterconnects(projectRoot)!;
        loaded.sites.greece.images[0].os = "rhel";
        planInterconnects(loaded.raw, loaded.sites, problems);
        assert.deepStrictEqual(
            problems.problems.map((p) => `${p.path}: ${p.message}`),
            [
                "interconnects[0].members[0].image: ubuntu-focal is os: rhel; a gateway needs an image with os: ubuntu or debian, whose netplan routes its readiness probe's replies",
            ],
        );
    });
});

describe("the guest's own programs read our cloud-init", function () {
    let dir: string;

    before(function () {
        requireGuestTools(this);
        console.log(
            `    (${cloudInit}; netplan.io ${version("dpkg-query", "-W", "-f", "${Version}", "netplan.io") ?? "?"})`,
        );
        dir = mkdtempSync(path.join(tmpdir(), "guest-"));
    });

    after(() => dir && rmSync(dir, { recursive: true, force: true }));

    let runs = 0;
    /** Runs `cloud-init devel net-convert` on `networkData`, writing below a fresh directory. */
    function runNetConvert(networkData: string, distro: string, renderer: string) {
        const root = path.join(dir, `${++runs}`);
        mkdirSync(root);
        writeFileSync(path.join(root, "network-data.yaml"), networkData);
        const run = spawnSync(
            "cloud-init",
            [
                "devel",
                "net-convert",
                "-p",
                path.join(root, "network-data.yaml"),
                "-k",
                "yaml",
                "-d",
                path.join(root, "out"),
                "-D",
                distro,
                "-O",
                renderer,
            ],
            { encoding: "utf8" },
        );
        return { run, out: path.join(root, "out") };
    }

    /** What net-convert wrote for `networkData`, which it must accept: its output root. */
    function netConvert(networkData: string, distro: string, renderer: string): string {
        const { run, out } = runNetConvert(networkData, distro, renderer);
        assert.strictEqual(run.status, 0, `${renderer}: ${run.stderr}`);
        return out;
    }

    /** netplan as Ubuntu runs it on what cloud-init wrote: the systemd-networkd files it generates. */
    function netplanGenerate(out: string): string {
        const file = path.join(out, "etc/netplan/50-cloud-init.yaml");
        const run = spawnSync("netplan", ["generate", "--root-dir", out], { encoding: "utf8" });
        assert.strictEqual(run.status, 0, `netplan generate ${file}: ${run.stderr}`);
        return path.join(out, "run/systemd/network");
    }

    /**
     * The pod network script of a NetworkManager guest, run by bash against the keyfiles in
     * `out`: nmcli is a stand-in that names the pod NIC's profile as NetworkManager would and
     * applies `connection modify` with the real nmcli's --offline mode. What it was asked, in order.
     */
    function runPodNetworkScript(out: string): string[] {
        const connections = path.join(out, "etc/NetworkManager/system-connections");
        const bin = path.join(out, "bin");
        mkdirSync(bin);
        const log = path.join(out, "nmcli.log");
        writeFileSync(
            path.join(bin, "nmcli"),
            [
                "#!/bin/bash",
                `echo "$*" >> ${log}`,
                'case "$1 $2 $3 $4" in',
                '    "-g GENERAL.CONNECTION device show") echo "cloud-init $5" ;;',
                '    "device reapply pod ") ;;',
                '    "connection modify "*)',
                `        file="${connections}/\${3// /-}.nmconnection"`,
                "        shift 3",
                '        /usr/bin/nmcli --offline connection modify "$@" < "$file" > "$file.new" && mv "$file.new" "$file" ;;',
                '    *) echo "unexpected: nmcli $*" >&2; exit 2 ;;',
                "esac",
                "",
            ].join("\n"),
        );
        chmodSync(path.join(bin, "nmcli"), 0o755);
        const run = spawnSync("bash", ["-c", podNetworkScriptText()], {
            encoding: "utf8",
            env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
        });
        assert.strictEqual(`${run.status} ${run.stderr}`, "0 ");
        return readFileSync(log, "utf8").trim().split("\n");
    }

    /** What netplan, given cloud-init's output for `distro`, has systemd-networkd do. */
    const netplanOf = (data: string, distro: string) =>
        readNetworkd(netplanGenerate(netConvert(data, distro, "netplan")));

    const readers: Record<Family, [string, (networkData: string) => GuestNetwork, object?][]> = {
        ubuntu: [["netplan, then netplan generate", (data) => netplanOf(data, "ubuntu")]],
        debian: [["netplan, then netplan generate", (data) => netplanOf(data, "debian")]],
        rhel: [
            [
                "network-manager, then edge-pod-network",
                (data) => {
                    const out = netConvert(data, "rhel", "network-manager");
                    runPodNetworkScript(out);
                    return readNetworkManager(
                        path.join(out, "etc/NetworkManager/system-connections"),
                    );
                },
            ],
            // EL 9's cloud-init writes ifcfg files, which NetworkManager reads; the script's
            // settings are the same there, but nmcli --offline edits keyfiles only.
            [
                "sysconfig, before edge-pod-network",
                (data) => readSysconfig(netConvert(data, "rhel", "sysconfig")),
                { boot: false, siteIpv6: false },
            ],
        ],
    };

    it("netplan routes a joined site's nodes to the peer sites through their gateway", () => {
        const raw = withInterconnects(
            { ...rawStackConfig(editableStackConfig("greece")), hasWireguardKey: true },
            projectRoot,
        );
        const { plan } = planStack(raw);
        const dir = netplanGenerate(
            netConvert(plan.clusters[0].nodes[0].networkData, "ubuntu", "netplan"),
        );
        const lab = readFileSync(path.join(dir, "10-netplan-lab.network"), "utf8");
        for (const prefix of ["10.120.0.0/24", "10.121.0.0/24"]) {
            assert.ok(
                lab.includes(`[Route]\nDestination=${prefix}\nGateway=192.168.18.250\n`),
                `${prefix} via the gateway in:\n${lab}`,
            );
        }
    });

    for (const [stack, config] of stacks) {
        for (const family of ["ubuntu", "debian", "rhel"] as const) {
            for (const [renderer, read, view] of readers[family]) {
                it(`${stack}, ${family} images: ${renderer} gives every node its addresses, routes, rules, DNS, MACs and no IPv6 on the pod network`, () => {
                    const { plan } = planStack(rawStackConfig(asFamily(config(), family)));
                    for (const node of plan.clusters.flatMap((c) => c.nodes)) {
                        assert.strictEqual(node.os, family);
                        assert.deepStrictEqual(
                            read(node.networkData),
                            expectedNetwork(plan.site, node, view),
                            node.vmName,
                        );
                    }
                });
            }
        }
    }

    it("netplan receives the network-data untouched: cloud-init passes v2 through", () => {
        const { plan } = planStack(rawStackConfig(editableStackConfig("france")));
        const node = plan.clusters[0].nodes[0];
        const written = parse(
            readFileSync(
                path.join(
                    netConvert(node.networkData, "ubuntu", "netplan"),
                    "etc/netplan/50-cloud-init.yaml",
                ),
                "utf8",
            ),
        );
        assert.deepStrictEqual(written, { network: parse(node.networkData) });
    });

    it("every renderer but netplan turns the reply route into a second default route, without the rule", () => {
        // Why only netplan families get the route and rule in network-data, and why ifupdown
        // (Debian 11) is refused: its eni output also needs net-tools' `route`.
        const { plan } = planStack(rawStackConfig(editableStackConfig("france")));
        const netplanDocument = plan.clusters[0].nodes[0].networkData;
        const pod = (network: GuestNetwork) => ({
            routes: network.pod.routes,
            rules: network.pod.rules,
        });
        const harmful = { routes: ["0.0.0.0/0 via 10.0.2.1"], rules: [] };
        const eniOut = netConvert(netplanDocument, "debian", "eni");
        assert.deepStrictEqual(pod(readEni(eniOut)), harmful);
        assert.match(
            readFileSync(path.join(eniOut, "etc/network/interfaces.d/50-cloud-init"), "utf8"),
            /iface pod inet static\n {4}address 10\.0\.2\.2\/24\n {4}post-up route add default gw 10\.0\.2\.1 \|\| true\n/,
        );
        const nmOut = netConvert(netplanDocument, "rhel", "network-manager");
        assert.deepStrictEqual(
            pod(readNetworkManager(path.join(nmOut, "etc/NetworkManager/system-connections"))),
            harmful,
        );
        assert.deepStrictEqual(
            pod(readSysconfig(netConvert(netplanDocument, "rhel", "sysconfig"))),
            harmful,
        );
        assert.deepStrictEqual(
            pod(
                readNetworkd(
                    path.join(
                        netConvert(netplanDocument, "debian", "networkd"),
                        "etc/systemd/network",
                    ),
                ),
            ),
            harmful,
        );
    });

    it("edge-pod-network asks NetworkManager for the pod NIC's profile, changes it and reapplies it", () => {
        const { plan } = planStack(rawStackConfig(asFamily(editableStackConfig("greece"), "rhel")));
        const out = netConvert(plan.clusters[0].nodes[0].networkData, "rhel", "network-manager");
        assert.deepStrictEqual(runPodNetworkScript(out), [
            "-g GENERAL.CONNECTION device show pod",
            "connection modify cloud-init pod ipv6.method disabled ipv4.routes 0.0.0.0/0 10.0.2.1 table=100 onlink=true ipv4.routing-rules priority 100 from 10.0.2.2 table 100",
            "device reapply pod",
        ]);
    });

    it("`to: default` is what stopped eni, networkd and sysconfig", () => {
        const { plan } = planStack(rawStackConfig(editableStackConfig("greece")));
        const old = plan.clusters[0].nodes[0].networkData.replace("to: 0.0.0.0/0", "to: default");
        assert.ok(old.includes("to: default"));
        for (const [distro, renderer] of [
            ["debian", "eni"],
            ["debian", "networkd"],
            ["rhel", "sysconfig"],
        ]) {
            const { run } = runNetConvert(old, distro, renderer);
            assert.notStrictEqual(run.status, 0, renderer);
            assert.match(
                run.stderr,
                /ValueError: Address default is not a valid ip address/,
                renderer,
            );
        }
    });

    for (const [stack, config] of stacks) {
        it(`cloud-init schema accepts every user-data of ${stack}`, () => {
            const { plan } = planStack(rawStackConfig(config()));
            for (const node of plan.clusters.flatMap((c) => c.nodes)) {
                const file = path.join(dir, `${node.vmName}.user-data`);
                const hostKey = mockRancher.hostKey(node.vmName);
                writeFileSync(
                    file,
                    renderUserData({
                        hostname: node.userData.hostname,
                        sshAuthorizedKeys: node.userData.sshAuthorizedKeys,
                        registrationCommand: nodeRegistrationCommand(
                            mockRancher.nodeCommand,
                            node.userData.registration,
                        ),
                        hostKey: {
                            privateKey: hostKey.privateKeyOpenssh,
                            publicKey: hostKey.publicKeyOpenssh.trim(),
                        },
                        rancherCaCerts: mockRancherCa,
                        os: node.os,
                    }),
                );
                assertValidCloudConfig(file);
            }
        });
    }
});
