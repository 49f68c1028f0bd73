const suffixes: Record<string, number> = {
    "": 1,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    P: 1e15,
    E: 1e18,
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
    Pi: 2 ** 50,
    Ei: 2 ** 60,
};

export const quantityPattern = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/;

/**
 * Bytes in a Kubernetes memory or storage quantity (`4Gi`, `500M`), or undefined when the text is
 * not one. Only the plain decimal forms with SI or binary suffixes are accepted: those are what
 * operators write, and `4 GB` or `4g` are typos the API server would reject.
 */
export function parseQuantity(text: string): number | undefined {
    const match = quantityPattern.exec(text);
    if (!match) {
        return undefined;
    }
    return Number(match[1]) * suffixes[match[2] ?? ""];
}

/** Bytes in a quantity the config's shape has accepted already. */
export function bytes(text: string): number {
    const value = parseQuantity(text);
    if (value === undefined) {
        throw new Error(`"${text}" is not a Kubernetes quantity`);
    }
    return value;
}

/**
 * Bytes for people: in the largest unit from Gi up that holds them whole (`8Gi`), or else rounded
 * to two decimals of the largest unit they reach (`241.75Gi`, `1.5Gi`); under 1Ki in bytes
 * (`1 byte`, `512 bytes`), so that a shortfall of a few bytes does not read as a bare count.
 * Zero stays `0`, as in `0 of 64Gi`.
 */
export function formatBytes(value: number): string {
    for (const suffix of ["Ei", "Pi", "Ti", "Gi"]) {
        if (value !== 0 && value % suffixes[suffix] === 0) {
            return `${value / suffixes[suffix]}${suffix}`;
        }
    }
    // Display only: two decimals of the largest unit it reaches.
    const unit = ["Ti", "Gi", "Mi", "Ki"].find((suffix) => value >= suffixes[suffix]);
    if (unit !== undefined) {
        return `${Number((value / suffixes[unit]).toFixed(2))}${unit}`;
    }
    return value === 0 ? "0" : `${value} ${value === 1 ? "byte" : "bytes"}`;
}

/** Millicores in a CPU quantity (`2`, `500m`, `1.5`), rounded up to a millicore as Kubernetes does. */
export function millicores(text: string): number {
    const match = /^(\d+(?:\.\d+)?)(m)?$/.exec(text);
    if (!match) {
        throw new Error(`"${text}" is not a CPU quantity`);
    }
    return Math.ceil(match[2] === undefined ? Number(match[1]) * 1000 : Number(match[1]));
}

/** Cores for people, from millicores: `6`, `6.005`. */
export function formatCores(value: number): string {
    return String(value / 1000);
}
