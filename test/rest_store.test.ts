import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { logBacktest, logToMlflow, MlflowError } from "../mod.ts";
import { openRestBackend, type RestBackend, uniqueName } from "./support/backends.ts";
import type { FaultProxy } from "./support/fault_proxy.ts";

const FAST_RETRY = { initialDelayMs: 5, maxDelayMs: 20, timeoutMs: 2000, budgetMs: 10_000 };

// Requests go through the target's fault proxy, so request counts and injected faults work
// the same against the in-memory server and a real one (MLFLOW_TEST_TRACKING_URI).
describe("REST store against an MLflow server", () => {
  let backend: RestBackend;
  let server: FaultProxy;
  before(async () => {
    backend = await openRestBackend();
    server = backend.server;
  });
  after(() => backend.close());
  const base = () => ({ trackingUri: backend.trackingUri, env: {}, retry: FAST_RETRY });
  const countSince = (from: number, pathPart: string) =>
    server.requests.slice(from).filter((r) => r.path.includes(pathPart)).length;

  test("one backtest takes create, one log-batch, the uploads, one listing to check them and one update", async () => {
    const experiment = uniqueName("count");
    await logBacktest({ ...base(), experiment, stats: { a: 1 }, chart: false }); // warms the experiment cache
    const from = server.requests.length;
    await logBacktest({
      ...base(),
      experiment,
      chart: false,
      stats: Object.fromEntries(Array.from({ length: 29 }, (_, i) => [`s${i}`, i])),
      params: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`p${i}`, i])),
      equityCurve: { timestampNs: BigInt64Array.of(1n, 2n), equity: Float64Array.of(1, 2) },
      trades: [{ pnl: 1 }],
    });
    const seen = server.requests.slice(from).map((r) => `${r.method} ${r.path.replace(/artifacts\/.*\//, "artifacts/…/")}`);
    assert.deepEqual(seen.filter((s) => !s.startsWith("PUT")), [
      "POST /api/2.0/mlflow/runs/create",
      "POST /api/2.0/mlflow/runs/log-batch",
      "GET /api/2.0/mlflow/artifacts/list",
      "POST /api/2.0/mlflow/runs/update",
    ]);
    assert.equal(seen.filter((s) => s.startsWith("PUT")).length, 2);
  });

  test("a 64-cell nested grid takes at most 3 requests per cell", async () => {
    const from = server.requests.length;
    // Counts requests without faults: a slow, loaded machine must not turn into timeouts and retries here.
    const patient = { ...base(), retry: { ...FAST_RETRY, timeoutMs: 60_000, budgetMs: 120_000 } };
    await logToMlflow({ ...patient, runName: "grid64", experiment: uniqueName("grid64") }, async () => {
      await Promise.all(Array.from({ length: 64 }, (_, i) =>
        logToMlflow({ runName: `cell-${i}`, nested: true }, (child) =>
          child.logBacktest({ params: { i }, stats: { sharpe_ratio: i / 64, total_trades: i } }))));
    });
    const total = server.requests.length - from;
    // 64 cells x 3, plus the parent's create and update and the experiment lookup and create.
    assert.ok(total <= 64 * 3 + 4, `took ${total} requests`);
  });

  test("NaN and infinities in metrics travel as MLflow's JSON strings", async () => {
    const runId = await logToMlflow({ ...base(), runName: "nan" }, async (run) => {
      await run.logMetrics({ nan: NaN, inf: Infinity });
      return run.runId;
    });
    const history = await backend.metricHistory(runId, "nan");
    assert.ok(Number.isNaN(history[0]!.value));
    assert.ok((await backend.metricHistory(runId, "inf"))[0]!.value > 1e300);
  });

  test("503 and 429 answers are retried, honouring Retry-After, until the write lands", async () => {
    server.injectFault({ path: "/api/2.0/mlflow/runs/log-batch", status: 503, times: 2 });
    server.injectFault({ path: "/api/2.0/mlflow/runs/update", status: 429, headers: { "Retry-After": "0" } });
    const from = server.requests.length;
    const runId = await logBacktest({ ...base(), stats: { sharpe: 2 }, chart: false });
    assert.equal(countSince(from, "log-batch"), 3);
    assert.equal(countSince(from, "runs/update"), 2);
    const run = await backend.getRun(runId);
    assert.equal(run.metrics.sharpe, 2);
    assert.equal(run.status, "FINISHED");
  });

  test("dropped connections and timeouts are retried", async () => {
    server.injectFault({ path: "/api/2.0/mlflow/runs/log-batch", reset: true });
    server.injectFault({ path: "/api/2.0/mlflow/runs/update", delayMs: 400 });
    const runId = await logBacktest({ ...base(), retry: { ...FAST_RETRY, timeoutMs: 150 }, stats: { x: 1 }, chart: false });
    assert.equal((await backend.getRun(runId)).status, "FINISHED");
  });

  test("a lost runs/create answer is retried without creating a second run", async () => {
    const experiment = uniqueName("dedupe");
    server.injectFault({ path: "/api/2.0/mlflow/runs/create", status: 502, applyThenFail: true });
    const runId = await logBacktest({ ...base(), experiment, runName: "once", stats: { x: 1 }, chart: false });
    const runs = await backend.runsOf(experiment);
    assert.deepEqual(runs.map((r) => r.runId), [runId]);
    assert.equal(runs[0]!.status, "FINISHED");
  });

  test("validation answers are final: one attempt, an MlflowError with status, code and endpoint", async () => {
    const from = server.requests.length;
    let runId = "";
    const err = await logToMlflow({ ...base(), runName: "immutable" }, async (run) => {
      runId = run.runId;
      await run.logParams({ fast: 10 });
      await run.logParams({ fast: 20 });
    }).catch((e: unknown) => e);
    assert.ok(err instanceof MlflowError);
    assert.equal(err.status, 400);
    assert.equal(err.errorCode, "INVALID_PARAMETER_VALUE");
    assert.equal(err.endpoint, "POST /api/2.0/mlflow/runs/log-batch");
    assert.match(err.message, /Changing param values is not allowed/);
    assert.equal(countSince(from, "log-batch"), 2);
    assert.equal((await backend.getRun(runId)).status, "FAILED");
  });

  test("a server that stays down gives up within the budget with a clear error", async () => {
    server.injectFault({ path: "/api/2.0/mlflow/runs/log-batch", status: 500, times: Infinity });
    try {
      const err = await logBacktest({ ...base(), retry: { ...FAST_RETRY, maxRetries: 3 }, stats: { x: 1 }, chart: false })
        .catch((e: unknown) => e);
      assert.ok(err instanceof MlflowError);
      assert.equal(err.status, 500);
      assert.match(err.message, /gave up after 4 attempts/);
    } finally {
      server.reset();
    }
  });

  test("an artifact store fetch cannot reach is a clear error and the run ends FAILED", async () => {
    // A server whose runs store artifacts on HDFS, which fetch cannot write, without the artifact proxy.
    const s3Fetch: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (!String(input).endsWith("/runs/create")) return response;
      const body = await response.json() as { run: { info: { artifact_uri: string } } };
      body.run.info.artifact_uri = "hdfs://namenode/mlartifacts/1/run/artifacts";
      return Response.json(body);
    };
    let runId = "";
    const err = await logToMlflow({ ...base(), fetch: s3Fetch, runName: "s3" }, async (run) => {
      runId = run.runId;
      await run.logArtifact({ name: "a.txt", data: "x" });
    }).catch((e: unknown) => e);
    assert.ok(err instanceof MlflowError);
    assert.match(err.message, /hdfs:\/\/namenode.*--serve-artifacts/);
    assert.equal((await backend.getRun(runId)).status, "FAILED");
  });
});

describe("credentials", () => {
  const seen: Array<Record<string, string>> = [];
  const recordingFetch: typeof fetch = async (input, init) => {
    seen.push(Object.fromEntries(new Headers(init?.headers).entries()));
    return new Response(JSON.stringify({ error_code: "UNAUTHENTICATED", message: "no" }), {
      status: 401,
      headers: { "content-type": "application/json" },
    });
  };
  const attempt = (options: Record<string, unknown>) =>
    logBacktest({ trackingUri: "http://127.0.0.1:9", fetch: recordingFetch, stats: { x: 1 }, experimentId: "0", ...options })
      .catch((e: unknown) => e as MlflowError) as Promise<MlflowError>;

  test("username and password give Basic auth, and win over a token", async () => {
    seen.length = 0;
    const env = { MLFLOW_TRACKING_USERNAME: "ann", MLFLOW_TRACKING_PASSWORD: "s3cret-pw", MLFLOW_TRACKING_TOKEN: "tok-123" };
    const err = await attempt({ env });
    assert.equal(seen[0]!.authorization, `Basic ${btoa("ann:s3cret-pw")}`);
    assert.ok(err instanceof MlflowError && err.status === 401);
    assert.doesNotMatch(err.message + String(err.stack), /s3cret-pw|tok-123/);
    assert.match(err.message, /MLFLOW_TRACKING_TOKEN/);
  });

  test("a token gives Bearer auth", async () => {
    seen.length = 0;
    await attempt({ env: { MLFLOW_TRACKING_TOKEN: "tok-123" } });
    assert.equal(seen[0]!.authorization, "Bearer tok-123");
  });

  test("a headers function is asked on every request", async () => {
    seen.length = 0;
    let calls = 0;
    await attempt({ env: {}, headers: async () => ({ authorization: `Bearer fresh-${++calls}` }) });
    assert.equal(seen[0]!.authorization, "Bearer fresh-1");
  });

  test("credentials in the tracking URI move to a header and out of messages", async () => {
    seen.length = 0;
    const err = await attempt({ env: {}, trackingUri: "http://bob:pa%24%24@127.0.0.1:9" });
    assert.equal(seen[0]!.authorization, `Basic ${btoa("bob:pa$$")}`);
    assert.doesNotMatch(String(err.message), /pa\$\$|pa%24%24/);
  });
});

describe("answers that are not MLflow's", () => {
  test("a 200 page that is not JSON is a final error pointing at the tracking URI", async () => {
    let calls = 0;
    const loginPage: typeof fetch = async () => {
      calls++;
      return new Response("<html>Please sign in</html>", { status: 200, headers: { "content-type": "text/html" } });
    };
    const err = await logBacktest({ trackingUri: "http://127.0.0.1:9", env: {}, fetch: loginPage, experimentId: "0", stats: { x: 1 } })
      .catch((e: unknown) => e);
    assert.ok(err instanceof MlflowError);
    assert.equal(err.errorCode, "BAD_RESPONSE");
    assert.match(err.message, /Please sign in.*tracking URI/);
    assert.equal(calls, 1);
  });
});
