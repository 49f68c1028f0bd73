import * as assert from "assert";
import { readFileSync, readdirSync } from "fs";
import * as path from "path";
import * as ts from "typescript";
import { projectRoot } from "./mocks";

/** Every TypeScript file under `folder`, as a path from the project root, sorted. */
function filesUnder(folder: string): string[] {
    return (readdirSync(path.join(projectRoot, folder), { recursive: true }) as string[])
        .filter((file) => file.endsWith(".ts"))
        .map((file) => path.posix.join(folder, file.split(path.sep).join("/")))
        .sort();
}

const libFiles = () => filesUnder("lib");

/** The lib/ files `file` imports, each as a path from the project root (a folder as its index). */
function libImports(file: string): string[] {
    const text = readFileSync(path.join(projectRoot, file), "utf8");
    return ts
        .preProcessFile(text, true, true)
        .importedFiles.map((imported) => imported.fileName)
        .filter((name) => name.startsWith("."))
        .map((name) => {
            const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), name));
            const asFile = `${target}.ts`;
            return libFiles().includes(asFile) ? asFile : `${target}/index.ts`;
        });
}

/** The folder of a lib/ file: `lib/plan/addresses.ts` is in `plan`. */
function folderOf(file: string): string {
    return file.split("/")[1];
}

/** The folders a lib/ folder's index.ts says it may import: its `May import:` line. */
function allowedImports(folder: string): string[] | undefined {
    const text = readFileSync(path.join(projectRoot, "lib", folder, "index.ts"), "utf8");
    const opening = /^\/\*\*[\s\S]*?\*\//.exec(text)?.[0] ?? "";
    const line = /May import: ([^.]*)\./.exec(opening.replace(/\n \* ?/g, " "))?.[1];
    if (line === undefined) {
        return undefined;
    }
    return line === "nothing of the project's" ? [] : line.split(", ");
}

/** Each function's name (or `anonymous`) and its length in lines, for every function in `file`. */
function functionLengths(file: string): { name: string; lines: number }[] {
    const text = readFileSync(path.join(projectRoot, file), "utf8");
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
    const found: { name: string; lines: number }[] = [];
    const visit = (node: ts.Node): void => {
        if (ts.isFunctionLike(node) && "body" in node && node.body) {
            const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
            const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
            const name = ts.isConstructorDeclaration(node)
                ? "constructor"
                : node.name && ts.isIdentifier(node.name)
                  ? node.name.text
                  : "anonymous";
            found.push({ name, lines: end - start + 1 });
        }
        ts.forEachChild(node, visit);
    };
    visit(source);
    return found;
}

const folders = ["config", "core", "plan", "rancher", "render", "site"];

describe("lib/ is organised by domain", () => {
    it("keeps every file in one of its folders", () => {
        assert.deepStrictEqual([...new Set(libFiles().map(folderOf))].sort(), folders);
        assert.deepStrictEqual(
            libFiles().filter((file) => file.split("/").length !== 3),
            [],
            "lib/ has no file outside its folders and no deeper folder",
        );
    });

    it("opens each folder's index.ts with what the folder owns and may import", () => {
        for (const folder of folders) {
            const allowed = allowedImports(folder);
            assert.ok(allowed, `lib/${folder}/index.ts says what it may import`);
            for (const other of allowed) {
                assert.ok(
                    folders.includes(other),
                    `lib/${folder} may import ${other}: no such folder`,
                );
            }
        }
    });

    it("imports only the folders each folder's opening comment allows, through their index.ts", () => {
        const breaches: string[] = [];
        for (const file of libFiles()) {
            const folder = folderOf(file);
            for (const target of libImports(file)) {
                const other = folderOf(target);
                if (other === folder) {
                    continue;
                }
                if (!allowedImports(folder)!.includes(other)) {
                    breaches.push(`${file} imports lib/${other}`);
                } else if (!target.endsWith("/index.ts")) {
                    breaches.push(`${file} imports ${target}, not lib/${other}`);
                }
            }
        }
        assert.deepStrictEqual(breaches, []);
    });

    it("has no import cycle", () => {
        const cycles: string[] = [];
        const state = new Map<string, "open" | "done">();
        const walk = (file: string, trail: string[]): void => {
            if (state.get(file) === "done") {
                return;
            }
            if (state.get(file) === "open") {
                cycles.push([...trail.slice(trail.indexOf(file)), file].join(" -> "));
                return;
            }
            state.set(file, "open");
            for (const target of libImports(file)) {
                walk(target, [...trail, file]);
            }
            state.set(file, "done");
        };
        for (const file of libFiles()) {
            walk(file, []);
        }
        assert.deepStrictEqual(cycles, []);
    });

    it("has no function longer than 80 lines", () => {
        const long = libFiles().flatMap((file) =>
            functionLengths(file)
                .filter((fn) => fn.lines > 80)
                .map((fn) => `${file}: ${fn.name} (${fn.lines} lines)`),
        );
        assert.deepStrictEqual(long, []);
    });
});

describe("the rest of the program", () => {
    it("has no function longer than 80 lines either", () => {
        const program = [
            "index.ts",
            ...["components", "offline", "page", "policy", "runtime", "scripts"].flatMap(
                filesUnder,
            ),
        ];
        const long = program.flatMap((file) =>
            functionLengths(file)
                .filter((fn) => fn.lines > 80)
                .map((fn) => `${file}: ${fn.name} (${fn.lines} lines)`),
        );
        assert.deepStrictEqual(long, []);
    });
});
