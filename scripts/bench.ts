import * as pulumi from "@pulumi/pulumi";
import { planStack } from "../lib/plan";
import { syntheticStack } from "../test/fixtures";
import { runProgram } from "../test/mocks";

/**
 * `npm run bench`: how long planning and a full mock evaluation take for a synthetic site of
 * 100 clusters of 5 nodes, and how much memory they use. Figures, not assertions.
 */
async function main(): Promise<void> {
    const clusters = Array.from({ length: 100 }, (_, i) => ({ name: `c${i}`, nodes: 5 }));
    const raw = syntheticStack(clusters);

    const planStart = process.hrtime.bigint();
    const { plan } = planStack(raw);
    const planMs = Number(process.hrtime.bigint() - planStart) / 1e6;

    const config = {
        "edge:site": raw.site,
        "edge:images": raw.images,
        "edge:clusters": raw.clusters,
        "edge:allocations": plan.allocations,
    };
    const runStart = process.hrtime.bigint();
    const { resources } = await runProgram(config, { stack: "bench" });
    await pulumi.runtime.disconnect();
    const runMs = Number(process.hrtime.bigint() - runStart) / 1e6;

    const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(0);
    console.log(`synthetic site: ${clusters.length} clusters x 5 nodes`);
    console.log(`planStack: ${planMs.toFixed(0)} ms`);
    console.log(`program under mocks: ${runMs.toFixed(0)} ms, ${resources.length} resources`);
    console.log(`peak RSS: ${mib(process.resourceUsage().maxRSS * 1024)} MiB`);
}

main().catch((error) => {
    console.error(error);
    process.exitCode = 1;
});
