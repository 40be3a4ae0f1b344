/**
 * Artifact bodies with a known length. MLflow's tracking server stores a
 * `PUT` sent without `Content-Length` as an empty file and still answers 200
 * (recorded exchanges 55 and 56), so every upload is sized first: bytes and
 * Blobs already are, files are read from disk as they are sent, and streams
 * are staged by the runtime's `#spill` entry (a temporary file where there is
 * a file system, memory elsewhere).
 *
 * @module
 */
import { localFileBody, ONE_ARRAY_BYTES, spillStream } from "#spill";
import { csvBytes, isCsvBody } from "./csv.ts";
import { MlflowValidationError } from "./errors.ts";
import type { LocalFile } from "./runtime/fs_shared.ts";
import { bytesBody, type SizedBody, throwIfAborted } from "./runtime/spill_shared.ts";
import type { Artifact, ArtifactBody } from "./store.ts";

export type { SizedBody } from "./runtime/spill_shared.ts";

const isLocalFile = (body: object): body is LocalFile =>
  typeof (body as LocalFile).path === "string" && typeof (body as LocalFile).open === "function";

/**
 * Turns an artifact body into one whose length is known and that can be sent
 * again.
 *
 * @param body The body as the caller gave it.
 * @param path The artifact path, for errors.
 * @param signal Stops staging a stream, removing what was staged.
 * @returns The sized body; call `release` when done with it.
 * @throws {MlflowValidationError} When the body is none of the accepted kinds.
 * @throws {MlflowError} When a stream cannot be staged (disk full, over the edge cap).
 * @example A string is sized in UTF-8 bytes
 * ```ts
 * import { sizedBody } from "./artifact_body.ts";
 * const body = await sizedBody("é", "a.txt");
 * if (body.size !== 2) throw new Error();
 * ```
 */
export async function sizedBody(body: ArtifactBody, path: string, signal?: AbortSignal): Promise<SizedBody> {
  if (typeof body === "string") return bytesBody(new TextEncoder().encode(body) as Uint8Array<ArrayBuffer>);
  if (body instanceof Uint8Array) return bytesBody(body as Uint8Array<ArrayBuffer>);
  if (typeof Blob !== "undefined" && body instanceof Blob) return bytesBody(body);
  if (ONE_ARRAY_BYTES > 0 && isCsvBody(body)) {
    // A table's CSV is written into one array where it fits, else streamed like any other body.
    const bytes = await csvBytes(body.table, ONE_ARRAY_BYTES, () => throwIfAborted(signal, path));
    if (bytes !== undefined) return bytesBody(bytes);
  }
  if (typeof body === "function") return await spillStream(body(), path, signal);
  if (body instanceof ReadableStream) return await spillStream(body, path, signal);
  if (typeof body === "object" && body !== null && isLocalFile(body)) return await localFileBody(body);
  throw new MlflowValidationError(
    path,
    "artifact data must be a Uint8Array, a string, a Blob, a ReadableStream or a function returning a ReadableStream",
  );
}

/** Artifacts whose stream bodies have been staged, and what frees them. */
export interface StagedArtifacts {
  /** The artifacts, stream bodies replaced by their staged bytes. */
  artifacts: Artifact[];
  /** Frees the staged bodies (temporary files); safe to call more than once. */
  release(): Promise<void>;
}

/**
 * Stages the stream bodies of `artifacts` now, all at once, so the uploads
 * that follow only send bytes. A backtest's CSVs are staged before its chart
 * is drawn: both are CPU work on the same thread, and written first, the
 * largest uploads go out while the chart is being drawn.
 *
 * @param artifacts The artifacts; bodies other than streams are kept as they are.
 * @param signal Stops staging; what was staged is released.
 * @returns The artifacts with staged bodies, and a `release` to call once they are uploaded.
 * @throws {MlflowError} When a stream cannot be staged (disk full, over the edge cap, aborted); nothing is kept.
 * @example A CSV stream becomes bytes
 * ```ts
 * import { stageArtifacts } from "./artifact_body.ts";
 * const staged = await stageArtifacts([
 *   { path: "a.csv", contentType: "text/csv", body: () => new Blob(["a\n1\n"]).stream() },
 * ]);
 * const body = staged.artifacts[0]!.body;
 * if (!(body instanceof Uint8Array || body instanceof Blob)) throw new Error("not staged");
 * await staged.release();
 * ```
 */
export async function stageArtifacts(artifacts: readonly Artifact[], signal?: AbortSignal): Promise<StagedArtifacts> {
  const held: SizedBody[] = [];
  const release = async (): Promise<void> => {
    await Promise.all(held.splice(0).map((body) => body.release().catch(() => undefined)));
  };
  // Every staging settles before any is released, so none is left holding a temporary file.
  const results = await Promise.allSettled(artifacts.map(async (artifact): Promise<Artifact> => {
    const { body } = artifact;
    if (typeof body !== "function" && !(body instanceof ReadableStream)) return artifact;
    const sized = await sizedBody(body, artifact.path, signal);
    held.push(sized);
    return { ...artifact, body: sized.open() };
  }));
  const failed = results.find((result) => result.status === "rejected");
  if (failed) {
    await release();
    throw failed.reason;
  }
  return { artifacts: results.map((result) => (result as PromiseFulfilledResult<Artifact>).value), release };
}
