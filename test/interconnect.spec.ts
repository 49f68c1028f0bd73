import * as assert from "assert";
import { spawnSync } from "child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { parse, parseDocument } from "yaml";
import { RawStackConfig, StackConfig } from "../lib/config";
import { typeTokens } from "../lib/core/naming";
import { planStack } from "../lib/plan/stackPlan";
import { parseStackFile, rawStackConfig, secretPlaceholder } from "../lib/config/stackFile";
import {
    interconnectsFile,
    planInterconnects,
    renderGatewayUserData,
    wireguardPublicKey,
} from "../lib/plan/interconnect";
import { ProblemList } from "../lib/core/problems";
import { assertValidCloudConfig } from "./guestNetwork";
import { editableStackConfig, failingProgram, projectRoot, runProgram } from "./mocks";
import { loadInterconnects, withInterconnects } from "../runtime/projectFiles";

function committed(): { raw: any; sites: Record<string, StackConfig> } {
    const loaded = loadInterconnects(projectRoot)!;
    assert.deepStrictEqual(loaded.broken, []);
    return { raw: structuredClone(loaded.raw), sites: loaded.sites };
}

function problemsOf(raw: unknown, sites: Record<string, StackConfig>): string[] {
    const problems = new ProblemList();
    planInterconnects(raw, sites, problems);
    return problems.problems.map((p) => `${p.path}: ${p.message}`);
}

/**
 * A second interconnect between the same sites, as a copy of the first that shares nothing it
 * may not: its own tunnel, gateway addresses and endpoints (its name is still the first's).
 */
function secondInterconnect(raw: any): any {
    const second = structuredClone(raw.interconnects[0]);
    second.tunnelCidr = "10.255.1.0/29";
    second.members[0].tunnelAddress = "10.255.1.1";
    second.members[1].tunnelAddress = "10.255.1.2";
    second.members[0].gateway = "192.168.18.251";
    second.members[1].gateway = "10.120.0.251";
    second.members[0].endpoint = "gr-gw.example.org:51821";
    second.members[1].endpoint = "fr-gw.example.org:51821";
    raw.interconnects.push(second);
    return second;
}

/** What a gateway's wg-quick file runs to remove its filter, whatever of it is there. */
const filterDown =
    "{ iptables -D INPUT -i %i -j edge-%i-in; iptables -D FORWARD -o %i -j edge-%i; iptables -D FORWARD -i %i -j edge-%i; iptables -F edge-%i-in; iptables -X edge-%i-in; iptables -F edge-%i; iptables -X edge-%i; } 2>/dev/null || true";

describe("interconnects between sites", () => {
    it("plans the example: tunnel addresses, MTU, peers and the routes of each site's nodes", () => {
        const { raw, sites } = committed();
        const problems = new ProblemList();
        const plan = planInterconnects(raw, sites, problems)!;
        assert.deepStrictEqual(problems.problems, []);
        const greece = plan.gateways.find((g) => g.site === "greece")!;
        assert.strictEqual(
            greece.wgQuickConfig,
            [
                "# greece on interconnect eu",
                "[Interface]",
                "Address = 10.255.0.1/29",
                "ListenPort = 51820",
                "MTU = 1420",
                "PrivateKey = <secret: edge:wireguardPrivateKey>",
                `PreUp = ${filterDown}`,
                "PreUp = iptables -P FORWARD DROP",
                "PreUp = iptables -N edge-%i",
                "PreUp = iptables -A edge-%i -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
                "PreUp = iptables -A edge-%i -i %i -s 10.120.0.0/24 -d 192.168.18.0/24 -j ACCEPT",
                "PreUp = iptables -A edge-%i -o %i -s 192.168.18.0/24 -d 10.120.0.0/24 -j ACCEPT",
                "PreUp = iptables -A edge-%i -i %i -s 10.121.0.0/24 -d 192.168.18.0/24 -j ACCEPT",
                "PreUp = iptables -A edge-%i -o %i -s 192.168.18.0/24 -d 10.121.0.0/24 -j ACCEPT",
                "PreUp = iptables -A edge-%i -j DROP",
                "PreUp = iptables -N edge-%i-in",
                "PreUp = iptables -A edge-%i-in -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
                "PreUp = iptables -A edge-%i-in -j DROP",
                "PreUp = iptables -I FORWARD -i %i -j edge-%i",
                "PreUp = iptables -I FORWARD -o %i -j edge-%i",
                "PreUp = iptables -I INPUT -i %i -j edge-%i-in",
                "PostUp = sysctl -w net.ipv4.ip_forward=1",
                "PostUp = iptables -t mangle -C FORWARD -i %i -p tcp --tcp-flags SYN,RST SYN -m comment --comment edge-mss-i -j TCPMSS --set-mss 1380 2>/dev/null || iptables -t mangle -A FORWARD -i %i -p tcp --tcp-flags SYN,RST SYN -m comment --comment edge-mss-i -j TCPMSS --set-mss 1380",
                "PostUp = iptables -t mangle -C FORWARD -o %i -p tcp --tcp-flags SYN,RST SYN -m comment --comment edge-mss-o -j TCPMSS --set-mss 1380 2>/dev/null || iptables -t mangle -A FORWARD -o %i -p tcp --tcp-flags SYN,RST SYN -m comment --comment edge-mss-o -j TCPMSS --set-mss 1380",
                "PostDown = iptables -t mangle -D FORWARD -i %i -p tcp --tcp-flags SYN,RST SYN -m comment --comment edge-mss-i -j TCPMSS --set-mss 1380 2>/dev/null || true",
                "PostDown = iptables -t mangle -D FORWARD -o %i -p tcp --tcp-flags SYN,RST SYN -m comment --comment edge-mss-o -j TCPMSS --set-mss 1380 2>/dev/null || true",
                `PostDown = ${filterDown}`,
                "",
                "# france: endpoint fr-gw.example.org:51820, set by edge-tunnel.timer",
                "[Peer]",
                "PublicKey = Ow6JEedLXatJhV12P5KLGfLhfNgaoCDtqpwH1qoqZDw=",
                "AllowedIPs = 10.255.0.2/32, 10.120.0.0/24, 10.121.0.0/24",
                "PersistentKeepalive = 25",
                "",
            ].join("\n"),
        );
        assert.deepStrictEqual(plan.nodeRoutes, {
            greece: [
                { network: "lab", to: "10.120.0.0/24", via: "192.168.18.250" },
                { network: "lab", to: "10.121.0.0/24", via: "192.168.18.250" },
            ],
            france: [{ network: "edge", to: "192.168.18.0/24", via: "10.120.0.250" }],
        });
    });

    it("routes a cluster's recorded service CIDR when asked", () => {
        const { raw, sites } = committed();
        raw.interconnects[0].members[1].serviceCidrs = ["core"];
        const plan = planInterconnects(raw, sites, new ProblemList())!;
        assert.deepStrictEqual(
            plan.gateways.find((g) => g.site === "greece")!.peers[0].allowedIps,
            ["10.255.0.2/32", "10.120.0.0/24", "10.121.0.0/24", "10.91.0.0/20"],
        );
    });

    it("refuses addresses two joined sites share, naming both stack files", () => {
        const { raw, sites } = committed();
        const greece = structuredClone(sites.greece);
        greece.site.clusterCidrPool = "10.80.0.0/12";
        greece.site.networks[0].cidr = "10.121.0.0/24";
        assert.deepStrictEqual(problemsOf(raw, { ...sites, greece }), [
            "interconnects[0].members[0].gateway: 192.168.18.250 is not a host of lab (10.121.0.0/24)",
            "interconnects[0].members: 10.121.0.0/24 (Pulumi.greece.yaml site.networks[0]) overlaps 10.121.0.0/24 (Pulumi.france.yaml site.networks[1]); joined sites must not share addresses",
            "interconnects[0].members: 10.80.0.0/12 (Pulumi.greece.yaml site.clusterCidrPool) overlaps 10.80.0.0/12 (Pulumi.france.yaml site.clusterCidrPool); joined sites must not share addresses",
        ]);
    });

    it("refuses a gateway a node could be given, an unknown network, a bad key and a bad MTU", () => {
        const { raw, sites } = committed();
        raw.interconnects[0].members[0].gateway = "192.168.18.100";
        raw.interconnects[0].members[1].routes = ["edge", "backbone"];
        raw.interconnects[0].members[1].tunnelAddress = "10.255.0.1";
        raw.sites.france.publicKey = "not-a-key";
        raw.interconnects[0].mtu = 1450;
        assert.deepStrictEqual(problemsOf(raw, sites), [
            'sites.france.publicKey: "not-a-key" is not a WireGuard public key (44 base64 characters)',
        ]);
        raw.sites.france.publicKey = "Ow6JEedLXatJhV12P5KLGfLhfNgaoCDtqpwH1qoqZDw=";
        assert.deepStrictEqual(problemsOf(raw, sites), [
            "interconnects[0].mtu: 1450 leaves less than WireGuard's 60 bytes over IPv4 under underlayMtu 1500",
            "interconnects[0].members[0].gateway: 192.168.18.100 is inside the node range 192.168.18.2-192.168.18.249 of lab, so a node could be given it; narrow the range in Pulumi.greece.yaml or pick an address outside it",
            'interconnects[0].members[1].routes[1]: unknown site network "backbone" (Pulumi.france.yaml has: edge, storage, fabric)',
            'interconnects[0].members[1].tunnelAddress: duplicate tunnelAddress "10.255.0.1" (also at interconnects[0].members[0].tunnelAddress)',
        ]);
    });

    it("refuses a name too long for the gateway's WireGuard interface", () => {
        const { raw, sites } = committed();
        raw.interconnects[0].name = "mediterranean";
        assert.deepStrictEqual(problemsOf(raw, sites), [
            'interconnects[0].name: "mediterranean" is longer than 12 characters; the gateway\'s WireGuard interface wg-mediterranean would be longer than the 15 characters Linux and wg-quick allow',
        ]);
        raw.interconnects[0].name = "mediterranea";
        const plan = planInterconnects(raw, sites, new ProblemList())!;
        assert.deepStrictEqual(
            plan.gateways.map((g) => g.interfaceName),
            ["wg-mediterranea", "wg-mediterranea"],
        );
    });

    it("refuses two interconnects of one name, and a gateway address two interconnects share", () => {
        const { raw, sites } = committed();
        const second = secondInterconnect(raw);
        assert.deepStrictEqual(problemsOf(raw, sites), [
            'interconnects[1].name: duplicate interconnect name "eu" (also at interconnects[0].name)',
        ]);
        second.name = "south";
        second.members[1].gateway = "10.120.0.250";
        assert.deepStrictEqual(problemsOf(raw, sites), [
            "interconnects[1].members[1].gateway: 10.120.0.250 is france's gateway on interconnect eu too (interconnects[0].members[1].gateway); each interconnect has a gateway VM of its own, with its own address",
        ]);
    });

    it("refuses a public endpoint two members share, in one interconnect or two", () => {
        const { raw, sites } = committed();
        raw.interconnects[0].members[1].endpoint = "GR-GW.example.org:51820";
        assert.deepStrictEqual(problemsOf(raw, sites), [
            "interconnects[0].members[1].endpoint: GR-GW.example.org:51820 is the endpoint of interconnect eu too (interconnects[0].members[0].endpoint); a router forwards one UDP port to one gateway VM, so give each interconnect a port of its own",
        ]);
        raw.interconnects[0].members[1].endpoint = "fr-gw.example.org:51820";
        const second = secondInterconnect(raw);
        second.name = "south";
        second.members[0].endpoint = "gr-gw.example.org:51820";
        assert.deepStrictEqual(problemsOf(raw, sites), [
            "interconnects[1].members[0].endpoint: gr-gw.example.org:51820 is the endpoint of interconnect eu too (interconnects[0].members[0].endpoint); a router forwards one UDP port to one gateway VM, so give each interconnect a port of its own",
        ]);
    });

    it("refuses a gateway whose VM name would pass Kubernetes' 63 characters", () => {
        const { raw, sites } = committed();
        const site = "greece-and-the-aegean-islands-testbed-with-a-rather-long-name";
        sites[site] = sites.greece;
        raw.sites[site] = raw.sites.greece;
        raw.interconnects[0].members[0].site = site;
        assert.deepStrictEqual(problemsOf(raw, sites), [
            `interconnects[0].members[0].site: the gateway VM name "${site}-eu-gw" is longer than 63 characters; shorten the site's or the interconnect's name`,
        ]);
    });

    it("refuses a gateway on an SR-IOV network", () => {
        const { raw, sites } = committed();
        raw.interconnects[0].members[1].network = "fabric";
        raw.interconnects[0].members[1].gateway = "10.122.0.250";
        assert.deepStrictEqual(problemsOf(raw, sites), [
            "interconnects[0].members[1].network: fabric is an SR-IOV network of Pulumi.france.yaml; the gateway of interconnect eu needs a bridge network",
        ]);
    });

    it("reads interconnects.yaml and every member's committed stack file", () => {
        const dir = mkdtempSync(path.join(tmpdir(), "interconnect-"));
        try {
            const declaration = parse(
                readFileSync(path.join(projectRoot, interconnectsFile), "utf8"),
            );
            declaration.interconnects[0].members[1].site = "spain";
            writeFileSync(path.join(dir, interconnectsFile), JSON.stringify(declaration));
            for (const site of ["greece", "france"]) {
                writeFileSync(
                    path.join(dir, `Pulumi.${site}.yaml`),
                    readFileSync(path.join(projectRoot, `Pulumi.${site}.yaml`)),
                );
            }
            const loaded = loadInterconnects(dir)!;
            assert.deepStrictEqual(Object.keys(loaded.sites), ["greece"]);
            assert.deepStrictEqual(problemsOf(loaded.raw, loaded.sites), [
                "interconnects[0].members[1].site: no stack file Pulumi.spain.yaml",
            ]);
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });

    it("filters france's gateway to its two offered networks and greece's one, both ways", () => {
        const { raw, sites } = committed();
        const plan = planInterconnects(raw, sites, new ProblemList())!;
        const france = plan.gateways.find((g) => g.site === "france")!;
        assert.deepStrictEqual(
            france.wgQuickConfig.split("\n").filter((l) => l.startsWith("PreUp = iptables -A")),
            [
                "PreUp = iptables -A edge-%i -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
                "PreUp = iptables -A edge-%i -i %i -s 192.168.18.0/24 -d 10.120.0.0/24 -j ACCEPT",
                "PreUp = iptables -A edge-%i -o %i -s 10.120.0.0/24 -d 192.168.18.0/24 -j ACCEPT",
                "PreUp = iptables -A edge-%i -i %i -s 192.168.18.0/24 -d 10.121.0.0/24 -j ACCEPT",
                "PreUp = iptables -A edge-%i -o %i -s 10.121.0.0/24 -d 192.168.18.0/24 -j ACCEPT",
                "PreUp = iptables -A edge-%i -j DROP",
                "PreUp = iptables -A edge-%i-in -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
                "PreUp = iptables -A edge-%i-in -j DROP",
            ],
        );
    });

    it("gives a gateway its wg-quick file, the tunnel keeper and its timer, and no enabled readiness socket", () => {
        const { raw, sites } = committed();
        const plan = planInterconnects(raw, sites, new ProblemList())!;
        const greece = plan.gateways.find((g) => g.site === "greece")!;
        const userData = renderGatewayUserData(greece, {
            hostname: "greece-eu-gw",
            sshAuthorizedKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKey operator"],
            marker: "/var/lib/edge-testbed/tunnel-up",
        });
        assert.ok(userData.startsWith("#cloud-config\n"));
        const document = parse(userData);
        assert.deepStrictEqual(
            document.write_files.map((f: any) => [f.path, f.permissions]),
            [
                ["/etc/systemd/system/edge-ready.socket", "0644"],
                ["/etc/systemd/system/edge-ready@.service", "0644"],
                ["/etc/wireguard/wg-eu.conf", "0600"],
                ["/etc/wireguard/wg-eu.endpoints", "0644"],
                ["/usr/local/sbin/edge-tunnel", "0755"],
                ["/etc/systemd/system/edge-tunnel.service", "0644"],
                ["/etc/systemd/system/edge-tunnel.timer", "0644"],
            ],
        );
        const content = (file: string) =>
            document.write_files.find((f: any) => f.path === file).content;
        assert.strictEqual(content("/etc/wireguard/wg-eu.conf"), greece.wgQuickConfig);
        assert.match(
            content("/etc/systemd/system/edge-ready.socket"),
            /^ConditionPathExists=\/var\/lib\/edge-testbed\/tunnel-up$/m,
        );
        assert.strictEqual(
            content("/etc/wireguard/wg-eu.endpoints"),
            [
                "# greece on interconnect eu: <public key> <endpoint> per peer",
                "Ow6JEedLXatJhV12P5KLGfLhfNgaoCDtqpwH1qoqZDw= fr-gw.example.org:51820",
                "",
            ].join("\n"),
        );
        assert.strictEqual(
            content("/usr/local/sbin/edge-tunnel"),
            [
                "#!/bin/bash",
                "# /usr/local/sbin/edge-tunnel INTERFACE ENDPOINTS MARKER, run by edge-tunnel.timer.",
                "set -u",
                "interface=$1 endpoints=$2 marker=$3",
                'wg show "$interface" >/dev/null 2>&1 || systemctl restart "wg-quick@$interface"',
                "declare -A handshake",
                "while read -r key time; do",
                "    handshake[$key]=$time",
                'done < <(wg show "$interface" latest-handshakes 2>/dev/null)',
                "now=$(date +%s)",
                "fresh=0",
                "while read -r key endpoint; do",
                '    [[ -z $key || $key == "#"* ]] && continue',
                "    age=$((now - ${handshake[$key]:-0}))",
                "    ((age <= 180)) && fresh=1",
                "    if ((age > 135)); then",
                '        WG_ENDPOINT_RESOLUTION_RETRIES=0 wg set "$interface" peer "$key" endpoint "$endpoint" ||',
                '            echo "$interface: peer $key: cannot set endpoint $endpoint, trying again next time" >&2',
                "    fi",
                'done <"$endpoints"',
                "if ((fresh)); then",
                '    mkdir -p "${marker%/*}" && touch "$marker" && systemctl start edge-ready.socket',
                "else",
                '    rm -f "$marker"',
                "    systemctl stop edge-ready.socket",
                "fi",
                "",
            ].join("\n"),
        );
        assert.strictEqual(
            content("/etc/systemd/system/edge-tunnel.service"),
            [
                "[Unit]",
                "Description=Edge testbed: wg-eu's peer endpoints, and readiness while a peer has a recent handshake",
                "After=wg-quick@wg-eu.service",
                "",
                "[Service]",
                "Type=oneshot",
                "ExecStart=/usr/local/sbin/edge-tunnel wg-eu /etc/wireguard/wg-eu.endpoints /var/lib/edge-testbed/tunnel-up",
                "",
            ].join("\n"),
        );
        assert.strictEqual(
            content("/etc/systemd/system/edge-tunnel.timer"),
            [
                "[Unit]",
                "Description=Edge testbed: edge-tunnel.service every 10 s",
                "",
                "[Timer]",
                "OnActiveSec=1s",
                "OnUnitActiveSec=10s",
                "AccuracySec=1s",
                "",
                "[Install]",
                "WantedBy=timers.target",
                "",
            ].join("\n"),
        );
        // Only the keeper starts the readiness socket: enabled, it would start at boot on the
        // marker a running tunnel left before the reboot.
        assert.deepStrictEqual(document.runcmd, [
            ["systemctl", "daemon-reload"],
            ["systemctl", "enable", "--now", "wg-quick@wg-eu"],
            ["systemctl", "enable", "--now", "edge-tunnel.timer"],
        ]);
        assert.deepStrictEqual(
            [document.hostname, document.ssh_pwauth, document.packages],
            ["greece-eu-gw", false, ["wireguard-tools", "iptables"]],
        );
    });

    it("gives each gateway a cloud-config that cloud-init's own schema accepts", function () {
        if (spawnSync("sh", ["-c", "command -v cloud-init"]).status !== 0) {
            console.log("      (skipped: no cloud-init; .ci/run installs it)");
            this.skip();
        }
        const { raw, sites } = committed();
        const plan = planInterconnects(raw, sites, new ProblemList())!;
        const dir = mkdtempSync(path.join(tmpdir(), "gateway-"));
        try {
            for (const gateway of plan.gateways) {
                const file = path.join(dir, `${gateway.site}.user-data`);
                writeFileSync(
                    file,
                    renderGatewayUserData(gateway, {
                        hostname: `${gateway.site}-gw`,
                        sshAuthorizedKeys: sites[gateway.site].site.sshAuthorizedKeys,
                        marker: "/var/lib/edge-testbed/tunnel-up",
                    }),
                );
                assertValidCloudConfig(file);
            }
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe("a site's end of its interconnects", () => {
    function greeceRaw(hasWireguardKey: boolean): RawStackConfig {
        return withInterconnects(
            { ...rawStackConfig(editableStackConfig("greece")), hasWireguardKey },
            projectRoot,
        );
    }

    it("gives a site with its key a gateway VM on its network, and its nodes routes to the peers", () => {
        const { plan } = planStack(greeceRaw(true));
        assert.deepStrictEqual(
            plan.gateways.map((g) => [g.vmName, g.namespace, g.interfaces, g.cloudInitSecretName]),
            [
                [
                    "greece-eu-gw",
                    "edge-networks",
                    [
                        {
                            network: "lab",
                            ip: "192.168.18.250",
                            mac: plan.gateways[0].interfaces[0].mac,
                            address: "192.168.18.250/24",
                        },
                    ],
                    "greece-eu-gw-cloudinit",
                ],
            ],
        );
        const vm = plan.gateways[0].virtualMachine as any;
        assert.deepStrictEqual(
            vm.spec.template.spec.networks.map((n: any) => n.multus?.networkName ?? "pod"),
            ["pod", "edge-networks/lab"],
        );
        assert.deepStrictEqual(parse(plan.gateways[0].userData).runcmd, [
            ["systemctl", "daemon-reload"],
            ["systemctl", "enable", "--now", "wg-quick@wg-eu"],
            ["systemctl", "enable", "--now", "edge-tunnel.timer"],
        ]);
        assert.match(
            plan.gateways[0].userData,
            / \/etc\/wireguard\/wg-eu.endpoints \/var\/lib\/edge-testbed\/tunnel-up\n/,
        );
        // `up` waits for no gateway: nothing depends on it, and it is no Rancher node.
        assert.deepStrictEqual(vm.metadata.annotations, { "pulumi.com/skipAwait": "true" });
        const master = parse(plan.clusters[0].nodes[0].networkData);
        assert.deepStrictEqual(master.ethernets.lab.routes, [
            { to: "0.0.0.0/0", via: "192.168.18.1" },
            { to: "10.120.0.0/24", via: "192.168.18.250" },
            { to: "10.121.0.0/24", via: "192.168.18.250" },
        ]);
    });

    it("declares nothing for a member site without its key, and routes nothing", () => {
        const { plan } = planStack(greeceRaw(false));
        assert.deepStrictEqual(plan.gateways, []);
        assert.deepStrictEqual(parse(plan.clusters[0].nodes[0].networkData).ethernets.lab.routes, [
            { to: "0.0.0.0/0", via: "192.168.18.1" },
        ]);
    });

    it("declares the gateway under the program, and refuses a key that is not the committed key's pair", async () => {
        const config = editableStackConfig("greece");
        config["edge:wireguardPrivateKey"] = secretPlaceholder;
        const { resources } = await runProgram(config, {
            secretKeys: ["edge:wireguardPrivateKey"],
        });
        assert.deepStrictEqual(
            resources
                .filter((r) => r.name.startsWith("greece-eu-gw"))
                .map((r) => `${r.type} ${r.name}`)
                .sort(),
            [
                `${typeTokens.interconnectGateway} greece-eu-gw`,
                `${typeTokens.virtualMachine} greece-eu-gw`,
                `${typeTokens.dataVolume} greece-eu-gw-rootdisk`,
                `${typeTokens.secret} greece-eu-gw-cloudinit`,
            ].sort(),
        );
        const wrong = "sBrhKcbBUXT3ZRMQyUdzlJ2mhYhqj4dXo1BDlK6sM2A=";
        config["edge:wireguardPrivateKey"] = wrong;
        const { error } = await failingProgram(config, {
            secretKeys: ["edge:wireguardPrivateKey"],
        });
        assert.strictEqual(
            (error as Error).message,
            [
                "invalid stack config (1 problem):",
                `  - edge:wireguardPrivateKey: is the private key of ${wireguardPublicKey(wrong)}, but interconnects.yaml gives greece the public key JcsWFMJJp3gK4t3eS3WCdAcgZHak+1tg+H5o3iwnS0g=: set the key whose public key is committed (pulumi config set --secret edge:wireguardPrivateKey), or commit its new public key`,
            ].join("\n"),
        );
        assert.ok(!(error as Error).message.includes(wrong), "the private key is never repeated");
    });
});

describe("config errors in a member site's stack file", () => {
    let dir: string;
    beforeEach(() => {
        dir = mkdtempSync(path.join(tmpdir(), "interconnect-errors-"));
        for (const file of [interconnectsFile, "Pulumi.greece.yaml", "Pulumi.france.yaml"]) {
            writeFileSync(path.join(dir, file), readFileSync(path.join(projectRoot, file)));
        }
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    /** Gives `site` a DNS server that is no address, in its stack file in `dir`. */
    function breakSite(site: string): void {
        const file = path.join(dir, `Pulumi.${site}.yaml`);
        const document = parseDocument(readFileSync(file, "utf8"));
        document.setIn(["config", "edge:site", "dnsServers"], ["192.0.2.300"]);
        writeFileSync(file, document.toString());
    }

    /** What the program says of greece's stack file in `dir`, run there as Pulumi runs it. */
    async function programError(): Promise<string> {
        const file = path.join(dir, "Pulumi.greece.yaml");
        const config = parseStackFile(readFileSync(file, "utf8"), file).config;
        const cwd = process.cwd();
        process.chdir(dir);
        try {
            return ((await failingProgram(config)).error as Error).message;
        } finally {
            process.chdir(cwd);
        }
    }

    /** What npm run plan -- --stack greece prints in `dir`, and its exit code. */
    function planOutput(): { status: number | null; stdout: string } {
        const run = spawnSync(
            process.execPath,
            [path.join(projectRoot, "scripts", "run.js"), "plan", "--stack", "greece"],
            { cwd: dir, encoding: "utf8" },
        );
        return { status: run.status, stdout: run.stdout };
    }

    const ownErrors = [
        "invalid stack config (1 problem):",
        '  - site.dnsServers[0]: "192.0.2.300" is not an IPv4 address',
    ].join("\n");

    it("reports a site's own errors as themselves, as without interconnects.yaml", async () => {
        breakSite("greece");
        assert.strictEqual(await programError(), ownErrors);
        assert.deepStrictEqual(planOutput(), { status: 1, stdout: `${ownErrors}\n` });
        rmSync(path.join(dir, interconnectsFile));
        assert.strictEqual(await programError(), ownErrors);
    });

    it("reports a peer's broken stack file as a problem of the interconnect", async () => {
        breakSite("france");
        const peerBroken = [
            "invalid stack config (1 problem):",
            "  - interconnects.yaml:interconnects[0].members[1].site: Pulumi.france.yaml has config errors of its own; fix them first (npm run plan -- --stack france lists them)",
        ].join("\n");
        assert.strictEqual(await programError(), peerBroken);
        assert.deepStrictEqual(planOutput(), { status: 1, stdout: `${peerBroken}\n` });
    });
});
