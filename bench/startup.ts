/**
 * Start-up figures, as a user meets them: the package is packed and installed
 * into a temporary project (Node, Bun), `dist/mod.js` is served over HTTP and
 * imported by URL (Deno), and the Cloudflare Worker example is bundled and
 * started in workerd. For each runtime, in fresh processes: module import
 * time, time from process start until the module is usable, and the first
 * `logBacktest` call (10k-bar equity curve, 1k trades) with and without the
 * chart, against the in-memory MLflow server on 127.0.0.1. Also the Worker's
 * bundle size and the packed package size. Prints one JSON object (medians of
 * `--runs N` fresh processes, default 3); progress goes to stderr.
 *
 * Run: `node --import tsx bench/startup.ts [--runs N]`.
 *
 * @module
 */
import { execFile } from "node:child_process";
import { copyFile, cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import os, { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import * as esbuild from "esbuild";
import { build } from "../scripts/build.ts";
import { serve } from "../test/support/serve.ts";
import { startTarget } from "../test/support/target.ts";
import { bundleWorker, startWorker } from "../test/support/workerd.ts";
import { backtestOfSize } from "./fixtures.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const BIN = join(REPO, "node_modules", ".bin");
const NPM: [string, string[]] = process.env.npm_execpath?.endsWith(".js")
  ? [process.execPath, [process.env.npm_execpath]]
  : ["npm", []];

/** One fresh process's figures, in milliseconds. */
interface ProbeResult {
  /** `await import(...)` of the package. */
  importMs: number;
  /** From process start until the import resolved (runtime start-up included). */
  readyMs: number;
  /** The first `logBacktest` call. */
  firstCallMs: number;
}

/** Median figures of one runtime. */
interface RuntimeFigures {
  import_ms: number;
  ready_ms: number;
  first_call_ms: { chart: number; no_chart: number };
}

/**
 * The probe every runtime runs: import the package by the specifier given,
 * then log the prepared backtest once. Plain JavaScript with `node:` imports
 * only, so Node, Bun and Deno run the same file.
 */
const PROBE = `
import { readFile } from "node:fs/promises";
import process from "node:process";
const [specifier, trackingUri, mode, dataFile] = process.argv.slice(2);
const backtest = JSON.parse(await readFile(dataFile, "utf8"));
const t0 = performance.now();
const { logBacktest } = await import(specifier);
const t1 = performance.now();
await logBacktest({ ...backtest, trackingUri, env: {}, experiment: "startup-bench", chart: mode === "chart" });
const t2 = performance.now();
console.log(JSON.stringify({ importMs: t1 - t0, readyMs: t1, firstCallMs: t2 - t1 }));
`;

function run(file: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<string> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(npm_|MLFLOW_|DENO_)/i.test(key)));
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd, env: { ...clean, NO_COLOR: "1", ...env }, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${file} ${args.join(" ")} failed: ${stderr || error.message}`));
      else resolve(stdout);
    });
  });
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const value = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return Math.round(value);
};

const log = (message: string): void => void process.stderr.write(`startup bench: ${message}\n`);

/** JSON with BigInts as digit strings, which the package reads as exact nanoseconds. */
const toJson = (value: unknown): string => JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));

async function probeRuntime(
  command: (mode: string) => [string, string[]],
  cwd: string,
  runs: number,
  env: Record<string, string> = {},
): Promise<RuntimeFigures> {
  const results: Record<string, ProbeResult[]> = { chart: [], no_chart: [] };
  for (let i = 0; i < runs; i++) {
    for (const mode of ["chart", "no_chart"] as const) {
      const [file, args] = command(mode);
      const out = await run(file, args, cwd, env);
      results[mode]!.push(JSON.parse(out.trim().split("\n").at(-1)!) as ProbeResult);
    }
  }
  const all = [...results.chart!, ...results.no_chart!];
  return {
    import_ms: median(all.map((r) => r.importMs)),
    ready_ms: median(all.map((r) => r.readyMs)),
    first_call_ms: {
      chart: median(results.chart!.map((r) => r.firstCallMs)),
      no_chart: median(results.no_chart!.map((r) => r.firstCallMs)),
    },
  };
}

/** Packs the package from a copy of the sources (so `dist/` stays out of the work tree) and installs it. */
async function packAndInstall(work: string): Promise<{ consumer: string; pack: { size: number; unpackedSize: number; files: { path: string; size: number }[] } }> {
  const stage = join(work, "stage");
  await cp(join(REPO, "src"), join(stage, "src"), { recursive: true });
  await cp(join(REPO, "scripts"), join(stage, "scripts"), { recursive: true });
  for (const name of ["package.json", "mod.ts"]) await copyFile(join(REPO, name), join(stage, name));
  await symlink(join(REPO, "node_modules"), join(stage, "node_modules"), "dir");
  const out = await run(NPM[0], [...NPM[1], "pack", "--json", "--pack-destination", work], stage);
  const pack = (JSON.parse(out.slice(out.search(/^\[/m))) as { filename: string; size: number; unpackedSize: number; files: { path: string; size: number }[] }[])[0]!;
  const consumer = join(work, "consumer");
  await mkdir(consumer);
  await writeFile(join(consumer, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  await run(NPM[0], [...NPM[1], "install", "--prefer-offline", "--no-audit", "--no-fund", join(work, pack.filename)], consumer);
  return { consumer, pack };
}

async function workerFigures(trackingUri: string, runs: number, backtestJson: string): Promise<Record<string, unknown>> {
  const source = (chart: boolean) => `
import worker from "../examples/cloudflare-worker/src/index.ts";
export default { fetch: (request: Request) => worker.fetch(request, { MLFLOW_TRACKING_URI: ${JSON.stringify(trackingUri)}, LOG_CHART: "${chart}" }) };
`;
  const resolveDir = join(REPO, "test");
  const bundle = await bundleWorker({ source: source(true), resolveDir });
  const wasm = Object.values(bundle.wasm)[0]!;
  const script = new TextEncoder().encode(bundle.script);
  const minified = new TextEncoder().encode((await esbuild.transform(bundle.script, { minify: true, format: "esm" })).code);
  const gzip = (bytes: Uint8Array): number => gzipSync(bytes, { level: 9 }).byteLength;
  const starts: number[] = [];
  const first: Record<string, number[]> = { chart: [], no_chart: [] };
  for (let i = 0; i < runs; i++) {
    for (const chart of [true, false]) {
      const t0 = performance.now();
      const worker = await startWorker(chart ? bundle : await bundleWorker({ source: source(false), resolveDir }));
      const t1 = performance.now();
      try {
        const response = await worker.fetch("/", { method: "POST", body: backtestJson });
        if (response.status !== 201) throw new Error(`worker answered ${response.status}: ${await response.text()}`);
        await response.arrayBuffer();
        first[chart ? "chart" : "no_chart"]!.push(performance.now() - t1);
      } finally {
        await worker.dispose();
      }
      starts.push(t1 - t0);
    }
  }
  return {
    bundle: {
      script_bytes: script.byteLength,
      script_gzip_bytes: gzip(script),
      script_minified_bytes: minified.byteLength,
      script_minified_gzip_bytes: gzip(minified),
      wasm_bytes: wasm.byteLength,
      wasm_gzip_bytes: gzip(wasm),
      total_minified_gzip_bytes: gzip(minified) + gzip(wasm),
    },
    // miniflare start: the workerd process and the Worker's script start-up.
    start_ms: median(starts),
    first_call_ms: { chart: median(first.chart!), no_chart: median(first.no_chart!) },
  };
}

const { values } = parseArgs({ options: { runs: { type: "string", default: "3" } } });
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error("--runs must be a whole number of 1 or more");

const work = await mkdtemp(join(tmpdir(), "flox-startup-bench-"));
const target = await startTarget();
try {
  const backtest = backtestOfSize(10_000, 1_000);
  const backtestJson = toJson({ ...backtest, runName: "startup-bench" });
  const dataFile = join(work, "backtest.json");
  await writeFile(dataFile, backtestJson);

  log("packing and installing the package");
  const { consumer, pack } = await packAndInstall(work);
  await writeFile(join(consumer, "probe.mjs"), PROBE);
  const probeArgs = (specifier: string, mode: string) => ["probe.mjs", specifier, target.trackingUri, mode, dataFile];

  log("Node");
  const node = await probeRuntime((mode) => [process.execPath, probeArgs("flox-mlflow", mode)], consumer, runs);
  log("Bun");
  const bun = await probeRuntime((mode) => [join(BIN, "bun"), probeArgs("flox-mlflow", mode)], consumer, runs);

  log("Deno (dist/mod.js by URL)");
  const denoDist = join(work, "deno-dist");
  const denoFiles = (await build({ outDir: denoDist, parts: ["deno"] })).files;
  const server = await serve(async (request) => {
    const name = new URL(request.url).pathname.slice(1);
    if (!(name in denoFiles)) return new Response("not found", { status: 404 });
    return new Response(new Uint8Array(await readFile(join(denoDist, name))), {
      headers: { "content-type": name.endsWith(".wasm") ? "application/wasm" : "text/javascript" },
    });
  });
  let deno: RuntimeFigures & { first_import_with_download_ms?: number };
  try {
    const url = `${server.url}/mod.js`;
    const denoEnv = { DENO_DIR: join(work, "deno-cache"), DENO_NO_UPDATE_CHECK: "1" };
    const denoCommand = (mode: string): [string, string[]] => [join(BIN, "deno"), ["run", "-A", ...probeArgs(url, mode)]];
    // The first run downloads the module into Deno's cache; later runs, measured below, import from the cache.
    const download = JSON.parse((await run(...denoCommand("no_chart"), consumer, denoEnv)).trim().split("\n").at(-1)!) as ProbeResult;
    deno = { ...(await probeRuntime(denoCommand, consumer, runs, denoEnv)), first_import_with_download_ms: Math.round(download.importMs) };
  } finally {
    await server.close();
  }

  log("workerd (the Cloudflare Worker example)");
  const workerd = await workerFigures(target.trackingUri, runs, backtestJson);

  const withoutDenoBundle = pack.files
    .filter((f) => f.path !== "dist/mod.js" && f.path !== "dist/mod.d.ts")
    .reduce((sum, f) => sum + f.size, 0);
  const versions = async (file: string): Promise<string> => (await run(file, ["--version"], REPO)).trim().split("\n")[0]!;
  console.log(JSON.stringify(
    {
      machine: {
        cpus: os.cpus().length,
        node: process.versions.node,
        bun: await versions(join(BIN, "bun")),
        deno: await versions(join(BIN, "deno")),
      },
      runs,
      workload: "first logBacktest: 29 stats, 10k-point equity curve, 1k trades, to the in-memory MLflow server on 127.0.0.1",
      node,
      bun,
      deno,
      workerd,
      package: {
        tarball_bytes: pack.size,
        unpacked_bytes: pack.unpackedSize,
        files: pack.files.length,
        unpacked_without_deno_bundle_bytes: withoutDenoBundle,
      },
    },
    null,
    2,
  ));
} finally {
  await target.close();
  await rm(work, { recursive: true, force: true });
}
