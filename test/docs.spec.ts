import * as assert from "assert";
import { existsSync, readFileSync, readdirSync } from "fs";
import * as path from "path";
import { projectRoot } from "./mocks";

/** README.md and every page of docs/, as paths from the project root. */
const pages = [
    "README.md",
    ...readdirSync(path.join(projectRoot, "docs"))
        .filter((file) => file.endsWith(".md"))
        .sort()
        .map((file) => `docs/${file}`),
];

const read = (file: string) => readFileSync(path.join(projectRoot, file), "utf8");

/** A markdown file's lines outside fenced code blocks, each with its line number. */
function prose(file: string): { line: number; text: string }[] {
    let fenced = false;
    return read(file)
        .split("\n")
        .map((text, i) => ({ line: i + 1, text }))
        .filter(({ text }) => {
            if (/^\s*(```|~~~)/.test(text)) {
                fenced = !fenced;
                return false;
            }
            return !fenced;
        });
}

/** The anchor GitHub gives a heading. */
const slug = (heading: string) =>
    heading
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N} _-]/gu, "")
        .replace(/ /g, "-");

/** The anchors of a markdown file's headings. */
const anchors = (file: string) =>
    new Set(
        prose(file)
            .flatMap(({ text }) => /^#{1,6}\s+(.*?)\s*#*$/.exec(text)?.[1] ?? [])
            .map(slug),
    );

/** Every relative link of a markdown file: `[text](target)` and `![alt](target)`. */
function links(file: string): { line: number; target: string }[] {
    return prose(file).flatMap(({ line, text }) =>
        [...text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)]
            .map((match) => match[1])
            .filter((target) => !/^(https?:\/\/|mailto:)/.test(target))
            .map((target) => ({ line, target })),
    );
}

/** What a link of `file` points at, as a path from the project root, and its anchor. */
function resolved(file: string, target: string): { to: string; anchor?: string } {
    const [to, anchor] = target.split("#", 2);
    return { to: to ? path.posix.join(path.posix.dirname(file), to) : file, anchor };
}

describe("the README and docs/", () => {
    it("keep the README to at most 150 lines", () => {
        const lines = read("README.md").trimEnd().split("\n").length;
        assert.ok(lines <= 150, `README.md has ${lines} lines, more than 150: move some to docs/`);
    });

    it("link only to files of the repository, and to headings they have", () => {
        const broken = pages.flatMap((file) =>
            links(file).flatMap(({ line, target }) => {
                const { to, anchor } = resolved(file, target);
                const where = `${file}:${line}: ${target}`;
                if (to.startsWith("../") || !existsSync(path.join(projectRoot, to))) {
                    return [`${where}: no file ${to} in the repository`];
                }
                if (anchor !== undefined && !(to.endsWith(".md") && anchors(to).has(anchor))) {
                    return [`${where}: ${to} has no heading whose anchor is #${anchor}`];
                }
                return [];
            }),
        );
        assert.deepStrictEqual(broken, [], `broken links:\n${broken.join("\n")}`);
    });

    it("link every page of docs/ from the README", () => {
        const linked = new Set(
            links("README.md").map(({ target }) => resolved("README.md", target).to),
        );
        const unlinked = pages.filter((file) => file !== "README.md" && !linked.has(file));
        assert.deepStrictEqual(unlinked, [], `README.md does not link ${unlinked.join(", ")}`);
    });
});
