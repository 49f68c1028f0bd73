import { ChildProcess, spawn } from "child_process";
import * as path from "path";
import { projectRoot } from "./mocks";

export interface Diagnostic {
    range: { start: { line: number; character: number } };
    message: string;
}

/** An editor's YAML settings: the schema comes from each file's first line, not the schema store. */
const settings = { validate: true, hover: true, schemaStore: { enable: false } };

type Message = {
    id?: number;
    method?: string;
    params?: any;
    result?: any;
};

/**
 * The yaml-language-server that editors run (VS Code's YAML extension, nvim's yamlls), spoken to
 * over stdio as an editor does: Language Server Protocol messages with Content-Length headers.
 */
export class YamlLanguageServer {
    private readonly server: ChildProcess;
    private buffer = Buffer.alloc(0);
    private nextId = 0;
    private readonly waiting: {
        accepts: (m: Message) => boolean;
        resolve: (m: Message) => void;
    }[] = [];

    constructor() {
        const bin = path.join(
            projectRoot,
            "node_modules/yaml-language-server/bin/yaml-language-server",
        );
        this.server = spawn(process.execPath, [bin, "--stdio"], {
            stdio: ["pipe", "pipe", "ignore"],
        });
        this.server.stdout!.on("data", (chunk: Buffer) => this.receive(chunk));
    }

    async start(): Promise<void> {
        await this.request("initialize", {
            processId: process.pid,
            rootUri: `file://${projectRoot}`,
            capabilities: {},
            workspaceFolders: null,
        });
        this.send({ method: "initialized", params: {} });
        this.send({
            method: "workspace/didChangeConfiguration",
            params: { settings: { yaml: settings } },
        });
    }

    /** The diagnostics the server publishes for `text`, opened as `name` in the project root. */
    async diagnostics(name: string, text: string): Promise<Diagnostic[]> {
        const uri = `file://${path.join(projectRoot, name)}`;
        const published = this.next(
            (m) => m.method === "textDocument/publishDiagnostics" && m.params.uri === uri,
        );
        this.send({
            method: "textDocument/didOpen",
            params: { textDocument: { uri, languageId: "yaml", version: 1, text } },
        });
        return (await published).params.diagnostics;
    }

    /** The hover text at a position of a document opened with `diagnostics`. */
    async hover(name: string, line: number, character: number): Promise<string> {
        const uri = `file://${path.join(projectRoot, name)}`;
        const result = await this.request("textDocument/hover", {
            textDocument: { uri },
            position: { line, character },
        });
        return result?.contents?.value ?? "";
    }

    stop(): void {
        this.server.kill();
    }

    private async request(method: string, params: unknown): Promise<any> {
        const id = ++this.nextId;
        const answer = this.next((m) => m.id === id && m.method === undefined);
        this.send({ id, method, params });
        return (await answer).result;
    }

    private next(accepts: (m: Message) => boolean): Promise<Message> {
        return new Promise((resolve) => this.waiting.push({ accepts, resolve }));
    }

    private send(message: Message): void {
        const body = JSON.stringify({ jsonrpc: "2.0", ...message });
        this.server.stdin!.write(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    }

    private receive(chunk: Buffer): void {
        this.buffer = Buffer.concat([this.buffer, chunk]);
        for (;;) {
            const headerEnd = this.buffer.indexOf("\r\n\r\n");
            const length = /Content-Length: (\d+)/.exec(
                this.buffer.subarray(0, Math.max(headerEnd, 0)).toString(),
            );
            if (
                headerEnd < 0 ||
                !length ||
                this.buffer.length < headerEnd + 4 + Number(length[1])
            ) {
                return;
            }
            const end = headerEnd + 4 + Number(length[1]);
            const message: Message = JSON.parse(
                this.buffer.subarray(headerEnd + 4, end).toString(),
            );
            this.buffer = this.buffer.subarray(end);
            if (message.method !== undefined && message.id !== undefined) {
                // The server asks for the editor's settings (workspace/configuration), by section.
                const items: { section?: string }[] = message.params?.items ?? [];
                this.send({
                    id: message.id,
                    result: items.map((item) => (item.section === "yaml" ? settings : null)),
                });
                continue;
            }
            const index = this.waiting.findIndex((w) => w.accepts(message));
            if (index >= 0) {
                this.waiting.splice(index, 1)[0].resolve(message);
            }
        }
    }
}
