import { ChildProcess, spawn } from "child_process";
import { createHash } from "crypto";
import { existsSync, readFileSync } from "fs";
import * as path from "path";
import { issueCert, makeCa } from "../certs";
import { projectRoot } from "./environment";
import { inside } from "./qemu";

/** One report of the stand-in's install script: a node that ran the registration command. */
export interface Registration {
    from: string;
    authorization: string;
    arguments: string;
}

/**
 * The stand-in Rancher endpoint (rancherStandIn.ts) on a site bridge, with a private CA, and the
 * node command Rancher would hand out for it.
 */
export class RancherStandIn {
    readonly token = "guest-e2e-registration-token";
    readonly caPem: string;
    private readonly cert: { cert: string; key: string };
    private readonly ca: { cert: string; key: string };
    private readonly log: string;
    private process?: ChildProcess;

    constructor(
        private readonly namespace: string,
        private readonly address: string,
        private readonly port: number,
        dir: string,
    ) {
        this.ca = makeCa(dir, "rancher-ca");
        this.cert = issueCert(dir, this.ca, "rancher", "rancher", "server", `IP:${address}`);
        this.caPem = readFileSync(this.ca.cert, "utf8");
        this.log = path.join(dir, "registrations.jsonl");
    }

    get server(): string {
        return `https://${this.address}:${this.port}`;
    }

    /**
     * Byte for byte as Rancher formats it for a cluster without agent environment variables
     * (rancher's clusterregistrationtoken handler, provisioningV2NodeCommandFormat:
     * "%s curl -fL %s | sudo %s sh -s - --server %s --label 'cattle.io/os=linux' --token %s%s"),
     * so with a leading space and two after `sudo`.
     */
    get nodeCommand(): string {
        const checksum = createHash("sha256").update(this.caPem).digest("hex");
        return ` curl -fL ${this.server}/system-agent-install.sh | sudo  sh -s - --server ${this.server} --label 'cattle.io/os=linux' --token ${this.token} --ca-checksum ${checksum}`;
    }

    /** Starts serving; resolves once it listens. */
    start(): Promise<void> {
        const child = spawn(
            "ip",
            [
                "netns",
                "exec",
                this.namespace,
                process.execPath,
                "-r",
                "ts-node/register/transpile-only",
                path.join(__dirname, "rancherStandIn.ts"),
                this.address,
                String(this.port),
                this.cert.cert,
                this.cert.key,
                this.ca.cert,
                this.log,
            ],
            { cwd: projectRoot, stdio: ["ignore", "pipe", "pipe"] },
        );
        this.process = child;
        return new Promise((resolve, reject) => {
            let stderr = "";
            child.stderr!.on("data", (chunk) => (stderr += chunk));
            child.stdout!.on("data", (chunk) => String(chunk).includes("listening") && resolve());
            child.on("exit", (code) => reject(new Error(`stand-in exited ${code}: ${stderr}`)));
        });
    }

    stop(): void {
        this.process?.kill("SIGKILL");
        this.process = undefined;
    }

    registrations(): Registration[] {
        return existsSync(this.log)
            ? readFileSync(this.log, "utf8")
                  .split("\n")
                  .filter(Boolean)
                  .map((line) => JSON.parse(line))
            : [];
    }
}

/**
 * What the VM's tcpSocket readiness probe finds: the readiness socket's answer through the pod
 * network's forward (KubeVirt DNATs the probe to the guest's masquerade address; QEMU's user
 * network forwards 127.0.0.1:<port> in the namespace there). Empty when nothing answers.
 */
export function probeReadiness(namespace: string, port: number): string {
    try {
        return inside(
            namespace,
            "timeout",
            "10",
            "bash",
            "-c",
            `exec 3<>/dev/tcp/127.0.0.1/${port} && cat <&3`,
        ).trim();
    } catch {
        return "";
    }
}
