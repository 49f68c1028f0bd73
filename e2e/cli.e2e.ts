import * as assert from "assert";
import { execFileSync, spawn } from "child_process";
import { mkdirSync, readFileSync, writeFileSync } from "fs";
import * as path from "path";
import { parse } from "yaml";
import { HostShape, readStackConfig } from "../lib/config";
import { labels } from "../lib/core/naming";
import { planStack } from "../lib/plan/stackPlan";
import { ProblemList } from "../lib/core/problems";
import { parseStackFile, stackFileConfig, stackFilePath } from "../lib/config/stackFile";
import { copyProject, resourceSummary } from "./cliProject";
import { ControlPlane, crdsPresent, startLiveApiServer, stopLiveApiServer } from "./controlPlane";
import {
    FakeRancher,
    clusterV1Id,
    rancherToken,
    registrationSecret,
    startFakeRancher,
} from "./fakeRancher";
import { playHosts } from "./kubevirt";
import { kubevirtFeatures } from "./kubevirtCheck";
import { projectRoot, pulumiEnvironment } from "./pulumiEnv";

/**
 * The commands operators and CI run, as they run them: `pulumi preview`, `up`, `refresh` and
 * `destroy --stack <site>` in a copy of the project folder (its tracked files, with this
 * checkout's node_modules), so the CLI reads Pulumi.yaml, runs index.ts through the Node.js
 * language host with tsconfig.pulumi.json, loads the policy pack from policy/ and reads
 * interconnects.yaml. Every plugin is real: the language host and the kubernetes, rancher2, tls
 * and command providers built by scripts/e2e-tools.sh. The kubernetes provider applies to a live
 * API server with KubeVirt's own controllers; rancher2 talks to e2e/fakeRancher.ts. The preview
 * job of .github/workflows/infra.yml runs step for step first.
 */

const sites = ["greece", "france"] as const;
type Site = (typeof sites)[number];

interface Run {
    status: number;
    /** stdout and stderr, as a terminal shows them. */
    output: string;
    stdout: string;
}

/** The plan of a site's committed stack file. */
function committedPlan(site: Site) {
    const file = path.join(projectRoot, stackFilePath(site));
    return planStack(stackFileConfig(parseStackFile(readFileSync(file, "utf8"), file))).plan;
}

describe("the pulumi CLI through Pulumi.yaml, with the language host and every real provider", function () {
    this.timeout(40 * 60 * 1000);
    let work: string;
    let project: string;
    let controlPlane: ControlPlane | undefined;
    let rancher: FakeRancher | undefined;
    let env: Record<string, string>;
    let stopPlaying: (() => void) | undefined;

    /** Runs a command in the project copy, without blocking the played hosts. */
    function run(
        command: string,
        args: string[],
        extraEnv: Record<string, string> = {},
        input?: string,
    ): Promise<Run> {
        return new Promise((resolve, reject) => {
            const child = spawn(command, args, {
                cwd: project,
                env: { ...process.env, ...env, ...extraEnv },
                stdio: ["pipe", "pipe", "pipe"],
            });
            let output = "";
            let stdout = "";
            child.stdout.on("data", (chunk) => {
                output += chunk;
                stdout += chunk;
            });
            child.stderr.on("data", (chunk) => (output += chunk));
            child.on("error", reject);
            child.on("close", (status) => resolve({ status: status ?? -1, output, stdout }));
            child.stdin.end(input ?? "");
        });
    }

    const pulumi = (args: string[], input?: string, extraEnv: Record<string, string> = {}) =>
        run("pulumi", [...args, "--non-interactive"], extraEnv, input);

    /** Runs it and fails the test with its output unless it exits 0. */
    async function ok(args: string[], input?: string, extraEnv: Record<string, string> = {}) {
        const result = await pulumi(args, input, extraEnv);
        if (process.env.EDGE_E2E_ECHO) {
            process.stdout.write(`$ pulumi ${args.join(" ")}\n${result.output}`);
        }
        assert.strictEqual(
            result.status,
            0,
            [
                `pulumi ${args.join(" ")}:`,
                result.output,
                "Rancher refused:",
                ...rancher!.refused,
                "Rancher's last requests:",
                ...rancher!.requests.slice(-40),
            ].join("\n"),
        );
        return result.output;
    }

    /** The site's hosts as its stack file in the copy declares them: the test's Nodes. */
    function hosts(site: Site): HostShape[] {
        const file = path.join(project, stackFilePath(site));
        const raw = stackFileConfig(parseStackFile(readFileSync(file, "utf8"), file));
        return readStackConfig(raw, new ProblemList()).config!.site.hosts;
    }

    async function objectNames(apiPath: string): Promise<string[]> {
        const list = await controlPlane!.call("GET", apiPath);
        return list.body.items.map((item: any) => item.metadata.name).sort();
    }

    before(async function () {
        if (!crdsPresent()) {
            this.skip();
        }
        const vms = sites.flatMap((site) =>
            committedPlan(site).clusters.flatMap((c) => c.nodes.map((n) => n.virtualMachine)),
        );
        const live = await startLiveApiServer("edge-cli-e2e-", kubevirtFeatures(vms));
        ({ work, controlPlane } = live);
        rancher = await startFakeRancher(path.join(work, "rancher"), async () => true);
        const environment = await pulumiEnvironment(
            work,
            live.bin,
            ["kubernetes", "rancher2", "tls", "command"],
            { RANCHER_TOKEN_KEY: rancherToken },
        );
        env = {
            ...environment.env,
            PATH: `${path.join(work, "cli", "bin")}:${environment.env.PATH}`,
            PULUMI_BACKEND_URL: environment.backend,
        };
        project = path.join(work, "project");
        copyProject(project);
    });

    after(async () => {
        stopPlaying?.();
        await rancher?.stop();
        await stopLiveApiServer({ controlPlane, work });
    });

    for (const site of sites) {
        describe(`--stack ${site}`, () => {
            const plan = committedPlan(site);
            let created = 0;

            after(() => {
                stopPlaying?.();
                stopPlaying = undefined;
            });

            it("is set up as the README tells operators: stack init, Rancher's URL and CA by pulumi config set", async () => {
                await ok(["stack", "init", site]);
                await ok(["config", "set", "rancher2:apiUrl", rancher!.url, "--stack", site]);
                // A private CA: the provider trusts only this PEM (norman clientbase/common.go).
                await ok(["config", "set", "rancher2:caCerts", "--stack", site], rancher!.caCerts);
                const stackFile = parse(
                    readFileSync(path.join(project, stackFilePath(site)), "utf8"),
                );
                assert.strictEqual(stackFile.config["rancher2:apiUrl"], rancher!.url);
                // The CLI drops the value's final newline when it reads it from stdin.
                assert.strictEqual(
                    stackFile.config["rancher2:caCerts"],
                    rancher!.caCerts.trimEnd(),
                );
                assert.match(stackFile.encryptionsalt, /^v1:/);
            });

            it("previews as the workflow's preview job does, step for step, with the policy pack", async () => {
                const workflow = parse(
                    readFileSync(path.join(project, ".github", "workflows", "infra.yml"), "utf8"),
                );
                const steps: any[] = workflow.jobs.preview.steps;
                const runnerTemp = path.join(work, `runner-${site}`);
                mkdirSync(runnerTemp);
                const githubEnv = path.join(runnerTemp, "github-env");
                writeFileSync(githubEnv, "");
                const githubOutput = path.join(runnerTemp, "github-output");
                writeFileSync(githubOutput, "");
                const expand = (text: string) =>
                    text
                        .replaceAll("${{ matrix.stack }}", site)
                        .replaceAll("${{ runner.temp }}", runnerTemp);
                const secrets: Record<string, string> = {
                    "${{ secrets.SITE_KUBECONFIG }}": controlPlane!.kubeconfig,
                    "${{ secrets.RANCHER_TOKEN_KEY }}": rancherToken,
                    "${{ secrets.PULUMI_ACCESS_TOKEN }}": "",
                };
                const stepEnv = (step: any) =>
                    Object.fromEntries(
                        Object.entries(step.env ?? {}).map(([k, v]) => [
                            k,
                            secrets[v as string] ?? expand(v as string),
                        ]),
                    );
                /** What earlier steps wrote to $GITHUB_ENV. */
                const exported = () =>
                    Object.fromEntries(
                        readFileSync(githubEnv, "utf8")
                            .split("\n")
                            .filter((line) => line.includes("="))
                            .map((line) => [
                                line.slice(0, line.indexOf("=")),
                                line.slice(line.indexOf("=") + 1),
                            ]),
                    );
                let previewOutput = "";
                const ran: string[] = [];
                for (const step of steps) {
                    if (step.uses?.startsWith("actions/")) {
                        // checkout and setup-node: the copy and this Node.js stand for them.
                        continue;
                    }
                    if (step.run === "npm ci") {
                        // node_modules is this checkout's, installed by the same lock file.
                        ran.push("npm ci (this checkout's)");
                        continue;
                    }
                    if (step.run) {
                        const result = await run("bash", ["-e", "-c", expand(step.run)], {
                            ...stepEnv(step),
                            ...exported(),
                            RUNNER_TEMP: runnerTemp,
                            GITHUB_ENV: githubEnv,
                            GITHUB_OUTPUT: githubOutput,
                        });
                        assert.strictEqual(
                            result.status,
                            0,
                            `step ${step.name}:\n${result.output}`,
                        );
                        ran.push(step.name);
                        continue;
                    }
                    // pulumi/actions runs the CLI with its inputs (pulumi/actions src/main.ts).
                    assert.match(step.uses, /^pulumi\/actions@/);
                    const w = step.with;
                    assert.strictEqual(w.command, "preview");
                    const args = [
                        "preview",
                        "--stack",
                        expand(w["stack-name"]),
                        ...(w.diff ? ["--diff"] : []),
                        "--policy-pack",
                        w.policyPacks,
                        "--policy-pack-config",
                        expand(w.policyPackConfigs),
                    ];
                    const stepEnvironment = stepEnv(step);
                    delete stepEnvironment.PULUMI_ACCESS_TOKEN;
                    previewOutput = await ok(args, undefined, {
                        ...stepEnvironment,
                        ...exported(),
                    });
                    ran.push(`pulumi ${args.join(" ")}`);
                }
                assert.deepStrictEqual(ran, [
                    "Node.js version",
                    "npm ci (this checkout's)",
                    "Site credentials and policy config",
                    `pulumi preview --stack ${site} --diff --policy-pack policy --policy-pack-config ${runnerTemp}/policy-config.json`,
                ]);
                // The job sets up the newest supported Node.js, as this suite runs on in CI.
                const newest = execFileSync("scripts/node.sh", ["--newest"], {
                    cwd: project,
                    encoding: "utf8",
                }).trim();
                assert.strictEqual(readFileSync(githubOutput, "utf8"), `version=${newest}\n`);
                // The pack ran from policy/ through the language host, with only advisories: the
                // password rule cannot read user-data that Rancher's token leaves unknown.
                assert.match(
                    previewOutput,
                    /Policy Packs run:\n\s+Name\s+Version\n\s+edge-sites\|local\|policy\s+0\.1\.0\n/,
                );
                assert.ok(previewOutput.includes("[advisory]  user-data-no-passwords"));
                assert.doesNotMatch(previewOutput, /\[mandatory\]/);
                assert.match(previewOutput, /\+ (\d+) to create/);
                created = Number(previewOutput.match(/\+ (\d+) to create/)![1]);
                assert.ok(created > 0);
            });

            it("deploys with pulumi up once the site's kubeconfig is set, every node joined", async () => {
                await ok(
                    ["config", "set", "--path", "--secret", "site.kubeconfig", "--stack", site],
                    controlPlane!.kubeconfig,
                );
                stopPlaying = playHosts(
                    controlPlane!,
                    () => hosts(site),
                    () => true,
                    (vmi) => {
                        const node = vmi.metadata.labels[labels.node];
                        const clusterName = vmi.metadata.labels[labels.cluster];
                        rancher!.registerNode(`${site}-${clusterName}`, node);
                    },
                );
                const output = await ok(["up", "--stack", site, "--yes"]);
                assert.deepStrictEqual(resourceSummary(output), { created });
                const vmNames = plan.clusters.flatMap((c) => c.nodes.map((n) => n.vmName)).sort();
                assert.deepStrictEqual(
                    await objectNames("/apis/kubevirt.io/v1/virtualmachines"),
                    vmNames,
                );
                assert.deepStrictEqual(
                    rancher!.clusters(),
                    Object.fromEntries(
                        plan.clusters.map((c) => [c.rancherName, clusterV1Id(c.rancherName)]),
                    ),
                );
                // Rancher's node command, read from the real provider's secret token, reached
                // every node's cloud-init.
                for (const cluster of plan.clusters) {
                    for (const node of cluster.nodes) {
                        const secret = await controlPlane!.call(
                            "GET",
                            `/api/v1/namespaces/${node.namespace}/secrets/${node.cloudInitSecretName}`,
                        );
                        const userData = Buffer.from(
                            secret.body.data.userdata,
                            "base64",
                        ).toString();
                        assert.ok(
                            userData.includes(
                                `--token ${registrationSecret(clusterV1Id(cluster.rancherName))}`,
                            ),
                            `${node.vmName}'s cloud-init has no registration command`,
                        );
                    }
                }
            });

            it("changes nothing on a second up, and a preview expects no changes", async () => {
                const output = await ok(["up", "--stack", site, "--yes"]);
                assert.deepStrictEqual(resourceSummary(output), { unchanged: created });
                await ok(["preview", "--stack", site, "--expect-no-changes"]);
            });

            it("refreshes from the live objects and Rancher, and still expects no changes", async () => {
                const output = await ok(["refresh", "--stack", site, "--yes"]);
                assert.deepStrictEqual(resourceSummary(output), { unchanged: created });
                await ok(["preview", "--stack", site, "--expect-no-changes"]);
            });

            it("shows the refreshed state beside the plan on the topology page, and no secret", async () => {
                const state = path.join(work, `state-${site}`);
                mkdirSync(state, { recursive: true });
                const exportFile = path.join(state, `${site}.json`);
                await ok(["stack", "export", "--stack", site, "--file", exportFile]);
                const listed = await controlPlane!.call(
                    "GET",
                    "/apis/kubevirt.io/v1/virtualmachines",
                );
                const page = path.join(state, "page.html");
                /** The page `npm run plan -- --stack <site> --html --state` writes, as text. */
                async function statePage(): Promise<string> {
                    const result = await run(process.execPath, [
                        "scripts/run.js",
                        "plan",
                        "--stack",
                        site,
                        "--html",
                        page,
                        "--state",
                        state,
                    ]);
                    assert.strictEqual(result.status, 0, result.output);
                    return readFileSync(page, "utf8");
                }
                const json = await run(process.execPath, [
                    "scripts/run.js",
                    "plan",
                    "--stack",
                    site,
                    "--json",
                ]);
                const declared: number = JSON.parse(json.output.slice(json.output.indexOf("{")))
                    .resources.length;
                const rows = (html: string, table: string) =>
                    [
                        ...html
                            .split(`<table class="${table}">`)[1]
                            .split("</table>")[0]
                            .matchAll(/<tr data-[a-z]+="[^"]*">(.*?)<\/tr>/g),
                    ].map((m) => [...m[1].matchAll(/<td>(.*?)<\/td>/g)].map((td) => td[1]));
                const vms = (listed.body.items as any[])
                    .filter((vm) => vm.metadata.labels?.[labels.site] === site)
                    .sort((a, b) =>
                        `${a.metadata.namespace}/${a.metadata.name}` <
                        `${b.metadata.namespace}/${b.metadata.name}`
                            ? -1
                            : 1,
                    );
                const expectedVms = (source: string) =>
                    vms.map((vm) => {
                        const ready = vm.status.conditions.find((c: any) => c.type === "Ready");
                        const node = `${vm.metadata.labels[labels.cluster]}/${vm.metadata.labels[labels.node]}`;
                        return [
                            node,
                            vm.metadata.name,
                            vm.status.printableStatus,
                            ready.status === "True"
                                ? "True"
                                : `${ready.status}: ${[ready.reason, ready.message].filter((x) => x).join(": ")}`,
                            ready.lastTransitionTime,
                            source,
                        ];
                    });

                // From the state alone, as the last refresh saw it...
                const fromState = await statePage();
                assert.ok(
                    fromState.includes(
                        `<p class="state-counts">${declared} resources in both the plan and the state; 0 only in the state; 0 only in the plan.</p>`,
                    ),
                );
                assert.deepStrictEqual(rows(fromState, "live-vms"), expectedVms("stack state"));
                assert.deepStrictEqual(
                    rows(fromState, "live-clusters"),
                    // The provider keeps ClusterSync's node list secret: the page does not open it.
                    plan.clusters.map((c) => [
                        c.name,
                        c.rancherName,
                        "active",
                        "(a secret in the state)",
                    ]),
                );
                // ...and with the host cluster's own list.
                writeFileSync(path.join(state, `${site}.vms.json`), JSON.stringify(listed.body));
                const withHosts = await statePage();
                assert.deepStrictEqual(rows(withHosts, "live-vms"), expectedVms("host cluster"));
                // The export's secrets are ciphertext, and the page holds none of them, nor a credential.
                const ciphertexts = [
                    ...readFileSync(exportFile, "utf8").matchAll(/"ciphertext": ?"([^"]+)"/g),
                ].map((m) => m[1]);
                assert.ok(ciphertexts.length > 0);
                for (const secret of [
                    ...ciphertexts,
                    rancherToken,
                    // The site's kubeconfig (a secret of the stack) authenticates with this token.
                    controlPlane!.token,
                ]) {
                    assert.ok(
                        !withHosts.includes(secret),
                        `the page holds ${secret.slice(0, 12)}...`,
                    );
                }
            });

            it("destroys everything with the program, Rancher's clusters included", async () => {
                const output = await ok(["destroy", "--stack", site, "--yes", "--run-program"]);
                // With the program, the CLI also counts what it read back before deleting it.
                assert.deepStrictEqual(resourceSummary(output), {
                    deleted: created,
                    unchanged: created,
                });
                assert.deepStrictEqual(
                    await objectNames("/apis/kubevirt.io/v1/virtualmachines"),
                    [],
                );
                assert.deepStrictEqual(rancher!.clusters(), {});
            });
        });
    }

    describe("afterwards", () => {
        it("sent Rancher only requests it accepts, and the provider's calls for each step", () => {
            assert.deepStrictEqual(rancher!.refused, []);
            const calls = new Set(
                rancher!.requests.map((request) =>
                    request
                        .replace(/c-m-[0-9a-f]{8}/g, "<id>")
                        .replace(/\/fleet-default\/[a-z0-9-]+/, "/fleet-default/<name>"),
                ),
            );
            for (const call of [
                "GET /ping 200",
                "GET /v3 200",
                "GET /v3/schemas 200",
                "GET /v3/settings/k8s-version 200",
                "GET /v3/settings/cacerts 200",
                "GET /k8s/clusters/local/v1 200",
                "GET /k8s/clusters/local/v1/schemas 200",
                "POST /k8s/clusters/local/v1/provisioning.cattle.io.clusters 201",
                "GET /k8s/clusters/local/v1/provisioning.cattle.io.clusters/fleet-default/<name> 200",
                "GET /v3/clusters/<id> 200",
                "GET /v3/clusterregistrationtokens/<id>:default-token 200",
                "POST /v3/clusters/<id>?action=generateKubeconfig 200",
                "DELETE /k8s/clusters/local/v1/provisioning.cattle.io.clusters/fleet-default/<name> 200",
            ]) {
                assert.ok(calls.has(call), `no ${call} among:\n${[...calls].join("\n")}`);
            }
        });
    });
});
