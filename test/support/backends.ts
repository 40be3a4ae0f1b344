/**
 * Test support: the two places a run can be logged to, each with a way to
 * read runs back as a user would (REST calls, or the files in ./mlruns), so
 * one scenario can be checked against both.
 *
 * @module
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FaultProxy } from "./fault_proxy.ts";
import type { MlflowTestServer } from "./mlflow_server.ts";
import { readMlruns, type RunRecord } from "./mlruns_reader.ts";
import { type RestMetric, type RestRun, restReader, startTarget } from "./target.ts";

/** A run as read back, the same shape from either backend. */
export interface LoggedRun {
  runId: string;
  runName: string;
  experimentId: string;
  status: string;
  endTime: number | undefined;
  /** Latest value per metric key. */
  metrics: Record<string, number>;
  params: Record<string, string>;
  tags: Record<string, string>;
  /** Artifact file paths, sorted. */
  artifacts: string[];
}

/** A logging destination and its reader. */
export interface Backend {
  name: "rest" | "file";
  trackingUri: string;
  /** The REST target's fault proxy (fault injection, request counts); absent for the file store. */
  server?: FaultProxy;
  getRun(runId: string): Promise<LoggedRun>;
  /** Children of a run, through `tags.mlflow.parentRunId`. */
  childrenOf(parentRunId: string, experimentId: string): Promise<LoggedRun[]>;
  /** Every run of the experiment named `name`. */
  runsOf(experimentName: string): Promise<LoggedRun[]>;
  artifact(runId: string, path: string): Promise<Uint8Array>;
  metricHistory(runId: string, key: string): Promise<{ value: number; step: number; timestamp: number }[]>;
  close(): Promise<void>;
}

const numberOf = (value: RestMetric["value"]): number =>
  value === "NaN" ? NaN : value === "Infinity" ? Infinity : value === "-Infinity" ? -Infinity : value;

/** The REST backend, which always has a fault proxy, and an in-memory server unless `MLFLOW_TEST_TRACKING_URI` is set. */
export interface RestBackend extends Backend {
  name: "rest";
  server: FaultProxy;
  memory?: MlflowTestServer;
}

/**
 * Opens the REST backend: a target from `startTarget()` and a REST reader.
 *
 * @returns The backend, with the target's proxy as `server`.
 */
export async function openRestBackend(): Promise<RestBackend> {
  const target = await startTarget();
  const reader = restReader(target.trackingUri);
  const listAll = async (runId: string, path?: string): Promise<string[]> => {
    const { files = [] } = await reader.listArtifacts(runId, path);
    const out: string[] = [];
    for (const f of files) out.push(...(f.is_dir ? await listAll(runId, f.path) : [f.path]));
    return out.sort();
  };
  const toLogged = async (run: RestRun): Promise<LoggedRun> => ({
    runId: run.info.run_id,
    runName: run.info.run_name,
    experimentId: run.info.experiment_id,
    status: run.info.status,
    endTime: run.info.end_time,
    metrics: Object.fromEntries((run.data.metrics ?? []).map((m) => [m.key, numberOf(m.value)])),
    params: Object.fromEntries((run.data.params ?? []).map((p) => [p.key, p.value])),
    tags: Object.fromEntries((run.data.tags ?? []).map((t) => [t.key, t.value])),
    artifacts: await listAll(run.info.run_id),
  });
  return {
    name: "rest",
    trackingUri: target.trackingUri,
    server: target.server,
    ...(target.memory !== undefined ? { memory: target.memory } : {}),
    getRun: async (runId) => toLogged((await reader.getRun(runId)).run),
    childrenOf: async (parentRunId, experimentId) =>
      Promise.all(((await reader.searchRuns([experimentId], `tags.mlflow.parentRunId = '${parentRunId}'`)).runs ?? []).map(toLogged)),
    async runsOf(name) {
      const { experiment } = await reader.getExperimentByName(name);
      return Promise.all(((await reader.searchRuns([experiment.experiment_id])).runs ?? []).map(toLogged));
    },
    artifact: (runId, path) => reader.getArtifact(runId, path),
    metricHistory: async (runId, key) =>
      ((await reader.metricHistory(runId, key)).metrics ?? []).map((m) => ({ ...m, value: numberOf(m.value) })),
    close: () => target.close(),
  };
}

// The run summary keeps the latest value by (step, timestamp, value), as MLflow does.
function latest(points: { value: number; step: number; timestamp: number }[]): number {
  let best = points[0]!;
  for (const p of points) {
    if (p.step > best.step || (p.step === best.step && (p.timestamp > best.timestamp ||
      (p.timestamp === best.timestamp && p.value > best.value)))) best = p;
  }
  return best.value;
}

async function fileBackend(): Promise<Backend> {
  const root = await mkdtemp(join(tmpdir(), "flox-mlflow-"));
  const mlruns = join(root, "mlruns");
  const allRuns = async (): Promise<{ run: RunRecord; experimentId: string; experimentName: string }[]> =>
    (await readMlruns(mlruns)).flatMap((e) => e.runs.map((run) => ({ run, experimentId: e.id, experimentName: String(e.meta.name) })));
  const toLogged = (run: RunRecord, experimentId: string): LoggedRun => ({
    runId: run.id,
    runName: String(run.meta.run_name),
    experimentId,
    status: ["", "RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"][Number(run.meta.status)] ?? "?",
    endTime: run.meta.end_time === null ? undefined : Number(run.meta.end_time),
    metrics: Object.fromEntries(Object.entries(run.metrics).map(([k, points]) => [k, latest(points)])),
    params: run.params,
    tags: run.tags,
    artifacts: run.artifacts,
  });
  const find = async (runId: string) => {
    const found = (await allRuns()).find((r) => r.run.id === runId);
    if (!found) throw new Error(`run ${runId} not found under ${mlruns}`);
    return found;
  };
  return {
    name: "file",
    trackingUri: `file://${mlruns}`,
    getRun: async (runId) => {
      const { run, experimentId } = await find(runId);
      return toLogged(run, experimentId);
    },
    childrenOf: async (parentRunId) =>
      (await allRuns()).filter((r) => r.run.tags["mlflow.parentRunId"] === parentRunId).map((r) => toLogged(r.run, r.experimentId)),
    runsOf: async (name) => (await allRuns()).filter((r) => r.experimentName === name).map((r) => toLogged(r.run, r.experimentId)),
    artifact: async (runId, path) => new Uint8Array(await readFile(join((await find(runId)).run.dir, "artifacts", path))),
    metricHistory: async (runId, key) => (await find(runId)).run.metrics[key] ?? [],
    close: () => rm(root, { recursive: true, force: true }),
  };
}

/** Both backends, for `for (const open of BACKENDS)` loops in scenario tests. */
export const BACKENDS: Array<{ name: "rest" | "file"; open: () => Promise<Backend> }> = [
  { name: "rest", open: openRestBackend },
  { name: "file", open: fileBackend },
];

/** A name no earlier test run used, for experiments on a persistent real server. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}
