/**
 * Equity chart benchmark: prints one JSON object with the cold costs (module
 * import, Vega setup, WebAssembly init, first render) and the warm render times
 * of a 10k-bar and a 1M-bar curve, peak memory growth and output sizes, on the
 * runtime it runs on:
 *
 *   node --import tsx bench/chart.ts
 *   npx deno run -A bench/chart.ts
 *   npx bun bench/chart.ts
 *
 * Cold steps, in order: importing the module, initChart's Vega setup (imports and
 * template compile), its WebAssembly init, with `--warm-up` its warm-up render,
 * then the first real render (10k bars). `--lazy` skips initChart, so the first
 * render pays for everything (a one-shot process that never called initChart).
 * `--runs N` sets the number of warm runs (default 9).
 *
 * Under `--import tsx` every import goes through tsx's loader thread, which
 * triples Node's import times; for Node's own cold numbers bundle first:
 *
 *   npx esbuild bench/chart.ts --bundle --format=esm --platform=node \
 *     --packages=external --outfile=.bench/chart.mjs && node .bench/chart.mjs
 *
 * @module
 */
import process from "node:process";

const args = process.argv.slice(2);
const lazy = args.includes("--lazy");
const withWarmUp = args.includes("--warm-up");
const runsAt = args.indexOf("--runs");
const RUNS = runsAt >= 0 ? Number(args[runsAt + 1]) : 9;

function runtimeName(): string {
  const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
  if (g.Deno) return `deno ${g.Deno.version.deno}`;
  if (g.Bun) return `bun ${g.Bun.version}`;
  return `node ${process.versions.node}`;
}

/** Minute bars of a geometric random walk (fixed seed), as FLOX's Node binding hands them over. */
function minuteBars(n: number): { timestampNs: BigInt64Array; equity: Float64Array } {
  const timestampNs = new BigInt64Array(n);
  const equity = new Float64Array(n);
  let seed = 20_240_101;
  const uniform = (): number => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) + 0.5) / 2 ** 32;
  const dt = 1 / (365 * 24 * 60);
  let value = 100_000;
  for (let i = 0; i < n; i++) {
    const z = Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
    if (i > 0) value *= Math.exp(0.12 * dt + 0.3 * Math.sqrt(dt) * z);
    timestampNs[i] = 1_704_067_200_000_000_000n + BigInt(i) * 60_000_000_000n;
    equity[i] = value;
  }
  return { timestampNs, equity };
}

const ms = (from: number): number => Math.round((performance.now() - from) * 10) / 10;
const mb = (bytes: number): number => Math.round((bytes / 2 ** 20) * 10) / 10;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Peak resident set size so far, where the runtime reports it (bytes), else the current one. */
function peakRss(): number {
  try {
    const usage = process.resourceUsage?.();
    if (usage && usage.maxRSS > 0) return usage.maxRSS * 1024;
  } catch {
    // Not every runtime implements resourceUsage.
  }
  return process.memoryUsage().rss;
}

/** Median and spread of RUNS renders, after three unmeasured ones so the JIT has settled. */
async function warm(
  render: () => Promise<{ points: number; png?: Uint8Array; svg: string }>,
): Promise<{ medianMs: number; cpuMedianMs: number; minMs: number; maxMs: number; runs: number; points: number; pngBytes: number; svgBytes: number }> {
  let last = await render();
  for (let i = 0; i < 2; i++) last = await render();
  const times: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    const c = process.cpuUsage();
    last = await render();
    times.push(ms(t));
    const used = process.cpuUsage(c);
    cpu.push(Math.round((used.user + used.system) / 100) / 10);
  }
  return {
    medianMs: median(times),
    // CPU time of the process (every thread) per render: less stretched than wall time on a busy machine.
    cpuMedianMs: median(cpu),
    minMs: Math.min(...times),
    maxMs: Math.max(...times),
    runs: RUNS,
    points: last.points,
    pngBytes: last.png?.length ?? 0,
    svgBytes: last.svg.length,
  };
}

/**
 * Warm timings of `render` and how far RSS rose above its level before: the
 * highest of RSS after each render and, when it grew meanwhile, the process's
 * peak RSS (which also catches peaks inside a render).
 */
async function warmWithMemory(
  render: () => Promise<{ points: number; png?: Uint8Array; svg: string }>,
): Promise<{ timing: Awaited<ReturnType<typeof warm>>; peakRssGrowthMB: number; heapGrowthMB: number }> {
  const rssBefore = process.memoryUsage().rss;
  const peakBefore = peakRss();
  const heapBefore = process.memoryUsage().heapUsed;
  let highest = rssBefore;
  const timing = await warm(async () => {
    const out = await render();
    highest = Math.max(highest, process.memoryUsage().rss);
    return out;
  });
  const peakAfter = peakRss();
  if (peakAfter > peakBefore) highest = Math.max(highest, peakAfter);
  return {
    timing,
    peakRssGrowthMB: mb(highest - rssBefore),
    heapGrowthMB: mb(process.memoryUsage().heapUsed - heapBefore),
  };
}

const small = minuteBars(10_000);
const large = minuteBars(1_000_000);
const inputBytes = small.equity.byteLength * 2 + large.equity.byteLength * 2;

const tImport = performance.now();
const chart = await import("../src/chart.ts");
const { normalizeEquity } = await import("../src/equity.ts");
const { downsampleEquity } = await import("../src/downsample.ts");
const coldImportMs = ms(tImport);

let initVegaMs: number | undefined;
let initWasmMs: number | undefined;
let warmUpMs: number | undefined;
if (!lazy) {
  // Vega first, then the WebAssembly alone, then (if asked) the warm-up render, so each cost shows.
  let t = performance.now();
  await chart.initChart({ png: false });
  initVegaMs = ms(t);
  t = performance.now();
  await chart.initChart();
  initWasmMs = ms(t);
  if (withWarmUp) {
    t = performance.now();
    await chart.initChart({ warmUp: true });
    warmUpMs = ms(t);
  }
}
const tFirst = performance.now();
const cFirst = process.cpuUsage();
const first = await chart.renderEquityChart(small, { title: "bench 10k" });
const firstRenderMs = ms(tFirst);
const firstCpu = process.cpuUsage(cFirst);
const firstRenderCpuMs = Math.round((firstCpu.user + firstCpu.system) / 1000);

const warm10k = await warm(() => chart.renderEquityChart(small, { title: "bench 10k" }));

// The logging flow normalises the curve once (for the CSV too) and hands the chart the result;
// "1M columns" also pays for normalizeEquity (src/equity.ts) on every render.
const normalized = normalizeEquity(large);
const fromNormalized = await warmWithMemory(() => chart.renderEquityChart(normalized, { title: "bench 1M" }));
const fromColumns = await warmWithMemory(() => chart.renderEquityChart(large, { title: "bench 1M" }));

const downsampleTimes: number[] = [];
const normalizeTimes: number[] = [];
for (let i = 0; i < RUNS; i++) {
  let t = performance.now();
  normalizeEquity(large);
  normalizeTimes.push(ms(t));
  t = performance.now();
  downsampleEquity(normalized.equity, normalized.drawdownPct, 2000);
  downsampleTimes.push(ms(t));
}

console.log(JSON.stringify(
  {
    runtime: runtimeName(),
    lazy,
    cold: { importMs: coldImportMs, initVegaMs, initWasmMs, warmUpMs, firstRender10kMs: firstRenderMs, firstRender10kCpuMs: firstRenderCpuMs },
    warm: { "10k": warm10k, "1M normalized": fromNormalized.timing, "1M columns": fromColumns.timing },
    parts1M: { normalizeEquityMedianMs: median(normalizeTimes), downsampleMedianMs: median(downsampleTimes) },
    memory: {
      inputArraysMB: mb(inputBytes),
      "1M normalized": { peakRssGrowthMB: fromNormalized.peakRssGrowthMB, heapGrowthMB: fromNormalized.heapGrowthMB },
      "1M columns": { peakRssGrowthMB: fromColumns.peakRssGrowthMB, heapGrowthMB: fromColumns.heapGrowthMB },
    },
    sizes: { pngBytes: first.png?.length ?? 0, svgBytes: first.svg.length, points10k: first.points },
  },
  null,
  2,
));
