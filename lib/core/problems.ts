/** One thing wrong with the stack config, located by its path (`clusters[1].nodes[0].memory`). */
export interface Problem {
    path: string;
    message: string;
}

/** Every problem found in a stack's config, reported together so that nothing is half-applied. */
export class ConfigError extends Error {
    constructor(readonly problems: Problem[]) {
        super(formatProblems(problems));
        this.name = "ConfigError";
    }
}

/** The problems of `what` (the stack config unless said otherwise), one per line with its path. */
export function formatProblems(problems: Problem[], what = "stack config"): string {
    const lines = problems.map((p) => `  - ${p.path}: ${p.message}`);
    const noun = problems.length === 1 ? "problem" : "problems";
    return [`invalid ${what} (${problems.length} ${noun}):`, ...lines].join("\n");
}

/** Collects problems as validation walks the config. */
export class ProblemList {
    readonly problems: Problem[] = [];

    /** Adds a problem, unless the same one at the same path is listed already. */
    add(path: string, message: string): void {
        if (!this.problems.some((p) => p.path === path && p.message === message)) {
            this.problems.push({ path, message });
        }
    }

    get empty(): boolean {
        return this.problems.length === 0;
    }
}
