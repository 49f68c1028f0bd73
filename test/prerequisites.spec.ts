import * as assert from "assert";
import { parse } from "yaml";
import { planStack } from "../lib/plan/stackPlan";
import { formatPrerequisites, sitePrerequisites } from "../lib/site/prerequisites";
import { rawStackConfig } from "../lib/config/stackFile";
import { editableStackConfig } from "./mocks";

function siteOf(stack: string, edit?: (config: Record<string, any>) => void) {
    const config = editableStackConfig(stack);
    edit?.(config);
    return planStack(rawStackConfig(config)).plan.site;
}

const topic = (stack: string, name: string, edit?: (config: Record<string, any>) => void) =>
    sitePrerequisites(siteOf(stack, edit)).find((p) => p.topic === name)!;

describe("site prerequisites", () => {
    it("lists every topic, one bridge each", () => {
        assert.deepStrictEqual(
            sitePrerequisites(siteOf("france")).map((p) => p.topic),
            [
                "Bridge br-trunk",
                "SR-IOV",
                "CDI clone permission",
                "Rancher",
                "Passed-through devices",
                "Dedicated CPUs",
                "Removing nodes and destroying the stack",
            ],
        );
        assert.deepStrictEqual(
            sitePrerequisites(siteOf("greece")).map((p) => p.topic),
            [
                "Bridge br0",
                "CDI clone permission",
                "Rancher",
                "Removing nodes and destroying the stack",
            ],
        );
    });

    it("says how KubeVirt and the hosts provide devices, pinned CPUs and hugepages", () => {
        assert.deepStrictEqual(topic("france", "Passed-through devices").lines.slice(-7), [
            "  permittedHostDevices:",
            "    pciHostDevices:",
            "      - pciVendorSelector: <vendor:device>",
            "        resourceName: nvidia.com/TU104GL_Tesla_T4",
            "Add externalResourceProvider: true to a device whose vendor's plugin (such as NVIDIA's) advertises it, so",
            "that KubeVirt's own does not advertise the same name. Such VMs cannot live-migrate: with the",
            "LiveMigrate eviction strategy a drain of their host waits on them (kubevirt pod-eviction-admitter.go).",
        ]);
        assert.match(
            topic("france", "Dedicated CPUs").lines.join(" "),
            /virt-handler then labels those hosts kubevirt\.io\/cpumanager=true/,
        );
        // Before 1.8 the launcher pod selects the unprefixed label (nodeselectorrenderer.go).
        const older = topic("france", "Dedicated CPUs", (config) => {
            config["edge:site"].kubevirtVersion = "1.7";
        });
        assert.match(
            older.lines.join(" "),
            /virt-handler then labels those hosts cpumanager=true,/,
        );
        const hugepages = topic("france", "Hugepages", (config) => {
            config["edge:clusters"][2].intent.workers[1].hugepages = "1Gi";
            config["edge:site"].hosts[2].hugepages = { "1Gi": "64Gi" };
            delete config["edge:allocations"].ml;
        });
        assert.strictEqual(
            hugepages.lines[0],
            "VMs take their memory from 1Gi hugepages, which the hosts reserve at boot (for 1Gi pages on",
        );
    });

    it("says per KubeVirt version who requests the SR-IOV VFs", () => {
        const version = (v: string) => (config: Record<string, any>) => {
            config["edge:site"].kubevirtVersion = v;
        };
        assert.deepStrictEqual(topic("france", "SR-IOV").lines, [
            "VMs get virtual functions of intel.com/sriov_fabric (network fabric). The SR-IOV network device plugin advertises",
            "each resource on the hosts whose NICs have VFs bound to vfio-pci, and sriov-cni is installed on every host.",
            "KubeVirt 1.9 does not ask for the VFs itself: its ExternalNetResourceInjection feature gate is beta, and beta",
            "gates are on by default from 1.9 (kubevirt pkg/virt-config/featuregate/active.go and feature-gates.go, IsEnabled);",
            "with it virt-controller reads no NetworkAttachmentDefinition and the launcher pod requests no VF",
            "(pkg/virt-controller/services/template.go), so no VF is allocated to it. Either run the network-resources-injector",
            "webhook (k8snetworkplumbingwg), which adds the request from the NAD's k8s.v1.cni.cncf.io/resourceName annotation, or",
            "turn the gate off in the KubeVirt CR's spec.configuration (kubectl -n kubevirt edit kubevirt kubevirt):",
            "  developerConfiguration:",
            "    disabledFeatureGates: [ExternalNetResourceInjection]",
            "List the VF counts under the host's devices in site.hosts. The site's router or switch carries the VLANs to",
            "those NICs.",
        ]);
        assert.deepStrictEqual(topic("france", "SR-IOV", version("1.8")).lines.slice(2, 6), [
            "KubeVirt 1.8 reads each network's NetworkAttachmentDefinition and asks for one VF per interface",
            "(kubevirt pkg/network/multus/nad.go) unless its ExternalNetResourceInjection feature gate is enabled; the gate is",
            "beta and off by default in 1.8 (pkg/virt-config/feature-gates.go). Leave it off, or run the network-resources-injector",
            "webhook (k8snetworkplumbingwg), which adds the request from the NAD's k8s.v1.cni.cncf.io/resourceName annotation.",
        ]);
        assert.deepStrictEqual(topic("france", "SR-IOV", version("1.7")).lines.slice(2, 5), [
            "KubeVirt 1.7 reads each network's NetworkAttachmentDefinition, asks for one VF per interface and sets",
            "its MAC (kubevirt pkg/network/multus/nad.go).",
            "List the VF counts under the host's devices in site.hosts. The site's router or switch carries the VLANs to",
        ]);
    });

    it("asks for the GPU feature gate on KubeVirt 1.3 and older only", () => {
        const gate = [
            "On KubeVirt 1.3 GPUs need the GPU feature gate as well (GA only from 1.4: kubevirt",
            "pkg/virt-config/feature-gates.go, GPUPassthroughEnabled); add it to the CR's spec.configuration:",
            "  developerConfiguration:",
            "    featureGates: [GPU]",
        ];
        const lines = (version: string) =>
            topic("france", "Passed-through devices", (config) => {
                config["edge:site"].kubevirtVersion = version;
            }).lines;
        assert.deepStrictEqual(lines("1.3").slice(4, 8), gate);
        assert.deepStrictEqual(lines("1.4"), topic("france", "Passed-through devices").lines);
        assert.ok(!lines("1.9").some((line) => line.includes("GPU feature gate")));
        assert.strictEqual(lines("1.3").length, lines("1.9").length + 4);
    });

    it("tells the host to filter and trunk the VLANs the CNI tags only on VM ports", () => {
        assert.deepStrictEqual(topic("france", "Bridge br-trunk").lines, [
            "Every host node that may run a VM has Linux bridge br-trunk (networks edge, storage), with the uplink to the site LAN enslaved.",
            "The CNI bridge plugin tags only the VMs' ports (VLAN 120, 121); on an existing bridge it neither turns on VLAN filtering nor tags the uplink. On each host node:",
            "  ip link set br-trunk type bridge vlan_filtering 1",
            "  bridge vlan add dev <uplink of br-trunk> vid 120",
            "  bridge vlan add dev <uplink of br-trunk> vid 121",
            "and make it persistent in the host's network configuration (netplan, systemd-networkd or NetworkManager).",
        ]);
        assert.deepStrictEqual(topic("greece", "Bridge br0").lines, [
            "Every host node that may run a VM has Linux bridge br0 (networks lab), with the uplink to the site LAN enslaved.",
        ]);
    });

    it("gives an admin the Role CDI checks for cross-namespace clones", () => {
        const lines = topic("greece", "CDI clone permission").lines;
        const start = lines.indexOf("  kubectl apply -f - <<'EOF'");
        const end = lines.indexOf("  EOF");
        const role = parse(
            lines
                .slice(start + 1, end)
                .map((line) => line.slice(2))
                .join("\n"),
        );
        assert.deepStrictEqual(role, {
            apiVersion: "rbac.authorization.k8s.io/v1",
            kind: "Role",
            metadata: { name: "edge-clone-source", namespace: "edge-images" },
            rules: [
                {
                    apiGroups: ["cdi.kubevirt.io"],
                    resources: ["datavolumes/source"],
                    verbs: ["create"],
                },
            ],
        });
        assert.strictEqual(
            lines[end + 1],
            "  kubectl -n edge-images create rolebinding edge-clone-source --role=edge-clone-source --user=<who runs pulumi up>",
        );
    });

    it("says nodes need no package archive, and how readiness reaches the guest", () => {
        assert.deepStrictEqual(topic("greece", "Rancher").lines.slice(0, 6), [
            "Nodes reach rancher2:apiUrl and their DNS servers (172.28.2.89) through the gateway of their first",
            "site network; the pod network carries only replies. They install no packages at boot, so they need no package",
            "archive: an image needs cloud-init (NoCloud, network-config v2), systemd 240 or newer and, for os: rhel, NetworkManager.",
            "A node is Ready once it registered: the VM's tcpSocket readiness probe reaches port 10290, which the guest opens only then.",
            "The kubelet probes a pod's first IP: the host cluster's pods must be IPv4 (or dual-stack IPv4 first), as the guest",
            "answers on KubeVirt's IPv4 masquerade address only.",
        ]);
    });

    it("says whether nodes verify Rancher's certificate", () => {
        const verified = topic("greece", "Rancher").lines;
        assert.strictEqual(
            verified[verified.length - 1],
            "Nodes verify Rancher's certificate: a public CA, or Rancher's own private CA, which the program reads from its cacerts setting and installs in every node's trust store.",
        );
        const insecure = topic(
            "greece",
            "Rancher",
            (c) => (c["edge:site"].insecureRegistration = true),
        ).lines;
        assert.strictEqual(
            insecure[insecure.length - 1],
            "site.insecureRegistration is set: nodes fetch Rancher's agent without verifying its certificate.",
        );
    });

    it("writes Markdown with commands fenced", () => {
        const markdown = formatPrerequisites(siteOf("france"));
        assert.ok(
            markdown.includes(
                [
                    "```sh",
                    "ip link set br-trunk type bridge vlan_filtering 1",
                    "bridge vlan add dev <uplink of br-trunk> vid 120",
                    "bridge vlan add dev <uplink of br-trunk> vid 121",
                    "```",
                    "and make it persistent",
                ].join("\n"),
            ),
        );
    });
});
