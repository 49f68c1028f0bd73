import { stringify } from "yaml";
import { NodeRole } from "./config";

/** A network interface of a node VM as the guest must configure it. */
export interface GuestInterface {
    /** Interface id in network-data; the site network's name, or "pod" for the pod network. */
    name: string;
    mac: string;
    /** `ip/prefix` on a site network; absent on the pod network, which uses DHCP. */
    address?: string;
    /** Default gateway; set on the node's first site network only. */
    gateway?: string;
}

export interface UserDataArgs {
    hostname: string;
    sshAuthorizedKeys: string[];
    /** The complete system-agent registration command for this node. */
    registrationCommand: string;
}

export interface NetworkDataArgs {
    interfaces: GuestInterface[];
    dnsServers: string[];
    /** Host cluster ranges reached through the pod network, so replies leave where requests came in. */
    podNetworkRoutes: { to: string; via: string }[];
}

const yamlOptions = { lineWidth: 0 } as const;

/**
 * cloud-config user-data: key-only SSH, the hostname, and the Rancher registration. The document
 * holds the registration token, so it only ever goes into a Secret.
 */
export function renderUserData(args: UserDataArgs): string {
    const document = {
        hostname: args.hostname,
        manage_etc_hosts: true,
        ssh_pwauth: false,
        disable_root: true,
        ssh_authorized_keys: args.sshAuthorizedKeys,
        runcmd: [args.registrationCommand],
    };
    return `#cloud-config\n${stringify(document, yamlOptions)}`;
}

/** netplan v2 network-data: every interface matched by MAC, static addresses on site networks. */
export function renderNetworkData(args: NetworkDataArgs): string {
    const ethernets: Record<string, unknown> = {};
    for (const nic of args.interfaces) {
        const match = { macaddress: nic.mac };
        if (nic.address === undefined) {
            ethernets[nic.name] = {
                match,
                dhcp4: true,
                "dhcp4-overrides": { "use-routes": false, "use-dns": false },
                ...(args.podNetworkRoutes.length > 0 ? { routes: args.podNetworkRoutes } : {}),
            };
            continue;
        }
        ethernets[nic.name] = {
            match,
            addresses: [nic.address],
            ...(nic.gateway === undefined
                ? {}
                : {
                      routes: [{ to: "default", via: nic.gateway }],
                      nameservers: { addresses: args.dnsServers },
                  }),
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
