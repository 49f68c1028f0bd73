export const minutes = (n: number) => n * 60 * 1000;
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` every 5 s until it returns a value, for `timeoutMs`. */
export async function eventually<T>(
    what: string,
    timeoutMs: number,
    check: () => Promise<T | undefined> | T | undefined,
): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
        const value = await check();
        if (value !== undefined) {
            return value;
        }
        await sleep(5000);
    }
    throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
}
