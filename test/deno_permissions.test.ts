/**
 * Least privilege on Deno: scripts import the module from source (as a
 * `jsr:` import gets it, with this repository's deno.json and node_modules)
 * and run in a Deno subprocess with `--no-prompt` and exact permission flags.
 * Deno's permission audit log (`DENO_AUDIT_PERMISSIONS`, one JSON line per
 * permission check, granted or not) shows what the process asked for: a
 * check outside the flags is what would have prompted on a terminal. Every
 * run is read back from the in-memory MLflow server or from `./mlruns`.
 *
 * Node only: the test drives the `deno` binary from Node, so under Deno or Bun
 * this file registers no tests.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { after, before, describe, test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { readMlruns } from "./support/mlruns_reader.ts";
import { restReader, runIdIn, startTarget, type Target, valuesOf } from "./support/target.ts";
import { onNode } from "./support/node.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const DENO = join(REPO, "node_modules", ".bin", "deno");
const RESVG_WASM = join(REPO, "node_modules", "@resvg", "resvg-wasm", "index_bg.wasm");

/** One line of Deno's permission audit log. */
interface AuditEntry {
  permission: string;
  value: string | null;
}

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
  /** Every permission check the process made. */
  audit: AuditEntry[];
}

/** Runs `deno run --no-prompt <flags> <script> <args>` in `cwd` with a permission audit log. */
async function runDeno(cwd: string, flags: string[], script: string[], env: Record<string, string> = {}): Promise<Ran> {
  const auditFile = join(cwd, `audit-${Math.random().toString(16).slice(2)}.jsonl`);
  const childEnv = {
    ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(npm_|MLFLOW_|DENO_)/i.test(key))),
    NO_COLOR: "1",
    DENO_NO_UPDATE_CHECK: "1",
    DENO_AUDIT_PERMISSIONS: auditFile,
    ...env,
  };
  const args = ["run", "--no-prompt", "--config", join(REPO, "deno.json"), ...flags, ...script];
  const { code, stdout, stderr } = await new Promise<Omit<Ran, "audit">>((resolve) => {
    execFile(DENO, args, { cwd, env: childEnv, maxBuffer: 16 * 1024 * 1024, timeout: 120_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, stdout, stderr });
    });
  });
  const text = await readFile(auditFile, "utf8").catch(() => "");
  await rm(auditFile, { force: true });
  const audit = text.split("\n").filter((line) => line.trim() !== "").map((line) => JSON.parse(line) as AuditEntry);
  return { code, stdout, stderr, audit };
}

// Git source tags look for `.git` from the script's folder up. On Deno each folder is first a
// permission query (`Deno.permissions.querySync`, which never prompts but is in the audit log),
// and the look stops at the first folder not granted: the script's own, here.
const gitLookup = (entry: AuditEntry): boolean =>
  entry.permission === "read" && /\/flox-deno-perms-[^/]+$/.test(String(entry.value));

/** The checks outside what `allowed` accepts (and the git lookup's query): each would have been a prompt on a terminal. */
const outside = (audit: AuditEntry[], allowed: (entry: AuditEntry) => boolean): string[] =>
  audit.filter((entry) => !allowed(entry) && !gitLookup(entry)).map((entry) => `${entry.permission} ${entry.value}`);

/** A user's script: a backtest with equity curve and trades; the tracking URI from argv when given, else from the environment. */
const SCRIPT = `
import { logBacktest } from ${JSON.stringify(pathToFileURL(join(REPO, "mod.ts")).href)};
const start = 1717200000000000000n;
const equityCurve = Array.from({ length: 500 }, (_, i) => ({ timestamp_ns: start + BigInt(i) * 60000000000n, equity: 1000 + Math.sin(i / 20) * 50 + i }));
const runId = await logBacktest({
  ...(Deno.args[0] ? { trackingUri: Deno.args[0], experiment: "deno-permissions" } : {}),
  runName: "least-privilege",
  stats: { sharpe_ratio: 0.9, total_trades: 1 },
  params: { fast: 3 },
  equityCurve,
  trades: [{ symbol: "BTCUSDT", side: "long", entry_price: 1, exit_price: 2, quantity: 1, pnl: 1 }],
});
console.log("logged run " + runId);
`;

if (onNode) {
  describe("Deno runs with exact permission flags and never prompts", () => {
    let target: Target;
    let host: string;
    let work: string;

    before(async () => {
      target = await startTarget();
      host = new URL(target.trackingUri).host;
      work = await mkdtemp(join(tmpdir(), "flox-deno-perms-"));
      await writeFile(join(work, "script.ts"), SCRIPT);
    });

    after(async () => {
      await target?.close();
      if (work) await rm(work, { recursive: true, force: true });
    });

    test("trackingUri in code: --allow-net=<server> and read access to resvg's WebAssembly log the run with its chart; no env or sys check", async () => {
      const ran = await runDeno(work, [`--allow-net=${host}`, `--allow-read=${RESVG_WASM}`], ["script.ts", target.trackingUri], {
        MLFLOW_TRACKING_TOKEN: "not-to-be-read",
      });
      assert.equal(ran.code, 0, ran.stderr);
      assert.deepEqual(
        outside(ran.audit, (e) => e.permission === "net" || (e.permission === "read" && e.value === RESVG_WASM)),
        [],
      );
      const reader = restReader(target.trackingUri);
      const { run } = await reader.getRun(runIdIn(ran.stdout));
      assert.equal(run.info.status, "FINISHED");
      assert.equal(valuesOf(run.data.tags)["flox.chart_error"], undefined);
      // The OS user needs --allow-sys=userInfo; without it the user is unknown, as the README says.
      assert.equal(valuesOf(run.data.tags)["mlflow.user"], "unknown");
      assert.equal(valuesOf(run.data.metrics).sharpe_ratio, 0.9);
      assert.ok((await reader.getArtifact(run, "equity_curve.png")).byteLength > 1000);
    });

    test("--allow-net alone: the run is logged without the chart, whose tag names the file to allow; nothing else is asked for", async () => {
      const ran = await runDeno(work, [`--allow-net=${host}`], ["script.ts", target.trackingUri]);
      assert.equal(ran.code, 0, ran.stderr);
      assert.deepEqual(outside(ran.audit, (e) => e.permission === "net"), []);
      const reader = restReader(target.trackingUri);
      const { run } = await reader.getRun(runIdIn(ran.stdout));
      assert.equal(run.info.status, "FINISHED");
      const chartError = String(valuesOf(run.data.tags)["flox.chart_error"]);
      assert.match(chartError, /--allow-read/);
      assert.ok(chartError.includes("index_bg.wasm"), chartError);
      await reader.getArtifact(run, "equity_curve.csv");
    });

    test("--allow-env=MLFLOW_TRACKING_URI,MLFLOW_EXPERIMENT_NAME reads those two and no other variable (a token set beside them stays unread)", async () => {
      const ran = await runDeno(
        work,
        ["--allow-env=MLFLOW_TRACKING_URI,MLFLOW_EXPERIMENT_NAME", `--allow-net=${host}`, `--allow-read=${RESVG_WASM}`],
        ["script.ts"],
        { MLFLOW_TRACKING_URI: target.trackingUri, MLFLOW_EXPERIMENT_NAME: "deno-env-names", MLFLOW_TRACKING_TOKEN: "not-to-be-read" },
      );
      assert.equal(ran.code, 0, ran.stderr);
      const envChecks = ran.audit.filter((e) => e.permission === "env").map((e) => e.value);
      assert.deepEqual([...new Set(envChecks)].sort(), ["MLFLOW_EXPERIMENT_NAME", "MLFLOW_TRACKING_URI"]);
      assert.deepEqual(
        outside(ran.audit, (e) => e.permission === "net" || e.permission === "env" || (e.permission === "read" && e.value === RESVG_WASM)),
        [],
      );
      const reader = restReader(target.trackingUri);
      const { run } = await reader.getRun(runIdIn(ran.stdout));
      assert.equal(run.info.experiment_id, (await reader.getExperimentByName("deno-env-names")).experiment.experiment_id);
      assert.equal(run.info.run_name, "least-privilege");
    });

    test("file store: --allow-env=MLFLOW_TRACKING_URI --allow-read=./mlruns,<wasm> --allow-write=./mlruns write the run and its chart into ./mlruns and touch nothing else", async () => {
      const mlruns = join(work, "mlruns");
      const ran = await runDeno(
        work,
        ["--allow-env=MLFLOW_TRACKING_URI", `--allow-read=./mlruns,${RESVG_WASM}`, "--allow-write=./mlruns"],
        ["script.ts"],
        { MLFLOW_TRACKING_URI: "file:./mlruns" },
      );
      assert.equal(ran.code, 0, ran.stderr);
      const inStore = (value: string | null): boolean => value === mlruns || (value ?? "").startsWith(mlruns + "/");
      assert.deepEqual(
        outside(ran.audit, (e) =>
          (e.permission === "env" && e.value === "MLFLOW_TRACKING_URI") ||
          (e.permission === "write" && inStore(e.value)) ||
          (e.permission === "read" && (inStore(e.value) || e.value === RESVG_WASM))),
        [],
      );
      const runId = runIdIn(ran.stdout);
      const experiments = await readMlruns(mlruns);
      const run = experiments.flatMap((e) => e.runs).find((r) => r.id === runId);
      assert.ok(run, `run ${runId} not in ./mlruns`);
      assert.equal(run.meta.status, 3);
      assert.equal(run.params.fast, "3");
      assert.equal(run.tags["flox.chart_error"], undefined);
      assert.deepEqual(run.artifacts, ["equity_curve.csv", "equity_curve.png", "equity_curve.svg", "trades.csv"]);
    });
  });
}
