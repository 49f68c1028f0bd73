import { x25519 } from "@noble/curves/ed25519";
import { parse, stringify } from "yaml";
import { z } from "zod";
import {
    shaped,
    reportDuplicates,
    cidr,
    fields,
    ipv4,
    label,
    listOf,
    matching,
    wholeNumber,
    guestRenderers,
    readStackConfig,
    LoadedInterconnects,
    StackConfig,
    parseStackFile,
    stackFileConfig,
    stackFilePath,
    tunnelTiming,
} from "../config";
import {
    contains,
    ipToInt,
    lastAddress,
    overlaps,
    parseCidr,
    ProblemList,
    base64Bytes,
    bytesBase64,
    readinessSocket,
    resourceNames,
    tunnelKeeper,
} from "../core";
import { readinessSocketFiles, systemdUnitFile, WrittenFile } from "../render";

/**
 * Interconnects: routed (L3) WireGuard tunnels between gateways that sites declare on one of their
 * bridge networks. What every site must agree on lives in one committed file, interconnects.yaml,
 * which every stack reads; each site's WireGuard private key is that stack's secret. This module
 * checks the declaration against every member site's config and plans the tunnels: addresses,
 * MTU, each gateway's wg-quick configuration, and the routes nodes take to the peer sites.
 */

/** The committed declaration, at the project root. */
export const interconnectsFile = "interconnects.yaml";

/** Where a gateway's private key goes in its wg-quick file until the program knows it. */
export const privateKeyPlaceholder = "<secret: edge:wireguardPrivateKey>";

/**
 * WireGuard's overhead on an IPv6 underlay (40 IPv6 + 8 UDP + 32 WireGuard): wg-quick's own
 * default MTU is the route's MTU less 80 (wireguard-tools src/wg-quick/linux.bash, set_mtu_up).
 */
export const wireguardOverhead = 80;

/** TCP and IPv4 headers: the MSS gateways clamp to is the tunnel MTU less these. */
const tcpIpv4Headers = 40;

/** A WireGuard key: 32 bytes in base64. */
const wireguardKey = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;
/** `host:port`, host a DNS name or an IPv4 address. */
const endpoint =
    /^([A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*:\d{1,5}$/;

const memberSchema = fields({
    site: label().meta({ description: "A site: its Pulumi.<site>.yaml is in this folder" }),
    network: label().meta({ description: "The site network the gateway joins" }),
    gateway: ipv4().meta({
        description: "The gateway's address on that network, outside its node range",
    }),
    tunnelAddress: ipv4().meta({ description: "The gateway's address inside tunnelCidr" }),
    image: label().meta({
        description: "The gateway VM's image, a name in the site's edge:images",
    }),
    endpoint: matching(endpoint, (given) => `"${given}" is not host:port`).meta({
        description: "Where peers reach the gateway: the site router forwards this UDP port to it",
    }),
    routes: listOf(label(), "must route at least one site network to the peers").meta({
        description: "Site networks the peers reach through this gateway",
    }),
    serviceCidrs: z
        .array(label())
        .default([])
        .meta({ description: "Clusters whose service CIDR the peers reach too" }),
});

/**
 * Longest interconnect name: wg-quick takes an interface name of at most 15 characters (Linux's
 * IFNAMSIZ less its NUL; wireguard-tools src/wg-quick/linux.bash, parse_options), and the
 * gateway's is `wg-<name>`.
 */
const maxInterconnectName = 15 - "wg-".length;

const interconnectSchema = fields({
    name: label()
        .max(maxInterconnectName, {
            error: (issue) =>
                `"${String(issue.input)}" is longer than ${maxInterconnectName} characters; the gateway's WireGuard interface wg-${String(issue.input)} would be longer than the 15 characters Linux and wg-quick allow`,
            abort: true,
        })
        .meta({
            description: `Interconnect name (DNS label of at most ${maxInterconnectName} characters); the gateway's interface is wg-<name>`,
        }),
    tunnelCidr: cidr().meta({ description: "Addresses of the gateways' tunnel interfaces" }),
    listenPort: wholeNumber(1, 65535).default(51820),
    underlayMtu: wholeNumber(1280, 9000)
        .default(1500)
        .meta({ description: "MTU of the path between the sites' routers" }),
    mtu: wholeNumber(1280, 8920)
        .optional()
        .meta({ description: `Tunnel MTU; absent: underlayMtu less ${wireguardOverhead}` }),
    members: z
        .array(memberSchema)
        .min(2, { error: "must join at least two sites" })
        .meta({ description: "The sites it joins, one gateway each" }),
});

export const interconnectsSchema = fields({
    sites: z
        .record(
            label(),
            fields({
                publicKey: matching(
                    wireguardKey,
                    (given) => `"${given}" is not a WireGuard public key (44 base64 characters)`,
                ),
            }),
        )
        .meta({ description: "Each site's WireGuard public key; its private key is its secret" }),
    interconnects: z.array(interconnectSchema),
});

export type Interconnects = z.output<typeof interconnectsSchema>;
type Member = Interconnects["interconnects"][number]["members"][number];

export interface PeerPlan {
    site: string;
    publicKey: string;
    endpoint: string;
    tunnelAddress: string;
    /** The peer's tunnel address and the prefixes routed to its site. */
    allowedIps: string[];
}

/** One site's gateway on one interconnect. */
export interface GatewayPlan {
    interconnect: string;
    site: string;
    /** The site's committed public key, which its private key must match. */
    publicKey: string;
    image: string;
    /** `wg-<interconnect>`: wg-quick names the interface after its file. */
    interfaceName: string;
    network: string;
    ip: string;
    tunnelAddress: string;
    tunnelPrefix: number;
    listenPort: number;
    mtu: number;
    /** The MSS of TCP connections through the tunnel, clamped by the gateway. */
    mss: number;
    /** The prefixes this site offers its peers. */
    prefixes: string[];
    peers: PeerPlan[];
    /** The wg-quick file, the private key as a placeholder. */
    wgQuickConfig: string;
}

/** A route a node on `network` takes to a peer site. */
export interface NodeRoute {
    network: string;
    to: string;
    via: string;
}

export interface InterconnectPlan {
    gateways: GatewayPlan[];
    /** Per site, the routes of its nodes to the peer sites. */
    nodeRoutes: Record<string, NodeRoute[]>;
}

/** What a site offers and occupies, with the config path of each block. */
interface Block {
    cidr: string;
    path: string;
}

function blocksOf(site: string, config: StackConfig, kinds: ("networks" | "pool" | "reserved")[]) {
    const file = `Pulumi.${site}.yaml`;
    return [
        ...(kinds.includes("networks")
            ? config.site.networks.map((n, i) => ({
                  cidr: n.cidr,
                  path: `${file} site.networks[${i}]`,
              }))
            : []),
        ...(kinds.includes("pool")
            ? [{ cidr: config.site.clusterCidrPool, path: `${file} site.clusterCidrPool` }]
            : []),
        ...(kinds.includes("reserved")
            ? config.site.reservedCidrs.map((cidr, i) => ({
                  cidr,
                  path: `${file} site.reservedCidrs[${i}]`,
              }))
            : []),
    ];
}

const parsed = (text: string) => {
    const result = parseCidr(text);
    if (!("cidr" in result)) {
        throw new Error(`${text}: ${result.error}`);
    }
    return result.cidr;
};

/** The prefixes a member offers: its routed networks and its clusters' service CIDRs. */
function memberPrefixes(
    member: Member,
    config: StackConfig,
    path: string,
    problems: ProblemList,
): Block[] {
    const file = `Pulumi.${member.site}.yaml`;
    const networks = member.routes.flatMap((name, i) => {
        const index = config.site.networks.findIndex((n) => n.name === name);
        if (index < 0) {
            problems.add(
                `${path}.routes[${i}]`,
                `unknown site network "${name}" (${file} has: ${config.site.networks.map((n) => n.name).join(", ")})`,
            );
            return [];
        }
        return [
            { cidr: config.site.networks[index].cidr, path: `${file} site.networks[${index}]` },
        ];
    });
    const services = member.serviceCidrs.flatMap((name, i) => {
        const recorded = config.allocations[name]?.serviceCidr;
        if (recorded === undefined) {
            problems.add(
                `${path}.serviceCidrs[${i}]`,
                `cluster "${name}" has no service CIDR recorded in ${file} (run npm run lock -- --stack ${member.site})`,
            );
            return [];
        }
        return [{ cidr: recorded, path: `${file} allocations.${name}.serviceCidr` }];
    });
    return [...networks, ...services];
}

/**
 * A member's gateway against its network: a bridge network, inside the CIDR, outside what nodes
 * may be given.
 */
function checkGateway(
    member: Member,
    interconnect: string,
    config: StackConfig,
    path: string,
    problems: ProblemList,
): void {
    const network = config.site.networks.find((n) => n.name === member.network);
    if (!network) {
        problems.add(
            `${path}.network`,
            `unknown site network "${member.network}" (Pulumi.${member.site}.yaml has: ${config.site.networks.map((n) => n.name).join(", ")})`,
        );
        return;
    }
    if (network.sriov) {
        // The gateway VM joins its network with a bridge binding, and placement counts no VF for it.
        problems.add(
            `${path}.network`,
            `${network.name} is an SR-IOV network of Pulumi.${member.site}.yaml; the gateway of interconnect ${interconnect} needs a bridge network`,
        );
        return;
    }
    const block = parsed(network.cidr);
    const ip = ipToInt(member.gateway);
    const inRange = ip >= ipToInt(network.range.first) && ip <= ipToInt(network.range.last);
    if (!contains(block, ip) || ip === block.base || ip === lastAddress(block)) {
        problems.add(
            `${path}.gateway`,
            `${member.gateway} is not a host of ${network.name} (${network.cidr})`,
        );
    } else if (member.gateway === network.gateway) {
        problems.add(`${path}.gateway`, `${member.gateway} is the router of ${network.name}`);
    } else if (inRange) {
        problems.add(
            `${path}.gateway`,
            `${member.gateway} is inside the node range ${network.range.first}-${network.range.last} of ${network.name}, so a node could be given it; narrow the range in Pulumi.${member.site}.yaml or pick an address outside it`,
        );
    }
}

/**
 * What two interconnects' members may not share: a site's gateway address, since each
 * interconnect has a gateway VM of its own, and any public endpoint, since the site router
 * forwards one UDP port to one gateway VM.
 */
function reportSharedMembers(declaration: Interconnects, problems: ProblemList): void {
    const rules = [
        {
            field: "gateway",
            // Within one interconnect a site appears once, which duplicate sites report.
            acrossOnly: true,
            key: (member: Member) => `${member.site} ${member.gateway}`,
            message: (member: Member, interconnect: string, path: string) =>
                `${member.gateway} is ${member.site}'s gateway on interconnect ${interconnect} too (${path}); each interconnect has a gateway VM of its own, with its own address`,
        },
        {
            field: "endpoint",
            acrossOnly: false,
            // Host names are case-insensitive.
            key: (member: Member) => member.endpoint.toLowerCase(),
            message: (member: Member, interconnect: string, path: string) =>
                `${member.endpoint} is the endpoint of interconnect ${interconnect} too (${path}); a router forwards one UDP port to one gateway VM, so give each interconnect a port of its own`,
        },
    ] as const;
    for (const rule of rules) {
        const first = new Map<string, { index: number; interconnect: string; path: string }>();
        declaration.interconnects.forEach((ic, i) =>
            ic.members.forEach((member, j) => {
                const path = `interconnects[${i}].members[${j}].${rule.field}`;
                const earlier = first.get(rule.key(member));
                if (!earlier) {
                    first.set(rule.key(member), { index: i, interconnect: ic.name, path });
                } else if (!rule.acrossOnly || earlier.index !== i) {
                    problems.add(path, rule.message(member, earlier.interconnect, earlier.path));
                }
            }),
        );
    }
}

/** An interconnect's member whose site config could be read, with what its checks found. */
interface KnownMember {
    member: Member;
    config: StackConfig;
    publicKey: string | undefined;
    prefixes: Block[];
}

type Interconnect = Interconnects["interconnects"][number];

/** The tunnel MTU of `ic`: as given, or its underlay's less WireGuard's overhead. */
function tunnelMtu(ic: Interconnect, path: string, problems: ProblemList): number {
    const mtu = ic.mtu ?? ic.underlayMtu - wireguardOverhead;
    if (mtu > ic.underlayMtu - 60) {
        problems.add(
            `${path}.mtu`,
            `${mtu} leaves less than WireGuard's 60 bytes over IPv4 under underlayMtu ${ic.underlayMtu}`,
        );
    }
    return mtu;
}

/** Checks one member of `ic` against its site's config; undefined when that config is missing. */
function checkMember(
    member: Member,
    memberPath: string,
    ic: Interconnect,
    declaration: Interconnects,
    sites: Record<string, StackConfig>,
    broken: readonly string[],
    problems: ProblemList,
): KnownMember | undefined {
    const config = sites[member.site];
    if (!config) {
        problems.add(
            `${memberPath}.site`,
            broken.includes(member.site)
                ? `Pulumi.${member.site}.yaml has config errors of its own; fix them first (npm run plan -- --stack ${member.site} lists them)`
                : `no stack file Pulumi.${member.site}.yaml`,
        );
        return undefined;
    }
    const publicKey = declaration.sites[member.site]?.publicKey;
    if (!publicKey) {
        problems.add(`${memberPath}.site`, `${member.site} has no public key under sites:`);
    }
    const vmName = resourceNames.gateway(member.site, ic.name);
    if (vmName.length > 63) {
        problems.add(
            `${memberPath}.site`,
            `the gateway VM name "${vmName}" is longer than 63 characters; shorten the site's or the interconnect's name`,
        );
    }
    checkGateway(member, ic.name, config, memberPath, problems);
    checkGatewayImage(member, config, memberPath, problems);
    const tunnel = parsed(ic.tunnelCidr);
    const address = ipToInt(member.tunnelAddress);
    if (!contains(tunnel, address) || address === tunnel.base || address === lastAddress(tunnel)) {
        problems.add(
            `${memberPath}.tunnelAddress`,
            `${member.tunnelAddress} is not a host of tunnelCidr ${ic.tunnelCidr}`,
        );
    }
    const prefixes = memberPrefixes(member, config, memberPath, problems);
    return { member, config, publicKey, prefixes };
}

/** A gateway's image: one of the site's, of a guest family whose netplan routes its replies. */
function checkGatewayImage(
    member: Member,
    config: StackConfig,
    memberPath: string,
    problems: ProblemList,
): void {
    const image = config.images.find((i) => i.name === member.image);
    if (!image) {
        problems.add(
            `${memberPath}.image`,
            `unknown image "${member.image}" (Pulumi.${member.site}.yaml has: ${config.images.map((i) => i.name).join(", ")})`,
        );
    } else if (guestRenderers[image.os] !== "netplan") {
        // A NetworkManager guest routes its pod network's replies with a unit in its
        // user-data (lib/render/cloudinit.ts), which the gateway's does not carry.
        problems.add(
            `${memberPath}.image`,
            `${member.image} is os: ${image.os}; a gateway needs an image with os: ubuntu or debian, whose netplan routes its readiness probe's replies`,
        );
    }
}

/**
 * What one site routes, its networks and its pool, must be distinct from all of another's, and
 * from the tunnel. Reserved ranges are host-internal (host pod and service CIDRs) and never
 * routed, so two sites may reserve the same ones.
 */
function reportMemberOverlaps(
    known: KnownMember[],
    ic: Interconnect,
    path: string,
    problems: ProblemList,
): void {
    const occupied = (m: KnownMember, withReserved: boolean) =>
        unique([
            ...m.prefixes,
            ...blocksOf(m.member.site, m.config, ["networks", "pool"]),
            ...(withReserved ? blocksOf(m.member.site, m.config, ["reserved"]) : []),
        ]);
    known.forEach((a, x) =>
        known.slice(x + 1).forEach((b) => {
            const pairs = [
                ...occupied(a, false).flatMap((mine) =>
                    occupied(b, true).map((theirs) => [mine, theirs]),
                ),
                ...blocksOf(a.member.site, a.config, ["reserved"]).flatMap((mine) =>
                    occupied(b, false).map((theirs) => [mine, theirs]),
                ),
            ];
            for (const [mine, theirs] of pairs) {
                if (overlaps(parsed(mine.cidr), parsed(theirs.cidr))) {
                    problems.add(
                        `${path}.members`,
                        `${mine.cidr} (${mine.path}) overlaps ${theirs.cidr} (${theirs.path}); joined sites must not share addresses`,
                    );
                }
            }
        }),
    );
    const tunnel = parsed(ic.tunnelCidr);
    for (const a of known) {
        for (const block of blocksOf(a.member.site, a.config, ["networks", "pool", "reserved"])) {
            if (overlaps(parsed(block.cidr), tunnel)) {
                problems.add(
                    `${path}.tunnelCidr`,
                    `${ic.tunnelCidr} overlaps ${block.cidr} (${block.path})`,
                );
            }
        }
    }
}

/** The gateway of member `a` of a checked interconnect, and the routes its site's nodes take. */
function planGateway(
    a: KnownMember,
    known: KnownMember[],
    ic: Interconnect,
    mtu: number,
): { gateway: GatewayPlan; routes: NodeRoute[] } {
    const peers = known
        .filter((b) => b !== a)
        .map((b) => ({
            site: b.member.site,
            publicKey: b.publicKey!,
            endpoint: b.member.endpoint,
            tunnelAddress: b.member.tunnelAddress,
            allowedIps: [`${b.member.tunnelAddress}/32`, ...b.prefixes.map((p) => p.cidr)],
        }));
    const gateway: Omit<GatewayPlan, "wgQuickConfig"> = {
        interconnect: ic.name,
        site: a.member.site,
        publicKey: a.publicKey!,
        image: a.member.image,
        interfaceName: `wg-${ic.name}`,
        network: a.member.network,
        ip: a.member.gateway,
        tunnelAddress: a.member.tunnelAddress,
        tunnelPrefix: parsed(ic.tunnelCidr).prefix,
        listenPort: ic.listenPort,
        mtu,
        mss: mtu - tcpIpv4Headers,
        prefixes: a.prefixes.map((p) => p.cidr),
        peers,
    };
    // Nodes on the gateway's network reach the peers' prefixes through it.
    const routes = peers.flatMap((peer) =>
        peer.allowedIps.slice(1).map((to) => ({
            network: a.member.network,
            to,
            via: a.member.gateway,
        })),
    );
    return { gateway: { ...gateway, wgQuickConfig: renderWgQuick(gateway) }, routes };
}

/**
 * Checks `raw` (interconnects.yaml, parsed) against the config of every member site and plans
 * the tunnels. `sites` holds each member site's config as its committed stack file gives it;
 * `broken` names the member sites whose stack files have config errors, which are not in `sites`.
 * Problems are located by their path in interconnects.yaml, naming the stack files they clash with.
 */
export function planInterconnects(
    raw: unknown,
    sites: Record<string, StackConfig>,
    problems: ProblemList,
    broken: readonly string[] = [],
): InterconnectPlan | undefined {
    const declaration = shaped(interconnectsSchema, raw, "", problems);
    if (!declaration) {
        return undefined;
    }
    const before = problems.problems.length;
    reportDuplicates(
        declaration.interconnects.map((ic, i) => ({
            value: ic.name,
            path: `interconnects[${i}].name`,
        })),
        problems,
        "interconnect name",
    );
    reportSharedMembers(declaration, problems);
    const gateways: GatewayPlan[] = [];
    const nodeRoutes: Record<string, NodeRoute[]> = {};
    declaration.interconnects.forEach((ic, i) => {
        const path = `interconnects[${i}]`;
        const mtu = tunnelMtu(ic, path, problems);
        const members = ic.members.map((member, j) =>
            checkMember(member, `${path}.members[${j}]`, ic, declaration, sites, broken, problems),
        );
        for (const field of ["site", "tunnelAddress"] as const) {
            reportDuplicates(
                ic.members.map((m, j) => ({
                    value: m[field],
                    path: `${path}.members[${j}].${field}`,
                })),
                problems,
                field,
            );
        }
        const known = members.filter((m) => m !== undefined);
        reportMemberOverlaps(known, ic, path, problems);
        if (problems.problems.length > before) {
            return;
        }
        for (const a of known) {
            const { gateway, routes } = planGateway(a, known, ic, mtu);
            gateways.push(gateway);
            nodeRoutes[a.member.site] = [...(nodeRoutes[a.member.site] ?? []), ...routes];
        }
    });
    return problems.problems.length > before ? undefined : { gateways, nodeRoutes };
}

/** The prefixes routed to a peer's site: its AllowedIPs after its tunnel address. */
const routedPrefixes = (peer: PeerPlan) => peer.allowedIps.slice(1);

/**
 * A gateway's wg-quick file (wg-quick(8)): forwarding on, the MSS of forwarded TCP clamped to the
 * tunnel, each peer with the prefixes routed to it, which wg-quick turns into routes.
 *
 * Peers have no Endpoint here: `wg setconf` fails on a name that does not resolve (NXDOMAIN is
 * final, wireguard-tools src/config.c parse_endpoint), which would fail the whole oneshot
 * wg-quick@ unit for one peer. The tunnel keeper (tunnelScriptText) sets each endpoint instead.
 *
 * The filter: what arrives on the tunnel is forwarded only from a peer's routed prefixes to this
 * site's offered prefixes, what leaves through it only the other way, plus replies and their ICMP
 * errors (conntrack); nothing on the tunnel reaches the gateway itself but replies, and nothing
 * else is forwarded at all (ip_forward is global). It goes in
 * before the interface has peers (PreUp) and out after the interface is gone (PostDown); the first
 * PreUp clears what an interrupted `up` left, so that `iptables -N` never fails on it.
 */
export function renderWgQuick(gateway: Omit<GatewayPlan, "wgQuickConfig">): string {
    // The comment tells the two rules apart for `-C` too: iptables-nft before 1.8.12 ignores
    // interface names when it compares rules ("nft: fix interface comparisons in `-C` commands").
    const clampRule = (direction: "-i" | "-o") =>
        `FORWARD ${direction} %i -p tcp --tcp-flags SYN,RST SYN -m comment --comment edge-mss${direction} -j TCPMSS --set-mss ${gateway.mss}`;
    // Once only, however often `up` runs: when the interface vanished, `wg-quick down` stops at
    // "not a WireGuard interface" before PostDown, and the keeper's restart runs `up` again.
    const clampUp = (direction: "-i" | "-o") =>
        `iptables -t mangle -C ${clampRule(direction)} 2>/dev/null || iptables -t mangle -A ${clampRule(direction)}`;
    // A failing hook ends `wg-quick down` (set -e): the filter's removal after it must still run.
    const clampDown = (direction: "-i" | "-o") =>
        `iptables -t mangle -D ${clampRule(direction)} 2>/dev/null || true`;
    const forward = "edge-%i";
    const input = "edge-%i-in";
    const established = "-m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT";
    // wg-quick runs each hook under `set -e`; a list before `||` runs every command regardless.
    const filterDown = `{ iptables -D INPUT -i %i -j ${input}; iptables -D FORWARD -o %i -j ${forward}; iptables -D FORWARD -i %i -j ${forward}; iptables -F ${input}; iptables -X ${input}; iptables -F ${forward}; iptables -X ${forward}; } 2>/dev/null || true`;
    const filterUp = [
        // The gateway routes for the tunnel only: nothing between its site and pod networks.
        "iptables -P FORWARD DROP",
        `iptables -N ${forward}`,
        `iptables -A ${forward} ${established}`,
        ...gateway.peers.flatMap((peer) =>
            routedPrefixes(peer).flatMap((theirs) =>
                gateway.prefixes.flatMap((ours) => [
                    `iptables -A ${forward} -i %i -s ${theirs} -d ${ours} -j ACCEPT`,
                    `iptables -A ${forward} -o %i -s ${ours} -d ${theirs} -j ACCEPT`,
                ]),
            ),
        ),
        `iptables -A ${forward} -j DROP`,
        `iptables -N ${input}`,
        `iptables -A ${input} ${established}`,
        `iptables -A ${input} -j DROP`,
        `iptables -I FORWARD -i %i -j ${forward}`,
        `iptables -I FORWARD -o %i -j ${forward}`,
        `iptables -I INPUT -i %i -j ${input}`,
    ];
    const lines = [
        `# ${gateway.site} on interconnect ${gateway.interconnect}`,
        "[Interface]",
        `Address = ${gateway.tunnelAddress}/${gateway.tunnelPrefix}`,
        `ListenPort = ${gateway.listenPort}`,
        `MTU = ${gateway.mtu}`,
        `PrivateKey = ${privateKeyPlaceholder}`,
        `PreUp = ${filterDown}`,
        ...filterUp.map((rule) => `PreUp = ${rule}`),
        "PostUp = sysctl -w net.ipv4.ip_forward=1",
        `PostUp = ${clampUp("-i")}`,
        `PostUp = ${clampUp("-o")}`,
        `PostDown = ${clampDown("-i")}`,
        `PostDown = ${clampDown("-o")}`,
        `PostDown = ${filterDown}`,
        ...gateway.peers.flatMap((peer) => [
            "",
            `# ${peer.site}: endpoint ${peer.endpoint}, set by ${tunnelKeeper.timer}`,
            "[Peer]",
            `PublicKey = ${peer.publicKey}`,
            `AllowedIPs = ${peer.allowedIps.join(", ")}`,
            // Keeps the site routers' NAT mappings open in both directions, and retries handshakes.
            "PersistentKeepalive = 25",
        ]),
    ];
    return `${lines.join("\n")}\n`;
}

/** The tunnel keeper's list of each peer's public key and `host:port` endpoint. */
export function renderPeerEndpoints(gateway: Omit<GatewayPlan, "wgQuickConfig">): string {
    const lines = [
        `# ${gateway.site} on interconnect ${gateway.interconnect}: <public key> <endpoint> per peer`,
        ...gateway.peers.map((peer) => `${peer.publicKey} ${peer.endpoint}`),
    ];
    return `${lines.join("\n")}\n`;
}

/**
 * The tunnel keeper, `edge-tunnel INTERFACE ENDPOINTS MARKER`, which the gateway's timer runs:
 * - wg-quick@ is a oneshot that stays active once it ran: when the interface is gone (or never
 *   came up), restart it;
 * - a peer without a handshake in the last `reresolveAfter` seconds gets its endpoint set again
 *   from its name (a first resolution, or a new address behind a dynamic name), each peer on its
 *   own, one lookup each (wg's default retries a failing lookup for over a minute);
 * - ready while at least one peer had a handshake within `freshFor` seconds: then the gateway
 *   carries that peer's traffic. "All peers" would take a site's gateway out of readiness, and
 *   stall its `up`, whenever any other site is down. Readiness is the marker plus the readiness
 *   socket, started and stopped here (the socket only starts while the marker exists).
 */
export function tunnelScriptText(): string {
    return [
        "#!/bin/bash",
        `# ${tunnelKeeper.script} INTERFACE ENDPOINTS MARKER, run by ${tunnelKeeper.timer}.`,
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
        `    ((age <= ${tunnelTiming.freshFor})) && fresh=1`,
        `    if ((age > ${tunnelTiming.reresolveAfter})); then`,
        '        WG_ENDPOINT_RESOLUTION_RETRIES=0 wg set "$interface" peer "$key" endpoint "$endpoint" ||',
        '            echo "$interface: peer $key: cannot set endpoint $endpoint, trying again next time" >&2',
        "    fi",
        'done <"$endpoints"',
        "if ((fresh)); then",
        `    mkdir -p "\${marker%/*}" && touch "$marker" && systemctl start ${readinessSocket.unit}`,
        "else",
        '    rm -f "$marker"',
        `    systemctl stop ${readinessSocket.unit}`,
        "fi",
        "",
    ].join("\n");
}

/** The tunnel keeper's service and the timer that runs it every `check` seconds. */
function tunnelKeeperUnits(interfaceName: string, marker: string): WrittenFile[] {
    const service = [
        "[Unit]",
        `Description=Edge testbed: ${interfaceName}'s peer endpoints, and readiness while a peer has a recent handshake`,
        `After=wg-quick@${interfaceName}.service`,
        "",
        "[Service]",
        "Type=oneshot",
        `ExecStart=${tunnelKeeper.script} ${interfaceName} ${tunnelKeeper.endpoints(interfaceName)} ${marker}`,
        "",
    ];
    const timer = [
        "[Unit]",
        `Description=Edge testbed: ${tunnelKeeper.service} every ${tunnelTiming.check} s`,
        "",
        "[Timer]",
        "OnActiveSec=1s",
        `OnUnitActiveSec=${tunnelTiming.check}s`,
        "AccuracySec=1s",
        "",
        "[Install]",
        "WantedBy=timers.target",
        "",
    ];
    return [
        systemdUnitFile(tunnelKeeper.service, service),
        systemdUnitFile(tunnelKeeper.timer, timer),
    ];
}

/**
 * A gateway's cloud-config: WireGuard and iptables installed, its wg-quick file written and
 * started, and the tunnel keeper's timer, which sets the peers' endpoints and starts the readiness
 * socket its VM's readiness probe connects to once a peer has a recent handshake (and stops it
 * when none has). The socket is not enabled: after a reboot only the keeper starts it.
 */
export function renderGatewayUserData(
    gateway: GatewayPlan,
    args: { hostname: string; sshAuthorizedKeys: string[]; marker: string },
): string {
    const config = {
        hostname: args.hostname,
        ssh_pwauth: false,
        ssh_authorized_keys: args.sshAuthorizedKeys,
        packages: ["wireguard-tools", "iptables"],
        write_files: [
            ...readinessSocketFiles(args.marker),
            {
                path: `/etc/wireguard/${gateway.interfaceName}.conf`,
                permissions: "0600",
                content: gateway.wgQuickConfig,
            },
            {
                path: tunnelKeeper.endpoints(gateway.interfaceName),
                permissions: "0644",
                content: renderPeerEndpoints(gateway),
            },
            { path: tunnelKeeper.script, permissions: "0755", content: tunnelScriptText() },
            ...tunnelKeeperUnits(gateway.interfaceName, args.marker),
        ],
        runcmd: [
            ["systemctl", "daemon-reload"],
            ["systemctl", "enable", "--now", `wg-quick@${gateway.interfaceName}`],
            ["systemctl", "enable", "--now", tunnelKeeper.timer],
        ],
    };
    return `#cloud-config\n${stringify(config, { lineWidth: 0 })}`;
}

/** Blocks once each, by their path. */
function unique(blocks: Block[]): Block[] {
    return blocks.filter((b, i) => blocks.findIndex((other) => other.path === b.path) === i);
}

/**
 * The public key of a WireGuard private key (base64 of 32 bytes), or undefined when it is not one.
 * WireGuard keys are raw X25519 keys, clamped as RFC 7748 says (wireguard-tools curve25519.h).
 */
export function wireguardPublicKey(privateKey: string): string | undefined {
    const text = privateKey.trim();
    if (!wireguardKey.test(text)) {
        return undefined;
    }
    const raw = base64Bytes(text);
    return raw.length === 32 ? bytesBase64(x25519.getPublicKey(raw)) : undefined;
}

/**
 * What is wrong with `privateKey` as the key of a site whose committed public key is `expected`,
 * or undefined when it is that key's pair.
 */
export function wireguardKeyProblem(
    privateKey: string,
    site: string,
    expected: string,
): string | undefined {
    const actual = wireguardPublicKey(privateKey);
    if (actual === expected) {
        return undefined;
    }
    // Never repeat the private key: this message reaches CI logs.
    return `is ${actual ? `the private key of ${actual}` : "not a WireGuard private key"}, but ${interconnectsFile} gives ${site} the public key ${expected}: set the key whose public key is committed (pulumi config set --secret edge:wireguardPrivateKey), or commit its new public key`;
}

/**
 * interconnects.yaml (its text) and the config of every site it names, as their committed files
 * give them (`stackFileText` reads a site's `Pulumi.<site>.yaml`, undefined when there is none).
 * A site whose file has config errors is listed as broken: planInterconnects reports it when it is
 * a peer, while a site's own errors are its stack's to report.
 */
export function interconnectsOf(
    text: string,
    stackFileText: (site: string) => string | undefined,
): LoadedInterconnects {
    let raw: unknown;
    try {
        raw = parse(text);
    } catch (error) {
        throw new Error(`${interconnectsFile}: ${(error as Error).message}`);
    }
    const names = new Set(
        ((raw as any)?.interconnects ?? []).flatMap((ic: any) =>
            (ic?.members ?? [])
                .map((m: any) => m?.site)
                .filter((s: unknown) => typeof s === "string"),
        ) as string[],
    );
    const sites: Record<string, StackConfig> = {};
    const broken: string[] = [];
    for (const site of [...names].sort()) {
        const stackFile = stackFileText(site);
        if (stackFile === undefined) {
            continue;
        }
        const siteProblems = new ProblemList();
        let parsed;
        try {
            parsed = parseStackFile(stackFile, stackFilePath(site));
        } catch {
            // Not YAML: as broken as a file with config errors, which its own plan reports.
            broken.push(site);
            continue;
        }
        const { config } = readStackConfig(stackFileConfig(parsed), siteProblems);
        if (!config || !siteProblems.empty) {
            broken.push(site);
            continue;
        }
        sites[site] = config;
    }
    return { raw, sites, broken };
}
