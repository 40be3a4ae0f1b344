/**
 * Process facts on runtimes with a process: Node, Deno and Bun.
 *
 * @module
 */
import process from "node:process";
import { hostname, userInfo } from "node:os";

/** Whether this runtime can reach a local file system. */
export const hasFileSystem = true;

/** A Deno permission, as `Deno.permissions.querySync` takes it. */
type PermissionDescriptor =
  | { name: "env"; variable: string }
  | { name: "sys"; kind: "hostname" | "userInfo" }
  | { name: "run" }
  | { name: "read"; path: string };

interface DenoPermissions {
  querySync(descriptor: PermissionDescriptor): { state: string };
}

/**
 * Whether reading `descriptor` is allowed without asking: always on Node and
 * Bun; on Deno only when already granted, so nothing prompts and a denied or
 * not-granted read counts as unavailable.
 */
function allowed(descriptor: PermissionDescriptor): boolean {
  const permissions = (globalThis as { Deno?: { permissions?: DenoPermissions } }).Deno?.permissions;
  if (permissions === undefined) return true;
  try {
    return permissions.querySync(descriptor).state === "granted";
  } catch {
    return false;
  }
}

/**
 * Whether `path` may be read without asking: always on Node and Bun; on Deno
 * only when `--allow-read` already grants it, so an optional read (git
 * source tags) never prompts.
 *
 * @param path An absolute path.
 * @returns `true` when a read would not prompt or be refused.
 * @example The answer is a boolean
 * ```ts
 * import { mayRead } from "./env_node.ts";
 * if (typeof mayRead("/tmp") !== "boolean") throw new Error();
 * ```
 */
export function mayRead(path: string): boolean {
  return allowed({ name: "read", path });
}

/**
 * The process environment, read one variable at a time when a name is asked
 * for. On Deno a variable is read only when `--allow-env` (or
 * `--allow-env=<that name>`) grants it, so nothing prompts and a variable
 * the process may not read is unset; an `--allow-env` list of the names in
 * use is enough. The object cannot be listed (no keys).
 *
 * @returns The environment variables, by name.
 * @example Read the tracking URI
 * ```ts
 * import { processEnv } from "./env_node.ts";
 * const uri = processEnv().MLFLOW_TRACKING_URI;
 * if (uri !== undefined && typeof uri !== "string") throw new Error();
 * ```
 */
export function processEnv(): Record<string, string | undefined> {
  const read = (name: string | symbol): string | undefined => {
    if (typeof name !== "string" || !allowed({ name: "env", variable: name })) return undefined;
    try {
      return process.env[name];
    } catch {
      return undefined;
    }
  };
  return new Proxy({} as Record<string, string | undefined>, {
    get: (_target, name) => read(name),
    has: (_target, name) => read(name) !== undefined,
    getOwnPropertyDescriptor: (_target, name) => {
      const value = read(name);
      return value === undefined ? undefined : { value, writable: false, enumerable: false, configurable: true };
    },
    set: () => false,
    deleteProperty: () => false,
    defineProperty: () => false,
  });
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
  if (!allowed({ name: "sys", kind: "userInfo" })) return undefined;
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
  if (!allowed({ name: "sys", kind: "hostname" })) return undefined;
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
  if (match === null || !allowed({ name: "sys", kind: "hostname" })) return undefined;
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
  // Deno asks for --allow-run before signalling a process.
  if (!allowed({ name: "run" })) return undefined;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return code === "ESRCH" ? false : code === "EPERM" ? true : undefined;
  }
}
