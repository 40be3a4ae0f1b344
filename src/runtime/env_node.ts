/**
 * Process facts on runtimes with a process: Node, Deno and Bun.
 *
 * @module
 */
import process from "node:process";
import { hostname, userInfo } from "node:os";

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

/**
 * Who this process is, for lock files: `host:pid`. Read only when a lock is
 * taken, so runs that never create an experiment by name never ask the OS.
 *
 * @returns The owner, or `undefined` when the host or pid cannot be read.
 * @example This process
 * ```ts
 * import { processOwner } from "./env_node.ts";
 * const owner = processOwner();
 * if (owner !== undefined && !/^.+:\d+$/.test(owner)) throw new Error(owner);
 * ```
 */
export function processOwner(): string | undefined {
  try {
    return `${hostname()}:${process.pid}`;
  } catch {
    return undefined;
  }
}

/**
 * Whether the process that wrote a lock still runs, when that can be known:
 * only for a process on this host.
 *
 * @param owner The `host:pid` from {@link processOwner}.
 * @returns `false` when it is gone, `true` when it runs, `undefined` when this cannot be told.
 * @example This process is alive
 * ```ts
 * import { ownerAlive, processOwner } from "./env_node.ts";
 * const owner = processOwner();
 * if (owner !== undefined && ownerAlive(owner) !== true) throw new Error();
 * ```
 */
export function ownerAlive(owner: string): boolean | undefined {
  const match = /^(.*):(\d+)$/.exec(owner);
  if (match === null) return undefined;
  try {
    if (match[1] !== hostname()) return undefined;
  } catch {
    return undefined;
  }
  return processRunning(Number(match[2]));
}

/**
 * Whether a process of this host runs under `pid`, asked with signal 0.
 *
 * @param pid The process id.
 * @returns `true` when it runs (or runs as another user), `false` when no such process exists, `undefined` when the OS would not say.
 * @example This process runs
 * ```ts
 * import process from "node:process";
 * import { processRunning } from "./env_node.ts";
 * if (processRunning(process.pid) !== true) throw new Error();
 * ```
 */
export function processRunning(pid: number): boolean | undefined {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return code === "ESRCH" ? false : code === "EPERM" ? true : undefined;
  }
}
