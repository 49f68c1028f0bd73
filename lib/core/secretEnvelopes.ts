/**
 * The envelope the Node.js SDK puts around a secret value it deserializes
 * (sdk/nodejs/runtime/rpc.ts: specialSigKey and specialSecretSig).
 */
const signatureKey = "4dabf18193072939515e22adb298388d";
const secretSignature = "1b47061264138c4ac30d75fd1eb44270";

function isEnvelope(value: unknown): value is { value: unknown } {
    return (
        typeof value === "object" &&
        value !== null &&
        (value as Record<string, unknown>)[signatureKey] === secretSignature &&
        "value" in value
    );
}

/**
 * `value` with every secret envelope left inside it removed. A provider output that is a secret
 * and holds a secret field (rancher2's `clusterRegistrationToken`, whose `token` is sensitive)
 * reaches `apply` still wrapped once: `deserializeProperty` wraps the object again for its
 * nested secret and the SDK unwraps only one envelope (sdk/nodejs/runtime/rpc.ts; pulumi/pulumi
 * pull request 24160), so `token.nodeCommand` reads undefined. The Output stays secret.
 */
export function withoutSecretEnvelopes<T>(value: T): T {
    if (isEnvelope(value)) {
        return withoutSecretEnvelopes(value.value) as T;
    }
    if (Array.isArray(value)) {
        return value.map((item) => withoutSecretEnvelopes(item)) as T;
    }
    if (typeof value === "object" && value !== null) {
        return Object.fromEntries(
            Object.entries(value).map(([key, item]) => [key, withoutSecretEnvelopes(item)]),
        ) as T;
    }
    return value;
}
