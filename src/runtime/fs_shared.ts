/**
 * What both file-system entries share: the types of the small file-system API
 * the file store uses, and the `file:` URI helpers that work on strings
 * alone. No `node:` module is imported here.
 *
 * @module
 */
import { MlflowError } from "../errors.ts";

/** One entry of a directory listing. */
export interface DirectoryEntry {
  name: string;
  isDirectory: boolean;
}

/** What the file store needs to know about an existing path. */
export interface PathInfo {
  isDirectory: boolean;
  size: number;
  /** Last modification, milliseconds since the epoch. */
  modifiedMs: number;
}

/**
 * The operations the file store performs. Expected conditions (a missing
 * file, an existing directory) are results, not errors; anything else is an
 * {@link MlflowError} naming the path.
 */
export interface FileSystem {
  /** Creates a directory (and its parents when `recursive`); `false` when it already existed. */
  makeDirectory(path: string, recursive: boolean): Promise<boolean>;
  /** Reads a UTF-8 file; `undefined` when it does not exist. */
  readText(path: string): Promise<string | undefined>;
  /** Lists a directory; `[]` when it does not exist. */
  listDirectory(path: string): Promise<DirectoryEntry[]>;
  /** Describes a path without following a final symbolic link; `undefined` when it does not exist. */
  pathInfo(path: string): Promise<PathInfo | undefined>;
  /** Replaces `path` with `data` through a temporary file in `tempDirectory` and a rename. */
  writeAtomic(path: string, data: string | Uint8Array, tempDirectory: string): Promise<void>;
  /** Writes a stream chunk by chunk to a temporary file in `tempDirectory`, then renames it to `path`; returns the bytes written. */
  writeStreamAtomic(path: string, stream: ReadableStream<Uint8Array>, tempDirectory: string): Promise<number>;
  /** Creates `path` holding `data` only when nothing exists there; `false` when something did. */
  createExclusive(path: string, data: string, tempDirectory: string): Promise<boolean>;
  /** Appends text to a file, creating it when missing. */
  append(path: string, data: string): Promise<void>;
  /** Deletes a file; a missing file is not an error. */
  remove(path: string): Promise<void>;
  /**
   * Deletes the temporary files in `dir` that a process killed mid-write left
   * (their names carry the writer's pid, and no process runs under it).
   * Returns how many were removed.
   */
  removeOrphans(dir: string): Promise<number>;
  /** Joins path segments with the platform separator. */
  join(...segments: string[]): string;
}

/** Characters Python's `urllib.parse.quote(path, safe="/")` leaves as they are. */
const URI_SAFE = /^[A-Za-z0-9_.\-~/]$/;

/** A local file opened for upload. */
export interface LocalFile {
  /** The absolute path. */
  path: string;
  /** The file name without folders. */
  name: string;
  /** Size in bytes when opened. */
  size: number;
  /** Opens a fresh stream of the file's bytes; call once per upload attempt. */
  open: () => ReadableStream<Uint8Array>;
}

/**
 * Percent-encodes a path for a `file://` URI the way MLflow does
 * (`pathlib.Path.as_uri`, i.e. `urllib.parse.quote(path, safe="/")`):
 * everything except letters, digits and `_.-~/` becomes `%XX` of its UTF-8 bytes.
 *
 * @param path The `/`-separated path.
 * @returns The encoded path.
 * @example A space and a colon
 * ```ts
 * import { quoteFileUriPath } from "./fs_shared.ts";
 * if (quoteFileUriPath("/a b/c:d") !== "/a%20b/c%3Ad") throw new Error();
 * ```
 */
export function quoteFileUriPath(path: string): string {
  const encoder = new TextEncoder();
  let out = "";
  for (const ch of path) {
    if (URI_SAFE.test(ch)) out += ch;
    else for (const byte of encoder.encode(ch)) out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/**
 * Splits a `file:` URI into its host and its percent-decoded path. Accepts
 * `file:///abs`, `file://host/abs`, `file:/abs` and relative forms such as
 * `file:./mlruns`.
 *
 * @param url The `file:` URI.
 * @returns The host (`""` when none) and the decoded path, which may be relative.
 * @throws {MlflowError} When the URI is not a `file:` URI or has a malformed %-escape.
 * @example Host and path
 * ```ts
 * import { splitFileUri } from "./fs_shared.ts";
 * const { host, path } = splitFileUri("file://localhost/data/my%20runs");
 * if (host !== "localhost" || path !== "/data/my runs") throw new Error();
 * ```
 */
export function splitFileUri(url: string): { host: string; path: string } {
  if (!/^file:/i.test(url)) {
    throw new MlflowError(`'${url}' is not a file: URI; use file:///absolute/path or a plain path`, {
      errorCode: "INVALID_PARAMETER_VALUE",
    });
  }
  let rest = url.slice(5).replace(/[?#].*$/, "");
  let host = "";
  if (rest.startsWith("//")) {
    const slash = rest.indexOf("/", 2);
    host = slash === -1 ? rest.slice(2) : rest.slice(2, slash);
    rest = slash === -1 ? "/" : rest.slice(slash);
  }
  try {
    return { host, path: decodeURIComponent(rest) };
  } catch (error) {
    throw new MlflowError(`file URI '${url}' has a malformed %-escape; write '%' as %25`, {
      errorCode: "INVALID_PARAMETER_VALUE",
      cause: error,
    });
  }
}
