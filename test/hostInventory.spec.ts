import * as assert from "assert";
import { spawnSync } from "child_process";
import { readFileSync } from "fs";
import * as path from "path";
import { parse } from "yaml";
import { hostSchema } from "../lib/config/shape";
import {
    HostEntry,
    NodeListError,
    hostsFromNodeList,
    parseNodeListText,
    renderHostsYaml,
} from "../lib/site/hostInventory";

const root = path.resolve(__dirname, "..");
const fixtureFile = path.join("test", "fixtures", "nodes.json");
const fixtureText = readFileSync(path.join(root, fixtureFile), "utf8");
const fixture = () => JSON.parse(fixtureText) as { items: Record<string, any>[] };

const expectedYaml = [
    "hosts:",
    "  - name: kvm-gpu-1",
    "    cpu: 62",
    "    memory: 191984Mi",
    "    zone: rack-a",
    '    labels: {cpumanager: "true", kubevirt.io/cpumanager: "true"}',
    "    devices: {intel.com/sriov_netdevice: 8, nvidia.com/TU104GL_Tesla_T4: 2}",
    "    hugepages: {1Gi: 64Gi}",
    "  - name: kvm-worker-1",
    "    cpu: 31",
    "    memory: 128722Mi",
    "    zone: rack-b",
    "",
].join("\n");

const expectedSkipped = [
    {
        name: "kvm-cp-1",
        reason: "it has the taints node-role.kubernetes.io/control-plane:NoSchedule, node-role.kubernetes.io/etcd=true:NoExecute, which VMs do not tolerate",
    },
    {
        name: "kvm-worker-2",
        reason: "it has no kubevirt.io/schedulable=true label: KubeVirt's virt-handler does not run VMs there",
    },
];

const expectedStderr = expectedSkipped.map((s) => `skipped ${s.name}: ${s.reason}\n`).join("");

/** A schedulable KubeVirt node with `allocatable` and whatever `extra` sets. */
function node(name: string, allocatable: Record<string, string>, extra: Record<string, any> = {}) {
    return {
        kind: "Node",
        metadata: { name, labels: { "kubevirt.io/schedulable": "true", ...extra.labels } },
        spec: extra.spec ?? {},
        status: { allocatable },
    };
}

const list = (...items: unknown[]) => ({ apiVersion: "v1", kind: "List", items });

function errorOf(run: () => unknown): string {
    try {
        run();
    } catch (error) {
        assert.ok(error instanceof NodeListError, `not a NodeListError: ${String(error)}`);
        return error.message;
    }
    assert.fail("did not throw");
}

describe("host inventory from kubectl get nodes", () => {
    it("converts the fixture's schedulable KubeVirt nodes into site.hosts, sorted by name", () => {
        const { hosts, skipped } = hostsFromNodeList(fixture());
        assert.strictEqual(renderHostsYaml(hosts), expectedYaml);
        assert.deepStrictEqual(skipped, expectedSkipped);
    });

    it("produces hosts that site.hosts accepts as they are", () => {
        const { hosts } = hostsFromNodeList(fixture());
        assert.strictEqual(hosts.length, 2);
        for (const host of hosts) {
            const parsed = hostSchema.safeParse(host);
            assert.ok(parsed.success, `${host.name}: ${JSON.stringify(parsed.error?.issues)}`);
        }
        // And as the rendered YAML reads back.
        const reread = parse(renderHostsYaml(hosts)) as { hosts: HostEntry[] };
        assert.deepStrictEqual(reread.hosts, hosts);
        reread.hosts.forEach((host) => hostSchema.parse(host));
    });

    it("reads allocatable, not capacity: whole cores, memory floored to Mi or whole Gi", () => {
        const { hosts } = hostsFromNodeList(
            list(
                node("a", { cpu: "7999m", memory: "131811700Ki" }),
                node("b", { cpu: "8", memory: "64Gi" }),
                node("c", { cpu: "4", memory: "8589934592" }),
                node("d", { cpu: "2.5", memory: "3.5Gi" }),
            ),
        );
        assert.deepStrictEqual(
            hosts.map((h) => [h.name, h.cpu, h.memory]),
            [
                ["a", 7, "128722Mi"],
                ["b", 8, "64Gi"],
                ["c", 4, "8Gi"],
                ["d", 2, "3584Mi"],
            ],
        );
    });

    it("keeps devices but KubeVirt's own, and hugepages but none of zero", () => {
        const { hosts } = hostsFromNodeList(
            list(
                node("a", {
                    cpu: "16",
                    memory: "64Gi",
                    "devices.kubevirt.io/kvm": "1k",
                    "devices.kubevirt.io/tun": "1k",
                    "devices.kubevirt.io/vhost-net": "1k",
                    "devices.kubevirt.io/sev": "1k",
                    "example.com/fpga": "0",
                    "intel.com/sriov_fabric": "16",
                    "hugepages-2Mi": "1Gi",
                    "hugepages-1Gi": "0",
                    "ephemeral-storage": "100Gi",
                    pods: "110",
                }),
            ),
        );
        assert.deepStrictEqual(hosts, [
            {
                name: "a",
                cpu: 16,
                memory: "64Gi",
                devices: { "intel.com/sriov_fabric": 16 },
                hugepages: { "2Mi": "1Gi" },
            },
        ]);
    });

    it("keeps only the CPU manager labels that are true", () => {
        const labels = {
            cpumanager: "true",
            "kubevirt.io/cpumanager": "false",
            "node-role.kubernetes.io/worker": "true",
            "topology.kubernetes.io/zone": "z1",
        };
        const { hosts } = hostsFromNodeList(
            list(node("a", { cpu: "4", memory: "8Gi" }, { labels })),
        );
        assert.deepStrictEqual(hosts, [
            { name: "a", cpu: 4, memory: "8Gi", zone: "z1", labels: { cpumanager: "true" } },
        ]);
    });

    it("skips cordoned nodes, names blocking taints, and lets PreferNoSchedule be", () => {
        const cordoned = {
            unschedulable: true,
            taints: [{ key: "node.kubernetes.io/unschedulable", effect: "NoSchedule" }],
        };
        const prefer = { taints: [{ key: "gpu", value: "only", effect: "PreferNoSchedule" }] };
        const notReady = { taints: [{ key: "node.kubernetes.io/not-ready", effect: "NoExecute" }] };
        const stopped = { "kubevirt.io/schedulable": "false" };
        const { hosts, skipped } = hostsFromNodeList({
            kind: "NodeList",
            items: [
                node("a", { cpu: "4", memory: "8Gi" }, { spec: cordoned }),
                node("b", { cpu: "4", memory: "8Gi" }, { spec: prefer }),
                node("c", { cpu: "4", memory: "8Gi" }, { spec: notReady, labels: stopped }),
                node("d", { cpu: "500m", memory: "8Gi" }),
            ],
        });
        assert.deepStrictEqual(
            hosts.map((h) => h.name),
            ["b"],
        );
        assert.deepStrictEqual(skipped, [
            { name: "a", reason: "it is cordoned (spec.unschedulable: true)" },
            {
                name: "c",
                reason: "it has kubevirt.io/schedulable=false, not the kubevirt.io/schedulable=true label: KubeVirt's virt-handler does not run VMs there; it has the taint node.kubernetes.io/not-ready:NoExecute, which VMs do not tolerate",
            },
            { name: "d", reason: "its allocatable CPU 500m is less than one whole core" },
        ]);
    });

    it("skips a node site.hosts would not take, with the schema's reason", () => {
        const { hosts, skipped } = hostsFromNodeList(
            list(node("a", { cpu: "4", memory: "8Gi", "example.com/vf": "5000" })),
        );
        assert.deepStrictEqual(hosts, []);
        assert.deepStrictEqual(skipped, [
            {
                name: "a",
                reason: "it does not fit site.hosts: devices.example.com/vf: must be between 1 and 4096, got 5000",
            },
        ]);
        assert.strictEqual(renderHostsYaml(hosts), "hosts: []\n");
    });

    it("takes one Node, as kubectl get node <name> -o json prints it", () => {
        const { hosts } = hostsFromNodeList(fixture().items[1]);
        assert.deepStrictEqual(
            hosts.map((h) => h.name),
            ["kvm-gpu-1"],
        );
    });

    it("says in one line what is wrong with input that is not a node list", () => {
        const kubectl = ": expected the output of kubectl get nodes -o json";
        const cases: [unknown, string][] = [
            [[], `the input is a list, not a NodeList${kubectl}`],
            ["nodes", `the input is a string, not a NodeList${kubectl}`],
            [null, `the input is null, not a NodeList${kubectl}`],
            [{ kind: "PodList", items: [] }, `the input is a PodList, not a NodeList${kubectl}`],
            [{ items: [] }, `the input is a map without a kind, not a NodeList${kubectl}`],
            [{ kind: "List" }, `the List has no items list${kubectl}`],
            [
                list({ kind: "Pod", metadata: { name: "p" } }),
                `items[0] is a Pod, not a Node${kubectl}`,
            ],
            [list(42), `items[0] is a number, not a Node${kubectl}`],
            [list({ kind: "Node", status: {} }), `items[0] has no metadata.name${kubectl}`],
            [
                list({ kind: "Node", metadata: { name: "a" } }),
                `node a has no status.allocatable${kubectl}`,
            ],
            [list(node("a", { memory: "8Gi" })), `node a has no status.allocatable.cpu${kubectl}`],
            [
                list(node("a", { cpu: "4", memory: 8 } as any)),
                `node a: status.allocatable is not a map of strings${kubectl}`,
            ],
            [
                list(node("a", { cpu: "4", memory: "8Gi" }, { spec: { taints: {} } })),
                `node a: spec.taints is not a list of taints${kubectl}`,
            ],
            [
                list(node("a", { cpu: "4", memory: "8GB" })),
                'node a: status.allocatable.memory "8GB" is not a Kubernetes quantity',
            ],
        ];
        for (const [input, message] of cases) {
            assert.strictEqual(
                errorOf(() => hostsFromNodeList(input)),
                message,
            );
        }
        assert.strictEqual(
            errorOf(() => parseNodeListText("NAME   STATUS   ROLES\nkvm-1  Ready    <none>\n")),
            "the input is not JSON: expected the output of kubectl get nodes -o json",
        );
        assert.strictEqual(
            errorOf(() => parseNodeListText(" \n")),
            "the input is empty: expected the output of kubectl get nodes -o json",
        );
    });

    describe("npm run hosts", function () {
        this.timeout(120000);

        function hosts(args: string[], input?: string) {
            const run = spawnSync(process.execPath, ["scripts/run.js", "hosts", ...args], {
                cwd: root,
                encoding: "utf8",
                input: input ?? "",
            });
            return { status: run.status, stdout: run.stdout, stderr: run.stderr };
        }

        it("prints the YAML for a file and lists the skipped nodes on stderr", () => {
            assert.deepStrictEqual(hosts([fixtureFile]), {
                status: 0,
                stdout: expectedYaml,
                stderr: expectedStderr,
            });
        });

        it("reads kubectl's output from stdin", () => {
            assert.deepStrictEqual(hosts([], fixtureText), {
                status: 0,
                stdout: expectedYaml,
                stderr: expectedStderr,
            });
        });

        it("exits 2 with one line for garbage", () => {
            assert.deepStrictEqual(hosts([], "error: You must be logged in to the server\n"), {
                status: 2,
                stdout: "",
                stderr: "the input is not JSON: expected the output of kubectl get nodes -o json\n",
            });
            assert.deepStrictEqual(hosts([], '{"kind":"PodList","items":[]}'), {
                status: 2,
                stdout: "",
                stderr: "the input is a PodList, not a NodeList: expected the output of kubectl get nodes -o json\n",
            });
        });
    });
});
