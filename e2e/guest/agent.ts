import * as net from "net";
import { sleep } from "./wait";

/** What a command run in the guest by qemu-guest-agent's guest-exec returned. */
export interface GuestRun {
    status: number;
    stdout: string;
    stderr: string;
}

/**
 * A qemu-guest-agent client on QEMU's side of the agent's virtio-serial port (a Unix socket QEMU
 * serves). One request per connection, each after a `guest-sync` whose id must come back, so that
 * a reply left over from an earlier, timed-out request is never read as this one's (the agent's
 * protocol, qemu docs/interop/qemu-ga-ref: guest-sync).
 */
export class GuestAgent {
    private nextId = Math.floor(Math.random() * 1e6);

    constructor(private readonly socket: string) {}

    /** One agent command; rejects when the agent does not answer within `timeoutMs`. */
    request(execute: string, args?: Record<string, unknown>, timeoutMs = 10000): Promise<any> {
        const id = ++this.nextId;
        return new Promise((resolve, reject) => {
            const connection = net.connect(this.socket);
            let buffer = "";
            let synced = false;
            const fail = (error: Error) => {
                clearTimeout(timer);
                connection.destroy();
                reject(error);
            };
            const timer = setTimeout(
                () => fail(new Error(`guest agent: no answer to ${execute} in ${timeoutMs} ms`)),
                timeoutMs,
            );
            connection.on("error", fail);
            connection.on("connect", () =>
                connection.write(
                    `${JSON.stringify({ execute: "guest-sync", arguments: { id } })}\n`,
                ),
            );
            connection.on("data", (chunk) => {
                buffer += chunk.toString("utf8");
                let newline: number;
                while ((newline = buffer.indexOf("\n")) >= 0) {
                    const line = buffer.slice(0, newline).trim();
                    buffer = buffer.slice(newline + 1);
                    if (line === "") {
                        continue;
                    }
                    const message = JSON.parse(line);
                    if (!synced) {
                        if (message.return === id) {
                            synced = true;
                            connection.write(
                                `${JSON.stringify({ execute, ...(args ? { arguments: args } : {}) })}\n`,
                            );
                        }
                        continue;
                    }
                    clearTimeout(timer);
                    connection.end();
                    if (message.error) {
                        reject(new Error(`guest agent: ${execute}: ${message.error.desc}`));
                    } else {
                        resolve(message.return);
                    }
                    return;
                }
            });
        });
    }

    /** Resolves once the agent answers, trying every 5 s for `timeoutMs`. */
    async waitUntilUp(timeoutMs: number): Promise<void> {
        const deadline = Date.now() + timeoutMs;
        let last: unknown;
        while (Date.now() < deadline) {
            try {
                await this.request("guest-ping", undefined, 5000);
                return;
            } catch (error) {
                last = error;
                await sleep(5000);
            }
        }
        throw new Error(`guest agent not up after ${timeoutMs / 1000} s: ${last}`);
    }

    /** Runs `command` through /bin/sh in the guest, as root, and waits for it to exit. */
    async sh(command: string, timeoutMs = 120000): Promise<GuestRun> {
        const { pid } = await this.request("guest-exec", {
            path: "/bin/sh",
            arg: ["-c", command],
            "capture-output": true,
        });
        const deadline = Date.now() + timeoutMs;
        while (Date.now() < deadline) {
            const status = await this.request("guest-exec-status", { pid });
            if (status.exited) {
                const text = (data?: string) => Buffer.from(data ?? "", "base64").toString("utf8");
                return {
                    status: status.exitcode ?? -1,
                    stdout: text(status["out-data"]),
                    stderr: text(status["err-data"]),
                };
            }
            await sleep(1000);
        }
        throw new Error(`guest: \`${command}\` still running after ${timeoutMs / 1000} s`);
    }

    /** `sh`, which must exit 0: its stdout. */
    async run(command: string, timeoutMs?: number): Promise<string> {
        const result = await this.sh(command, timeoutMs);
        if (result.status !== 0) {
            throw new Error(`guest: \`${command}\` exited ${result.status}: ${result.stderr}`);
        }
        return result.stdout;
    }
}
