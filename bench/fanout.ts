/**
 * Fan-out benchmark: worker processes log their share of one grid under one
 * parent with `logCells` through a server that answers a share of requests
 * 503, then one `summarizeSweep` writes the parent's summary. Prints one JSON
 * object on stdout (progress on stderr). Target: duplicates 0, lost cells 0,
 * the parent's best cell the expected one.
 *
 * - This process serves the in-memory MLflow test server
 *   (`test/support/mlflow_server.ts`) twice on loopback: a faulty port, where
 *   each request is answered `503` (nothing done, an MLflow JSON error body)
 *   with probability `--fault-rate` from a seeded generator, on every
 *   endpoint (runs/get, runs/search, runs/create, log-batch, runs/update, …);
 *   and the clean handler, which the read-back calls directly.
 * - The parent is opened through the faulty port with `startRun`; then
 *   `--processes` child processes (the runtime `--runtime`) each log
 *   `--cells` cells (2 params, 10 stats; cell `k` has global index `k`) with
 *   `logCells`, concurrency 4; then `summarizeSweep({ end: true })` runs here.
 *   Retries: `timeoutMs 5 000, initialDelayMs 20, maxDelayMs 200, budgetMs 60 000`.
 * - The read-back searches every run of the experiment, active and deleted,
 *   on the clean handler: runs created, children per cell index (duplicates:
 *   more than one; lost: no FINISHED child), the parent's status and
 *   `best_run_id` against the cell computed here.
 *
 * Run: `node --import tsx bench/fanout.ts` or `npm run bench -- fanout`.
 * Options: `--processes 4`, `--cells 16` (per process), `--fault-rate 0.1`,
 * `--seed 1`, `--runtime node|deno|bun`.
 * The same file is the worker: `… bench/fanout.ts worker <url> <parentRunId> <first index> <cells>`.
 *
 * @module
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { lastJsonLine } from "./child.ts";
import { logCells, startRun, summarizeSweep } from "../mod.ts";
import { createMlflowServer } from "../test/support/mlflow_server.ts";
import { pyDumps } from "../test/support/python_json.ts";
import { serve } from "../test/support/serve.ts";

const SCRIPT = fileURLToPath(import.meta.url);
const REPO = fileURLToPath(new URL("..", import.meta.url));
const RUNTIMES: Record<string, string[]> = {
  node: [process.execPath, "--import", "tsx"],
  deno: [join(REPO, "node_modules/.bin/deno"), "run", "-A"],
  bun: [join(REPO, "node_modules/.bin/bun")],
};
const RETRY = { timeoutMs: 5_000, initialDelayMs: 20, maxDelayMs: 200, budgetMs: 60_000 };
const log = (message: string): void => void process.stderr.write(`fanout bench: ${message}\n`);

/** Cell `k`: two params and ten stats; its Sharpe ratio is highest at the last cell. */
function cell(k: number): { index: number; params: Record<string, number>; stats: Record<string, number> } {
  return {
    index: k,
    params: { fast: 5 + (k % 8), slow: 20 + 10 * Math.floor(k / 8) },
    stats: {
      sharpeRatio: k / 100, sortinoRatio: k / 80, netPnl: 10 * k, returnPct: k / 4, maxDrawdownPct: 1 + (k % 5),
      totalTrades: 10 + k, winRate: 0.5, profitFactor: 1.25, totalFees: 1.5, finalCapital: 10_000 + 10 * k,
    },
  };
}

if (process.argv[2] === "worker") {
  const [url, parentRunId, first, count] = process.argv.slice(3);
  const cells = Array.from({ length: Number(count) }, (_, j) => cell(Number(first) + j));
  const started = performance.now();
  const result = await logCells({ trackingUri: url!, env: {}, retry: RETRY, parentRunId: parentRunId!, cells, concurrency: 4 });
  const logMs = Math.round(performance.now() - started);
  console.log(JSON.stringify({ failed: result.failed.map((f) => `${f.cellIndex}: ${f.error.message}`), log_ms: logMs }));
} else {
  await main();
}

/** A seeded generator (mulberry32), so a run's faults can be had again. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function runWorker(command: string[]): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(command[0]!, command.slice(1), { cwd: REPO, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk));
    child.on("error", reject);
    child.on("close", (code) => {
      const json = lastJsonLine(out);
      if (code !== 0 || json === undefined) reject(new Error(`worker exited with ${code}: ${out.slice(-500)}`));
      else resolve(json);
    });
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      processes: { type: "string", default: "4" },
      cells: { type: "string", default: "16" },
      "fault-rate": { type: "string", default: "0.1" },
      seed: { type: "string", default: "1" },
      runtime: { type: "string", default: "node" },
    },
  });
  const processes = Number(values.processes);
  const perProcess = Number(values.cells);
  const rate = Number(values["fault-rate"]);
  const runtime = RUNTIMES[values.runtime!];
  if (runtime === undefined) throw new Error(`--runtime must be one of ${Object.keys(RUNTIMES).join(", ")}`);
  const total = processes * perProcess;

  const server = createMlflowServer();
  const next = random(Number(values.seed));
  const byEndpoint: Record<string, { requests: number; refused: number }> = {};
  let requests = 0;
  let refused = 0;
  const served = await serve(async (request) => {
    const endpoint = new URL(request.url).pathname.replace(/^\/api\/2\.0\//, "");
    const counts = (byEndpoint[endpoint] ??= { requests: 0, refused: 0 });
    counts.requests++;
    requests++;
    if (next() < rate) {
      counts.refused++;
      refused++;
      await request.body?.cancel();
      return new Response(pyDumps({ error_code: "TEMPORARILY_UNAVAILABLE", message: "Injected fault: HTTP 503" }), {
        status: 503,
        headers: { "content-type": "application/json" },
      });
    }
    return server.handler(request);
  });
  const connection = { trackingUri: served.url, env: {}, retry: RETRY };
  const clean = async <T>(path: string, body: unknown): Promise<T> =>
    (await (await server.handler(new Request(`http://clean/api/2.0/mlflow/${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    }))).json()) as T;

  try {
    const parent = await startRun({ ...connection, experiment: `fanout-${Date.now().toString(36)}`, runName: "fanout" });
    const beforeWorkers = requests;
    log(`${processes} ${values.runtime} processes x ${perProcess} cells under ${parent.runId}, ${rate * 100}% 503s`);
    const start = performance.now();
    const outputs = await Promise.all(Array.from({ length: processes }, (_, w) =>
      runWorker([...runtime, SCRIPT, "worker", served.url, parent.runId, String(w * perProcess), String(perProcess)])));
    const workersMs = performance.now() - start;
    const workerRequests = requests - beforeWorkers;
    const summaryStart = performance.now();
    const summary = await summarizeSweep({ ...connection, parentRunId: parent.runId, cells: total, end: true });
    const summaryMs = performance.now() - summaryStart;
    const wallMs = performance.now() - start;

    // Read back on the clean handler: every run of the experiment, deleted twins included.
    type Run = { info: { run_id: string; status: string; lifecycle_stage: string }; data: { tags?: { key: string; value: string }[] } };
    const runs: Run[] = [];
    let pageToken: string | undefined;
    do {
      const page = await clean<{ runs?: Run[]; next_page_token?: string }>("runs/search", {
        experiment_ids: [parent.experimentId], run_view_type: "ALL", max_results: 1000, ...(pageToken ? { page_token: pageToken } : {}),
      });
      runs.push(...(page.runs ?? []));
      pageToken = page.next_page_token;
    } while (pageToken);
    const tag = (run: Run, key: string) => run.data.tags?.find((t) => t.key === key)?.value;
    const children = runs.filter((r) => tag(r, "mlflow.parentRunId") === parent.runId);
    const perIndex = new Map<number, Run[]>();
    for (const child of children) {
      const index = Number(tag(child, "flox.cell_index"));
      perIndex.set(index, [...(perIndex.get(index) ?? []), child]);
    }
    const lost = Array.from({ length: total }, (_, k) => k).filter((k) =>
      !(perIndex.get(k) ?? []).some((r) => r.info.status === "FINISHED" && r.info.lifecycle_stage === "active"));
    const duplicates = [...perIndex.values()].reduce((n, list) => n + Math.max(0, list.length - 1), 0);
    const parentRun = runs.find((r) => r.info.run_id === parent.runId)!;
    const bestChild = children.find((r) => r.info.run_id === tag(parentRun, "best_run_id"));
    const figures = {
      runtime: values.runtime,
      processes,
      cells_per_process: perProcess,
      cells: total,
      fault_rate: rate,
      seed: Number(values.seed),
      runs_created: runs.length,
      children: children.length,
      duplicates,
      lost_cells: lost.length,
      cells_failed_in_workers: outputs.reduce((n, o) => n + (o.failed as string[]).length, 0),
      parent_status: parentRun.info.status,
      best_cell_right: bestChild !== undefined && tag(bestChild, "flox.cell_index") === String(total - 1) && summary.best?.index === total - 1,
      summary_failed_cells: summary.failed.length,
      requests: { workers: workerRequests, per_cell: Math.round((workerRequests / total) * 100) / 100, total: requests, refused_503: refused, by_endpoint: byEndpoint },
      wall_ms: {
        workers: Math.round(workersMs),
        logCells_per_worker: outputs.map((o) => o.log_ms),
        summary: Math.round(summaryMs),
        total: Math.round(wallMs),
      },
    };
    console.log(JSON.stringify(figures, null, 2));
    if (duplicates > 0 || lost.length > 0) process.exitCode = 1;
  } finally {
    await served.close();
  }
}
