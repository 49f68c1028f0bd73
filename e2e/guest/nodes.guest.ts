import * as assert from "assert";
import { execFileSync } from "child_process";
import { readFileSync, rmSync, writeFileSync } from "fs";
import * as path from "path";
import { nodeRegistrationCommand } from "../../lib/render/cloudinit";
import { GuestOs } from "../../lib/config";
import { podReplyTable, registrationRetry } from "../../lib/config/defaults";
import { readinessSocket, registrationMarker, registrationService } from "../../lib/core/naming";
import { NodePlan, SitePlan, planStack } from "../../lib/plan/stackPlan";
import { rawStackConfig } from "../../lib/config/stackFile";
import { editableStackConfig } from "../../test/mocks";
import { VmDocuments, noCloudSeed, vmDocuments } from "./documents";
import { prepareGuests } from "./environment";
import { SiteNamespace, Vm, inside } from "./qemu";
import { RancherStandIn, probeReadiness } from "./site";
import { LiveNetwork, cloudInitResult, readNetwork } from "./state";
import { eventually, minutes } from "./wait";

/**
 * Each supported image family boots greece's cluster final-test (a server and a worker on the
 * site bridge) from the documents the program declares, in QEMU, and the guest's own programs
 * (cloud-init, netplan or NetworkManager, systemd, curl, sshd) show what they did with them.
 * Rancher is a stand-in on the site bridge behind a private CA, down when the nodes boot.
 */

interface Family {
    os: GuestOs;
    /** The image of scripts/guest-images.sh that stands for the family. */
    image: string;
    /** What the stack's image URL names, so that the config is one an operator would write. */
    url: string;
    /** Whether the image's resolver is systemd-resolved (per link) or resolv.conf (global). */
    resolver: "resolved" | "resolv.conf";
}

const families: Family[] = [
    {
        os: "ubuntu",
        image: "netplan-12",
        url: "https://cloud-images.ubuntu.com/focal/current/focal-server-cloudimg-amd64.img",
        resolver: "resolved",
    },
    {
        os: "debian",
        image: "netplan-13",
        url: "https://cloud.debian.org/images/cloud/trixie/latest/debian-13-genericcloud-amd64.qcow2",
        resolver: "resolved",
    },
    {
        os: "rhel",
        image: "nm-13",
        url: "https://dl.rockylinux.org/pub/rocky/9/images/x86_64/Rocky-9-GenericCloud-Base.latest.x86_64.qcow2",
        resolver: "resolv.conf",
    },
];

/** EDGE_GUEST_FAMILIES=ubuntu,rhel narrows the run, for work on one family. */
const chosen = process.env.EDGE_GUEST_FAMILIES?.split(",");

/**
 * The stack as an operator of this family writes it: greece, its image of this family, the
 * image's default user (Debian's cloud-init names it `debian`) and the operator's key.
 */
function familyConfig(family: Family, operatorKey: string): Record<string, any> {
    const config = editableStackConfig("greece");
    config["edge:site"].sshUser = "debian";
    config["edge:site"].sshAuthorizedKeys = [operatorKey];
    for (const image of Object.keys(config["edge:images"])) {
        config["edge:images"][image] = {
            ...config["edge:images"][image],
            url: family.url,
            os: family.os,
        };
    }
    return config;
}

/** What the plan says the node's guest network is, in readNetwork's terms. */
function plannedNetwork(site: SitePlan, node: NodePlan, family: Family): LiveNetwork {
    const nics: LiveNetwork["nics"] = {
        pod: { mac: node.podMac, ipv4: ["10.0.2.2/24"], ipv6: [] },
    };
    const routes = [
        `table ${podReplyTable} default via 10.0.2.1 dev pod onlink`,
        "table main 10.0.2.0/24 dev pod",
    ];
    node.interfaces.forEach((nic, i) => {
        const network = site.networks.find((n) => n.name === nic.network)!;
        // The site LAN's IPv6 is its own business: the kernel's link-local address only, here.
        nics[nic.network] = { mac: nic.mac, ipv4: [nic.address], ipv6: ["link-local"] };
        routes.push(`table main ${network.cidr} dev ${nic.network}`);
        if (i === 0) {
            routes.push(`table main default via ${network.gateway} dev ${nic.network}`);
        }
    });
    const dnsOn = family.resolver === "resolved" ? node.interfaces[0].network : "global";
    return {
        nics,
        routes: routes.sort(),
        rules: [`from 10.0.2.2 lookup ${podReplyTable}`],
        dns: site.dnsServers.map((server) => `${dnsOn}: ${server}`).sort(),
    };
}

/** What the install script reports for a node: its registration command's arguments to `sh`. */
function registrationArguments(nodeCommand: string, node: NodePlan): string {
    const command = nodeRegistrationCommand(nodeCommand, node.userData.registration);
    // The shell joins "$@" with spaces once it has removed the quotes.
    return command.slice(command.indexOf("sh -s - ") + "sh -s - ".length).replace(/'/g, "");
}

for (const family of families.filter((f) => !chosen || chosen.includes(f.os))) {
    describe(`a booted ${family.os} node (image ${family.image})`, function () {
        const id = String(process.pid % 10000);
        let work: string;
        let site: SiteNamespace;
        let standIn: RancherStandIn;
        let nodes: { plan: NodePlan; documents: VmDocuments; vm: Vm; readinessPort: number }[];
        let sitePlan: SitePlan;

        before(async function () {
            const prepared = prepareGuests(this, `guest-${family.os}-`);
            const images = prepared.images;
            work = prepared.work;
            execFileSync("ssh-keygen", [
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                "operator",
                "-f",
                path.join(work, "operator"),
            ]);
            const config = familyConfig(
                family,
                readFileSync(path.join(work, "operator.pub"), "utf8"),
            );
            const { plan } = planStack(rawStackConfig(config));
            sitePlan = plan.site;
            const lab = plan.site.networks[0];
            site = new SiteNamespace(`gst${id}${family.os.slice(0, 2)}`, id);
            const bridge = site.bridge(lab.name, `${lab.gateway}/${lab.cidr.split("/")[1]}`);
            standIn = new RancherStandIn(site.name, lab.gateway, 8443, work);
            // Run where there is no interconnects.yaml: these nodes' site has no interconnect.
            const documents = await vmDocuments(
                config,
                "greece",
                { nodeCommand: standIn.nodeCommand, caCerts: standIn.caPem },
                work,
            );
            nodes = [];
            // One at a time into `nodes`, so that `after` stops whatever started.
            plan.clusters[0].nodes.forEach((node, i) => {
                const docs = documents.find((d) => d.vmName === node.vmName)!;
                const dir = path.join(work, node.name);
                const vm = new Vm({
                    name: node.name,
                    namespace: site.name,
                    image: path.join(images, family.image),
                    seed: noCloudSeed(dir, docs),
                    podMac: docs.podMac,
                    nics: docs.nics.map((nic) => ({ tap: site.tap(bridge), mac: nic.mac })),
                    forwards: [{ host: 20000 + i, guest: readinessSocket.port }],
                    dir,
                });
                nodes.push({ plan: node, documents: docs, vm, readinessPort: 20000 + i });
                vm.start();
            });
        });

        afterEach(function () {
            if (this.currentTest?.state === "failed") {
                for (const { vm } of nodes ?? []) {
                    console.log(`    --- ${vm.args.name}'s console:\n${vm.consoleTail()}`);
                }
            }
        });

        after(() => {
            for (const { vm } of nodes ?? []) {
                vm.stop();
            }
            standIn?.stop();
            site?.remove();
            if (work && !process.env.EDGE_GUEST_KEEP) {
                rmSync(work, { recursive: true, force: true });
            }
        });

        it("boots every node, and cloud-init's own status reports no error", async () => {
            for (const { vm, plan } of nodes) {
                await vm.agent.waitUntilUp(minutes(15));
                assert.deepStrictEqual(
                    { node: plan.name, ...(await cloudInitResult(vm.agent)) },
                    { node: plan.name, status: "done", errors: [], recoverable: {} },
                );
                assert.strictEqual((await vm.agent.run("hostname")).trim(), plan.name);
            }
        });

        it("has every address, route, rule, DNS server and interface name the plan gives", async () => {
            for (const { vm, plan } of nodes) {
                assert.deepStrictEqual(
                    { node: plan.name, ...(await readNetwork(vm.agent)) },
                    { node: plan.name, ...plannedNetwork(sitePlan, plan, family) },
                );
            }
        });

        it("keeps trying to register while Rancher is down, across a reboot, and is not ready", async () => {
            const { vm, readinessPort } = nodes[0];
            // Until this boot's journal shows a failed attempt; at once, should the node take
            // the failed download for a registration.
            const failedAttempt = async () => {
                const journal = await vm.agent.run(
                    `journalctl -b -o cat --no-pager -u ${registrationService}`,
                );
                const marked = (await vm.agent.sh(`test -e ${registrationMarker}`)).status === 0;
                assert.ok(
                    !marked,
                    `${registrationMarker} exists while Rancher is down; ${registrationService} said:\n${journal}`,
                );
                const failed = `edge-register: attempt 1 of ${registrationRetry.attempts} failed`;
                return journal.includes(failed) ? true : undefined;
            };
            await eventually("a failed registration attempt", minutes(5), failedAttempt);
            assert.strictEqual(probeReadiness(site.name, readinessPort), "");

            await vm.reboot(minutes(15));
            await eventually("a failed attempt after the reboot", minutes(10), failedAttempt);
            assert.strictEqual(probeReadiness(site.name, readinessPort), "");
            assert.deepStrictEqual(standIn.registrations(), []);
        });

        it("registers every node once Rancher is up, and only then reports ready", async () => {
            await standIn.start();
            const registrations = await eventually("every node's registration", minutes(10), () => {
                const seen = standIn.registrations();
                return seen.length >= nodes.length ? seen : undefined;
            });
            assert.deepStrictEqual(
                registrations
                    .map((r) => ({ ...r, from: r.from.replace(/^::ffff:/, "") }))
                    .sort((a, b) => a.from.localeCompare(b.from)),
                nodes.map(({ plan }) => ({
                    from: plan.address,
                    authorization: `Bearer ${standIn.token}`,
                    arguments: registrationArguments(standIn.nodeCommand, plan),
                })),
            );
            for (const { vm, plan, readinessPort } of nodes) {
                // The script writes the marker once the install script, and its report, is done.
                await eventually(`${plan.name}'s marker`, minutes(1), async () =>
                    (await vm.agent.sh(`test -e ${registrationMarker}`)).status === 0
                        ? true
                        : undefined,
                );
                assert.strictEqual(
                    await eventually(`${plan.name} ready`, minutes(1), () =>
                        probeReadiness(site.name, readinessPort) === "ready" ? "ready" : undefined,
                    ),
                    "ready",
                );
            }
        });

        it("reaches the other node on the site network, and takes SSH as the break-glass read does", async () => {
            const [first, second] = nodes;
            for (const [from, to] of [
                [first, second],
                [second, first],
            ]) {
                const ping = await from.vm.agent.sh(
                    `ping -c 2 -W 5 -I ${to.plan.interfaces[0].network} ${to.plan.address}`,
                );
                assert.strictEqual(
                    ping.status,
                    0,
                    `${from.plan.name} → ${to.plan.name}: ${ping.stdout}`,
                );
            }
            // What the break-glass read does (pulumi-command's remote.Command with a FixedHostKey):
            // log in as the site's user with the operator's key, trusting only the pinned host
            // key, and run sudo without a password.
            for (const { plan, documents } of nodes) {
                const knownHosts = path.join(work, `${plan.name}.known_hosts`);
                writeFileSync(knownHosts, `${plan.address} ${documents.hostKey}\n`);
                const ssh = inside(
                    site.name,
                    "ssh",
                    "-i",
                    path.join(work, "operator"),
                    "-o",
                    "BatchMode=yes",
                    "-o",
                    "StrictHostKeyChecking=yes",
                    "-o",
                    `UserKnownHostsFile=${knownHosts}`,
                    "-o",
                    "ConnectTimeout=20",
                    `${sitePlan.sshUser}@${plan.address}`,
                    "sudo -n cat /etc/hostname",
                );
                assert.strictEqual(ssh.trim(), plan.name);
            }
        });
    });
}
