import { z } from "zod";
import { ProblemList } from "../core";
import { describe, keyPath } from "./report";

const expectedNouns: Record<string, string> = {
    string: "a string",
    array: "a list",
    object: "a map",
    record: "a map",
    boolean: "true or false",
    int: "a whole number",
    number: "a whole number",
};

/**
 * Words the failures that lib/config/shape.ts leaves generic in the house style: what is
 * expected, then what was given. Messages a schema sets itself take precedence.
 */
const wording: z.core.$ZodErrorMap = (issue) => {
    const missing =
        issue.input === undefined &&
        (issue.code === "invalid_type" ||
            issue.code === "invalid_value" ||
            issue.code === "invalid_union");
    if (missing) {
        return "is required";
    }
    switch (issue.code) {
        case "invalid_type":
            return `must be ${expectedNouns[issue.expected] ?? issue.expected}, got ${describe(issue.input)}`;
        case "invalid_union":
            // Every union of the config takes a short string form or a map.
            return `must be a string or a map, got ${describe(issue.input)}`;
        case "invalid_value":
            return typeof issue.input === "string"
                ? `"${issue.input}" is not one of: ${issue.values.map(String).join(", ")}`
                : `must be a string, got ${describe(issue.input)}`;
        default:
            return undefined;
    }
};

function joinPath(base: string, segments: readonly PropertyKey[]): string {
    return segments.reduce<string>(
        (path, segment) =>
            typeof segment === "number" ? `${path}[${segment}]` : keyPath(path, String(segment)),
        base,
    );
}

/**
 * The one alternative of a union that the value was meant for: the one whose type it has. A
 * value of neither type gets the union's own message.
 */
function intendedBranch(issue: z.core.$ZodIssueInvalidUnion): z.core.$ZodIssue[] | undefined {
    const ofRightType = issue.errors.filter(
        (branch) => !branch.some((i) => i.code === "invalid_type" && i.path.length === 0),
    );
    return ofRightType.length === 1 ? ofRightType[0] : undefined;
}

function report(issues: readonly z.core.$ZodIssue[], path: string, problems: ProblemList): void {
    for (const issue of issues) {
        const at = joinPath(path, issue.path);
        if (issue.code === "unrecognized_keys") {
            issue.keys.forEach((key) => problems.add(keyPath(at, key), issue.message));
            continue;
        }
        const branch = issue.code === "invalid_union" ? intendedBranch(issue) : undefined;
        if (branch) {
            report(branch, at, problems);
            continue;
        }
        problems.add(at, issue.message);
    }
}

/** `value` parsed by `schema`, or undefined after adding what is wrong with it to `problems`. */
export function shaped<T extends z.ZodType>(
    schema: T,
    value: unknown,
    path: string,
    problems: ProblemList,
): z.output<T> | undefined {
    const result = schema.safeParse(value, { error: wording });
    if (result.success) {
        return result.data;
    }
    report(result.error.issues, path, problems);
    return undefined;
}
