/**
 * The small file-system API the file store needs, on runtimes with a local
 * file system (Node, Deno and Bun through `node:fs/promises`). Every write
 * that must never be seen half-done goes through a temporary file that is
 * renamed or hard-linked into place.
 *
 * @module
 */
import { constants as fsConstants } from "node:fs";
import { appendFile, type FileHandle, link, lstat, mkdir, open, readdir, readFile, rename, rm, stat, unlink } from "node:fs/promises";
import { basename, dirname, join, resolve, sep } from "node:path";
import process from "node:process";
import { processRunning } from "./env_node.ts";
import { MlflowError, MlflowValidationError } from "../errors.ts";
import { type DirectoryEntry, type FileSystem, type LocalFile, quoteFileUriPath, splitFileUri } from "./fs_shared.ts";

export type { DirectoryEntry, FileSystem, LocalFile, PathInfo } from "./fs_shared.ts";


const encoder = new TextEncoder();

function errorCode(error: unknown): string | undefined {
  if (typeof error === "object" && error !== null && "code" in error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === "string" ? code : undefined;
  }
  return undefined;
}

function fail(operation: string, path: string, error: unknown): never {
  const reason = error instanceof Error ? error.message : String(error);
  throw new MlflowError(
    `file store: could not ${operation} '${path}' (${reason}); check that the folder exists, is writable and is not used by another program`,
    { errorCode: "FILE_STORE_ERROR", endpoint: `file-store ${operation}`, cause: error },
  );
}

// The writer's pid in the name tells a later process whether the file is in use or was orphaned by a kill.
const TEMPORARY = /^\.tmp-(\d+)-[0-9a-f]{16}$/;

function temporaryPath(tempDirectory: string): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  const suffix = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return join(tempDirectory, `.tmp-${process.pid}-${suffix}`);
}

async function discard(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch {
    // The temporary file may never have been created; nothing to undo then.
  }
}

// FileHandle.write may write part of a chunk; loop until it is all on disk.
async function writeAll(handle: FileHandle, chunk: Uint8Array): Promise<number> {
  let offset = 0;
  while (offset < chunk.byteLength) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.byteLength - offset);
    if (bytesWritten === 0) throw new Error(`short write: ${offset} of ${chunk.byteLength} bytes`);
    offset += bytesWritten;
  }
  return offset;
}

async function writeWhole(path: string, data: string | Uint8Array): Promise<void> {
  const handle = await open(path, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o666);
  try {
    await handle.writeFile(typeof data === "string" ? encoder.encode(data) : data);
  } finally {
    await handle.close();
  }
}

/** Hard links need support from the file system; these codes mean it has none. */
const NO_LINK_SUPPORT = new Set(["EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS", "EXDEV", "EMLINK"]);

/**
 * The file system of this process, through `node:fs/promises`.
 *
 * @example Write a file atomically
 * ```ts
 * import { fileSystem } from "./fs_node.ts";
 * await fileSystem.makeDirectory("/tmp/flox-demo", true);
 * await fileSystem.writeAtomic("/tmp/flox-demo/a.txt", "hello", "/tmp/flox-demo");
 * ```
 */
export const fileSystem: FileSystem = {
  async makeDirectory(path, recursive) {
    try {
      // Recursive creation one level at a time, from the deepest existing folder: mkdir's own
      // recursive mode checks every ancestor on Deno, which asks for read access to the parents.
      await mkdir(path).catch(async (error: unknown) => {
        if (!recursive || errorCode(error) !== "ENOENT" || dirname(path) === path) throw error;
        await fileSystem.makeDirectory(dirname(path), true);
        await mkdir(path);
      });
      return true;
    } catch (error) {
      if (errorCode(error) === "EEXIST") {
        const info = await fileSystem.pathInfo(path);
        if (info?.isDirectory) return false;
      }
      return fail("create the folder", path, error);
    }
  },

  async readText(path) {
    try {
      return await readFile(path, "utf8");
    } catch (error) {
      if (errorCode(error) === "ENOENT") return undefined;
      return fail("read", path, error);
    }
  },

  async listDirectory(path) {
    try {
      const entries = await readdir(path, { withFileTypes: true });
      return entries.map((entry) => ({ name: entry.name, isDirectory: entry.isDirectory() }));
    } catch (error) {
      if (errorCode(error) === "ENOENT") return [];
      return fail("list", path, error);
    }
  },

  async pathInfo(path) {
    try {
      const info = await lstat(path);
      return { isDirectory: info.isDirectory(), size: info.size, modifiedMs: info.mtimeMs };
    } catch (error) {
      if (errorCode(error) === "ENOENT") return undefined;
      return fail("inspect", path, error);
    }
  },

  async writeAtomic(path, data, tempDirectory) {
    const temp = temporaryPath(tempDirectory);
    try {
      await writeWhole(temp, data);
      await rename(temp, path);
    } catch (error) {
      await discard(temp);
      fail("write", path, error);
    }
  },

  async writeStreamAtomic(path, stream, tempDirectory) {
    const temp = temporaryPath(tempDirectory);
    const reader = stream.getReader();
    let written = 0;
    try {
      const handle = await open(temp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o666);
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          written += await writeAll(handle, value);
        }
      } finally {
        await handle.close();
      }
      await rename(temp, path);
      return written;
    } catch (error) {
      await reader.cancel(error).catch(() => undefined);
      await discard(temp);
      if (error instanceof MlflowError) throw error;
      return fail("write", path, error);
    } finally {
      reader.releaseLock();
    }
  },

  async createExclusive(path, data, tempDirectory) {
    // Writing a complete temporary file and hard-linking it into place makes
    // the file appear whole or not at all, and never replaces another's.
    const temp = temporaryPath(tempDirectory);
    try {
      await writeWhole(temp, data);
    } catch (error) {
      await discard(temp);
      return fail("write", path, error);
    }
    try {
      await link(temp, path);
      return true;
    } catch (error) {
      const code = errorCode(error);
      if (code === "EEXIST") return false;
      if (code === undefined || !NO_LINK_SUPPORT.has(code)) return fail("create", path, error);
    } finally {
      await discard(temp);
    }
    try {
      await writeWhole(path, data);
      return true;
    } catch (error) {
      if (errorCode(error) === "EEXIST") return false;
      return fail("create", path, error);
    }
  },

  async append(path, data) {
    try {
      await appendFile(path, data, "utf8");
    } catch (error) {
      fail("append to", path, error);
    }
  },

  async remove(path) {
    try {
      await rm(path, { force: true });
    } catch (error) {
      fail("delete", path, error);
    }
  },

  async removeOrphans(dir) {
    let removed = 0;
    for (const entry of await fileSystem.listDirectory(dir)) {
      const pid = Number(TEMPORARY.exec(entry.name)?.[1]);
      if (entry.isDirectory || !(pid > 0) || pid === process.pid || processRunning(pid) !== false) continue;
      await discard(join(dir, entry.name));
      removed++;
    }
    return removed;
  },

  join(...segments) {
    return join(...segments);
  },
};

/**
 * Makes a path absolute against the working directory and normalises it.
 *
 * @param path A relative or absolute path.
 * @returns The absolute path.
 * @example Resolve a relative folder
 * ```ts
 * import { resolvePath } from "./fs_node.ts";
 * const abs = resolvePath("./mlruns"); // e.g. "/home/me/project/mlruns"
 * ```
 */
export function resolvePath(path: string): string {
  return resolve(path);
}

/**
 * Turns a path into a `file://` URI exactly as MLflow does
 * (`pathlib.Path(path).as_uri()`): characters other than letters, digits and
 * `_.-~/` are percent-encoded from their UTF-8 bytes.
 *
 * @param path An absolute or relative path; relative paths are resolved first.
 * @returns The `file://` URI.
 * @example A path with a space
 * ```ts
 * import { pathToFileUrl } from "./fs_node.ts";
 * pathToFileUrl("/data/my runs"); // "file:///data/my%20runs"
 * ```
 */
export function pathToFileUrl(path: string): string {
  const absolute = resolve(path);
  if (sep === "\\") {
    const forward = absolute.replaceAll("\\", "/");
    const drive = /^([A-Za-z]:)(\/.*)?$/.exec(forward);
    if (drive) return `file:///${drive[1]}${quoteFileUriPath(drive[2] ?? "/")}`;
    // A UNC path \\server\share\x keeps the server as the URI's host.
    return `file:${quoteFileUriPath(forward)}`;
  }
  return `file://${quoteFileUriPath(absolute)}`;
}

/**
 * Turns a `file:` URI into an absolute path. Accepts `file:///abs`,
 * `file://localhost/abs`, `file:/abs` and relative forms such as
 * `file:./mlruns` (resolved against the working directory).
 *
 * @param url The `file:` URI.
 * @returns The absolute path.
 * @throws {MlflowError} When the URI is not a `file:` URI, names a remote host (outside Windows) or has a bad escape.
 * @example Relative and absolute forms
 * ```ts
 * import { fileUrlToPath } from "./fs_node.ts";
 * fileUrlToPath("file:///data/my%20runs"); // "/data/my runs"
 * fileUrlToPath("file:./mlruns"); // "<cwd>/mlruns"
 * ```
 */
export function fileUrlToPath(url: string): string {
  const { host, path } = splitFileUri(url);
  if (host !== "" && host.toLowerCase() !== "localhost") {
    if (sep === "\\") return resolve(`\\\\${host}${path.replaceAll("/", "\\")}`);
    throw new MlflowError(
      `file URI '${url}' names the host '${host}'; the file store writes local folders only, use file:///absolute/path`,
      { errorCode: "INVALID_PARAMETER_VALUE" },
    );
  }
  const local = sep === "\\" && /^\/[A-Za-z]:/.test(path) ? path.slice(1) : path;
  return resolve(local === "" ? "." : local);
}

const READ_CHUNK_BYTES = 64 * 1024;

function fileStream(path: string): ReadableStream<Uint8Array> {
  let handle: FileHandle | undefined;
  const close = async (): Promise<void> => {
    const open = handle;
    handle = undefined;
    await open?.close();
  };
  return new ReadableStream<Uint8Array>({
    async start() {
      try {
        handle = await open(path, "r");
      } catch (error) {
        fail("open", path, error);
      }
    },
    async pull(controller) {
      try {
        const buffer = new Uint8Array(READ_CHUNK_BYTES);
        const { bytesRead } = await handle!.read(buffer, 0, buffer.byteLength, null);
        if (bytesRead === 0) {
          await close();
          controller.close();
        } else controller.enqueue(buffer.subarray(0, bytesRead));
      } catch (error) {
        await close().catch(() => undefined);
        fail("read", path, error);
      }
    },
    cancel: close,
  });
}

/**
 * Checks that a local file exists and returns a way to stream it, for
 * uploading it as an artifact without reading it into memory.
 *
 * @param path The file path, relative to the working directory or absolute.
 * @param field The option that named the file, for errors.
 * @returns The file's name and size, and `open` for a fresh stream per attempt.
 * @throws {MlflowValidationError} When the path does not exist or is not a regular file.
 * @example Open a report file for upload
 * ```ts
 * import { openLocalFile } from "./fs_node.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/report.html`, "<html></html>");
 * const file = await openLocalFile(`${dir}/report.html`, "htmlReport");
 * if (file.name !== "report.html" || file.size !== 13) throw new Error();
 * const text = await new Response(file.open()).text(); // a fresh stream per upload attempt
 * if (text !== "<html></html>") throw new Error();
 * ```
 */
export async function openLocalFile(path: string, field: string): Promise<LocalFile> {
  const absolute = resolve(path);
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(absolute);
  } catch (error) {
    if (errorCode(error) === "ENOENT") throw new MlflowValidationError(field, `file '${absolute}' does not exist`);
    return fail("inspect", absolute, error);
  }
  if (!info.isFile()) throw new MlflowValidationError(field, `'${absolute}' is not a regular file`);
  return { path: absolute, name: basename(absolute), size: info.size, open: () => fileStream(absolute) };
}
