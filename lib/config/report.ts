import { ProblemList } from "../core";

/** Helpers for reporting on untrusted config values. */

export function isRecord(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A short description of a value for error messages: `a list`, `the number 42`, `null`. */
export function describe(value: unknown): string {
    if (value === null) {
        return "null";
    }
    if (Array.isArray(value)) {
        return "a list";
    }
    switch (typeof value) {
        case "string":
            return `the string ${JSON.stringify(value)}`;
        case "number":
            return `the number ${value}`;
        case "boolean":
            return `the boolean ${value}`;
        case "object":
            return "a map";
        default:
            return typeof value;
    }
}

export function keyPath(parent: string, key: string): string {
    return parent === "" ? key : `${parent}.${key}`;
}

/** Reports every value that occurs more than once, at the path of each later occurrence. */
export function reportDuplicates(
    entries: { value: string; path: string }[],
    problems: ProblemList,
    what: string,
): void {
    const firstSeen = new Map<string, string>();
    for (const entry of entries) {
        const first = firstSeen.get(entry.value);
        if (first === undefined) {
            firstSeen.set(entry.value, entry.path);
        } else {
            problems.add(entry.path, `duplicate ${what} "${entry.value}" (also at ${first})`);
        }
    }
}
