/**
 * Test support: the MLflow server integration tests log to, and a small REST
 * reader to read the logged runs back the way a user would.
 *
 * Tests always log through a fault proxy served on 127.0.0.1, which records
 * requests and injects faults. Behind it is the real MLflow server named by
 * `MLFLOW_TEST_TRACKING_URI` (e.g. `http://127.0.0.1:5000`) when that is set,
 * else the in-memory server of `mlflow_server.ts`. So retry and request-count
 * tests run against a real server too.
 *
 * @module
 */

import assert from "node:assert/strict";
import process from "node:process";
import { createFaultProxy, type FaultProxy } from "./fault_proxy.ts";
import { forwardTo } from "./http_forward.ts";
import { createMlflowServer, type MlflowTestServer } from "./mlflow_server.ts";
import { serve } from "./serve.ts";

/** Where a test logs to. */
export interface Target {
  /** Tracking URI to give the library (the proxy's), without a trailing slash. */
  trackingUri: string;
  /** The fault proxy every request goes through: request log and fault injection, whichever server is behind it. */
  server: FaultProxy;
  /** The in-memory server behind the proxy, for the rare test that needs its internals; absent against an external server. */
  memory?: MlflowTestServer;
  /** Stops the proxy (the external server, if any, keeps running). */
  close(): Promise<void>;
}

/**
 * Starts the target of an integration test: a fault proxy on a random local
 * port, in front of the server named by `MLFLOW_TEST_TRACKING_URI` when that
 * variable is set, else in front of a fresh in-memory server.
 *
 * @returns The tracking URI, the proxy, the in-memory server when there is one, and `close()`.
 * @throws Error when the local proxy cannot be started.
 * @example Start, use and stop a target
 * ```ts
 * import { startTarget } from "./target.ts";
 * const target = await startTarget();
 * try {
 *   console.log(`logging to ${target.trackingUri}`, target.memory ? "(in memory)" : "(external server)");
 * } finally {
 *   await target.close();
 * }
 * ```
 */
export async function startTarget(): Promise<Target> {
  const external = process.env.MLFLOW_TEST_TRACKING_URI;
  const memory = external !== undefined && external !== "" ? undefined : createMlflowServer();
  const server = createFaultProxy(memory !== undefined ? memory.handler : forwardTo(external as string));
  const served = await serve(server.handler);
  return { trackingUri: served.url, server, ...(memory !== undefined ? { memory } : {}), close: () => served.close() };
}

/** A `{key, value}` pair as MLflow returns params and tags. */
export interface RestKeyValue {
  key: string;
  value: string;
}

/** Params, tags or metrics as MLflow lists them (`[{key, value}]`), as one object by key. */
export const valuesOf = (pairs: { key: string; value: unknown }[] | undefined): Record<string, unknown> =>
  Object.fromEntries((pairs ?? []).map((p) => [p.key, p.value]));

/** The run id a script printed as `run <id>`; fails the test when there is none. */
export const runIdIn = (output: string): string => {
  const id = /\brun ([0-9a-f]{32})\b/.exec(output)?.[1];
  assert.ok(id, `no run id in: ${output}`);
  return id;
};

/** A metric value as MLflow returns it: NaN comes back as the string "NaN". */
export interface RestMetric {
  key: string;
  value: number | "NaN" | "Infinity" | "-Infinity";
  timestamp: number;
  step: number;
}

/** `RunInfo` as returned over REST. */
export interface RestRunInfo {
  run_id: string;
  run_uuid: string;
  experiment_id: string;
  run_name: string;
  user_id: string;
  status: string;
  start_time: number;
  end_time?: number;
  artifact_uri: string;
  lifecycle_stage: string;
}

/** `Run` as returned over REST; empty lists are left out by the server. */
export interface RestRun {
  info: RestRunInfo;
  data: { metrics?: RestMetric[]; params?: RestKeyValue[]; tags?: RestKeyValue[] };
  inputs?: Record<string, unknown>;
  outputs?: Record<string, unknown>;
}

/** `Experiment` as returned over REST. */
export interface RestExperiment {
  experiment_id: string;
  name: string;
  artifact_location: string;
  lifecycle_stage: string;
  creation_time?: number;
  last_update_time?: number;
  tags?: RestKeyValue[];
}

/** One entry of an artifact listing. */
export interface RestFileInfo {
  path: string;
  is_dir: boolean;
  file_size?: number;
}

/** Reads runs back over MLflow's REST API with plain `fetch`. */
export interface RestReader {
  /**
   * `GET mlflow/runs/get`.
   * @param runId The run.
   * @returns `{run}`.
   */
  getRun(runId: string): Promise<{ run: RestRun }>;
  /**
   * `POST mlflow/runs/search`, following page tokens until the last page.
   * @param experimentIds Experiments to search.
   * @param filter An MLflow filter string, e.g. `tags.mlflow.parentRunId = '…'`.
   * @returns `{runs}` (every page), `runs` absent when nothing matched.
   */
  searchRuns(experimentIds: string[], filter?: string): Promise<{ runs?: RestRun[] }>;
  /**
   * `GET mlflow/artifacts/list`.
   * @param runId The run.
   * @param path Directory relative to the run's artifact root.
   * @returns `{root_uri, files}`, `files` absent for an empty directory.
   */
  listArtifacts(runId: string, path?: string): Promise<{ root_uri: string; files?: RestFileInfo[] }>;
  /**
   * Downloads one artifact through `mlflow-artifacts/artifacts/<path from artifact_uri>`.
   * @param run The run (or its id, then the run is fetched first for its `artifact_uri`).
   * @param path File path relative to the run's artifact root.
   * @returns The file's bytes.
   */
  getArtifact(run: RestRun | string, path: string): Promise<Uint8Array>;
  /**
   * `GET mlflow/experiments/get-by-name`.
   * @param name Experiment name.
   * @returns `{experiment}`.
   */
  getExperimentByName(name: string): Promise<{ experiment: RestExperiment }>;
  /**
   * `GET mlflow/metrics/get-history` with `max_results=25000`.
   * @param runId The run.
   * @param key Metric key.
   * @returns `{metrics}`, absent when the metric has no values.
   */
  metricHistory(runId: string, key: string): Promise<{ metrics?: RestMetric[]; next_page_token?: string }>;
}

/**
 * A non-2xx answer seen by {@link restReader}; keeps the status and body so a
 * test can assert on the server's error.
 *
 * @example Expect a missing experiment
 * ```ts
 * import { restReader, RestReadError } from "./target.ts";
 * const missing = await restReader("http://127.0.0.1:5000").getExperimentByName("nope").catch((e: unknown) => e);
 * if (!(missing instanceof RestReadError) || missing.status !== 404) throw new Error("expected a 404");
 * ```
 */
export class RestReadError extends Error {
  override name = "RestReadError";

  /**
   * @param status HTTP status of the answer.
   * @param url The URL requested.
   * @param body The answer's body text.
   */
  constructor(
    readonly status: number,
    readonly url: string,
    readonly body: string,
  ) {
    super(`MLflow answered ${status} for ${url}: ${body.slice(0, 500)}`);
  }
}

/**
 * A REST reader for tests, independent of the library under test.
 *
 * @param trackingUri Base URL of the MLflow server, e.g. `http://127.0.0.1:5000`.
 * @returns Functions returning the server's parsed JSON.
 * @throws RestReadError (from the returned functions) on any non-2xx answer.
 * @example Read back a run's params
 * ```ts
 * import { restReader, startTarget } from "./target.ts";
 * const target = await startTarget();
 * const reader = restReader(target.trackingUri);
 * const { experiment } = await reader.getExperimentByName("Default");
 * const { runs = [] } = await reader.searchRuns([experiment.experiment_id]);
 * console.log(runs.map((r) => r.data.params));
 * await target.close();
 * ```
 */
export function restReader(trackingUri: string): RestReader {
  const base = trackingUri.replace(/\/+$/, "");
  const call = async (path: string, init?: RequestInit): Promise<Response> => {
    const url = `${base}${path}`;
    const response = await fetch(url, init);
    if (!response.ok) throw new RestReadError(response.status, url, await response.text());
    return response;
  };
  const getJson = async <T>(path: string, query: Record<string, string>): Promise<T> =>
    (await (await call(`${path}?${new URLSearchParams(query)}`)).json()) as T;
  const reader: RestReader = {
    getRun: (runId) => getJson("/api/2.0/mlflow/runs/get", { run_id: runId }),
    async searchRuns(experimentIds, filter) {
      const runs: RestRun[] = [];
      let pageToken: string | undefined;
      do {
        const body = { experiment_ids: experimentIds, filter: filter ?? "", max_results: 1000, page_token: pageToken };
        const response = await call("/api/2.0/mlflow/runs/search", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(body),
        });
        const page = (await response.json()) as { runs?: RestRun[]; next_page_token?: string };
        runs.push(...(page.runs ?? []));
        pageToken = page.runs === undefined || page.runs.length === 0 ? undefined : page.next_page_token;
      } while (pageToken !== undefined && pageToken !== "");
      return runs.length > 0 ? { runs } : {};
    },
    listArtifacts: (runId, path) =>
      getJson("/api/2.0/mlflow/artifacts/list", path === undefined ? { run_id: runId } : { run_id: runId, path }),
    async getArtifact(run, path) {
      const artifactUri = typeof run === "string" ? (await reader.getRun(run)).run.info.artifact_uri : run.info.artifact_uri;
      const match = /^mlflow-artifacts:(?:\/\/[^/]*)?\/*(.*)$/.exec(artifactUri);
      if (match === null) throw new Error(`artifact_uri ${artifactUri} is not an mlflow-artifacts: URI; cannot download ${path}`);
      const full = `${match[1] ?? ""}/${path}`.replace(/^\/+/, "");
      const encoded = full.split("/").map(encodeURIComponent).join("/");
      return new Uint8Array(await (await call(`/api/2.0/mlflow-artifacts/artifacts/${encoded}`)).arrayBuffer());
    },
    getExperimentByName: (name) => getJson("/api/2.0/mlflow/experiments/get-by-name", { experiment_name: name }),
    metricHistory: (runId, key) =>
      getJson("/api/2.0/mlflow/metrics/get-history", { run_id: runId, metric_key: key, max_results: "25000" }),
  };
  return reader;
}
