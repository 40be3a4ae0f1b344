/**
 * The `flox-mlflow` command line, run as a user runs it: a separate process
 * (Node with tsx on the sources; Deno and Bun on the same file; the npm bin
 * entry on a build), fed FLOX-shaped files from each binding and standard
 * input, logging to the test server (read back over REST) and to the file
 * store (read back from ./mlruns).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { type ChildProcess, spawn } from "node:child_process";
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { inputsOf } from "./support/dataset_reader.ts";
import { type Backend, BACKENDS, openRestBackend, type RestBackend, uniqueName } from "./support/backends.ts";
import { NODE, TSX } from "./support/node.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const MAIN = join(REPO, "src", "cli", "main.ts");
const FIXTURES = join(REPO, "test", "fixtures", "cli");
const fixture = (path: string): string => join(FIXTURES, path);
const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

interface RunOptions {
  stdin?: string;
  env?: Record<string, string>;
  cwd?: string;
  /** The program and its leading arguments; default Node with tsx on src/cli/main.ts. */
  program?: [string, string[]];
  /** Called with the process once it runs (to send it a signal). */
  onSpawn?: (child: ChildProcess) => void;
}

const NODE_CLI: [string, string[]] = [NODE, ["--import", TSX, MAIN]];

/**
 * Runs the command line in its own process. The environment is the test's
 * minus every MLFLOW_ variable, so only what a test passes is seen. Async, so
 * the test server in this process keeps answering meanwhile.
 */
function cli(args: string[], options: RunOptions = {}): Promise<Ran> {
  const [file, lead] = options.program ?? NODE_CLI;
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^MLFLOW_/i.test(k)));
  return new Promise((resolve, reject) => {
    const child = spawn(file, [...lead, ...args], {
      cwd: options.cwd ?? REPO,
      env: { ...env, NO_COLOR: "1", ...options.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(options.stdin ?? "");
    options.onSpawn?.(child);
  });
}

const RUN_ID = /^[0-9a-f]{32}\n$/;

function runIdOf(ran: Ran): string {
  assert.equal(ran.code, 0, `exit ${ran.code}: ${ran.stderr}`);
  assert.match(ran.stdout, RUN_ID, ran.stdout);
  return ran.stdout.trim();
}

for (const { name, open } of BACKENDS) {
  describe(`flox-mlflow as a subprocess (${name} store)`, () => {
    let backend: Backend;
    before(async () => {
      backend = await open();
    });
    after(() => backend.close());
    const where = () => ["--tracking-uri", backend.trackingUri];

    test("log reads FLOX Python's json.dumps stats, equity CSV and trades, keeping NaN, Infinity and 19-digit times exact", async () => {
      const dir = await mkdtemp(join(tmpdir(), "flox-cli-"));
      try {
        await writeFile(join(dir, "report.html"), "<html><body>report</body></html>");
        await writeFile(join(dir, "config.yaml"), "fast: 10\n");
        const experiment = uniqueName("cli-py");
        const ran = await cli([
          "log", "--stats", fixture("python/stats.json"), "--equity", fixture("python/equity.csv"),
          "--trades", fixture("python/trades.json"), "--param", "fast=10", "--param", "fee=0.0004", "--tag", "data=btc=1m",
          "--report", join(dir, "report.html"), "--artifact", join(dir, "config.yaml"),
          "--experiment", experiment, "--run-name", "sma-py", "--no-chart", ...where(),
        ]);
        const run = await backend.getRun(runIdOf(ran));
        assert.equal(run.status, "FINISHED");
        assert.equal(run.runName, "sma-py");
        assert.equal(run.metrics.final_capital, 10250.5);
        assert.equal(run.metrics.avg_trade_duration_ns, 3_600_000_000_000);
        assert.equal(run.tags.sharpe_ratio, "NaN");
        assert.equal(run.tags.profit_factor, "Infinity");
        assert.equal(run.tags.sortino_ratio, "-Infinity");
        assert.equal(run.tags.start_time_ns, "1704067200000000001");
        assert.equal(run.tags.end_time_iso, "2024-01-01T23:59:59.999999999Z");
        assert.equal(run.tags.data, "btc=1m");
        assert.deepEqual(run.params, { fast: "10", fee: "0.0004" });
        assert.deepEqual(run.artifacts, ["config.yaml", "equity_curve.csv", "report.html", "trades.csv"]);
        assert.equal(
          text(await backend.artifact(run.runId, "equity_curve.csv")),
          "timestamp_ns,equity,drawdown_pct\n1704067200000000000,10000,0\n1704067260000000001,10120.25,0\n" +
            "1704067320000000000,10000,1.1881\n1704067380000000000,10250.5,0\n",
        );
        const trades = text(await backend.artifact(run.runId, "trades.csv")).split("\n");
        assert.equal(trades[0], "symbol,side,entry_price,exit_price,quantity,pnl,fee,entry_time_ns,exit_time_ns");
        assert.equal(trades[2], "BTCUSDT,short,42500,42100,0.2,80,3.1,1704070800000000001,1704074400000000000");
        assert.equal(text(await backend.artifact(run.runId, "config.yaml")), "fast: 10\n");
        assert.equal(text(await backend.artifact(run.runId, "report.html")), "<html><body>report</body></html>");
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    test("log --dataset FILE logs the bars as the run's dataset input: named after the file, digested as sha256sum prints it, with its row count", async () => {
      const dir = await mkdtemp(join(tmpdir(), "flox-cli-"));
      try {
        const bars = "timestamp_ns,open,close\n1704067200000000000,42000,42001\n1704067260000000000,42001,42003\n";
        await writeFile(join(dir, "btc_1m.csv"), bars);
        const ran = await cli(["log", "--stats", fixture("python/stats.json"), "--dataset", join(dir, "btc_1m.csv"), "--no-chart", ...where()]);
        const [input] = await inputsOf(backend, runIdOf(ran));
        assert.equal(input?.dataset.name, "btc_1m");
        assert.equal(input.dataset.digest, createHash("sha256").update(bars).digest("hex").slice(0, 8));
        assert.equal(JSON.parse(input.dataset.profile ?? "{}").num_rows, 2);
        assert.equal(input.tags["mlflow.data.context"], "backtest");
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    test("log reads FLOX Node's JSON (camelCase stats, typed-array columns with BigInt strings) piped on standard input", async () => {
      const ran = await cli(
        [
          "log", "--stats", "-", "--equity", fixture("node/equity.json"), "--trades", fixture("node/trades.json"),
          "--symbols", "BTCUSDT,ETHUSDT", "--json", "--no-chart", ...where(),
        ],
        { stdin: await readFile(fixture("node/stats.json"), "utf8") },
      );
      assert.equal(ran.code, 0, ran.stderr);
      const { runId } = JSON.parse(ran.stdout) as { runId: string };
      const run = await backend.getRun(runId);
      assert.equal(run.metrics.netPnl, 250.5);
      assert.equal(run.metrics.totalTrades, 3);
      // JSON.stringify wrote NaN and Infinity as null: there is nothing left to log.
      assert.equal(run.metrics.sharpeRatio, undefined);
      assert.equal(run.tags.sharpeRatio, undefined);
      assert.equal(
        text(await backend.artifact(runId, "equity_curve.csv")).split("\n")[2],
        "1704067260000000001,10120.25,0",
      );
      const trades = text(await backend.artifact(runId, "trades.csv")).split("\n");
      assert.equal(trades[0], "symbol,side,entryPrice,exitPrice,quantity,pnl,fee,entryTimeNs,exitTimeNs");
      assert.equal(trades[1], "BTCUSDT,long,42000,42500.5,0.1,50.05,3.4,1704067200000000000,1704070800000000000");
      assert.equal(trades[2], "ETHUSDT,short,2300,2250,2,100,1.8,1704070800000000001,1704074400000000000");
    });

    test("log reads Codon-style nan/inf tokens and an LF equity CSV (Codon's output guessed)", async () => {
      const ran = await cli(["log", "--stats", fixture("codon/stats.json"), "--equity", fixture("codon/equity.csv"), "--no-chart", ...where()]);
      const run = await backend.getRun(runIdOf(ran));
      assert.equal(run.tags.sharpe_ratio, "NaN");
      assert.equal(run.tags.profit_factor, "Infinity");
      assert.equal(run.tags.sortino_ratio, "-Infinity");
      assert.equal(run.tags.end_time_ns, "1704153599999999999");
      assert.equal(run.metrics.net_pnl, 250.5);
      assert.deepEqual((await backend.metricHistory(run.runId, "equity")).map((p) => p.value), [10000, 10120.25, 10000, 10250.5]);
    });

    test("grid logs FLOX Node GridSearch output with positional params named by --axes, best cell by --metric and --mode", async () => {
      const experiment = uniqueName("cli-grid");
      const ran = await cli([
        "grid", fixture("node/grid.json"), "--axes", "fast,slow", "--metric", "sharpeRatio", "--mode", "min",
        "--experiment", experiment, "--run-name", "sma-grid", "--param", "data=btc", "--json", ...where(),
      ]);
      assert.equal(ran.code, 0, ran.stderr);
      const result = JSON.parse(ran.stdout) as {
        parentRunId: string;
        childRunIds: string[];
        best: { runName: string; runId: string; value: number; params: Record<string, number> };
        failed: unknown[];
      };
      assert.equal(result.childRunIds.length, 6);
      assert.deepEqual(result.failed, []);
      // 5/90 * 4 is the smallest sharpeRatio of the six cells.
      assert.equal(result.best.runName, "fast=5,slow=90");
      assert.deepEqual(result.best.params, { fast: 5, slow: 90 });
      const parent = await backend.getRun(result.parentRunId);
      assert.equal(parent.runName, "sma-grid");
      assert.equal(parent.params.data, "btc");
      assert.equal(parent.params["best.slow"], "90");
      assert.equal(parent.tags.best_run_id, result.best.runId);
      const children = await backend.childrenOf(result.parentRunId, parent.experimentId);
      assert.deepEqual(children.map((c) => c.runName).sort(), [
        "fast=10,slow=30", "fast=10,slow=50", "fast=10,slow=90", "fast=5,slow=30", "fast=5,slow=50", "fast=5,slow=90",
      ]);
      const best = await backend.getRun(result.best.runId);
      assert.equal(best.metrics.sharpeRatio, (5 / 90) * 4);
      assert.deepEqual(best.params, { fast: "5", slow: "90" });
      // Progress went to standard error as plain lines (not a terminal), the result to standard output only.
      assert.match(ran.stderr, /flox-mlflow grid: 6\/6 cells\n/);
      assert.doesNotMatch(ran.stderr, /\r/);
    });

    test("grid reads FLOX Python's {params, stats} cells from standard input and prints the parent run id", async () => {
      const ran = await cli(["grid", "-", "--metric", "net_pnl", ...where()], { stdin: await readFile(fixture("python/grid.json"), "utf8") });
      const parentRunId = runIdOf(ran);
      const parent = await backend.getRun(parentRunId);
      assert.equal(parent.params["best.fast"], "10");
      assert.equal(parent.params["best.slow"], "50");
      assert.equal(parent.metrics["best.net_pnl"], 750);
      assert.equal(parent.tags["best.sharpe_ratio"], "NaN");
      assert.equal(parent.tags["best.start_time_ns"], "1704067200000000001");
      assert.equal((await backend.childrenOf(parentRunId, parent.experimentId)).length, 4);
    });

    test("walk-forward logs FLOX Python folds (snake_case, NaN, exact ns bounds) and Node folds (camelCase)", async () => {
      const py = await cli(["walk-forward", fixture("python/folds.json"), "--json", ...where()]);
      assert.equal(py.code, 0, py.stderr);
      const result = JSON.parse(py.stdout) as { parentRunId: string; childRunIds: string[]; means: Record<string, number> };
      assert.equal(result.childRunIds.length, 3);
      assert.equal(result.means["test.mean.sharpe_ratio"], 1.5);
      const fold1 = await backend.getRun(result.childRunIds[1]!);
      assert.equal(fold1.runName, "fold-1");
      assert.equal(fold1.tags.train_end_ns, "1704127200000000002");
      assert.equal(fold1.tags["train.profit_factor"], "Infinity");
      assert.equal(fold1.params.test_end_bar, "2000");
      assert.equal((await backend.getRun(result.parentRunId)).metrics["train.mean.net_pnl"], 200);

      const node = await cli(["walk-forward", fixture("node/folds.json"), ...where()]);
      const parent = await backend.getRun(runIdOf(node));
      assert.equal(parent.metrics["test.mean.sharpeRatio"], 1);
      const children = await backend.childrenOf(parent.runId, parent.experimentId);
      assert.deepEqual(children.map((c) => c.tags.trainEndNs), ["1704127200000000001", "1704127200000000001"]);
    });
  });
}

describe("flox-mlflow exit codes and messages", () => {
  let backend: RestBackend;
  let scratch: string;
  before(async () => {
    backend = await openRestBackend();
    scratch = await mkdtemp(join(tmpdir(), "flox-cli-"));
  });
  after(async () => {
    await backend.close();
    await rm(scratch, { recursive: true, force: true });
  });
  const where = () => ["--tracking-uri", backend.trackingUri];
  const stats = () => ["--stats", fixture("python/stats.json")];

  test("JSON that is not JSON exits 2 naming the flag, line and column, and creates nothing", async () => {
    const bad = join(scratch, "bad.json");
    await writeFile(bad, '{"sharpe_ratio": 1.2,\n "net_pnl": oops}');
    backend.server.reset();
    const ran = await cli(["log", "--stats", bad, ...where()]);
    assert.equal(ran.code, 2);
    assert.equal(ran.stdout, "");
    assert.equal(
      ran.stderr,
      `flox-mlflow log: MlflowValidationError [INVALID_PARAMETER_VALUE]: --stats: is not valid JSON: line 2, column 13: expected a value, found "oops}"\n`,
    );
    assert.deepEqual(backend.server.requests, [], "no request was sent");
  });

  test("a value the library refuses exits 2 with its MlflowValidationError field, before any request", async () => {
    backend.server.reset();
    const ran = await cli(["log", ...stats(), "--equity", fixture("python/equity.csv"), "--param", "bad key!=1", ...where(), "--json"]);
    assert.equal(ran.code, 2);
    const { error } = JSON.parse(ran.stdout) as { error: { name: string; field: string; message: string } };
    assert.equal(error.name, "MlflowValidationError");
    assert.match(error.field, /^params/);
    assert.match(ran.stderr, /^flox-mlflow log: MlflowValidationError \[INVALID_PARAMETER_VALUE\]: params/);
    assert.doesNotMatch(ran.stderr, /\n\s+at /, "no stack trace");
    assert.deepEqual(backend.server.requests, []);
  });

  test("an unknown flag exits 2 naming the nearest known flag; so do a Python spelling and an unknown command", async () => {
    const typo = await cli(["log", "--stat", "s.json"]);
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, /--stat: is not an option of 'flox-mlflow log'; did you mean '--stats'\?/);
    const python = await cli(["grid", "r.json", "--run_name", "x"]);
    assert.equal(python.code, 2);
    assert.match(python.stderr, /did you mean '--run-name'\?/);
    const command = await cli(["walkforward", "f.json"]);
    assert.equal(command.code, 2);
    assert.match(command.stderr, /walkforward: is not a command; did you mean 'walk-forward'\?/);
  });

  test("missing inputs exit 2: no --stats, two inputs on standard input, a file that does not exist, a grid cell with an unknown field", async () => {
    assert.match((await cli(["log", ...where()])).stderr, /--stats: is required/);
    const twice = await cli(["log", "--stats", "-", "--equity", "-", ...where()], { stdin: "{}" });
    assert.equal(twice.code, 2);
    assert.match(twice.stderr, /--equity: and --stats both read standard input/);
    const missing = await cli(["log", "--stats", join(scratch, "nope.json"), ...where()]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--stats: cannot read '.*nope\.json': no such file/);
    const cell = join(scratch, "cells.json");
    await writeFile(cell, '[{"params": {"fast": 5}, "stat": {"sharpe_ratio": 1}}]');
    const ran = await cli(["grid", cell, ...where()]);
    assert.equal(ran.code, 2);
    assert.match(ran.stderr, /results\[0\]\.stat: is not a field of a grid cell; did you mean 'stats'\?/);
  });

  // 401 is what MLflow's basic-auth app and UNAUTHENTICATED answer (mlflow-spec.md §3.1, exceptions.py:30-51).
  test("a refused login exits 3, and the password in the tracking URI is never printed", async () => {
    backend.server.injectFault({ path: "/api/2.0/mlflow/runs/create", status: 401 });
    const uri = backend.trackingUri.replace("://", "://trader:s3cret-pw@");
    const ran = await cli(["log", ...stats(), "--tracking-uri", uri, "--json"]);
    assert.equal(ran.code, 3, ran.stderr);
    assert.match(ran.stderr, /MlflowError \[401 UNAUTHENTICATED, POST \/api\/2\.0\/mlflow\/runs\/create\]/);
    assert.doesNotMatch(ran.stderr + ran.stdout, /s3cret-pw/);
    backend.server.reset();
  });

  test("a failing server exits 4 once retries are spent", async () => {
    backend.server.injectFault({ path: "/api/2.0/mlflow/runs/create", status: 500, times: Infinity });
    const ran = await cli(["log", ...stats(), ...where()], { env: { MLFLOW_HTTP_REQUEST_MAX_RETRIES: "0" } });
    backend.server.reset();
    assert.equal(ran.code, 4, ran.stderr);
    assert.match(ran.stderr, /^flox-mlflow log: MlflowError \[500/);
  });

  test("a server that cannot be reached exits 4 with the network error", async () => {
    const ran = await cli(["log", ...stats(), "--tracking-uri", "http://127.0.0.1:9"], { env: { MLFLOW_HTTP_REQUEST_MAX_RETRIES: "0" } });
    assert.equal(ran.code, 4, ran.stderr);
    assert.match(ran.stderr, /NETWORK_ERROR/);
  });

  // A 404 is neither bad input, nor a login, nor a failing server (mlflow-spec.md §3.1 maps it to NOT_FOUND codes).
  test("any other failure exits 1", async () => {
    backend.server.injectFault({ path: "/api/2.0/mlflow/runs/create", status: 404 });
    const ran = await cli(["log", ...stats(), ...where()]);
    backend.server.reset();
    assert.equal(ran.code, 1, ran.stderr);
    assert.match(ran.stderr, /^flox-mlflow log: MlflowError \[404 /);
  });

  // The proxy holds the cells' log-batch requests (a slow server), so Ctrl-C lands while the sweep is in flight.
  test("Ctrl-C during a grid ends the parent run KILLED and exits 1", async () => {
    backend.server.injectFault({ path: "/api/2.0/mlflow/runs/log-batch", delayMs: 20_000, times: Infinity });
    const experiment = uniqueName("cli-sigint");
    let interrupted = false;
    const ran = await cli(["grid", fixture("node/grid.json"), "--axes", "fast,slow", "--experiment", experiment, "--json", ...where()], {
      onSpawn(child) {
        const poll = setInterval(() => {
          if (!backend.server.requests.some((r) => r.path === "/api/2.0/mlflow/runs/log-batch")) return;
          clearInterval(poll);
          // process.kill, not child.kill: Deno's child_process then reports a signalled child's own exit code as null.
          process.kill(child.pid!, "SIGINT");
          interrupted = true;
        }, 50);
        child.on("close", () => clearInterval(poll));
      },
    });
    backend.server.reset();
    assert.ok(interrupted, "the grid reached its log-batch requests");
    assert.equal(ran.code, 1, ran.stderr);
    const { error } = JSON.parse(ran.stdout) as { error: { errorCode: string } };
    assert.equal(error.errorCode, "ABORTED");
    const runs = await backend.runsOf(experiment);
    const parent = runs.find((r) => r.tags["flox.sweep"] === "grid");
    assert.equal(parent?.status, "KILLED");
  });

  test("--help per command, the tool's help and --version", async () => {
    for (const [command, usage] of [["log", /--stats FILE/], ["grid", /--axes A,B/], ["walk-forward", /FOLDS\.json/]] as const) {
      const ran = await cli([command, "--help"]);
      assert.equal(ran.code, 0);
      assert.match(ran.stdout, new RegExp(`^Usage: flox-mlflow ${command} `));
      assert.match(ran.stdout, usage);
      assert.match(ran.stdout, /Exit codes: 0 logged; 1 other failure; 2 bad input/);
    }
    const tool = await cli(["--help"]);
    assert.equal(tool.code, 0);
    assert.match(tool.stdout, /Commands:\n {2}log +log one backtest/);
    const version = await cli(["--version"]);
    const pkg = JSON.parse(await readFile(join(REPO, "package.json"), "utf8")) as { version: string };
    assert.equal(version.stdout, `flox-mlflow ${pkg.version}\n`);
    const none = await cli([]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /^Usage: flox-mlflow <command>/);
  });
});

describe("flox-mlflow on other runtimes and as the npm bin", () => {
  let backend: RestBackend;
  let scratch: string;
  before(async () => {
    backend = await openRestBackend();
    scratch = await mkdtemp(join(tmpdir(), "flox-cli-"));
  });
  after(async () => {
    await backend.close();
    await rm(scratch, { recursive: true, force: true });
  });

  for (const [runtime, program] of [
    ["Deno", [join(REPO, "node_modules", ".bin", "deno"), ["run", "-A", MAIN]]],
    ["Bun", [join(REPO, "node_modules", ".bin", "bun"), [MAIN]]],
  ] as const) {
    test(`${runtime} runs src/cli/main.ts: stats piped in, logged to ./mlruns in the working folder`, async () => {
      const cwd = await mkdtemp(join(scratch, runtime));
      const ran = await cli(["log", "--stats", "-", "--equity", fixture("python/equity.csv"), "--no-chart"], {
        cwd,
        program: [program[0], [...program[1]]],
        stdin: await readFile(fixture("python/stats.json"), "utf8"),
      });
      const runId = runIdOf(ran);
      // No tracking URI anywhere: the default ./mlruns, experiment 0.
      const tags = join(cwd, "mlruns", "0", runId, "tags");
      assert.equal(await readFile(join(tags, "start_time_ns"), "utf8"), "1704067200000000001");
      assert.equal(await readFile(join(tags, "sharpe_ratio"), "utf8"), "NaN");
      assert.match(await readFile(join(cwd, "mlruns", "0", runId, "artifacts", "equity_curve.csv"), "utf8"), /^1704067260000000001,10120\.25,0$/m);
    });
  }

  test("the package's bin entry runs the built command line (with the equity chart) against the server, on Node, Bun and Deno", async () => {
    // The layout npm installs: bin/flox-mlflow.mjs beside dist/node/cli.js, from the package's own node build.
    const pkg = join(scratch, "package");
    await mkdir(join(pkg, "bin"), { recursive: true });
    const manifest = JSON.parse(await readFile(join(REPO, "package.json"), "utf8")) as { bin: Record<string, string> };
    const binPath = manifest.bin["flox-mlflow"]!;
    await copyFile(join(REPO, binPath), join(pkg, binPath));
    await chmod(join(pkg, binPath), 0o755);
    await writeFile(join(pkg, "package.json"), JSON.stringify({ name: "flox-mlflow", type: "module", bin: manifest.bin }));
    await symlink(join(REPO, "node_modules"), join(pkg, "node_modules"), "dir");
    const { build } = await import("../scripts/build.ts");
    await build({ outDir: join(pkg, "dist"), parts: ["node"] });
    const ran = await cli(
      ["log", "--stats", fixture("python/stats.json"), "--equity", fixture("node/equity.json"), "--tracking-uri", backend.trackingUri, "--run-name", "from-bin"],
      { program: [join(pkg, binPath), []], cwd: pkg },
    );
    const run = await backend.getRun(runIdOf(ran));
    assert.equal(run.runName, "from-bin");
    assert.deepEqual(run.artifacts, ["equity_curve.csv", "equity_curve.png", "equity_curve.svg"]);
    const png = await backend.artifact(run.runId, "equity_curve.png");
    assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]);
    // `bunx --bun flox-mlflow` and `deno run -A npm:flox-mlflow` run the same file under their runtime.
    for (const [runtime, lead] of [
      [join(REPO, "node_modules", ".bin", "bun"), []],
      [join(REPO, "node_modules", ".bin", "deno"), ["run", "-A"]],
    ] as const) {
      const other = await cli(
        ["log", "--stats", "-", "--tracking-uri", backend.trackingUri, "--run-name", "bin-elsewhere", "--json"],
        { program: [runtime, [...lead, join(pkg, binPath)]], cwd: pkg, stdin: await readFile(fixture("codon/stats.json"), "utf8") },
      );
      assert.equal(other.code, 0, `${runtime}: ${other.stderr}`);
      const { runId } = JSON.parse(other.stdout) as { runId: string };
      assert.equal((await backend.getRun(runId)).tags.end_time_ns, "1704153599999999999");
    }
  });

  // util-linux `script` gives the command a terminal for its standard streams, as a user's shell does.
  test("on a terminal, grid draws its progress bar in place, and '-' refuses to wait for typing", async () => {
    const node = `${NODE} --import ${TSX} ${MAIN}`;
    const grid = await cli(["-qec", `${node} grid ${fixture("node/grid.json")} --axes fast,slow --tracking-uri ${backend.trackingUri}`, "/dev/null"], {
      program: ["script", []],
    });
    assert.equal(grid.code, 0, grid.stdout);
    assert.match(grid.stdout, /\rflox-mlflow grid \[#{5}-{25}\] 1\/6 cells/);
    assert.match(grid.stdout, /\rflox-mlflow grid \[#{30}\] 6\/6 cells\r?\n/);
    assert.match(grid.stdout, /^[0-9a-f]{32}\r?$/m);
    const stdin = await cli(["-qec", `${node} log --stats - --tracking-uri ${backend.trackingUri}`, "/dev/null"], { program: ["script", []] });
    assert.equal(stdin.code, 2);
    assert.match(stdin.stdout, /--stats: reads standard input \('-'\), which is a terminal; pipe the data in/);
  });

  test("the README's Command line examples run as written", async () => {
    const readme = await readFile(join(REPO, "README.md"), "utf8");
    const section = /\n## Command line\n([\s\S]*?)\n## /.exec(readme)?.[1];
    assert.ok(section, "README has a Command line section");
    const commands = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) => m[1]!.split("\n"))
      .map((line) => line.replace(/\s+#.*$/, "").trim())
      .filter((line) => /(^|\| )flox-mlflow /.test(line));
    assert.ok(commands.length >= 4, `examples found: ${commands.join("; ")}`);
    // `flox-mlflow` on PATH runs the sources, as the npm bin runs the build.
    const binDir = join(scratch, "path");
    await mkdir(binDir, { recursive: true });
    await writeFile(join(binDir, "flox-mlflow"), `#!/bin/sh\nexec "${NODE}" --import "${TSX}" "${MAIN}" "$@"\n`);
    await chmod(join(binDir, "flox-mlflow"), 0o755);
    // The files the examples name, as FLOX writes them.
    const cwd = await mkdtemp(join(scratch, "readme"));
    for (const [from, to] of [
      ["python/stats.json", "stats.json"], ["python/equity.csv", "equity.csv"], ["python/trades.csv", "trades.csv"],
      ["node/grid.json", "results.json"], ["python/folds.json", "folds.json"],
    ]) await copyFile(fixture(from!), join(cwd, to!));
    await writeFile(join(cwd, "report.html"), "<html></html>");
    for (const command of commands) {
      const ran = await cli(["-c", command], {
        cwd,
        program: ["/bin/sh", []],
        env: { PATH: `${binDir}:${process.env.PATH}`, MLFLOW_TRACKING_URI: backend.trackingUri },
      });
      assert.equal(ran.code, 0, `${command}\n${ran.stderr}`);
      assert.ok(RUN_ID.test(ran.stdout) || ran.stdout.startsWith("{") || ran.stdout.startsWith("Usage:"), `${command}: ${ran.stdout}`);
    }
  });
});
