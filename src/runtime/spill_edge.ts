/**
 * Sized artifact bodies on edge runtimes (workerd and others without a file
 * system): a streamed body is assembled in memory up to
 * {@link BUFFER_LIMIT_BYTES}, a cap that leaves room in a 128 MB isolate.
 * No `node:` module is imported here.
 *
 * @module
 */
import { MlflowValidationError } from "../errors.ts";
import { bufferStream, type SizedBody } from "./spill_shared.ts";

export type { SizedBody } from "./spill_shared.ts";

/** The largest streamed artifact an edge runtime assembles: 32 MiB. */
export const BUFFER_LIMIT_BYTES = 32 * 2 ** 20;

/** The largest body written straight into one byte array (a CSV table's): the cap itself. */
export const ONE_ARRAY_BYTES: number = BUFFER_LIMIT_BYTES;

/**
 * Reads a stream into memory as a sized body, up to {@link BUFFER_LIMIT_BYTES}.
 *
 * @param stream The body's bytes.
 * @param path The artifact path, for errors.
 * @param signal Stops reading.
 * @returns The sized body.
 * @throws {MlflowError} `ARTIFACT_TOO_LARGE` past the cap, naming the artifact.
 * @example Three bytes
 * ```ts
 * import { spillStream } from "./spill_edge.ts";
 * if ((await spillStream(new Blob(["abc"]).stream(), "a.txt")).size !== 3) throw new Error();
 * ```
 */
export function spillStream(stream: ReadableStream<Uint8Array>, path: string, signal?: AbortSignal): Promise<SizedBody> {
  return bufferStream(stream, BUFFER_LIMIT_BYTES, path, signal);
}

/**
 * Local files do not exist on this runtime.
 *
 * @param _file Ignored.
 * @returns Never resolves.
 * @throws {MlflowValidationError} Always.
 * @example Fails on an edge runtime
 * ```ts
 * import { localFileBody } from "./spill_edge.ts";
 * await localFileBody({ path: "r.html", size: 1 }).catch((err) => console.log(err.message));
 * ```
 */
export function localFileBody(_file: { path: string; size: number }): Promise<SizedBody> {
  return Promise.reject(new MlflowValidationError("artifact", "is a file path, but this runtime has no file system; pass the data instead"));
}
