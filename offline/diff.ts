import { parse } from "yaml";
import type { EvaluatedResource } from "./evaluate";
import { count, headerPrefix, kindOf } from "./render";
import { compareText } from "../lib/core";

/** A resource as a rendered file records it. */
export interface RenderedResource {
    type: string;
    name: string;
    parent?: string;
    replacementTrigger?: string;
    inputs: Record<string, unknown>;
}

/** Reads back the resources of a rendered directory's files; files without a header are skipped. */
export function parseRendered(files: Record<string, string>): RenderedResource[] {
    const resources: RenderedResource[] = [];
    for (const [path, text] of Object.entries(files)) {
        const lines = text.split("\n");
        if (!lines[0].startsWith(headerPrefix.resource)) {
            continue;
        }
        const [type, name] = lines[0].slice(headerPrefix.resource.length).split(" ");
        const parentLine = lines.find((line) => line.startsWith(headerPrefix.parent));
        const triggerLine = lines.find((line) => line.startsWith(headerPrefix.replacementTrigger));
        const inputs = parse(text) as Record<string, unknown> | null;
        if (!type || !name || !inputs) {
            throw new Error(`${path}: not a rendered resource`);
        }
        resources.push({
            type,
            name,
            ...(parentLine ? { parent: parentLine.slice(headerPrefix.parent.length) } : {}),
            ...(triggerLine
                ? {
                      replacementTrigger: JSON.parse(
                          triggerLine.slice(headerPrefix.replacementTrigger.length),
                      ) as string,
                  }
                : {}),
            inputs,
        });
    }
    return resources;
}

type Segment = string | number;

/** One changed leaf of a resource's inputs. */
export interface FieldChange {
    path: Segment[];
    before: unknown;
    after: unknown;
}

/** A path in Pulumi's property-path syntax: `spec.ports[0]`, `metadata.annotations["a.b/c"]`. */
export function formatPath(path: Segment[]): string {
    return path
        .map((segment, i) => {
            if (typeof segment === "number") {
                return `[${segment}]`;
            }
            if (/^[A-Za-z_$][\w$-]*$/.test(segment)) {
                return i === 0 ? segment : `.${segment}`;
            }
            return `[${JSON.stringify(segment)}]`;
        })
        .join("");
}

/** Parses Pulumi's property-path syntax, as `replaceOnChanges` uses it. */
export function parsePath(text: string): Segment[] {
    const segments: Segment[] = [];
    const pattern = /([^.[\]"]+)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]|\[\*\]/g;
    for (const match of text.matchAll(pattern)) {
        if (match[1] !== undefined) {
            segments.push(match[1]);
        } else if (match[2] !== undefined) {
            segments.push(Number(match[2]));
        } else if (match[3] !== undefined) {
            segments.push(JSON.parse(`"${match[3]}"`));
        } else {
            segments.push("*");
        }
    }
    return segments;
}

function leaves(
    value: unknown,
    path: Segment[],
    into: Map<string, FieldChange["path"]>,
    values: Map<string, unknown>,
): void {
    const isObject = typeof value === "object" && value !== null;
    const entries: [Segment, unknown][] = Array.isArray(value)
        ? value.map((v, i) => [i, v])
        : isObject
          ? Object.entries(value)
          : [];
    if (entries.length === 0) {
        const key = JSON.stringify(path);
        into.set(key, path);
        values.set(key, value);
        return;
    }
    for (const [segment, child] of entries) {
        leaves(child, [...path, segment], into, values);
    }
}

/** Every leaf that differs between two input trees. */
export function fieldChanges(before: unknown, after: unknown): FieldChange[] {
    const beforePaths = new Map<string, Segment[]>();
    const beforeValues = new Map<string, unknown>();
    const afterPaths = new Map<string, Segment[]>();
    const afterValues = new Map<string, unknown>();
    leaves(before, [], beforePaths, beforeValues);
    leaves(after, [], afterPaths, afterValues);
    const keys = [...new Set([...afterPaths.keys(), ...beforePaths.keys()])];
    return keys
        .filter(
            (key) => JSON.stringify(beforeValues.get(key)) !== JSON.stringify(afterValues.get(key)),
        )
        .map((key) => ({
            path: (afterPaths.get(key) ?? beforePaths.get(key))!,
            before: beforeValues.get(key),
            after: afterValues.get(key),
        }));
}

function startsWith(path: Segment[], prefix: Segment[]): boolean {
    return prefix.every((segment, i) => segment === "*" || segment === path[i]);
}

/** The Kubernetes provider settings the diff depends on. */
export interface KubernetesProviderSettings {
    /** Secrets are updated in place instead of replaced (the program's host provider sets it). */
    enableSecretMutable: boolean;
}

const immutableSecrets: KubernetesProviderSettings = { enableSecretMutable: false };

/**
 * What the stack's Kubernetes provider was declared with; an explicit flag overrides the
 * machine's PULUMI_K8S_ENABLE_SECRET_MUTABLE (pulumi-kubernetes provider/pkg/provider/provider.go,
 * Configure).
 */
export function kubernetesProviderSettings(
    resources: EvaluatedResource[],
): KubernetesProviderSettings {
    const provider = resources.find((r) => r.type === "pulumi:providers:kubernetes");
    return { enableSecretMutable: String(provider?.inputs.enableSecretMutable) === "true" };
}

/**
 * The replacements the Kubernetes provider forces itself on our objects, beyond a changed name or
 * namespace: a Secret's type or data, unless the provider has enableSecretMutable and the Secret
 * is not `immutable`, which ours never are (pulumi-kubernetes provider/pkg/provider/diff.go,
 * forceNewProperties).
 */
function providerReplacements(
    type: string,
    changes: FieldChange[],
    settings: KubernetesProviderSettings,
): string[] {
    if (type !== "kubernetes:core/v1:Secret" || settings.enableSecretMutable) {
        return [];
    }
    return ["type", "data", "stringData"]
        .filter((field) => changes.some((c) => c.path[0] === field))
        .map((field) => `the provider replaces a Secret whose ${field} changes`);
}

/**
 * Why Pulumi would replace rather than update a resource with these changes: its
 * `replaceOnChanges`, a changed Kubernetes identity, a DataVolume's immutable spec, or a changed
 * Rancher cluster name. Empty for an in-place update.
 */
export function replaceReasons(
    type: string,
    changes: FieldChange[],
    replaceOnChanges: string[],
    settings: KubernetesProviderSettings = immutableSecrets,
): string[] {
    const reasons = new Set<string>();
    const changed = (prefix: Segment[]) => changes.some((c) => startsWith(c.path, prefix));
    if (type.startsWith("kubernetes:")) {
        for (const field of [
            ["apiVersion"],
            ["kind"],
            ["metadata", "name"],
            ["metadata", "namespace"],
        ]) {
            if (changed(field)) {
                reasons.add(`${formatPath(field)} changed`);
            }
        }
    }
    if (type === "kubernetes:cdi.kubevirt.io/v1beta1:DataVolume" && changed(["spec"])) {
        reasons.add("a DataVolume's spec is immutable");
    }
    providerReplacements(type, changes, settings).forEach((reason) => reasons.add(reason));
    if (type === "rancher2:index/clusterV2:ClusterV2" && changed(["name"])) {
        reasons.add("a Rancher cluster's name is immutable");
    }
    for (const path of replaceOnChanges) {
        if (changed(parsePath(path))) {
            reasons.add(`replaceOnChanges: ${path}`);
        }
    }
    return [...reasons];
}

export type Action = "create" | "update" | "replace" | "delete";

export interface ResourceChange {
    action: Action;
    type: string;
    name: string;
    parent?: string;
    fields: FieldChange[];
    reasons: string[];
    deleteFirst: boolean;
    /** What a deleted resource was declared with, as its rendered file records it. */
    inputs?: Record<string, unknown>;
}

const key = (r: { type: string; name: string }) => `${r.type}::${r.name}`;

/**
 * What applying `after` to a stack rendered as `before` would do to each rendered resource, by
 * Pulumi's identity (type and name) and replacement rules.
 */
export function diffResources(
    before: RenderedResource[],
    after: EvaluatedResource[],
): ResourceChange[] {
    const rendered = after.filter((r) => /^(kubernetes|rancher2|command):/.test(r.type));
    const settings = kubernetesProviderSettings(after);
    const old = new Map(before.map((r) => [key(r), r]));
    const now = new Set(rendered.map(key));
    const changes: ResourceChange[] = [];
    for (const r of rendered) {
        const previous = old.get(key(r));
        const parent = r.options.parent;
        const base = { type: r.type, name: r.name, ...(parent ? { parent } : {}) };
        if (!previous) {
            changes.push({
                ...base,
                action: "create",
                fields: [],
                reasons: [],
                deleteFirst: false,
            });
            continue;
        }
        const fields = fieldChanges(previous.inputs, r.inputs);
        // The engine replaces on a changed trigger only when both runs set one
        // (pulumi pkg/resource/deploy/step_generator.go, shouldTriggerReplace).
        const triggered =
            previous.replacementTrigger !== undefined &&
            r.options.replacementTrigger !== undefined &&
            previous.replacementTrigger !== r.options.replacementTrigger;
        if (fields.length === 0 && !triggered) {
            continue;
        }
        const reasons = [
            ...replaceReasons(r.type, fields, r.options.replaceOnChanges, settings),
            ...(triggered ? ["replacementTrigger changed"] : []),
        ];
        changes.push({
            ...base,
            action: reasons.length > 0 ? "replace" : "update",
            fields,
            reasons,
            deleteFirst: reasons.length > 0 && deletesFirst(r, fields, settings),
        });
    }
    cascadeReplacements(rendered, changes);
    for (const r of before) {
        if (!now.has(key(r))) {
            changes.push({ ...r, action: "delete", fields: [], reasons: [], deleteFirst: false });
        }
    }
    return changes;
}

/**
 * Whether replacing `r` deletes the old one first. The option decides when the program sets it
 * (only ever to true); otherwise the provider: Kubernetes deletes first when it forces the
 * replacement itself and the object keeps its own name and namespace, which the new one could not
 * take beside the old (pulumi-kubernetes provider/pkg/provider/provider.go, Diff; pulumi
 * pkg/resource/deploy/step_generator.go).
 */
function deletesFirst(
    r: EvaluatedResource,
    fields: FieldChange[],
    settings: KubernetesProviderSettings,
): boolean {
    const renamed = fields.some(
        (f) => f.path[0] === "metadata" && (f.path[1] === "name" || f.path[1] === "namespace"),
    );
    const named = typeof r.inputs.metadata?.name === "string";
    return (
        r.options.deleteBeforeReplace ||
        (providerReplacements(r.type, fields, settings).length > 0 && named && !renamed)
    );
}

/**
 * A resource is replaced with every resource its `replaceWith` names that is replaced, whatever
 * its own inputs do (pulumi step_generator.go, findDependentCascadeReplacements).
 */
function cascadeReplacements(resources: EvaluatedResource[], changes: ResourceChange[]): void {
    const replaced = new Set(changes.filter((c) => c.action === "replace").map(key));
    for (const r of resources) {
        const causes = r.options.replaceWith.filter((cause) => replaced.has(cause));
        if (causes.length === 0) {
            continue;
        }
        const reasons = causes.map((cause) => `replaceWith: ${cause.split("::")[1]} is replaced`);
        const change = changes.find((c) => key(c) === key(r));
        if (change) {
            change.action = "replace";
            change.reasons.push(...reasons);
            change.deleteFirst = r.options.deleteBeforeReplace;
        } else {
            changes.push({
                type: r.type,
                name: r.name,
                ...(r.options.parent ? { parent: r.options.parent } : {}),
                action: "replace",
                fields: [],
                reasons,
                deleteFirst: r.options.deleteBeforeReplace,
            });
        }
    }
}

/** Creates, replaces and deletes grouped by the component they belong to; updates one by one. */
export interface Chain {
    action: Action;
    /** The owning component's `type::name`, or the updated resource's own for an update. */
    root: string;
    changes: ResourceChange[];
}

const actionOrder: Action[] = ["create", "update", "replace", "delete"];

export function chains(changes: ResourceChange[]): Chain[] {
    const grouped = new Map<string, Chain>();
    for (const change of changes) {
        const root = change.action === "update" ? key(change) : (change.parent ?? key(change));
        const id = `${change.action} ${root}`;
        const chain = grouped.get(id) ?? { action: change.action, root, changes: [] };
        chain.changes.push(change);
        grouped.set(id, chain);
    }
    return [...grouped.values()].sort(
        (a, b) =>
            actionOrder.indexOf(a.action) - actionOrder.indexOf(b.action) ||
            compareText(a.root, b.root),
    );
}

const symbols: Record<Action, string> = { create: "+", update: "~", replace: "+-", delete: "-" };

function describeRoot(root: string): string {
    const [type, name] = root.split("::");
    return `${kindOf(type)} ${name}`;
}

/** The `--diff` report: each chain with its resources and changed fields, then a count. */
export function formatDiff(changes: ResourceChange[]): string {
    if (changes.length === 0) {
        return "no changes\n";
    }
    const lines: string[] = [];
    const all = chains(changes);
    for (const chain of all) {
        lines.push(`${chain.action} ${describeRoot(chain.root)}`);
        for (const change of chain.changes.sort((a, b) => compareText(key(a), key(b)))) {
            const note = change.deleteFirst ? " (deleted first)" : "";
            lines.push(`  ${symbols[change.action]} ${kindOf(change.type)} ${change.name}${note}`);
            for (const reason of change.reasons) {
                lines.push(`      because ${reason}`);
            }
            for (const field of change.fields) {
                const show = (v: unknown) => (v === undefined ? "(absent)" : JSON.stringify(v));
                lines.push(
                    `      ${formatPath(field.path)}: ${show(field.before)} => ${show(field.after)}`,
                );
            }
        }
    }
    const chainsOf = (action: Action) => all.filter((c) => c.action === action).length;
    lines.push(
        "",
        `${count(chainsOf("create"), "create chain")}, ${count(chainsOf("update"), "update")}, ` +
            `${count(chainsOf("replace"), "replace chain")}, ${count(chainsOf("delete"), "delete chain")}`,
    );
    return `${lines.join("\n")}\n`;
}
