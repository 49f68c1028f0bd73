import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { withCappedStackTraces } from "../runtime/stackTraces";
import { inStack, setupMocks } from "./mocks";

describe("capped stack traces while resources are declared", () => {
    it("captures no frames inside, restores the limit after, even when declaring throws", () => {
        const before = Error.stackTraceLimit;
        assert.strictEqual(
            withCappedStackTraces(() => Error.stackTraceLimit),
            0,
        );
        assert.throws(() =>
            withCappedStackTraces(() => {
                throw new Error("declaring failed");
            }),
        );
        assert.strictEqual(Error.stackTraceLimit, before);
    });

    it("keeps the cap over an async run until it settles, then restores the limit", async () => {
        const before = Error.stackTraceLimit;
        const inside = await withCappedStackTraces(async () => {
            await new Promise((resolve) => setImmediate(resolve));
            return Error.stackTraceLimit;
        });
        assert.strictEqual(inside, 0);
        assert.strictEqual(Error.stackTraceLimit, before);
        await assert.rejects(
            withCappedStackTraces(async () => {
                throw new Error("evaluating failed");
            }),
        );
        assert.strictEqual(Error.stackTraceLimit, before);
    });

    it("leaves the limit alone when promise leaks are being debugged", () => {
        process.env.PULUMI_DEBUG_PROMISE_LEAKS = "1";
        try {
            assert.strictEqual(
                withCappedStackTraces(() => Error.stackTraceLimit),
                Error.stackTraceLimit,
            );
        } finally {
            delete process.env.PULUMI_DEBUG_PROMISE_LEAKS;
        }
    });

    it("keeps each resource's source position, which the SDK records with its own limit", async () => {
        class Thing extends pulumi.CustomResource {
            constructor(name: string) {
                super("test:index:Thing", name, {});
            }
        }
        /** The source position the SDK sends with the registration of each resource. */
        async function positionsOf(declare: () => void): Promise<string[]> {
            await setupMocks({});
            const monitor = pulumi.runtime.getMonitor() as unknown as {
                registerResource(request: any, callback: unknown): unknown;
            };
            const positions: string[] = [];
            const register = monitor.registerResource.bind(monitor);
            monitor.registerResource = (request, callback) => {
                const position = request.getSourceposition();
                positions.push(`${request.getName()} ${position?.getUri()}:${position?.getLine()}`);
                return register(request, callback);
            };
            await inStack(async () => withCappedStackTraces(declare));
            return positions.filter((p) => p.startsWith("thing "));
        }
        const declare = () => void new Thing("thing");
        const capped = await positionsOf(declare);
        process.env.PULUMI_DEBUG_PROMISE_LEAKS = "1";
        try {
            assert.deepStrictEqual(await positionsOf(declare), capped);
        } finally {
            delete process.env.PULUMI_DEBUG_PROMISE_LEAKS;
        }
        assert.strictEqual(capped.length, 1);
        assert.match(capped[0], /^thing file:\/\/\S+:\d+$/);
    });
});
