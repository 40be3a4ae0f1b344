/**
 * Time and abort: a signal stops requests already in flight, the budget is a
 * hard deadline for everything a call sends, and nothing is sent once a call
 * has settled. The hanging server is the test proxy's `delayMs` fault (a
 * slow server; no recorded exchange is needed, since only the client's side
 * of the wait is checked).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdir } from "node:fs/promises";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { logBacktest, logToMlflow, MlflowError } from "../mod.ts";
import { type Backend, BACKENDS, uniqueName } from "./support/backends.ts";

const HANG_MS = 30_000;
// Far below HANG_MS: a call that waited for the server would take 30 s.
const PROMPT_MS = 2_000;
const FAST_RETRY = { initialDelayMs: 5, maxDelayMs: 20, timeoutMs: 60_000, budgetMs: 120_000 };

const elapsed = (start: number) => performance.now() - start;
const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("aborts and deadlines against a hanging server", () => {
  let backend: Backend;
  before(async () => {
    backend = await BACKENDS.find((b) => b.name === "rest")!.open();
  });
  after(() => backend.close());
  const server = () => backend.server!;
  const base = () => ({ trackingUri: backend.trackingUri, env: {}, retry: FAST_RETRY });

  test("an abort while runs/create hangs rejects at once with ABORTED", async () => {
    server().injectFault({ path: "/api/2.0/mlflow/runs/create", delayMs: HANG_MS });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("user pressed ctrl-c")), 50);
    const start = performance.now();
    const err = await logBacktest({ ...base(), signal: controller.signal, stats: { x: 1 } }).catch((e: unknown) => e);
    assert.ok(elapsed(start) < PROMPT_MS, `took ${elapsed(start)} ms`);
    assert.ok(err instanceof MlflowError);
    assert.equal(err.errorCode, "ABORTED");
    assert.match(err.message, /runs\/create was aborted \(user pressed ctrl-c\)/);
    server().reset();
  });

  test("an abort during an upload stops it mid-way, ends the run KILLED and sends nothing after", async () => {
    server().injectFault({ method: "PUT", path: "/api/2.0/mlflow-artifacts/*", delayMs: HANG_MS, times: Infinity });
    const controller = new AbortController();
    const experiment = uniqueName("abort-upload");
    const start = performance.now();
    const err = await logToMlflow({ ...base(), experiment, signal: controller.signal }, async (run) => {
      setTimeout(() => controller.abort(new Error("stop")), 50);
      await run.logArtifact({ name: "report.html", data: "<p>report</p>" });
    }).catch((e: unknown) => e);
    assert.ok(elapsed(start) < PROMPT_MS, `took ${elapsed(start)} ms`);
    assert.ok(err instanceof MlflowError);
    assert.equal(err.errorCode, "ABORTED");
    const sent = server().requests.length;
    await settle(300);
    assert.equal(server().requests.length, sent, "a request was sent after the call settled");
    const [run] = await backend.runsOf(experiment);
    assert.equal(run!.status, "KILLED");
    server().reset();
  });

  test("an abort while a large CSV is staged or sent leaves no temporary file behind", async () => {
    const staged = async () => (await readdir(tmpdir())).filter((name) => /^flox-mlflow-\d+-[0-9a-f]{16}\.tmp$/.test(name));
    const before = await staged();
    server().injectFault({ method: "PUT", path: "/api/2.0/mlflow-artifacts/*", delayMs: HANG_MS, times: Infinity });
    const controller = new AbortController();
    const rows = 600_000; // about 15 MB of CSV: staged in a file on Node and Bun
    const trades = { pnl: Float64Array.from({ length: rows }, (_, i) => i / 3), fee: Float64Array.from({ length: rows }, (_, i) => i % 5) };
    setTimeout(() => controller.abort(new Error("stop")), 300);
    const err = await logBacktest({ ...base(), signal: controller.signal, trades, chart: false }).catch((e: unknown) => e);
    assert.ok(err instanceof MlflowError);
    assert.equal(err.errorCode, "ABORTED");
    await settle(200);
    server().reset();
    assert.deepEqual(await staged(), before);
  });

  test("the budget bounds every attempt and wait, and the error names the call that was made", async () => {
    // A server that answers nothing at all: neither the create nor the search for its twin.
    server().injectFault({ path: "/api/2.0/mlflow/runs/create", delayMs: HANG_MS, times: Infinity });
    server().injectFault({ path: "/api/2.0/mlflow/runs/search", delayMs: HANG_MS, times: Infinity });
    const start = performance.now();
    const budgetMs = 1000;
    const err = await logBacktest({ ...base(), retry: { ...FAST_RETRY, budgetMs }, stats: { x: 1 } })
      .catch((e: unknown) => e);
    server().reset();
    // The clean-up after a create that timed out (waiting for a late answer, a search for a twin) fits inside it too.
    assert.ok(elapsed(start) < budgetMs + 500, `took ${elapsed(start)} ms of a ${budgetMs} ms budget`);
    assert.ok(err instanceof MlflowError);
    assert.equal(err.endpoint, "POST /api/2.0/mlflow/runs/create");
  });

  test("a headers function that never settles is cut off by the per-attempt timeout", async () => {
    const start = performance.now();
    const err = await logBacktest({
      ...base(),
      headers: () => new Promise<Record<string, string>>(() => {}),
      retry: { ...FAST_RETRY, timeoutMs: 100, maxRetries: 1 },
      experimentId: "0",
      stats: { x: 1 },
    }).catch((e: unknown) => e);
    assert.ok(elapsed(start) < PROMPT_MS, `took ${elapsed(start)} ms`);
    assert.ok(err instanceof MlflowError);
    assert.equal(err.errorCode, "NETWORK_ERROR");
    assert.match(err.message, /no answer within 100 ms \(gave up after 2 attempts\)/);
  });

  test("a 503 from runs/create is retried without a duplicate check; a dropped answer gets them", async () => {
    const searches = (from: number) => server().requests.slice(from).filter((r) => r.path.endsWith("/runs/search")).length;
    let from = server().requests.length;
    server().injectFault({ path: "/api/2.0/mlflow/runs/create", status: 503 });
    await logBacktest({ ...base(), stats: { x: 1 }, chart: false });
    assert.equal(searches(from), 0);
    from = server().requests.length;
    const experiment = uniqueName("dropped");
    server().injectFault({ path: "/api/2.0/mlflow/runs/create", reset: true, applyThenFail: true });
    const runId = await logBacktest({ ...base(), experiment, stats: { x: 1 }, chart: false });
    // One check before the retry, one for a late twin when the run ends.
    assert.equal(searches(from), 2);
    assert.deepEqual((await backend.runsOf(experiment)).map((r) => r.runId), [runId]);
  });
});

describe("network errors", () => {
  test("a refused connection says why, not only that fetch failed", async () => {
    // A port that was free a moment ago: nothing listens there.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise((resolve) => probe.close(resolve));
    const err = await logBacktest({
      trackingUri: `http://127.0.0.1:${port}`,
      env: {},
      experimentId: "0",
      retry: { maxRetries: 0 },
      stats: { x: 1 },
    }).catch((e: unknown) => e);
    assert.ok(err instanceof MlflowError);
    assert.equal(err.errorCode, "NETWORK_ERROR");
    // Node: ECONNREFUSED; Deno: "Connection refused"; Bun: ConnectionRefused.
    assert.match(err.message, /ECONNREFUSED|connection ?refused/i);
  });
});

describe("runs/create committed late", () => {
  let backend: Backend;
  before(async () => {
    backend = await BACKENDS.find((b) => b.name === "rest")!.open();
  });
  after(() => backend.close());

  test("a create the server commits after the client stopped waiting (guessed: no exchange shows one) leaves exactly one run", async () => {
    backend.server!.injectFault({ path: "/api/2.0/mlflow/runs/create", commitLateMs: 400 });
    const experiment = uniqueName("late");
    const runId = await logBacktest({
      trackingUri: backend.trackingUri,
      env: {},
      experiment,
      retry: { ...FAST_RETRY, timeoutMs: 150 },
      stats: { sharpe: 1 },
      chart: false,
    });
    const active = await backend.runsOf(experiment);
    assert.deepEqual(active.map((r) => r.runId), [runId]);
    assert.equal(active[0]!.status, "FINISHED");
    // The late twin exists only as a deleted, KILLED run naming the run kept.
    const search = await fetch(`${backend.trackingUri}/api/2.0/mlflow/runs/search`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ experiment_ids: [active[0]!.experimentId], run_view_type: "DELETED_ONLY" }),
    });
    const { runs = [] } = await search.json() as { runs?: Array<{ info: { run_id: string; status: string }; data: { tags?: Array<{ key: string; value: string }> } }> };
    assert.equal(runs.length, 1);
    assert.notEqual(runs[0]!.info.run_id, runId);
    assert.equal(runs[0]!.info.status, "KILLED");
    assert.ok(runs[0]!.data.tags?.some((t) => t.key === "flox.duplicate_of" && t.value === runId));
  });
});

describe("runs/create that fails for good", () => {
  let backend: Backend;
  before(async () => {
    backend = await BACKENDS.find((b) => b.name === "rest")!.open();
  });
  after(() => backend.close());

  test("a run an earlier attempt committed late (guessed: no exchange shows one) is ended and deleted before the call rejects", async () => {
    backend.server!.injectFault({ path: "/api/2.0/mlflow/runs/create", commitLateMs: 400 });
    backend.server!.injectFault({ path: "/api/2.0/mlflow/runs/create", status: 400 });
    const experiment = uniqueName("late-failed");
    const err = await logBacktest({
      trackingUri: backend.trackingUri,
      env: {},
      experiment,
      retry: { ...FAST_RETRY, timeoutMs: 150 },
      stats: { sharpe: 1 },
    }).catch((e: unknown) => e);
    assert.ok(err instanceof MlflowError);
    assert.equal(err.status, 400);
    assert.deepEqual(await backend.runsOf(experiment), []);
    const { experiment: exp } = await (await fetch(
      `${backend.trackingUri}/api/2.0/mlflow/experiments/get-by-name?experiment_name=${experiment}`,
    )).json() as { experiment: { experiment_id: string } };
    const search = await fetch(`${backend.trackingUri}/api/2.0/mlflow/runs/search`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ experiment_ids: [exp.experiment_id], run_view_type: "DELETED_ONLY" }),
    });
    const { runs = [] } = await search.json() as { runs?: Array<{ info: { status: string } }> };
    assert.deepEqual(runs.map((r) => r.info.status), ["KILLED"]);
  });
});

describe("the process after an abort", () => {
  for (const [mode, code] of [["abort", "ABORTED"], ["hung-headers", "NETWORK_ERROR"]] as const) {
    test(`exits right after the call settles (${mode}): no timer or request is left behind`, async () => {
      const backend = await BACKENDS.find((b) => b.name === "rest")!.open();
      try {
        backend.server!.injectFault({ path: "/api/2.0/mlflow/runs/create", delayMs: HANG_MS, times: Infinity });
        const script = fileURLToPath(new URL("./fixtures/scripts/abort_then_exit.ts", import.meta.url));
        const runtime = "Deno" in globalThis ? ["run", "-A", script] : "Bun" in globalThis ? [script] : ["--import", "tsx", script];
        const child = spawn(process.execPath, [...runtime, backend.trackingUri, mode], { stdio: ["ignore", "pipe", "inherit"] });
        let out = "";
        child.stdout.on("data", (chunk) => (out += chunk));
        const exited = await new Promise<number>((resolve) => child.once("exit", () => resolve(Date.now())));
        const match = /settled (\w+) (\d+)/.exec(out);
        assert.ok(match, `the child printed: ${out}`);
        assert.equal(match[1], code);
        assert.ok(exited - Number(match[2]) < PROMPT_MS, `exited ${exited - Number(match[2])} ms after the call settled`);
      } finally {
        backend.server!.reset();
        await backend.close();
      }
    });
  }
});
