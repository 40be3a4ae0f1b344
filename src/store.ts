/**
 * The storage contract: everything the backtest logic needs from MLflow. A
 * REST implementation talks to a tracking server, a file implementation
 * writes MLflow's `./mlruns` layout; the logic above never knows which.
 *
 * @module
 */
import type { BatchLimits } from "./batch.ts";
import type { LocalFile } from "./runtime/fs_shared.ts";

/** MLflow run status names, as the REST API spells them. */
export type RunStatus = "RUNNING" | "SCHEDULED" | "FINISHED" | "FAILED" | "KILLED";

/** One metric point. `value` may be NaN or infinite; the store encodes it. */
export interface Metric {
  key: string;
  value: number;
  /** Milliseconds since the epoch. */
  timestamp: number;
  step: number;
}

/** A key and its string value: a param or a tag. */
export interface KeyValue {
  key: string;
  value: string;
}

/** What a store reports about a run it created. */
export interface RunInfo {
  runId: string;
  experimentId: string;
  runName: string;
  /** Where the run's artifacts live: `mlflow-artifacts:/…`, `file:///…`, `s3://…`. */
  artifactUri: string;
  startTime: number;
}

/** What a store needs to create a run. Tags include the system tags. */
export interface CreateRunRequest {
  experimentId: string;
  runName: string;
  startTime: number;
  userId: string;
  tags: KeyValue[];
}

/** Metrics, params and tags for one run. The store splits them into as many writes as its limits need. */
export interface LogBatchRequest {
  metrics: Metric[];
  params: KeyValue[];
  tags: KeyValue[];
}

/**
 * Artifact bytes. A function is called for a fresh stream each time the
 * bytes are read; a bare `ReadableStream` is read once. A {@link LocalFile}
 * is a file on disk, read as it is sent.
 */
export type ArtifactBody =
  | Uint8Array
  | string
  | Blob
  | ReadableStream<Uint8Array>
  | (() => ReadableStream<Uint8Array>)
  | LocalFile;

/** One artifact to upload. */
export interface Artifact {
  /** Path inside the run's artifact root, with `/` separators, e.g. `equity_curve.csv` or `plots/a.png`. */
  path: string;
  body: ArtifactBody;
  /** MIME type, e.g. `text/csv`. */
  contentType: string;
}

/** One artifact a store has written, as it was sent. */
export interface StoredArtifact {
  /** Path inside the run's artifact root. */
  readonly path: string;
  /** Bytes sent or written. */
  readonly size: number;
  /** Sends the same bytes again; used once when the store holds fewer. */
  resend(): Promise<void>;
  /** Frees what the upload kept for a resend (a temporary file). Safe to call twice. */
  release(): Promise<void>;
}

/** What every store call may be given. */
export interface CallOptions {
  /** Stops the call, including a request in flight, with an `ABORTED` error. */
  signal?: AbortSignal;
}

/** Which experiment a run goes into. Neither set means MLflow's Default (id `0`). */
export interface ExperimentRef {
  name?: string;
  id?: string;
}

/** The four operations every MLflow backend offers, plus experiment lookup. */
export interface TrackingStore {
  /** A printable location (tracking URI or folder), never holding credentials. */
  readonly location: string;
  /** Per-request limits, for stores that split writes into requests. */
  readonly batchLimits?: BatchLimits;
  /** Returns the experiment id, creating the experiment by name when it is missing. */
  resolveExperiment(ref: ExperimentRef, options?: CallOptions): Promise<string>;
  /** The experiment of an active run, or `undefined` when no such run exists. */
  runExperiment(runId: string, options?: CallOptions): Promise<string | undefined>;
  /** Creates a RUNNING run. */
  createRun(request: CreateRunRequest, options?: CallOptions): Promise<RunInfo>;
  /** Writes metrics, params and tags, in as few requests as the limits allow. */
  logBatch(runId: string, batch: LogBatchRequest, options?: CallOptions): Promise<void>;
  /**
   * Whether {@link TrackingStore.artifactSizes} is checked after uploads
   * (default true; `verifyArtifacts: false` turns it off).
   */
  readonly verifyArtifacts: boolean;
  /** Stores one artifact under the run's artifact root; the caller releases the result. */
  uploadArtifact(run: RunInfo, artifact: Artifact, options?: CallOptions): Promise<StoredArtifact>;
  /**
   * Sizes of the files directly inside `dir` of the run's artifacts, by file
   * name (`""` is the root). A file the store lists without a size has 0 bytes.
   */
  artifactSizes(run: RunInfo, dir: string, options?: CallOptions): Promise<Map<string, number>>;
  /** Sets the terminal status and end time. Takes no signal: it is how an aborted run is marked KILLED. */
  finishRun(runId: string, status: RunStatus, endTime: number): Promise<void>;
}
