import * as assert from "assert";
import { mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { planStack } from "../lib/plan/stackPlan";
import { stackFileConfig, parseStackFile, withAllocations } from "../lib/config/stackFile";
import { diffResources, parseRendered } from "../offline/diff";
import { evaluateProgram, placeholders } from "../offline/evaluate";
import { readTree } from "../offline/tree";
import {
    WorkbenchFiles,
    duplicateEntry,
    exportedFiles,
    fieldsAt,
    graphOf,
    lockedStackFile,
    nextName,
    planChanges,
    planFiles,
    removeEntry,
    setField,
} from "../offline/workbench";
import { withInterconnects, workbenchFiles } from "../runtime/projectFiles";
import { projectRoot } from "./mocks";
import { renderedDir } from "./pages";

const clusters = (i: number) => ["config", "edge:clusters", i];

/** The project's committed files with greece's text replaced. */
function withGreece(files: WorkbenchFiles, greece: string): WorkbenchFiles {
    return { ...files, stacks: { ...files.stacks, greece } };
}

function withFrance(files: WorkbenchFiles, france: string): WorkbenchFiles {
    return { ...files, stacks: { ...files.stacks, france } };
}

/** Greece changed as test/pages.ts changedGreece changes it, through the workbench's edits. */
function changedGreeceText(text: string): string {
    let edited = setField(text, [...clusters(0), "nodes", 1], "memory", "8Gi");
    edited = setField(edited, [...clusters(0), "nodes", 0], "disk", "20Gi");
    edited = duplicateEntry(edited, [...clusters(0), "nodes", 1])!.text;
    return setField(edited, clusters(0), "acknowledgeReplacement", "true");
}

describe("the workbench's model (offline/workbench.ts)", () => {
    const committed = workbenchFiles(projectRoot);

    it("plans each site as npm run plan does, with its interconnect peers", () => {
        const planned = planFiles(committed);
        assert.deepStrictEqual(
            planned.sites.map((s) => [s.stack, s.problems]),
            [
                ["france", undefined],
                ["greece", undefined],
            ],
        );
        for (const site of planned.sites) {
            const raw = withInterconnects(
                stackFileConfig(parseStackFile(committed.stacks[site.stack], site.stack)),
                projectRoot,
            );
            assert.deepStrictEqual(site.plan, planStack(raw).plan);
        }
        assert.deepStrictEqual(
            planned.interconnects?.gateways.map((g) => [g.site, g.interconnect, g.ip]),
            [
                ["greece", "eu", "192.168.18.250"],
                ["france", "eu", "10.120.0.250"],
            ],
        );
    });

    it("gives a site's problems in the words and order of npm run plan", () => {
        const bad = committed.stacks.greece.replace("memory: 4Gi", "memory: lots");
        const planned = planFiles(withGreece(committed, bad));
        assert.strictEqual(
            planned.sites[1].problems,
            [
                "invalid stack config (1 problem):",
                '  - clusters[0].nodes[0].memory: "lots" is not a Kubernetes quantity (e.g. 4Gi, 512Mi)',
            ].join("\n"),
        );
        // France's gateway peers with greece's, so it waits for greece too, as its CLI plan does.
        assert.strictEqual(
            planned.sites[0].problems,
            [
                "invalid stack config (1 problem):",
                "  - interconnects.yaml:interconnects[0].members[0].site: Pulumi.greece.yaml has config errors of its own; fix them first (npm run plan -- --stack greece lists them)",
            ].join("\n"),
        );
        const broken = planFiles(withGreece(committed, "config: [unclosed"));
        assert.match(broken.sites[1].problems!, /^Pulumi\.greece\.yaml: /);
    });

    it("draws every site, network, cluster, node, host and gateway, and the interconnect", () => {
        const elements = graphOf(committed, planFiles(committed));
        assert.deepStrictEqual(
            elements.filter((e) => e.group === "nodes").map((e) => e.data.id),
            [
                "site:france",
                "net:france/edge",
                "net:france/storage",
                "net:france/fabric",
                "gw:france/eu",
                "cluster:france/core",
                "node:france/core/server1",
                "node:france/core/server2",
                "node:france/core/server3",
                "node:france/core/worker1",
                "node:france/core/worker2",
                "cluster:france/lab",
                "node:france/lab/node1",
                "cluster:france/ml",
                "node:france/ml/server-1",
                "node:france/ml/cpu-1",
                "node:france/ml/cpu-2",
                "node:france/ml/gpu-1",
                "host:france/fr-host-1",
                "host:france/fr-host-2",
                "host:france/fr-host-3",
                "site:greece",
                "net:greece/lab",
                "gw:greece/eu",
                "cluster:greece/final-test",
                "node:greece/final-test/cluster-master",
                "node:greece/final-test/worker1",
                "host:greece/gr-host-1",
            ],
        );
        const edges = elements.filter((e) => e.group === "edges");
        assert.deepStrictEqual(
            edges.filter((e) => e.data.kind === "link").map((e) => [e.data.source, e.data.target]),
            [["gw:france/eu", "gw:greece/eu"]],
        );
        assert.deepStrictEqual(
            edges
                .filter((e) => e.data.source === "node:france/ml/gpu-1")
                .map((e) => [e.data.kind, e.data.target, e.data.label]),
            [
                ["nic", "net:france/edge", "10.120.0.19"],
                ["nic", "net:france/fabric", "10.122.0.10"],
                ["placement", "host:france/fr-host-3", ""],
            ],
        );
        // An intent's node edits its pool; a written node, itself.
        const pathOf = (id: string) => elements.find((e) => e.data.id === id)!.data.path;
        assert.deepStrictEqual(pathOf("node:france/ml/gpu-1"), [
            ...clusters(2),
            "intent",
            "workers",
            1,
        ]);
        assert.deepStrictEqual(pathOf("node:france/ml/server-1"), [
            ...clusters(2),
            "intent",
            "servers",
        ]);
        assert.deepStrictEqual(pathOf("node:greece/final-test/worker1"), [
            ...clusters(0),
            "nodes",
            1,
        ]);
        assert.deepStrictEqual(pathOf("host:france/fr-host-3"), [
            "config",
            "edge:site",
            "hosts",
            2,
        ]);
        assert.deepStrictEqual(elements.find((e) => e.data.id === "gw:greece/eu")!.data, {
            id: "gw:greece/eu",
            label: "gateway eu\n192.168.18.250",
            kind: "gateway",
            parent: "site:greece",
            file: "interconnects.yaml",
            path: ["interconnects", 0, "members", 0],
        });
        assert.deepStrictEqual(graphOf(committed, planFiles(committed)), elements);
    });

    it("marks what a change creates, updates, replaces and deletes, as the resource diff does", async () => {
        const before = planFiles(committed);
        const greece = changedGreeceText(committed.stacks.greece);
        const after = planFiles(withGreece(committed, greece));
        const changes = planChanges(before, after);
        assert.deepStrictEqual(changes, [
            {
                site: "greece",
                what: "final-test/cluster-master",
                kind: "node",
                action: "replace",
                reasons: ["disk 15Gi → 20Gi"],
            },
            {
                site: "greece",
                what: "final-test/worker1",
                kind: "node",
                action: "update",
                reasons: ["memory 4Gi → 8Gi"],
            },
            {
                site: "greece",
                what: "final-test/worker2",
                kind: "node",
                action: "create",
                reasons: [],
            },
        ]);
        // The program's own resources, diffed against the committed offline plan, agree.
        const config = parseStackFile(greece, "Pulumi.greece.yaml").config;
        const evaluation = await evaluateProgram(config, placeholders, {
            stack: "greece",
            preview: true,
        });
        const vmChanges = diffResources(
            parseRendered(readTree(renderedDir("greece"))),
            evaluation.resources,
        )
            .filter((c) => c.type === "kubernetes:kubevirt.io/v1:VirtualMachine")
            .map((c) => [c.name, c.action]);
        assert.deepStrictEqual(vmChanges, [
            ["final-test-cluster-master", "replace"],
            ["final-test-worker1", "update"],
            ["final-test-worker2", "create"],
        ]);

        const removed = removeEntry(committed.stacks.greece, [...clusters(0), "nodes", 1]);
        const afterRemoval = planFiles(withGreece(committed, removed));
        assert.deepStrictEqual(planChanges(before, afterRemoval), [
            {
                site: "greece",
                what: "final-test/worker1",
                kind: "node",
                action: "delete",
                reasons: [],
            },
        ]);
        const graph = graphOf(
            withGreece(committed, removed),
            afterRemoval,
            planChanges(before, afterRemoval),
            before,
        );
        assert.deepStrictEqual(
            graph.find((e) => e.data.id === "node:greece/final-test/worker1")?.data.change,
            "delete",
        );
    });

    it("marks what the program declares besides nodes: namespaces, networks, images, APIs, gateways", () => {
        const before = planFiles(committed);
        const changesOf = (stack: "greece" | "france", text: string) =>
            planChanges(
                before,
                planFiles({ ...committed, stacks: { ...committed.stacks, [stack]: text } }),
            );
        assert.deepStrictEqual(
            changesOf(
                "greece",
                setField(committed.stacks.greece, clusters(0), "directApi", "{enabled: false}"),
            ),
            [
                {
                    site: "greece",
                    kind: "cluster",
                    what: "final-test",
                    action: "update",
                    reasons: ["deletes its direct API Service"],
                },
            ],
        );
        assert.deepStrictEqual(
            changesOf(
                "france",
                setField(
                    committed.stacks.france,
                    ["config", "edge:site", "networks", 1],
                    "vlan",
                    "131",
                ),
            ),
            [
                {
                    site: "france",
                    kind: "network",
                    what: "storage",
                    action: "update",
                    reasons: ["vlan 121 → 131"],
                },
            ],
        );
        // A golden image's spec is immutable: a new URL is a new import.
        assert.deepStrictEqual(
            changesOf(
                "france",
                setField(
                    committed.stacks.france,
                    ["config", "edge:images"],
                    "ubuntu-noble",
                    "https://example.org/noble.img",
                ),
            ).map((c) => [c.kind, c.what, c.action]),
            [["image", "ubuntu-noble", "replace"]],
        );
        // Kubernetes renames nothing: a new namespace replaces every VM and disk in it.
        let moved = setField(committed.stacks.greece, clusters(0), "namespace", "ft2");
        moved = setField(moved, clusters(0), "acknowledgeReplacement", "true");
        assert.deepStrictEqual(
            changesOf("greece", moved).map((c) => [c.kind, c.what, c.action, c.reasons.join("; ")]),
            [
                ["namespace", "ft2", "create", ""],
                ["namespace", "final-test", "delete", ""],
                ["cluster", "final-test", "update", "its direct API Service changes"],
                ["node", "final-test/cluster-master", "replace", "namespace final-test → ft2"],
                ["node", "final-test/worker1", "replace", "namespace final-test → ft2"],
            ],
        );
        // A site declares its gateway VM once it has its WireGuard key, and routes its nodes to it.
        const keyed = committed.stacks.greece.replace(
            "  edge:site:",
            "  edge:wireguardPrivateKey:\n    secure: v1:AAAA\n  edge:site:",
        );
        assert.deepStrictEqual(
            changesOf("greece", keyed).map((c) => [c.kind, c.what, c.action]),
            [
                ["node", "final-test/cluster-master", "update"],
                ["node", "final-test/worker1", "update"],
                ["gateway", "eu", "create"],
            ],
        );
    });

    it("plans no site while interconnects.yaml is not YAML, and a peer's broken file stops its peers", () => {
        const notYaml = planFiles({ ...committed, interconnects: "interconnects: [\n" });
        assert.deepStrictEqual(
            notYaml.sites.map((s) => [s.stack, s.plan, s.problems?.split("\n")[0]]),
            [
                [
                    "france",
                    undefined,
                    "interconnects.yaml: Flow sequence in block collection must be sufficiently indented and end with a ] at line 2, column 1:",
                ],
                [
                    "greece",
                    undefined,
                    "interconnects.yaml: Flow sequence in block collection must be sufficiently indented and end with a ] at line 2, column 1:",
                ],
            ],
        );
        const broken = planFiles(
            withGreece(committed, committed.stacks.greece.replace("cpu: 6", "cpu: [6")),
        );
        assert.strictEqual(
            broken.sites[0].problems,
            "invalid stack config (1 problem):\n  - interconnects.yaml:interconnects[0].members[0].site: Pulumi.greece.yaml has config errors of its own; fix them first (npm run plan -- --stack greece lists them)",
        );
        assert.match(broken.sites[1].problems!, /^Pulumi\.greece\.yaml: /);
    });

    it("refuses an edit it cannot make, and says why", () => {
        const notYaml = committed.stacks.greece.replace("cpu: 6", "cpu: [6");
        assert.throws(
            () => setField(notYaml, [...clusters(0), "nodes", 1], "memory", "8Gi"),
            /^Error: the file is not valid YAML, fix it in Files first: /,
        );
        assert.throws(
            () => removeEntry(committed.stacks.greece, [...clusters(0), "nodes", 7]),
            new Error("nothing to edit at config.edge:clusters.0.nodes.7 any more"),
        );
        assert.throws(
            () => setField(committed.stacks.greece, [...clusters(0), "nodes", 7], "memory", "8Gi"),
            new Error("nothing to edit at config.edge:clusters.0.nodes.7 any more"),
        );
        // While a site does not plan, its intents' nodes are drawn from the last plan, unedited.
        const france = setField(
            committed.stacks.france,
            [...clusters(2), "intent", "workers", 1],
            "memory",
            "lots",
        );
        const graph = graphOf(
            withFrance(committed, france),
            planFiles(withFrance(committed, france)),
            [],
            planFiles(committed),
        );
        const gpu = graph.find((e) => e.data.id === "node:france/ml/gpu-1")!.data;
        assert.deepStrictEqual([gpu.file, gpu.path], [undefined, undefined]);
        const server = graph.find((e) => e.data.id === "node:france/core/server1")!.data;
        assert.deepStrictEqual(server.path, [...clusters(0), "nodes", 0]);
    });

    it("edits fields as YAML values, keeping the rest of the file as written", () => {
        const text = committed.stacks.france;
        const pool = [...clusters(2), "intent", "workers", 1];
        assert.deepStrictEqual(fieldsAt(text, pool), [
            { key: "name", text: "gpu" },
            { key: "count", text: "1" },
            { key: "cpu", text: "8" },
            { key: "memory", text: "32Gi" },
            { key: "disk", text: "80Gi" },
            { key: "gpus", text: "[nvidia.com/TU104GL_Tesla_T4]" },
            { key: "dedicatedCpu", text: "true" },
            { key: "sriov", text: "[fabric]" },
        ]);
        const edited = setField(text, pool, "memory", "48Gi");
        assert.strictEqual(edited, text.replace("memory: 32Gi", "memory: 48Gi"));
        assert.strictEqual(setField(edited, pool, "memory", "32Gi"), text);
        assert.strictEqual(
            setField(text, pool, "dedicatedCpu", ""),
            text.replace("            dedicatedCpu: true\n", ""),
        );
        assert.strictEqual(
            setField(text, pool, "hugepages", "{2Mi: 1Gi}"),
            text.replace(
                "            sriov: [fabric]\n",
                "            sriov: [fabric]\n            hugepages: {2Mi: 1Gi}\n",
            ),
        );
    });

    it("duplicates an entry under a free name, without what only one entry may have", () => {
        const copy = duplicateEntry(committed.stacks.greece, [...clusters(0), "nodes", 1])!;
        assert.strictEqual(copy.name, "worker2");
        assert.ok(
            copy.text.includes(
                [
                    "        - name: worker2",
                    "          roles: [worker]",
                    "          cpu: 6",
                    "          memory: 4Gi",
                    "          disk: 15Gi",
                    "          image: ubuntu-focal",
                    "          networks:",
                    "            - lab",
                    "  # Written by `npm run lock`",
                ].join("\n"),
            ),
        );
        // A cluster's copy plans its own CIDRs, node port and addresses.
        const core = duplicateEntry(committed.stacks.france, clusters(0))!;
        assert.strictEqual(core.name, "core2");
        const copied = fieldsAt(core.text, clusters(1));
        assert.deepStrictEqual(
            copied.map((f) => f.key),
            ["name", "type", "kubernetesVersion", "cni", "directApi", "nodes"],
        );
        assert.strictEqual(copied[4].text, "{enabled: true}");
        assert.ok(!copied[5].text.includes("ip:"));
        assert.deepStrictEqual(
            planFiles(withFrance(committed, core.text)).sites.map((s) => s.problems),
            [undefined, undefined],
        );
        assert.strictEqual(
            duplicateEntry(committed.stacks.greece, clusters(0).slice(0, 2)),
            undefined,
        );
        assert.strictEqual(nextName("worker1", ["worker2"]), "worker3");
        assert.strictEqual(nextName("cpu", []), "cpu2");
        assert.strictEqual(nextName("fr-host-3", []), "fr-host-4");
    });

    it("never takes a stack file with a credential in plain text into the page", () => {
        const dir = mkdtempSync(path.join(tmpdir(), "edge-workbench-files-"));
        writeFileSync(path.join(dir, "Pulumi.greece.yaml"), committed.stacks.greece);
        writeFileSync(
            path.join(dir, "Pulumi.france.yaml"),
            committed.stacks.france.replace(
                "  rancher2:apiUrl: https://rancher.example.org\n",
                "  rancher2:apiUrl: https://rancher.example.org\n  rancher2:tokenKey: token-x:plain\n",
            ),
        );
        assert.throws(
            () => workbenchFiles(dir),
            new Error(
                "Pulumi.france.yaml holds rancher2:tokenKey in plain text, which the page would carry: store each with pulumi config set --secret, then write the page",
            ),
        );
        rmSync(dir, { recursive: true, force: true });
    });

    it("exports each changed file, stack files as npm run lock writes them", () => {
        assert.deepStrictEqual(exportedFiles(committed, committed), {});
        const greece = changedGreeceText(committed.stacks.greece);
        const file = parseStackFile(greece, "Pulumi.greece.yaml");
        const { plan } = planStack(stackFileConfig(file));
        const locked = withAllocations(file.document, plan.allocations);
        assert.deepStrictEqual(exportedFiles(withGreece(committed, greece), committed), {
            "Pulumi.greece.yaml": locked,
        });
        assert.strictEqual(lockedStackFile("greece", locked), locked);
        assert.ok(locked.includes("        worker2:\n          lab: 192.168.18.2\n"));
        const interconnects = committed.interconnects!.replace(
            "tunnelCidr: 10.255.0.0/29",
            "tunnelCidr: 10.255.1.0/29",
        );
        assert.deepStrictEqual(exportedFiles({ ...committed, interconnects }, committed), {
            "interconnects.yaml": interconnects,
        });
    });
});
