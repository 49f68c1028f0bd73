import { Document, YAMLMap, isMap, parseDocument } from "yaml";
import { configKeys } from "./read";
import { Allocations } from "./shape";
import { RawStackConfig } from "./types";

/** The project's config namespace: `edge:site`, `edge:clusters`, ... */
export const configNamespace = "edge";

/** Stands in for an encrypted value when a stack file is read without Pulumi. */
export const secretPlaceholder = "[secret]";

const allocationComment =
    " Written by `npm run lock`: the addresses handed out so far and the hosts intents' nodes\n" +
    " were placed on, kept when the config changes, and each cluster's etcd members, against\n" +
    " which the next change is checked for quorum. Commit it with the config. Delete an entry\n" +
    " to let that cluster or node be re-addressed or placed anew.";

export function stackFilePath(stack: string): string {
    return `Pulumi.${stack}.yaml`;
}

/** The stack a `Pulumi.<stack>.yaml` file name is of; undefined for any other name. */
export function stackOfFile(file: string): string | undefined {
    return /^Pulumi\.([A-Za-z0-9_.-]+)\.yaml$/.exec(file)?.[1];
}

export interface StackFile {
    document: Document;
    /** The `config:` map, with every `{secure: ...}` value replaced by a placeholder. */
    config: Record<string, unknown>;
}

/**
 * Config paths that hold credentials, so must be stored with `pulumi config set --secret`; the
 * editor's JSON Schema takes them only as `{secure: ...}` (lib/config/jsonSchema.ts).
 */
export const credentialPaths: readonly (readonly string[])[] = [
    ["rancher2:tokenKey"],
    ["rancher2:secretKey"],
    [`${configNamespace}:sshPrivateKey`],
    [`${configNamespace}:wireguardPrivateKey`],
    [`${configNamespace}:site`, "kubeconfig"],
];

/** The credentials a stack file holds in plain text rather than encrypted. */
function plaintextSecrets(config: Record<string, unknown>): string[] {
    return credentialPaths
        .filter((path) => {
            const value = path.reduce<unknown>(
                (node, key) =>
                    typeof node === "object" && node !== null
                        ? (node as Record<string, unknown>)[key]
                        : undefined,
                config,
            );
            return value !== undefined && value !== secretPlaceholder;
        })
        .map((path) => path.join("."));
}

/**
 * About how many bytes `config` takes in PULUMI_CONFIG, the one environment variable in which
 * the Node.js language host passes a stack's whole config, every namespace and decrypted secret
 * included, to the program (see languageHostConfigLimit): a JSON object of each key's value as
 * text, objects as JSON, with Go's escaping of <, > and &. A secret counts as its ciphertext,
 * somewhat longer than its plain text.
 */
export function languageHostConfigBytes(config: Record<string, unknown>): number {
    const asText = Object.fromEntries(
        Object.entries(config).map(([key, value]) => {
            const secure = (value as { secure?: unknown } | null)?.secure;
            const text =
                typeof secure === "string"
                    ? secure
                    : typeof value === "string"
                      ? value
                      : JSON.stringify(value);
            return [key, text];
        }),
    );
    const json = JSON.stringify(asText);
    const goEscapes = (json.match(/[<>&]/g) ?? []).length * "u003c".length;
    return "PULUMI_CONFIG=".length + new TextEncoder().encode(json).length + goEscapes + 1;
}

/** A stack file's config as the program would read it, plus any credential left unencrypted. */
export function stackFileConfig(file: StackFile): RawStackConfig {
    const config = (file.document.toJS() as { config?: Record<string, unknown> } | null)?.config;
    return {
        ...rawStackConfig(file.config),
        plaintextSecrets: plaintextSecrets(file.config),
        languageHostConfigBytes: languageHostConfigBytes(config ?? {}),
    };
}

function redactSecure(value: unknown): unknown {
    if (Array.isArray(value)) {
        return value.map(redactSecure);
    }
    if (typeof value === "object" && value !== null) {
        const entries = Object.entries(value);
        if (entries.length === 1 && entries[0][0] === "secure") {
            return secretPlaceholder;
        }
        return Object.fromEntries(entries.map(([k, v]) => [k, redactSecure(v)]));
    }
    return value;
}

export function parseStackFile(text: string, path: string): StackFile {
    const document = parseDocument(text);
    if (document.errors.length > 0) {
        throw new Error(`${path}: ${document.errors[0].message}`);
    }
    const root = document.toJS() as { config?: unknown } | null;
    const config = root?.config;
    return {
        document,
        config:
            typeof config === "object" && config !== null && !Array.isArray(config)
                ? (redactSecure(config) as Record<string, unknown>)
                : {},
    };
}

/** The `edge:*` values of a stack file's config, as the program would read them. */
export function rawStackConfig(config: Record<string, unknown>): RawStackConfig {
    const key = (name: string) => config[`${configNamespace}:${name}`];
    const prefix = `${configNamespace}:`;
    return {
        site: key("site"),
        images: key("images"),
        clusters: key("clusters"),
        allocations: key("allocations"),
        hasSshPrivateKey: key("sshPrivateKey") !== undefined,
        hasWireguardKey: key("wireguardPrivateKey") !== undefined,
        unknownKeys: Object.keys(config).filter(
            (k) =>
                k.startsWith(prefix) &&
                !(configKeys as readonly string[]).includes(k.slice(prefix.length)),
        ),
    };
}

/**
 * A config value as Pulumi hands it to the program: structured values arrive as JSON, anything
 * else is kept as text, so that the validator, not a JSON parser, says what is wrong with it.
 */
export function parseConfigValue(text: string): unknown {
    try {
        return JSON.parse(text);
    } catch {
        return text;
    }
}

/** The stack file's text with `edge:allocations` replaced, comments and order kept. */
export function withAllocations(document: Document, allocations: Allocations): string {
    const copy = document.clone();
    if (!isMap(copy.get("config"))) {
        copy.set("config", copy.createNode({}));
    }
    const key = `${configNamespace}:allocations`;
    copy.deleteIn(["config", key]);
    if (Object.keys(allocations).length > 0) {
        const pair = copy.createPair(key, allocations);
        pair.key.commentBefore = allocationComment;
        (copy.get("config") as YAMLMap).add(pair);
    }
    return stackFileText(copy);
}

/** A stack file's text as this project writes it: as committed, long lines and `[a, b]` kept. */
export function stackFileText(document: Document): string {
    return document.toString({ lineWidth: 0, flowCollectionPadding: false });
}
