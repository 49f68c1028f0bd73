import * as assert from "assert";
import { parse } from "yaml";
import { spawnSync } from "child_process";
import {
    cpSync,
    existsSync,
    mkdirSync,
    mkdtempSync,
    readFileSync,
    rmSync,
    writeFileSync,
} from "fs";
import { tmpdir } from "os";
import * as path from "path";
import {
    nodeRegistrationCommand,
    registrationScriptText,
    renderNetworkData,
    renderUserData,
} from "../lib/render/cloudinit";
import {
    goldenImageDataVolume,
    networkAttachmentDefinition,
    virtualMachine,
} from "../lib/render/manifests";
import { GuestOs } from "../lib/config";
import { StackPlan, planStack } from "../lib/plan/stackPlan";
import {
    chartValues,
    cniVersionProblem,
    machineGlobalConfig,
    rewriteKubeconfigServer,
} from "../lib/rancher";
import { rawStackConfig } from "../lib/config/stackFile";
import {
    editableStackConfig,
    mockRancher,
    mockRancherCa,
    registrationCommandOf,
    registrationScriptOf,
} from "./mocks";
import { cloudConfigErrors, crdErrors, networkConfigErrors, requireSchemas } from "./schemas";

function stackPlan(stack: string): StackPlan {
    return planStack(rawStackConfig(editableStackConfig(stack))).plan;
}

const greece = stackPlan("greece");
const france = stackPlan("france");
const master = greece.clusters[0].nodes[0];

function userDataOf(node = master, os: GuestOs = node.os): string {
    return renderUserData({
        hostname: node.userData.hostname,
        sshAuthorizedKeys: node.userData.sshAuthorizedKeys,
        registrationCommand: nodeRegistrationCommand(
            mockRancher.nodeCommand,
            node.userData.registration,
        ),
        hostKey: { privateKey: "HOST-PRIVATE-KEY", publicKey: "ssh-ed25519 AAAAhost" },
        rancherCaCerts: mockRancherCa,
        os,
    });
}

/** The registration service, as every node's user-data writes it. */
const registrationUnitText = [
    "[Unit]",
    "Description=Edge testbed: register this node with Rancher, retrying until it succeeds",
    "Wants=network-online.target",
    "After=network-online.target",
    "ConditionPathExists=!/var/lib/edge-testbed/registered",
    "StartLimitIntervalSec=0",
    "",
    "[Service]",
    "Type=exec",
    "ExecStart=/usr/local/sbin/edge-register",
    "Restart=on-failure",
    "RestartSec=300",
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
].join("\n");

const masterCommand = `${mockRancher.nodeCommand} --controlplane --etcd --worker --node-name cluster-master --address 192.168.18.203 --internal-address 192.168.18.203 --label edge.testbed/site=greece --label edge.testbed/cluster=final-test`;

describe("cloud-init documents", () => {
    it("user-data allows SSH keys only, pins the host key, trusts Rancher's CA and registers the node", () => {
        const text = userDataOf();
        assert.ok(text.startsWith("#cloud-config\n"));
        const document = parse(text);
        assert.deepStrictEqual(document, {
            hostname: "cluster-master",
            manage_etc_hosts: true,
            ssh_pwauth: false,
            disable_root: true,
            ssh_authorized_keys: [
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINsL/4OAxrJsNjLyutJehSkC65kVE4R357h3S360fiKd ops@example",
            ],
            ssh_keys: {
                ed25519_private: "HOST-PRIVATE-KEY",
                ed25519_public: "ssh-ed25519 AAAAhost",
            },
            ca_certs: { trusted: [mockRancherCa] },
            write_files: [
                {
                    path: "/etc/systemd/system/edge-ready.socket",
                    permissions: "0644",
                    content: [
                        "[Unit]",
                        "Description=Edge testbed readiness, probed by the VM's tcpSocket readiness probe",
                        "ConditionPathExists=/var/lib/edge-testbed/registered",
                        "",
                        "[Socket]",
                        "ListenStream=10.0.2.2:10290",
                        "FreeBind=true",
                        "Accept=yes",
                        "",
                        "[Install]",
                        "WantedBy=sockets.target",
                        "",
                    ].join("\n"),
                },
                {
                    path: "/etc/systemd/system/edge-ready@.service",
                    permissions: "0644",
                    content: [
                        "[Unit]",
                        "Description=Edge testbed readiness answer",
                        "",
                        "[Service]",
                        "ExecStart=/bin/echo ready",
                        "StandardInput=socket",
                        "StandardOutput=socket",
                        "",
                    ].join("\n"),
                },
                {
                    path: "/usr/local/sbin/edge-register",
                    permissions: "0700",
                    content: document.write_files[2].content,
                },
                {
                    path: "/etc/systemd/system/edge-register.service",
                    permissions: "0644",
                    content: registrationUnitText,
                },
            ],
            runcmd: [
                ["systemctl", "daemon-reload"],
                ["systemctl", "enable", "edge-ready.socket", "edge-register.service"],
                ["systemctl", "start", "--no-block", "edge-register.service"],
            ],
        });
        assert.ok(!/passw/i.test(text.replace("ssh_pwauth", "")), "no password anywhere");
    });

    it("a NetworkManager guest's user-data also sets what its renderer cannot: no IPv6 and the reply route on the pod NIC", () => {
        const document = parse(userDataOf(master, "rhel"));
        assert.deepStrictEqual(document.write_files.slice(0, 2), [
            {
                path: "/usr/local/sbin/edge-pod-network",
                permissions: "0755",
                content: [
                    "#!/bin/sh",
                    "set -eu",
                    "profile=$(nmcli -g GENERAL.CONNECTION device show pod)",
                    'if [ -z "$profile" ]; then',
                    '    echo "edge-pod-network: pod has no active NetworkManager profile yet" >&2',
                    "    exit 1",
                    "fi",
                    'nmcli connection modify "$profile" ipv6.method "disabled" ipv4.routes "0.0.0.0/0 10.0.2.1 table=100 onlink=true" ipv4.routing-rules "priority 100 from 10.0.2.2 table 100"',
                    "nmcli device reapply pod",
                    "",
                ].join("\n"),
            },
            {
                path: "/etc/systemd/system/edge-pod-network.service",
                permissions: "0644",
                content: [
                    "[Unit]",
                    "Description=Edge testbed: the pod network carries IPv4 replies only",
                    "Wants=network-online.target",
                    "After=network-online.target",
                    "",
                    "[Service]",
                    "Type=exec",
                    "ExecStart=/usr/local/sbin/edge-pod-network",
                    "Restart=on-failure",
                    "RestartSec=10",
                    "",
                    "[Install]",
                    "WantedBy=multi-user.target",
                    "",
                ].join("\n"),
            },
        ]);
        assert.deepStrictEqual(
            document.write_files.slice(2).map((file: { path: string }) => file.path),
            parse(userDataOf(master, "ubuntu")).write_files.map(
                (file: { path: string }) => file.path,
            ),
        );
        assert.deepStrictEqual(document.runcmd, [
            ["systemctl", "daemon-reload"],
            [
                "systemctl",
                "enable",
                "edge-pod-network.service",
                "edge-ready.socket",
                "edge-register.service",
            ],
            [
                "systemctl",
                "start",
                "--no-block",
                "edge-pod-network.service",
                "edge-register.service",
            ],
        ]);
    });

    describe("systemd on Debian 12 reads our units", function () {
        const analyze = spawnSync("systemd-analyze", ["--version"], { encoding: "utf8" });
        let root: string;
        before(function () {
            if (analyze.status !== 0) {
                console.log(
                    "    (skipped: systemd-analyze is not installed; Debian's systemd has it)",
                );
                this.skip();
            }
            console.log(`    (${analyze.stdout.split("\n")[0]})`);
        });
        afterEach(() => root && rmSync(root, { recursive: true, force: true }));

        /**
         * `systemd-analyze verify` of the units in `userData`, in a root holding what user-data
         * writes, the host's system units (sysinit.target and the rest) and the programs the units
         * run that are not ours: what it reports, which is nothing when it accepts them.
         */
        function verify(userData: string): string {
            root = mkdtempSync(path.join(tmpdir(), "units-"));
            const files: { path: string; permissions: string; content: string }[] =
                parse(userData).write_files;
            for (const file of files) {
                const target = path.join(root, file.path);
                mkdirSync(path.dirname(target), { recursive: true });
                writeFileSync(target, file.content, { mode: parseInt(file.permissions, 8) });
            }
            cpSync("/usr/lib/systemd/system", path.join(root, "usr/lib/systemd/system"), {
                recursive: true,
            });
            for (const program of ["/bin/echo", "/usr/bin/systemctl"]) {
                mkdirSync(path.join(root, path.dirname(program)), { recursive: true });
                cpSync(program, path.join(root, program));
            }
            const units = files
                .filter((file) => /^\/etc\/systemd\/system\/[^@]+$/.test(file.path))
                .map((file) => path.join(root, file.path));
            const run = spawnSync(
                "systemd-analyze",
                ["verify", "--man=no", `--root=${root}`, ...units],
                { encoding: "utf8" },
            );
            return `${run.status} ${run.stdout}${run.stderr}`.replaceAll(root, "<root>").trim();
        }

        for (const os of ["ubuntu", "rhel"] as const) {
            it(`accepts every unit of ${os === "ubuntu" ? "a netplan" : "a NetworkManager"} node's user-data`, () => {
                assert.strictEqual(verify(userDataOf(master, os)), "0");
            });
        }

        it("would report a unit it cannot run", () => {
            const broken = userDataOf().replace(
                "ExecStart=/usr/local/sbin/edge-register",
                "ExecStart=/usr/local/sbin/edge-registr",
            );
            assert.strictEqual(
                verify(broken),
                "1 edge-register.service: Command /usr/local/sbin/edge-registr is not executable: No such file or directory",
            );
        });
    });

    it("registration runs Rancher's command under pipefail with backoff, marking only success", () => {
        const script = registrationScriptOf(userDataOf());
        assert.strictEqual(
            script,
            [
                "#!/bin/bash",
                "set -o pipefail",
                "delay=15",
                "for attempt in $(seq 1 8); do",
                `    if ${masterCommand}; then`,
                '        mkdir -p "$(dirname /var/lib/edge-testbed/registered)"',
                "        touch /var/lib/edge-testbed/registered",
                "        systemctl start --no-block edge-ready.socket",
                "        exit 0",
                "    fi",
                '    if [ "$attempt" -lt 8 ]; then',
                '        echo "edge-register: attempt $attempt of 8 failed; retrying in $delay s" >&2',
                '        sleep "$delay"',
                "        delay=$((delay * 2 > 300 ? 300 : delay * 2))",
                "    fi",
                "done",
                'echo "edge-register: 8 attempts failed; systemd retries in 300 s" >&2',
                "exit 1",
                "",
            ].join("\n"),
        );
        assert.strictEqual(registrationCommandOf(userDataOf()), masterCommand);
    });

    describe("the registration script, run by bash", () => {
        let dir: string;
        before(() => (dir = mkdtempSync(path.join(tmpdir(), "edge-register-"))));
        after(() => rmSync(dir, { recursive: true, force: true }));

        /**
         * Runs the script around `command`, retrying 3 times at once, with the marker in `dir` and
         * a `systemctl` that records what it is asked.
         */
        function register(command: string) {
            const run = mkdtempSync(path.join(dir, "run-"));
            const marker = path.join(run, "state", "registered");
            const log = path.join(run, "systemctl.log");
            writeFileSync(
                path.join(run, "systemctl"),
                '#!/bin/sh\necho "$*" >>"$SYSTEMCTL_LOG"\n',
                {
                    mode: 0o755,
                },
            );
            const script = registrationScriptText(command, {
                retry: { attempts: 3, firstDelaySeconds: 0, maxDelaySeconds: 0, restartSeconds: 0 },
                marker,
            });
            const result = spawnSync("bash", ["-c", script], {
                encoding: "utf8",
                env: { ...process.env, PATH: `${run}:${process.env.PATH}`, SYSTEMCTL_LOG: log },
            });
            return {
                status: result.status,
                stderr: result.stderr,
                registered: existsSync(marker),
                systemctl: existsSync(log) ? readFileSync(log, "utf8").split("\n") : [],
            };
        }

        it("fails, unmarked, when the download fails, though `sh` reading nothing exits 0", () => {
            // Rancher's `curl -fL <url> | sudo sh -s - ...`, with a download that cannot succeed.
            assert.deepStrictEqual(
                register(
                    "(echo 'curl: (60) SSL certificate problem' >&2; exit 60) | sh -s - --worker",
                ),
                {
                    status: 1,
                    stderr: [
                        "curl: (60) SSL certificate problem",
                        "edge-register: attempt 1 of 3 failed; retrying in 0 s",
                        "curl: (60) SSL certificate problem",
                        "edge-register: attempt 2 of 3 failed; retrying in 0 s",
                        "curl: (60) SSL certificate problem",
                        "edge-register: 3 attempts failed; systemd retries in 0 s",
                        "",
                    ].join("\n"),
                    registered: false,
                    systemctl: [],
                },
            );
        });

        it("leaves the marker and starts the readiness socket once the command succeeds", () => {
            assert.deepStrictEqual(register("echo 'exit 0' | sh -s - --worker"), {
                status: 0,
                stderr: "",
                registered: true,
                // --no-block: the script runs inside the service's own start.
                systemctl: ["start --no-block edge-ready.socket", ""],
            });
        });
    });

    it("a worker registers with the worker role only", () => {
        const worker = greece.clusters[0].nodes[1];
        const command = nodeRegistrationCommand("install.sh", worker.userData.registration);
        assert.strictEqual(
            command,
            "install.sh --worker --node-name worker1 --address 192.168.18.204 --internal-address 192.168.18.204 --label edge.testbed/site=greece --label edge.testbed/cluster=final-test",
        );
    });

    it("network-data matches interfaces by MAC, with static addresses and one default route", () => {
        const server = france.clusters[0].nodes[0];
        assert.deepStrictEqual(parse(server.networkData), {
            version: 2,
            ethernets: {
                pod: {
                    match: { macaddress: server.podMac },
                    "set-name": "pod",
                    // KubeVirt's fixed masquerade address: no DHCP, no IPv6 of any kind.
                    addresses: ["10.0.2.2/24"],
                    dhcp4: false,
                    dhcp6: false,
                    "accept-ra": false,
                    "link-local": [],
                    // Replies from the masquerade address leave the way their requests came in.
                    routes: [{ to: "0.0.0.0/0", via: "10.0.2.1", table: 100, "on-link": true }],
                    "routing-policy": [{ from: "10.0.2.2", table: 100 }],
                },
                edge: {
                    match: { macaddress: server.interfaces[0].mac },
                    "set-name": "edge",
                    addresses: ["10.120.0.11/24"],
                    routes: [{ to: "0.0.0.0/0", via: "10.120.0.1" }],
                    nameservers: { addresses: ["172.30.0.53", "172.30.0.54"] },
                },
                storage: {
                    match: { macaddress: server.interfaces[1].mac },
                    "set-name": "storage",
                    addresses: ["10.121.0.11/24"],
                },
            },
        });
    });

    it("renders byte-identical documents for the same config", () => {
        const again = stackPlan("greece");
        assert.strictEqual(again.clusters[0].nodes[0].networkData, master.networkData);
        assert.strictEqual(userDataOf(again.clusters[0].nodes[0]), userDataOf());
    });

    describe("against the upstream cloud-init schemas", function () {
        before(function () {
            requireSchemas(this);
        });

        it("every node's user-data is valid cloud-config", () => {
            for (const plan of [greece, france]) {
                for (const node of plan.clusters.flatMap((c) => c.nodes)) {
                    assert.deepStrictEqual(
                        cloudConfigErrors(parse(userDataOf(node))),
                        [],
                        node.vmName,
                    );
                }
            }
        });

        it("every node's network-data is valid network-config v2", () => {
            for (const plan of [greece, france]) {
                for (const node of plan.clusters.flatMap((c) => c.nodes)) {
                    assert.deepStrictEqual(
                        networkConfigErrors(parse(node.networkData)),
                        [],
                        node.vmName,
                    );
                }
            }
        });

        it("would catch a document the schema forbids", () => {
            assert.notDeepStrictEqual(cloudConfigErrors({ ssh_pwauth: "maybe", runcmd: 3 }), []);
            const bad = parse(
                renderNetworkData({ interfaces: [], dnsServers: [], renderer: "netplan" }),
            );
            assert.notDeepStrictEqual(networkConfigErrors({ ...bad, version: 3 }), []);
        });
    });
});

describe("Kubernetes manifests", () => {
    it("a NAD is a CNI bridge with the site's VLAN and no IPAM", () => {
        const [edge] = france.site.networks;
        assert.deepStrictEqual(edge.nad.metadata, { name: "edge", namespace: "edge-networks" });
        assert.deepStrictEqual(JSON.parse(edge.nad.spec.config), {
            cniVersion: "0.3.1",
            name: "edge",
            type: "bridge",
            bridge: "br-trunk",
            vlan: 120,
            ipam: {},
        });
        const untagged = networkAttachmentDefinition({
            name: "lab",
            namespace: "n",
            bridge: "br0",
        });
        assert.ok(!("vlan" in JSON.parse(untagged.spec.config)));
    });

    it("a golden image is imported once over HTTP, immediately, and kept", () => {
        const [focal] = greece.site.images;
        assert.deepStrictEqual(focal.dataVolume, {
            apiVersion: "cdi.kubevirt.io/v1beta1",
            kind: "DataVolume",
            metadata: {
                name: "ubuntu-focal",
                namespace: "edge-images",
                annotations: {
                    "cdi.kubevirt.io/storage.bind.immediate.requested": "true",
                    "cdi.kubevirt.io/storage.deleteAfterCompletion": "false",
                    "pulumi.com/waitFor": "jsonpath={.status.phase}=Succeeded",
                },
            },
            spec: {
                source: {
                    http: {
                        url: "https://cloud-images.ubuntu.com/focal/current/focal-server-cloudimg-amd64.img",
                    },
                },
                storage: {
                    storageClassName: "local-path",
                    resources: { requests: { storage: "10Gi" } },
                },
            },
        });
        const noble = france.site.images[1];
        assert.strictEqual(noble.size, "10Gi", "a bare URL gets the default size");
        assert.ok(!("storageClassName" in noble.dataVolume.spec.storage), "default storage class");
    });

    it("a root disk clones the golden image at the node's size", () => {
        assert.deepStrictEqual(master.rootDisk.spec, {
            source: { pvc: { namespace: "edge-images", name: "ubuntu-focal" } },
            storage: {
                storageClassName: "local-path",
                resources: { requests: { storage: "15Gi" } },
            },
        });
        assert.deepStrictEqual(master.rootDisk.metadata.annotations, {
            "cdi.kubevirt.io/storage.deleteAfterCompletion": "false",
            "edge.testbed/root-disk":
                "image=edge-images/ubuntu-focal size=15Gi storageClass=local-path roles=controlplane,etcd,worker",
            "edge.testbed/cluster-identity": "k3s pods=10.64.0.0/16 services=10.65.0.0/16",
        });
        assert.strictEqual(master.rootDisk.metadata.name, "final-test-cluster-master");
        assert.strictEqual(master.rootDisk.metadata.namespace, "final-test");
    });

    it("a VM has the node's size, MACs, networks, disks and cloud-init Secret", () => {
        const vm = master.virtualMachine;
        assert.strictEqual(vm.metadata.name, "final-test-cluster-master");
        assert.deepStrictEqual(vm.metadata.annotations, {
            "pulumi.com/skipAwait": "true",
            // Every field of the root disk: whatever replaces the disk replaces the VM.
            "edge.testbed/root-disk":
                "image=edge-images/ubuntu-focal size=15Gi storageClass=local-path roles=controlplane,etcd,worker",
            "edge.testbed/cluster-identity": "k3s pods=10.64.0.0/16 services=10.65.0.0/16",
        });
        assert.strictEqual(vm.spec.runStrategy, "Always");
        const spec = vm.spec.template.spec;
        assert.strictEqual(spec.hostname, "cluster-master");
        assert.deepStrictEqual(spec.domain.cpu, { cores: 6, sockets: 1, threads: 1 });
        assert.deepStrictEqual(spec.domain.memory, { guest: "4Gi" });
        assert.deepStrictEqual(spec.dnsConfig, { nameservers: ["172.28.2.89"] });
        assert.strictEqual(spec.dnsPolicy, "None");
        assert.deepStrictEqual(spec.domain.devices.interfaces, [
            { name: "pod", macAddress: master.podMac, masquerade: {} },
            { name: "lab", macAddress: "e6:d3:d0:a5:8f:c8", bridge: {} },
        ]);
        assert.deepStrictEqual(spec.networks, [
            { name: "pod", pod: {} },
            { name: "lab", multus: { networkName: "edge-networks/lab" } },
        ]);
        assert.deepStrictEqual(spec.volumes, [
            { name: "rootdisk", dataVolume: { name: "final-test-cluster-master" } },
            {
                name: "cloudinit",
                cloudInitNoCloud: {
                    secretRef: { name: "final-test-cluster-master-cloudinit" },
                    networkDataSecretRef: { name: "final-test-cluster-master-cloudinit" },
                },
            },
        ]);
        assert.deepStrictEqual(vm.spec.template.metadata.labels, {
            "edge.testbed/site": "greece",
            "edge.testbed/cluster": "final-test",
            "edge.testbed/node": "cluster-master",
            "edge.testbed/controlplane": "true",
        });
        assert.deepStrictEqual(spec.readinessProbe, {
            tcpSocket: { port: 10290 },
            initialDelaySeconds: 60,
            periodSeconds: 15,
            failureThreshold: 3,
        });
        assert.ok(!("nodeSelector" in spec), "no host selector configured");
        assert.deepStrictEqual(
            france.clusters[0].nodes[0].virtualMachine.spec.template.spec.nodeSelector,
            { "topology.kubernetes.io/zone": "rack-a" },
        );
    });

    it("the Rancher server config carries the CIDRs, cluster DNS, CNI and TLS SANs", () => {
        assert.deepStrictEqual(parse(greece.clusters[0].machineGlobalConfig), {
            // k3s's flannel would take the default-route interface; name the node's own.
            "flannel-iface": "lab",
            "cluster-cidr": "10.64.0.0/16",
            "service-cidr": "10.65.0.0/16",
            "cluster-dns": "10.65.0.10",
            "tls-san": ["172.28.2.88"],
        });
        assert.deepStrictEqual(parse(france.clusters[0].machineGlobalConfig), {
            cni: "calico",
            "cluster-cidr": "10.90.0.0/16",
            "service-cidr": "10.91.0.0/20",
            "cluster-dns": "10.91.0.10",
            "tls-san": ["172.30.0.11", "172.30.0.12", "172.30.0.13"],
        });
        const noFlannel = machineGlobalConfig({
            type: "k3s",
            cni: "none",
            podCidr: "10.1.0.0/16",
            serviceCidr: "10.2.0.0/16",
            clusterDns: "10.2.0.10",
            tlsSans: [],
            nodeInterface: "lab",
        });
        assert.deepStrictEqual(parse(noFlannel), {
            "flannel-backend": "none",
            "cluster-cidr": "10.1.0.0/16",
            "service-cidr": "10.2.0.0/16",
            "cluster-dns": "10.2.0.10",
        });
    });

    it("every rke2 CNI is told the node's site interface or InternalIP, never left to guess", () => {
        const values = (cni: string) => parse(chartValues(cni, "edge") ?? "null");
        assert.deepStrictEqual(values("calico"), {
            "rke2-calico": {
                installation: {
                    calicoNetwork: { nodeAddressAutodetectionV4: { kubernetes: "NodeInternalIP" } },
                },
            },
        });
        assert.deepStrictEqual(values("canal"), {
            "rke2-canal": {
                calico: { ipAutoDetectionMethod: "kubernetes-internal-ip" },
                flannel: { iface: "edge" },
            },
        });
        assert.deepStrictEqual(values("cilium"), { "rke2-cilium": { devices: ["edge"] } });
        assert.deepStrictEqual(values("flannel"), {
            "rke2-flannel": {
                flannel: { args: ["--ip-masq", "--kube-subnet-mgr", "--iface=edge"] },
            },
        });
        assert.strictEqual(values("none"), null);
        assert.strictEqual(greece.clusters[0].chartValues, undefined, "k3s takes no chart values");
    });

    it("an rke2 release is refused where it ignores its CNI's node-address setting", () => {
        assert.strictEqual(cniVersionProblem("calico", "v1.23.4+rke2r1"), undefined);
        assert.strictEqual(cniVersionProblem("calico", "v1.31.5+rke2r1"), undefined);
        assert.strictEqual(
            cniVersionProblem("calico", "v1.22.17+rke2r1"),
            "rke2 v1.22.17+rke2r1 predates calico's NodeInternalIP address detection; the oldest releases with it are v1.23.4+rke2r1 (per minor), and every later minor",
        );
        assert.strictEqual(cniVersionProblem("canal", "v1.22.10+rke2r1"), undefined);
        assert.notStrictEqual(cniVersionProblem("canal", "v1.23.6+rke2r1"), undefined);
        assert.strictEqual(cniVersionProblem("canal", "v1.24.1+rke2r1"), undefined);
        assert.notStrictEqual(cniVersionProblem("flannel", "v1.29.1+rke2r1"), undefined);
        assert.strictEqual(cniVersionProblem("flannel", "v1.31.0+rke2r1"), undefined);
        assert.strictEqual(cniVersionProblem("cilium", "v1.20.0+rke2r1"), undefined);
    });

    it("a golden image behind credentials names CDI's Secret, never the credentials", () => {
        const config = editableStackConfig("greece");
        config["edge:images"]["ubuntu-focal"].secretRef = "focal-mirror-credentials";
        const [focal] = planStack(rawStackConfig(config)).plan.site.images;
        assert.deepStrictEqual(focal.dataVolume.spec.source, {
            http: {
                url: "https://cloud-images.ubuntu.com/focal/current/focal-server-cloudimg-amd64.img",
                secretRef: "focal-mirror-credentials",
            },
        });
    });

    it("the direct API Service selects the cluster's control-plane VMs on 6443, without awaiting them", () => {
        assert.deepStrictEqual(france.clusters[0].apiService, {
            apiVersion: "v1",
            kind: "Service",
            metadata: {
                name: "core-api",
                namespace: "core",
                annotations: { "pulumi.com/skipAwait": "true" },
            },
            spec: {
                type: "NodePort",
                selector: { "edge.testbed/cluster": "core", "edge.testbed/controlplane": "true" },
                ports: [
                    {
                        name: "https",
                        protocol: "TCP",
                        port: 6443,
                        targetPort: 6443,
                        nodePort: 30643,
                    },
                ],
            },
        });
        assert.strictEqual(france.clusters[1].apiService, undefined);
    });

    it("a break-glass kubeconfig points at the direct endpoint", () => {
        const rewritten = parse(
            rewriteKubeconfigServer(mockRancher.adminKubeconfig, "https://172.28.2.88:31443"),
        );
        assert.strictEqual(rewritten.clusters[0].cluster.server, "https://172.28.2.88:31443");
        assert.strictEqual(rewritten.clusters[0].cluster["certificate-authority-data"], "bW9jaw==");
        assert.throws(() => rewriteKubeconfigServer("kind: Config\n", "https://x"), {
            message: "the admin kubeconfig read from the node has no clusters",
        });
    });

    describe("against the upstream CRD schemas", function () {
        before(function () {
            requireSchemas(this);
        });

        it("every NAD, DataVolume and VirtualMachine of both stacks is valid", () => {
            let checked = 0;
            for (const plan of [greece, france]) {
                const objects = [
                    ...plan.site.networks.map((n) => n.nad),
                    ...plan.site.images.map((i) => i.dataVolume),
                    ...plan.clusters.flatMap((c) =>
                        c.nodes.flatMap((n) => [n.rootDisk, n.virtualMachine]),
                    ),
                ];
                for (const object of objects) {
                    assert.deepStrictEqual(
                        crdErrors(object),
                        [],
                        `${object.kind} ${object.metadata.name}`,
                    );
                    checked++;
                }
            }
            assert.strictEqual(checked, 4 + 3 + 2 * (2 + 10));
        });

        it("a golden image's secretRef is where CDI's schema has it", () => {
            const image = goldenImageDataVolume({
                name: "focal",
                namespace: "edge-images",
                url: "https://images.example.org/focal.img",
                secretRef: "focal-mirror-credentials",
                size: "10Gi",
            });
            assert.deepStrictEqual(crdErrors(image), []);
        });

        it("would catch a field the schema forbids", () => {
            const vm = virtualMachine({ ...sampleVmArgs(), memory: "4Gi" });
            (vm.spec.template.spec.domain.cpu as any).coress = 2;
            assert.notDeepStrictEqual(crdErrors(vm), []);
        });
    });
});

function sampleVmArgs(): Parameters<typeof virtualMachine>[0] {
    return {
        name: "vm",
        namespace: "ns",
        hostname: "vm",
        cpu: 1,
        memory: "1Gi",
        labels: {},
        annotations: {},
        nodeSelector: {},
        dnsServers: ["10.0.0.53"],
        podMac: "02:00:00:00:00:01",
        bridges: [],
        rootDisk: "vm",
        cloudInitSecret: "vm-cloudinit",
    };
}
