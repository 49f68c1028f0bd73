import { ProblemList } from "./problems";

/** Small typed readers over untrusted config values: each reports what is wrong at its path. */

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

/**
 * Reads a map and reports keys it does not know, so that a misspelt field is an error rather
 * than a silently ignored setting.
 */
export function readMap(
    value: unknown,
    path: string,
    problems: ProblemList,
    allowed?: readonly string[],
): Record<string, unknown> | undefined {
    if (!isRecord(value)) {
        problems.add(path, `must be a map, got ${describe(value)}`);
        return undefined;
    }
    if (allowed) {
        for (const key of Object.keys(value)) {
            if (!allowed.includes(key)) {
                problems.add(
                    keyPath(path, key),
                    `unknown field (expected one of: ${allowed.join(", ")})`,
                );
            }
        }
    }
    return value;
}

export function readList(
    value: unknown,
    path: string,
    problems: ProblemList,
): unknown[] | undefined {
    if (!Array.isArray(value)) {
        problems.add(path, `must be a list, got ${describe(value)}`);
        return undefined;
    }
    return value;
}

export function readString(
    value: unknown,
    path: string,
    problems: ProblemList,
): string | undefined {
    if (typeof value !== "string") {
        problems.add(path, `must be a string, got ${describe(value)}`);
        return undefined;
    }
    if (value.trim() === "") {
        problems.add(path, "must not be empty");
        return undefined;
    }
    return value;
}

/** A reader of strings that `check` accepts; `check` returns what is wrong, or nothing. */
export function checkedString(
    check: (text: string) => string | undefined,
): (value: unknown, path: string, problems: ProblemList) => string | undefined {
    return (value, path, problems) => {
        const text = readString(value, path, problems);
        const error = text === undefined ? undefined : check(text);
        if (error) {
            problems.add(path, error);
            return undefined;
        }
        return text;
    };
}

export function readBoolean(
    value: unknown,
    path: string,
    problems: ProblemList,
): boolean | undefined {
    if (typeof value !== "boolean") {
        problems.add(path, `must be true or false, got ${describe(value)}`);
        return undefined;
    }
    return value;
}

export function readInteger(
    value: unknown,
    path: string,
    problems: ProblemList,
    range: { min: number; max: number },
): number | undefined {
    if (typeof value !== "number" || !Number.isInteger(value)) {
        problems.add(path, `must be a whole number, got ${describe(value)}`);
        return undefined;
    }
    if (value < range.min || value > range.max) {
        problems.add(path, `must be between ${range.min} and ${range.max}, got ${value}`);
        return undefined;
    }
    return value;
}

/** Reads a list of strings, each checked by `check`, which returns an error message or nothing. */
export function readStringList(
    value: unknown,
    path: string,
    problems: ProblemList,
    check: (item: string) => string | undefined,
): string[] | undefined {
    const items = readList(value, path, problems);
    if (!items) {
        return undefined;
    }
    const result: string[] = [];
    items.forEach((item, index) => {
        const itemPath = `${path}[${index}]`;
        const text = readString(item, itemPath, problems);
        if (text === undefined) {
            return;
        }
        const error = check(text);
        if (error) {
            problems.add(itemPath, error);
            return;
        }
        result.push(text);
    });
    return result.length === items.length ? result : undefined;
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
