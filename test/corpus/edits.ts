import { parsePath } from "../../offline/diff";

/** One invalid config: a small edit of an example stack, and what the program must say. */
export interface InvalidCase {
    case: string;
    stack: string;
    set?: Record<string, unknown>;
    unset?: string[];
    expect: string[];
}

type Container = Record<string | number, unknown>;

/** The container holding the last segment of `path`, created on the way where missing. */
function parentOf(root: Container, path: (string | number)[]): Container {
    let node = root;
    for (const [i, segment] of path.slice(0, -1).entries()) {
        if (typeof node[segment] !== "object" || node[segment] === null) {
            node[segment] = typeof path[i + 1] === "number" ? [] : {};
        }
        node = node[segment] as Container;
    }
    return node;
}

/** Applies a case's edits to a copy of a stack's config. */
export function applyEdits(
    config: Record<string, unknown>,
    edits: InvalidCase,
): Record<string, unknown> {
    const copy = structuredClone(config) as Container;
    for (const [text, value] of Object.entries(edits.set ?? {})) {
        const path = parsePath(text);
        parentOf(copy, path)[path[path.length - 1]] = value;
    }
    for (const text of edits.unset ?? []) {
        const path = parsePath(text);
        const parent = parentOf(copy, path);
        const last = path[path.length - 1];
        if (Array.isArray(parent) && typeof last === "number") {
            parent.splice(last, 1);
        } else {
            delete parent[last];
        }
    }
    return copy;
}
