import { stringify } from "yaml";
import { NodeRole } from "./config";
import { masqueradeNetwork, podReplyTable, registrationRetry } from "./defaults";
import { readinessSocket, registrationMarker, registrationScript } from "./naming";

/** A network interface of a node VM as the guest must configure it. */
export interface GuestInterface {
    /** Interface id in network-data; the site network's name, or "pod" for the pod network. */
    name: string;
    mac: string;
    /** `ip/prefix` on a site network; absent on the pod network, which uses DHCP. */
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
}

export interface NetworkDataArgs {
    interfaces: GuestInterface[];
    dnsServers: string[];
    /**
     * Whether the guest routes replies from its pod-network address back through the pod
     * network, which only netplan can render; otherwise the pod NIC is named but left unused.
     */
    podNetworkReplies: boolean;
}

const yamlOptions = { lineWidth: 0 } as const;

/** A file cloud-init's write_files writes. */
export interface WrittenFile {
    path: string;
    permissions: string;
    content: string;
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
        {
            path: `/etc/systemd/system/${readinessSocket.unit}`,
            permissions: "0644",
            content: socket.join("\n"),
        },
        {
            path: `/etc/systemd/system/${readinessSocket.service}`,
            permissions: "0644",
            content: service.join("\n"),
        },
    ];
}

/**
 * The script that registers the node with Rancher. Rancher's node command is
 * `curl -fL <rancher>/system-agent-install.sh | sudo sh -s - ...`: without pipefail a failed
 * download (TLS, DNS, a Rancher restart) pipes nothing into `sh`, which exits 0, and cloud-init
 * never runs it again. So: pipefail, retries with backoff, and a marker only on success, which
 * starts the readiness socket the VM's readiness probe waits for.
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
        "        exit 0",
        "    fi",
        `    if [ "$attempt" -lt ${attempts} ]; then`,
        `        echo "edge-register: attempt $attempt of ${attempts} failed; retrying in $delay s" >&2`,
        '        sleep "$delay"',
        `        delay=$((delay * 2 > ${maxDelaySeconds} ? ${maxDelaySeconds} : delay * 2))`,
        "    fi",
        "done",
        `echo "edge-register: giving up after ${attempts} attempts" >&2`,
        "exit 1",
        "",
    ].join("\n");
}

/**
 * cloud-config user-data: key-only SSH, a host key the break-glass connection pins, Rancher's CA
 * when it is private, the readiness socket's units, and the registration.
 * The document holds the registration token and the host's private key, so it only ever goes into
 * a Secret.
 */
export function renderUserData(args: UserDataArgs): string {
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
        // cloud-init cc_ca_certs runs in the init stage, before runcmd fetches Rancher's installer.
        ...(args.rancherCaCerts ? { ca_certs: { trusted: [args.rancherCaCerts] } } : {}),
        write_files: [
            ...readinessSocketFiles(registrationMarker),
            {
                path: registrationScript,
                permissions: "0700",
                content: registrationScriptText(args.registrationCommand),
            },
        ],
        runcmd: [
            ["systemctl", "daemon-reload"],
            ["systemctl", "enable", readinessSocket.unit],
            ["sh", "-c", `${registrationScript} && systemctl start ${readinessSocket.unit}`],
        ],
    };
    return `#cloud-config\n${stringify(document, yamlOptions)}`;
}

/**
 * network-config v2 network-data: every interface matched by MAC and named after its network,
 * static addresses on site networks, the default route as `0.0.0.0/0` (cloud-init's eni,
 * networkd and sysconfig renderers reject `default`). Replies to connections that came in
 * through the pod network (the host's NodePort in front of the API) must leave the same way,
 * whoever sent them: a rule sends everything from the masquerade address to a table whose
 * default route is the masquerade gateway, `on-link` so that it installs before the DHCP lease
 * arrives. Only netplan renders that (cloud-init passes v2 through to it); for other renderers
 * the pod NIC stays unaddressed, since their DHCP would add a second default route.
 */
export function renderNetworkData(args: NetworkDataArgs): string {
    const ethernets: Record<string, unknown> = {};
    for (const nic of args.interfaces) {
        // Named after its network, so that cluster-wide CNI settings can name the interface.
        const identity = { match: { macaddress: nic.mac }, "set-name": nic.name };
        if (nic.address === undefined && !args.podNetworkReplies) {
            ethernets[nic.name] = identity;
            continue;
        }
        if (nic.address === undefined) {
            ethernets[nic.name] = {
                ...identity,
                dhcp4: true,
                "dhcp4-overrides": { "use-routes": false, "use-dns": false },
                routes: [
                    {
                        to: "0.0.0.0/0",
                        via: masqueradeNetwork.gateway,
                        table: podReplyTable,
                        "on-link": true,
                    },
                ],
                "routing-policy": [{ from: masqueradeNetwork.guest, table: podReplyTable }],
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
