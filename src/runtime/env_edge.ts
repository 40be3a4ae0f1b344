/**
 * Process facts on edge runtimes (workerd and others without a process):
 * there is no process environment, user or file system; callers pass `env`.
 *
 * @module
 */

/** Whether this runtime can reach a local file system. */
export const hasFileSystem = false;

/**
 * Edge runtimes hand bindings to the request handler instead of a global
 * environment, so there is nothing to read here.
 *
 * @returns An empty object.
 */
export function processEnv(): Record<string, string | undefined> {
  return {};
}

/**
 * No operating-system user exists on an edge runtime.
 *
 * @returns Always `undefined`.
 */
export function userName(): string | undefined {
  return undefined;
}

/**
 * No script path exists on an edge runtime.
 *
 * @returns Always `undefined`.
 */
export function sourceName(): string | undefined {
  return undefined;
}

/**
 * Edge runtimes have no working directory.
 *
 * @returns Always `"/"`.
 */
export function workingDirectory(): string {
  return "/";
}
