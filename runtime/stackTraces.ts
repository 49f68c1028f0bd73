/**
 * Runs `run` with V8 capturing no stack frames, then restores the limit; when `run` returns a
 * promise, once it settles. The SDK records a stack trace for each of some 30 internal promises
 * per resource, and reads them only when PULUMI_DEBUG_PROMISE_LEAKS is set (@pulumi/pulumi
 * runtime/debuggable.js, debuggablePromise): about half of the program's time. Resources'
 * source positions are unaffected: the SDK lifts the limit itself where it records them
 * (@pulumi/pulumi resource.js, Resource.sourcePosition).
 */
export function withCappedStackTraces<T>(run: () => T): T {
    const limit = Error.stackTraceLimit;
    const restore = () => {
        Error.stackTraceLimit = limit;
    };
    if (!process.env.PULUMI_DEBUG_PROMISE_LEAKS) {
        Error.stackTraceLimit = 0;
    }
    let result: T;
    try {
        result = run();
    } catch (error) {
        restore();
        throw error;
    }
    if (result instanceof Promise) {
        return result.finally(restore) as T;
    }
    restore();
    return result;
}
