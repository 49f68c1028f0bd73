import * as assert from "assert";
import { spawnSync } from "child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { parse } from "yaml";
import { StackConfig } from "../lib/config";
import {
    interconnectsFile,
    loadInterconnects,
    planInterconnects,
    renderGatewayUserData,
} from "../lib/interconnect";
import { ProblemList } from "../lib/problems";
import { projectRoot } from "./mocks";

function committed(): { raw: any; sites: Record<string, StackConfig> } {
    const problems = new ProblemList();
    const loaded = loadInterconnects(projectRoot, problems)!;
    assert.deepStrictEqual(problems.problems, []);
    return { raw: structuredClone(loaded.raw), sites: loaded.sites };
}

function problemsOf(raw: unknown, sites: Record<string, StackConfig>): string[] {
    const problems = new ProblemList();
    planInterconnects(raw, sites, problems);
    return problems.problems.map((p) => `${p.path}: ${p.message}`);
}

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
                "PostUp = sysctl -w net.ipv4.ip_forward=1",
                "PostUp = iptables -t mangle -A FORWARD -i %i -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1380",
                "PostUp = iptables -t mangle -A FORWARD -o %i -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1380",
                "PostDown = iptables -t mangle -D FORWARD -i %i -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1380",
                "PostDown = iptables -t mangle -D FORWARD -o %i -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1380",
                "",
                "# france",
                "[Peer]",
                "PublicKey = Ow6JEedLXatJhV12P5KLGfLhfNgaoCDtqpwH1qoqZDw=",
                "Endpoint = fr-gw.example.org:51820",
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
            'interconnects[0].members[1].routes[1]: unknown site network "backbone" (Pulumi.france.yaml has: edge, storage)',
            'interconnects[0].members[1].tunnelAddress: duplicate tunnelAddress "10.255.0.1" (also at interconnects[0].members[0].tunnelAddress)',
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
            const problems = new ProblemList();
            const loaded = loadInterconnects(dir, problems)!;
            assert.deepStrictEqual(Object.keys(loaded.sites), ["greece"]);
            assert.deepStrictEqual(problemsOf(loaded.raw, loaded.sites), [
                "interconnects[0].members[1].site: no stack file Pulumi.spain.yaml",
            ]);
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
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
                    renderGatewayUserData(gateway, sites[gateway.site].site.sshAuthorizedKeys),
                );
                const run = spawnSync("cloud-init", ["schema", "--config-file", file], {
                    encoding: "utf8",
                });
                assert.strictEqual(
                    `${run.status} ${run.stdout.trim()}`,
                    `0 Valid cloud-config: ${file}`,
                    run.stderr,
                );
            }
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });
});
