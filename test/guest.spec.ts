import * as assert from "assert";
import { spawnSync } from "child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { parse } from "yaml";
import { nodeRegistrationCommand, renderUserData } from "../lib/cloudinit";
import { withInterconnects } from "../lib/interconnect";
import { NodePlan, SitePlan, planStack } from "../lib/plan";
import { rawStackConfig } from "../lib/stackFile";
import { syntheticStack } from "../offline/synthetic";
import { locked } from "./fixtures";
import {
    GuestNetwork,
    assertValidCloudConfig,
    readEni,
    readNetworkd,
    readSysconfig,
} from "./guestNetwork";
import { editableStackConfig, mockRancher, mockRancherCa, projectRoot } from "./mocks";

/** The programs inside a guest that read our cloud-init, from Debian's packages (.ci/run). */
function version(command: string, ...args: string[]): string | undefined {
    const run = spawnSync(command, args, { encoding: "utf8" });
    return run.status === 0 ? `${run.stdout}${run.stderr}`.trim() : undefined;
}
const cloudInit = version("cloud-init", "--version");
const netplan = spawnSync("netplan", ["--help"]).status === 0;

function requireGuestTools(context: Mocha.Context): void {
    if (!cloudInit || !netplan) {
        console.log(
            "    (skipped: cloud-init and netplan are not installed; .ci/run installs them)",
        );
        context.skip();
    }
}

type Family = "ubuntu" | "debian" | "rhel";

/** A stack's config with every image of one family; only Ubuntu nodes may serve the direct API. */
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
    if (family !== "ubuntu") {
        for (const cluster of copy["edge:clusters"]) {
            delete cluster.directApi;
        }
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

/** What the guest must end up with, derived from the plan's addresses, not from the renderer. */
function expectedNetwork(site: SitePlan, node: NodePlan): GuestNetwork {
    const routed = node.os === "ubuntu";
    const network: GuestNetwork = {
        pod: {
            mac: node.podMac,
            addresses: [],
            dhcp: routed,
            routes: routed ? ["0.0.0.0/0 via 10.0.2.1 table 100 on-link"] : [],
            rules: routed ? ["from 10.0.2.2 table 100"] : [],
            dns: [],
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
        };
    });
    return network;
}

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

    /** What cloud-init's own networkd renderer writes for `distro`. */
    const networkdOf = (data: string, distro: string) =>
        readNetworkd(path.join(netConvert(data, distro, "networkd"), "etc/systemd/network"));

    const readers: Record<Family, [string, (networkData: string) => GuestNetwork][]> = {
        ubuntu: [
            [
                "netplan, then netplan generate",
                (data) => readNetworkd(netplanGenerate(netConvert(data, "ubuntu", "netplan"))),
            ],
        ],
        debian: [
            ["eni", (data) => readEni(netConvert(data, "debian", "eni"))],
            ["networkd", (data) => networkdOf(data, "debian")],
        ],
        rhel: [
            ["sysconfig", (data) => readSysconfig(netConvert(data, "rhel", "sysconfig"))],
            ["networkd", (data) => networkdOf(data, "rocky")],
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
            for (const [renderer, read] of readers[family]) {
                it(`${stack}, ${family} images: ${renderer} gives every node its addresses, routes, DNS and MACs`, () => {
                    const { plan } = planStack(rawStackConfig(asFamily(config(), family)));
                    for (const node of plan.clusters.flatMap((c) => c.nodes)) {
                        assert.strictEqual(node.os, family);
                        assert.deepStrictEqual(
                            read(node.networkData),
                            expectedNetwork(plan.site, node),
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

    it("other renderers would drop the pod network's policy routing and add a default route through it", () => {
        const { plan } = planStack(rawStackConfig(editableStackConfig("france")));
        const ubuntuDocument = plan.clusters[0].nodes[0].networkData;
        const harmful = { dhcp: true, routes: ["0.0.0.0/0 via 10.0.2.1"], rules: [] };
        const pod = (network: GuestNetwork) => ({
            dhcp: network.pod.dhcp,
            routes: network.pod.routes,
            rules: network.pod.rules,
        });
        assert.deepStrictEqual(pod(readEni(netConvert(ubuntuDocument, "debian", "eni"))), harmful);
        assert.deepStrictEqual(
            pod(readSysconfig(netConvert(ubuntuDocument, "rhel", "sysconfig"))),
            harmful,
        );
        assert.deepStrictEqual(pod(networkdOf(ubuntuDocument, "debian")), harmful);
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
                    }),
                );
                assertValidCloudConfig(file);
            }
        });
    }
});
