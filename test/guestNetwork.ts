import * as assert from "assert";
import { spawnSync } from "child_process";
import { existsSync, readFileSync, readdirSync } from "fs";
import * as path from "path";

/**
 * What a guest's network configuration does to one interface, read back from what cloud-init
 * and netplan wrote, in one shape for every renderer so that they can be compared.
 */
export interface GuestNic {
    mac: string;
    addresses: string[];
    dhcp: boolean;
    /** `<to> via <gateway>`, then ` table <n>` and ` on-link` where set. */
    routes: string[];
    /** `from <address> table <n>`. */
    rules: string[];
    dns: string[];
    /** Whether the interface takes any IPv6: router advertisements, DHCPv6, a link-local address. */
    ipv6: boolean;
}

export type GuestNetwork = Record<string, GuestNic>;

function nic(): GuestNic {
    return { mac: "", addresses: [], dhcp: false, routes: [], rules: [], dns: [], ipv6: false };
}

/** Sections of a systemd unit-style file, in order, each a list of key/value pairs. */
function sections(text: string): { name: string; entries: [string, string][] }[] {
    const result: { name: string; entries: [string, string][] }[] = [];
    for (const line of text.split("\n")) {
        const header = /^\[(.+)\]$/.exec(line.trim());
        if (header) {
            result.push({ name: header[1], entries: [] });
        } else if (line.includes("=") && !line.startsWith("#") && result.length > 0) {
            const at = line.indexOf("=");
            result[result.length - 1].entries.push([
                line.slice(0, at).trim(),
                line.slice(at + 1).trim(),
            ]);
        }
    }
    return result;
}

/** systemd-networkd `.network` files, as netplan generate and cloud-init's networkd renderer write them. */
export function readNetworkd(dir: string): GuestNetwork {
    const network: GuestNetwork = {};
    for (const file of readdirSync(dir)
        .filter((f) => f.endsWith(".network"))
        .sort()) {
        const current = nic();
        let name = "";
        for (const section of sections(readFileSync(path.join(dir, file), "utf8"))) {
            const get = (key: string) =>
                section.entries.filter(([k]) => k === key).map(([, v]) => v);
            switch (section.name) {
                case "Match":
                    name = get("Name")[0];
                    current.mac = [...get("MACAddress"), ...get("PermanentMACAddress")][0];
                    break;
                case "Network": {
                    current.addresses.push(...get("Address"));
                    current.dns.push(...get("DNS").flatMap((v) => v.split(/\s+/)));
                    current.dhcp = get("DHCP").some((v) => v === "ipv4" || v === "yes");
                    // systemd.network(5): link-local IPv6 and RAs are on unless turned off.
                    const linkLocal = get("LinkLocalAddressing")[0] ?? "ipv6";
                    current.ipv6 =
                        ["ipv6", "yes"].includes(linkLocal) ||
                        get("IPv6AcceptRA").some((v) => v !== "no") ||
                        get("DHCP").some((v) => v === "ipv6" || v === "yes");
                    break;
                }
                case "Address":
                    current.addresses.push(...get("Address"));
                    break;
                case "Route": {
                    const table = get("Table")[0];
                    const onLink = get("GatewayOnLink")[0] === "true";
                    current.routes.push(
                        `${get("Destination")[0]} via ${get("Gateway")[0]}${table ? ` table ${table}` : ""}${onLink ? " on-link" : ""}`,
                    );
                    break;
                }
                case "RoutingPolicyRule":
                    current.rules.push(`from ${get("From")[0]} table ${get("Table")[0]}`);
                    break;
            }
        }
        network[name] = current;
    }
    return network;
}

/** Interface names by MAC from the udev rules cloud-init writes for renaming. */
function udevNames(file: string): Record<string, string> {
    const names: Record<string, string> = {};
    for (const line of readFileSync(file, "utf8").split("\n")) {
        const mac = /ATTR\{address\}=="([0-9a-f:]+)"/.exec(line)?.[1];
        const name = /NAME="([^"]+)"/.exec(line)?.[1];
        if (mac && name) {
            names[name] = mac;
        }
    }
    return names;
}

/** ifupdown's `/etc/network/interfaces.d/50-cloud-init`, as cloud-init's eni renderer writes it. */
export function readEni(root: string): GuestNetwork {
    const macs = udevNames(path.join(root, "etc/udev/rules.d/70-persistent-net.rules"));
    const network: GuestNetwork = {};
    let current: GuestNic | undefined;
    const text = readFileSync(path.join(root, "etc/network/interfaces.d/50-cloud-init"), "utf8");
    for (const raw of text.split("\n")) {
        const line = raw.trim();
        const iface = /^iface (\S+) inet (\S+)$/.exec(line);
        if (iface) {
            current = iface[1] === "lo" ? undefined : nic();
            if (current) {
                current.mac = macs[iface[1]];
                current.dhcp = iface[2] === "dhcp";
                network[iface[1]] = current;
            }
            continue;
        }
        if (!current) {
            continue;
        }
        const [key, ...rest] = line.split(/\s+/);
        if (key === "address") {
            current.addresses.push(rest[0]);
        } else if (key === "dns-nameservers") {
            current.dns.push(...rest);
        } else if (key === "post-up" && rest[0] === "route" && rest[1] === "add") {
            const gw = rest.indexOf("gw");
            const to = rest[2] === "default" ? "0.0.0.0/0" : rest[rest.indexOf("-net") + 1];
            current.routes.push(`${to} via ${rest[gw + 1]}`);
        }
    }
    return network;
}

function prefixOf(netmask: string): number {
    return netmask
        .split(".")
        .map((octet) => Number(octet).toString(2).split("1").length - 1)
        .reduce((a, b) => a + b, 0);
}

/** RHEL's `ifcfg-*` files, as cloud-init's sysconfig renderer writes them. */
export function readSysconfig(root: string): GuestNetwork {
    const dir = path.join(root, "etc/sysconfig/network-scripts");
    const network: GuestNetwork = {};
    for (const file of readdirSync(dir)
        .filter((f) => f.startsWith("ifcfg-"))
        .sort()) {
        const values: Record<string, string> = {};
        for (const line of readFileSync(path.join(dir, file), "utf8").split("\n")) {
            const match = /^([A-Z0-9_]+)=(.*)$/.exec(line);
            if (match) {
                values[match[1]] = match[2].replace(/^"|"$/g, "");
            }
        }
        const current = nic();
        current.mac = values.HWADDR;
        current.dhcp = values.BOOTPROTO === "dhcp";
        // NetworkManager's ifcfg-rh plugin leaves IPv6 off without IPV6INIT=yes.
        current.ipv6 = values.IPV6INIT === "yes";
        if (values.IPADDR) {
            current.addresses.push(`${values.IPADDR}/${prefixOf(values.NETMASK)}`);
        }
        if (values.GATEWAY && values.DEFROUTE === "yes") {
            current.routes.push(`0.0.0.0/0 via ${values.GATEWAY}`);
        }
        current.dns.push(
            ...Object.keys(values)
                .filter((key) => /^DNS\d+$/.test(key))
                .sort()
                .map((key) => values[key]),
        );
        const routes = path.join(dir, `route-${values.DEVICE}`);
        if (existsSync(routes)) {
            current.routes.push(`unparsed ${readFileSync(routes, "utf8").trim()}`);
        }
        network[values.DEVICE] = current;
    }
    return network;
}

/**
 * NetworkManager keyfiles, as cloud-init's network-manager renderer and `nmcli --offline` write
 * them, by the interface name cloud-init gave each profile (`cloud-init <name>`).
 */
export function readNetworkManager(dir: string): GuestNetwork {
    const network: GuestNetwork = {};
    for (const file of readdirSync(dir)
        .filter((f) => f.endsWith(".nmconnection"))
        .sort()) {
        const values: Record<string, Record<string, string>> = {};
        for (const section of sections(readFileSync(path.join(dir, file), "utf8"))) {
            values[section.name] = Object.fromEntries(section.entries);
        }
        const ipv4 = values.ipv4 ?? {};
        const numbered = (prefix: string) =>
            Object.keys(ipv4)
                .filter((key) => new RegExp(`^${prefix}\\d+$`).test(key))
                .sort((a, b) => Number(a.slice(prefix.length)) - Number(b.slice(prefix.length)));
        const current = nic();
        current.mac = values.ethernet["mac-address"].toLowerCase();
        current.dhcp = ipv4.method === "auto";
        current.addresses = numbered("address").map((key) => ipv4[key]);
        current.routes = numbered("route").map((key) => {
            const [to, via] = ipv4[key].split(",");
            const options = Object.fromEntries(
                (ipv4[`${key}_options`] ?? "")
                    .split(",")
                    .filter((o) => o !== "")
                    .map((o) => o.split("=")),
            );
            return `${to} via ${via}${options.table ? ` table ${options.table}` : ""}${options.onlink === "true" ? " on-link" : ""}`;
        });
        current.rules = numbered("routing-rule").map((key) =>
            ipv4[key].replace(/^priority \d+ /, ""),
        );
        current.dns = (ipv4.dns ?? "").split(";").filter((d) => d !== "");
        // NetworkManager's default for a profile without [ipv6] is method=auto.
        current.ipv6 = !["disabled", "ignore"].includes(values.ipv6?.method ?? "auto");
        network[values.connection.id.replace(/^cloud-init /, "")] = current;
    }
    return network;
}

/** Asserts that cloud-init's own schema check accepts the user-data in `file`. */
export function assertValidCloudConfig(file: string): void {
    const run = spawnSync("cloud-init", ["schema", "--config-file", file], { encoding: "utf8" });
    assert.strictEqual(
        `${run.status} ${run.stdout.trim()}`,
        `0 Valid cloud-config: ${file}`,
        run.stderr,
    );
}
