// `npm run plan|lock|bench|bench:page|schema|hosts`: runs scripts/<name>.ts as JavaScript compiled by tsc into build/,
// recompiling (without type checks: `npm test` does those) whenever a source file changed. Node
// then starts in about half the time ts-node takes to transpile the same modules on every run.
"use strict";
const { createHash } = require("crypto");
const { execFileSync } = require("child_process");
const { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } = require("fs");
const path = require("path");

const root = path.resolve(__dirname, "..");
const build = path.join(root, "build");
const stampFile = path.join(build, ".sources");
const sourceDirs = ["components", "lib", "offline", "policy", "runtime", "scripts"];

/** Every file the build depends on, sorted, relative to the project root. */
function sources() {
    const files = ["index.ts", "tsconfig.json", "tsconfig.build.json", "package-lock.json"];
    const walk = (dir) => {
        for (const entry of readdirSync(path.join(root, dir), { withFileTypes: true })) {
            const relative = path.join(dir, entry.name);
            if (entry.isDirectory()) {
                walk(relative);
            } else if (entry.name.endsWith(".ts")) {
                files.push(relative);
            }
        }
    };
    sourceDirs.forEach(walk);
    return files.sort();
}

function sourceHash() {
    const hash = createHash("sha256");
    for (const file of sources()) {
        hash.update(`${file}\0`)
            .update(readFileSync(path.join(root, file)))
            .update("\0");
    }
    return hash.digest("hex");
}

/**
 * Deletes what tsc emitted for sources that no longer exist: tsc never deletes, and a module moved
 * into a folder (lib/config.ts to lib/config/) would leave its old .js, which require() prefers to
 * the folder's index.js. Files in use by another run stay, unlike with emptying build/.
 */
function pruneStale(dir) {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const file = path.join(dir, entry.name);
        if (entry.isDirectory()) {
            pruneStale(file);
            continue;
        }
        const source = path.join(root, path.relative(build, file)).replace(/\.js(\.map)?$/, ".ts");
        if (source.endsWith(".ts") && !existsSync(source)) {
            rmSync(file);
        }
    }
}

const [name, ...args] = process.argv.slice(2);
if (!["plan", "lock", "bench", "benchPage", "schema", "hosts"].includes(name)) {
    console.error("usage: node scripts/run.js plan|lock|bench|benchPage|schema|hosts [args]");
    process.exit(2);
}
const hash = sourceHash();
if (!existsSync(stampFile) || readFileSync(stampFile, "utf8") !== hash) {
    const tsc = require.resolve("typescript/bin/tsc");
    execFileSync(
        process.execPath,
        [tsc, "-p", path.join(root, "tsconfig.build.json"), "--noCheck"],
        {
            stdio: "inherit",
        },
    );
    pruneStale(build);
    writeFileSync(stampFile, hash);
}
process.argv = [process.argv[0], path.join(build, "scripts", `${name}.js`), ...args];
require(path.join(build, "scripts", `${name}.js`));
