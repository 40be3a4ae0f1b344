/**
 * Process facts on edge runtimes (workerd and others without a process):
 * there is no process environment, user or file system; callers pass `env`.
 *
 * @module
 */

/** Whether this runtime can reach a local file system. */
export const hasFileSystem = false;

/**
 * Whether `path` may be read: never, with no file system.
 *
 * @param _path A path.
 * @returns `false`.
 * @example Nothing is readable here
 * ```ts
 * import { mayRead } from "./env_edge.ts";
 * if (mayRead("/tmp")) throw new Error();
 * ```
 */
export function mayRead(_path: string): boolean {
  return false;
}

/**
 * Edge runtimes hand bindings to the request handler instead of a global
 * environment, so there is nothing to read here.
 *
 * @returns An empty object.
 * @example Read the tracking URI
 * ```ts
 * import { processEnv } from "./env_edge.ts";
 * const uri = processEnv().MLFLOW_TRACKING_URI;
 * if (uri !== undefined && typeof uri !== "string") throw new Error();
 * ```
 */
export function processEnv(): Record<string, string | undefined> {
  return {};
}

/**
 * No operating-system user exists on an edge runtime.
 *
 * @returns Always `undefined`.
 * @example The user for `mlflow.user`
 * ```ts
 * import { userName } from "./env_edge.ts";
 * const user = userName() ?? "unknown";
 * if (user.length === 0) throw new Error();
 * ```
 */
export function userName(): string | undefined {
  return undefined;
}

/**
 * No script path exists on an edge runtime.
 *
 * @returns Always `undefined`.
 * @example The script for `mlflow.source.name`
 * ```ts
 * import { sourceName } from "./env_edge.ts";
 * const source = sourceName() ?? "flox-mlflow";
 * if (source.length === 0) throw new Error();
 * ```
 */
export function sourceName(): string | undefined {
  return undefined;
}

/**
 * No process to name on an edge runtime.
 *
 * @returns Always `undefined`.
 * @example Nothing to name
 * ```ts
 * import { processOwner } from "./env_edge.ts";
 * if (processOwner() !== undefined) throw new Error();
 * ```
 */
export function processOwner(): string | undefined {
  return undefined;
}

/**
 * Whether a lock's process runs cannot be told on an edge runtime.
 *
 * @param _owner Ignored.
 * @returns Always `undefined`.
 * @example Unknown
 * ```ts
 * import { ownerAlive } from "./env_edge.ts";
 * if (ownerAlive("h:1") !== undefined) throw new Error();
 * ```
 */
export function ownerAlive(_owner: string): boolean | undefined {
  return undefined;
}
