import * as ipaddr from "ipaddr.js";

/** An IPv4 block as integers, so that overlap and containment are plain arithmetic. */
export interface Cidr {
    /** First address of the block. */
    base: number;
    /** Prefix length, 0 to 32. */
    prefix: number;
}

export function ipToInt(ip: string): number {
    return ipaddr.IPv4.parse(ip)
        .toByteArray()
        .reduce((acc, byte) => acc * 256 + byte, 0);
}

export function intToIp(value: number): string {
    const bytes = [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256);
    return ipaddr.fromByteArray(bytes).toString();
}

const octet = "(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";

/** A dotted-quad IPv4 address in its canonical four-part form (no leading zeros), unanchored. */
export const ipv4Address = `${octet}(?:\\.${octet}){3}`;

export const ipv4Pattern = new RegExp(`^${ipv4Address}$`);

export function isIpv4(text: string): boolean {
    return ipv4Pattern.test(text);
}

export function cidrSize(cidr: Cidr): number {
    return 2 ** (32 - cidr.prefix);
}

export function lastAddress(cidr: Cidr): number {
    return cidr.base + cidrSize(cidr) - 1;
}

export function formatCidr(cidr: Cidr): string {
    return `${intToIp(cidr.base)}/${cidr.prefix}`;
}

export type CidrParse = { cidr: Cidr } | { error: string };

/** Parses `a.b.c.d/n`, insisting on the block's own network address so that typos show. */
export function parseCidr(text: string): CidrParse {
    const [address, prefixText, ...rest] = text.split("/");
    if (rest.length > 0 || prefixText === undefined || !/^\d{1,2}$/.test(prefixText)) {
        return { error: `"${text}" is not an IPv4 CIDR (e.g. 10.64.0.0/16)` };
    }
    const prefix = Number(prefixText);
    if (!isIpv4(address) || prefix > 32) {
        return { error: `"${text}" is not an IPv4 CIDR (e.g. 10.64.0.0/16)` };
    }
    const value = ipToInt(address);
    const size = 2 ** (32 - prefix);
    const base = value - (value % size);
    if (base !== value) {
        return {
            error: `"${text}" is not a network address (did you mean ${intToIp(base)}/${prefix}?)`,
        };
    }
    return { cidr: { base, prefix } };
}

export function overlaps(a: Cidr, b: Cidr): boolean {
    return a.base <= lastAddress(b) && b.base <= lastAddress(a);
}

export function contains(cidr: Cidr, ip: number): boolean {
    return ip >= cidr.base && ip <= lastAddress(cidr);
}
