import { readFileSync } from "fs";
import { NodeListError, hostsFromNodeList, parseNodeListText, renderHostsYaml } from "../lib/site";

const usage = [
    "usage: kubectl get nodes -o json | npm run hosts",
    "       npm run hosts -- <file with the output of kubectl get nodes -o json>",
].join("\n");

/** The node list's text: the file named, or stdin when it is not a terminal. */
function readInput(argv: string[]): string | undefined {
    if (argv.length > 1 || argv[0]?.startsWith("-")) {
        return undefined;
    }
    if (argv.length === 1) {
        return readFileSync(argv[0], "utf8");
    }
    return process.stdin.isTTY ? undefined : readFileSync(0, "utf8");
}

/**
 * `npm run hosts`: the `hosts:` field of `edge:site` for the host cluster's nodes, on stdout; the
 * nodes left out, with why, on stderr. Exit 2 for input that is not a node list.
 */
function main(argv: string[]): number {
    let text: string | undefined;
    try {
        text = readInput(argv);
    } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        console.error(`${argv[0]} cannot be read (${code ?? String(error)})\n${usage}`);
        return 2;
    }
    if (text === undefined) {
        console.error(usage);
        return 2;
    }
    let result;
    try {
        result = hostsFromNodeList(parseNodeListText(text));
    } catch (error) {
        if (error instanceof NodeListError) {
            console.error(error.message);
            return 2;
        }
        throw error;
    }
    process.stdout.write(renderHostsYaml(result.hosts));
    for (const { name, reason } of result.skipped) {
        console.error(`skipped ${name}: ${reason}`);
    }
    return 0;
}

try {
    process.exitCode = main(process.argv.slice(2));
} catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 2;
}
