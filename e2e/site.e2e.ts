import * as assert from "assert";
import * as path from "path";
import * as k8s from "@pulumi/kubernetes";
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { SiteNetwork } from "../components";
import { planStack } from "../lib/plan/stackPlan";
import { rawStackConfig, stackFilePath } from "../lib/config/stackFile";
import {
    ControlPlane,
    completeDataVolumes,
    crdsPresent,
    startLiveApiServer,
    stopLiveApiServer,
} from "./controlPlane";
import { projectRoot, pulumiEnvironment } from "./pulumiEnv";
import { readStackFile } from "../runtime/projectFiles";

const plan = planStack(
    rawStackConfig(readStackFile(path.join(projectRoot, stackFilePath("greece"))).config),
).plan;

/**
 * The site layer for real: the real CLI and Kubernetes provider apply greece's SiteNetwork to a
 * live API server that knows our CRDs, while the test plays CDI's part through `status`.
 */
describe("the site layer against a live API server", function () {
    this.timeout(15 * 60 * 1000);
    let work: string;
    let controlPlane: ControlPlane | undefined;
    let stack: Stack;
    let output = "";

    before(async function () {
        if (!crdsPresent()) {
            this.skip();
        }
        const live = await startLiveApiServer("edge-site-e2e-");
        ({ work, controlPlane } = live);
        const { bin } = live;
        const { kubeconfig } = controlPlane;
        const { pulumiCommand, env, backend } = await pulumiEnvironment(work, bin, ["kubernetes"]);
        stack = await LocalWorkspace.createOrSelectStack(
            {
                stackName: "greece",
                projectName: "edge",
                program: async () => {
                    const hostCluster = new k8s.Provider("greece-host", { kubeconfig });
                    const site = new SiteNetwork(
                        "greece",
                        { site: plan.site },
                        { providers: [hostCluster] },
                    );
                    return { networks: site.networks };
                },
            },
            {
                pulumiCommand,
                envVars: env,
                projectSettings: { name: "edge", runtime: "nodejs", backend: { url: backend } },
            },
        );
    });

    after(async () => {
        await stopLiveApiServer({ controlPlane, work });
    });

    /** Plays CDI until stopped. */
    function playCdi(): () => void {
        const timer = setInterval(() => completeDataVolumes(controlPlane!), 500);
        return () => clearInterval(timer);
    }

    it("creates namespaces, the NAD and the golden image, waiting until CDI reports the import done", async () => {
        const stop = playCdi();
        try {
            const result = await stack.up({ onOutput: (text) => (output += text) });
            assert.deepStrictEqual(result.summary.resourceChanges, { create: 8 });
        } finally {
            stop();
        }
        // pulumi.com/waitFor on the golden image: it waited for a phase, then found Succeeded.
        assert.match(output, /\{\.status\.phase\} selected nothing/);
        assert.match(output, /Found \{\.status\.phase\}=Succeeded/);
        assert.doesNotMatch(
            output,
            /unknown field|pruned|warning: (?!using pulumi-resource-kubernetes from \$PATH)/i,
        );
    });

    it("left exactly the planned objects on the API server", async () => {
        for (const namespace of plan.site.namespaces) {
            assert.strictEqual(
                (await controlPlane!.call("GET", `/api/v1/namespaces/${namespace}`)).status,
                200,
                namespace,
            );
        }
        const [lab] = plan.site.networks;
        const nad = await controlPlane!.call(
            "GET",
            `/apis/k8s.cni.cncf.io/v1/namespaces/${lab.nad.metadata.namespace}/network-attachment-definitions/lab`,
        );
        assert.deepStrictEqual(JSON.parse(nad.body.spec.config), JSON.parse(lab.nad.spec.config));
        const [focal] = plan.site.images;
        const dv = await controlPlane!.call(
            "GET",
            `/apis/cdi.kubevirt.io/v1beta1/namespaces/${plan.site.imageNamespace}/datavolumes/${focal.name}`,
        );
        assert.deepStrictEqual(dv.body.spec, focal.dataVolume.spec);
        assert.deepStrictEqual(
            Object.fromEntries(
                Object.entries(dv.body.metadata.annotations).filter(
                    ([k]) => !k.startsWith("pulumi.com/") || k === "pulumi.com/waitFor",
                ),
            ),
            focal.dataVolume.metadata.annotations,
        );
    });

    it("changes nothing on a second up", async () => {
        const result = await stack.up();
        assert.deepStrictEqual(result.summary.resourceChanges, { same: 8 });
    });

    it("leaves none of our objects behind on destroy, namespaces included", async () => {
        await stack.destroy();
        for (const namespace of plan.site.namespaces) {
            assert.strictEqual(
                (await controlPlane!.call("GET", `/api/v1/namespaces/${namespace}`)).status,
                404,
                namespace,
            );
        }
    });
});
