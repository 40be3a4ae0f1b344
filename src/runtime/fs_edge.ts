/**
 * The file-system entry for runtimes without a local file system (workerd
 * and other edge runtimes). It has the same exports as `fs_node.ts`: path and
 * `file:` URI helpers work on strings alone (against the root `/`, the only
 * working directory an edge runtime has), so a tracking URI can still be
 * recognised; every file operation fails with an {@link MlflowError} that
 * says to use an MLflow server instead. No `node:` module is imported here.
 *
 * @module
 */
import { MlflowError, MlflowValidationError } from "../errors.ts";
import { type FileSystem, type LocalFile, quoteFileUriPath, splitFileUri } from "./fs_shared.ts";

export type { DirectoryEntry, FileSystem, LocalFile, PathInfo } from "./fs_shared.ts";



function unavailable(): MlflowError {
  return new MlflowError(
    "This runtime has no file system, so the local file store (a file: URI or a folder path as trackingUri) cannot be used here; set trackingUri to an MLflow server, e.g. https://mlflow.example.com",
    { errorCode: "FILE_STORE_UNAVAILABLE", endpoint: "file-store" },
  );
}

/**
 * A file system whose every operation rejects: this runtime has none.
 *
 * @example Every call rejects with a MlflowError
 * ```ts
 * import { fileSystem } from "./fs_edge.ts";
 * await fileSystem.readText("/x").catch((err) => console.log(err.message));
 * ```
 */
export const fileSystem: FileSystem = {
  makeDirectory: () => Promise.reject(unavailable()),
  readText: () => Promise.reject(unavailable()),
  listDirectory: () => Promise.reject(unavailable()),
  pathInfo: () => Promise.reject(unavailable()),
  writeAtomic: () => Promise.reject(unavailable()),
  writeStreamAtomic: () => Promise.reject(unavailable()),
  createExclusive: () => Promise.reject(unavailable()),
  append: () => Promise.reject(unavailable()),
  remove: () => Promise.reject(unavailable()),
  removeOrphans: () => Promise.reject(unavailable()),
  join: () => {
    throw unavailable();
  },
};

/**
 * Local files cannot be read on this runtime.
 *
 * @param _path Ignored.
 * @param field The option that named the file, for the error.
 * @returns Never resolves.
 * @throws {MlflowValidationError} Always, telling to pass the data itself.
 * @example Fails on an edge runtime
 * ```ts
 * import { openLocalFile } from "./fs_edge.ts";
 * await openLocalFile("report.html", "htmlReport").catch((err) => console.log(err.message));
 * ```
 */
export function openLocalFile(_path: string, field: string): Promise<LocalFile> {
  return Promise.reject(
    new MlflowValidationError(
      field,
      "is a file path, but this runtime has no file system; pass the data instead, e.g. { name: 'report.html', data: html }",
    ),
  );
}

/**
 * Normalises a POSIX path lexically against `/`, the working directory of
 * an edge runtime.
 *
 * @param path A relative or absolute `/`-separated path.
 * @returns The absolute, normalised path.
 * @example Relative paths hang off the root
 * ```ts
 * import { resolvePath } from "./fs_edge.ts";
 * if (resolvePath("./mlruns/../x") !== "/x") throw new Error();
 * ```
 */
export function resolvePath(path: string): string {
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return `/${parts.join("/")}`;
}



/**
 * Turns a path into a `file://` URI as MLflow does, resolving it against `/`.
 *
 * @param path A `/`-separated path.
 * @returns The `file://` URI.
 * @example A path with a space
 * ```ts
 * import { pathToFileUrl } from "./fs_edge.ts";
 * if (pathToFileUrl("/data/my runs") !== "file:///data/my%20runs") throw new Error();
 * ```
 */
export function pathToFileUrl(path: string): string {
  return `file://${quoteFileUriPath(resolvePath(path))}`;
}

/**
 * Turns a `file:` URI into an absolute path, resolving relative forms such
 * as `file:./mlruns` against `/`.
 *
 * @param url The `file:` URI.
 * @returns The absolute path.
 * @throws {MlflowError} When the URI is not a local `file:` URI or has a malformed %-escape.
 * @example Decode a URI
 * ```ts
 * import { fileUrlToPath } from "./fs_edge.ts";
 * if (fileUrlToPath("file:///data/my%20runs") !== "/data/my runs") throw new Error();
 * ```
 */
export function fileUrlToPath(url: string): string {
  const { host, path } = splitFileUri(url);
  if (host !== "" && host.toLowerCase() !== "localhost") {
    throw new MlflowError(
      `file URI '${url}' names the host '${host}'; the file store writes local folders only, use file:///absolute/path`,
      { errorCode: "INVALID_PARAMETER_VALUE" },
    );
  }
  return resolvePath(path);
}
