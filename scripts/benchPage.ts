import { existsSync, mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { chromium } from "playwright-core";
import { stringify } from "yaml";
import { stackFilePath } from "../lib/config";
import { renderPage } from "../offline/page";
import { workbenchScript } from "../offline/pageScript";
import { lockedStackConfig, syntheticSite } from "../offline/synthetic";
import { setField } from "../offline/workbench";

/**
 * `npm run bench:page [-- --vms 1000] [--edits 9]`: how the topology page's workbench keeps up
 * with a testbed of that many VMs, in Debian's Chromium (CHROMIUM_PATH names another). The VMs
 * are listed in sites of at most 400, the most one stack holds with room to spare (lib/config
 * languageHostConfigLimit). Measured in the page: its first plan, and each edit of one node's
 * memory in one site, planned (the model) and then drawn (the graph, lists and panels; the
 * canvas paints on the next frame).
 */

const perSite = 400;

function option(argv: string[], name: string, fallback: number): number {
    const index = argv.indexOf(name);
    return index >= 0 ? Number(argv[index + 1]) : fallback;
}

const median = (values: number[]) =>
    [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function main(argv: string[]): Promise<void> {
    const vms = option(argv, "--vms", 1000);
    const edits = option(argv, "--edits", 9);
    const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
    if (!existsSync(chromiumPath)) {
        throw new Error(`no browser at ${chromiumPath}: apt-get install chromium`);
    }
    const sizes = Array.from({ length: Math.ceil(vms / perSite) }, (_, i) =>
        Math.min(perSite, vms - i * perSite),
    );
    const stacks = Object.fromEntries(
        sizes.map((size, i) => [
            `bench-${i}`,
            stringify({ config: lockedStackConfig(syntheticSite(size)) }),
        ]),
    );
    const work = mkdtempSync(path.join(tmpdir(), "edge-bench-page-"));
    const file = path.join(work, "page.html");
    const html = renderPage(
        { sites: [], links: [] },
        { files: { stacks }, script: workbenchScript() },
    );
    writeFileSync(file, html);
    const browser = await chromium.launch({ executablePath: chromiumPath });
    try {
        const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
        const started = Date.now();
        await page.goto(`file://${file}`);
        // A locator, not a predicate: the page's Content-Security-Policy forbids eval.
        await page.locator("#wb-status", { hasText: "Planned" }).waitFor();
        const loadMs = Date.now() - started;
        const planned: number[] = [];
        const drawn: number[] = [];
        const stack = "bench-0";
        for (let i = 0; i < edits; i++) {
            const text = setField(
                stacks[stack],
                ["config", "edge:clusters", i % (sizes[0] / 5), "nodes", 1],
                "memory",
                `${6 + (i % 3)}Gi`,
            );
            const total = (await page.evaluate(
                `(() => { const t = performance.now(); edgeWorkbench.edit(${JSON.stringify(stackFilePath(stack))}, ${JSON.stringify(text)}); return performance.now() - t; })()`,
            )) as number;
            planned.push((await page.evaluate("edgeWorkbench.planMs()")) as number);
            drawn.push(total);
        }
        const round = (ms: number) => Math.round(ms);
        console.log(
            [
                `Topology page workbench: ${vms} VMs in ${sizes.length} sites (${sizes.join(", ")}), Chromium, ${edits} edits`,
                `  page: ${(html.length / 1024 / 1024).toFixed(2)} MiB; opened, planned and drawn in ${loadMs} ms`,
                `  an edit of one node: planned in ${round(median(planned))} ms (median; max ${round(Math.max(...planned))}), planned and drawn in ${round(median(drawn))} ms (median; max ${round(Math.max(...drawn))})`,
            ].join("\n"),
        );
    } finally {
        await browser.close();
        rmSync(work, { recursive: true, force: true });
    }
}

main(process.argv.slice(2)).catch((error) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 2;
});
