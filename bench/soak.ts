/**
 * Soak benchmark: many runs and grids logged through a server that fails
 * about 10% of requests, then everything read back and counted. Prints one
 * JSON object on stdout (progress on stderr). Target per runtime: runs
 * created / complete / duplicates / lost / duplicated metric points =
 * 1,000 / 1,000 / 0 / 0 / 0, and every grid whole.
 *
 * Per runtime (Node, Deno, Bun), in a fresh pair of processes:
 *
 * - The server child (always Node) runs the in-memory MLflow test server
 *   (`test/support/mlflow_server.ts`) on two ports. The faulty port puts a
 *   seeded random fault layer in front of it: each request, with probability
 *   `--fault-rate`, gets one of seven faults, chosen uniformly, on every
 *   endpoint (experiments, runs/create, log-batch, artifact PUTs,
 *   artifacts/list, runs/search, runs/update, ...):
 *   `429` (Retry-After: 0, nothing done), `503` (nothing done), `502_after_work`
 *   (carried out, then answered 502), `reset_before_work` (connection dropped,
 *   nothing done), `reset_after_work` (carried out, then the connection
 *   dropped), `slow` (answered 100-400 ms late; carried out even when the
 *   client has gone), `late_commit` (held 300-800 ms whatever the client does,
 *   then carried out and answered; the client's 250 ms timeout has long
 *   passed, so a `runs/create` held so is the ambiguous create whose retry may
 *   make a twin). The clean port serves the same server without faults; the
 *   read-back uses it.
 * - The client child (the runtime under test) logs `--runs` backtests with
 *   `logBacktest` (10 stats, one of them infinite on every 10th run so it
 *   becomes a tag; 3 params; 2 tags; a 50-point equity curve, so an `equity`
 *   metric history of 50 points; 3-5 trades; `chart: false`: two CSV
 *   artifacts), `--concurrency` at a time, into the experiment
 *   `soak-runs-<runtime>`, then `--grids` grids of `--cells` cells with
 *   `logGrid` (params and 5 stats per cell) one after another into
 *   `soak-grids-<runtime>`. Retries: `timeoutMs 250, initialDelayMs 20,
 *   maxDelayMs 200, budgetMs 60 000` (maxRetries left at its default of 7).
 *   It records every call that rejects (by error code and endpoint), grid
 *   cells reported failed, calls that do not settle within 5 minutes
 *   ("hung"), warnings the library prints and unhandled rejections.
 * - The read-back, with plain `fetch` on the clean port (not through the
 *   library), searches every active and deleted run of both experiments and
 *   checks each expected run against the inputs, computed here without the
 *   library's code: status FINISHED with an end time, every metric, param
 *   and tag with its value, both CSVs listed with the expected byte size, and
 *   the `equity` history holding exactly the 50 expected (step, timestamp,
 *   value) points. Duplicates are active runs sharing a run name or a
 *   `flox.create_token`; deleted twins are deleted runs tagged
 *   `flox.duplicate_of` (checked to name an active run of the same name).
 *   Grids: one active parent per grid, FINISHED, with its summary
 *   (`sweep.cells`, `best.*`, `best_run_id` naming the right child, no
 *   `failed_cells`), one active child per cell under it, complete, and no
 *   other children.
 * - For every group of duplicates, `duplicate_traces` shows what the server
 *   saw of their create token: each `runs/create` and token search, the fault
 *   it met and what it did (the server child records this and answers it on
 *   the clean port at `/soak/trace?token=…`). That is the reproduction: which
 *   fault on which request made the second run.
 *
 * Run: `node --import tsx bench/soak.ts` from the repository root, or
 * `npm run bench -- soak`. Options: `--runs 1000`, `--grids 5`, `--cells 100`,
 * `--runtimes node,deno,bun`, `--fault-rate 0.1`, `--seed 1`,
 * `--concurrency 16`, `--timeout-s 1800` (per client child: a timeout or a
 * crash is reported as that runtime's `error`, with whatever could be read
 * back, not as a failure of the bench). A quick try:
 * `node --import tsx bench/soak.ts --runs 100 --grids 1 --cells 20 --runtimes node`.
 *
 * The same file is the child processes: `… bench/soak.ts server <rate> <seed>`
 * and `… bench/soak.ts client <url> <runtime> <config JSON>`.
 *
 * @module
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { lastJsonLine, runChild } from "./child.ts";
import { codeDigest, gitState } from "./code_state.ts";
import { sleepUnlessAborted } from "../test/support/fault_proxy.ts";
import type { FetchHandler } from "../test/support/serve.ts";

const SCRIPT = fileURLToPath(import.meta.url);
const REPO = fileURLToPath(new URL("..", import.meta.url));
const RUNTIMES: Record<string, string[]> = {
  node: [process.execPath, "--import", "tsx"],
  deno: [join(REPO, "node_modules/.bin/deno"), "run", "-A"],
  bun: [join(REPO, "node_modules/.bin/bun")],
};
/** Client retry settings: a timeout shorter than a late commit's hold, so late commits are ambiguous creates. */
const RETRY = { timeoutMs: 250, initialDelayMs: 20, maxDelayMs: 200, budgetMs: 60_000 };
/** A call still pending after this long is counted as hung (a logBacktest is at most ~4 sequential budgets). */
const HUNG_AFTER_MS = 300_000;
/** Longest a fault holds a request; the read-back waits longer than this so nothing is still in flight. */
const MAX_HOLD_MS = 800;

const log = (message: string): void => void process.stderr.write(`soak bench: ${message}\n`);
const errorText = (err: unknown): string => (err instanceof Error ? `${err.name}: ${err.message}` : String(err));
const increment = (counts: Record<string, number>, key: string, by = 1): void => void (counts[key] = (counts[key] ?? 0) + by);

/** What the orchestrator hands to a client child. */
interface SoakConfig {
  runs: number;
  grids: number;
  cells: number;
  concurrency: number;
}

// ---------------------------------------------------------------------------
// The workload: inputs and what the server must hold, both derived from the
// run's number here, so the read-back does not trust the library's own code.

const T0_NS = 1_704_067_200_000_000_000n;
const MINUTE_NS = 60_000_000_000n;
const EQUITY_POINTS = 50;

interface EquityRow {
  timestamp_ns: bigint;
  equity: number;
  drawdown_pct: number;
}

interface RunInput {
  runName: string;
  stats: Record<string, number>;
  params: Record<string, number>;
  tags: Record<string, string>;
  equityCurve: EquityRow[];
  trades: Record<string, unknown>[];
}

/** Backtest number `i`. Only + - * / on doubles, whose printed forms every engine agrees on. */
function runInput(i: number): RunInput {
  const tradeCount = 3 + (i % 3);
  const equityCurve: EquityRow[] = [];
  for (let k = 0; k < EQUITY_POINTS; k++) {
    equityCurve.push({
      timestamp_ns: T0_NS + BigInt(i * 1000 + k) * MINUTE_NS,
      equity: 10_000 + i + k * 3.25 - (k % 7) * 1.5,
      drawdown_pct: (k % 7) * 0.125,
    });
  }
  const trades: Record<string, unknown>[] = [];
  for (let k = 0; k < tradeCount; k++) {
    const entry = 42_000 + k * 10.5;
    const exit = entry + ((i % 5) - 2) * 3.25;
    const quantity = 0.01 * (k + 1);
    trades.push({
      symbol: "BTCUSDT",
      side: k % 2 === 0 ? "long" : "short",
      entry_price: entry,
      exit_price: exit,
      quantity,
      pnl: (exit - entry) * quantity,
      entry_time_ns: T0_NS + BigInt(i * 1000 + k * 5) * MINUTE_NS,
      exit_time_ns: T0_NS + BigInt(i * 1000 + k * 5 + 3) * MINUTE_NS,
    });
  }
  return {
    runName: `run-${String(i).padStart(5, "0")}`,
    stats: {
      total_trades: tradeCount,
      win_rate: 0.5 + (i % 7) / 100,
      sharpe_ratio: ((i * 37) % 200) / 100 - 0.5,
      sortino_ratio: ((i * 13) % 300) / 100,
      net_pnl: i * 1.25 - 300,
      gross_profit: 500 + i / 4,
      gross_loss: -200 - (i % 11),
      max_drawdown_pct: (i % 13) / 2,
      return_pct: (i % 29) / 4 - 2,
      // Every 10th run has an infinite stat, which must arrive as a tag.
      profit_factor: i % 10 === 0 ? Infinity : 1 + (i % 9) / 10,
    },
    params: { fast: 5 + (i % 20), slow: 30 + (i % 40), fee: 0.0004 },
    tags: { strategy: "sma-soak", batch: `b${i % 10}` },
    equityCurve,
    trades,
  };
}

interface CellInput {
  params: { fast: number; slow: number };
  stats: Record<string, number>;
}

/** Cell `c` of grid `g`; sharpe_ratio differs in every cell (37 is coprime to 100), so the best cell is unique. */
function cellInput(g: number, c: number): CellInput {
  return {
    params: { fast: 2 + (c % 10), slow: 20 + 5 * Math.floor(c / 10) },
    stats: {
      sharpe_ratio: ((c * 37) % 1000) / 500 + g / 1000,
      net_pnl: c * 2.5 - 100,
      win_rate: 0.4 + (c % 20) / 100,
      total_trades: 10 + (c % 30),
      max_drawdown_pct: (c % 17) / 4,
    },
  };
}

const gridName = (g: number): string => `grid-${g}`;
const cellName = (cell: CellInput): string => `fast=${cell.params.fast},slow=${cell.params.slow}`;

interface MetricPoint {
  step: number;
  timestamp: number;
  value: number;
}

/** What the server must hold for one run. */
interface Expected {
  runName: string;
  status: string;
  metrics: Map<string, number>;
  params: Map<string, string>;
  tags: Map<string, string>;
  /** Artifact path to byte size. */
  artifacts: Map<string, number>;
  /** The `equity` metric history; empty when none is expected. */
  equity: MetricPoint[];
}

/** Finite stats are metrics; infinite ones tags holding "Infinity" / "-Infinity" (README: where things end up). */
function splitStats(stats: Record<string, number>, metrics: Map<string, number>, tags: Map<string, string>): void {
  for (const [key, value] of Object.entries(stats)) {
    if (Number.isFinite(value)) metrics.set(key, value);
    else tags.set(key, String(value));
  }
}

const csvBytes = (text: string): number => new TextEncoder().encode(text).length;

function expectedRun(i: number): Expected {
  const input = runInput(i);
  const metrics = new Map<string, number>();
  const tags = new Map<string, string>([...Object.entries(input.tags), ["mlflow.runName", input.runName]]);
  splitStats(input.stats, metrics, tags);
  const params = new Map(Object.entries(input.params).map(([k, v]) => [k, String(v)]));
  let equityCsv = "timestamp_ns,equity,drawdown_pct\n";
  for (const row of input.equityCurve) equityCsv += `${row.timestamp_ns},${row.equity},${row.drawdown_pct}\n`;
  const columns = Object.keys(input.trades[0]!);
  let tradesCsv = `${columns.join(",")}\n`;
  for (const trade of input.trades) tradesCsv += `${columns.map((c) => String(trade[c])).join(",")}\n`;
  return {
    runName: input.runName,
    status: "FINISHED",
    metrics,
    params,
    tags,
    artifacts: new Map([["equity_curve.csv", csvBytes(equityCsv)], ["trades.csv", csvBytes(tradesCsv)]]),
    // 50 points is under the 500-point budget, so every bar is kept: step = bar index, timestamp = bar time in ms.
    equity: input.equityCurve.map((row, k) => ({ step: k, timestamp: Number(row.timestamp_ns / 1_000_000n), value: row.equity })),
  };
}

function expectedCell(g: number, c: number): Expected {
  const cell = cellInput(g, c);
  const metrics = new Map<string, number>();
  const tags = new Map<string, string>([["mlflow.runName", cellName(cell)], ["flox.cell_index", String(c)]]);
  splitStats(cell.stats, metrics, tags);
  return {
    runName: cellName(cell),
    status: "FINISHED",
    metrics,
    params: new Map(Object.entries(cell.params).map(([k, v]) => [k, String(v)])),
    tags,
    artifacts: new Map(),
    equity: [],
  };
}

function bestCell(g: number, cells: number): number {
  let best = 0;
  for (let c = 1; c < cells; c++) if (cellInput(g, c).stats.sharpe_ratio! > cellInput(g, best).stats.sharpe_ratio!) best = c;
  return best;
}

/** The parent's summary, as the README's logGrid table lists it (best_run_id is checked apart: it names a child). */
function expectedParent(g: number, cells: number): Expected {
  const best = cellInput(g, bestCell(g, cells));
  const metrics = new Map<string, number>();
  const tags = new Map<string, string>([["mlflow.runName", gridName(g)], ["flox.sweep", "grid"]]);
  for (const [key, value] of Object.entries(best.stats)) metrics.set(`best.${key}`, value);
  return {
    runName: gridName(g),
    status: "FINISHED",
    metrics,
    params: new Map([
      ["data", "synthetic"],
      ["grid", String(g)],
      ["sweep.cells", String(cells)],
      ["sweep.metric", "sharpe_ratio"],
      ["sweep.direction", "max"],
      ["best.fast", String(best.params.fast)],
      ["best.slow", String(best.params.slow)],
    ]),
    tags,
    artifacts: new Map(),
    equity: [],
  };
}

// ---------------------------------------------------------------------------
// The server child: the in-memory MLflow server, behind random faults on one
// port and clean on another.

const FAULT_KINDS = ["429", "503", "502_after_work", "reset_before_work", "reset_after_work", "slow", "late_commit"] as const;
type FaultKind = (typeof FAULT_KINDS)[number];

/** mulberry32: a small seeded PRNG, so a soak can be repeated with the same fault sequence (given the same arrival order). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A printable endpoint: `POST runs/create`, `PUT mlflow-artifacts/artifacts/*`. */
function endpointOf(method: string, path: string): string {
  if (path.startsWith("/api/2.0/mlflow-artifacts/artifacts/")) return `${method} mlflow-artifacts/artifacts/*`;
  return `${method} ${path.replace(/^\/(?:ajax-)?api\/2\.0\/(?:mlflow\/)?/, "")}`;
}

interface FaultFigures {
  requests: number;
  faults_injected: number;
  requests_by_endpoint: Record<string, number>;
  faults_by_kind: Record<string, number>;
  faults_by_kind_and_endpoint: Record<string, number>;
}

/**
 * One request a create token was seen in: a `runs/create` carrying it, or a
 * `runs/search` filtering on it. `ms` counts from the token's first request.
 */
interface TraceEvent {
  ms: number;
  request: "create" | "search";
  fault: FaultKind | "none";
  /** The run created, the number of runs a search found, the status answered, or "not carried out". */
  outcome: string;
}

/** The create token a `runs/create` body carries, or a token `runs/search` filters on. */
async function tokenOf(request: Request, endpoint: string): Promise<{ token: string; request: TraceEvent["request"] } | undefined> {
  if (endpoint !== "POST runs/create" && endpoint !== "POST runs/search") return undefined;
  try {
    const body = (await request.clone().json()) as { tags?: KeyValue[]; filter?: string };
    if (endpoint === "POST runs/create") {
      const token = body.tags?.find((t) => t.key === "flox.create_token")?.value;
      return token === undefined ? undefined : { token, request: "create" };
    }
    const token = /flox\.create_token`? = '([^']+)'/.exec(body.filter ?? "")?.[1];
    return token === undefined ? undefined : { token, request: "search" };
  } catch {
    return undefined;
  }
}

async function outcomeOf(response: Response, request: TraceEvent["request"]): Promise<string> {
  if (!response.ok) return `answered ${response.status}`;
  try {
    const body = (await response.clone().json()) as { run?: { info: { run_id: string } }; runs?: unknown[] };
    return request === "create" ? `created ${body.run?.info.run_id}` : `found ${body.runs?.length ?? 0}`;
  } catch {
    return "unreadable answer";
  }
}

/**
 * Wraps `upstream` in random faults with the semantics of
 * test/support/fault_proxy.ts (which injects chosen faults one at a time),
 * and traces every request that carries a create token, so a duplicate can
 * be told apart by the faults that made it.
 */
function randomFaults(
  upstream: FetchHandler,
  rate: number,
  seed: number,
  tools: { DropConnection: new () => Error; errorBody: (status: number) => string },
): { handler: FetchHandler; figures: FaultFigures; traces: Map<string, { start: number; events: TraceEvent[] }> } {
  const random = prng(seed);
  const figures: FaultFigures = {
    requests: 0,
    faults_injected: 0,
    requests_by_endpoint: {},
    faults_by_kind: {},
    faults_by_kind_and_endpoint: {},
  };
  const traces = new Map<string, { start: number; events: TraceEvent[] }>();
  const fail = (status: number, headers: Record<string, string> = {}): Response =>
    new Response(tools.errorBody(status), { status, headers: { "content-type": "application/json", ...headers } });
  // The body is read before a hold, so the work can still be done after the client has gone.
  const buffered = async (request: Request): Promise<Request> => {
    const body = request.method === "GET" || request.method === "HEAD" ? undefined : new Uint8Array(await request.arrayBuffer());
    return new Request(request.url, { method: request.method, headers: request.headers, ...(body ? { body } : {}) });
  };
  const handler: FetchHandler = async (request) => {
    const endpoint = endpointOf(request.method, new URL(request.url).pathname);
    figures.requests++;
    increment(figures.requests_by_endpoint, endpoint);
    // Three draws per request whatever happens, so the sequence depends only on the arrival order.
    const [hit, pick, amount] = [random(), random(), random()];
    const kind: FaultKind | "none" = hit < rate ? FAULT_KINDS[Math.floor(pick * FAULT_KINDS.length)]! : "none";
    const traced = await tokenOf(request, endpoint);
    let trace: { start: number; events: TraceEvent[] } | undefined;
    if (traced !== undefined) {
      trace = traces.get(traced.token) ?? { start: Date.now(), events: [] };
      traces.set(traced.token, trace);
    }
    const note = (outcome: string): void => {
      if (traced !== undefined && trace !== undefined) {
        trace.events.push({ ms: Date.now() - trace.start, request: traced.request, fault: kind, outcome });
      }
    };
    const work = async (req: Request): Promise<Response> => {
      const response = await upstream(req);
      if (traced !== undefined) note(await outcomeOf(response, traced.request));
      return response;
    };
    if (kind === "none") return work(request);
    figures.faults_injected++;
    increment(figures.faults_by_kind, kind);
    increment(figures.faults_by_kind_and_endpoint, `${kind} ${endpoint}`);
    switch (kind) {
      case "429":
        await request.arrayBuffer();
        note("not carried out");
        return fail(429, { "Retry-After": "0" });
      case "503":
        await request.arrayBuffer();
        note("not carried out");
        return fail(503);
      case "502_after_work":
        // The answer is thrown away, but its body must still be released.
        await (await work(request)).body?.cancel();
        return fail(502);
      case "reset_before_work":
        note("not carried out");
        throw new tools.DropConnection();
      case "reset_after_work":
        await (await work(request)).body?.cancel();
        throw new tools.DropConnection();
      case "slow": {
        const held = await buffered(request);
        // A slow server answers late; a client that gave up no longer waits, but the work is done.
        await sleepUnlessAborted(100 + amount * 300, request.signal);
        return work(held);
      }
      case "late_commit": {
        const held = await buffered(request);
        await new Promise((resolve) => setTimeout(resolve, 300 + amount * (MAX_HOLD_MS - 300)));
        return work(held);
      }
    }
  };
  return { handler, figures, traces };
}

/** Child: serve both ports, print their URLs, print the fault figures and exit when stdin closes. */
async function serverChild(rate: number, seed: number): Promise<void> {
  const { createMlflowServer } = await import("../test/support/mlflow_server.ts");
  const { DropConnection, serve } = await import("../test/support/serve.ts");
  const { ERROR_CODE_FOR_STATUS } = await import("../test/support/mlflow_errors.ts");
  const server = createMlflowServer();
  const faults = randomFaults(server.handler, rate, seed, {
    DropConnection,
    errorBody: (status) => JSON.stringify({ error_code: ERROR_CODE_FOR_STATUS[status] ?? "INTERNAL_ERROR", message: `Injected soak fault: HTTP ${status}` }),
  });
  const faulty = await serve(faults.handler);
  // The clean port also answers `/soak/trace?token=…` with that token's trace, for the read-back.
  const clean = await serve(async (request) => {
    const url = new URL(request.url);
    if (url.pathname !== "/soak/trace") return server.handler(request);
    const trace = faults.traces.get(url.searchParams.get("token") ?? "");
    return new Response(JSON.stringify(trace?.events ?? []), { headers: { "content-type": "application/json" } });
  });
  console.log(JSON.stringify({ url: faulty.url, clean_url: clean.url }));
  process.stdin.on("data", () => {});
  process.stdin.on("end", () => {
    // Held requests may still be pending; the figures are complete once the read-back has run, so exit now.
    console.log(JSON.stringify({ ...faults.figures, peak_rss_mb: Math.round(process.memoryUsage().rss / 2 ** 20) }));
    process.exit(0);
  });
}

// ---------------------------------------------------------------------------
// The client child: logs the workload through the library.

interface CallRecord {
  resolved: number;
  rejected: number;
  hung: number;
  rejected_by_code: Record<string, number>;
  rejected_by_code_and_endpoint: Record<string, number>;
  rejected_examples: string[];
  /** Slowest settled call, ms. */
  max_call_ms: number;
}

interface ClientReport {
  runtime: string;
  runs: CallRecord & { wall_ms: number; returned_ids: Record<string, string> };
  grids: CallRecord & {
    wall_ms: number;
    results: Array<{ name: string; parent_run_id?: string; child_run_ids?: Array<string | null>; failed_cells: number }>;
    failed_cells_by_code: Record<string, number>;
    failed_cell_examples: string[];
  };
  warnings: number;
  warning_examples: string[];
  unhandled_rejections: number;
  unhandled_examples: string[];
}

function runtimeName(): string {
  const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
  if (g.Deno) return `deno ${g.Deno.version.deno}`;
  if (g.Bun) return `bun ${g.Bun.version}`;
  return `node ${process.versions.node}`;
}

const newCallRecord = (): CallRecord => ({
  resolved: 0,
  rejected: 0,
  hung: 0,
  rejected_by_code: {},
  rejected_by_code_and_endpoint: {},
  rejected_examples: [],
  max_call_ms: 0,
});

/** An error's code and endpoint, as MlflowError carries them. */
function codeOf(err: unknown): { code: string; endpoint: string } {
  const e = err as { errorCode?: unknown; endpoint?: unknown; name?: unknown };
  return {
    code: typeof e?.errorCode === "string" ? e.errorCode : typeof e?.name === "string" ? e.name : "UNKNOWN",
    endpoint: typeof e?.endpoint === "string" ? e.endpoint : "-",
  };
}

/**
 * Awaits one library call, recording how it ended. A call that does not
 * settle within {@link HUNG_AFTER_MS} is counted as hung and left behind, so
 * one hang cannot stop the soak from reporting.
 */
async function recordCall<T>(record: CallRecord, label: string, call: () => Promise<T>): Promise<T | undefined> {
  const start = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise<"hung">((resolve) => (timer = setTimeout(() => resolve("hung"), HUNG_AFTER_MS)));
  const outcome = await Promise.race([call().then((value) => ({ value }), (error: unknown) => ({ error })), hung]);
  clearTimeout(timer);
  const ms = performance.now() - start;
  if (outcome === "hung") {
    record.hung++;
    if (record.rejected_examples.length < 20) record.rejected_examples.push(`${label}: still pending after ${HUNG_AFTER_MS} ms`);
    return undefined;
  }
  record.max_call_ms = Math.max(record.max_call_ms, Math.round(ms));
  if ("value" in outcome) {
    record.resolved++;
    return outcome.value;
  }
  record.rejected++;
  const { code, endpoint } = codeOf(outcome.error);
  increment(record.rejected_by_code, code);
  increment(record.rejected_by_code_and_endpoint, `${code} at ${endpoint}`);
  if (record.rejected_examples.length < 20) record.rejected_examples.push(`${label} after ${Math.round(ms)} ms: ${errorText(outcome.error)}`);
  return undefined;
}

async function pool(count: number, concurrency: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await work(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

/** Child: log the runs and the grids, print what each call did. */
async function clientChild(trackingUri: string, runtime: string, config: SoakConfig): Promise<void> {
  const report: ClientReport = {
    runtime: runtimeName(),
    runs: { ...newCallRecord(), wall_ms: 0, returned_ids: {} },
    grids: { ...newCallRecord(), wall_ms: 0, results: [], failed_cells_by_code: {}, failed_cell_examples: [] },
    warnings: 0,
    warning_examples: [],
    unhandled_rejections: 0,
    unhandled_examples: [],
  };
  // The library's warnings (a run that could not be marked FAILED) are figures, not noise on stderr.
  console.warn = (...args: unknown[]) => {
    report.warnings++;
    if (report.warning_examples.length < 10) report.warning_examples.push(args.map(String).join(" ").slice(0, 500));
  };
  // An unhandled rejection is a library bug worth counting, not a reason to lose the figures.
  const unhandled = (reason: unknown): void => {
    report.unhandled_rejections++;
    if (report.unhandled_examples.length < 10) report.unhandled_examples.push(errorText(reason).slice(0, 500));
  };
  if ("Deno" in globalThis) {
    globalThis.addEventListener("unhandledrejection", (event) => {
      event.preventDefault();
      unhandled(event.reason);
    });
  } else {
    process.on("unhandledRejection", unhandled);
  }

  const { logBacktest, logGrid } = await import("../mod.ts");
  const connection = { trackingUri, env: {}, retry: RETRY };

  let start = performance.now();
  let settled = 0;
  await pool(config.runs, config.concurrency, async (i) => {
    const input = runInput(i);
    const runId = await recordCall(report.runs, input.runName, () =>
      logBacktest({ ...connection, experiment: `soak-runs-${runtime}`, ...input, chart: false }));
    if (runId !== undefined) report.runs.returned_ids[input.runName] = runId;
    if (++settled % 100 === 0) log(`${runtime}: ${settled}/${config.runs} runs`);
  });
  report.runs.wall_ms = Math.round(performance.now() - start);

  start = performance.now();
  for (let g = 0; g < config.grids; g++) {
    const results = Array.from({ length: config.cells }, (_, c) => cellInput(g, c));
    const result = await recordCall(report.grids, gridName(g), () =>
      logGrid({ ...connection, experiment: `soak-grids-${runtime}`, runName: gridName(g), params: { data: "synthetic", grid: g }, results }));
    report.grids.results.push({
      name: gridName(g),
      ...(result ? { parent_run_id: result.parentRunId, child_run_ids: result.childRunIds.map((id) => id ?? null) } : {}),
      failed_cells: result?.failed.length ?? 0,
    });
    for (const failure of result?.failed ?? []) {
      const { code, endpoint } = codeOf(failure.error);
      increment(report.grids.failed_cells_by_code, `${code} at ${endpoint}`);
      if (report.grids.failed_cell_examples.length < 20) {
        report.grids.failed_cell_examples.push(`${gridName(g)} cell ${failure.index}: ${errorText(failure.error)}`);
      }
    }
    log(`${runtime}: grid ${g + 1}/${config.grids}${result ? `, ${result.failed.length} cells failed` : ", rejected"}`);
  }
  report.grids.wall_ms = Math.round(performance.now() - start);
  console.log(JSON.stringify(report));
}

// ---------------------------------------------------------------------------
// Reading back, with plain fetch on the clean port.

interface KeyValue {
  key: string;
  value: string;
}

interface RestRun {
  info: { run_id: string; run_name?: string; status: string; end_time?: number; lifecycle_stage: string };
  data: { metrics?: { key: string; value: number | string; timestamp: number; step: number }[]; params?: KeyValue[]; tags?: KeyValue[] };
}

/** A JSON call to the clean server, retried a few times in case a connection fails (it injects no faults). */
async function api<T>(base: string, method: "GET" | "POST", path: string, body: Record<string, unknown>): Promise<T> {
  const query = method === "GET" ? `?${new URLSearchParams(Object.entries(body).map(([k, v]) => [k, String(v)]))}` : "";
  for (let attempt = 1; ; attempt++) {
    try {
      const response = await fetch(`${base}/api/2.0/mlflow/${path}${query}`, {
        method,
        ...(method === "POST" ? { headers: { "content-type": "application/json" }, body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(60_000),
      });
      const text = await response.text();
      if (response.status === 404 && /RESOURCE_DOES_NOT_EXIST/.test(text)) throw new NotFound(text);
      if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${text.slice(0, 300)}`);
      return JSON.parse(text) as T;
    } catch (err) {
      if (err instanceof NotFound || attempt >= 3) throw err;
    }
  }
}

class NotFound extends Error {}

const tagsOf = (run: RestRun): Map<string, string> => new Map((run.data.tags ?? []).map((t) => [t.key, t.value]));

async function experimentId(base: string, name: string): Promise<string | undefined> {
  try {
    return (await api<{ experiment: { experiment_id: string } }>(base, "GET", "experiments/get-by-name", { experiment_name: name })).experiment.experiment_id;
  } catch (err) {
    if (err instanceof NotFound) return undefined;
    throw err;
  }
}

async function searchAll(base: string, experiment: string, view: "ACTIVE_ONLY" | "DELETED_ONLY"): Promise<RestRun[]> {
  const runs: RestRun[] = [];
  let pageToken: string | undefined;
  do {
    const page = await api<{ runs?: RestRun[]; next_page_token?: string }>(base, "POST", "runs/search", {
      experiment_ids: [experiment],
      run_view_type: view,
      max_results: 1000,
      ...(pageToken ? { page_token: pageToken } : {}),
    });
    runs.push(...(page.runs ?? []));
    pageToken = page.runs?.length ? page.next_page_token : undefined;
  } while (pageToken);
  return runs;
}

/** Every file of a run with its listed size (an empty file is listed without one). */
async function artifactSizes(base: string, runId: string, path = ""): Promise<Map<string, number>> {
  const answer = await api<{ files?: { path: string; is_dir?: boolean; file_size?: number }[] }>(
    base, "GET", "artifacts/list", path ? { run_id: runId, path } : { run_id: runId });
  const sizes = new Map<string, number>();
  for (const file of answer.files ?? []) {
    if (file.is_dir) for (const [p, s] of await artifactSizes(base, runId, file.path)) sizes.set(p, s);
    else sizes.set(file.path, file.file_size ?? 0);
  }
  return sizes;
}

async function metricHistory(base: string, runId: string, key: string): Promise<MetricPoint[]> {
  const points: MetricPoint[] = [];
  let pageToken: string | undefined;
  do {
    // max_results must be given: without it the server answers nothing (transcript 37).
    const page = await api<{ metrics?: { value: number; timestamp: number; step: number }[]; next_page_token?: string }>(
      base, "GET", "metrics/get-history", { run_id: runId, metric_key: key, max_results: 1000, ...(pageToken ? { page_token: pageToken } : {}) });
    points.push(...(page.metrics ?? []).map((m) => ({ step: Number(m.step), timestamp: Number(m.timestamp), value: Number(m.value) })));
    pageToken = page.metrics?.length ? page.next_page_token : undefined;
  } while (pageToken);
  return points;
}

/** What one run lacks against what it should hold. */
interface Loss {
  metrics: number;
  params: number;
  tags: number;
  artifacts: number;
  equity_points: number;
  wrong_values: number;
  duplicated_metric_points: number;
  unexpected_metric_points: number;
  unexpected_artifacts: number;
}

const noLoss = (): Loss => ({
  metrics: 0, params: 0, tags: 0, artifacts: 0, equity_points: 0,
  wrong_values: 0, duplicated_metric_points: 0, unexpected_metric_points: 0, unexpected_artifacts: 0,
});

function addLoss(into: Loss, from: Loss): void {
  for (const key of Object.keys(into) as (keyof Loss)[]) into[key] += from[key];
}

const lossTotal = (l: Loss): number => l.metrics + l.params + l.tags + l.artifacts + l.equity_points;

/** Compares a run with what it should hold; `problems` gets a line per difference (capped by the caller). */
async function checkRun(base: string, run: RestRun, expected: Expected, problems: string[]): Promise<{ loss: Loss; complete: boolean }> {
  const loss = noLoss();
  const id = run.info.run_id;
  const note = (what: string): void => void problems.push(`${expected.runName} (${id}): ${what}`);
  let statusOk = true;
  if (run.info.status !== expected.status || !run.info.end_time) {
    statusOk = false;
    note(`status ${run.info.status}, end_time ${run.info.end_time ?? "unset"}`);
  }
  const metrics = new Map((run.data.metrics ?? []).map((m) => [m.key, Number(m.value)]));
  for (const [key, value] of expected.metrics) {
    const held = metrics.get(key);
    if (held === undefined) (loss.metrics++, note(`metric ${key} missing`));
    else if (held !== value) (loss.wrong_values++, note(`metric ${key} = ${held}, expected ${value}`));
  }
  const params = new Map((run.data.params ?? []).map((p) => [p.key, p.value]));
  for (const [key, value] of expected.params) {
    const held = params.get(key);
    if (held === undefined) (loss.params++, note(`param ${key} missing`));
    else if (held !== value) (loss.wrong_values++, note(`param ${key} = ${held}, expected ${value}`));
  }
  const tags = tagsOf(run);
  for (const [key, value] of expected.tags) {
    const held = tags.get(key);
    if (held === undefined) (loss.tags++, note(`tag ${key} missing`));
    else if (held !== value) (loss.wrong_values++, note(`tag ${key} = ${held}, expected ${value}`));
  }
  if (expected.artifacts.size > 0) {
    const sizes = await artifactSizes(base, id);
    for (const [path, bytes] of expected.artifacts) {
      const held = sizes.get(path);
      if (held !== bytes) (loss.artifacts++, note(`artifact ${path}: ${held === undefined ? "missing" : `${held} bytes`}, expected ${bytes}`));
    }
    for (const path of sizes.keys()) if (!expected.artifacts.has(path)) (loss.unexpected_artifacts++, note(`unexpected artifact ${path}`));
  }
  if (expected.equity.length > 0) {
    const history = await metricHistory(base, id, "equity");
    const key = (p: MetricPoint): string => `${p.step}|${p.timestamp}|${p.value}`;
    const wanted = new Set(expected.equity.map(key));
    const seen = new Map<string, number>();
    for (const point of history) seen.set(key(point), (seen.get(key(point)) ?? 0) + 1);
    for (const [k, count] of seen) {
      if (count > 1) loss.duplicated_metric_points += count - 1;
      if (!wanted.has(k)) loss.unexpected_metric_points += count;
    }
    for (const k of wanted) if (!seen.has(k)) loss.equity_points++;
    if (loss.equity_points || loss.duplicated_metric_points || loss.unexpected_metric_points) {
      note(`equity history: ${history.length} points held, ${loss.equity_points} missing, ` +
        `${loss.duplicated_metric_points} duplicated, ${loss.unexpected_metric_points} unexpected`);
    }
  }
  const complete = statusOk && lossTotal(loss) === 0 && loss.wrong_values === 0 && loss.duplicated_metric_points === 0 &&
    loss.unexpected_metric_points === 0;
  return { loss, complete };
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  await pool(items.length, limit, async (i) => void (out[i] = await fn(items[i]!)));
  return out;
}

const PROBLEMS_SHOWN = 25;

/** Deleted runs: twins the library removed (tagged flox.duplicate_of, naming an active run of the same name) and anything else. */
function deletedFigures(deleted: RestRun[], active: RestRun[], problems: string[]): { deleted_twins: number; deleted_twins_misattributed: number; deleted_other: number } {
  const activeById = new Map(active.map((r) => [r.info.run_id, r]));
  let twins = 0;
  let misattributed = 0;
  let other = 0;
  for (const run of deleted) {
    const of = tagsOf(run).get("flox.duplicate_of");
    if (of === undefined) {
      other++;
      problems.push(`deleted run ${run.info.run_id} (${run.info.run_name}) has no flox.duplicate_of tag`);
      continue;
    }
    twins++;
    const kept = activeById.get(of);
    if (kept === undefined || kept.info.run_name !== run.info.run_name || tagsOf(kept).get("flox.create_token") !== tagsOf(run).get("flox.create_token")) {
      misattributed++;
      problems.push(`deleted twin ${run.info.run_id} (${run.info.run_name}) names ${of}, which is not an active run of the same name and token`);
    }
  }
  return { deleted_twins: twins, deleted_twins_misattributed: misattributed, deleted_other: other };
}

/** The server's trace of one create token: each create and search that carried it, the fault it met and what it did. */
async function traceOf(base: string, token: string | undefined): Promise<string> {
  if (token === undefined) return "no create token";
  try {
    const response = await fetch(`${base}/soak/trace?token=${encodeURIComponent(token)}`);
    const events = (await response.json()) as TraceEvent[];
    return events.map((e) => `+${e.ms}ms ${e.request}${e.fault === "none" ? "" : ` [${e.fault}]`}: ${e.outcome}`).join("; ");
  } catch (err) {
    return `trace unavailable: ${errorText(err)}`;
  }
}

/** For each group of active runs sharing a name, how their create tokens' requests went. */
async function duplicateTraces(base: string, groups: RestRun[][]): Promise<string[]> {
  const out: string[] = [];
  for (const runs of groups.slice(0, 10)) {
    const tokens = [...new Set(runs.map((r) => tagsOf(r).get("flox.create_token")))];
    const ids = runs.map((r) => `${r.info.run_id} ${r.info.status}`).join(", ");
    for (const token of tokens) out.push(`${runs[0]!.info.run_name} [${ids}] token ${token}: ${await traceOf(base, token)}`);
  }
  return out;
}

/** Active runs sharing a create token: the library's own duplicate marker. */
function tokenDuplicates(active: RestRun[]): number {
  const byToken = new Map<string, number>();
  for (const run of active) {
    const token = tagsOf(run).get("flox.create_token");
    if (token !== undefined) byToken.set(token, (byToken.get(token) ?? 0) + 1);
  }
  return [...byToken.values()].reduce((sum, n) => sum + n - 1, 0);
}

async function readBackRuns(base: string, runtime: string, count: number, returnedIds: Record<string, string>): Promise<Record<string, unknown>> {
  const problems: string[] = [];
  const experiment = await experimentId(base, `soak-runs-${runtime}`);
  if (experiment === undefined) return { expected: count, created: 0, complete: 0, error: "the experiment does not exist" };
  const active = await searchAll(base, experiment, "ACTIVE_ONLY");
  const deleted = await searchAll(base, experiment, "DELETED_ONLY");
  const byName = new Map<string, RestRun[]>();
  for (const run of active) {
    const name = run.info.run_name ?? "";
    byName.set(name, [...(byName.get(name) ?? []), run]);
  }
  const expectedNames = new Set(Array.from({ length: count }, (_, i) => runInput(i).runName));
  const unexpected = active.filter((r) => !expectedNames.has(r.info.run_name ?? ""));
  for (const run of unexpected.slice(0, 5)) problems.push(`unexpected active run ${run.info.run_id} named ${run.info.run_name}`);
  const status: Record<string, number> = {};
  for (const run of active) increment(status, run.info.status);

  let duplicates = 0;
  let missing = 0;
  let returnedNotActive = 0;
  const duplicateGroups: RestRun[][] = [];
  const toCheck: { run: RestRun; i: number }[] = [];
  for (let i = 0; i < count; i++) {
    const name = runInput(i).runName;
    const runs = byName.get(name) ?? [];
    if (runs.length === 0) {
      missing++;
      problems.push(`${name}: no active run${returnedIds[name] ? ` (the call returned ${returnedIds[name]})` : ""}`);
      continue;
    }
    if (runs.length > 1) {
      duplicates += runs.length - 1;
      duplicateGroups.push(runs);
      problems.push(`${name}: ${runs.length} active runs: ${runs.map((r) => `${r.info.run_id} ${r.info.status}`).join(", ")}`);
    }
    const returned = returnedIds[name];
    if (returned !== undefined && !runs.some((r) => r.info.run_id === returned)) {
      returnedNotActive++;
      problems.push(`${name}: the call returned ${returned}, which is not an active run of that name`);
    }
    // With duplicates, the run the call returned is the one that should be whole.
    toCheck.push({ run: runs.find((r) => r.info.run_id === returned) ?? runs[0]!, i });
  }
  const checked = await mapLimit(toCheck, 16, ({ run, i }) => checkRun(base, run, expectedRun(i), problems));
  const lost = noLoss();
  for (const c of checked) addLoss(lost, c.loss);
  return {
    expected: count,
    created: active.length,
    complete: checked.filter((c) => c.complete).length,
    duplicates,
    duplicates_by_create_token: tokenDuplicates(active),
    missing,
    unexpected_active_runs: unexpected.length,
    lost: { metrics: lost.metrics, params: lost.params, tags: lost.tags, artifacts: lost.artifacts, equity_points: lost.equity_points },
    wrong_values: lost.wrong_values,
    duplicated_metric_points: lost.duplicated_metric_points,
    unexpected_metric_points: lost.unexpected_metric_points,
    unexpected_artifacts: lost.unexpected_artifacts,
    status_of_active_runs: status,
    ...deletedFigures(deleted, active, problems),
    returned_id_not_active: returnedNotActive,
    duplicate_traces: await duplicateTraces(base, duplicateGroups),
    problems: problems.slice(0, PROBLEMS_SHOWN),
    problems_total: problems.length,
  };
}

async function readBackGrids(
  base: string,
  runtime: string,
  grids: number,
  cells: number,
  returned: ClientReport["grids"]["results"],
): Promise<Record<string, unknown>> {
  const problems: string[] = [];
  const experiment = await experimentId(base, `soak-grids-${runtime}`);
  if (experiment === undefined) return { expected_parents: grids, parents_created: 0, error: "the experiment does not exist" };
  const active = await searchAll(base, experiment, "ACTIVE_ONLY");
  const deleted = await searchAll(base, experiment, "DELETED_ONLY");
  const parents = active.filter((r) => tagsOf(r).get("flox.sweep") === "grid" && !tagsOf(r).has("mlflow.parentRunId"));
  const parentIds = new Set(parents.map((r) => r.info.run_id));
  const children = active.filter((r) => tagsOf(r).has("mlflow.parentRunId"));
  const orphans = children.filter((r) => !parentIds.has(tagsOf(r).get("mlflow.parentRunId")!));
  for (const run of orphans.slice(0, 5)) problems.push(`child ${run.info.run_id} (${run.info.run_name}) has no active parent`);
  const other = active.length - parents.length - children.length;

  let parentDuplicates = 0;
  let parentsComplete = 0;
  let childDuplicates = 0;
  let childrenMissing = 0;
  let extraChildren = 0;
  const duplicateGroups: RestRun[][] = [];
  const lost = noLoss();
  const childChecks: { run: RestRun; g: number; c: number }[] = [];
  const parentChecks: { run: RestRun; g: number; bestId: string | undefined }[] = [];
  for (let g = 0; g < grids; g++) {
    const named = parents.filter((r) => r.info.run_name === gridName(g));
    if (named.length === 0) {
      problems.push(`${gridName(g)}: no active parent`);
      childrenMissing += cells;
      continue;
    }
    if (named.length > 1) {
      parentDuplicates += named.length - 1;
      duplicateGroups.push(named);
      problems.push(`${gridName(g)}: ${named.length} active parents: ${named.map((r) => r.info.run_id).join(", ")}`);
    }
    const parent = named.find((r) => r.info.run_id === returned[g]?.parent_run_id) ?? named[0]!;
    const mine = children.filter((r) => tagsOf(r).get("mlflow.parentRunId") === parent.info.run_id);
    const byCell = new Map<number, RestRun[]>();
    for (const run of mine) {
      const c = Number(tagsOf(run).get("flox.cell_index"));
      if (!Number.isInteger(c) || c < 0 || c >= cells) {
        extraChildren++;
        problems.push(`${gridName(g)}: child ${run.info.run_id} has cell index ${tagsOf(run).get("flox.cell_index")}`);
        continue;
      }
      byCell.set(c, [...(byCell.get(c) ?? []), run]);
    }
    for (let c = 0; c < cells; c++) {
      const runs = byCell.get(c) ?? [];
      if (runs.length === 0) {
        childrenMissing++;
        problems.push(`${gridName(g)} cell ${c}: no active child`);
        continue;
      }
      if (runs.length > 1) {
        childDuplicates += runs.length - 1;
        duplicateGroups.push(runs);
        problems.push(`${gridName(g)} cell ${c}: ${runs.length} active children: ${runs.map((r) => `${r.info.run_id} ${r.info.status}`).join(", ")}`);
      }
      const returnedId = returned[g]?.child_run_ids?.[c] ?? undefined;
      childChecks.push({ run: runs.find((r) => r.info.run_id === returnedId) ?? runs[0]!, g, c });
    }
    const best = byCell.get(bestCell(g, cells));
    parentChecks.push({ run: parent, g, bestId: best?.length === 1 ? best[0]!.info.run_id : undefined });
  }
  const checkedChildren = await mapLimit(childChecks, 16, ({ run, g, c }) => checkRun(base, run, expectedCell(g, c), problems));
  for (const c of checkedChildren) addLoss(lost, c.loss);
  for (const { run, g, bestId } of parentChecks) {
    const { loss, complete } = await checkRun(base, run, expectedParent(g, cells), problems);
    addLoss(lost, loss);
    const tags = tagsOf(run);
    const bestOk = bestId !== undefined && tags.get("best_run_id") === bestId;
    if (!bestOk) problems.push(`${gridName(g)}: best_run_id ${tags.get("best_run_id")}, expected ${bestId ?? "(no single best child)"}`);
    if (tags.has("failed_cells")) problems.push(`${gridName(g)}: failed_cells = ${tags.get("failed_cells")}`);
    if (complete && bestOk && !tags.has("failed_cells")) parentsComplete++;
  }
  return {
    expected_parents: grids,
    expected_children: grids * cells,
    parents_created: parents.length,
    parents_complete: parentsComplete,
    parent_duplicates: parentDuplicates,
    children_created: children.length,
    children_complete: checkedChildren.filter((c) => c.complete).length,
    child_duplicates: childDuplicates,
    duplicates_by_create_token: tokenDuplicates(active),
    children_missing: childrenMissing,
    extra_children: extraChildren,
    orphan_children: orphans.length,
    other_active_runs: other,
    lost: { metrics: lost.metrics, params: lost.params, tags: lost.tags, artifacts: lost.artifacts },
    wrong_values: lost.wrong_values,
    ...deletedFigures(deleted, active, problems),
    duplicate_traces: await duplicateTraces(base, duplicateGroups),
    problems: problems.slice(0, PROBLEMS_SHOWN),
    problems_total: problems.length,
  };
}

// ---------------------------------------------------------------------------
// The orchestrator

/** Starts the server child; resolves once it prints its two URLs. */
async function startServer(rate: number, seed: number): Promise<{ url: string; cleanUrl: string; stop(): Promise<Record<string, unknown>> }> {
  const child = spawn(process.execPath, ["--import", "tsx", SCRIPT, "server", String(rate), String(seed)], {
    cwd: REPO,
    stdio: ["pipe", "pipe", "inherit"],
  });
  let out = "";
  const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
  const urls = await new Promise<{ url: string; clean_url: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the server child did not start within 60 s")), 60_000);
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk;
      const first = lastJsonLine(out.split("\n")[0] ?? "");
      if (first && typeof first.url === "string" && typeof first.clean_url === "string") {
        clearTimeout(timer);
        resolve(first as { url: string; clean_url: string });
      }
    });
    child.on("close", (code) => reject(new Error(`the server child exited with ${code} before serving`)));
  });
  return {
    url: urls.url,
    cleanUrl: urls.clean_url,
    async stop() {
      child.stdin.end();
      const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
      await exited;
      clearTimeout(timer);
      const lines = out.trim().split("\n");
      return (lines.length > 1 ? lastJsonLine(lines.at(-1)!) : undefined) ?? { error: "the server child ended without figures" };
    },
  };
}

const sum = (counts: Record<string, number> | undefined): number => Object.values(counts ?? {}).reduce((a, b) => a + b, 0);

async function soakRuntime(runtime: string, config: SoakConfig, rate: number, seed: number, timeoutMs: number): Promise<Record<string, unknown>> {
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer(rate, seed);
  } catch (err) {
    return { error: errorText(err) };
  }
  const out: Record<string, unknown> = {};
  try {
    log(`${runtime}: logging ${config.runs} runs and ${config.grids} x ${config.cells}-cell grids`);
    const child = await runChild([...RUNTIMES[runtime]!, SCRIPT, "client", server.url, runtime, JSON.stringify(config)], timeoutMs, REPO);
    if (child.error) out.error = child.error;
    const client = child.json as ClientReport | undefined;
    // Let requests the fault layer still holds land, so the read-back sees the final state.
    await new Promise((resolve) => setTimeout(resolve, MAX_HOLD_MS + 1200));
    log(`${runtime}: reading back`);
    const { returned_ids: returnedIds = {}, ...runCalls } = client?.runs ?? ({} as Partial<ClientReport["runs"]>);
    const { results: gridResults = [], ...gridCalls } = client?.grids ?? ({} as Partial<ClientReport["grids"]>);
    let runs: Record<string, unknown>;
    let grids: Record<string, unknown>;
    try {
      runs = await readBackRuns(server.cleanUrl, runtime, config.runs, returnedIds);
    } catch (err) {
      runs = { read_back_error: errorText(err) };
    }
    try {
      grids = await readBackGrids(server.cleanUrl, runtime, config.grids, config.cells, gridResults);
    } catch (err) {
      grids = { read_back_error: errorText(err) };
    }
    const lostRuns = runs.lost as Record<string, number> | undefined;
    const lostGrids = grids.lost as Record<string, number> | undefined;
    out.runtime = client?.runtime ?? runtime;
    out.headline = {
      runs: `${runs.created ?? "?"} / ${runs.complete ?? "?"} / ${runs.duplicates ?? "?"} / ${lostRuns ? sum(lostRuns) : "?"} / ${runs.duplicated_metric_points ?? "?"}`,
      grid_children: `${grids.children_created ?? "?"} / ${grids.children_complete ?? "?"} / ${grids.child_duplicates ?? "?"} / ${lostGrids ? sum(lostGrids) : "?"}`,
      grid_parents: `${grids.parents_created ?? "?"} / ${grids.parents_complete ?? "?"} / ${grids.parent_duplicates ?? "?"}`,
      meets_target: runs.created === config.runs && runs.complete === config.runs && runs.duplicates === 0 && sum(lostRuns) === 0 &&
        runs.duplicated_metric_points === 0 && grids.parents_complete === config.grids && grids.children_complete === config.grids * config.cells &&
        grids.children_created === config.grids * config.cells && grids.parents_created === config.grids && !out.error,
    };
    out.runs = { ...runs, calls: runCalls };
    out.grids = { ...grids, calls: gridCalls };
    out.client = client
      ? {
        warnings: client.warnings,
        warning_examples: client.warning_examples,
        unhandled_rejections: client.unhandled_rejections,
        unhandled_examples: client.unhandled_examples,
      }
      : undefined;
    out.client_process_wall_ms = child.wall_ms;
  } catch (err) {
    out.error = errorText(err);
  }
  out.server = await server.stop();
  return out;
}

async function orchestrate(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: "string", default: "1000" },
      grids: { type: "string", default: "5" },
      cells: { type: "string", default: "100" },
      runtimes: { type: "string", default: "node,deno,bun" },
      "fault-rate": { type: "string", default: "0.1" },
      seed: { type: "string", default: "1" },
      concurrency: { type: "string", default: "16" },
      "timeout-s": { type: "string", default: "1800" },
    },
  });
  const whole = (name: string, text: string, least: number): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < least) throw new Error(`--${name} takes a whole number of ${least} or more, not '${text}'`);
    return n;
  };
  const config: SoakConfig = {
    runs: whole("runs", values.runs, 0),
    grids: whole("grids", values.grids, 0),
    cells: whole("cells", values.cells, 1),
    concurrency: whole("concurrency", values.concurrency, 1),
  };
  const rate = Number(values["fault-rate"]);
  if (!(rate >= 0 && rate <= 1)) throw new Error(`--fault-rate takes a number from 0 to 1, not '${values["fault-rate"]}'`);
  const seed = whole("seed", values.seed, 0);
  const timeoutMs = whole("timeout-s", values["timeout-s"], 1) * 1000;
  const runtimes = values.runtimes.split(",").map((s) => s.trim()).filter(Boolean);
  for (const r of runtimes) if (!(r in RUNTIMES)) throw new Error(`unknown runtime '${r}' (node, deno, bun)`);

  const digest = await codeDigest(REPO);
  const report: Record<string, unknown> = {
    workload: {
      ...config,
      per_run: "logBacktest: 10 stats (every 10th run one infinite, logged as a tag), 3 params, 2 tags, 50-point equity curve " +
        "(equity metric history of 50 points), 3-5 trades, chart: false (2 CSV artifacts)",
      per_cell: "logGrid cell: 2 params, 5 stats; grids one after another, logGrid's default concurrency (8)",
      fault_rate: rate,
      fault_kinds: FAULT_KINDS,
      seed,
      client_retry: RETRY,
      target: "runs created / complete / duplicates / lost (metrics+params+tags+artifacts+equity points) / duplicated metric points = " +
        `${config.runs} / ${config.runs} / 0 / 0 / 0, every grid parent and child complete`,
    },
    code_under_test: { git: gitState(REPO), digest },
  };
  for (const runtime of runtimes) {
    const figures = await soakRuntime(runtime, config, rate, seed, timeoutMs);
    log(`${runtime}: ${JSON.stringify(figures.headline ?? figures.error)}`);
    report[runtime] = figures;
  }
  const after = await codeDigest(REPO);
  if (after !== digest) (report.code_under_test as Record<string, unknown>).changed_during_run_to = after;
  console.log(JSON.stringify(report, null, 2));
}

const [mode, ...rest] = process.argv.slice(2);
if (mode === "server") await serverChild(Number(rest[0]), Number(rest[1]));
else if (mode === "client") {
  await clientChild(rest[0]!, rest[1]!, JSON.parse(rest[2]!) as SoakConfig);
  // Hung calls (if any) must not keep the process alive.
  process.exit(0);
} else await orchestrate();
