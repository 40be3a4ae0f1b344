/**
 * Artifact benchmark. Prints one JSON object with two sections:
 *
 * - `big_trades`: `logBacktest` of 1M and 10M trades given as FLOX Node
 *   typed-array columns (`chart: false`, no equity curve, a few stats), on
 *   Node, Deno and Bun, to the in-memory MLflow test server (REST) and to the
 *   file store (a fresh temporary folder, removed afterwards). Every case runs
 *   in a fresh child process; the REST server runs in another child process
 *   of its own (a fresh one per case), so its memory and CPU are not counted.
 *   Per case: wall time of the `logBacktest` call, peak RSS (the kernel's
 *   VmHWM, absolute and minus the RSS just before the input was built; also
 *   the highest RSS sampled every 10 ms), the longest event-loop stall while
 *   the call runs (a 10 ms interval timer's largest lateness), and afterwards
 *   the size of `trades.csv` as stored (REST: `artifacts/list` `file_size`,
 *   missing meaning 0; file store: the file on disk) against the size the CSV
 *   must have, counted here independently of the module's CSV writer, and the
 *   run's final status.
 * - `artifact_kinds`: bytes sent against bytes stored for every kind of
 *   artifact the API takes, on the REST test server: one `logBacktest` run
 *   (10k-point equity curve with its chart, 10k trades, `htmlReport` as a file
 *   path), then one `logToMlflow` run with `run.logBacktest` (`htmlReport` as
 *   named data) and `run.logArtifact` of a file path, `{name, data}` with a
 *   string and with a ReadableStream, a bare ReadableStream, Uint8Array, Blob,
 *   File and an empty Uint8Array (a bare string is a file path). For each file: bytes sent,
 *   `file_size` as listed, bytes downloaded back through
 *   `/api/2.0/mlflow-artifacts/artifacts/…`, and whether the download equals
 *   what was sent.
 *
 * Run: `node --import tsx bench/artifacts.ts` from the repository root. Options:
 * `--rows 1000000,10000000`, `--runtimes node,deno,bun`, `--stores rest,file`,
 * `--kinds-runtimes node` (or `node,deno,bun`), `--skip-big`, `--skip-kinds`,
 * `--timeout-s 600` (per child process; a timeout or crash is reported as
 * `"error"` in that case's figures). Progress goes to stderr.
 *
 * The same file is the child processes: `… bench/artifacts.ts server` serves
 * the in-memory MLflow server and prints its URL; `… case <rows> <trackingUri>`
 * logs one big backtest; `… kinds <trackingUri>` runs the artifact-kinds
 * section. Node children run with `--import tsx`, Deno with `deno run -A`, Bun
 * as `bun`; no heap size flag is given.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { lastJsonLine, runChild } from "./child.ts";
import { codeDigest, gitState } from "./code_state.ts";

const SCRIPT = fileURLToPath(import.meta.url);
const REPO = fileURLToPath(new URL("..", import.meta.url));
const RUNTIMES: Record<string, string[]> = {
  node: [process.execPath, "--import", "tsx"],
  deno: [join(REPO, "node_modules/.bin/deno"), "run", "-A"],
  bun: [join(REPO, "node_modules/.bin/bun")],
};
const EXPERIMENT = "artifacts-bench";
const T0_NS = 1_704_067_200_000_000_000n;
const MINUTE_NS = 60_000_000_000n;
const SIDES = ["long", "short"] as const;
const encoder = new TextEncoder();

const mb = (bytes: number): number => Math.round((bytes / 2 ** 20) * 10) / 10;
const round1 = (x: number): number => Math.round(x * 10) / 10;
const rowsLabel = (rows: number): string => (rows % 1_000_000 === 0 ? `${rows / 1_000_000}M` : rows % 1000 === 0 ? `${rows / 1000}k` : String(rows));
const log = (message: string): void => void process.stderr.write(`artifacts bench: ${message}\n`);
const errorText = (err: unknown): string => (err instanceof Error ? `${err.name}: ${err.message}` : String(err));

function runtimeName(): string {
  const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
  if (g.Deno) return `deno ${g.Deno.version.deno}`;
  if (g.Bun) return `bun ${g.Bun.version}`;
  return `node ${process.versions.node}`;
}

// ---------------------------------------------------------------------------
// Inputs: deterministic, and the same on V8 and JavaScriptCore (only + - * / on
// doubles, whose results and shortest printed forms every engine agrees on).

/**
 * FLOX Node `BacktestTrades` columns. A type alias, not an interface: the
 * module's `TradeColumns` is a string index type, which an interface does not
 * satisfy.
 */
type TradeColumns = {
  symbol: Uint32Array;
  side: Uint8Array;
  entryPrice: Float64Array;
  exitPrice: Float64Array;
  quantity: Float64Array;
  pnl: Float64Array;
  fee: Float64Array;
  entryTimeNs: BigInt64Array;
  exitTimeNs: BigInt64Array;
};

function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0);
}

function tradeColumns(n: number): TradeColumns {
  const t: TradeColumns = {
    symbol: new Uint32Array(n),
    side: new Uint8Array(n),
    entryPrice: new Float64Array(n),
    exitPrice: new Float64Array(n),
    quantity: new Float64Array(n),
    pnl: new Float64Array(n),
    fee: new Float64Array(n),
    entryTimeNs: new BigInt64Array(n),
    exitTimeNs: new BigInt64Array(n),
  };
  const next = lcg(20_240_101);
  for (let i = 0; i < n; i++) {
    const side = next() & 1;
    const entry = 20_000 + (next() % 5_000_000) / 100;
    const exit = entry * (1 + ((next() % 2001) - 1000) / 100_000);
    const qty = (1 + (next() % 5000)) / 1000;
    t.symbol[i] = next() % 12;
    t.side[i] = side;
    t.entryPrice[i] = entry;
    t.exitPrice[i] = exit;
    t.quantity[i] = qty;
    t.pnl[i] = (side === 0 ? exit - entry : entry - exit) * qty;
    t.fee[i] = (entry + exit) * qty * 0.0004;
    const entryNs = T0_NS + BigInt(i) * MINUTE_NS;
    t.entryTimeNs[i] = entryNs;
    t.exitTimeNs[i] = entryNs + BigInt(1 + (next() % 1440)) * MINUTE_NS;
  }
  return t;
}

/**
 * The CSV `trades.csv` must hold, written here without the module's code:
 * columns in key order, side as long/short, numbers as JavaScript prints them,
 * `\n` line ends. Calls `chunk` with the text of up to 100k rows at a time.
 */
function tradesCsv(t: TradeColumns, chunk: (text: string) => void): void {
  chunk(`${Object.keys(t).join(",")}\n`);
  const n = t.symbol.length;
  for (let from = 0; from < n; from += 100_000) {
    let text = "";
    for (let i = from; i < Math.min(n, from + 100_000); i++) {
      text += `${t.symbol[i]},${SIDES[t.side[i]!]},${t.entryPrice[i]},${t.exitPrice[i]},${t.quantity[i]},${t.pnl[i]},${t.fee[i]},${t.entryTimeNs[i]},${t.exitTimeNs[i]}\n`;
    }
    chunk(text);
  }
}

/** Bytes of the trades CSV (every character is ASCII, so characters are bytes). */
function tradesCsvBytes(rows: number): number {
  let bytes = 0;
  tradesCsv(tradeColumns(rows), (text) => (bytes += text.length));
  return bytes;
}

/** FLOX Node equity columns: minute bars of a random walk, drawdown from the running peak. */
function equityColumns(n: number): { timestampNs: BigInt64Array; equity: Float64Array; drawdownPct: Float64Array } {
  const timestampNs = new BigInt64Array(n);
  const equity = new Float64Array(n);
  const drawdownPct = new Float64Array(n);
  const next = lcg(7);
  let value = 100_000;
  let peak = value;
  for (let i = 0; i < n; i++) {
    if (i > 0) value *= 1 + ((next() % 2001) - 1000) / 500_000;
    if (value > peak) peak = value;
    timestampNs[i] = T0_NS + BigInt(i) * MINUTE_NS;
    equity[i] = value;
    drawdownPct[i] = ((peak - value) / peak) * 100;
  }
  return { timestampNs, equity, drawdownPct };
}

function equityCsv(e: ReturnType<typeof equityColumns>): string {
  let text = "timestamp_ns,equity,drawdown_pct\n";
  for (let i = 0; i < e.equity.length; i++) text += `${e.timestampNs[i]},${e.equity[i]},${e.drawdownPct[i]}\n`;
  return text;
}

function pseudoRandomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  const next = lcg(seed);
  for (let i = 0; i < n; i++) out[i] = next() >>> 24;
  return out;
}

// ---------------------------------------------------------------------------
// Measuring inside a child

/** The kernel's peak resident set size of this process (Linux VmHWM), in bytes. */
function kernelPeakRss(): number | undefined {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A 10 ms interval timer: its largest lateness is the longest event-loop
 * stall; each tick also samples RSS and heap.
 */
function startMonitor(): () => { maxStallMs: number; stallsOver100Ms: number; rssPeak: number; heapUsedPeak: number; externalPeak: number } {
  let last = performance.now();
  let maxStallMs = 0;
  let stallsOver100Ms = 0;
  let rssPeak = 0;
  let heapUsedPeak = 0;
  let externalPeak = 0;
  const sample = () => {
    const m = process.memoryUsage();
    rssPeak = Math.max(rssPeak, m.rss);
    heapUsedPeak = Math.max(heapUsedPeak, m.heapUsed);
    externalPeak = Math.max(externalPeak, m.external ?? 0);
  };
  const lateness = () => {
    const now = performance.now();
    const late = now - last - 10;
    last = now;
    if (late > maxStallMs) maxStallMs = late;
    if (late > 100) stallsOver100Ms++;
  };
  sample();
  const timer = setInterval(() => {
    lateness();
    sample();
  }, 10);
  return () => {
    clearInterval(timer);
    lateness(); // the stretch between the last tick and the call's end
    sample();
    return { maxStallMs, stallsOver100Ms, rssPeak, heapUsedPeak, externalPeak };
  };
}

/** Child: log one backtest of `rows` trades to `trackingUri` and print its figures. */
async function caseChild(rows: number, trackingUri: string): Promise<void> {
  const { logBacktest } = await import("../mod.ts");
  const rssBeforeInput = process.memoryUsage().rss;
  const trades = tradeColumns(rows);
  const rssBeforeCall = process.memoryUsage().rss;
  const stop = startMonitor();
  const start = performance.now();
  let runId: string | undefined;
  let error: string | undefined;
  try {
    runId = await logBacktest({
      trackingUri,
      env: {},
      experiment: EXPERIMENT,
      runName: `trades-${rowsLabel(rows)}`,
      stats: { total_trades: rows, net_pnl: 1234.5, sharpe_ratio: 1.25, win_rate: 0.52, profit_factor: Infinity },
      params: { rows },
      trades,
      chart: false,
    });
  } catch (err) {
    error = errorText(err);
  }
  const wallMs = performance.now() - start;
  const seen = stop();
  const kernelPeak = kernelPeakRss();
  const peak = Math.max(kernelPeak ?? 0, seen.rssPeak);
  console.log(JSON.stringify({
    runtime: runtimeName(),
    ...(error !== undefined ? { error } : {}),
    run_id: runId,
    wall_ms: Math.round(wallMs),
    rss_before_input_mb: mb(rssBeforeInput),
    input_rss_mb: mb(rssBeforeCall - rssBeforeInput),
    peak_rss_mb: mb(peak),
    peak_rss_growth_mb: mb(peak - rssBeforeInput),
    peak_rss_over_call_start_mb: mb(peak - rssBeforeCall),
    peak_rss_source: kernelPeak !== undefined ? "VmHWM" : "sampled",
    sampled_during_call: { peak_rss_mb: mb(seen.rssPeak), peak_heap_used_mb: mb(seen.heapUsedPeak), peak_external_mb: mb(seen.externalPeak) },
    max_stall_ms: Math.round(seen.maxStallMs),
    stalls_over_100ms: seen.stallsOver100Ms,
  }));
}

// ---------------------------------------------------------------------------
// Reading back what the REST server holds

interface ListedFile {
  path: string;
  is_dir?: boolean;
  file_size?: number;
}

async function api<T>(url: string, path: string, query: Record<string, string>): Promise<T> {
  const response = await fetch(`${url}/api/2.0/mlflow/${path}?${new URLSearchParams(query)}`, { signal: AbortSignal.timeout(120_000) });
  const text = await response.text();
  if (!response.ok) throw new Error(`GET ${path} answered ${response.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

/** Every file of a run, folders walked, with its listed size (missing `file_size` counts as 0). */
async function listArtifacts(url: string, runId: string, path = ""): Promise<Map<string, number>> {
  const answer = await api<{ files?: ListedFile[] }>(url, "artifacts/list", path ? { run_id: runId, path } : { run_id: runId });
  const out = new Map<string, number>();
  for (const file of answer.files ?? []) {
    if (file.is_dir) for (const [p, size] of await listArtifacts(url, runId, file.path)) out.set(p, size);
    else out.set(file.path, file.file_size ?? 0);
  }
  return out;
}

async function runInfo(url: string, runId: string): Promise<{ status: string; artifact_uri: string }> {
  return (await api<{ run: { info: { status: string; artifact_uri: string } } }>(url, "runs/get", { run_id: runId })).run.info;
}

/** The run's figures as the REST server holds them; finds the run by experiment when the child left no id. */
async function restOutcome(url: string, runId: string | undefined, expectedBytes: number): Promise<Record<string, unknown>> {
  try {
    let id = runId;
    if (id === undefined) {
      const experiment = await api<{ experiment: { experiment_id: string } }>(url, "experiments/get-by-name", { experiment_name: EXPERIMENT });
      const response = await fetch(`${url}/api/2.0/mlflow/runs/search`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ experiment_ids: [experiment.experiment.experiment_id], max_results: 10 }),
      });
      const found = (await response.json()) as { runs?: { info: { run_id: string } }[] };
      id = found.runs?.[0]?.info.run_id;
      if (id === undefined) return { run_status: "no run created" };
    }
    const [info, files] = await Promise.all([runInfo(url, id), listArtifacts(url, id)]);
    const listed = files.get("trades.csv");
    return {
      run_status: info.status,
      trades_csv_listed: listed !== undefined,
      trades_csv_stored_bytes: listed ?? 0,
      trades_csv_expected_bytes: expectedBytes,
      trades_csv_complete: listed === expectedBytes,
    };
  } catch (err) {
    return { read_back_error: errorText(err) };
  }
}

const FILE_STORE_STATUS: Record<string, string> = { "1": "RUNNING", "2": "SCHEDULED", "3": "FINISHED", "4": "FAILED", "5": "KILLED" };

/** The run's figures as the file store holds them: `<root>/<experiment>/<run>/artifacts/trades.csv`. */
async function fileOutcome(root: string, expectedBytes: number): Promise<Record<string, unknown>> {
  try {
    for (const experiment of await readdir(root).catch(() => [] as string[])) {
      if (experiment.startsWith(".") || experiment === "0") continue;
      for (const run of await readdir(join(root, experiment), { withFileTypes: true })) {
        if (!run.isDirectory()) continue;
        const meta = await readFile(join(root, experiment, run.name, "meta.yaml"), "utf8").catch(() => "");
        const code = /^status: (\d+)$/m.exec(meta)?.[1];
        const size = await stat(join(root, experiment, run.name, "artifacts", "trades.csv")).then((s) => s.size, () => undefined);
        return {
          run_status: code === undefined ? "unknown" : FILE_STORE_STATUS[code] ?? code,
          trades_csv_on_disk: size !== undefined,
          trades_csv_disk_bytes: size ?? 0,
          trades_csv_expected_bytes: expectedBytes,
          trades_csv_complete: size === expectedBytes,
        };
      }
    }
    return { run_status: "no run created" };
  } catch (err) {
    return { read_back_error: errorText(err) };
  }
}

// ---------------------------------------------------------------------------
// The artifact kinds section (a child)

interface KindFigure {
  run: string;
  path: string;
  source: string;
  sent_bytes: number;
  listed_bytes: number | null;
  downloaded_bytes: number | null;
  same_bytes: boolean;
  error?: string;
}

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(chunks[i++]!.slice());
      else controller.close();
    },
  });
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** Child: log every artifact kind to `trackingUri`, read each back, print the figures. */
async function kindsChild(trackingUri: string): Promise<void> {
  const { logBacktest, logToMlflow, renderEquityChart } = await import("../mod.ts");
  const dir = await mkdtemp(join(tmpdir(), "flox-artifacts-kinds-"));
  try {
    const equity = equityColumns(10_000);
    const trades = tradeColumns(10_000);
    let tradesText = "";
    tradesCsv(trades, (text) => (tradesText += text));
    const html = (title: string) =>
      `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body>\n` +
      `${"<p>Rendite € – Sharpe ≥ 1.2 – Ünïcødé ✓</p>\n".repeat(2000)}</body></html>\n`;
    const reportPath = join(dir, "report.html");
    const reportBytes = encoder.encode(html("report from a path"));
    await writeFile(reportPath, reportBytes);
    const payloadPath = join(dir, "payload.bin");
    const payload = pseudoRandomBytes(3 * 65_536 + 17, 1);
    await writeFile(payloadPath, payload);
    const namedHtml = html("report as named data");
    const namedText = "named string data: ∑ é 🚀\n".repeat(1000);
    const streamChunks = [pseudoRandomBytes(100_003, 2), new Uint8Array(0), pseudoRandomBytes(65_536, 3), pseudoRandomBytes(1, 4)];
    const bytes = pseudoRandomBytes(250_001, 5);
    const blobParts = [pseudoRandomBytes(70_000, 6), encoder.encode("blob tail ✓")];
    const fileBytes = pseudoRandomBytes(12_345, 7);

    const runName = "kinds-backtest";
    const chart = await renderEquityChart(equity, { title: runName });
    const sent: Omit<KindFigure, "listed_bytes" | "downloaded_bytes" | "same_bytes" | "sent_bytes">[] = [];
    const sentBytes = new Map<string, Uint8Array>();
    const expect = (run: string, path: string, source: string, data: Uint8Array, error?: string) => {
      sent.push({ run, path, source, ...(error !== undefined ? { error } : {}) });
      sentBytes.set(`${run}/${path}`, data);
    };

    const backtestRunId = await logBacktest({
      trackingUri,
      env: {},
      experiment: "artifacts-kinds",
      runName,
      stats: { total_trades: 10_000, sharpe_ratio: 1.1 },
      params: { fast: 10, slow: 30 },
      equityCurve: equity,
      trades,
      htmlReport: reportPath,
    });
    expect("backtest", "equity_curve.csv", "logBacktest equityCurve (10k-point columns)", encoder.encode(equityCsv(equity)));
    expect("backtest", "trades.csv", "logBacktest trades (10k-row columns)", encoder.encode(tradesText));
    expect("backtest", "report.html", "logBacktest htmlReport (file path)", reportBytes);
    if (chart.png) expect("backtest", "equity_curve.png", "logBacktest chart (PNG)", chart.png);
    expect("backtest", "equity_curve.svg", "logBacktest chart (SVG)", encoder.encode(chart.svg));

    const artifactsRunId = await logToMlflow(
      { trackingUri, env: {}, experiment: "artifacts-kinds", runName: "kinds-artifacts" },
      async (run) => {
        const attempt = async (path: string, source: string, data: Uint8Array, log: () => Promise<void>) => {
          try {
            await log();
            expect("artifacts", path, source, data);
          } catch (err) {
            expect("artifacts", path, source, data, errorText(err));
          }
        };
        await attempt("named_report.html", "run.logBacktest htmlReport {name, data: string}", encoder.encode(namedHtml), () =>
          run.logBacktest({ htmlReport: { name: "named_report.html", data: namedHtml } }));
        await attempt("payload.bin", "logArtifact(file path)", payload, () => run.logArtifact(payloadPath));
        await attempt("files/nested/payload.bin", "logArtifact(file path, 'files/nested')", payload, () =>
          run.logArtifact(payloadPath, "files/nested"));
        await attempt("named.txt", "logArtifact({name, data: string})", encoder.encode(namedText), () =>
          run.logArtifact({ name: "named.txt", data: namedText }));
        await attempt("stream.bin", "logArtifact({name, data: ReadableStream})", concat(streamChunks), () =>
          run.logArtifact({ name: "stream.bin", data: streamOf(streamChunks) }));
        await attempt("stream_bare.bin", "logArtifact(ReadableStream, 'stream_bare.bin')", concat(streamChunks), () =>
          run.logArtifact(streamOf(streamChunks), "stream_bare.bin"));
        await attempt("bytes.bin", "logArtifact(Uint8Array, 'bytes.bin')", bytes, () => run.logArtifact(bytes, "bytes.bin"));
        await attempt("blob.bin", "logArtifact(Blob, 'blob.bin')", concat(blobParts), () =>
          run.logArtifact(new Blob(blobParts as BlobPart[]), "blob.bin"));
        await attempt("file.bin", "logArtifact(File)", fileBytes, () => run.logArtifact(new File([fileBytes as BlobPart], "file.bin")));
        await attempt("empty.bin", "logArtifact(empty Uint8Array, 'empty.bin')", new Uint8Array(0), () =>
          run.logArtifact(new Uint8Array(0), "empty.bin"));
        return run.runId;
      },
    );

    const runs: Record<string, { run_id: string; status: string; artifact_uri: string; files: Map<string, number> }> = {};
    for (const [label, id] of [["backtest", backtestRunId], ["artifacts", artifactsRunId]] as const) {
      const info = await runInfo(trackingUri, id);
      runs[label] = { run_id: id, status: info.status, artifact_uri: info.artifact_uri, files: await listArtifacts(trackingUri, id) };
    }
    const figures: KindFigure[] = [];
    for (const item of sent) {
      const run = runs[item.run]!;
      const data = sentBytes.get(`${item.run}/${item.path}`)!;
      const root = run.artifact_uri.replace(/^mlflow-artifacts:\/+/, "");
      const url = `${trackingUri}/api/2.0/mlflow-artifacts/artifacts/${root}/${item.path.split("/").map(encodeURIComponent).join("/")}`;
      const response = await fetch(url);
      const downloaded = response.ok ? new Uint8Array(await response.arrayBuffer()) : (await response.body?.cancel(), undefined);
      figures.push({
        ...item,
        sent_bytes: data.length,
        listed_bytes: run.files.get(item.path) ?? null,
        downloaded_bytes: downloaded?.length ?? null,
        same_bytes: downloaded !== undefined && sameBytes(downloaded, data),
      });
    }
    const expectedPaths = new Set(sent.map((s) => `${s.run}/${s.path}`));
    const unexpected = Object.entries(runs).flatMap(([label, run]) =>
      [...run.files].filter(([path]) => !expectedPaths.has(`${label}/${path}`)).map(([path, size]) => ({ run: label, path, listed_bytes: size })));
    console.log(JSON.stringify({
      runtime: runtimeName(),
      runs: Object.fromEntries(Object.entries(runs).map(([label, r]) => [label, { run_id: r.run_id, status: r.status, artifact_uri: r.artifact_uri }])),
      artifacts: figures,
      unexpected_artifacts: unexpected,
      problems: figures
        .filter((f) => f.error !== undefined || !f.same_bytes || f.listed_bytes !== f.sent_bytes)
        .map((f) => `${f.run}/${f.path}: ${f.error ?? `sent ${f.sent_bytes}, listed ${f.listed_bytes}, downloaded ${f.downloaded_bytes}${f.same_bytes ? "" : ", content differs"}`}`),
    }));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------
// The server (a child)

/** Child: serve the in-memory MLflow server, print its URL, stop when stdin closes. */
async function serverChild(): Promise<void> {
  const { createMlflowServer } = await import("../test/support/mlflow_server.ts");
  const { serve } = await import("../test/support/serve.ts");
  const server = createMlflowServer();
  const served = await serve(server.handler);
  console.log(JSON.stringify({ url: served.url }));
  process.stdin.on("data", () => {});
  process.stdin.on("end", async () => {
    await served.close();
    const failed = server.requests.filter((r) => r.status < 200 || r.status >= 300);
    console.log(JSON.stringify({
      requests: server.requests.length,
      non_2xx: failed.map((r) => `${r.method} ${r.path} ${r.status}`).slice(0, 20),
      peak_rss_mb: mb(kernelPeakRss() ?? process.memoryUsage().rss),
    }));
    process.exit(0);
  });
}

// ---------------------------------------------------------------------------
// The orchestrator

/** Starts the in-memory MLflow server in a child process of its own. */
async function startServer(): Promise<{ url: string; stop(): Promise<Record<string, unknown>> }> {
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", SCRIPT, "server"], {
    cwd: REPO,
    stdio: ["pipe", "pipe", "inherit"],
  });
  let out = "";
  const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the MLflow test server did not start within 60 s")), 60_000);
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk;
      const first = lastJsonLine(out.split("\n")[0] ?? "");
      if (first && typeof first.url === "string") {
        clearTimeout(timer);
        resolve(first.url);
      }
    });
    child.on("close", (code) => reject(new Error(`the MLflow test server exited with ${code} before serving`)));
  });
  return {
    url,
    async stop() {
      child.stdin!.end();
      const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
      await exited;
      clearTimeout(timer);
      const lines = out.trim().split("\n");
      return lines.length > 1 ? lastJsonLine(lines.at(-1)!) ?? {} : { error: "the server child ended without figures" };
    },
  };
}

async function bigCase(runtime: string, rows: number, store: string, expectedBytes: number, timeoutMs: number): Promise<Record<string, unknown>> {
  const command = (uri: string) => [...RUNTIMES[runtime]!, SCRIPT, "case", String(rows), uri];
  if (store === "rest") {
    let server: Awaited<ReturnType<typeof startServer>>;
    try {
      server = await startServer();
    } catch (err) {
      return { error: errorText(err) };
    }
    try {
      const child = await runChild(command(server.url), timeoutMs, REPO);
      const runId = typeof child.json?.run_id === "string" ? child.json.run_id : undefined;
      const stored = await restOutcome(server.url, runId, expectedBytes);
      const { runtime: _, run_id: __, ...figures } = child.json ?? {};
      return { ...(child.error ? { error: child.error } : {}), ...figures, ...stored, server: await server.stop() };
    } catch (err) {
      await server.stop();
      return { error: errorText(err) };
    }
  }
  const dir = await mkdtemp(join(tmpdir(), "flox-artifacts-bench-"));
  try {
    const root = join(dir, "mlruns");
    const child = await runChild(command(root), timeoutMs, REPO);
    const { runtime: _, run_id: __, ...figures } = child.json ?? {};
    return { ...(child.error ? { error: child.error } : {}), ...figures, ...(await fileOutcome(root, expectedBytes)) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function kindsCase(runtime: string, timeoutMs: number): Promise<Record<string, unknown>> {
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer();
  } catch (err) {
    return { error: errorText(err) };
  }
  try {
    const child = await runChild([...RUNTIMES[runtime]!, SCRIPT, "kinds", server.url], timeoutMs, REPO);
    return { ...(child.error ? { error: child.error } : {}), ...child.json, server: await server.stop() };
  } catch (err) {
    await server.stop();
    return { error: errorText(err) };
  }
}

async function versionOf(command: string[]): Promise<string> {
  const child = await new Promise<string>((resolve) => {
    const p = spawn(command[0]!, [...command.slice(1), "--version"], { cwd: REPO, stdio: ["ignore", "pipe", "ignore"] });
    let out = "";
    p.stdout.on("data", (chunk: Buffer) => (out += chunk));
    p.on("close", () => resolve(out.trim().split("\n")[0] ?? ""));
    p.on("error", () => resolve("unavailable"));
  });
  return child;
}

async function orchestrate(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rows: { type: "string", default: "1000000,10000000" },
      runtimes: { type: "string", default: "node,deno,bun" },
      stores: { type: "string", default: "rest,file" },
      "kinds-runtimes": { type: "string", default: "node" },
      "skip-big": { type: "boolean", default: false },
      "skip-kinds": { type: "boolean", default: false },
      "timeout-s": { type: "string", default: "600" },
    },
  });
  const list = (text: string) => text.split(",").map((s) => s.trim()).filter(Boolean);
  const rowsList = list(values.rows).map(Number);
  const runtimes = list(values.runtimes);
  const stores = list(values.stores);
  const timeoutMs = Number(values["timeout-s"]) * 1000;
  for (const r of [...runtimes, ...list(values["kinds-runtimes"])]) if (!(r in RUNTIMES)) throw new Error(`unknown runtime '${r}'`);

  const report: Record<string, unknown> = {
    machine: {
      node: process.versions.node,
      deno: await versionOf(RUNTIMES.deno!.slice(0, 1)),
      bun: await versionOf(RUNTIMES.bun!),
      heap_flags: "none",
    },
    code_under_test: { dir: REPO, git: gitState(REPO), digest: await codeDigest(REPO) },
  };
  if (!values["skip-big"]) {
    const expected: Record<string, number> = {};
    for (const rows of rowsList) {
      log(`counting the expected trades.csv bytes of ${rowsLabel(rows)} rows`);
      expected[rowsLabel(rows)] = tradesCsvBytes(rows);
    }
    const cases: Record<string, Record<string, Record<string, unknown>>> = {};
    for (const runtime of runtimes) {
      for (const rows of rowsList) {
        for (const store of stores) {
          log(`${runtime} ${rowsLabel(rows)} ${store}`);
          const figures = await bigCase(runtime, rows, store, expected[rowsLabel(rows)]!, timeoutMs);
          log(`${runtime} ${rowsLabel(rows)} ${store}: ${JSON.stringify(figures)}`);
          ((cases[runtime] ??= {})[rowsLabel(rows)] ??= {})[store] = figures;
        }
      }
    }
    report.big_trades = {
      workload: "logBacktest: trades as FLOX Node columns (9 columns), 5 stats, 1 param, chart: false, no equity curve; fresh process per case",
      expected_trades_csv_bytes: expected,
      cases,
    };
  }
  if (!values["skip-kinds"]) {
    const kinds: Record<string, unknown> = {};
    for (const runtime of list(values["kinds-runtimes"])) {
      log(`artifact kinds on ${runtime}`);
      kinds[runtime] = await kindsCase(runtime, timeoutMs);
    }
    report.artifact_kinds = kinds;
  }
  const digestAfter = await codeDigest(REPO);
  if (digestAfter !== (report.code_under_test as { digest: string }).digest) {
    (report.code_under_test as Record<string, unknown>).changed_during_run_to = digestAfter;
  }
  console.log(JSON.stringify(report, null, 2));
}

const [mode, ...rest] = process.argv.slice(2);
if (mode === "server") await serverChild();
else if (mode === "case") {
  await caseChild(Number(rest[0]), rest[1]!);
  process.exit(0);
} else if (mode === "kinds") {
  await kindsChild(rest[0]!);
  process.exit(0);
} else await orchestrate();
