import * as assert from "assert";
import { withoutSecretEnvelopes } from "../lib/core/secretEnvelopes";
import {
    mockRancher,
    ofType,
    registrationCommandOf,
    runProgram,
    secretValue,
    stackConfig,
    types,
    warningsOf,
} from "./mocks";

/** The SDK's envelope of a secret (sdk/nodejs/runtime/rpc.ts). */
const envelope = (value: unknown) => ({
    "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
    value,
});

describe("secret envelopes", () => {
    it("removes every envelope, nested or repeated, and keeps everything else", () => {
        assert.deepStrictEqual(
            withoutSecretEnvelopes(
                envelope({
                    nodeCommand: "curl",
                    token: envelope(envelope("t")),
                    list: [envelope(1), { a: envelope(null) }],
                }),
            ),
            { nodeCommand: "curl", token: "t", list: [1, { a: null }] },
        );
        assert.strictEqual(withoutSecretEnvelopes("plain"), "plain");
        assert.deepStrictEqual(withoutSecretEnvelopes({ value: 1 }), { value: 1 });
    });

    it("reads Rancher's node command from a token whose own secret field leaves it wrapped", async () => {
        // As the real rancher2 provider returns it: a secret whose `token` field is one too, which
        // the SDK hands `apply` still in an envelope (pulumi/pulumi pull request 24160).
        const { resources } = await runProgram(stackConfig("greece"), {
            stack: "greece",
            overrides: {
                "rancher2:index/clusterV2:ClusterV2": {
                    clusterRegistrationToken: envelope({
                        token: envelope(mockRancher.token),
                        nodeCommand: mockRancher.nodeCommand,
                        insecureNodeCommand: mockRancher.insecureNodeCommand,
                    }),
                },
            },
        });
        const secrets = ofType(resources, types.secret).filter((r) =>
            r.name.endsWith("-cloudinit"),
        );
        assert.strictEqual(secrets.length, 2);
        for (const secret of secrets) {
            const command = registrationCommandOf(secretValue(secret.inputs.stringData).userdata);
            assert.ok(command.startsWith(mockRancher.nodeCommand), command);
        }
    });

    it("reads the nodes Rancher lists when they arrive in an envelope, as after a refresh", async () => {
        const warnings = await warningsOf(() =>
            runProgram(stackConfig("greece"), {
                stack: "greece",
                overrides: {
                    "rancher2:index/clusterSync:ClusterSync": {
                        nodes: envelope([
                            { name: "cluster-master", annotations: envelope({}) },
                            { name: "worker2" },
                        ]),
                    },
                },
            }),
        );
        assert.deepStrictEqual(warnings, [
            "Rancher reports cluster greece-final-test active without node worker1; see its VM's console and the cluster's machines in Rancher",
        ]);
    });
});
