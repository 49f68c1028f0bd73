import { planStack } from "../lib/plan";
import { evaluateProgram, placeholders } from "../offline/evaluate";
import { addressSummary, renderFiles, renderSummary } from "../offline/render";
import { syntheticStack } from "../offline/synthetic";

/**
 * `npm run bench`: the work of `npm run plan -- --out` for a synthetic site of 100 clusters of
 * 5 nodes (planning, evaluating the program under mocks, rendering), timed, with peak memory.
 * Figures, not assertions.
 */
async function main(): Promise<void> {
    const clusters = Array.from({ length: 100 }, (_, i) => ({ name: `c${i}`, nodes: 5 }));
    const raw = syntheticStack(clusters);
    const elapsed = (start: bigint) =>
        `${(Number(process.hrtime.bigint() - start) / 1e6).toFixed(0)} ms`;

    let start = process.hrtime.bigint();
    const { plan } = planStack(raw);
    console.log(`synthetic site: ${clusters.length} clusters x 5 nodes`);
    console.log(`planStack: ${elapsed(start)}`);

    const config = {
        "edge:site": raw.site,
        "edge:images": raw.images,
        "edge:clusters": raw.clusters,
        "edge:allocations": plan.allocations,
    };
    start = process.hrtime.bigint();
    const evaluation = await evaluateProgram(config, placeholders, {
        stack: "bench",
        preview: true,
    });
    console.log(`program under mocks: ${elapsed(start)}, ${evaluation.resources.length} resources`);

    start = process.hrtime.bigint();
    const addresses = addressSummary(plan, evaluation.outputs);
    const files = renderFiles(evaluation, addresses, plan.site);
    const summary = renderSummary("bench", evaluation, addresses, plan.site);
    const bytes = Object.values(files).reduce((sum, text) => sum + text.length, summary.length);
    console.log(
        `rendering: ${elapsed(start)}, ${Object.keys(files).length} files, ${(bytes / 2 ** 20).toFixed(1)} MiB`,
    );
    console.log(`peak RSS: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
}

main().catch((error) => {
    console.error(error);
    process.exitCode = 1;
});
