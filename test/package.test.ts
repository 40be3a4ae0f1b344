/**
 * The npm package as users get it: `npm pack` (which builds `dist/` through
 * `prepack`) runs in a temporary copy of the sources, the tarball is
 * installed into an empty temporary project, and from there a plain `.mjs`
 * runs on Node, a `.ts` file runs under Bun, `tsc --noEmit` resolves the
 * types, and the Cloudflare Worker example, importing "flox-mlflow", runs in
 * workerd, and a Deno script imports it as `npm:flox-mlflow` under exact
 * permission flags. Every run goes to the in-memory MLflow server and is read back.
 * Also runs `examples/bun_runner.ts` from this repository under Bun.
 *
 * Node only: the test drives npm, bun, tsc and workerd from Node, so under
 * Deno or Bun this file registers no tests.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFile, cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { restReader, type RestRun, runIdIn, startTarget, type Target, valuesOf } from "./support/target.ts";
import { onNode } from "./support/node.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const BUN = join(REPO, "node_modules", ".bin", "bun");
const TSC = join(REPO, "node_modules", "typescript", "bin", "tsc");
// Under `npm test` the npm that started the run; otherwise the one on PATH.
const NPM: [string, string[]] = process.env.npm_execpath?.endsWith(".js")
  ? [process.execPath, [process.env.npm_execpath]]
  : ["npm", []];

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; a non-zero exit is a result, not an exception. */
function runCommand(file: string, args: string[], options: { cwd: string; env?: Record<string, string> }): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { cwd: options.cwd, env: cleanEnv(options.env ?? {}), maxBuffer: 16 * 1024 * 1024, timeout: 180_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/**
 * The environment of a fresh shell: nothing from the npm script that started
 * the tests (npm_config_local_prefix would make a nested npm install into this
 * repository) and no MLflow settings but those given.
 */
function cleanEnv(extra: Record<string, string>): Record<string, string | undefined> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(npm_|MLFLOW_)/i.test(key)));
  return { ...env, NO_COLOR: "1", ...extra };
}

function pngSize(bytes: Uint8Array): { width: number; height: number } {
  assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], "PNG signature");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

/** What `npm pack --json` reports about one tarball. */
interface PackResult {
  filename: string;
  size: number;
  unpackedSize: number;
  files: { path: string; size: number }[];
}

/** A `.ts` consumer for Bun and tsc: the package's main entry and its chart subpath. */
const BUN_CONSUMER = `
import process from "node:process";
import { logBacktest, MlflowValidationError } from "flox-mlflow";
import { initChart } from "flox-mlflow/chart";

const trackingUri: string = process.argv[2] ?? "";
const ready: Promise<void> = initChart();
const equityCurve = Array.from({ length: 2000 }, (_, i) => ({
  timestamp_ns: 1717200000000000000n + BigInt(i) * 60000000000n,
  equity: 10000 + Math.sin(i / 50) * 300 + i,
}));
await ready;
const runId: string = await logBacktest({
  trackingUri,
  runName: "bun-consumer",
  experiment: "package-bun",
  stats: { sharpe_ratio: 0.8, total_trades: 3, profit_factor: Infinity },
  params: { fast: 5, slow: 30 },
  tags: { runtime: "bun " + (process.versions.bun ?? "?") },
  equityCurve,
});
try {
  await logBacktest({ trackingUri, params: { "bad key!": 1 } });
} catch (error) {
  if (!(error instanceof MlflowValidationError)) throw error;
  console.log("validation error field " + error.field);
}
console.log("logged run " + runId);
`;

/** A Deno script in the project: `npm:flox-mlflow` resolves to the installed package (its `deno` condition). */
const DENO_NPM_CONSUMER = `
import { logBacktest } from "npm:flox-mlflow";

const equityCurve = Array.from({ length: 1000 }, (_, i) => ({ timestamp_ns: 1717200000000000000n + BigInt(i) * 60000000000n, equity: 100 + Math.sin(i / 30) + i / 10 }));
const runId = await logBacktest({
  trackingUri: Deno.args[0],
  runName: "deno-npm",
  experiment: "package-deno",
  stats: { sharpe_ratio: 1.1 },
  equityCurve,
  trades: [{ symbol: "BTCUSDT", side: "long", entry_price: 1, exit_price: 2, quantity: 1, pnl: 1 }],
});
console.log("logged run " + runId);
`;

/**
 * Type-level checks: a correct call compiles, a wrong one must not (or the
 * types are `any`). No Node types needed: it compiles with `lib: ["es2023", "dom"]` alone.
 */
const TYPES_CONSUMER = `
import { type LogBacktestOptions, logBacktest, MlflowError, MlflowValidationError, startRun } from "flox-mlflow";
import { type EquityChartResult, renderEquityChart } from "flox-mlflow/chart";

const options: LogBacktestOptions = { trackingUri: "http://127.0.0.1:5000", stats: { sharpe_ratio: 1.2 }, chart: false };
export const runId: Promise<string> = logBacktest(options);
export const chart: Promise<EquityChartResult> = renderEquityChart([{ timestamp_ns: 1n, equity: 1 }], { png: false });
export const field: string = new MlflowValidationError("params", "is wrong").field;
export const code: string | undefined = new MlflowError("failed").errorCode;
// @ts-expect-error runName is a string
export const wrong = logBacktest({ runName: 42 });

const curve = [{ timestamp_ns: 1n, equity: 1 }, { timestamp_ns: 2n, equity: 2 }];
// PNG output on (the default, or png: true): the PNG is there.
export const png: Promise<Uint8Array> = renderEquityChart(curve).then((c) => c.png);
export const pngTitled: Promise<Uint8Array> = renderEquityChart(curve, { title: "t", png: true }).then((c) => c.png);
// @ts-expect-error with png: false there is no PNG to count on
export const noPng: Promise<Uint8Array> = renderEquityChart(curve, { png: false }).then((c) => c.png);
declare const pngAtRunTime: boolean;
// @ts-expect-error png chosen at run time: the PNG may be absent
export const maybePng: Promise<Uint8Array> = renderEquityChart(curve, { png: pngAtRunTime }).then((c) => c.png);

// A run is async-disposable whatever the lib: its type carries Symbol.asyncDispose.
export async function disposeRun(): Promise<void> {
  const run = await startRun({ trackingUri: "http://127.0.0.1:5000" });
  const dispose: () => PromiseLike<void> = run[Symbol.asyncDispose];
  await dispose.call(run);
}
`;

/** The worker example's imports of this repository become imports of the installed package, as its README says. */
const PACKAGE_IMPORTS: [string, string][] = [
  ['"../../../mod.ts"', '"flox-mlflow"'],
  ['"../../../src/chart.ts"', '"flox-mlflow/chart"'],
];

if (onNode) {
  describe("the npm package, packed and installed into an empty project", () => {
    let target: Target;
    let stage: string;
    let packDir: string;
    let consumer: string;
    let pack: PackResult;
    let installed: Ran;

    before(async () => {
      target = await startTarget();
      // npm pack runs prepack (the build) where it is started: a copy, so dist/ never appears in the work tree.
      stage = await mkdtemp(join(tmpdir(), "flox-pack-src-"));
      for (const name of ["package.json", "mod.ts", ".gitignore", ".npmignore", "README.md", "LICENSE", "CHANGELOG.md"]) {
        await copyFile(join(REPO, name), join(stage, name)).catch((error: { code?: string }) => {
          if (error.code !== "ENOENT") throw error;
        });
      }
      await cp(join(REPO, "src"), join(stage, "src"), { recursive: true });
      await cp(join(REPO, "scripts"), join(stage, "scripts"), { recursive: true });
      await cp(join(REPO, "bin"), join(stage, "bin"), { recursive: true });
      await symlink(join(REPO, "node_modules"), join(stage, "node_modules"), "dir");
      packDir = await mkdtemp(join(tmpdir(), "flox-pack-out-"));
      const packed = await runCommand(NPM[0], [...NPM[1], "pack", "--json", "--pack-destination", packDir], { cwd: stage });
      assert.equal(packed.code, 0, packed.stderr);
      // The build's own output comes first on stdout; the JSON report is the rest.
      pack = (JSON.parse(packed.stdout.slice(packed.stdout.search(/^\[/m))) as PackResult[])[0]!;

      consumer = await mkdtemp(join(tmpdir(), "flox-consumer-"));
      await writeFile(join(consumer, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
      installed = await runCommand(
        NPM[0],
        [...NPM[1], "install", "--prefer-offline", "--no-audit", "--no-fund", join(packDir, pack.filename)],
        { cwd: consumer },
      );
    });

    after(async () => {
      await target?.close();
      for (const dir of [stage, packDir, consumer]) if (dir) await rm(dir, { recursive: true, force: true });
    });

    test("npm pack builds dist/ and packs it with package.json, and no sources, tests or examples", async (t) => {
      const paths = pack.files.map((f) => f.path);
      const pkg = JSON.parse(await readFile(join(REPO, "package.json"), "utf8")) as { exports: Record<string, Record<string, string>> };
      for (const conditions of Object.values(pkg.exports)) {
        for (const target of Object.values(conditions)) assert.ok(paths.includes(target.slice(2)), `${target} is not in the tarball`);
      }
      for (const file of ["package.json", "LICENSE", "dist/mod.js", "dist/mod.d.ts", "dist/cli.js", "dist/THIRD_PARTY_NOTICES.md"]) {
        assert.ok(paths.includes(file), file);
      }
      assert.deepEqual(
        paths.filter((p) => !p.startsWith("dist/") && p !== "package.json" && p !== "bin/flox-mlflow.mjs" && !/^(README|LICENSE|CHANGELOG)/i.test(p)),
        [],
      );
      t.diagnostic(`packed ${pack.filename}: ${pack.size} B packed, ${pack.unpackedSize} B unpacked, ${paths.length} files`);
    });

    test("the tarball installs into an empty project with resvg as its one dependency: Vega, Vega-Lite and csv-stringify come bundled once, in dist/vendor", async () => {
      assert.equal(installed.code, 0, installed.stderr);
      const installedDir = join(consumer, "node_modules");
      const manifest = JSON.parse(await readFile(join(installedDir, "flox-mlflow", "package.json"), "utf8")) as { dependencies?: object };
      assert.deepEqual(Object.keys(manifest.dependencies ?? {}), ["@resvg/resvg-wasm"]);
      for (const name of ["vega", "vega-lite", "vega-interpreter", "csv-stringify", "d3-scale"]) {
        await assert.rejects(readFile(join(installedDir, name, "package.json")), { code: "ENOENT" }, `${name} was installed`);
      }
      // Vega's own source text (its version banner) is in one vendored file of the npm builds, and in the URL build.
      const vegaVersion = JSON.parse(await readFile(join(REPO, "node_modules", "vega", "package.json"), "utf8")).version as string;
      const holders = pack.files.filter((f) => /\.js$/.test(f.path)).map((f) => f.path);
      const withVega: string[] = [];
      for (const path of holders) {
        if ((await readFile(join(installedDir, "flox-mlflow", path), "utf8")).includes(`"${vegaVersion}"`)) withVega.push(path);
      }
      assert.equal(withVega.filter((p) => p !== "dist/mod.js").length, 1, withVega.join(", "));
      assert.match(withVega.find((p) => p !== "dist/mod.js")!, /^dist\/vendor\//);
    });

    test("the installed package carries the notices of everything its build bundles or embeds", async () => {
      const notices = await readFile(join(consumer, "node_modules", "flox-mlflow", "dist", "THIRD_PARTY_NOTICES.md"), "utf8");
      for (const name of ["vega", "vega-lite", "d3-scale", "csv-stringify", "@fontsource/inter", "@resvg/resvg-wasm"]) {
        assert.match(notices, new RegExp(`^## ${name.replace("/", "\\/")}@\\d`, "m"), name);
      }
      assert.match(notices, /SIL Open Font License/);
      assert.match(await readFile(join(consumer, "node_modules", "flox-mlflow", "LICENSE"), "utf8"), /^MIT License/);
    });

    test("the installed flox-mlflow command logs FLOX's stats JSON (bare NaN as Python writes it) and prints the run id", async () => {
      await writeFile(join(consumer, "stats.json"), '{"sharpe_ratio": 1.25, "max_drawdown": NaN, "total_trades": 12}');
      const ran = await runCommand(join(consumer, "node_modules", ".bin", "flox-mlflow"), [
        "log", "--stats", "stats.json", "--param", "fast=10", "--no-chart",
        "--tracking-uri", target.trackingUri, "--experiment", "package-cli",
      ], { cwd: consumer });
      assert.equal(ran.code, 0, `${ran.stdout}${ran.stderr}`);
      const runId = ran.stdout.trim();
      assert.match(runId, /^[0-9a-f]{32}$/);
      const { run }: { run: RestRun } = await restReader(target.trackingUri).getRun(runId);
      assert.equal(run.info.status, "FINISHED");
      assert.equal(valuesOf(run.data.metrics).sharpe_ratio, 1.25);
      assert.equal(valuesOf(run.data.params).fast, "10");
    });

    test("deno run -A npm:flox-mlflow runs the installed package's command line", async () => {
      const ran = await runCommand(join(REPO, "node_modules", ".bin", "deno"), ["run", "-A", "npm:flox-mlflow", "--version"], {
        cwd: consumer,
        env: { DENO_NO_UPDATE_CHECK: "1" },
      });
      assert.equal(ran.code, 0, `${ran.stdout}${ran.stderr}`);
      assert.equal(ran.stdout.trim(), `flox-mlflow ${JSON.parse(await readFile(join(REPO, "package.json"), "utf8")).version}`);
    });

    test("examples/node.mjs runs on plain Node from the installed package, and its run reads back with chart and CSVs", async () => {
      await copyFile(join(REPO, "examples", "node.mjs"), join(consumer, "node.mjs"));
      const ran = await runCommand(process.execPath, ["node.mjs"], {
        cwd: consumer,
        env: { MLFLOW_TRACKING_URI: target.trackingUri, MLFLOW_EXPERIMENT_NAME: "package-node" },
      });
      assert.equal(ran.code, 0, ran.stderr);
      const reader = restReader(target.trackingUri);
      const { run }: { run: RestRun } = await reader.getRun(runIdIn(ran.stdout));
      assert.equal(run.info.status, "FINISHED");
      assert.equal(run.info.experiment_id, (await reader.getExperimentByName("package-node")).experiment.experiment_id);
      const tags = valuesOf(run.data.tags);
      assert.equal(tags.strategy, "momentum");
      assert.equal(tags.runtime, `node ${process.versions.node}`);
      assert.equal(tags.start_time_ns, "1704067200000000000");
      assert.equal(valuesOf(run.data.params).lookback, "48");
      const trades = valuesOf(run.data.metrics).total_trades;
      assert.equal(typeof trades, "number");
      const tradesCsv = new TextDecoder().decode(await reader.getArtifact(run, "trades.csv")).trimEnd().split("\n");
      assert.equal(tradesCsv.length, (trades as number) + 1);
      const curve = new TextDecoder().decode(await reader.getArtifact(run, "equity_curve.csv")).trimEnd().split("\n");
      assert.equal(curve.length, 24 * 365 + 1);
      assert.deepEqual(pngSize(await reader.getArtifact(run, "equity_curve.png")), { width: 1200, height: 640 });
    });

    test("a .ts file runs under Bun from the installed package, chart included", async () => {
      await writeFile(join(consumer, "bun_consumer.ts"), BUN_CONSUMER);
      const ran = await runCommand(BUN, ["bun_consumer.ts", target.trackingUri], { cwd: consumer });
      assert.equal(ran.code, 0, ran.stderr);
      assert.match(ran.stdout, /validation error field params/);
      const reader = restReader(target.trackingUri);
      const { run } = await reader.getRun(runIdIn(ran.stdout));
      assert.equal(run.info.run_name, "bun-consumer");
      assert.match(String(valuesOf(run.data.tags).runtime), /^bun \d/);
      assert.equal(valuesOf(run.data.tags).profit_factor, "Infinity");
      assert.equal(valuesOf(run.data.metrics).sharpe_ratio, 0.8);
      assert.deepEqual(valuesOf(run.data.params), { fast: "5", slow: "30" });
      assert.deepEqual(pngSize(await reader.getArtifact(run, "equity_curve.png")), { width: 1200, height: 640 });
    });

    test("Deno imports npm:flox-mlflow from the project's node_modules and, with --allow-net=<server> and read access to resvg's .wasm only, logs a run with its chart", async () => {
      await writeFile(join(consumer, "deno_npm.ts"), DENO_NPM_CONSUMER);
      const wasm = join(consumer, "node_modules", "@resvg", "resvg-wasm", "index_bg.wasm");
      const audit = join(consumer, "deno-audit.jsonl");
      const host = new URL(target.trackingUri).host;
      const ran = await runCommand(
        join(REPO, "node_modules", ".bin", "deno"),
        ["run", "--no-prompt", `--allow-net=${host}`, `--allow-read=${wasm}`, "deno_npm.ts", target.trackingUri],
        { cwd: consumer, env: { DENO_AUDIT_PERMISSIONS: audit, DENO_NO_UPDATE_CHECK: "1" } },
      );
      assert.equal(ran.code, 0, ran.stderr);
      // Deno's permission audit log: every check was one of the two granted, so nothing would have prompted.
      const checks = (await readFile(audit, "utf8")).trim().split("\n").map((line) => JSON.parse(line) as { permission: string; value: string });
      // Beside them, the git source tags' look for `.git` starts with a permission query of the script's
      // folder (`Deno.permissions.querySync`: never a prompt) and stops there, as it is not granted.
      assert.deepEqual(checks.filter((c) => c.permission !== "net" && !(c.permission === "read" && (c.value === wasm || c.value === consumer))), []);
      const reader = restReader(target.trackingUri);
      const { run } = await reader.getRun(runIdIn(ran.stdout));
      assert.equal(run.info.run_name, "deno-npm");
      assert.equal(valuesOf(run.data.tags)["flox.chart_error"], undefined);
      assert.deepEqual(pngSize(await reader.getArtifact(run, "equity_curve.png")), { width: 1200, height: 640 });
      assert.equal(new TextDecoder().decode(await reader.getArtifact(run, "trades.csv")).trimEnd().split("\n").length, 2);
    });

    test("tsc --noEmit in the project resolves and checks the package's types (NodeNext, bundler, @tsconfig/node20, lib es2023 + dom alone)", async () => {
      await writeFile(join(consumer, "bun_consumer.ts"), BUN_CONSUMER);
      await writeFile(join(consumer, "types_consumer.ts"), TYPES_CONSUMER);
      const base = {
        strict: true,
        target: "ES2022",
        lib: ["ES2023", "DOM", "ESNext.Disposable"],
        // Node's types for `node:process` in the Bun file; every other type comes from the package.
        typeRoots: [join(REPO, "node_modules", "@types")],
        types: ["node"],
        noEmit: true,
        skipLibCheck: false,
      };
      const both = ["bun_consumer.ts", "types_consumer.ts"];
      const configs: Record<string, { extends?: string; compilerOptions: Record<string, unknown>; include: string[] }> = {
        "tsconfig.nodenext.json": { compilerOptions: { ...base, module: "NodeNext", moduleResolution: "NodeNext" }, include: both },
        "tsconfig.bundler.json": { compilerOptions: { ...base, module: "Preserve", moduleResolution: "Bundler" }, include: both },
        // A Node 20 project as @tsconfig/node20 sets it up (lib es2023, node16 resolution), checking the package's declarations too.
        "tsconfig.node20.json": {
          extends: join(REPO, "node_modules", "@tsconfig", "node20", "tsconfig.json"),
          compilerOptions: { typeRoots: base.typeRoots, noEmit: true, skipLibCheck: false },
          include: both,
        },
        // No Node types and no esnext.disposable: only what the package's declarations bring.
        "tsconfig.dom.json": {
          compilerOptions: { ...base, lib: ["es2023", "dom"], types: [], module: "NodeNext", moduleResolution: "NodeNext" },
          include: ["types_consumer.ts"],
        },
      };
      for (const [name, config] of Object.entries(configs)) {
        await writeFile(join(consumer, name), JSON.stringify(config));
        const ran = await runCommand(process.execPath, [TSC, "-p", name, "--pretty", "false"], { cwd: consumer });
        assert.equal(ran.code, 0, `${name}: ${ran.stdout}${ran.stderr}`);
      }
    });

    test("the Cloudflare Worker example, importing the installed package, logs a run with its chart in workerd without initChart", async () => {
      const workerDir = join(consumer, "worker");
      await mkdir(workerDir, { recursive: true });
      for (const name of ["index.ts", "backtest_json.ts"]) {
        let source = await readFile(join(REPO, "examples", "cloudflare-worker", "src", name), "utf8");
        for (const [from, to] of PACKAGE_IMPORTS) source = source.replaceAll(from, to);
        assert.doesNotMatch(source, /from "\.\.\//, `${name} still imports from this repository`);
        await writeFile(join(workerDir, name), source);
      }
      const { bundleWorker, startWorker } = await import("./support/workerd.ts");
      const bundle = await bundleWorker({
        source: `
import worker from "./worker/index.ts";
export default { fetch: (request: Request) => worker.fetch(request, { MLFLOW_TRACKING_URI: ${JSON.stringify(target.trackingUri)} }) };
`,
        resolveDir: consumer,
      });
      // The workerd condition picked the package's workerd build, which imports resvg's module itself.
      assert.match(bundle.script, /node_modules\/flox-mlflow\/dist\/workerd\//);
      assert.doesNotMatch(bundle.script, /node_modules\/flox-mlflow\/dist\/(node|edge)\//);
      assert.deepEqual(Object.keys(bundle.wasm), ["index_bg.wasm"]);
      const worker = await startWorker(bundle);
      try {
        const equityCurve = Array.from({ length: 1500 }, (_, i) => ({
          timestamp_ns: String(1717200000000000000n + BigInt(i) * 60000000000n),
          equity: 5000 + Math.cos(i / 30) * 100 + i,
        }));
        const response = await worker.fetch("/", {
          method: "POST",
          body: JSON.stringify({ runName: "worker-from-package", experiment: "package-worker", stats: { sharpe_ratio: 2 }, equityCurve }),
        });
        const answer = (await response.json()) as { runId?: string };
        assert.equal(response.status, 201, JSON.stringify(answer));
        const reader = restReader(target.trackingUri);
        const { run } = await reader.getRun(answer.runId!);
        assert.equal(run.info.run_name, "worker-from-package");
        assert.equal(valuesOf(run.data.tags)["flox.chart_error"], undefined);
        assert.deepEqual(pngSize(await reader.getArtifact(run, "equity_curve.png")), { width: 1200, height: 640 });
        const csv = new TextDecoder().decode(await reader.getArtifact(run, "equity_curve.csv")).trimEnd().split("\n");
        assert.equal(csv.length, 1501);
      } finally {
        await worker.dispose();
      }
    });
  });

  describe("deno.json's tasks after npm ci", () => {
    let project: string;

    before(async () => {
      // The repository's deno.json and installed node_modules (whose .bin/deno is the npm package's native
      // binary, as npm ci leaves it) around stand-in sources, so each task runs its real command line cheaply.
      project = await mkdtemp(join(tmpdir(), "flox-deno-tasks-"));
      await copyFile(join(REPO, "deno.json"), join(project, "deno.json"));
      await copyFile(join(REPO, "package.json"), join(project, "package.json"));
      await symlink(join(REPO, "node_modules"), join(project, "node_modules"), "dir");
      for (const dir of ["src", "test", "examples"]) await mkdir(join(project, dir));
      const example = (name: string): string => `/**\n * @example ${name}\n * \`\`\`ts\n * console.log("doc example ${name} ran");\n * \`\`\`\n */\nexport const ${name} = 1;\n`;
      await writeFile(join(project, "mod.ts"), example("mod"));
      await writeFile(join(project, "src", "part.ts"), example("part"));
      await writeFile(join(project, "test", "tiny.test.ts"), 'import { test } from "node:test";\ntest("tiny test under " + navigator.userAgent, () => {});\n');
      await writeFile(join(project, "examples", "demo.ts"), 'console.log("demo ran under " + navigator.userAgent);\n');
    });

    after(async () => {
      if (project) await rm(project, { recursive: true, force: true });
    });

    test("node_modules/.bin/deno is a native executable, not JavaScript (the case that broke the tasks)", async () => {
      const head = new Uint8Array(await readFile(join(REPO, "node_modules", ".bin", "deno"))).subarray(0, 4);
      assert.doesNotMatch(new TextDecoder().decode(head), /^(#!|\/\/|"use|import|const|var)/);
    });

    test("deno task test runs the doc examples and the test folder with the native binary", async () => {
      const ran = await runCommand(join(REPO, "node_modules", ".bin", "deno"), ["task", "test"], { cwd: project });
      assert.equal(ran.code, 0, ran.stderr);
      const output = ran.stdout + ran.stderr;
      assert.match(output, /tiny test under Deno\/2\./);
      assert.match(output, /^doc example mod ran$/m);
      assert.match(output, /^doc example part ran$/m);
    });

    test("deno task demo runs examples/demo.ts with the native binary", async () => {
      const ran = await runCommand(join(REPO, "node_modules", ".bin", "deno"), ["task", "demo"], { cwd: project });
      assert.equal(ran.code, 0, ran.stderr);
      assert.match(ran.stdout, /^demo ran under Deno\/2\./m);
    });
  });

  describe("examples/bun_runner.ts", () => {
    let target: Target;

    before(async () => {
      target = await startTarget();
    });

    after(async () => {
      await target?.close();
    });

    test("under Bun, logs a grid as a parent with one nested run per cell, the best cell with curve, trades and chart", async () => {
      const ran = await runCommand(BUN, ["examples/bun_runner.ts", "--bars", "5000", "--experiment", "bun-grid"], {
        cwd: REPO,
        env: { MLFLOW_TRACKING_URI: target.trackingUri },
      });
      assert.equal(ran.code, 0, ran.stderr);
      const parentRunId = /grid run ([0-9a-f]{32}): 12 cells/.exec(ran.stdout)?.[1];
      const bestRunId = /best: .*\(run ([0-9a-f]{32})\)/.exec(ran.stdout)?.[1];
      assert.ok(parentRunId && bestRunId, ran.stdout);

      const reader = restReader(target.trackingUri);
      const { run: parent } = await reader.getRun(parentRunId);
      assert.equal(parent.info.status, "FINISHED");
      assert.equal(valuesOf(parent.data.tags).best_run_id, bestRunId);
      assert.match(String(valuesOf(parent.data.tags).runtime), /^bun \d/);
      assert.equal(valuesOf(parent.data.params).cells, "12");
      const { runs = [] } = await reader.searchRuns([parent.info.experiment_id], `tags.mlflow.parentRunId = '${parentRunId}'`);
      assert.equal(runs.length, 12);
      assert.ok(runs.every((r) => typeof valuesOf(r.data.metrics).total_trades === "number" && valuesOf(r.data.params).fast));
      const best = runs.find((r) => r.info.run_id === bestRunId)!;
      assert.equal(valuesOf(best.data.tags).best, "true");
      assert.deepEqual(pngSize(await reader.getArtifact(best, "equity_curve.png")), { width: 1200, height: 640 });
      await reader.getArtifact(best, "trades.csv");
      const other = runs.find((r) => r.info.run_id !== bestRunId)!;
      await assert.rejects(reader.getArtifact(other, "equity_curve.csv"), (error: { status?: number }) => error.status === 404);
    });
  });
}
