/**
 * The Cloudflare Worker example (examples/cloudflare-worker) in workerd,
 * bundled as wrangler would (esbuild, `workerd` condition, `.wasm` imported as
 * a compiled module, no `nodejs_compat`): a backtest POSTed as JSON is logged
 * to the in-memory MLflow server on 127.0.0.1 and read back over REST. Also
 * bundles the example with `wrangler deploy --dry-run` and runs what wrangler
 * would upload, and checks the package's edge and workerd builds
 * (`scripts/build.ts`, parts `edge` and `workerd`).
 *
 * Node only: miniflare drives the workerd binary from Node, so under Deno or
 * Bun this file registers no tests.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { runSmaCrossover, syntheticMarket } from "../examples/sma_backtest.ts";
import { type RestRun, restReader, type Target, startTarget } from "./support/target.ts";
import type { RunningWorker, WorkerBundle } from "./support/workerd.ts";
import { onNode } from "./support/node.ts";

const EXAMPLE = new URL("../examples/cloudflare-worker/", import.meta.url);
const TOKEN = "test-ingest-token";
const FREE_PLAN_GZIP_LIMIT = 3_000_000;

/**
 * What wrangler.jsonc `vars` and secrets give a deployed Worker, here from
 * the test; a request's query string overrides them (e.g. `?LOG_CHART=false`).
 */
function wrapperSource(bindings: Record<string, string>): string {
  return `
import worker from "../examples/cloudflare-worker/src/index.ts";
const bindings = ${JSON.stringify(bindings)};
export default {
  fetch(request: Request, env: Record<string, unknown>) {
    const overrides = Object.fromEntries(new URL(request.url).searchParams);
    return worker.fetch(request, { ...env, ...bindings, ...overrides });
  },
};
`;
}

/** JSON as Python's json.dumps writes a FLOX result: bare NaN/Infinity, integers with every digit. */
function pythonJson(value: unknown): string {
  const raw = "\u0000raw:";
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === "bigint") return raw + v.toString();
    if (typeof v === "number" && !Number.isFinite(v)) return raw + String(v);
    return v;
  });
  return text.replace(/"\\u0000raw:([^"]*)"/g, "$1");
}

function pngSize(bytes: Uint8Array): { width: number; height: number } {
  assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], "PNG signature");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

const tagsOf = (run: RestRun): Record<string, string> => Object.fromEntries((run.data.tags ?? []).map((t) => [t.key, t.value]));
const paramsOf = (run: RestRun): Record<string, string> =>
  Object.fromEntries((run.data.params ?? []).map((p) => [p.key, p.value]));
const metricsOf = (run: RestRun): Record<string, unknown> =>
  Object.fromEntries((run.data.metrics ?? []).map((m) => [m.key, m.value]));

if (onNode) {
  describe("the Cloudflare Worker example on workerd", () => {
    const market = syntheticMarket(20_000, 7);
    const params = { fast: 20, slow: 120, fee: 0.0004, capital: 10_000 };
    const result = runSmaCrossover(market, params);
    // FLOX's own edge cases: a profit factor without losing trades, a flat Sharpe.
    const stats = { ...result.stats, profit_factor: Infinity, flat_sharpe: NaN };
    let target: Target;
    let bundle: WorkerBundle;
    let worker: RunningWorker;

    before(async () => {
      target = await startTarget();
      const { bundleWorker, startWorker } = await import("./support/workerd.ts");
      bundle = await bundleWorker({
        source: wrapperSource({
          MLFLOW_TRACKING_URI: target.trackingUri,
          MLFLOW_EXPERIMENT_NAME: "worker-default",
          INGEST_TOKEN: TOKEN,
        }),
        resolveDir: fileURLToPath(new URL(".", import.meta.url)),
      });
      worker = await startWorker(bundle);
    });

    after(async () => {
      await worker?.dispose();
      await target?.close();
    });

    const post = (body: string, options: { token?: string; query?: string } = {}): Promise<Response> =>
      worker.fetch(`/${options.query ?? ""}`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${options.token ?? TOKEN}` },
        body,
      });

    const experimentMissing = async (name: string): Promise<boolean> =>
      restReader(target.trackingUri).getExperimentByName(name).then(() => false, (error: { status?: number }) => error.status === 404);

    test("a POSTed FLOX backtest is logged with metrics, params, tags, both CSVs and the PNG chart", async () => {
      const body = pythonJson({
        runName: "sma-20-120-worker",
        experiment: "sma-worker",
        stats,
        params,
        tags: { strategy: "sma_crossover", source: "cloudflare-worker" },
        equityCurve: result.equityCurve,
        trades: result.trades,
      });
      const response = await post(body);
      const answer = (await response.json()) as { runId?: string; error?: string };
      assert.equal(response.status, 201, JSON.stringify(answer));
      assert.match(answer.runId ?? "", /^[0-9a-f]{32}$/);

      const reader = restReader(target.trackingUri);
      const { run } = await reader.getRun(answer.runId!);
      const { experiment } = await reader.getExperimentByName("sma-worker");
      assert.equal(run.info.experiment_id, experiment.experiment_id);
      assert.equal(run.info.run_name, "sma-20-120-worker");
      assert.equal(run.info.status, "FINISHED");

      const metrics = metricsOf(run);
      const tags = tagsOf(run);
      assert.equal(metrics.sharpe_ratio, result.stats.sharpe_ratio);
      assert.equal(metrics.total_trades, result.trades.length);
      assert.equal(tags.profit_factor, "Infinity");
      assert.equal(tags.flat_sharpe, "NaN");
      // Nanosecond epochs are beyond 2^53: they arrive as bare JSON integers and keep every digit.
      assert.equal(tags.start_time_ns, String(result.stats.start_time_ns));
      assert.equal(tags.end_time_ns, String(result.stats.end_time_ns));
      assert.equal(tags.strategy, "sma_crossover");
      assert.equal(tags["flox.chart_error"], undefined);
      assert.deepEqual(paramsOf(run), { fast: "20", slow: "120", fee: "0.0004", capital: "10000" });

      const curveCsv = new TextDecoder().decode(await reader.getArtifact(run, "equity_curve.csv")).trimEnd().split("\n");
      assert.equal(curveCsv[0], "timestamp_ns,equity,drawdown_pct");
      assert.equal(curveCsv.length, market.close.length + 1);
      assert.equal(curveCsv[1]!.split(",")[0], String(market.timestampNs[0]));
      const tradesCsv = new TextDecoder().decode(await reader.getArtifact(run, "trades.csv")).trimEnd().split("\n");
      assert.equal(tradesCsv.length, result.trades.length + 1);
      assert.ok(tradesCsv[0]!.startsWith("symbol,side,entry_price,exit_price"), tradesCsv[0]!);
      assert.deepEqual(pngSize(await reader.getArtifact(run, "equity_curve.png")), { width: 1200, height: 640 });
      const svg = new TextDecoder().decode(await reader.getArtifact(run, "equity_curve.svg"));
      assert.ok(svg.includes("sma-20-120-worker"), "the chart is titled with the run name");
    });

    test("with LOG_CHART=false (the Workers Free plan) the run has its CSVs but no chart, in the binding's experiment", async () => {
      const response = await post(pythonJson({ stats, params, equityCurve: result.equityCurve }), { query: "?LOG_CHART=false" });
      const answer = (await response.json()) as { runId?: string; error?: string };
      assert.equal(response.status, 201, JSON.stringify(answer));
      const reader = restReader(target.trackingUri);
      const { run } = await reader.getRun(answer.runId!);
      assert.equal(run.info.experiment_id, (await reader.getExperimentByName("worker-default")).experiment.experiment_id);
      const csv = new TextDecoder().decode(await reader.getArtifact(run, "equity_curve.csv"));
      assert.equal(csv.split("\n").filter(Boolean).length, market.close.length + 1);
      for (const chart of ["equity_curve.png", "equity_curve.svg"]) {
        await assert.rejects(reader.getArtifact(run, chart), (error: { status?: number }) => error.status === 404, chart);
      }
    });

    test("without the ingest token the Worker answers 401 and creates nothing", async () => {
      const body = pythonJson({ experiment: "never-created-401", stats });
      const wrong = await post(body, { token: "not-the-token" });
      assert.equal(wrong.status, 401);
      const missing = await worker.fetch("/", { method: "POST", body });
      assert.equal(missing.status, 401);
      assert.ok(await experimentMissing("never-created-401"));
    });

    test("a body that is not a valid backtest is refused with 400 naming the field, before any run exists", async () => {
      const cases: [string, string][] = [
        ["{not json", "body"],
        ["[1, 2]", "body"],
        [JSON.stringify({ experiment: "never-created-400", params: [10, 20] }), "params"],
        [JSON.stringify({ experiment: "never-created-400", equityCurve: [{ timestamp_ns: "1", equity: "high" }] }), "equityCurve[0].equity"],
      ];
      for (const [body, field] of cases) {
        const response = await post(body);
        assert.equal(response.status, 400, body);
        assert.equal(((await response.json()) as { field?: string }).field, field);
      }
      assert.ok(await experimentMissing("never-created-400"));
    });

    test("anything but POST is refused with 405", async () => {
      const response = await worker.fetch("/", { method: "GET" });
      assert.equal(response.status, 405);
      assert.equal(response.headers.get("allow"), "POST");
    });

    test("the Worker bundle imports resvg's WebAssembly as a module, imports no node: module and fits the free plan's 3 MB gzip limit", (t) => {
      assert.deepEqual(Object.keys(bundle.wasm), ["index_bg.wasm"]);
      // Imported on the first chart, as a module beside the script: the example itself never names the .wasm.
      assert.match(bundle.script, /import\s*\(\s*["']\.\/index_bg\.wasm["']\s*\)/);
      assert.doesNotMatch(bundle.script, /(?:from|import)\s*\(?\s*["']node:/);
      const wasm = bundle.wasm["index_bg.wasm"]!;
      const script = new TextEncoder().encode(bundle.script);
      const gzip = gzipSync(script).byteLength + gzipSync(wasm).byteLength;
      t.diagnostic(`worker bundle: script ${script.byteLength} B + wasm ${wasm.byteLength} B raw, ${gzip} B gzip`);
      assert.ok(gzip < FREE_PLAN_GZIP_LIMIT, `${gzip} B gzip`);
    });

    test("wrangler.jsonc deploys src/index.ts without the nodejs_compat flag", async () => {
      const text = await readFile(new URL("wrangler.jsonc", EXAMPLE), "utf8");
      // JSONC: drop // comments that are not inside strings, then trailing commas.
      const config = JSON.parse(
        text.replace(/"(?:[^"\\]|\\.)*"|\/\/[^\n]*/g, (m) => (m.startsWith('"') ? m : "")).replace(/,(\s*[}\]])/g, "$1"),
      ) as { main?: string; compatibility_date?: string; compatibility_flags?: string[]; vars?: Record<string, string> };
      assert.equal(config.main, "src/index.ts");
      assert.match(config.compatibility_date ?? "", /^\d{4}-\d{2}-\d{2}$/);
      assert.ok(!(config.compatibility_flags ?? []).some((flag) => flag.startsWith("nodejs_compat")));
      assert.ok(config.vars && "MLFLOW_TRACKING_URI" in config.vars && config.vars.LOG_CHART !== undefined);
      await readFile(new URL(config.main!, EXAMPLE));
    });
  });

  describe("the Cloudflare Worker example as wrangler deploy --dry-run bundles it", () => {
    let target: Target;
    let outDir: string;
    let worker: RunningWorker | undefined;
    let dryRun: { code: number; output: string };
    let uploaded: WorkerBundle;

    before(async () => {
      target = await startTarget();
      outDir = await mkdtemp(join(tmpdir(), "flox-wrangler-"));
      const wrangler = fileURLToPath(new URL("../node_modules/wrangler/bin/wrangler.js", import.meta.url));
      dryRun = await new Promise((resolve) => {
        execFile(
          process.execPath,
          [wrangler, "deploy", "--dry-run", "--outdir", outDir],
          // No telemetry or update checks: the run stays on this machine.
          { cwd: fileURLToPath(EXAMPLE), env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", CI: "1" }, timeout: 180_000 },
          (error, stdout, stderr) => resolve({ code: error === null ? 0 : 1, output: stdout + stderr }),
        );
      });
      // What wrangler would upload: the script and each module file beside it, by the name the script imports.
      const files = dryRun.code === 0 ? await readdir(outDir) : [];
      const wasm: Record<string, Uint8Array> = {};
      for (const name of files.filter((f) => f.endsWith(".wasm"))) wasm[name] = new Uint8Array(await readFile(join(outDir, name)));
      uploaded = { script: dryRun.code === 0 ? await readFile(join(outDir, "index.js"), "utf8") : "", wasm };
    });

    after(async () => {
      await worker?.dispose();
      await target?.close();
      if (outDir) await rm(outDir, { recursive: true, force: true });
    });

    test("wrangler bundles the Worker with resvg's .wasm as a module of its own, without configuration", () => {
      assert.equal(dryRun.code, 0, dryRun.output);
      assert.match(dryRun.output, /--dry-run: exiting now/);
      const names = Object.keys(uploaded.wasm);
      assert.equal(names.length, 1, names.join(", "));
      assert.ok(uploaded.script.includes(`"./${names[0]}"`), "the script imports the module by its uploaded name");
      assert.doesNotMatch(uploaded.script, /(?:from|import)\s*\(?\s*["']node:/);
    });

    test("wrangler's bundle, run in workerd with the wrangler.jsonc bindings, logs a run with its chart: no initChart anywhere", async () => {
      assert.doesNotMatch(await readFile(new URL("src/index.ts", EXAMPLE), "utf8"), /initChart\s*\(|["'][^"'\n]*\.wasm["']/);
      const { startWorker } = await import("./support/workerd.ts");
      worker = await startWorker(uploaded, { MLFLOW_TRACKING_URI: target.trackingUri, MLFLOW_EXPERIMENT_NAME: "wrangler-bundle", LOG_CHART: "true" });
      const equityCurve = Array.from({ length: 800 }, (_, i) => ({ timestamp_ns: String(1717200000000000000n + BigInt(i) * 60000000000n), equity: 100 + i }));
      const response = await worker.fetch("/", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ runName: "from-wrangler", stats: { sharpe_ratio: 1.5 }, equityCurve }),
      });
      const answer = (await response.json()) as { runId?: string };
      assert.equal(response.status, 201, JSON.stringify(answer));
      const reader = restReader(target.trackingUri);
      const { run } = await reader.getRun(answer.runId!);
      assert.equal(run.info.run_name, "from-wrangler");
      assert.equal(run.info.experiment_id, (await reader.getExperimentByName("wrangler-bundle")).experiment.experiment_id);
      assert.equal(tagsOf(run)["flox.chart_error"], undefined);
      assert.deepEqual(pngSize(await reader.getArtifact(run, "equity_curve.png")), { width: 1200, height: 640 });
    });
  });

  describe("the package's edge and workerd builds", () => {
    let outDir: string;
    let edge: Record<string, string>;
    let workerd: Record<string, string>;
    let node: Record<string, string>;

    before(async () => {
      outDir = await mkdtemp(join(tmpdir(), "flox-edge-build-"));
      const { build } = await import("../scripts/build.ts");
      const report = await build({ outDir, parts: ["edge", "workerd", "node"] });
      const read = async (prefix: string): Promise<Record<string, string>> => {
        const files: Record<string, string> = {};
        for (const file of Object.keys(report.files).filter((f) => f.startsWith(prefix) && f.endsWith(".js"))) {
          files[file] = await readFile(join(outDir, file), "utf8");
        }
        return files;
      };
      edge = await read("edge/");
      workerd = await read("workerd/");
      node = await read("node/");
    });

    after(async () => {
      if (outDir) await rm(outDir, { recursive: true, force: true });
    });

    // The node build is checked with the same patterns, so the checks are shown to find what they look for.
    const fileSystemCode = [/["']node:/, /import\.meta\.resolve/, /file store: could not/];

    test("have no file-system code and no node: import, where the node build has both", () => {
      assert.deepEqual(Object.keys(edge).filter((f) => !f.includes("shared-")).sort(), ["edge/chart.js", "edge/mod.js"]);
      assert.deepEqual(Object.keys(workerd).filter((f) => !f.includes("shared-")).sort(), ["workerd/chart.js", "workerd/mod.js"]);
      for (const pattern of fileSystemCode) {
        for (const [file, text] of Object.entries({ ...edge, ...workerd })) assert.doesNotMatch(text, pattern, file);
        assert.ok(Object.values(node).some((text) => pattern.test(text)), `node build lacks ${pattern}`);
      }
    });

    test("have no code generation from strings (eval, Function) and leave resvg an import for the worker's bundler", () => {
      for (const [file, text] of Object.entries({ ...edge, ...workerd })) {
        assert.doesNotMatch(text, /\beval\s*\(|\bFunction\s*\(/, file);
      }
      for (const build of [edge, workerd]) {
        assert.ok(Object.values(build).some((text) => /(?:from\s*|import\s*\(\s*)["']@resvg\/resvg-wasm["']/.test(text)));
      }
    });

    // What only each cloud's store sends: S3's and Azure's listings, GCS's objects list, Databricks' signed-URL request.
    const storeCode = [/\(ListObjectsV2\)/, /\(List Blobs\)/, /\(objects list\)/, /credentials-for-write/];

    // The node build imports the stores with the module (src/runtime/clouds_eager.ts says why), which shows the check finds them.
    test("reach no cloud's artifact store code by static imports from mod.js, import() loads it; the node build imports it with the module", () => {
      for (const [name, files] of Object.entries({ edge, workerd, node })) {
        const reached = new Set<string>();
        const loaded = new Set<string>();
        for (let queue = [`${name}/mod.js`], file = queue.pop(); file !== undefined; file = queue.pop()) {
          if (reached.has(file)) continue;
          reached.add(file);
          const text = files[file];
          assert.ok(text !== undefined, `${file} is not in the ${name} build`);
          const sibling = (path: string): string => `${name}/${path.slice(2)}`;
          for (const [, path] of text.matchAll(/^(?:import|export)\b[^;]*?["'](\.\/[^"']+)["'];/gm)) queue.push(sibling(path!));
          for (const [, path] of text.matchAll(/\bimport\(\s*["'](\.\/[^"']+)["']\s*\)/g)) loaded.add(sibling(path!));
        }
        for (const pattern of storeCode) {
          if (name === "node") {
            assert.ok([...reached].some((file) => pattern.test(files[file]!)), `node: no statically imported file holds ${pattern}`);
            continue;
          }
          for (const file of reached) assert.doesNotMatch(files[file]!, pattern, `${file}, statically imported by ${name}/mod.js`);
          assert.ok([...loaded].some((file) => pattern.test(files[file] ?? "")), `${name}: no chunk loaded by import() holds ${pattern}`);
        }
      }
    });

    test("the workerd build imports resvg's .wasm itself; the edge build (other workers, browsers) leaves it to initChart", () => {
      const wasmImport = /import\s*\(\s*["']@resvg\/resvg-wasm\/index_bg\.wasm["']\s*\)/;
      assert.ok(Object.values(workerd).some((text) => wasmImport.test(text)));
      for (const [file, text] of Object.entries(edge)) assert.doesNotMatch(text, /(?:from\s*|import\s*\(\s*)["'][^"']*index_bg\.wasm["']/, file);
    });
  });
}
