/**
 * The storage contract: everything the backtest logic needs from MLflow. A
 * REST implementation talks to a tracking server, a file implementation
 * writes MLflow's `./mlruns` layout; the logic above never knows which.
 *
 * @module
 */
import type { BatchLimits } from "./batch.ts";

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
 * Artifact bytes. A function is called once per attempt, so a store can retry
 * an upload of a stream; a bare `ReadableStream` can be sent only once.
 */
export type ArtifactBody =
  | Uint8Array
  | string
  | Blob
  | ReadableStream<Uint8Array>
  | (() => ReadableStream<Uint8Array>);

/** One artifact to upload. */
export interface Artifact {
  /** Path inside the run's artifact root, with `/` separators, e.g. `equity_curve.csv` or `plots/a.png`. */
  path: string;
  body: ArtifactBody;
  /** MIME type, e.g. `text/csv`. */
  contentType: string;
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
  resolveExperiment(ref: ExperimentRef): Promise<string>;
  /** Creates a RUNNING run. */
  createRun(request: CreateRunRequest): Promise<RunInfo>;
  /** Writes metrics, params and tags, in as few requests as the limits allow. */
  logBatch(runId: string, batch: LogBatchRequest): Promise<void>;
  /** Stores one artifact under the run's artifact root. */
  uploadArtifact(run: RunInfo, artifact: Artifact): Promise<void>;
  /** Sets the terminal status and end time. */
  finishRun(runId: string, status: RunStatus, endTime: number): Promise<void>;
}
