import { createHash, generateKeyPairSync, randomBytes } from "crypto";
import * as provider from "@pulumi/pulumi/provider";

/**
 * A stand-in for the tls provider plugin, which the Go module proxy does not serve (see
 * e2e/versions.env). Its PrivateKey makes a real ED25519 key and returns it in the real plugin's
 * output properties and formats (terraform-provider-tls internal/provider/resource_private_key.go).
 */

/** An SSH wire-format string: a uint32 length, then the bytes. */
function sshString(value: Buffer | string): Buffer {
    const bytes = Buffer.isBuffer(value) ? value : Buffer.from(value);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    return Buffer.concat([length, bytes]);
}

/** The unencrypted `openssh-key-v1` format (openssh PROTOCOL.key) of an ED25519 key. */
function opensshPrivateKey(seed: Buffer, publicKey: Buffer): string {
    const publicBlob = Buffer.concat([sshString("ssh-ed25519"), sshString(publicKey)]);
    const check = randomBytes(4);
    let section = Buffer.concat([
        check,
        check,
        sshString("ssh-ed25519"),
        sshString(publicKey),
        sshString(Buffer.concat([seed, publicKey])),
        sshString(""),
    ]);
    const padding = Buffer.from([1, 2, 3, 4, 5, 6, 7].slice(0, (8 - (section.length % 8)) % 8));
    section = Buffer.concat([section, padding]);
    const count = Buffer.alloc(4);
    count.writeUInt32BE(1);
    const body = Buffer.concat([
        Buffer.from("openssh-key-v1\0"),
        sshString("none"),
        sshString("none"),
        sshString(""),
        count,
        sshString(publicBlob),
        sshString(section),
    ]).toString("base64");
    const lines = body.match(/.{1,70}/g)!;
    return `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join("\n")}\n-----END OPENSSH PRIVATE KEY-----\n`;
}

function ed25519Key(): Record<string, string> {
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const jwk = privateKey.export({ format: "jwk" });
    const seed = Buffer.from(jwk.d!, "base64url");
    const raw = Buffer.from(jwk.x!, "base64url");
    const blob = Buffer.concat([sshString("ssh-ed25519"), sshString(raw)]);
    const md5 = createHash("md5").update(blob).digest("hex");
    return {
        privateKeyOpenssh: opensshPrivateKey(seed, raw),
        privateKeyPem: privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
        privateKeyPemPkcs8: privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
        publicKeyOpenssh: `ssh-ed25519 ${blob.toString("base64")}\n`,
        publicKeyPem: publicKey.export({ format: "pem", type: "spki" }).toString(),
        publicKeyFingerprintMd5: md5.match(/../g)!.join(":"),
        publicKeyFingerprintSha256: `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`,
    };
}

const tls: provider.Provider = {
    version: "5.6.1",
    async create(urn, inputs) {
        // The URN's type is the parent types' chain, `$`-separated, ending with the resource's own.
        const type = urn.split("::")[2].split("$").pop();
        if (type !== "tls:index/privateKey:PrivateKey" || inputs.algorithm !== "ED25519") {
            throw new Error(`the tls stand-in makes only ED25519 PrivateKeys, not ${type}`);
        }
        const outs = { ...inputs, ecdsaCurve: "P224", rsaBits: 2048, ...ed25519Key() };
        return { id: createHash("sha1").update(outs.publicKeyPem).digest("hex"), outs };
    },
    async diff(_id, _urn, olds, news) {
        // Every input of the real PrivateKey forces a new key.
        const changed = ["algorithm", "ecdsaCurve", "rsaBits"].filter(
            (key) => news[key] !== undefined && news[key] !== olds[key],
        );
        return { changes: changed.length > 0, replaces: changed };
    },
};

provider.main(tls, process.argv.slice(2));
