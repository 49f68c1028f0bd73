import * as assert from "assert";
import { ResourceValidationArgs } from "@pulumi/policy";
import { typeTokens } from "../lib/core/naming";
import { planStack } from "../lib/plan/stackPlan";
import { rawStackConfig, secretPlaceholder } from "../lib/config/stackFile";
import { evaluateProgram } from "../offline/evaluate";
import { SitePolicyConfig, policies, sitePolicyConfig } from "../policy/policies";
import { editableStackConfig, mockRancher } from "./mocks";

const types = {
    virtualMachine: "kubernetes:kubevirt.io/v1:VirtualMachine",
    dataVolume: "kubernetes:cdi.kubevirt.io/v1beta1:DataVolume",
    nad: "kubernetes:k8s.cni.cncf.io/v1:NetworkAttachmentDefinition",
    secret: "kubernetes:core/v1:Secret",
    clusterV2: "rancher2:index/clusterV2:ClusterV2",
};

/** Validation arguments as the policy engine builds them for one resource. */
function resourceArgs(
    type: string,
    props: Record<string, any>,
    config: Partial<SitePolicyConfig> = {},
    policyName = "",
): ResourceValidationArgs {
    return {
        type,
        props,
        urn: `urn:pulumi:test::edge::${type}::under-test`,
        name: "under-test",
        opts: {
            protect: false,
            ignoreChanges: [],
            aliases: [],
            additionalSecretOutputs: [],
            customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
        },
        stackTags: new Map(),
        isType: () => false,
        asType: () => undefined,
        getConfig: <T extends object>() => (config as Record<string, unknown>)[policyName] as T,
        notApplicable: () => {
            throw new Error("not applicable");
        },
    };
}

/** The messages one policy reports for a resource. */
async function violations(
    policyName: string,
    type: string,
    props: Record<string, any>,
    config: Partial<SitePolicyConfig> = {},
): Promise<string[]> {
    const policy = policies.find((p) => p.name === policyName);
    assert.ok(policy, `no policy ${policyName}`);
    const found: string[] = [];
    const args = resourceArgs(type, props, config, policyName);
    for (const validate of [policy.validateResource ?? []].flat()) {
        await validate(args, (message) => found.push(message));
    }
    return found;
}

const { plan: greece } = planStack(rawStackConfig(editableStackConfig("greece")));
const vm = greece.clusters[0].nodes[0].virtualMachine;
const goldenImage = greece.site.images[0].dataVolume;
const nad = greece.site.networks[0].nad;
const greeceConfig = sitePolicyConfig(greece.site);

describe("policy pack", () => {
    it("passes every resource of both example stacks, their interconnect gateways too", async () => {
        for (const stack of ["greece", "france"]) {
            const config = editableStackConfig(stack);
            // With its WireGuard key set (a placeholder, as offline), a site declares its gateway.
            config["edge:wireguardPrivateKey"] = secretPlaceholder;
            const { plan } = planStack(rawStackConfig(config));
            const evaluation = await evaluateProgram(config, mockRancher, { stack });
            assert.ok(evaluation.resources.some((r) => r.type === typeTokens.interconnectGateway));
            for (const resource of evaluation.resources) {
                for (const policy of policies) {
                    const found = await violations(
                        policy.name,
                        resource.type,
                        resource.inputs,
                        sitePolicyConfig(plan.site),
                    );
                    assert.deepStrictEqual(found, [], `${policy.name} on ${resource.name}`);
                }
            }
        }
    });

    describe("vm-cpu-memory-run-strategy", () => {
        it("reports a VM without CPU, memory or runStrategy Always", async () => {
            const bad = structuredClone(vm) as any;
            delete bad.spec.template.spec.domain.cpu;
            delete bad.spec.template.spec.domain.memory;
            bad.spec.runStrategy = "Halted";
            assert.deepStrictEqual(
                await violations("vm-cpu-memory-run-strategy", types.virtualMachine, bad),
                [
                    "a VirtualMachine must set spec.template.spec.domain.cpu.cores",
                    "a VirtualMachine must set spec.template.spec.domain.memory.guest",
                    'a VirtualMachine must run with runStrategy Always, not "Halted"',
                ],
            );
        });

        it("accepts memory given as a resource request", async () => {
            const alt = structuredClone(vm) as any;
            delete alt.spec.template.spec.domain.memory;
            alt.spec.template.spec.domain.resources = { requests: { memory: "4Gi" } };
            assert.deepStrictEqual(
                await violations("vm-cpu-memory-run-strategy", types.virtualMachine, alt),
                [],
            );
        });
    });

    describe("user-data-no-passwords", () => {
        const userData = (text: string) => ({ stringData: { userdata: text, networkdata: "" } });

        it("reports passwords and SSH password login in a cloud-init Secret", async () => {
            const text =
                "#cloud-config\npassword: ubuntu\nchpasswd: { expire: false }\nssh_pwauth: true\n";
            assert.deepStrictEqual(
                await violations("user-data-no-passwords", types.secret, userData(text)),
                [
                    "Secret: user-data sets password; nodes take SSH keys only",
                    "Secret: user-data sets chpasswd; nodes take SSH keys only",
                    "Secret: user-data sets ssh_pwauth: true; nodes take SSH keys only",
                ],
            );
        });

        it("reports a user's password nested in users, and base64 data", async () => {
            const text =
                "#cloud-config\nssh_pwauth: false\nusers:\n  - name: ops\n    plain_text_passwd: x\n";
            const data = { data: { userdata: Buffer.from(text).toString("base64") } };
            assert.deepStrictEqual(await violations("user-data-no-passwords", types.secret, data), [
                "Secret: user-data sets users.0.plain_text_passwd; nodes take SSH keys only",
            ]);
        });

        it("requires ssh_pwauth: false, and checks inline user-data on VMs", async () => {
            const inline = structuredClone(vm) as any;
            inline.spec.template.spec.volumes[1] = {
                name: "cloudinit",
                cloudInitNoCloud: { userData: "#cloud-config\nhostname: x\n" },
            };
            assert.deepStrictEqual(
                await violations("user-data-no-passwords", types.virtualMachine, inline),
                ["volume cloudinit: user-data must set ssh_pwauth: false"],
            );
        });

        it("skips a Secret whose data is not known yet, as in a preview", async () => {
            assert.deepStrictEqual(
                await violations("user-data-no-passwords", types.secret, {}),
                [],
            );
        });
    });

    describe("images-from-https", () => {
        it("reports an image over plain http", async () => {
            const http = structuredClone(goldenImage) as any;
            http.spec.source.http.url = "http://mirror.example.org/focal.img";
            assert.deepStrictEqual(
                await violations("images-from-https", types.dataVolume, http, greeceConfig),
                ["image http://mirror.example.org/focal.img is not fetched over https"],
            );
        });

        it("holds images to an allow-list when the site sets one", async () => {
            const config = {
                ...greeceConfig,
                "images-from-https": { allowedImageUrlPrefixes: ["https://mirror.example.org/"] },
            };
            assert.deepStrictEqual(
                await violations("images-from-https", types.dataVolume, goldenImage, config),
                [
                    "image https://cloud-images.ubuntu.com/focal/current/focal-server-cloudimg-amd64.img is not from an allowed source (https://mirror.example.org/)",
                ],
            );
        });
    });

    describe("datavolumes-retained", () => {
        it("reports a DataVolume that CDI may garbage-collect", async () => {
            const collected = structuredClone(goldenImage) as any;
            collected.metadata.annotations["cdi.kubevirt.io/storage.deleteAfterCompletion"] =
                "true";
            assert.deepStrictEqual(
                await violations("datavolumes-retained", types.dataVolume, collected),
                [
                    'a DataVolume must carry cdi.kubevirt.io/storage.deleteAfterCompletion: "false", or CDI garbage-collects it and Pulumi recreates it',
                ],
            );
        });
    });

    describe("nads-on-declared-bridges", () => {
        it("reports a bridge or VLAN the site does not declare", async () => {
            const other = structuredClone(nad) as any;
            other.spec.config = JSON.stringify({
                ...JSON.parse(nad.spec.config),
                bridge: "br9",
                vlan: 7,
            });
            assert.deepStrictEqual(
                await violations("nads-on-declared-bridges", types.nad, other, greeceConfig),
                ["bridge br9 VLAN 7 is not a network the site declares"],
            );
            const tagged = structuredClone(nad) as any;
            tagged.spec.config = JSON.stringify({ ...JSON.parse(nad.spec.config), vlan: 18 });
            assert.deepStrictEqual(
                await violations("nads-on-declared-bridges", types.nad, tagged, greeceConfig),
                ["bridge br0 VLAN 18 is not a network the site declares"],
            );
        });

        it("takes france's SR-IOV network by its resource and VLAN, and nothing else", async () => {
            const france = planStack(rawStackConfig(editableStackConfig("france"))).plan;
            const franceConfig = sitePolicyConfig(france.site);
            const fabric = france.site.networks.find((n) => n.name === "fabric")!.nad;
            assert.deepStrictEqual(
                await violations("nads-on-declared-bridges", types.nad, fabric, franceConfig),
                [],
            );
            const other = structuredClone(fabric) as any;
            other.metadata.annotations["k8s.v1.cni.cncf.io/resourceName"] = "intel.com/other";
            assert.deepStrictEqual(
                await violations("nads-on-declared-bridges", types.nad, other, franceConfig),
                ["SR-IOV resource intel.com/other VLAN 122 is not a network the site declares"],
            );
            assert.deepStrictEqual(
                await violations("nads-on-declared-bridges", types.nad, fabric, greeceConfig),
                [
                    "SR-IOV resource intel.com/sriov_fabric VLAN 122 is not a network the site declares",
                ],
            );
            const unnamed = structuredClone(fabric) as any;
            delete unnamed.metadata.annotations;
            assert.deepStrictEqual(
                await violations("nads-on-declared-bridges", types.nad, unnamed, franceConfig),
                [
                    "an SR-IOV NetworkAttachmentDefinition needs the k8s.v1.cni.cncf.io/resourceName annotation",
                ],
            );
            const untagged = structuredClone(fabric) as any;
            const { vlan: _vlan, ...config } = JSON.parse(fabric.spec.config);
            untagged.spec.config = JSON.stringify(config);
            assert.deepStrictEqual(
                await violations("nads-on-declared-bridges", types.nad, untagged, franceConfig),
                ['an SR-IOV NetworkAttachmentDefinition needs "vlan" (0 for untagged)'],
            );
        });
    });

    describe("cluster-cidrs-clear-of-reserved", () => {
        it("reports a cluster CIDR inside a reserved range", async () => {
            const props = {
                name: "greece-final-test",
                rkeConfig: {
                    machineGlobalConfig: "cluster-cidr: 10.42.0.0/16\nservice-cidr: 10.65.0.0/16\n",
                },
            };
            assert.deepStrictEqual(
                await violations(
                    "cluster-cidrs-clear-of-reserved",
                    types.clusterV2,
                    props,
                    greeceConfig,
                ),
                ["cluster-cidr 10.42.0.0/16 overlaps the site's reserved range 10.42.0.0/16"],
            );
        });

        it("reports a cluster without CIDRs", async () => {
            const props = { rkeConfig: { machineGlobalConfig: "cni: canal\n" } };
            assert.deepStrictEqual(
                await violations(
                    "cluster-cidrs-clear-of-reserved",
                    types.clusterV2,
                    props,
                    greeceConfig,
                ),
                [
                    "cluster-cidr must be set to an IPv4 CIDR",
                    "service-cidr must be set to an IPv4 CIDR",
                ],
            );
        });
    });
});
