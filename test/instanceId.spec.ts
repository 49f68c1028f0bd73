import * as assert from "assert";
import { cloudInitUuid } from "../lib/render/instanceId";
import { virtualMachine, withFirmwareUuid } from "../lib/render/manifests";

const vm = { namespace: "final-test", name: "final-test-worker1" };
const data = { userdata: "#cloud-config\nhostname: worker1\n", networkdata: "version: 2\n" };

describe("cloud-init instance UUID", () => {
    it("is the first 128 bits of SHA-256 of the VM and its cloud-init, as a version 8 UUID", () => {
        // Python: uuid.UUID(bytes=sha256(json.dumps([namespace, name, userdata, networkdata],
        // separators=(",", ":"))).digest()[:16]) with version 8 and the RFC variant set.
        assert.strictEqual(cloudInitUuid(vm, data), "e76123ba-e44f-8bb2-80b1-94f5677b19df");
    });

    it("is a lowercase UUID with version 8 and the RFC 9562 variant", () => {
        for (const userdata of ["", "a", "#cloud-config\n", "ü\n".repeat(1000)]) {
            assert.match(
                cloudInitUuid(vm, { ...data, userdata }),
                /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
            );
        }
    });

    it("changes when either document or the VM changes, and only then", () => {
        const base = cloudInitUuid(vm, data);
        assert.strictEqual(cloudInitUuid({ ...vm }, { ...data }), base);
        const others = [
            cloudInitUuid(vm, { ...data, userdata: `${data.userdata}runcmd: []\n` }),
            cloudInitUuid(vm, { ...data, networkdata: "version: 2\nethernets: {}\n" }),
            cloudInitUuid({ ...vm, name: "final-test-worker2" }, data),
            cloudInitUuid({ ...vm, namespace: "lab" }, data),
            // The documents are framed apart: moving text from one to the other is a change.
            cloudInitUuid(vm, { userdata: `${data.userdata}v`, networkdata: "ersion: 2\n" }),
        ];
        assert.strictEqual(new Set([base, ...others]).size, others.length + 1);
    });

    it("goes into the VM template's firmware, with the apply forced", () => {
        const plain = virtualMachine({
            name: "final-test-worker1",
            namespace: "final-test",
            hostname: "worker1",
            cpu: 2,
            memory: "4Gi",
            labels: { app: "x" },
            annotations: { "pulumi.com/waitFor": "condition=Ready" },
            nodeSelector: {},
            dnsServers: ["10.0.0.53"],
            podMac: "02:00:00:00:00:01",
            bridges: [],
            rootDisk: "final-test-worker1",
            cloudInitSecret: "final-test-worker1-cloudinit",
        });
        const before = structuredClone(plain);
        const expected: any = structuredClone(plain);
        expected.metadata.annotations["pulumi.com/patchForce"] = "true";
        expected.spec.template.spec.domain.firmware = {
            uuid: "e76123ba-e44f-8bb2-80b1-94f5677b19df",
        };
        assert.deepStrictEqual(
            withFirmwareUuid(plain, "e76123ba-e44f-8bb2-80b1-94f5677b19df"),
            expected,
        );
        assert.deepStrictEqual(plain, before, "the plan's object is left as it was");
    });
});
