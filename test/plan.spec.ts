import * as assert from "assert";
import { execFileSync, spawnSync } from "child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { parse, parseDocument } from "yaml";
import { cloudInitUuid } from "../lib/render/instanceId";
import { planStack } from "../lib/plan/stackPlan";
import {
    parseStackFile,
    rawStackConfig,
    secretPlaceholder,
    stackFileConfig,
} from "../lib/config/stackFile";
import {
    chains,
    diffResources,
    formatDiff,
    formatPath,
    parsePath,
    parseRendered,
    RenderedResource,
    ResourceChange,
    replaceReasons,
    kubernetesProviderSettings,
} from "../offline/diff";
import { EvaluatedResource, Evaluation, evaluateProgram, placeholders } from "../offline/evaluate";
import { renderExplanation } from "../offline/explain";
import { readTree } from "../offline/tree";
import {
    addressSummary,
    planDocument,
    renderFiles,
    renderJson,
    renderSummary,
} from "../offline/render";
import { locked } from "./fixtures";
import {
    editableStackConfig,
    projectRoot,
    registrationCommandOf,
    stackConfig,
    types,
} from "./mocks";
import { readStackFile, withInterconnects } from "../runtime/projectFiles";

const greece = () => editableStackConfig("greece");

/** What `--diff` reports for greece's stack rendered from `base()`, then from it after `edit`. */
async function changesAfter(
    base: () => Record<string, any>,
    edit: (config: Record<string, any>) => void,
): Promise<ResourceChange[]> {
    const before = await render(locked(base()), "greece");
    const edited = base();
    edit(edited);
    const after = await render(locked(edited), "greece");
    return diffResources(parseRendered(before.files), after.evaluation.resources);
}

async function render(
    config: Record<string, any>,
    stack: string,
): Promise<{
    evaluation: Evaluation;
    files: Record<string, string>;
    summary: string;
    json: string;
}> {
    const { plan } = planStack(rawStackConfig(config));
    const evaluation = await evaluateProgram(config, placeholders, { stack, preview: true });
    const addresses = addressSummary(plan, evaluation.outputs);
    return {
        evaluation,
        files: renderFiles(evaluation, addresses, plan.site),
        summary: renderSummary(stack, evaluation, addresses, plan.site),
        json: renderJson(planDocument(stack, evaluation, addresses)),
    };
}

/** Greece with a second image declared, so that a node can switch images without a new import. */
function greeceWithTwoImages(): Record<string, any> {
    const config = editableStackConfig("greece");
    config["edge:images"]["ubuntu-jammy"] =
        "https://cloud-images.ubuntu.com/jammy/current/jammy-server-cloudimg-amd64.img";
    return config;
}

describe("offline plan", () => {
    for (const stack of ["greece", "france"]) {
        it(`rendered/${stack} is what the code renders now`, async () => {
            const { files } = await render(editableStackConfig(stack), stack);
            const committed = readTree(path.join(projectRoot, "rendered", stack));
            const stale = {
                changed: Object.keys(files).filter(
                    (f) => f in committed && committed[f] !== files[f],
                ),
                missing: Object.keys(files).filter((f) => !(f in committed)),
                extra: Object.keys(committed).filter((f) => !(f in files)),
            };
            assert.deepStrictEqual(
                stale,
                { changed: [], missing: [], extra: [] },
                `rendered/${stack} is stale: run npm run plan -- --stack ${stack} --out rendered/${stack}`,
            );
        });
    }

    it("npm run plan, compiled by tsc into build/, writes exactly rendered/greece", () => {
        const out = mkdtempSync(path.join(tmpdir(), "edge-plan-"));
        try {
            execFileSync(
                process.execPath,
                ["scripts/run.js", "plan", "--stack", "greece", "--out", out],
                { cwd: projectRoot, stdio: "pipe" },
            );
            assert.deepStrictEqual(
                readTree(out),
                readTree(path.join(projectRoot, "rendered", "greece")),
            );
        } finally {
            rmSync(out, { recursive: true, force: true });
        }
    });

    it("npm run plan prunes what tsc emitted for a source that is gone, which would shadow a folder", () => {
        const stale = path.join(projectRoot, "build", "lib", "config.js");
        mkdirSync(path.dirname(stale), { recursive: true });
        writeFileSync(stale, 'throw new Error("a stale lib/config.js was loaded");\n');
        // A changed source is what makes run.js compile again.
        rmSync(path.join(projectRoot, "build", ".sources"), { force: true });
        const run = spawnSync(
            process.execPath,
            ["scripts/run.js", "plan", "--stack", "greece", "--explain"],
            { cwd: projectRoot, encoding: "utf8" },
        );
        assert.strictEqual(run.status, 0, run.stderr);
        assert.ok(!existsSync(stale));
        assert.ok(existsSync(path.join(projectRoot, "build", "lib", "config", "index.js")));
    });

    it("plans once per npm run plan: the program finds the script's plan of the same config", () => {
        const file = readStackFile(path.join(projectRoot, "Pulumi.greece.yaml"));
        const script = planStack(withInterconnects(stackFileConfig(file), projectRoot));
        // The program reads each value back from JSON, in the order Pulumi gives the keys.
        const asProgramReads = Object.fromEntries(
            Object.entries(file.config)
                .reverse()
                .map(([key, value]) => [key, JSON.parse(JSON.stringify(value))]),
        );
        const program = planStack(withInterconnects(rawStackConfig(asProgramReads), projectRoot));
        assert.strictEqual(program.plan, script.plan);
        assert.ok(Object.isFrozen(script.plan.clusters[0].nodes[0].virtualMachine));
    });

    it("renders byte-identical output run after run", async () => {
        const first = await render(editableStackConfig("france"), "france");
        const second = await render(editableStackConfig("france"), "france");
        assert.deepStrictEqual(second.files, first.files);
        assert.strictEqual(second.summary, first.summary);
        assert.strictEqual(second.json, first.json);
    });

    it("shows every node with its IPs and MACs, and marks computed values", async () => {
        const { summary } = await render(editableStackConfig("greece"), "greece");
        const lines = summary.split("\n");
        assert.strictEqual(
            lines[0],
            "Offline plan of stack greece: values providers compute are shown as <computed: ...>.",
        );
        assert.ok(lines.includes("  EdgeCluster final-test"));
        assert.ok(lines.includes("      VirtualMachine final-test/final-test-worker1"));
        assert.ok(lines.includes("    ClusterV2 final-test (Rancher: greece-final-test)"));
        assert.ok(
            lines.includes(
                "  final-test  k3s   v1.31.5+k3s1  10.64.0.0/16  10.65.0.0/16  https://172.28.2.88:<computed: node port>",
            ),
        );
        assert.ok(
            lines.includes(
                "  final-test/worker1         worker                    6    4Gi     15Gi  ubuntu-focal  lab=192.168.18.204  lab=4a:cd:1e:23:e1:af",
            ),
        );
        assert.strictEqual(
            lines[lines.length - 2],
            "Totals: 1 cluster, 2 nodes, 12 CPUs, 8Gi memory, 30Gi disk; 21 resources (12 Kubernetes, 2 Rancher)",
        );
    });

    it("the JSON document lists resources with parents, inputs and options, and the addresses", async () => {
        const document = JSON.parse((await render(editableStackConfig("greece"), "greece")).json);
        assert.deepStrictEqual(document.errors, []);
        assert.strictEqual(document.stack, "greece");
        const vm = document.resources.find(
            (r: any) =>
                r.type === "kubernetes:kubevirt.io/v1:VirtualMachine" &&
                r.name === "final-test-worker1",
        );
        assert.strictEqual(vm.parent, "edge:index:KubevirtNode::final-test-worker1");
        assert.strictEqual(vm.inputs.spec.template.spec.domain.memory.guest, "4Gi");
        assert.deepStrictEqual(vm.options.replaceOnChanges, [
            'metadata.annotations["edge.testbed/root-disk"]',
            'metadata.annotations["edge.testbed/cluster-identity"]',
        ]);
        assert.strictEqual(vm.options.deleteBeforeReplace, true);
        assert.deepStrictEqual(document.addresses.clusters["final-test"].nodes.worker1.ips, {
            lab: "192.168.18.204",
        });
    });

    describe("--diff", () => {
        it("reports one create chain, one update and one replace chain for a typical edit", async () => {
            const changes = await changesAfter(greeceWithTwoImages, (edited) => {
                const nodes = edited["edge:clusters"][0].nodes;
                nodes.push({ ...structuredClone(nodes[1]), name: "worker2", networks: ["lab"] });
                nodes[0].memory = "8Gi";
                nodes[1].image = "ubuntu-jammy";
            });
            assert.deepStrictEqual(
                chains(changes).map((c) => [c.action, c.root, c.changes.map((r) => r.name)]),
                [
                    [
                        "create",
                        "edge:index:KubevirtNode::final-test-worker2",
                        [
                            "final-test-worker2-rootdisk",
                            "final-test-worker2-cloudinit",
                            "final-test-worker2",
                        ],
                    ],
                    [
                        "update",
                        "kubernetes:kubevirt.io/v1:VirtualMachine::final-test-cluster-master",
                        ["final-test-cluster-master"],
                    ],
                    // A changed node set makes `pulumi up` wait for the cluster again.
                    ["replace", "edge:index:EdgeCluster::final-test", ["final-test-sync"]],
                    [
                        "replace",
                        "edge:index:KubevirtNode::final-test-worker1",
                        ["final-test-worker1-rootdisk", "final-test-worker1"],
                    ],
                ],
            );
            const update = changes.find((c) => c.action === "update")!;
            assert.deepStrictEqual(update.fields, [
                {
                    path: ["spec", "template", "spec", "domain", "memory", "guest"],
                    before: "4Gi",
                    after: "8Gi",
                },
            ]);
            const [disk, vm, sync] = changes.filter((c) => c.action === "replace");
            assert.deepStrictEqual(sync.reasons, ["replacementTrigger changed"]);
            assert.deepStrictEqual(sync.fields, []);
            assert.deepStrictEqual(disk.reasons, [
                "a DataVolume's spec is immutable",
                "replaceOnChanges: spec",
                'replaceOnChanges: metadata.annotations["edge.testbed/root-disk"]',
            ]);
            const rootDisk = (image: string) =>
                `image=edge-images/${image} size=15Gi storageClass=local-path roles=worker`;
            assert.deepStrictEqual(disk.fields, [
                {
                    path: ["metadata", "annotations", "edge.testbed/root-disk"],
                    before: rootDisk("ubuntu-focal"),
                    after: rootDisk("ubuntu-jammy"),
                },
                {
                    path: ["spec", "source", "pvc", "name"],
                    before: "ubuntu-focal",
                    after: "ubuntu-jammy",
                },
            ]);
            assert.deepStrictEqual(vm.reasons, [
                'replaceOnChanges: metadata.annotations["edge.testbed/root-disk"]',
                "replaceWith: final-test-worker1-rootdisk is replaced",
            ]);
            assert.ok(disk.deleteFirst && vm.deleteFirst);

            const report = formatDiff(changes).split("\n");
            assert.ok(report.includes("update VirtualMachine final-test-cluster-master"));
            assert.ok(
                report.includes('      spec.template.spec.domain.memory.guest: "4Gi" => "8Gi"'),
            );
            assert.ok(report.includes("  +- VirtualMachine final-test-worker1 (deleted first)"));
            assert.strictEqual(
                report[report.length - 2],
                "1 create chain, 1 update, 2 replace chains, 0 delete chains",
            );
        });

        it("reports a removed node as one delete chain", async () => {
            const changes = await changesAfter(greece, (edited) => {
                edited["edge:clusters"][0].nodes.pop();
            });
            assert.deepStrictEqual(
                chains(changes).map((c) => [c.action, c.root, c.changes.length]),
                [
                    ["replace", "edge:index:EdgeCluster::final-test", 1],
                    ["delete", "edge:index:KubevirtNode::final-test-worker1", 3],
                ],
            );
        });

        for (const protect of [false, true]) {
            it(`updates each node's cloud-init Secret in place when cloud-init changes${protect ? ", on a protected site too" : ""}`, async () => {
                const key =
                    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIuugjcbloVjbQTTkAhCMPaGjQ9D0W6PssFpJlAYGFuX noc@example";
                const base = () => {
                    const config = greece();
                    config["edge:site"].protect = protect;
                    return config;
                };
                const changes = await changesAfter(base, (edited) => {
                    edited["edge:site"].sshAuthorizedKeys.push(key);
                });
                // The host provider sets enableSecretMutable: Pulumi refuses to replace a
                // protected resource, and e2e/program.e2e.ts sees the real provider update them.
                // Each VM takes its cloud-init's new firmware UUID, the guest's instance-id, in
                // an update too: it applies the change on its next restart.
                assert.deepStrictEqual(
                    changes.map((c) => [c.action, c.name, c.reasons, c.deleteFirst]),
                    [
                        ["update", "final-test-cluster-master-cloudinit", [], false],
                        ["update", "final-test-worker1-cloudinit", [], false],
                        ["update", "final-test-cluster-master", [], false],
                        ["update", "final-test-worker1", [], false],
                    ],
                );
                const { plan } = planStack(rawStackConfig(locked(base())));
                for (const node of plan.clusters[0].nodes) {
                    const secret = changes.find((c) => c.name === node.cloudInitSecretName)!;
                    assert.deepStrictEqual(
                        secret.fields.map((f) => formatPath(f.path)),
                        ["stringData.userdata"],
                    );
                    const userdata = secret.fields[0].after as string;
                    assert.ok(userdata.includes(`  - ${key}\n`));
                    const vm = changes.find((c) => c.name === node.vmName)!;
                    assert.deepStrictEqual(
                        vm.fields.map((f) => [formatPath(f.path), f.after]),
                        [
                            [
                                "spec.template.spec.domain.firmware.uuid",
                                cloudInitUuid(node.virtualMachine.metadata, {
                                    userdata,
                                    networkdata: node.networkData,
                                }),
                            ],
                        ],
                    );
                    assert.notStrictEqual(vm.fields[0].before, vm.fields[0].after);
                }
                const report = formatDiff(changes).split("\n");
                for (const line of [
                    "  ~ Secret final-test-worker1-cloudinit",
                    "  ~ VirtualMachine final-test-worker1",
                ]) {
                    assert.ok(report.includes(line), report.join("\n"));
                }
            });
        }

        it("reads enableSecretMutable from the stack's Kubernetes provider", async () => {
            const { evaluation } = await render(locked(greece()), "greece");
            assert.deepStrictEqual(kubernetesProviderSettings(evaluation.resources), {
                enableSecretMutable: true,
            });
            assert.deepStrictEqual(kubernetesProviderSettings([]), { enableSecretMutable: false });
        });

        it("deletes first only what the provider replaces under the same name, or what says so", () => {
            const options = {
                dependsOn: [],
                replaceOnChanges: [],
                deleteBeforeReplace: false,
                protect: false,
                beforeDelete: [],
                beforeCreate: [],
                replaceWith: [],
            };
            const secret = (namespace: string, data: string) => ({
                type: "kubernetes:core/v1:Secret",
                name: "s",
                inputs: { metadata: { name: "s", namespace }, stringData: { a: data } },
            });
            const config = (annotation: string) => ({
                type: "kubernetes:core/v1:ConfigMap",
                name: "c",
                inputs: { metadata: { name: "c", annotations: { a: annotation } } },
            });
            const diff = (
                before: RenderedResource,
                after: Omit<EvaluatedResource, "options" | "dependencies">,
                opts = {},
            ) => {
                const [change] = diffResources(
                    [before],
                    [{ ...after, options: { ...options, ...opts }, dependencies: [] }],
                );
                return [change.action, change.deleteFirst];
            };
            // The provider's own replacement, same name: it must delete first.
            assert.deepStrictEqual(diff(secret("a", "1"), secret("a", "2")), ["replace", true]);
            // Moved: the new one can exist beside the old.
            assert.deepStrictEqual(diff(secret("a", "1"), secret("b", "2")), ["replace", false]);
            // Replaced by the program's replaceOnChanges only: the engine creates first, unless
            // the program says otherwise.
            const byAnnotation = { replaceOnChanges: ["metadata.annotations"] };
            assert.deepStrictEqual(diff(config("1"), config("2"), byAnnotation), [
                "replace",
                false,
            ]);
            assert.deepStrictEqual(
                diff(config("1"), config("2"), { ...byAnnotation, deleteBeforeReplace: true }),
                ["replace", true],
            );
        });

        it("prints 'no changes' for the same config", async () => {
            const { files, evaluation } = await render(editableStackConfig("greece"), "greece");
            assert.strictEqual(
                formatDiff(diffResources(parseRendered(files), evaluation.resources)),
                "no changes\n",
            );
        });

        it("replaces Kubernetes objects whose name or namespace changes, and renamed Rancher clusters", () => {
            const moved = [{ path: ["metadata", "namespace"], before: "a", after: "b" }];
            assert.deepStrictEqual(replaceReasons("kubernetes:core/v1:Secret", moved, []), [
                "metadata.namespace changed",
            ]);
            const renamed = [{ path: ["name"], before: "greece-a", after: "greece-b" }];
            assert.deepStrictEqual(
                replaceReasons("rancher2:index/clusterV2:ClusterV2", renamed, []),
                ["a Rancher cluster's name is immutable"],
            );
            const labels = [{ path: ["metadata", "labels", "x"], before: "1", after: "2" }];
            assert.deepStrictEqual(replaceReasons("kubernetes:core/v1:Secret", labels, []), []);
        });

        it("reads and writes Pulumi property paths", () => {
            const text = 'metadata.annotations["edge.testbed/root-disk"]';
            assert.deepStrictEqual(parsePath(text), [
                "metadata",
                "annotations",
                "edge.testbed/root-disk",
            ]);
            assert.strictEqual(formatPath(parsePath(text)), text);
            assert.deepStrictEqual(parsePath("spec.ports[0].nodePort"), [
                "spec",
                "ports",
                0,
                "nodePort",
            ]);
            assert.deepStrictEqual(parsePath("spec.containers[*].image"), [
                "spec",
                "containers",
                "*",
                "image",
            ]);
        });
    });

    it("never writes or prints a secret: encrypted config stays encrypted, Rancher values are placeholders", async () => {
        const document = parseDocument(
            readFileSync(path.join(projectRoot, "Pulumi.greece.yaml"), "utf8"),
        );
        document.setIn(["config", "edge:site", "kubeconfig"], {
            secure: "v1:S1VCRUNPTkZJRy1DSVBIRVI=",
        });
        document.setIn(["config", "edge:sshPrivateKey"], { secure: "v1:U1NILUtFWS1DSVBIRVI=" });
        document.setIn(["config", "edge:clusters", 0, "breakGlassKubeconfig"], true);
        const { config } = parseStackFile(document.toString(), "Pulumi.greece.yaml");
        const { files, summary, json, evaluation } = await render(config, "greece");
        const everything = [summary, json, ...Object.values(files)].join("\n");
        for (const ciphertext of ["S1VCRUNPTkZJRy1DSVBIRVI=", "U1NILUtFWS1DSVBIRVI="]) {
            assert.ok(!everything.includes(ciphertext), "no ciphertext in the plan");
        }
        const command = parse(files["command/Command.final-test-break-glass.yaml"]);
        assert.strictEqual(command.connection.privateKey, secretPlaceholder);
        assert.strictEqual(command.create, "sudo cat /etc/rancher/k3s/k3s.yaml");
        const provider = evaluation.resources.find(
            (r) => r.type === "pulumi:providers:kubernetes",
        )!;
        assert.strictEqual(provider.inputs.kubeconfig, secretPlaceholder);
        const secret = parse(
            files["kubernetes/final-test/Secret.final-test-worker1-cloudinit.yaml"],
        );
        const registration = registrationCommandOf(secret.stringData.userdata);
        assert.ok(
            registration.startsWith(
                "<computed: Rancher node command> --worker --node-name worker1",
            ),
        );
    });

    describe("the command", function () {
        this.timeout(60000);
        const runner = path.join(projectRoot, "scripts", "run.js");

        /** `npm run plan -- <args>` in `cwd`. */
        function plan(cwd: string, ...args: string[]) {
            const run = spawnSync(process.execPath, [runner, "plan", ...args], {
                cwd,
                encoding: "utf8",
            });
            return { status: run.status, stdout: run.stdout, stderr: run.stderr };
        }

        it("prints config errors as field paths, exits 1, and says nothing else", () => {
            const dir = mkdtempSync(path.join(tmpdir(), "plan-"));
            const text = readFileSync(path.join(projectRoot, "Pulumi.greece.yaml"), "utf8")
                .replace("memory: 4Gi", "memory: 4 GB")
                .replace("vlan: 18", "vlan: 0");
            writeFileSync(path.join(dir, "Pulumi.bad.yaml"), text);
            const result = plan(dir, "--stack", "bad");
            assert.deepStrictEqual(result, {
                status: 1,
                stdout: [
                    "invalid stack config (1 problem):",
                    '  - clusters[0].nodes[0].memory: "4 GB" is not a Kubernetes quantity (e.g. 4Gi, 512Mi)',
                    "",
                ].join("\n"),
                stderr: "",
            });
            const json = plan(dir, "--stack", "bad", "--json");
            assert.strictEqual(json.status, 1);
            assert.deepStrictEqual(JSON.parse(json.stdout), {
                errors: [
                    {
                        path: "clusters[0].nodes[0].memory",
                        message: '"4 GB" is not a Kubernetes quantity (e.g. 4Gi, 512Mi)',
                    },
                ],
                resources: [],
                stack: "bad",
            });
        });

        it("writes identical trees twice, and then finds no changes", () => {
            const dir = mkdtempSync(path.join(tmpdir(), "plan-"));
            const first = plan(projectRoot, "--stack", "greece", "--out", path.join(dir, "a"));
            const second = plan(projectRoot, "--stack", "greece", "--out", path.join(dir, "b"));
            assert.strictEqual(first.status, 0, first.stderr);
            assert.strictEqual(second.stdout, first.stdout);
            assert.deepStrictEqual(readTree(path.join(dir, "b")), readTree(path.join(dir, "a")));
            assert.deepStrictEqual(
                plan(projectRoot, "--stack", "greece", "--diff", path.join(dir, "a")),
                {
                    status: 0,
                    stdout: "no changes\n",
                    stderr: "",
                },
            );
        });

        it("explains placement, and checks a stack export for drift", () => {
            const explained = plan(projectRoot, "--stack", "france", "--explain");
            assert.strictEqual(explained.status, 0, explained.stderr);
            assert.strictEqual(
                explained.stdout,
                renderExplanation("france", planStack(rawStackConfig(stackConfig("france"))).plan),
            );
            const dir = mkdtempSync(path.join(tmpdir(), "plan-"));
            const { plan: france } = planStack(rawStackConfig(stackConfig("france")));
            const resources = france.clusters.flatMap((c) =>
                c.nodes.map((n) => ({ type: types.virtualMachine, outputs: n.virtualMachine })),
            );
            const state = path.join(dir, "state.json");
            writeFileSync(state, JSON.stringify({ deployment: { resources } }));
            assert.deepStrictEqual(plan(projectRoot, "--stack", "france", "--check-drift", state), {
                status: 0,
                stdout: `No drift: the 10 node VMs in ${state} are as planned.\n`,
                stderr: "",
            });
            writeFileSync(state, JSON.stringify({ deployment: { resources: resources.slice(1) } }));
            assert.deepStrictEqual(plan(projectRoot, "--stack", "france", "--check-drift", state), {
                status: 1,
                stdout: `Drift between the plan and ${state} (1):\n  core-server1: planned, not in the stack's state (not deployed yet)\n`,
                stderr: "",
            });
            writeFileSync(state, "not json");
            assert.deepStrictEqual(plan(projectRoot, "--stack", "france", "--check-drift", state), {
                status: 2,
                stdout: "",
                stderr: `${state} is not JSON\n`,
            });
            const mixed = plan(projectRoot, "--stack", "france", "--explain", "--json");
            assert.strictEqual(mixed.status, 2);
            assert.match(mixed.stderr, /^usage: npm run plan/);
        });

        it("writes the topology page of every site, byte-identical twice", () => {
            const dir = mkdtempSync(path.join(tmpdir(), "plan-"));
            const page = (name: string, ...args: string[]) => {
                const file = path.join(dir, name);
                const run = plan(projectRoot, "--all", "--html", file, ...args);
                assert.deepStrictEqual(
                    [run.status, run.stdout, run.stderr],
                    [0, "", `wrote ${file} (france, greece)\n`],
                );
                return readFileSync(file, "utf8");
            };
            const first = page("a.html");
            assert.strictEqual(page("b.html"), first);
            assert.ok(first.includes('<article class="site" id="site-france" data-id="france">'));
            assert.ok(first.includes('<article class="site" id="site-greece" data-id="greece">'));
            assert.ok(!first.includes('id="change"'), "no change view without --diff");
            assert.ok(first.includes('<div class="link" data-id="link/eu">'), "the interconnect");
            const unchanged = page("c.html", "--diff", path.join(projectRoot, "rendered"));
            assert.ok(
                unchanged.includes(
                    '<span class="badge change-create" data-count="create">0 to create</span>',
                ),
            );
            assert.ok(!unchanged.includes("data-change="), "nothing marked when nothing changes");
            rmSync(dir, { recursive: true, force: true });
        });

        it("refuses to draw sites whose interconnect shares addresses, naming both files", () => {
            const dir = mkdtempSync(path.join(tmpdir(), "plan-"));
            try {
                for (const file of ["Pulumi.france.yaml", "interconnects.yaml"]) {
                    writeFileSync(path.join(dir, file), readFileSync(path.join(projectRoot, file)));
                }
                const greece = readFileSync(path.join(projectRoot, "Pulumi.greece.yaml"), "utf8");
                writeFileSync(
                    path.join(dir, "Pulumi.greece.yaml"),
                    greece.replace(
                        "clusterCidrPool: 10.64.0.0/12",
                        "clusterCidrPool: 10.80.0.0/12",
                    ),
                );
                const run = plan(dir, "--all", "--html", path.join(dir, "page.html"));
                assert.deepStrictEqual(
                    [run.status, run.stdout, run.stderr],
                    [
                        1,
                        "",
                        [
                            "invalid interconnects.yaml (1 problem):",
                            "  - interconnects[0].members: 10.80.0.0/12 (Pulumi.greece.yaml site.clusterCidrPool) overlaps 10.80.0.0/12 (Pulumi.france.yaml site.clusterCidrPool); joined sites must not share addresses",
                            "",
                        ].join("\n"),
                    ],
                );
            } finally {
                rmSync(dir, { recursive: true, force: true });
            }
        });

        it("prints the same plan whatever the machine's locale", () => {
            const dir = mkdtempSync(path.join(tmpdir(), "plan-"));
            try {
                // In Danish, "aa" sorts after "z": a locale-aware sort would reorder these.
                const text = readFileSync(path.join(projectRoot, "Pulumi.greece.yaml"), "utf8")
                    .replace("- name: cluster-master", "- name: aa-master")
                    .replace("- name: worker1", "- name: zz-worker");
                writeFileSync(
                    path.join(dir, "Pulumi.greece.yaml"),
                    text.replace(/\n {2}# Written by `npm run lock`[\s\S]*$/, "\n"),
                );
                const inLocale = (locale: string) =>
                    spawnSync(process.execPath, [runner, "plan", "--stack", "greece"], {
                        cwd: dir,
                        encoding: "utf8",
                        env: { ...process.env, LC_ALL: locale, LANG: locale },
                    });
                const danish = inLocale("da_DK.UTF-8");
                assert.strictEqual(danish.status, 0, danish.stderr);
                assert.strictEqual(danish.stdout, inLocale("C.UTF-8").stdout);
                assert.ok(
                    danish.stdout.indexOf("aa-master") < danish.stdout.indexOf("zz-worker"),
                    danish.stdout,
                );
            } finally {
                rmSync(dir, { recursive: true, force: true });
            }
        });

        it("refuses --all without --html, or with a single-stack option", () => {
            for (const args of [["--all"], ["--all", "--html", "x.html", "--stack", "greece"]]) {
                const run = plan(projectRoot, ...args);
                assert.strictEqual(run.status, 2, args.join(" "));
                assert.match(run.stderr, /^usage: npm run plan -- --stack <name>/);
            }
        });
    });
});
