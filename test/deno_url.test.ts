/**
 * Deno without deno.json, import map or node_modules: `npm run build`'s
 * self-contained `dist/mod.js` (built here into a temporary folder) is served
 * over HTTP on 127.0.0.1, and a script in an empty temporary folder imports it
 * by URL, with a fresh `DENO_DIR`, `--no-prompt` and only the permissions the
 * README names, and logs a backtest with its chart to the in-memory MLflow
 * server or into `./mlruns`, which the test reads back; then again with the
 * module's host gone. Deno's permission audit log (`DENO_AUDIT_PERMISSIONS`)
 * shows that nothing else was asked for. `deno check` reads the types the
 * module names (`@ts-self-types`). Also runs `examples/deno.ts` from this
 * repository.
 *
 * Node only: the test drives the `deno` binary from Node, so under Deno or Bun
 * this file registers no tests.
 */
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { readMlruns } from "./support/mlruns_reader.ts";
import { cleanEnv, DENO, type DenoRan, runCommand, runDeno as runDenoWith, type ServedBuild, serveBuild } from "./support/deno_url.ts";
import { restReader, type RestRun, startTarget, type Target, valuesOf } from "./support/target.ts";
import { onNode } from "./support/node.ts";

// Git source tags look for `.git` from the script's folder up. On Deno each folder is first a
// permission query (`Deno.permissions.querySync`, which never prompts but is in the audit log),
// and the look stops at the first folder not granted: the script's own, here.
const gitLookup = (line: string): boolean => /^read \/.*\/flox-deno-user-[^/]+$/.test(line);

const REPO = fileURLToPath(new URL("..", import.meta.url));
function pngSize(bytes: Uint8Array): { width: number; height: number } {
  assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], "PNG signature");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

/** A user's script: nothing but a URL import. The backtest is made up inline (no local imports). */
function userScript(moduleUrl: string): string {
  return `
import { logBacktest } from "${moduleUrl}";

const [trackingUri, runName] = Deno.args;
const start = 1717200000000000000n;
const equityCurve = [];
let equity = 10000;
for (let i = 0; i < 3000; i++) {
  equity *= 1 + Math.sin(i / 40) * 0.002;
  equityCurve.push({ timestamp_ns: start + BigInt(i) * 60000000000n, equity });
}
const runId = await logBacktest({
  ...(trackingUri ? { trackingUri, runName } : {}),
  experiment: "deno-url",
  stats: { sharpe_ratio: 1.25, total_trades: 2, profit_factor: Infinity, start_time_ns: start + 1n },
  params: { fast: 10, slow: 50, fee: 0.0004 },
  tags: { source: "deno-url" },
  equityCurve,
  trades: [
    { symbol: "BTCUSDT", side: "long", entry_price: 100, exit_price: 110, quantity: 1, pnl: 10 },
    { symbol: "BTCUSDT", side: "short", entry_price: 110, exit_price: 105, quantity: 1, pnl: 5 },
  ],
});
console.log(JSON.stringify({ runId }));
`;
}

if (onNode) {
  describe("Deno imports the built dist/mod.js by URL", () => {
    let target: Target;
    let distDir: string;
    let cacheDir: string;
    let workDir: string;
    let files: Record<string, number>;
    let server: ServedBuild | undefined;
    let moduleHost: string;
    let mlflowHost: string;
    let served: string[] = [];

    before(async () => {
      target = await startTarget();
      mlflowHost = new URL(target.trackingUri).host;
      distDir = await mkdtemp(join(tmpdir(), "flox-deno-dist-"));
      cacheDir = await mkdtemp(join(tmpdir(), "flox-deno-cache-"));
      workDir = await mkdtemp(join(tmpdir(), "flox-deno-user-"));
      const { build } = await import("../scripts/build.ts");
      files = (await build({ outDir: distDir, parts: ["deno"] })).files;
      server = await serveBuild(distDir, Object.keys(files));
      served = server.served;
      moduleHost = new URL(server.url).host;
    });

    after(async () => {
      await server?.close();
      await target?.close();
      for (const dir of [distDir, cacheDir, workDir]) if (dir) await rm(dir, { recursive: true, force: true });
    });

    /** Runs `deno <args>` in the user's folder with the test's DENO_DIR and a permission audit log. */
    function runDeno(args: string[], env: Record<string, string> = {}): Promise<DenoRan> {
      return runDenoWith(args, { cwd: workDir, denoDir: cacheDir, env });
    }

    async function checkRestRun(runId: string, runName: string): Promise<void> {
      const reader = restReader(target.trackingUri);
      const { run }: { run: RestRun } = await reader.getRun(runId);
      assert.equal(run.info.status, "FINISHED");
      assert.equal(run.info.run_name, runName);
      const metrics = valuesOf(run.data.metrics);
      const tags = valuesOf(run.data.tags);
      assert.equal(metrics.sharpe_ratio, 1.25);
      assert.equal(metrics.total_trades, 2);
      assert.equal(tags.profit_factor, "Infinity");
      assert.equal(tags.start_time_ns, "1717200000000000001");
      assert.equal(tags.source, "deno-url");
      assert.equal(tags["flox.chart_error"], undefined);
      assert.deepEqual(valuesOf(run.data.params), { fast: "10", slow: "50", fee: "0.0004" });
      const curve = new TextDecoder().decode(await reader.getArtifact(run, "equity_curve.csv")).trimEnd().split("\n");
      assert.equal(curve.length, 3001);
      assert.equal(curve[1]!.split(",")[0], "1717200000000000000");
      const trades = new TextDecoder().decode(await reader.getArtifact(run, "trades.csv")).trimEnd().split("\n");
      assert.equal(trades.length, 3);
      assert.deepEqual(pngSize(await reader.getArtifact(run, "equity_curve.png")), { width: 1200, height: 640 });
      assert.match(new TextDecoder().decode(await reader.getArtifact(run, "equity_curve.svg")), /^<svg/);
    }

    test("the build is one ES module with resvg's WebAssembly inside, its declarations and the third-party notices", async () => {
      assert.deepEqual(Object.keys(files).sort(), ["THIRD_PARTY_NOTICES.md", "cli.js", "mod.d.ts", "mod.js"]);
      const head = (await readFile(join(distDir, "mod.js"), "utf8")).slice(0, 200);
      assert.match(head, /^\/\/ @ts-self-types="\.\/mod\.d\.ts"\n/);
    });

    test("a script in an empty folder imports mod.js by URL and, with only --allow-import=<module host> --allow-net=<mlflow host>, logs a run with its chart", async () => {
      await writeFile(join(workDir, "script.ts"), userScript(`${server!.url}/mod.js`));
      const ran = await runDeno([
        "run", "--no-prompt", `--allow-import=${moduleHost}`, `--allow-net=${mlflowHost}`, "script.ts", target.trackingUri, "deno-url-run",
      ]);
      assert.equal(ran.code, 0, ran.stderr);
      // Nothing but the script: no deno.json, lock file or node_modules appeared.
      assert.deepEqual(await readdir(workDir), ["script.ts"]);
      assert.deepEqual(served, ["mod.js"]);
      // Every permission check was one of the two granted: nothing would have prompted.
      assert.deepEqual(ran.audit.filter((line) => !line.startsWith(`import ${moduleHost}`) && !line.startsWith("net ") && !gitLookup(line)), []);
      assert.ok(ran.audit.every((line) => !line.startsWith("net ") || line.includes(mlflowHost)), ran.audit.join("\n"));
      const { runId } = JSON.parse(ran.stdout.trim().split("\n").at(-1)!) as { runId: string };
      await checkRestRun(runId, "deno-url-run");
    });

    test("deno check reads the module's declarations: a wrong call fails, a right one passes", async () => {
      await writeFile(join(workDir, "typed.ts"), `import { logBacktest } from "${server!.url}/mod.js";\nexport const runId: Promise<string> = logBacktest({ chart: false, stats: { sharpe_ratio: 1 } });\n`);
      await writeFile(join(workDir, "wrong.ts"), `import { logBacktest } from "${server!.url}/mod.js";\nawait logBacktest(42);\n`);
      const right = await runDeno(["check", `--allow-import=${moduleHost}`, "typed.ts"]);
      assert.equal(right.code, 0, right.stderr);
      const wrong = await runDeno(["check", `--allow-import=${moduleHost}`, "wrong.ts"]);
      assert.notEqual(wrong.code, 0);
      assert.match(wrong.stderr, /TS2559.*'42' has no properties in common with type 'LogBacktestOptions'/);
      assert.ok(served.includes("mod.d.ts"), served.join(", "));
      await rm(join(workDir, "typed.ts"));
      await rm(join(workDir, "wrong.ts"));
    });

    test("the file store by URL: --allow-env=MLFLOW_TRACKING_URI --allow-read=./mlruns --allow-write=./mlruns write the run with its chart into ./mlruns", async () => {
      const ran = await runDeno(
        ["run", "--no-prompt", `--allow-import=${moduleHost}`, "--allow-env=MLFLOW_TRACKING_URI", "--allow-read=./mlruns", "--allow-write=./mlruns", "script.ts"],
        { MLFLOW_TRACKING_URI: "file:./mlruns" },
      );
      assert.equal(ran.code, 0, ran.stderr);
      const mlruns = join(workDir, "mlruns");
      const inStore = (line: string): boolean => line.endsWith(` ${mlruns}`) || line.includes(` ${mlruns}/`);
      assert.deepEqual(
        ran.audit.filter((line) =>
          !line.startsWith(`import ${moduleHost}`) && line !== "env MLFLOW_TRACKING_URI" && !(/^(read|write) /.test(line) && inStore(line)) &&
          !gitLookup(line)
        ),
        [],
      );
      const { runId } = JSON.parse(ran.stdout.trim().split("\n").at(-1)!) as { runId: string };
      const run = (await readMlruns(mlruns)).flatMap((e) => e.runs).find((r) => r.id === runId);
      assert.ok(run, `run ${runId} is not in ./mlruns`);
      assert.equal(run.tags.source, "deno-url");
      assert.equal(run.tags["flox.chart_error"], undefined);
      assert.deepEqual(run.artifacts, ["equity_curve.csv", "equity_curve.png", "equity_curve.svg", "trades.csv"]);
      await rm(mlruns, { recursive: true });
    });

    test("with the module's host gone, the same script runs from Deno's cache and logs a run with its chart again", async () => {
      await server!.close();
      server = undefined;
      const ran = await runDeno([
        "run", "--no-prompt", `--allow-import=${moduleHost}`, `--allow-net=${mlflowHost}`, "script.ts", target.trackingUri, "deno-url-offline",
      ]);
      assert.equal(ran.code, 0, ran.stderr);
      const { runId } = JSON.parse(ran.stdout.trim().split("\n").at(-1)!) as { runId: string };
      await checkRestRun(runId, "deno-url-offline");
    });
  });

  describe("examples/deno.ts", () => {
    let target: Target;

    before(async () => {
      target = await startTarget();
    });

    after(async () => {
      await target?.close();
    });

    test("logs a parent run with one nested run per market regime, the first with its chart", async () => {
      const ran = await runCommand(
        DENO,
        ["run", "--no-prompt", "--allow-net=127.0.0.1", "--allow-env", "--allow-read", "--allow-write", "examples/deno.ts"],
        { cwd: REPO, env: cleanEnv({ MLFLOW_TRACKING_URI: target.trackingUri, FLOX_EXAMPLE_BARS: "5000" }) },
      );
      assert.equal(ran.code, 0, ran.stderr);
      const parentRunId = /logged run ([0-9a-f]{32})/.exec(ran.stdout)?.[1];
      assert.ok(parentRunId, ran.stdout);

      const reader = restReader(target.trackingUri);
      const { run: parent } = await reader.getRun(parentRunId);
      assert.equal(parent.info.status, "FINISHED");
      const parentMetrics = valuesOf(parent.data.metrics);
      assert.equal(typeof parentMetrics.mean_sharpe_ratio, "number");
      assert.equal(typeof parentMetrics.worst_sharpe_ratio, "number");
      assert.equal(valuesOf(parent.data.params).regimes, "11,22,33");

      const { runs = [] } = await reader.searchRuns([parent.info.experiment_id], `tags.mlflow.parentRunId = '${parentRunId}'`);
      assert.deepEqual(runs.map((r) => r.info.run_name).sort(), ["regime-seed-11", "regime-seed-22", "regime-seed-33"]);
      for (const child of runs) {
        assert.equal(valuesOf(child.data.params).seed, child.info.run_name.replace("regime-seed-", ""));
        assert.equal(typeof valuesOf(child.data.metrics).total_trades, "number");
        const png = reader.getArtifact(child, "equity_curve.png");
        if (child.info.run_name === "regime-seed-11") assert.deepEqual(pngSize(await png), { width: 1200, height: 640 });
        else await assert.rejects(png, (error: { status?: number }) => error.status === 404);
      }
    });
  });
}
