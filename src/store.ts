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
  /** The metric's name. */
  key: string;
  /** The value; NaN and ±Infinity included. */
  value: number;
  /** Milliseconds since the epoch. */
  timestamp: number;
  /** The step (bar index, epoch); 0 for a single value. */
  step: number;
}

/** A key and its string value: a param or a tag. */
export interface KeyValue {
  /** The name. */
  key: string;
  /** The value, as text. */
  value: string;
}

/** What a store reports about a run it created. */
export interface RunInfo {
  /** The run id (32 hex digits). */
  runId: string;
  /** The experiment the run is in. */
  experimentId: string;
  /** The run name. */
  runName: string;
  /** Where the run's artifacts live: `mlflow-artifacts:/…`, `file:///…`, `s3://…`. */
  artifactUri: string;
  /** Milliseconds since the epoch. */
  startTime: number;
}

/** What a store needs to create a run. Tags include the system tags. */
export interface CreateRunRequest {
  /** The experiment to create the run in. */
  experimentId: string;
  /** The run name. */
  runName: string;
  /** Milliseconds since the epoch. */
  startTime: number;
  /** The user, as `mlflow.user`. */
  userId: string;
  /** Tags, system tags included. */
  tags: KeyValue[];
}

/** Metrics, params and tags for one run. The store splits them into as many writes as its limits need. */
export interface LogBatchRequest {
  /** Metric points. */
  metrics: Metric[];
  /** Params (immutable once logged). */
  params: KeyValue[];
  /** Tags (overwritten). */
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
  /** The bytes. */
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
  /** The experiment's name; created when missing. */
  name?: string;
  /** The experiment's id; must exist. */
  id?: string;
}

/** A run as a store reads it back: its info and the latest value of each metric. */
export interface StoredRun {
  /** The run id. */
  runId: string;
  /** The experiment the run is in. */
  experimentId: string;
  /** The run name. */
  runName: string;
  /** The run's status. */
  status: RunStatus;
  /** Milliseconds since the epoch. */
  startTime: number;
  /** Milliseconds since the epoch; absent while the run is open. */
  endTime?: number;
  /** Where the run's artifacts live. */
  artifactUri: string;
  /** The latest value of each metric (by step, then timestamp, as MLflow keeps it); NaN and ±Infinity included. */
  metrics: Record<string, number>;
  /** Params by key. */
  params: Record<string, string>;
  /** Tags by key, system tags (`mlflow.*`) included. */
  tags: Record<string, string>;
}

/** Which runs {@link TrackingStore.searchRuns} returns: active runs of the experiments, narrowed by the other fields. */
export interface RunSearch {
  /** The experiments to search. */
  experimentIds: readonly string[];
  /** Only the children of this run (tag `mlflow.parentRunId`). */
  parentRunId?: string;
}

/** One page of a search: what {@link TrackingStore.searchRunsPage} is asked. */
export interface RunQuery {
  /** The experiments to search. */
  experimentIds: readonly string[];
  /** An MLflow filter string, already checked; `""` for every active run. */
  filter: string;
  /** MLflow `order_by` clauses, already checked. */
  orderBy: readonly string[];
  /** Runs per page (1 to 50,000). */
  maxResults: number;
  /** The token of this page; absent for the first. */
  pageToken?: string;
}

/** One page of runs and the token of the next, absent on the last page. */
export interface RunPage {
  /** The runs, in the search's order. */
  runs: StoredRun[];
  /** Pass it back for the next page; absent when no more runs match. */
  nextPageToken?: string;
}

/** One entry of an artifact folder. */
export interface ArtifactEntry {
  /** Path inside the run's artifacts, `/`-separated (`plots/a.png`). */
  path: string;
  /** Whether it is a folder. */
  isDir: boolean;
  /** Size in bytes of a file; absent for folders. */
  size?: number;
}

/** An experiment as a store reads it back. */
export interface StoredExperiment {
  /** The experiment id. */
  experimentId: string;
  /** The experiment name. */
  name: string;
  /** `active` or `deleted`. */
  lifecycleStage: string;
}

/** The four operations every MLflow backend offers, plus experiment lookup and reading runs back. */
export interface TrackingStore {
  /** A printable location (tracking URI or folder), never holding credentials. */
  readonly location: string;
  /** Per-request limits, for stores that split writes into requests. */
  readonly batchLimits?: BatchLimits;
  /** Returns the experiment id, creating the experiment by name when it is missing. */
  resolveExperiment(ref: ExperimentRef, options?: CallOptions): Promise<string>;
  /** The experiment of an active run, or `undefined` when no such run exists. */
  runExperiment(runId: string, options?: CallOptions): Promise<string | undefined>;
  /** An active run, read back, or `undefined` when no such run exists (or it is deleted). */
  getRun(runId: string, options?: CallOptions): Promise<StoredRun | undefined>;
  /** Every active run that matches, in no particular order; a store pages through as many requests as it needs. */
  searchRuns(search: RunSearch, options?: CallOptions): Promise<StoredRun[]>;
  /** One page of runs matching a search, in its order (MLflow's `runs/search`). */
  searchRunsPage(query: RunQuery, options?: CallOptions): Promise<RunPage>;
  /** An experiment by id or name, deleted ones included; `undefined` when none exists. */
  getExperiment(ref: ExperimentRef, options?: CallOptions): Promise<StoredExperiment | undefined>;
  /** Every point of one metric of a run, as stored (`metrics/get-history`); `[]` for an unknown key. */
  metricHistory(runId: string, key: string, options?: CallOptions): Promise<Metric[]>;
  /** The entries directly inside `dir` of the run's artifacts (`""` is the root), sorted by path. */
  listArtifacts(run: RunInfo, dir: string, options?: CallOptions): Promise<ArtifactEntry[]>;
  /** The bytes of one artifact file. */
  downloadArtifact(run: RunInfo, path: string, options?: CallOptions): Promise<Uint8Array>;
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
