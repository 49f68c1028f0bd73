import * as assert from "assert";
import { execFileSync } from "child_process";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "fs";
import * as path from "path";
import { parse, stringify } from "yaml";
import { interconnectsFile } from "../../lib/plan/interconnect";
import { readinessSocket } from "../../lib/core/naming";
import { GatewayNodePlan, NodePlan, StackPlan, planStack } from "../../lib/plan/stackPlan";
import { rawStackConfig, stackFilePath } from "../../lib/config/stackFile";
import { makeCa } from "../certs";
import { editableStackConfig } from "../../test/mocks";
import { noCloudSeed, vmDocuments } from "./documents";
import { prepareGuests, projectRoot } from "./environment";
import { SiteNamespace, Vm, inside, run } from "./qemu";
import { probeReadiness } from "./site";
import { cloudInitResult } from "./state";
import { eventually, minutes } from "./wait";
import { withInterconnects } from "../../runtime/projectFiles";

/**
 * The example interconnect for real: greece and france, each a site namespace with its bridges
 * and a router in front (NAT out, and the gateway's UDP port forwarded in, as interconnects.yaml
 * asks of site routers), joined through a third namespace that stands for the Internet. Each site
 * boots its interconnect gateway VM (kernel WireGuard, wg-quick and the tunnel keeper, all from
 * the plan's cloud-init) and one node VM, from the documents the program declares with a test
 * WireGuard key per site. The gateway image is the netplan family the plan requires.
 */

type SiteName = "greece" | "france";
const siteNames: SiteName[] = ["greece", "france"];

/** Each site router's public address, on its link to the Internet namespace. */
const publicAddress: Record<SiteName, { site: string; internet: string }> = {
    greece: { site: "198.18.0.1", internet: "198.18.0.2" },
    france: { site: "198.18.1.1", internet: "198.18.1.2" },
};
/** Greece's DNS server, on its host network: an address greece never offers a peer. */
const greeceHostNetwork = "172.28.2.89";

interface SiteUnderTest {
    plan: StackPlan;
    namespace: SiteNamespace;
    gateway: { plan: GatewayNodePlan; vm: Vm; readinessPort: number };
    node: { plan: NodePlan; vm: Vm };
}

/** Polls the VM's agent until `command` exits 0. */
const succeeds = (vm: Vm, command: string) => async () =>
    (await vm.agent.sh(command)).status === 0 ? true : undefined;

describe("the example interconnect between booted gateway and node VMs", function () {
    const id = String(process.pid % 10000);
    const internet = `gin${id}`;
    let work: string;
    let internetMade = false;
    const sites = {} as Record<SiteName, SiteUnderTest>;
    /** What to stop and remove, recorded as it is made, so that a failing `before` leaves nothing. */
    const made: { vms: Vm[]; namespaces: SiteNamespace[] } = { vms: [], namespaces: [] };
    const publicKeys = {} as Record<SiteName, string>;

    /** A veth pair from namespace `a` to namespace `b`, each end addressed. */
    function link(
        a: string,
        aEnd: string,
        aAddress: string,
        b: string,
        bEnd: string,
        bAddress: string,
    ) {
        run("ip", "link", "add", aEnd, "type", "veth", "peer", "name", bEnd);
        for (const [end, space, address] of [
            [aEnd, a, aAddress],
            [bEnd, b, bAddress],
        ]) {
            run("ip", "link", "set", end, "netns", space);
            inside(space, "ip", "address", "add", address, "dev", end);
            inside(space, "ip", "link", "set", end, "up");
        }
    }

    before(async function () {
        const prepared = prepareGuests(this, "guest-interconnect-");
        const images = prepared.images;
        work = prepared.work;

        // The committed interconnects, with this test's keys and the site routers' addresses.
        const privateKeys = {} as Record<SiteName, string>;
        for (const site of siteNames) {
            privateKeys[site] = run("wg", "genkey").trim();
            publicKeys[site] = execFileSync("wg", ["pubkey"], { input: privateKeys[site] })
                .toString()
                .trim();
        }
        const project = path.join(work, "project");
        mkdirSync(project);
        const declaration = parse(readFileSync(path.join(projectRoot, interconnectsFile), "utf8"));
        for (const site of siteNames) {
            declaration.sites[site].publicKey = publicKeys[site];
            copyFileSync(
                path.join(projectRoot, stackFilePath(site)),
                path.join(project, stackFilePath(site)),
            );
        }
        for (const member of declaration.interconnects[0].members) {
            member.endpoint = `${publicAddress[member.site as SiteName].site}:51820`;
        }
        writeFileSync(path.join(project, interconnectsFile), stringify(declaration));

        run("ip", "netns", "add", internet);
        internetMade = true;
        inside(internet, "sysctl", "-qw", "net.ipv4.ip_forward=1");

        for (const site of siteNames) {
            const config = editableStackConfig(site);
            config["edge:wireguardPrivateKey"] = privateKeys[site];
            const { plan } = planStack(withInterconnects(rawStackConfig(config), project));
            assert.strictEqual(plan.gateways.length, 1, `${site}: its gateway`);
            const gatewayPlan = plan.gateways[0];
            const nodePlan = plan.clusters[0].nodes[0];
            const firstNetwork = plan.site.networks[0];
            // Rancher is not part of this test: nothing listens where the nodes register.
            const ca = makeCa(work, `${site}-rancher-ca`);
            const server = `https://${firstNetwork.gateway}:8443`;
            const documents = await vmDocuments(
                config,
                site,
                {
                    nodeCommand: `curl -fL ${server}/system-agent-install.sh | sudo sh -s - --server ${server} --token unused`,
                    caCerts: readFileSync(ca.cert, "utf8"),
                },
                project,
            );

            const namespace = new SiteNamespace(`gic${id}${site.slice(0, 2)}`, `${id}${site[0]}`);
            made.namespaces.push(namespace);
            const bridges: Record<string, string> = {};
            for (const network of plan.site.networks.filter((n) => n.bridge)) {
                const prefix = network.cidr.split("/")[1];
                bridges[network.name] = namespace.bridge(
                    network.name,
                    `${network.gateway}/${prefix}`,
                );
            }
            // The site router: to the Internet through NAT, the gateway's port forwarded in.
            const wan = `w${site[0]}${id}`;
            link(
                namespace.name,
                wan,
                `${publicAddress[site].site}/30`,
                internet,
                `i${site[0]}${id}`,
                `${publicAddress[site].internet}/30`,
            );
            // Setup commands of the site router, whose arguments have no spaces.
            const router = (command: string) => inside(namespace.name, ...command.split(" "));
            const { ip, listenPort } = gatewayPlan.gateway;
            router("sysctl -qw net.ipv4.ip_forward=1");
            router(`ip route add default via ${publicAddress[site].internet}`);
            router(`iptables -t nat -A POSTROUTING -o ${wan} -j MASQUERADE`);
            router(
                `iptables -t nat -A PREROUTING -i ${wan} -p udp --dport 51820 -j DNAT --to-destination ${ip}:${listenPort}`,
            );
            // The site's DNS servers, on its router: they answer nothing (a gateway's apt finds
            // no archive at once, as at an air-gapped site), but they are there.
            for (const server of plan.site.dnsServers) {
                router(`ip address add ${server}/32 dev lo`);
            }
            if (site === "greece") {
                // What reaches greece's host network from outside its own site network (its VMs'
                // DNS queries go there), which no peer may reach, is counted.
                assert.ok(plan.site.dnsServers.includes(greeceHostNetwork));
                const own = plan.site.networks[0].cidr;
                router(`iptables -I INPUT ! -s ${own} -d ${greeceHostNetwork}`);
            }

            const boot = (name: string, forwardPort?: number) => {
                const docs = documents.find((d) => d.vmName === name)!;
                const dir = path.join(work, site, name);
                const vm = new Vm({
                    name,
                    namespace: namespace.name,
                    image: path.join(images, "netplan-12"),
                    seed: noCloudSeed(dir, docs),
                    podMac: docs.podMac,
                    nics: docs.nics.map((nic) => ({
                        tap: namespace.tap(bridges[nic.network]),
                        mac: nic.mac,
                    })),
                    forwards: forwardPort
                        ? [{ host: forwardPort, guest: readinessSocket.port }]
                        : [],
                    dir,
                });
                made.vms.push(vm);
                vm.start();
                return vm;
            };
            const readinessPort = site === "greece" ? 21000 : 21001;
            sites[site] = {
                plan,
                namespace,
                gateway: {
                    plan: gatewayPlan,
                    vm: boot(gatewayPlan.vmName, readinessPort),
                    readinessPort,
                },
                node: { plan: nodePlan, vm: boot(nodePlan.vmName) },
            };
        }
    });

    afterEach(function () {
        if (this.currentTest?.state === "failed") {
            for (const site of Object.values(sites)) {
                for (const vm of [site.gateway.vm, site.node.vm]) {
                    console.log(`    --- ${vm.args.name}'s console:\n${vm.consoleTail()}`);
                }
            }
        }
    });

    after(() => {
        made.vms.forEach((vm) => vm.stop());
        made.namespaces.forEach((namespace) => namespace.remove());
        if (internetMade) {
            run("ip", "netns", "delete", internet);
        }
        if (work && !process.env.EDGE_GUEST_KEEP) {
            rmSync(work, { recursive: true, force: true });
        }
    });

    it("boots both sites' gateways and nodes, and cloud-init's own status reports no error", async () => {
        for (const site of siteNames) {
            for (const vm of [sites[site].gateway.vm, sites[site].node.vm]) {
                await vm.agent.waitUntilUp(minutes(20));
                assert.deepStrictEqual(
                    { vm: vm.args.name, ...(await cloudInitResult(vm.agent)) },
                    { vm: vm.args.name, status: "done", errors: [], recoverable: {} },
                );
            }
        }
    });

    it("brings the tunnel up: each gateway has a handshake with its peer and reports ready", async () => {
        for (const site of siteNames) {
            const { gateway, namespace } = sites[site];
            const peer = site === "greece" ? "france" : "greece";
            await eventually(`${site}'s gateway ready`, minutes(5), () =>
                probeReadiness(namespace.name, gateway.readinessPort) === "ready"
                    ? true
                    : undefined,
            );
            const handshakes = await gateway.vm.agent.run(
                `wg show ${gateway.plan.gateway.interfaceName} latest-handshakes`,
            );
            const [key, time] = handshakes.trim().split(/\s+/);
            assert.strictEqual(key, publicKeys[peer]);
            assert.ok(Number(time) > 0, `${site}: no handshake with ${peer}: ${handshakes}`);
        }
    });

    it("carries a node's ping to the other site's node at the planned MTU, and no larger", async () => {
        const mtu = sites.greece.gateway.plan.gateway.mtu;
        for (const [from, to] of [
            ["greece", "france"],
            ["france", "greece"],
        ] as const) {
            const source = sites[from].node;
            const target = sites[to].node.plan.address;
            await eventually(
                `${from} → ${to}`,
                minutes(2),
                succeeds(source.vm, `ping -c 1 -W 5 ${target}`),
            );
            const fits = await source.vm.agent.sh(`ping -c 3 -W 5 -M do -s ${mtu - 28} ${target}`);
            assert.strictEqual(fits.status, 0, `${from} → ${to} at MTU ${mtu}: ${fits.stdout}`);
            // The gateway answers "fragmentation needed" with the tunnel's MTU; ping then knows it.
            const larger = await source.vm.agent.sh(
                `ping -c 2 -W 5 -M do -s ${mtu - 27} ${target}`,
            );
            assert.notStrictEqual(larger.status, 0, `${from} → ${to} above MTU ${mtu}`);
            assert.match(`${larger.stdout}${larger.stderr}`, new RegExp(`mtu ?= ?${mtu}\\b`));
        }
    });

    it("forwards nothing a peer sends outside the prefixes greece routes to it", async () => {
        const { gateway: franceGateway } = sites.france;
        const wg = franceGateway.plan.gateway.interfaceName;
        const allowed = franceGateway.plan.gateway.peers[0].allowedIps.join(",");
        const from = franceGateway.plan.gateway.ip;
        // France's gateway, misconfigured or hostile, sends greece's host network into the tunnel.
        await franceGateway.vm.agent.run(
            `wg set ${wg} peer ${publicKeys.greece} allowed-ips ${allowed},${greeceHostNetwork}/32 && ip route add ${greeceHostNetwork}/32 dev ${wg}`,
        );
        const outside = await franceGateway.vm.agent.sh(
            `ping -c 3 -W 3 -I ${from} ${greeceHostNetwork}`,
        );
        assert.notStrictEqual(outside.status, 0, outside.stdout);
        const counters = inside(sites.greece.namespace.name, "iptables", "-L", "INPUT", "-vnx");
        const counter = counters.split("\n").find((line) => line.includes(greeceHostNetwork))!;
        assert.strictEqual(Number(counter.trim().split(/\s+/)[0]), 0, counters);
        // The same sender reaches greece's node: the drop is the rule, not the path.
        const reachable = await franceGateway.vm.agent.sh(
            `ping -c 2 -W 5 -I ${from} ${sites.greece.node.plan.address}`,
        );
        assert.strictEqual(reachable.status, 0, reachable.stdout);
    });
});
