import * as assert from "assert";
import { RawStackConfig } from "../lib/config";
import { planStack } from "../lib/plan/stackPlan";
import { rawStackConfig } from "../lib/config/stackFile";
import { problemsOf } from "./fixtures";
import { editableStackConfig } from "./mocks";

/** The greece stack's config, ready to edit. */
function greece(): RawStackConfig & { site: any; images: any; clusters: any; allocations: any } {
    return rawStackConfig(editableStackConfig("greece")) as any;
}

/** Every problem planStack reports for `raw`, as `path: message` lines. */
describe("config validation", () => {
    it("accepts both example stacks", () => {
        for (const stack of ["greece", "france"]) {
            assert.doesNotThrow(() => planStack(rawStackConfig(editableStackConfig(stack))));
        }
    });

    it("applies the documented defaults", () => {
        const raw = greece();
        delete raw.site.imageNamespace;
        delete raw.clusters[0].cni;
        const { plan } = planStack(raw);
        assert.deepStrictEqual(plan.site.namespaces, [
            "edge-images",
            "edge-networks",
            "final-test",
        ]);
        assert.strictEqual(plan.site.sshUser, "ubuntu");
        assert.strictEqual(plan.clusters[0].cni, "flannel");
        assert.strictEqual(plan.clusters[0].namespace, "final-test");
    });

    it("lets no malformed cluster or node hide another's problems", () => {
        const raw = rawStackConfig(editableStackConfig("france")) as any;
        raw.clusters[0].nodes[0].cpu = "many";
        raw.clusters[0].nodes[1].image = "debian";
        raw.clusters[0].kubernetesVersion = "v1.31.5+k3s1";
        raw.clusters[1] = {
            ...raw.clusters[1],
            type: "rke2",
            nodes: [null, ...raw.clusters[1].nodes],
        };
        assert.deepStrictEqual(problemsOf(raw), [
            'clusters[0].kubernetesVersion: "v1.31.5+k3s1" is not a valid rke2 version (e.g. v1.31.5+rke2r1)',
            'clusters[0].nodes[0].cpu: must be a whole number, got the string "many"',
            'clusters[0].nodes[1].image: unknown image "debian" (edge:images has: ubuntu-jammy, ubuntu-noble)',
            'clusters[1].kubernetesVersion: "v1.31.5+k3s1" is not a valid rke2 version (e.g. v1.31.5+rke2r1)',
            "clusters[1].nodes[0]: must be a map, got null",
        ]);
    });

    it("reports a bad quantity with its path", () => {
        const raw = greece();
        raw.clusters[0].nodes[1].memory = "4 GB";
        assert.deepStrictEqual(problemsOf(raw), [
            'clusters[0].nodes[1].memory: "4 GB" is not a Kubernetes quantity (e.g. 4Gi, 512Mi)',
        ]);
    });

    it("reports every problem at once, in config order", () => {
        const raw = greece();
        raw.site.networks[0].vlan = 5000;
        raw.images["ubuntu-focal"].url = "ftp://example.org/focal.img";
        raw.clusters[0].name = "Final_Test";
        raw.clusters[0].nodes[0].cpu = 0;
        raw.clusters[0].nodes[1].image = "debian";
        assert.deepStrictEqual(problemsOf(raw), [
            "site.networks[0].vlan: must be between 1 and 4094, got 5000",
            'images.ubuntu-focal.url: "ftp://example.org/focal.img" is not an http(s) URL',
            'clusters[0].name: "Final_Test" is not a DNS-1123 label (lowercase letters, digits and "-", at most 63 characters, starting and ending with a letter or digit)',
            "clusters[0].nodes[0].cpu: must be between 1 and 512, got 0",
            'clusters[0].nodes[1].image: unknown image "debian" (edge:images has: ubuntu-focal)',
        ]);
    });

    it("checks versions against the distribution", () => {
        const raw = greece();
        raw.clusters[0].kubernetesVersion = "v1.31.5+rke2r1";
        assert.deepStrictEqual(problemsOf(raw), [
            'clusters[0].kubernetesVersion: "v1.31.5+rke2r1" is not a valid k3s version (e.g. v1.31.5+k3s1)',
        ]);
        raw.clusters[0].type = "rke2";
        raw.clusters[0].kubernetesVersion = "v1.31.5+k3s1";
        delete raw.clusters[0].cni;
        assert.deepStrictEqual(problemsOf(raw), [
            'clusters[0].kubernetesVersion: "v1.31.5+k3s1" is not a valid rke2 version (e.g. v1.31.5+rke2r1)',
        ]);
    });

    it("checks types, CNIs and roles", () => {
        const raw = greece();
        raw.clusters[0].type = "k8s";
        raw.clusters[0].nodes[0].roles = ["controlplane", "master"];
        assert.deepStrictEqual(problemsOf(raw), [
            'clusters[0].type: "k8s" is not one of: k3s, rke2',
            'clusters[0].nodes[0].roles[1]: "master" is not one of: controlplane, etcd, worker',
        ]);
        const cni = greece();
        cni.clusters[0].cni = "calico";
        assert.deepStrictEqual(problemsOf(cni), [
            'clusters[0].cni: "calico" is not one of: flannel, none',
        ]);
    });

    it("needs a control plane and an etcd node in each cluster", () => {
        const raw = greece();
        raw.clusters[0].nodes[0].roles = ["worker"];
        assert.deepStrictEqual(problemsOf(raw), [
            "clusters[0].nodes: needs at least one node with the controlplane role",
            "clusters[0].nodes: needs at least one node with the etcd role",
        ]);
    });

    it("rejects duplicate names and colliding VM names", () => {
        const raw = greece();
        raw.clusters[0].nodes[1].name = "cluster-master";
        raw.clusters[0].nodes[1].networks[0].ip = "192.168.18.210";
        raw.clusters.push({ ...structuredClone(raw.clusters[0]), name: "final" });
        raw.clusters[1].nodes = [{ ...raw.clusters[1].nodes[0], name: "test-cluster-master" }];
        raw.clusters[1].nodes[0].networks = [{ network: "lab" }];
        assert.deepStrictEqual(problemsOf(raw), [
            'clusters[0].nodes[1].name: duplicate node name "cluster-master" (also at clusters[0].nodes[0].name)',
            'clusters[1].nodes[0].name: duplicate VM name "final-test-cluster-master" (also at clusters[0].nodes[0].name)',
        ]);
    });

    it("checks node disks against their image", () => {
        const raw = greece();
        raw.clusters[0].nodes[0].disk = "8Gi";
        raw.clusters[0].nodes[1].disk = 15;
        assert.deepStrictEqual(problemsOf(raw), [
            "clusters[0].nodes[0].disk: 8Gi is smaller than image ubuntu-focal (10Gi)",
            "clusters[0].nodes[1].disk: 15 has no unit; write a Kubernetes quantity such as 15Gi",
        ]);
    });

    it("puts every node on a known site network", () => {
        const raw = greece();
        raw.clusters[0].nodes[0].networks = [];
        raw.clusters[0].nodes[1].networks = [{ network: "wan" }];
        assert.deepStrictEqual(problemsOf(raw), [
            "clusters[0].nodes[0].networks: must attach the node to at least one site network: its cluster address cannot be a pod IP, which changes on restart",
            'clusters[0].nodes[1].networks[0].network: unknown site network "wan" (site.networks has: lab)',
        ]);
    });

    it("checks pinned IPs against network, range, gateway and DNS", () => {
        const raw = greece();
        raw.site.networks[0].range = "192.168.18.200-192.168.18.250";
        raw.clusters[0].nodes[0].networks[0].ip = "192.168.19.5";
        raw.clusters[0].nodes[1].networks[0].ip = "192.168.18.20";
        assert.deepStrictEqual(problemsOf(raw), [
            "clusters[0].nodes[0].networks[0].ip: 192.168.19.5 is outside network lab (192.168.18.0/24)",
            "clusters[0].nodes[1].networks[0].ip: 192.168.18.20 is outside the range 192.168.18.200-192.168.18.250 of network lab",
        ]);
        const gateway = greece();
        gateway.clusters[0].nodes[0].networks[0].ip = "192.168.18.1";
        assert.deepStrictEqual(problemsOf(gateway), [
            "clusters[0].nodes[0].networks[0].ip: 192.168.18.1 is the gateway of network lab",
        ]);
    });

    it("takes at most the 3 DNS servers KubeVirt puts in a VM's dnsConfig", () => {
        const raw = greece();
        raw.site.dnsServers = ["172.28.2.89", "172.28.2.90", "1.1.1.1"];
        assert.deepStrictEqual(planStack(raw).plan.site.dnsServers, raw.site.dnsServers);
        raw.site.dnsServers.push("9.9.9.9");
        assert.deepStrictEqual(problemsOf(raw), [
            "site.dnsServers: lists 4 DNS servers; KubeVirt takes at most 3 in a VM's dnsConfig",
        ]);
    });

    it("refuses a host that gives VMs no cores, memory, devices or hugepages", () => {
        const raw = rawStackConfig(editableStackConfig("france")) as any;
        raw.site.hosts[0].cpu = 0;
        raw.site.hosts[1].memory = "0Gi";
        raw.site.hosts[2].memory = "0";
        raw.site.hosts[2].devices["intel.com/sriov_fabric"] = 0;
        raw.site.hosts[2].hugepages = { "1Gi": "0Mi" };
        assert.deepStrictEqual(problemsOf(raw), [
            "site.hosts[0].cpu: must be between 1 and 4096, got 0",
            "site.hosts[1].memory: must be more than 0, got 0Gi",
            "site.hosts[2].memory: must be more than 0, got 0",
            "site.hosts[2].devices.intel.com/sriov_fabric: must be between 1 and 4096, got 0",
            "site.hosts[2].hugepages.1Gi: must be more than 0, got 0Mi",
        ]);
    });

    it("rejects duplicate IPs across nodes", () => {
        const raw = greece();
        raw.clusters[0].nodes[1].networks[0].ip = "192.168.18.203";
        assert.deepStrictEqual(problemsOf(raw), [
            "clusters[0].nodes[1].networks[0].ip: 192.168.18.203 is already used by clusters[0].nodes[0].networks[0].ip",
        ]);
    });

    it("checks CIDR syntax, gateways and ranges of site networks", () => {
        const raw = greece();
        raw.site.clusterCidrPool = "10.64.0.0/33";
        raw.site.reservedCidrs = ["10.42.1.0/16"];
        raw.site.networks[0].gateway = "192.168.19.1";
        raw.site.networks[0].range = "192.168.18.250-192.168.18.200";
        assert.deepStrictEqual(problemsOf(raw), [
            'site.reservedCidrs[0]: "10.42.1.0/16" is not a network address (did you mean 10.42.0.0/16?)',
            'site.clusterCidrPool: "10.64.0.0/33" is not an IPv4 CIDR (e.g. 10.64.0.0/16)',
            "site.networks[0].gateway: 192.168.19.1 is outside 192.168.18.0/24",
            "site.networks[0].range: 192.168.18.250-192.168.18.200 starts after it ends",
        ]);
    });

    it("rejects overlapping pins, reserved ranges and networks", () => {
        const raw = greece();
        raw.clusters[0].podCidr = "10.42.0.0/16";
        raw.clusters[0].serviceCidr = "192.168.0.0/16";
        delete raw.allocations;
        assert.deepStrictEqual(problemsOf(raw), [
            "clusters[0].podCidr: pod CIDR 10.42.0.0/16 overlaps site.reservedCidrs[0] (10.42.0.0/16)",
            "clusters[0].serviceCidr: service CIDR 192.168.0.0/16 overlaps site.networks[0] lab (192.168.18.0/24)",
        ]);
        const twoPins = greece();
        delete twoPins.allocations;
        twoPins.clusters[0].podCidr = "10.70.0.0/16";
        twoPins.clusters[0].serviceCidr = "10.70.128.0/17";
        assert.deepStrictEqual(problemsOf(twoPins), [
            "clusters[0].serviceCidr: service CIDR 10.70.128.0/17 overlaps clusters[0].podCidr (10.70.0.0/16)",
        ]);
        const masquerade = greece();
        masquerade.site.networks[0].cidr = "10.0.2.0/24";
        masquerade.site.networks[0].gateway = "10.0.2.254";
        delete masquerade.site.networks[0].range;
        masquerade.clusters[0].nodes.forEach((n: any) => (n.networks = ["lab"]));
        delete masquerade.allocations;
        masquerade.clusters[0].podCidr = "10.0.0.0/16";
        assert.deepStrictEqual(problemsOf(masquerade), [
            "clusters[0].podCidr: pod CIDR 10.0.0.0/16 overlaps site.networks[0] lab (10.0.2.0/24)",
        ]);
    });

    it("reports exhausted pools and ranges, naming them", () => {
        const raw = greece();
        delete raw.allocations;
        raw.site.clusterCidrPool = "10.64.0.0/16";
        assert.deepStrictEqual(problemsOf(raw), [
            "clusters[0].serviceCidr: pool 10.64.0.0/16 (site.clusterCidrPool) has no free /16 left for a service CIDR",
        ]);
        const range = greece();
        delete range.allocations;
        range.site.networks[0].range = "192.168.18.203-192.168.18.204";
        range.clusters[0].nodes.push({
            ...structuredClone(range.clusters[0].nodes[1]),
            name: "worker2",
            networks: ["lab"],
        });
        assert.deepStrictEqual(problemsOf(range), [
            "clusters[0].nodes[2].networks[0].ip: range 192.168.18.203-192.168.18.204 of network lab has no free address",
        ]);
    });

    it("catches misspelt fields and YAML shapes", () => {
        const raw = greece();
        raw.clusters[0].nodes[0].memmory = "4Gi";
        raw.clusters[0].nodes[1].networks = { network: "lab" };
        raw.site.dnsServers = "172.28.2.89";
        assert.deepStrictEqual(problemsOf(raw), [
            'site.dnsServers: must be a list, got the string "172.28.2.89"',
            "clusters[0].nodes[0].memmory: unknown field (expected one of: name, roles, cpu, memory, disk, image, networks, hostSelector, gpus, hostDevices, dedicatedCpu, isolateEmulatorThread, hugepages)",
            "clusters[0].nodes[1].networks: must be a list, got a map",
        ]);
    });

    it("reports missing required keys", () => {
        const raw = greece();
        delete raw.site.clusterCidrPool;
        delete raw.clusters[0].nodes[0].image;
        assert.deepStrictEqual(problemsOf(raw), [
            "site.clusterCidrPool: is required",
            "clusters[0].nodes[0].image: is required",
        ]);
    });

    it("gives garbage a clear message, not a stack trace", () => {
        assert.deepStrictEqual(problemsOf({}), [
            "site: is required (set edge:site in the stack file)",
            "images: is required (set edge:images in the stack file)",
        ]);
        assert.deepStrictEqual(
            problemsOf({ site: 42, images: "x", clusters: "hello", allocations: [] }),
            [
                "site: must be a map, got the number 42",
                'images: must be a map, got the string "x"',
                'clusters: must be a list, got the string "hello"',
                "allocations: must be a map, got a list",
            ],
        );
        const nested = greece();
        nested.clusters[0].nodes[0] = { name: { deeper: [{ deeper: null }] } };
        assert.deepStrictEqual(problemsOf(nested).slice(0, 2), [
            "clusters[0].nodes[0].name: must be a string, got a map",
            "clusters[0].nodes[0].roles: is required",
        ]);
    });

    it("refuses config keys it does not know, such as a misspelt edge:clusters", () => {
        const config = editableStackConfig("greece");
        config["edge:cluster"] = config["edge:clusters"];
        delete config["edge:clusters"];
        assert.deepStrictEqual(problemsOf(rawStackConfig(config)), [
            "edge:cluster: unknown config key (expected one of: edge:site, edge:images, edge:clusters, edge:allocations, edge:sshPrivateKey, edge:wireguardPrivateKey)",
        ]);
    });

    it("says what an empty key, a huge number, an odd URL or a __proto__ image is", () => {
        const cases: [(raw: any) => void, string][] = [
            [(raw) => (raw.clusters = null), "clusters: must be a list, got null"],
            [
                (raw) => (raw.images["ubuntu-focal"] = null),
                "images.ubuntu-focal: must be a string or a map, got null",
            ],
            [
                (raw) => (raw.clusters[0].nodes[0].cpu = 1e308),
                "clusters[0].nodes[0].cpu: must be between 1 and 512, got 1e+308",
            ],
            [
                (raw) => (raw.images["ubuntu-focal"].url = " https://images.example.org/a.img"),
                'images.ubuntu-focal.url: " https://images.example.org/a.img" is not an http(s) URL',
            ],
            [
                (raw) =>
                    (raw.images = JSON.parse(
                        '{"__proto__": "https://images.example.org/a.img", "ubuntu-focal": "https://images.example.org/b.img"}',
                    )),
                'images.__proto__: "__proto__" is not a DNS-1123 label (lowercase letters, digits and "-", at most 63 characters, starting and ending with a letter or digit)',
            ],
        ];
        for (const [edit, problem] of cases) {
            const raw = greece();
            edit(raw);
            assert.deepStrictEqual(problemsOf(raw), [problem]);
        }
        const padded = greece();
        padded.site.sshAuthorizedKeys[0] += "\n";
        assert.doesNotThrow(() => planStack(padded), "a key with a trailing newline is trimmed");
    });

    it("refuses host selector values YAML turned into booleans", () => {
        const raw = greece();
        raw.clusters[0].nodes[0].hostSelector = { "slices-gr": true };
        assert.deepStrictEqual(problemsOf(raw), [
            'clusters[0].nodes[0].hostSelector.slices-gr: must be a string, got the boolean true (quote it: "true")',
        ]);
    });

    it("refuses a private key where a public key belongs", () => {
        const raw = greece();
        raw.site.sshAuthorizedKeys = [
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n-----END OPENSSH PRIVATE KEY-----",
        ];
        assert.deepStrictEqual(problemsOf(raw), [
            "site.sshAuthorizedKeys[0]: is a private key; put the public key here and the private key in the edge:sshPrivateKey secret",
        ]);
    });

    it("needs the SSH private key secret for a break-glass kubeconfig", () => {
        const raw = greece();
        raw.clusters[0].breakGlassKubeconfig = true;
        assert.deepStrictEqual(problemsOf(raw), [
            "clusters[0].breakGlassKubeconfig: needs the SSH private key: pulumi config set --secret edge:sshPrivateKey < ~/.ssh/id_ed25519",
        ]);
        assert.doesNotThrow(() => planStack({ ...raw, hasSshPrivateKey: true }));
    });

    it("checks that a pod CIDR has room for every node", () => {
        const raw = greece();
        delete raw.allocations;
        raw.clusters[0].podCidr = "10.70.0.0/24";
        assert.deepStrictEqual(problemsOf(raw), [
            "clusters[0].podCidr: 10.70.0.0/24 holds 1 per-node /24 pod subnets; the cluster has 2 nodes",
        ]);
    });
});
