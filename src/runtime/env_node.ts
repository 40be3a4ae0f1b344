/**
 * Process facts on runtimes with a process: Node, Deno and Bun.
 *
 * @module
 */
import process from "node:process";
import { userInfo } from "node:os";

/** Whether this runtime can reach a local file system. */
export const hasFileSystem = true;

/**
 * The process environment, or an empty object where reading it is not
 * allowed (Deno without `--allow-env`).
 *
 * @returns The environment variables.
 * @example Read the tracking URI
 * ```ts
 * import { processEnv } from "./env_node.ts";
 * const uri = processEnv().MLFLOW_TRACKING_URI;
 * if (uri !== undefined && typeof uri !== "string") throw new Error();
 * ```
 */
export function processEnv(): Record<string, string | undefined> {
  try {
    return { ...process.env };
  } catch {
    return {};
  }
}

/**
 * The operating-system user, as MLflow's own client records it in `mlflow.user`.
 *
 * @returns The user name, or `undefined` when it cannot be read.
 * @example The user for `mlflow.user`
 * ```ts
 * import { userName } from "./env_node.ts";
 * const user = userName() ?? "unknown";
 * if (user.length === 0) throw new Error();
 * ```
 */
export function userName(): string | undefined {
  try {
    return userInfo().username || undefined;
  } catch {
    return undefined;
  }
}

/**
 * The script that started the process, for the `mlflow.source.name` tag.
 *
 * @returns The script path, or `undefined`.
 * @example The script for `mlflow.source.name`
 * ```ts
 * import { sourceName } from "./env_node.ts";
 * const source = sourceName() ?? "flox-mlflow";
 * if (source.length === 0) throw new Error();
 * ```
 */
export function sourceName(): string | undefined {
  try {
    return process.argv[1] || undefined;
  } catch {
    return undefined;
  }
}
