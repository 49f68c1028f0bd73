import { stringify } from "yaml";
import {
    GuestOs,
    GuestRenderer,
    NodeRole,
    guestRenderers,
    masqueradeNetwork,
    podReplyTable,
    registrationRetry,
} from "../config";
import {
    podInterfaceName,
    podNetworkScript,
    podNetworkService,
    readinessSocket,
    registrationMarker,
    registrationScript,
    registrationService,
} from "../core";

/** A network interface of a node VM as the guest must configure it. */
export interface GuestInterface {
    /** Interface id in network-data; the site network's name, or "pod" for the pod network. */
    name: string;
    mac: string;
    /** `ip/prefix` on a site network; absent on the pod network, whose address is fixed. */
    address?: string;
    /** Default gateway; set on the node's first site network only. */
    gateway?: string;
    /** More routes through this network: to other sites, via their interconnect gateway. */
    routes?: { to: string; via: string }[];
}

/** The node's own SSH host key, so that whoever connects can pin it. */
export interface HostKey {
    privateKey: string;
    publicKey: string;
}

export interface UserDataArgs {
    hostname: string;
    sshAuthorizedKeys: string[];
    /** The complete system-agent registration command for this node. */
    registrationCommand: string;
    hostKey: HostKey;
    /** Rancher's private CA (its `cacerts` setting), when its certificate is not publicly signed. */
    rancherCaCerts?: string;
    /** The image's family: NetworkManager guests get their pod network's routing from user-data. */
    os: GuestOs;
}

export interface NetworkDataArgs {
    interfaces: GuestInterface[];
    dnsServers: string[];
    /** What writes the image's network config (see guestRenderers). */
    renderer: GuestRenderer;
}

const yamlOptions = { lineWidth: 0 } as const;

/** A file cloud-init's write_files writes. */
export interface WrittenFile {
    path: string;
    permissions: string;
    content: string;
}

/** A systemd unit cloud-init writes where systemd finds the administrator's units. */
export function systemdUnitFile(unit: string, lines: string[]): WrittenFile {
    return { path: `/etc/systemd/system/${unit}`, permissions: "0644", content: lines.join("\n") };
}

/**
 * The readiness socket's units, written but not enabled: systemd accepts on the pod network's
 * guest address (FreeBind: before DHCP or netplan has put it there) and each connection's service
 * instance answers and exits; it only starts once `marker` exists. Only plain systemd, so every
 * image family has it without packages.
 */
export function readinessSocketFiles(marker: string): WrittenFile[] {
    const socket = [
        "[Unit]",
        "Description=Edge testbed readiness, probed by the VM's tcpSocket readiness probe",
        `ConditionPathExists=${marker}`,
        "",
        "[Socket]",
        `ListenStream=${masqueradeNetwork.guest}:${readinessSocket.port}`,
        "FreeBind=true",
        "Accept=yes",
        "",
        "[Install]",
        "WantedBy=sockets.target",
        "",
    ];
    const service = [
        "[Unit]",
        "Description=Edge testbed readiness answer",
        "",
        "[Service]",
        "ExecStart=/bin/echo ready",
        "StandardInput=socket",
        "StandardOutput=socket",
        "",
    ];
    return [
        systemdUnitFile(readinessSocket.unit, socket),
        systemdUnitFile(readinessSocket.service, service),
    ];
}

/**
 * The script that registers the node with Rancher, one round of attempts. Rancher's node command
 * is `curl -fL <rancher>/system-agent-install.sh | sudo sh -s - ...`: without pipefail a failed
 * download (TLS, DNS, a Rancher restart) pipes nothing into `sh`, which exits 0. So: pipefail,
 * retries with backoff, and only on success a marker and the readiness socket; a failed round
 * exits 1 and systemd starts another (see registrationUnit).
 */
export function registrationScriptText(
    registrationCommand: string,
    { retry = registrationRetry, marker = registrationMarker } = {},
): string {
    const { attempts, firstDelaySeconds, maxDelaySeconds } = retry;
    return [
        "#!/bin/bash",
        "set -o pipefail",
        `delay=${firstDelaySeconds}`,
        `for attempt in $(seq 1 ${attempts}); do`,
        `    if ${registrationCommand}; then`,
        `        mkdir -p "$(dirname ${marker})"`,
        `        touch ${marker}`,
        `        systemctl start --no-block ${readinessSocket.unit}`,
        "        exit 0",
        "    fi",
        `    if [ "$attempt" -lt ${attempts} ]; then`,
        `        echo "edge-register: attempt $attempt of ${attempts} failed; retrying in $delay s" >&2`,
        '        sleep "$delay"',
        `        delay=$((delay * 2 > ${maxDelaySeconds} ? ${maxDelaySeconds} : delay * 2))`,
        "    fi",
        "done",
        `echo "edge-register: ${attempts} attempts failed; systemd retries in ${retry.restartSeconds} s" >&2`,
        "exit 1",
        "",
    ].join("\n");
}

/**
 * The registration as a systemd service rather than a runcmd, which runs once per instance: it
 * is enabled, so it runs again after a reboot until the marker exists, and Restart=on-failure
 * starts another round after a failed one, for good (StartLimitIntervalSec=0: restarts count
 * against the start limit). Type=exec, not oneshot: multi-user.target waits for the start jobs
 * of what it wants, and a oneshot's start lasts until it exits, restarts included
 * (systemd.service(5), systemd.target(5)), so a node rebooted before it registered would hold
 * up its boot, and cloud-init's final stage after it, until Rancher answered. Type=exec needs
 * systemd 240 (NEWS for 240), which Ubuntu 20.04 (245), Debian 12 (252) and EL 9 (252) have.
 */
export function registrationUnit({ retry = registrationRetry } = {}): string {
    return [
        "[Unit]",
        "Description=Edge testbed: register this node with Rancher, retrying until it succeeds",
        "Wants=network-online.target",
        "After=network-online.target",
        `ConditionPathExists=!${registrationMarker}`,
        "StartLimitIntervalSec=0",
        "",
        "[Service]",
        "Type=exec",
        `ExecStart=${registrationScript}`,
        "Restart=on-failure",
        `RestartSec=${retry.restartSeconds}`,
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ].join("\n");
}

/**
 * NetworkManager settings of the pod NIC that cloud-init's NetworkManager renderer cannot write
 * (cloudinit/net/network_manager.py renders neither a route's table nor routing-policy, and
 * without an [ipv6] section NetworkManager defaults to ipv6.method=auto): no IPv6 at all, and
 * replies from the masquerade address back through the pod network.
 */
export const podNetworkManagerSettings = [
    ["ipv6.method", "disabled"],
    ["ipv4.routes", `0.0.0.0/0 ${masqueradeNetwork.gateway} table=${podReplyTable} onlink=true`],
    [
        "ipv4.routing-rules",
        `priority ${podReplyTable} from ${masqueradeNetwork.guest} table ${podReplyTable}`,
    ],
] as const;

/**
 * Applies podNetworkManagerSettings to the profile NetworkManager runs on the pod NIC, whatever
 * cloud-init named it (a keyfile `cloud-init pod`, or an ifcfg file on EL 9's older cloud-init).
 * NetworkManager keeps them in the profile, so they hold across reboots and link changes.
 */
export function podNetworkScriptText(): string {
    const settings = podNetworkManagerSettings.map(([key, value]) => `${key} "${value}"`);
    return [
        "#!/bin/sh",
        "set -eu",
        `profile=$(nmcli -g GENERAL.CONNECTION device show ${podInterfaceName})`,
        'if [ -z "$profile" ]; then',
        `    echo "edge-pod-network: ${podInterfaceName} has no active NetworkManager profile yet" >&2`,
        "    exit 1",
        "fi",
        `nmcli connection modify "$profile" ${settings.join(" ")}`,
        `nmcli device reapply ${podInterfaceName}`,
        "",
    ].join("\n");
}

/** The files and commands a family needs beyond its network-data for the pod network. */
function podNetworkUserData(os: GuestOs): { files: WrittenFile[]; units: string[] } {
    if (guestRenderers[os] !== "network-manager") {
        return { files: [], units: [] };
    }
    const unit = [
        "[Unit]",
        "Description=Edge testbed: the pod network carries IPv4 replies only",
        "Wants=network-online.target",
        "After=network-online.target",
        "",
        "[Service]",
        // Not oneshot, whose start (restarts included) would hold up multi-user.target.
        "Type=exec",
        `ExecStart=${podNetworkScript}`,
        // Until NetworkManager has activated the pod NIC's profile.
        "Restart=on-failure",
        "RestartSec=10",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ];
    return {
        files: [
            { path: podNetworkScript, permissions: "0755", content: podNetworkScriptText() },
            systemdUnitFile(podNetworkService, unit),
        ],
        units: [podNetworkService],
    };
}

/**
 * cloud-config user-data: key-only SSH, a host key the break-glass connection pins, Rancher's CA
 * when it is private, the readiness socket's units, and the registration service. cc_ca_certs
 * and write_files run in the init stage; runcmd, in the final stage, enables the units and starts
 * them without waiting, so cloud-init finishes while the registration retries.
 * The document holds the registration token and the host's private key, so it only ever goes into
 * a Secret.
 */
export function renderUserData(args: UserDataArgs): string {
    const podNetwork = podNetworkUserData(args.os);
    const document = {
        hostname: args.hostname,
        manage_etc_hosts: true,
        ssh_pwauth: false,
        disable_root: true,
        ssh_authorized_keys: args.sshAuthorizedKeys,
        // cloud-init cc_ssh: given keys replace the image's and no others are generated.
        ssh_keys: {
            ed25519_private: args.hostKey.privateKey,
            ed25519_public: args.hostKey.publicKey,
        },
        ...(args.rancherCaCerts ? { ca_certs: { trusted: [args.rancherCaCerts] } } : {}),
        write_files: [
            ...podNetwork.files,
            ...readinessSocketFiles(registrationMarker),
            {
                path: registrationScript,
                permissions: "0700",
                content: registrationScriptText(args.registrationCommand),
            },
            {
                path: `/etc/systemd/system/${registrationService}`,
                permissions: "0644",
                content: registrationUnit(),
            },
        ],
        runcmd: [
            ["systemctl", "daemon-reload"],
            ["systemctl", "enable", ...podNetwork.units, readinessSocket.unit, registrationService],
            ["systemctl", "start", "--no-block", ...podNetwork.units, registrationService],
        ],
    };
    return `#cloud-config\n${stringify(document, yamlOptions)}`;
}

/**
 * network-config v2 network-data: every interface matched by MAC and named after its network,
 * static addresses on site networks, the default route as `0.0.0.0/0`.
 *
 * The pod NIC carries only replies: the readiness probe (from the host node's address) and the
 * direct API (from anywhere), both DNATed by KubeVirt's masquerade binding to the guest's fixed
 * address (kubevirt pkg/network/setup/netpod/masquerade/masquerade.go). So it is addressed
 * statically (no DHCP: no second default route, no pod DNS; KubeVirt gives the NIC the pod's MTU,
 * pkg/network/domainspec/generators.go), without IPv6 (no router advertisements, DHCPv6 or
 * link-local address: a dual-stack host cluster must not become the guest's IPv6 route), and a
 * rule sends everything from the masquerade address to a table whose default route is the
 * masquerade gateway. netplan renders all of it; for NetworkManager the route and rule stay out
 * (cloud-init's renderer would put the route in the main table) and come from user-data.
 */
export function renderNetworkData(args: NetworkDataArgs): string {
    const ethernets: Record<string, unknown> = {};
    for (const nic of args.interfaces) {
        // Named after its network, so that cluster-wide CNI settings can name the interface.
        const identity = { match: { macaddress: nic.mac }, "set-name": nic.name };
        if (nic.address === undefined) {
            ethernets[nic.name] = {
                ...identity,
                addresses: [masqueradeNetwork.guestAddress],
                dhcp4: false,
                dhcp6: false,
                "accept-ra": false,
                "link-local": [],
                ...(args.renderer === "netplan"
                    ? {
                          routes: [
                              {
                                  to: "0.0.0.0/0",
                                  via: masqueradeNetwork.gateway,
                                  table: podReplyTable,
                                  "on-link": true,
                              },
                          ],
                          "routing-policy": [
                              { from: masqueradeNetwork.guest, table: podReplyTable },
                          ],
                      }
                    : {}),
            };
            continue;
        }
        const routes = [
            ...(nic.gateway === undefined ? [] : [{ to: "0.0.0.0/0", via: nic.gateway }]),
            ...(nic.routes ?? []),
        ];
        ethernets[nic.name] = {
            ...identity,
            addresses: [nic.address],
            ...(routes.length === 0 ? {} : { routes }),
            ...(nic.gateway === undefined ? {} : { nameservers: { addresses: args.dnsServers } }),
        };
    }
    return stringify({ version: 2, ethernets }, yamlOptions);
}

export interface RegistrationArgs {
    roles: NodeRole[];
    nodeName: string;
    /** The node's first site-network IP: stable, unlike its pod IP. */
    address: string;
    labels: Record<string, string>;
}

/** Rancher's node command with this node's roles, name, address and labels appended. */
export function nodeRegistrationCommand(baseCommand: string, args: RegistrationArgs): string {
    const flags = [
        ...args.roles.map((role) => `--${role}`),
        `--node-name ${args.nodeName}`,
        `--address ${args.address}`,
        `--internal-address ${args.address}`,
        ...Object.entries(args.labels).map(([key, value]) => `--label ${key}=${value}`),
    ];
    return [baseCommand.trim(), ...flags].join(" ");
}
