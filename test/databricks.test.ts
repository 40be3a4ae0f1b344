/**
 * Logging to a Databricks workspace: `trackingUri: "databricks"` signed in
 * with a personal access token, a service principal's OAuth token or a
 * profile of ~/.databrickscfg; experiment names as workspace paths; run
 * artifacts through the workspace's presigned URLs, refreshed when expired;
 * throttling; and no secret in any error or tag.
 *
 * These tests always run against the fake workspace of
 * test/support/fake_databricks.ts, also when MLFLOW_TEST_TRACKING_URI names
 * an external MLflow server: Databricks is a differently configured server
 * (auth, path rules, signed-URL artifacts) that a self-hosted MLflow cannot
 * stand in for.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { logBacktest, logGrid, logToMlflow, MlflowError, MlflowValidationError } from "../mod.ts";
import { BACKENDS, type Backend } from "./support/backends.ts";
import { type FakeDatabricks, startFakeDatabricks } from "./support/fake_databricks.ts";
import type { RestExperiment, RestRun } from "./support/target.ts";

const FAST_RETRY = { initialDelayMs: 5, maxDelayMs: 50, timeoutMs: 10_000, budgetMs: 30_000 };

const STATS = { sharpe_ratio: 1.25, max_drawdown_pct: 3.5, total_trades: 50, net_pnl: 1234.5, win_rate: 0.55 };
const EQUITY = {
  timestampNs: BigInt64Array.from({ length: 300 }, (_, i) => 1_700_000_000_000_000_000n + BigInt(i) * 60_000_000_000n),
  equity: Float64Array.from({ length: 300 }, (_, i) => 10_000 + Math.sin(i / 10) * 100 + i),
};
const TRADES = Array.from({ length: 50 }, (_, i) => ({ side: i % 2 ? "long" : "short", pnl: i * 1.5, note: `t${i}` }));
const BACKTEST = { stats: STATS, equityCurve: EQUITY, trades: TRADES, params: { fast: 10, slow: 30 } };

const patEnv = (ws: FakeDatabricks): Record<string, string> => ({ DATABRICKS_HOST: ws.url, DATABRICKS_TOKEN: ws.pat });
const oauthEnv = (ws: FakeDatabricks): Record<string, string> => ({
  DATABRICKS_HOST: ws.url,
  DATABRICKS_CLIENT_ID: ws.clientId,
  DATABRICKS_CLIENT_SECRET: ws.clientSecret,
});

let counter = 0;
const experimentPath = (ws: FakeDatabricks, name: string): string => `/Users/${ws.userName}/${name}-${++counter}`;

/** Every message and cause down the chain, for secret checks. */
function errorTexts(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 20; depth++) {
    if (e instanceof Error) {
      parts.push(e.message, String(e.stack ?? ""), JSON.stringify(e, Object.getOwnPropertyNames(e)));
      e = e.cause;
    } else {
      parts.push(String(e));
      break;
    }
  }
  return parts.join("\n");
}

async function readRun(ws: FakeDatabricks, runId: string): Promise<RestRun> {
  return (await ws.api<{ run: RestRun }>("GET", "mlflow/runs/get", { run_id: runId })).run;
}

async function experimentId(ws: FakeDatabricks, name: string): Promise<string> {
  return (await ws.api<{ experiment: RestExperiment }>("GET", "mlflow/experiments/get-by-name", { experiment_name: name })).experiment.experiment_id;
}

/** The run's artifact files in the workspace's storage, relative to its artifact root. */
async function bucketFiles(ws: FakeDatabricks, run: RestRun): Promise<string[]> {
  return [...(await ws.files(run.info.experiment_id, run.info.run_id)).keys()].sort();
}

describe("logging to a Databricks workspace", () => {
  let ws: FakeDatabricks;
  let fileStore: Backend;
  before(async () => {
    ws = await startFakeDatabricks({ tokenTtlSeconds: 3600 });
    fileStore = await BACKENDS.find((b) => b.name === "file")!.open();
  });
  after(async () => {
    await ws.close();
    await fileStore.close();
  });

  test("logBacktest with a personal access token: stats, params and every artifact byte for byte as the file store writes them", async () => {
    const experiment = experimentPath(ws, "bt");
    const runId = await logBacktest({ trackingUri: "databricks", env: patEnv(ws), retry: FAST_RETRY, experiment, ...BACKTEST });
    const reference = await logBacktest({ trackingUri: fileStore.trackingUri, env: {}, experiment: "reference", ...BACKTEST });
    const run = await readRun(ws, runId);
    const expected = await fileStore.getRun(reference);
    assert.equal(run.info.status, "FINISHED");
    assert.match(run.info.artifact_uri, /^dbfs:\/databricks\/mlflow-tracking\/\d+\/[0-9a-f]{32}\/artifacts$/);
    assert.deepEqual(Object.fromEntries((run.data.metrics ?? []).map((m) => [m.key, m.value])), expected.metrics);
    assert.deepEqual(Object.fromEntries((run.data.params ?? []).map((p) => [p.key, p.value])), expected.params);
    const files = await bucketFiles(ws, run);
    assert.deepEqual(files, expected.artifacts);
    for (const name of ["equity_curve.csv", "trades.csv", "equity_curve.png"]) assert.ok(files.includes(name), name);
    // The chart names its run, so only the data files can match the reference byte for byte.
    for (const file of files.filter((f) => !/\.(png|svg)$/.test(f))) {
      assert.deepEqual(await ws.artifact(runId, file), await fileStore.artifact(reference, file), file);
    }
    const png = await ws.artifact(runId, "equity_curve.png");
    assert.deepEqual([...png.slice(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    assert.deepEqual([...png.slice(-8)], [0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82], "the PNG ends with its IEND chunk");
    assert.ok(png.length > 10_000);
    // The signed header went along (the bucket checked its signature) and S3 kept it.
    for (const file of files) {
      assert.equal(ws.bucket.objects.get(`${run.info.experiment_id}/${runId}/artifacts/${file}`)?.metadata["x-amz-server-side-encryption"], "AES256");
    }
    const puts = ws.bucket.requests.filter((r) => r.method === "PUT" && r.key.includes(runId));
    assert.ok(puts.every((r) => r.status === 200 && r.contentLength !== undefined), JSON.stringify(puts));
    // Concurrent uploads share credentials requests.
    const asked = ws.credentialRequests.filter((paths) => paths.some((p) => files.includes(p)));
    assert.deepEqual(asked.flat().sort(), files);
    assert.ok(asked.length < files.length, `${asked.length} credentials requests for ${files.length} files`);
  });

  test("logGrid logs a parent and its cells to the workspace named by MLFLOW_TRACKING_URI=databricks", async () => {
    const experiment = experimentPath(ws, "grid");
    const results = [10, 20].flatMap((fast) => [50, 100].map((slow) => ({ params: { fast, slow }, stats: { sharpe_ratio: fast / slow } })));
    const env = { ...patEnv(ws), MLFLOW_TRACKING_URI: "databricks" };
    const grid = await logGrid({ env, retry: FAST_RETRY, experiment, runName: "grid", results, metric: "sharpe_ratio", direction: "max" });
    assert.equal(grid.childRunIds.length, 4);
    const parent = await readRun(ws, grid.parentRunId);
    assert.equal(parent.info.status, "FINISHED");
    const tags = Object.fromEntries((parent.data.tags ?? []).map((t) => [t.key, t.value]));
    const best = await readRun(ws, tags["best_run_id"]!);
    assert.deepEqual(Object.fromEntries((best.data.params ?? []).map((p) => [p.key, p.value])), { fast: "20", slow: "50" });
    assert.equal(await experimentId(ws, experiment), parent.info.experiment_id);
  });

  test("OAuth machine-to-machine: a token the workspace expires mid-run is fetched again and the request repeated", async () => {
    const issuedBefore = ws.oauth.issued.length;
    const experiment = experimentPath(ws, "m2m");
    const runId = await logToMlflow({ trackingUri: "databricks", env: oauthEnv(ws), retry: FAST_RETRY, experiment }, async (run) => {
      await run.logParams({ phase: "before expiry" });
      ws.oauth.expireAll();
      await run.logBacktest(BACKTEST);
      return run.runId;
    });
    const run = await readRun(ws, runId);
    assert.equal(run.info.status, "FINISHED");
    assert.ok((await bucketFiles(ws, run)).includes("equity_curve.csv"));
    assert.equal(ws.oauth.issued.length - issuedBefore, 2);
    assert.ok(ws.proxy.requests.some((r) => r.status === 401), "the expired token was refused once");
  });

  test("OAuth machine-to-machine: a short-lived token is renewed before it expires, without a refusal", async () => {
    // 41 s tokens are fresh for 1 s: the client renews 40 s before expiry.
    ws.oauth.setTtl(41);
    try {
      const issuedBefore = ws.oauth.issued.length;
      const seen = ws.proxy.requests.length;
      const runId = await logToMlflow({ trackingUri: "databricks", env: oauthEnv(ws), retry: FAST_RETRY, experiment: experimentPath(ws, "short") }, async (run) => {
        await run.logParams({ phase: "first token" });
        await new Promise((resolve) => setTimeout(resolve, 1_200));
        await run.logBacktest({ ...BACKTEST, chart: false });
        return run.runId;
      });
      assert.equal((await readRun(ws, runId)).info.status, "FINISHED");
      assert.equal(ws.oauth.issued.length - issuedBefore, 2);
      assert.ok(ws.proxy.requests.slice(seen).every((r) => r.status !== 401 && r.status !== 403));
    } finally {
      ws.oauth.setTtl(3600);
    }
  });

  test("a profile of ~/.databrickscfg names the workspace; DEFAULT's keys are not merged into it", async () => {
    const home = await mkdtemp(join(tmpdir(), "flox-dbcfg-"));
    try {
      await writeFile(
        join(home, ".databrickscfg"),
        `; written by the test\n[DEFAULT]\nhost = https://unused.example.com\ntoken = dapi-default\n\n[ci]\nhost = ${ws.url}/\ntoken = ${ws.pat}\n\n[hostonly]\nhost = ${ws.url}\n\n[wrong]\nhost = ${ws.url}\ntoken = dapi-wrong-0123456789\n`,
      );
      const runId = await logBacktest({ trackingUri: "databricks://ci", env: { HOME: home }, retry: FAST_RETRY, experiment: experimentPath(ws, "profile"), stats: STATS });
      assert.equal((await readRun(ws, runId)).info.status, "FINISHED");
      const viaVariables = await logBacktest({
        trackingUri: "databricks",
        env: { DATABRICKS_CONFIG_FILE: join(home, ".databrickscfg"), DATABRICKS_CONFIG_PROFILE: "ci" },
        retry: FAST_RETRY,
        experiment: experimentPath(ws, "profile"),
        stats: STATS,
      });
      assert.equal((await readRun(ws, viaVariables)).info.status, "FINISHED");
      await assert.rejects(
        logBacktest({ trackingUri: "databricks://hostonly", env: { HOME: home }, experiment: experimentPath(ws, "x"), stats: STATS }),
        (err: unknown) => err instanceof MlflowValidationError && /no Databricks credentials/.test(err.message) && !err.message.includes("dapi-default"),
      );
      const wrong = await logBacktest({ trackingUri: "databricks://wrong", env: { HOME: home }, retry: FAST_RETRY, experiment: experimentPath(ws, "x"), stats: STATS })
        .then(() => undefined, (e: unknown) => e);
      assert.ok(wrong instanceof MlflowError);
      assert.match(wrong.message, /token in profile 'wrong' of .*\.databrickscfg/);
      assert.ok(!errorTexts(wrong).includes("dapi-wrong-0123456789"));
      await assert.rejects(
        logBacktest({ trackingUri: "databricks://prod", env: { HOME: home }, experiment: experimentPath(ws, "x"), stats: STATS }),
        (err: unknown) => err instanceof MlflowValidationError && /no 'prod' profile/.test(err.message) && /'ci'/.test(err.message),
      );
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });

  test("[__settings__] default_profile picks the profile plain 'databricks' uses", async () => {
    const home = await mkdtemp(join(tmpdir(), "flox-dbcfg-"));
    try {
      await writeFile(join(home, ".databrickscfg"), `[__settings__]\ndefault_profile = dev\n\n[dev]\nhost=${ws.url}\ntoken=${ws.pat}\n`);
      const runId = await logBacktest({ trackingUri: "databricks", env: { HOME: home }, retry: FAST_RETRY, experiment: experimentPath(ws, "settings"), stats: STATS });
      assert.equal((await readRun(ws, runId)).info.status, "FINISHED");
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });

  test("a bare experiment name fails before any request, showing the workspace path forms", async () => {
    const seen = ws.proxy.requests.length;
    await assert.rejects(
      logBacktest({ trackingUri: "databricks", env: patEnv(ws), experiment: "sma-crossover", stats: STATS }),
      (err: unknown) => {
        assert.ok(err instanceof MlflowValidationError);
        assert.equal(err.field, "experiment");
        assert.match(err.message, /'\/Users\/<your user name>\/sma-crossover' or '\/Shared\/sma-crossover'/);
        return true;
      },
    );
    assert.equal(ws.proxy.requests.length, seen);
  });

  test("a /Workspace path with doubled slashes is stored as Databricks names it, and a missing folder is created", async () => {
    const leaf = `bt-${++counter}`;
    const runId = await logBacktest({ trackingUri: "databricks", env: patEnv(ws), retry: FAST_RETRY, experiment: `/Workspace/Shared//team-${counter}/${leaf}`, stats: STATS });
    const run = await readRun(ws, runId);
    assert.equal(await experimentId(ws, `/Shared/team-${counter}/${leaf}`), run.info.experiment_id);
    assert.ok(ws.folders.has(`/Shared/team-${counter}`));
    assert.ok(ws.proxy.requests.some((r) => r.path === "/api/2.0/workspace/mkdirs" && r.status === 200));
  });

  test("an expired signed URL is refused by the bucket, then fresh credentials for that file are fetched and the upload sent once more", async () => {
    ws.expireNextUploadUrls(1);
    const before = ws.bucket.requests.length;
    const runId = await logBacktest({ trackingUri: "databricks", env: patEnv(ws), retry: FAST_RETRY, experiment: experimentPath(ws, "expired"), ...BACKTEST, chart: false });
    const run = await readRun(ws, runId);
    const refused = ws.bucket.requests.slice(before).filter((r) => r.status === 403);
    assert.equal(refused.length, 1);
    const key = refused[0]!.key;
    const path = key.slice(key.indexOf("/artifacts/") + "/artifacts/".length);
    assert.deepEqual(ws.credentialRequests.at(-1), [path]);
    const retried = ws.bucket.requests.slice(before).filter((r) => r.key === key && r.method === "PUT").map((r) => r.status);
    assert.deepEqual(retried, [403, 200]);
    assert.equal(run.info.status, "FINISHED");
    assert.deepEqual(await ws.artifact(runId, path), await fileStore.artifact(
      await logBacktest({ trackingUri: fileStore.trackingUri, env: {}, ...BACKTEST, chart: false }),
      path,
    ));
  });

  test("a 429 with Retry-After is waited out, then the request goes through", async () => {
    const experiment = experimentPath(ws, "throttled");
    ws.proxy.injectFault({
      method: "POST",
      path: "/api/2.0/mlflow/runs/log-batch",
      status: 429,
      headers: { "Retry-After": "1" },
      body: JSON.stringify({ error_code: "REQUEST_LIMIT_EXCEEDED", message: "Too many requests. Please try again later." }),
      contentType: "application/json",
    });
    const started = Date.now();
    const runId = await logBacktest({ trackingUri: "databricks", env: patEnv(ws), retry: FAST_RETRY, experiment, stats: STATS });
    const batches = ws.proxy.requests.filter((r) => r.path === "/api/2.0/mlflow/runs/log-batch").slice(-2).map((r) => r.status);
    assert.deepEqual(batches, [429, 200]);
    // FAST_RETRY's own backoff is at most 50 ms: only Retry-After explains a second's wait.
    assert.ok(Date.now() - started >= 950, `${Date.now() - started} ms`);
    assert.equal((await readRun(ws, runId)).info.status, "FINISHED");
  });

  test("a wrong token fails naming DATABRICKS_TOKEN, never showing it", async () => {
    const wrong = `dapi${"f".repeat(32)}`;
    const err = await logBacktest({ trackingUri: "databricks", env: { DATABRICKS_HOST: ws.url, DATABRICKS_TOKEN: wrong }, retry: FAST_RETRY, experiment: experimentPath(ws, "x"), stats: STATS })
      .then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof MlflowError);
    assert.equal(err.status, 403);
    assert.match(err.message, /DATABRICKS_TOKEN/);
    assert.ok(!errorTexts(err).includes(wrong));
  });

  test("a wrong OAuth secret fails naming the variables, never showing the secret", async () => {
    const secret = `dose${"e".repeat(32)}`;
    const err = await logBacktest({
      trackingUri: "databricks",
      env: { ...oauthEnv(ws), DATABRICKS_CLIENT_SECRET: secret },
      retry: FAST_RETRY,
      experiment: experimentPath(ws, "x"),
      stats: STATS,
    }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof MlflowError);
    assert.equal(err.errorCode, "OAUTH_FAILED");
    assert.match(err.message, /DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET/);
    assert.match(err.message, /invalid_client/);
    const texts = errorTexts(err);
    assert.ok(!texts.includes(secret) && !texts.includes(btoa(`${ws.clientId}:${secret}`)));
  });

  test("no secret reaches a run's params, tags or artifacts", async () => {
    for (const env of [patEnv(ws), oauthEnv(ws)]) {
      const runId = await logBacktest({ trackingUri: "databricks", env, retry: FAST_RETRY, experiment: experimentPath(ws, "clean"), ...BACKTEST, chart: false });
      const run = await readRun(ws, runId);
      const values = [...(run.data.tags ?? []), ...(run.data.params ?? [])].map((t) => `${t.key}=${t.value}`).join("\n");
      const artifacts = await Promise.all((await bucketFiles(ws, run)).map(async (f) => new TextDecoder().decode(await ws.artifact(runId, f))));
      for (const secret of [ws.pat, ws.clientSecret, ...ws.oauth.issued]) {
        assert.ok(!values.includes(secret) && !artifacts.some((a) => a.includes(secret)));
      }
    }
  });
});

describe("Databricks credentials pages", () => {
  test("credentials-for-write answered in pages of two are all followed", async () => {
    const ws = await startFakeDatabricks({ credentialsPageSize: 2 });
    try {
      const runId = await logBacktest({ trackingUri: "databricks", env: patEnv(ws), retry: FAST_RETRY, experiment: experimentPath(ws, "pages"), ...BACKTEST });
      const run = await readRun(ws, runId);
      assert.equal(run.info.status, "FINISHED");
      const files = await bucketFiles(ws, run);
      assert.ok(files.length >= 4);
      // Each page is a request with the same paths and the previous page's token.
      const batch = ws.credentialRequests.find((paths) => paths.length > 2);
      assert.ok(batch !== undefined, JSON.stringify(ws.credentialRequests));
      assert.equal(ws.credentialRequests.filter((paths) => paths.join() === batch.join()).length, Math.ceil(batch.length / 2));
    } finally {
      await ws.close();
    }
  });
});
