/**
 * Benchmark of sweep logging. Prints one JSON object:
 *
 * - `grid64`: a 64-cell grid (8 x 8 axes, FLOX Python's 29 stats per cell,
 *   the reference workload of the Python module) logged by `logGrid`, against
 *   the same grid logged the way the Python module does it: cell after cell,
 *   create, one `log-parameter` per param, one `log-metric` per metric, one
 *   `set-tag` per tag, update, as plain `fetch` calls.
 * - `grid64FoldStats`: the same with FLOX Node `GridSearch.run()` output
 *   (positional params, 15 `FoldStats`).
 * - `pictures64`: the parent's pictures on a 64-cell grid whose cells carry
 *   1,000-point equity curves: the sweep with `pictures: true` (first in the
 *   process, then warm) against `pictures: false`.
 * - `grid1000`: a 1,000-cell FLOX Node grid: wall time, requests, peak RSS
 *   and main-thread heap growth, and the children read back through
 *   `runs/search` on `tags.mlflow.parentRunId`.
 *
 * The in-memory MLflow test server runs in a worker thread, served on
 * loopback by `test/support/serve.ts`, so it does not share the client's
 * event loop (a real server would not). Requests are counted by the server.
 * Both sides log into experiments created beforehand and passed by id; a
 * sweep that names its experiment spends 1 (existing) or 2 (new) more
 * requests on the lookup, once per process (`experimentByName`).
 *
 * Run: `node --import tsx bench/sweep.ts`
 *
 * @module
 */
import process from "node:process";
import { isMainThread, parentPort, Worker } from "node:worker_threads";
import { type GridCell, logGrid } from "../src/sweep.ts";
import { createMlflowServer } from "../test/support/mlflow_server.ts";
import { serve } from "../test/support/serve.ts";

type Message = { url: string } | { count: number } | { closed: true };

if (!isMainThread) {
  const server = createMlflowServer();
  const served = await serve(server.handler);
  const port = parentPort!;
  port.on("message", async (message: string) => {
    if (message === "count") port.postMessage({ count: server.requests.length });
    if (message === "close") {
      await served.close();
      port.postMessage({ closed: true });
      port.close();
    }
  });
  port.postMessage({ url: served.url });
} else {
  await main();
}

async function main(): Promise<void> {
  // Node 20 does not hand the main thread's TypeScript loader to workers: register tsx there first.
  const boot = `import("tsx/esm/api").then((tsx) => { tsx.register(); return import(${JSON.stringify(import.meta.url)}); })`;
  const worker = new Worker(boot, { eval: true });
  const next = () => new Promise<Message>((resolve) => worker.once("message", resolve));
  const { url } = (await next()) as { url: string };
  const ask = async (message: string): Promise<Message> => {
    const answer = next();
    worker.postMessage(message);
    return answer;
  };
  const requests = async () => ((await ask("count")) as { count: number }).count;
  const api = async <T>(path: string, body: unknown): Promise<T> => {
    const response = await fetch(`${url}/api/2.0/mlflow/${path}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`${path} answered ${response.status}: ${await response.text()}`);
    return (await response.json()) as T;
  };
  const experiment = async (name: string) =>
    (await api<{ experiment_id: string }>("experiments/create", { name: `${name}-${Date.now().toString(36)}` })).experiment_id;
  const options = { trackingUri: url, env: {} };

  // Python's per-call logging, as the FLOX Python module does it.
  const perMetric = async (experimentId: string, cells: { name: string; params: Record<string, unknown>; stats: Record<string, unknown> }[]) => {
    const create = async (runName: string, tags: { key: string; value: string }[]) =>
      (await api<{ run: { info: { run_id: string } } }>("runs/create", {
        experiment_id: experimentId, run_name: runName, start_time: Date.now(), tags,
      })).run.info.run_id;
    const parent = await create("grid", [{ key: "mlflow.source.type", value: "LOCAL" }]);
    for (const cell of cells) {
      const runId = await create(cell.name, [{ key: "mlflow.parentRunId", value: parent }]);
      for (const [key, value] of Object.entries(cell.params)) await api("runs/log-parameter", { run_id: runId, key, value: String(value) });
      for (const [key, value] of Object.entries(cell.stats)) {
        if (typeof value === "number" && Number.isFinite(value)) {
          await api("runs/log-metric", { run_id: runId, key, value, timestamp: Date.now(), step: 0 });
        } else {
          await api("runs/set-tag", { run_id: runId, key, value: String(value) });
        }
      }
      await api("runs/update", { run_id: runId, status: "FINISHED", end_time: Date.now() });
    }
    await api("runs/update", { run_id: parent, status: "FINISHED", end_time: Date.now() });
  };

  const measure = async (fn: () => Promise<unknown>) => {
    const before = await requests();
    const start = performance.now();
    await fn();
    const wallMs = performance.now() - start;
    return { requests: (await requests()) - before, wallMs: Math.round(wallMs) };
  };

  const compare = async (label: string, cells: GridCell[], axes: string[] | undefined, named: ReturnType<typeof namedCells>) => {
    // Warm both paths up so neither pays for JIT compilation alone.
    await perMetric(await experiment(`${label}-warm`), named.slice(0, 4));
    await logGrid({ ...options, experimentId: await experiment(`${label}-warm`), ...(axes ? { axes } : {}), results: cells.slice(0, 4) });
    const baselineExperiment = await experiment(`${label}-baseline`);
    const gridExperiment = await experiment(`${label}-grid`);
    const sequential = await measure(() => perMetric(baselineExperiment, named));
    const grid = await measure(() => logGrid({ ...options, experimentId: gridExperiment, ...(axes ? { axes } : {}), results: cells }));
    return {
      cells: cells.length,
      statsPerCell: Object.keys(named[0]!.stats).length,
      paramsPerCell: Object.keys(named[0]!.params).length,
      logGrid: { ...grid, concurrency: 8 },
      perMetricSequential: sequential,
      speedup: round(sequential.wallMs / grid.wallMs),
      requestRatio: round(sequential.requests / grid.requests),
    };
  };

  const python = pythonGrid();
  const grid64 = await compare("grid64", python, undefined, namedCells(python, undefined));
  const node = floxGrid(8, 8);
  const grid64FoldStats = await compare("grid64-foldstats", node, ["fast", "slow"], namedCells(node, ["fast", "slow"]));

  const byName = await measure(() => logGrid({ ...options, experiment: `by-name-${Date.now().toString(36)}`, results: [{ params: { a: 1 } }] }));

  const big = floxGrid(40, 25);
  const bigExperiment = await experiment("grid1000");
  const rssBefore = process.memoryUsage().rss;
  const heapBefore = process.memoryUsage().heapUsed;
  let rssPeak = rssBefore;
  let heapPeak = heapBefore;
  const sampler = setInterval(() => {
    const now = process.memoryUsage();
    rssPeak = Math.max(rssPeak, now.rss);
    heapPeak = Math.max(heapPeak, now.heapUsed);
  }, 10);
  let parentRunId = "";
  const run1000 = await measure(async () => {
    parentRunId = (await logGrid({ ...options, experimentId: bigExperiment, axes: ["fast", "slow"], results: big })).parentRunId;
  });
  clearInterval(sampler);
  const children = await searchAll(api, bigExperiment, `tags.mlflow.parentRunId = '${parentRunId}'`);

  // Pictures on a 64-cell grid (heatmap, 5 overlaid curves of 1,000 points, grid_results.csv), in this
  // process's first picture-drawing sweep (Vega, vega-lite and resvg loaded then) and warm, against none.
  const pictureGrid = floxGrid(8, 8).map((cell, i) => ({ ...cell, equityCurve: benchCurve(i) }));
  const pictureRun = async (pictures: boolean) => {
    const experimentId = await experiment(`pictures-${pictures}`);
    return measure(() => logGrid({ ...options, experimentId, axes: ["fast", "slow"], results: pictureGrid, pictures }));
  };
  const picturesCold = await pictureRun(true);
  const without: number[] = [];
  const withPictures: number[] = [];
  for (let k = 0; k < 5; k++) {
    without.push((await pictureRun(false)).wallMs);
    withPictures.push((await pictureRun(true)).wallMs);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const pictures64 = {
    cells: pictureGrid.length,
    note: "logGrid of 64 cells with 1,000-point equity curves (each child uploads its equity_curve.csv); median of 5 warm runs, alternating",
    withoutPicturesMs: median(without),
    withPicturesWarmMs: median(withPictures),
    picturesWarmMs: median(withPictures) - median(without),
    withPicturesFirstInProcessMs: picturesCold.wallMs,
    extraRequests: picturesCold.requests - (await pictureRun(false)).requests,
    overheadWarmPct: Math.round((100 * (median(withPictures) - median(without))) / median(without)),
    overheadFirstInProcessPct: Math.round((100 * (picturesCold.wallMs - median(without))) / median(without)),
  };

  const report = {
    runtime: `node ${process.version}`,
    server: "in-memory MLflow test server in a worker thread, served on 127.0.0.1",
    grid64,
    grid64FoldStats,
    experimentByName: { note: "a 1-cell grid into a new named experiment: 3 + 3 requests plus the lookup", requests: byName.requests },
    pictures64,
    grid1000: {
      cells: big.length,
      ...run1000,
      childrenFound: children.length,
      childrenFinished: children.filter((r) => r.info.status === "FINISHED").length,
      peakRssGrowthMb: round((rssPeak - rssBefore) / 2 ** 20),
      peakMainHeapGrowthMb: round((heapPeak - heapBefore) / 2 ** 20),
    },
    targets: {
      grid64AtMost195Requests: grid64.logGrid.requests <= 195,
      grid64AtLeast10xFaster: grid64.speedup >= 10,
      grid1000EveryChildFinished: children.length === big.length && children.every((r) => r.info.status === "FINISHED"),
    },
  };
  console.log(JSON.stringify(report, null, 2));
  await ask("close");
  await worker.terminate();
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

/** A 1,000-bar minute equity curve for cell `i`. */
function benchCurve(i: number): { timestampNs: BigInt64Array; equity: Float64Array } {
  const n = 1000;
  const timestampNs = new BigInt64Array(n);
  const equity = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    timestampNs[k] = 1_704_067_200_000_000_000n + BigInt(k) * 60_000_000_000n;
    equity[k] = 10_000 + k * Math.sin(i) + 30 * Math.sin(k / 40 + i);
  }
  return { timestampNs, equity };
}

/** The FLOX Python stats (29 keys) of cell `i`. */
function pythonStats(i: number): Record<string, unknown> {
  return {
    total_trades: 30 + i, winning_trades: 18, losing_trades: 12 + i, max_consecutive_wins: 5, max_consecutive_losses: 3,
    initial_capital: 10000, final_capital: 10000 + 12.5 * i, total_pnl: 14 * i, total_fees: 1.5 * i, net_pnl: 12.5 * i,
    gross_profit: 400 + i, gross_loss: 140 + i, max_drawdown: 120 + i, max_drawdown_pct: 1.2 + i / 100, win_rate: 0.6,
    profit_factor: i % 9 === 0 ? Infinity : 2.5, avg_win: 22.2, avg_loss: -11.6, avg_win_loss_ratio: 1.9,
    avg_trade_duration_ns: 3_600_000_000_000, median_trade_duration_ns: 3_000_000_000_000,
    max_trade_duration_ns: 7_200_000_000_000, sharpe_ratio: i === 7 ? NaN : Math.sin(i), sortino_ratio: 1.7,
    calmar_ratio: 3.2, time_weighted_return: 0.025, return_pct: 0.125 * i, start_time_ns: 1704067200000000000n,
    end_time_ns: 1704153599999999999n + BigInt(i),
  };
}

/** `{params, stats}` cells with FLOX Python stats, as the Python docs' grid example logs them. */
function pythonGrid(): GridCell[] {
  const cells: GridCell[] = [];
  for (let f = 0; f < 8; f++) for (let s = 0; s < 8; s++) cells.push({ params: { fast: 5 + 5 * f, slow: 20 + 10 * s }, stats: pythonStats(cells.length) });
  return cells;
}

/** FLOX Node `GridSearch.run()` output over two axes. */
function floxGrid(fastCount: number, slowCount: number): GridCell[] {
  const cells: GridCell[] = [];
  for (let f = 0; f < fastCount; f++) {
    for (let s = 0; s < slowCount; s++) {
      const i = cells.length;
      cells.push({
        index: i,
        params: [2 + f, 10 + 5 * s],
        stats: {
          totalTrades: 30 + (i % 50), winningTrades: 18, losingTrades: 12, initialCapital: 10000, finalCapital: 10000 + i,
          netPnl: i, totalFees: 2.5, returnPct: i / 100, maxDrawdown: 120, maxDrawdownPct: 1.2, sharpeRatio: Math.sin(i),
          sortinoRatio: 1.5, winRate: 0.6, profitFactor: i % 11 === 0 ? Infinity : 1.8,
        },
      });
    }
  }
  return cells;
}

/** The cells as the baseline sees them: a run name, named params, the stats. */
function namedCells(cells: GridCell[], axes: string[] | undefined) {
  return cells.map((cell) => {
    const params = Array.isArray(cell.params)
      ? Object.fromEntries(axes!.map((a, k) => [a, (cell.params as unknown[])[k]]))
      : (cell.params as Record<string, unknown>);
    return {
      name: Object.entries(params).map(([k, v]) => `${k}=${v}`).join(","),
      params,
      stats: cell.stats as Record<string, unknown>,
    };
  });
}

async function searchAll(
  api: <T>(path: string, body: unknown) => Promise<T>,
  experimentId: string,
  filter: string,
): Promise<{ info: { status: string } }[]> {
  const runs: { info: { status: string } }[] = [];
  let pageToken: string | undefined;
  do {
    const page = await api<{ runs?: { info: { status: string } }[]; next_page_token?: string }>("runs/search", {
      experiment_ids: [experimentId], filter, max_results: 1000, ...(pageToken ? { page_token: pageToken } : {}),
    });
    runs.push(...(page.runs ?? []));
    pageToken = page.runs?.length ? page.next_page_token : undefined;
  } while (pageToken);
  return runs;
}
