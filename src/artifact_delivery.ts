/**
 * Getting a run's artifacts into the store whole: uploads a few at a time,
 * then one listing per folder compares what the store holds with what was
 * sent. A short or empty file is sent once more; still short, the call fails
 * naming it, so a run never ends FINISHED with a file it does not have.
 *
 * @module
 */
import { MlflowError } from "./errors.ts";
import type { Artifact, CallOptions, RunInfo, StoredArtifact, TrackingStore } from "./store.ts";

/** Uploads at once per call. */
export const UPLOAD_CONCURRENCY = 4;

const folderOf = (path: string): string => path.slice(0, Math.max(0, path.lastIndexOf("/")));
const nameOf = (path: string): string => path.slice(path.lastIndexOf("/") + 1);

/**
 * Uploads artifacts and checks the store holds every byte (unless the
 * store's `verifyArtifacts` is off). Artifacts may arrive while earlier ones
 * upload (a chart rendered meanwhile); every upload is waited for, and
 * whatever an upload kept for a resend (a temporary file) is released,
 * whether the call succeeds or fails.
 *
 * @param store The run's store.
 * @param run The run.
 * @param artifacts What to upload, possibly produced over time.
 * @param call A signal that stops the uploads and the check.
 * @returns When every artifact is stored and checked.
 * @throws {MlflowError} The first failed upload, or `ARTIFACT_INCOMPLETE` naming a file the store holds short.
 * @example Two files into a file store run
 * ```ts
 * import { deliverArtifacts } from "./artifact_delivery.ts";
 * import { createFileStore } from "./file_store.ts";
 * const store = createFileStore(await Deno.makeTempDir());
 * const run = await store.createRun({ experimentId: "0", runName: "r", startTime: Date.now(), userId: "me", tags: [] });
 * await deliverArtifacts(store, run, [
 *   { path: "a.csv", body: "x\n1\n", contentType: "text/csv" },
 *   { path: "plots/b.txt", body: new Uint8Array(3), contentType: "text/plain" },
 * ]);
 * ```
 */
export async function deliverArtifacts(
  store: TrackingStore,
  run: RunInfo,
  artifacts: Iterable<Artifact> | AsyncIterable<Artifact>,
  call: CallOptions = {},
): Promise<void> {
  const stored: StoredArtifact[] = [];
  try {
    await uploadAll(store, run, artifacts, stored, call);
    if (store.verifyArtifacts && stored.length > 0) await verify(store, run, stored, call);
  } finally {
    await Promise.all(stored.map((s) => s.release().catch(() => undefined)));
  }
}

async function uploadAll(
  store: TrackingStore,
  run: RunInfo,
  artifacts: Iterable<Artifact> | AsyncIterable<Artifact>,
  stored: StoredArtifact[],
  call: CallOptions,
): Promise<void> {
  const source = Symbol.asyncIterator in artifacts
    ? artifacts[Symbol.asyncIterator]()
    : (artifacts as Iterable<Artifact>)[Symbol.iterator]();
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined) {
      let next: IteratorResult<Artifact>;
      try {
        next = await source.next();
      } catch (error) {
        failure ??= { error };
        return;
      }
      if (next.done) return;
      try {
        stored.push(await store.uploadArtifact(run, next.value, call));
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: UPLOAD_CONCURRENCY }, worker));
  if (failure !== undefined) {
    await source.return?.();
    throw failure.error;
  }
}

/** Paths whose stored size differs from what was sent. */
async function shortFiles(
  store: TrackingStore,
  run: RunInfo,
  sent: readonly StoredArtifact[],
  call: CallOptions,
): Promise<Map<StoredArtifact, number>> {
  const folders = new Map<string, StoredArtifact[]>();
  for (const artifact of sent) {
    const folder = folderOf(artifact.path);
    folders.set(folder, [...(folders.get(folder) ?? []), artifact]);
  }
  const short = new Map<StoredArtifact, number>();
  await Promise.all([...folders].map(async ([folder, inFolder]) => {
    const sizes = await store.artifactSizes(run, folder, call);
    for (const artifact of inFolder) {
      const held = sizes.get(nameOf(artifact.path)) ?? 0;
      if (held !== artifact.size) short.set(artifact, held);
    }
  }));
  return short;
}

async function verify(store: TrackingStore, run: RunInfo, sent: readonly StoredArtifact[], call: CallOptions): Promise<void> {
  const short = await shortFiles(store, run, sent, call);
  if (short.size === 0) return;
  await Promise.all([...short.keys()].map((artifact) => artifact.resend()));
  const still = await shortFiles(store, run, [...short.keys()], call);
  const [first] = still;
  if (first === undefined) return;
  const [artifact, held] = first;
  const others = still.size > 1 ? ` (and ${still.size - 1} more: ${[...still.keys()].slice(1).map((a) => a.path).join(", ")})` : "";
  throw new MlflowError(
    `artifact '${artifact.path}' was sent with ${artifact.size} bytes, but ${store.location} holds ${held} bytes of it, ` +
      `after a second upload${others}. Check the server's artifact storage (disk space, a proxy that drops bodies), ` +
      "or pass verifyArtifacts: false for a server that cannot list artifacts",
    { errorCode: "ARTIFACT_INCOMPLETE", endpoint: `artifacts/list ${folderOf(artifact.path) || "/"}` },
  );
}
