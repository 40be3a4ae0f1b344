/**
 * Sized artifact bodies on Node and Bun: a large generated body is spilled to
 * a temporary file and sent from a file-backed Blob (`fs.openAsBlob`), so a
 * 10M-row CSV never sits in memory whole and still goes out with its length.
 *
 * @module
 */
import { openAsBlob } from "node:fs";
import { open, readdir, unlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { processRunning } from "./env_node.ts";
import { concatBytes } from "../bytes.ts";
import { MlflowError } from "../errors.ts";
import { bytesBody, type SizedBody, throwIfAborted } from "./spill_shared.ts";

export type { SizedBody } from "./spill_shared.ts";

/** Bodies up to this size stay in memory; a temporary file costs more than it saves below it. */
export const SPILL_THRESHOLD_BYTES = 8 * 2 ** 20;

/** No limit: past the threshold, bodies go to disk. */
export const BUFFER_LIMIT_BYTES = Infinity;

/** The largest body written straight into one byte array (a CSV table's): the rest go to a file. */
export const ONE_ARRAY_BYTES: number = SPILL_THRESHOLD_BYTES;

// The pid in the name lets a later process tell a file whose writer was killed (kill -9) from one in use.
const STAGED = /^flox-mlflow-(\d+)-[0-9a-f]{16}\.tmp$/;

function temporaryPath(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return join(tmpdir(), `flox-mlflow-${process.pid}-${hex}.tmp`);
}

let swept: Promise<void> | undefined;

// Once per process, before its first staged file: remove what killed processes left behind.
function sweepOrphans(): Promise<void> {
  swept ??= (async () => {
    for (const name of await readdir(tmpdir()).catch(() => [] as string[])) {
      const pid = Number(STAGED.exec(name)?.[1]);
      if (pid > 0 && pid !== process.pid && processRunning(pid) === false) await removeQuietly(join(tmpdir(), name));
    }
  })();
  return swept;
}

const removeQuietly = (path: string): Promise<void> => unlink(path).catch(() => undefined);

/**
 * Reads a stream into a sized body: in memory when it ends within
 * {@link SPILL_THRESHOLD_BYTES}, else in a temporary file that `release`
 * deletes (and that is deleted at once when reading or writing fails). The
 * first time in a process, staged files left by killed processes are removed.
 *
 * @param stream The body's bytes.
 * @param path The artifact path, for errors.
 * @param signal Stops staging; the temporary file is removed.
 * @returns The sized body.
 * @throws {MlflowError} When the temporary file cannot be written, or `ABORTED`.
 * @example A small body stays in memory
 * ```ts
 * import { spillStream } from "./spill_file.ts";
 * const body = await spillStream(new Blob(["a,b\n1,2\n"]).stream(), "t.csv");
 * if (body.size !== 8) throw new Error();
 * await body.release();
 * ```
 */
export async function spillStream(stream: ReadableStream<Uint8Array>, path: string, signal?: AbortSignal): Promise<SizedBody> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let temp: string | undefined;
  try {
    for (;;) {
      throwIfAborted(signal, path);
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
      if (size > SPILL_THRESHOLD_BYTES) break;
    }
    // One byte array rather than a Blob of the chunks: Node's fetch writes an
    // array to the socket as it is, but reads a Blob back through a stream a
    // chunk at a time on the main thread (a 100k-point backtest's first
    // logBacktest: main thread 750 -> 680 ms, median of 5 interleaved runs).
    if (size <= SPILL_THRESHOLD_BYTES) return bytesBody(concatBytes(chunks));
    await sweepOrphans();
    temp = temporaryPath();
    const handle = await open(temp, "wx", 0o600);
    try {
      for (const chunk of chunks) await handle.write(chunk);
      chunks.length = 0;
      for (;;) {
        throwIfAborted(signal, path);
        const { done, value } = await reader.read();
        if (done) break;
        size += value.byteLength;
        await handle.write(value);
      }
    } finally {
      await handle.close();
    }
    const file = temp;
    const blob = await openAsBlob(file);
    let released = false;
    return {
      size,
      open: () => blob,
      release: async () => {
        if (released) return;
        released = true;
        await removeQuietly(file);
      },
    };
  } catch (error) {
    await reader.cancel(error).catch(() => undefined);
    if (temp !== undefined) await removeQuietly(temp);
    if (error instanceof MlflowError) throw error;
    throw new MlflowError(
      `artifact '${path}' could not be staged in a temporary file in ${tmpdir()} (${(error as Error).message}); ` +
        "check free disk space there, or set TMPDIR to a writable folder",
      { errorCode: "ARTIFACT_STAGING_FAILED", cause: error },
    );
  } finally {
    reader.releaseLock();
  }
}

/**
 * A local file as a sized body, read from disk as it is sent.
 *
 * @param file The file's path and its size when it was opened.
 * @returns The sized body; `release` does nothing (the file is the user's).
 * @example A file on disk
 * ```ts
 * import { localFileBody } from "./spill_file.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/r.html`, "<p>hi</p>");
 * const body = await localFileBody({ path: `${dir}/r.html`, size: 9 });
 * if (body.size !== 9) throw new Error();
 * ```
 */
export async function localFileBody(file: { path: string; size: number }): Promise<SizedBody> {
  return bytesBody(await openAsBlob(file.path));
}
