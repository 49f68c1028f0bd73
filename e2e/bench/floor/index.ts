import { readFileSync } from "fs";
import * as pulumi from "@pulumi/pulumi";
import { ReplayedResource, replayDeclared } from "../../../offline/replay";

/**
 * The engine's floor for `npm run bench:engine`: the program's resources from `resources.json`
 * (types, names and options from the program under mocks, inputs as the program's `up` left them
 * in the state), declared with no logic: plain inputs, each secret still a secret, the order the
 * engine saw kept by `dependsOn`, and hooks doing nothing.
 */

/** A state export's inputs, with `{ $secret: value }` where the state held a secret. */
function revive(value: unknown): unknown {
    if (Array.isArray(value)) {
        return value.map(revive);
    }
    if (typeof value === "object" && value !== null) {
        if ("$secret" in value) {
            return pulumi.secret(revive(value.$secret));
        }
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, revive(v)]));
    }
    return value;
}

const resources: ReplayedResource[] = JSON.parse(readFileSync("resources.json", "utf8"));
const hooks = new Map<string, pulumi.ResourceHook>();
replayDeclared(resources, {
    hook: (name) => {
        if (!hooks.has(name)) {
            hooks.set(name, new pulumi.ResourceHook(name, () => {}));
        }
        return hooks.get(name)!;
    },
    inputs: (resource) => revive(resource.inputs) as Record<string, any>,
    recordedDependencies: true,
});
