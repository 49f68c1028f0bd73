import * as assert from "assert";
import { planStack } from "../lib/plan";
import { stackFileConfig, parseStackFile, withAllocations } from "../lib/stackFile";
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
