import * as path from "path";
import { planStack } from "../lib/plan/stackPlan";
import { rawStackConfig } from "../lib/config/stackFile";
import { diffResources, parseRendered } from "../offline/diff";
import { evaluateProgram, placeholders } from "../offline/evaluate";
import { readTree } from "../offline/tree";
import { SiteInput } from "../offline/viewModel";
import { projectRoot } from "./mocks";
import { withInterconnects } from "../runtime/projectFiles";

/** A site's page input from `config` (a stack file's `config:` map), as `npm run plan` makes it. */
export async function siteInput(
    stack: string,
    config: Record<string, any>,
    diffAgainst?: string,
): Promise<SiteInput> {
    const raw = withInterconnects(rawStackConfig(config), projectRoot);
    const { plan } = planStack(raw);
    const evaluation = await evaluateProgram(config, placeholders, { stack, preview: true });
    return {
        stack,
        plan,
        raw,
        resources: evaluation.resources,
        outputs: evaluation.outputs,
        ...(diffAgainst
            ? { changes: diffResources(parseRendered(readTree(diffAgainst)), evaluation.resources) }
            : {}),
    };
}

/** The committed offline plan of a stack, which a change is compared with. */
export const renderedDir = (stack: string) => path.join(projectRoot, "rendered", stack);

/**
 * Greece changed three ways against its committed plan: worker1 gets more memory (an update),
 * cluster-master a bigger disk (a replacement), and a worker2 joins (creates).
 */
export function changedGreece(config: Record<string, any>): Record<string, any> {
    const nodes = config["edge:clusters"][0].nodes;
    nodes[1].memory = "8Gi";
    nodes[0].disk = "20Gi";
    nodes.push({ ...structuredClone(nodes[1]), name: "worker2", networks: ["lab"] });
    config["edge:clusters"][0].acknowledgeReplacement = true;
    return config;
}
