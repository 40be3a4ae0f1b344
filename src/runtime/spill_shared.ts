/**
 * What every `#spill` entry shares: the sized body type and reading a stream
 * into memory up to a limit. No `node:` module is imported here.
 *
 * @module
 */
import { abortedError, MlflowError } from "../errors.ts";

/**
 * An artifact body whose length is known before it is sent, so an upload
 * always carries `Content-Length` (MLflow's server stores a body sent without
 * one as an empty file). `open` may be called once per attempt.
 */
export interface SizedBody {
  /** Length in bytes. */
  readonly size: number;
  /** The bytes for one attempt: a Blob (possibly backed by a temporary file) or a byte array. */
  open(): Blob | Uint8Array<ArrayBuffer>;
  /** Frees what the body holds (a temporary file); safe to call more than once. */
  release(): Promise<void>;
}

/**
 * A sized body over bytes already in memory.
 *
 * @param bytes The bytes.
 * @returns The body; `release` does nothing.
 * @example Two bytes
 * ```ts
 * import { bytesBody } from "./spill_shared.ts";
 * if (bytesBody(new Uint8Array(2)).size !== 2) throw new Error();
 * ```
 */
export function bytesBody(bytes: Blob | Uint8Array<ArrayBuffer>): SizedBody {
  const size = bytes instanceof Uint8Array ? bytes.byteLength : bytes.size;
  return { size, open: () => bytes, release: () => Promise.resolve() };
}

/**
 * Reads a stream into memory, up to `limit` bytes.
 *
 * @param stream The stream; it is cancelled when it grows past the limit.
 * @param limit The most bytes to hold.
 * @param path The artifact path, for the error.
 * @param signal Stops reading.
 * @returns The bytes as one Blob.
 * @throws {MlflowError} `ARTIFACT_TOO_LARGE` when the stream holds more than `limit` bytes.
 * @example A short stream
 * ```ts
 * import { bufferStream } from "./spill_shared.ts";
 * const body = await bufferStream(new Blob(["a,b\n"]).stream(), 1024, "x.csv");
 * if (body.size !== 4) throw new Error();
 * ```
 */
export async function bufferStream(
  stream: ReadableStream<Uint8Array>,
  limit: number,
  path: string,
  signal?: AbortSignal,
): Promise<SizedBody> {
  // Chunks are folded into Blobs a few MiB at a time: one Blob of hundreds of
  // MiB of chunks copies them all in one go, holding the event loop for
  // hundreds of ms; a Blob of Blobs copies nothing (Deno, Node).
  const parts: Blob[] = [];
  let pending: Uint8Array<ArrayBuffer>[] = [];
  let pendingBytes = 0;
  let size = 0;
  const reader = stream.getReader();
  try {
    for (;;) {
      throwIfAborted(signal, path);
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        const error = tooLarge(path, limit);
        await reader.cancel(error).catch(() => undefined);
        throw error;
      }
      pending.push(value as Uint8Array<ArrayBuffer>);
      pendingBytes += value.byteLength;
      if (pendingBytes >= FOLD_BYTES) {
        parts.push(new Blob(pending));
        pending = [];
        pendingBytes = 0;
      }
    }
  } finally {
    reader.releaseLock();
  }
  if (pending.length > 0) parts.push(new Blob(pending));
  return bytesBody(parts.length === 1 ? parts[0]! : new Blob(parts));
}

const FOLD_BYTES = 4 * 2 ** 20;

function tooLarge(path: string, limit: number): MlflowError {
  return new MlflowError(
    `artifact '${path}' is over ${limit / 2 ** 20} MiB; on a runtime without a file system an upload is held in ` +
      "memory to send it with its length, up to that size. Log it from Node, Bun or Deno, or make it smaller",
    { errorCode: "ARTIFACT_TOO_LARGE" },
  );
}

/**
 * Throws the `ABORTED` error when the signal has fired.
 *
 * @param signal The signal, if any.
 * @param path The artifact being staged.
 * @throws {MlflowError} `ABORTED`.
 * @example Nothing happens without an aborted signal
 * ```ts
 * import { throwIfAborted } from "./spill_shared.ts";
 * throwIfAborted(undefined, "a.csv");
 * ```
 */
export function throwIfAborted(signal: AbortSignal | undefined, path: string): void {
  if (signal?.aborted) throw abortedError(signal, (reason) => `staging artifact '${path}' was aborted (${reason})`);
}
