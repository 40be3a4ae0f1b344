/**
 * Cold start: a fresh process per runtime imports the module and logs one
 * backtest (29 stats, 100k equity points, 10k trades) with its chart to the
 * in-memory MLflow test server on loopback (served from this process, so its
 * work runs on the other core). Reports, as medians of `--runs N` processes
 * per runtime (default 5): the whole process's wall time, the import, the
 * first `logBacktest` in the process that has just imported the module, and
 * import to run id; and the CPU time of the first call and of import to run
 * id, of the whole process (every thread: also the engine's background
 * compilation of resvg's WebAssembly) and of the main thread alone (Linux),
 * which a busy machine stretches far less than wall time. Node runs the npm build (`dist/node`, what `npm install`
 * users get), Deno both the sources and the URL bundle (`dist/mod.js`), Bun
 * the sources and the npm build (its `bun` condition); the Node build and the Deno bundle run once more with V8's
 * `--liftoff-only` (no optimising tier for WebAssembly): the flag the README
 * suggests on Deno for processes that draw one chart, and on Node a comparison
 * with the library's own tiering budget (`src/runtime/tiering_node.ts`); Bun's
 * npm build runs once more with `BUN_JSC_useOMGJIT=0`, JavaScriptCore's option
 * that does the same for its WebAssembly (the README's advice for Bun).
 *
 * Also the CPU time workerd spends per chart (100k-point curve, PNG and SVG)
 * in a Worker bundled like wrangler would: the first request of a fresh
 * Worker and the median of the next ones, read from the workerd process's
 * user + system time in /proc (Linux; 10 ms ticks), so it counts every thread.
 *
 * Run: `node --import tsx bench/cold_start.ts [--runs N] [--baseline DIR]`;
 * `--baseline` names another build's `dist/` (an earlier commit's
 * `npm run build`), measured as `baseline_*` in the same round-robin.
 *
 * @module
 */
import { spawn } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { resolve } from "node:path";
import process from "node:process";
import { parseArgs } from "node:util";
import * as esbuild from "esbuild";
import { build } from "../scripts/build.ts";
import { createMlflowServer } from "../test/support/mlflow_server.ts";
import { serve } from "../test/support/serve.ts";
import { bundleWorker, startWorker } from "../test/support/workerd.ts";

const { values } = parseArgs({ options: { runs: { type: "string", default: "5" }, baseline: { type: "string" } } });
const RUNS = Number(values.runs);
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error("--runs must be a whole number of 1 or more");

const dist = resolve(".bench/dist");
await build({ outDir: dist, parts: ["node", "deno"] });
// Node cannot run the TypeScript harness itself; bundle it, leaving the module under test an import.
await esbuild.build({
  entryPoints: ["bench/one_shot.ts"],
  outfile: ".bench/one_shot.mjs",
  bundle: true,
  platform: "node",
  format: "esm",
  packages: "external",
  logLevel: "silent",
});

const runtimes: Record<string, { command: string[]; entry?: string; env?: Record<string, string> }> = {
  node_npm_build: { command: [process.execPath, ".bench/one_shot.mjs"], entry: resolve(dist, "node/mod.js") },
  deno_sources: { command: ["node_modules/.bin/deno", "run", "-A", "bench/one_shot.ts"] },
  deno_url_bundle: { command: ["node_modules/.bin/deno", "run", "-A", "bench/one_shot.ts"], entry: `file://${dist}/mod.js` },
  bun_sources: { command: ["node_modules/.bin/bun", "bench/one_shot.ts"] },
  // What `bun add flox-mlflow` users get: the package's `bun` condition is the npm build.
  bun_npm_build: { command: ["node_modules/.bin/bun", ".bench/one_shot.mjs"], entry: resolve(dist, "node/mod.js") },
  // V8 without its optimising tier for WebAssembly: what the README suggests for one-chart processes.
  node_npm_build_liftoff_only: {
    command: [process.execPath, "--liftoff-only", ".bench/one_shot.mjs"],
    entry: resolve(dist, "node/mod.js"),
  },
  deno_url_bundle_liftoff_only: {
    command: ["node_modules/.bin/deno", "run", "-A", "--v8-flags=--liftoff-only", "bench/one_shot.ts"],
    entry: `file://${dist}/mod.js`,
    // Deno's code cache holds one entry per module, and V8 refuses an entry made under other flags: sharing it with
    // deno_url_bundle, each run would evict the other's, and both would compile the bundle afresh (import ~170 ms, not ~85).
    env: { DENO_DIR: resolve(".bench/deno_dir_liftoff_only") },
  },
  // JavaScriptCore without its optimising tier for WebAssembly (OMG), read from the environment at start.
  bun_npm_build_no_omg: {
    command: ["node_modules/.bin/bun", ".bench/one_shot.mjs"],
    entry: resolve(dist, "node/mod.js"),
    env: { BUN_JSC_useOMGJIT: "0" },
  },
};

// Another build of this package (its `dist/`, e.g. an earlier commit's
// `npm run build`), measured in the same round-robin: on a machine whose speed
// drifts, a before/after taken minutes apart says less than one interleaved.
if (values.baseline !== undefined) {
  const base = resolve(values.baseline);
  runtimes.baseline_node_npm_build = { command: [process.execPath, ".bench/one_shot.mjs"], entry: resolve(base, "node/mod.js") };
  runtimes.baseline_deno_url_bundle = { command: ["node_modules/.bin/deno", "run", "-A", "bench/one_shot.ts"], entry: `file://${base}/mod.js` };
  runtimes.baseline_bun_npm_build = { command: ["node_modules/.bin/bun", ".bench/one_shot.mjs"], entry: resolve(base, "node/mod.js") };
}

interface Sample {
  wall_ms: number;
  import_ms: number;
  first_log_backtest_ms: number;
  log_backtest_ms: number;
  first_log_backtest_cpu_ms: number;
  import_to_run_id_cpu_ms: number;
  first_log_backtest_main_thread_cpu_ms: number;
  import_to_run_id_main_thread_cpu_ms: number;
}

function run({ command, entry, env: extra }: { command: string[]; entry?: string; env?: Record<string, string> }, uri: string): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const env = { ...process.env, ...(entry ? { FLOX_MLFLOW_ENTRY: entry } : {}), ...extra };
    const child = spawn(command[0]!, [...command.slice(1), uri], { stdio: ["ignore", "pipe", "inherit"], env });
    let out = "";
    child.stdout.on("data", (chunk) => (out += chunk));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`${command.join(" ")} exited with ${code}`));
      const wall = Math.round(performance.now() - start);
      resolve({ wall_ms: wall, ...JSON.parse(out.trim().split("\n").at(-1)!) });
    });
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

// The worker renders the curve in the request body (timestamps then equity, raw little-endian bytes).
const WORKER_SOURCE = `
import wasm from "@resvg/resvg-wasm/index_bg.wasm";
import { initChart, renderEquityChart } from "../src/chart.ts";
export default {
  async fetch(request) {
    const body = await request.arrayBuffer();
    const n = body.byteLength / 16;
    await initChart({ wasm });
    const chart = await renderEquityChart({ timestampNs: new BigInt64Array(body, 0, n), equity: new Float64Array(body, n * 8, n) }, { title: "workerd" });
    return new Response(chart.png);
  },
};
`;

/** User + system CPU of the workerd processes this process started, in ms. */
async function workerdCpuMs(): Promise<number> {
  let ticks = 0;
  for (const pid of await readdir("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
    const m = /^\d+ \((.*)\) \S (\d+)(?: \S+){9} (\d+) (\d+)/.exec(stat);
    if (m && m[1] === "workerd" && Number(m[2]) === process.pid) ticks += Number(m[3]) + Number(m[4]);
  }
  return ticks * 10; // CLK_TCK is 100 on Linux
}

async function workerdChartCpu(): Promise<{ first_request_cpu_ms: number; warm_request_cpu_ms: number; png_bytes: number }> {
  const n = 100_000;
  const body = new Uint8Array(n * 16);
  const timestampNs = new BigInt64Array(body.buffer, 0, n);
  const equity = new Float64Array(body.buffer, n * 8, n);
  let seed = 42;
  let value = 50_000;
  for (let i = 0; i < n; i++) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    value *= 1 + (seed / 2 ** 32 - 0.5) * 0.004;
    timestampNs[i] = 1_717_200_000_000_000_000n + BigInt(i) * 60_000_000_000n;
    equity[i] = value;
  }
  const worker = await startWorker(await bundleWorker({ source: WORKER_SOURCE, resolveDir: resolve("bench") }));
  try {
    const request = async (): Promise<{ cpu: number; bytes: number }> => {
      const before = await workerdCpuMs();
      const response = await worker.fetch("/", { method: "POST", body });
      const bytes = (await response.arrayBuffer()).byteLength;
      if (response.status !== 200) throw new Error(`worker answered ${response.status}`);
      return { cpu: (await workerdCpuMs()) - before, bytes };
    };
    const first = await request();
    const warm: number[] = [];
    for (let i = 0; i < 5; i++) warm.push((await request()).cpu);
    return { first_request_cpu_ms: first.cpu, warm_request_cpu_ms: median(warm), png_bytes: first.bytes };
  } finally {
    await worker.dispose();
  }
}

const server = createMlflowServer();
const served = await serve(server.handler);
const results: Record<string, Record<string, number>> = {};
const sampled: Record<string, Sample[]> = Object.fromEntries(Object.keys(runtimes).map((name) => [name, []]));
// Round-robin, so a change in the machine's load touches every runtime alike.
for (let i = 0; i < RUNS; i++) {
  for (const [name, how] of Object.entries(runtimes)) sampled[name]!.push(await run(how, served.url));
}
for (const [name, samples] of Object.entries(sampled)) {
  results[name] = {
    process_wall_ms: median(samples.map((s) => s.wall_ms)),
    import_ms: median(samples.map((s) => s.import_ms)),
    first_log_backtest_ms: median(samples.map((s) => s.first_log_backtest_ms)),
    import_to_run_id_ms: median(samples.map((s) => s.log_backtest_ms)),
    first_log_backtest_cpu_ms: median(samples.map((s) => s.first_log_backtest_cpu_ms)),
    import_to_run_id_cpu_ms: median(samples.map((s) => s.import_to_run_id_cpu_ms)),
    first_log_backtest_main_thread_cpu_ms: median(samples.map((s) => s.first_log_backtest_main_thread_cpu_ms)),
    import_to_run_id_main_thread_cpu_ms: median(samples.map((s) => s.import_to_run_id_main_thread_cpu_ms)),
  };
}
await served.close();
console.log(JSON.stringify({
  runs: RUNS,
  cold_start_one_backtest_with_chart: results,
  workerd_chart_100k: await workerdChartCpu(),
}));
