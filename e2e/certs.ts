import { execFileSync } from "child_process";
import { writeFileSync } from "fs";
import * as path from "path";

/** A certificate and its key, as PEM files. */
export interface CertFiles {
    cert: string;
    key: string;
}

const openssl = (args: string[], cwd: string) =>
    execFileSync("openssl", args, { cwd, stdio: ["ignore", "pipe", "pipe"] });

/** A self-signed CA in `dir`: `<name>.crt` and `<name>.key`. */
export function makeCa(dir: string, name: string): CertFiles {
    const files = { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
    openssl(
        [
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            `/CN=${name}`,
            "-keyout",
            files.key,
            "-out",
            files.cert,
        ],
        dir,
    );
    return files;
}

/**
 * A certificate `ca` signs in `dir`: for a server (on loopback unless `altNames` says where), or
 * for a client named `commonName` (the API server's request-header proxy client, virt-api's
 * handler client).
 */
export function issueCert(
    dir: string,
    ca: CertFiles,
    name: string,
    commonName: string,
    use: "server" | "client",
    altNames = "IP:127.0.0.1,DNS:localhost",
): CertFiles {
    const files = { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
    const csr = path.join(dir, `${name}.csr`);
    const extensions = path.join(dir, `${name}.ext`);
    writeFileSync(
        extensions,
        use === "server"
            ? `subjectAltName=${altNames}\nextendedKeyUsage=serverAuth\n`
            : "extendedKeyUsage=clientAuth\n",
    );
    openssl(
        [
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            `/CN=${commonName}`,
            "-keyout",
            files.key,
            "-out",
            csr,
        ],
        dir,
    );
    openssl(
        [
            "x509",
            "-req",
            "-in",
            csr,
            "-CA",
            ca.cert,
            "-CAkey",
            ca.key,
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            extensions,
            "-out",
            files.cert,
        ],
        dir,
    );
    return files;
}
