/**
 * Every artifact arrives whole: each kind of artifact is read back byte for
 * byte from a server that stores a chunked upload as an empty file (recorded
 * exchanges 55 and 56), short files are found by the size check and sent
 * again, and what the upload staged on disk is removed whatever happens.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { logBacktest, logToMlflow, MlflowError, MlflowValidationError } from "../mod.ts";
import { stageArtifacts } from "../src/artifact_body.ts";
import { deliverArtifacts } from "../src/artifact_delivery.ts";
import { createFileStore } from "../src/file_store.ts";
import { BUFFER_LIMIT_BYTES as EDGE_LIMIT, spillStream as edgeSpill } from "../src/runtime/spill_edge.ts";
import type { TrackingStore } from "../src/store.ts";
import { type Backend, BACKENDS, uniqueName } from "./support/backends.ts";

const FAST_RETRY = { initialDelayMs: 5, maxDelayMs: 20, timeoutMs: 5000, budgetMs: 20_000 };
const utf8 = new TextEncoder();
const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

const EQUITY = {
  timestampNs: BigInt64Array.from({ length: 300 }, (_, i) => 1_700_000_000_000_000_000n + BigInt(i) * 60_000_000_000n),
  equity: Float64Array.from({ length: 300 }, (_, i) => 10_000 + Math.sin(i / 10) * 100 + i),
};

const TRADES = Array.from({ length: 50 }, (_, i) => ({ side: i % 2 ? "long" : "short", pnl: i * 1.5, note: `t${i}` }));

const streamOf = (...parts: string[]): ReadableStream<Uint8Array> =>
  new ReadableStream({
    start(controller) {
      for (const part of parts) controller.enqueue(utf8.encode(part));
      controller.close();
    },
  });

/** A fetch that cuts the body of matching uploads short, as a broken proxy would, while saying the cut length. */
function truncatingFetch(matches: (url: string) => boolean, times: number): { fetch: typeof fetch; cut: string[] } {
  const cut: string[] = [];
  const wrapped: typeof fetch = async (input, init) => {
    const url = String(input instanceof Request ? input.url : input);
    if (init?.method === "PUT" && matches(url) && cut.length < times && init.body != null) {
      const bytes = new Uint8Array(await new Response(init.body as BodyInit).arrayBuffer());
      cut.push(url);
      return fetch(input, { ...init, body: bytes.slice(0, Math.floor(bytes.length / 2)) });
    }
    return fetch(input, init);
  };
  return { fetch: wrapped, cut };
}

// This process's own: staging sweeps up files that dead processes left, which
// would otherwise vanish from the listing in the middle of a test.
async function stagedFiles(): Promise<string[]> {
  const ours = new RegExp(`^flox-mlflow-${process.pid}-[0-9a-f]{16}\\.tmp$`);
  return (await readdir(tmpdir())).filter((name) => ours.test(name));
}

/**
 * Logs a trades-only backtest of `rows` rows while every request matching
 * `fault` is answered 500, and checks that the call fails with an
 * `MlflowError` and leaves none of this process's staged files behind.
 */
async function failsLeavingNothingStaged(
  backend: Backend,
  fault: { method: string; path: string },
  rows: number,
): Promise<MlflowError> {
  const before = await stagedFiles();
  backend.server!.injectFault({ ...fault, status: 500, times: Infinity });
  let err: unknown;
  try {
    err = await logBacktest({
      trackingUri: backend.trackingUri,
      env: {},
      retry: { ...FAST_RETRY, maxRetries: 1 },
      trades: { pnl: Float64Array.from({ length: rows }, (_, i) => i * 1.001) },
      chart: false,
    }).catch((e: unknown) => e);
  } finally {
    backend.server!.reset();
  }
  assert.ok(err instanceof MlflowError, String(err));
  assert.deepEqual(await stagedFiles(), before);
  return err;
}

for (const { name, open } of BACKENDS) {
  describe(`artifacts arrive whole (${name} store)`, () => {
    let backend: Backend;
    let folder: string;
    before(async () => {
      backend = await open();
      folder = await mkdtemp(join(tmpdir(), "flox-artifacts-"));
    });
    after(async () => {
      await backend.close();
      await rm(folder, { recursive: true, force: true });
    });

    test("every kind of artifact reads back byte for byte", async () => {
      const reportPath = join(folder, "report.html");
      const report = "<html><body>" + "r".repeat(20_000) + "</body></html>";
      await writeFile(reportPath, report);
      const attachment = join(folder, "notes.txt");
      await writeFile(attachment, "notes\n".repeat(1000));
      const blob = new Blob([new Uint8Array([1, 2, 3]), "blob"]);
      const runId = await logToMlflow({ trackingUri: backend.trackingUri, env: {}, experiment: uniqueName("kinds") }, async (run) => {
        await run.logBacktest({ equityCurve: EQUITY, trades: TRADES, htmlReport: reportPath, chart: false });
        await run.logArtifact(attachment, "files");
        await run.logArtifact({ name: "streamed.csv", data: streamOf("a,b\n", "1,2\n", "3,4\n") });
        await run.logArtifact(new Uint8Array([0, 1, 2, 255]), "bytes.bin");
        await run.logArtifact(blob, "blob.bin");
        await run.logArtifact(streamOf("raw ", "stream"), "raw.txt");
        await run.logArtifact({ name: "named.json", data: '{"a":1}' });
        return run.runId;
      });
      assert.equal(text(await backend.artifact(runId, "report.html")), report);
      assert.equal(text(await backend.artifact(runId, "files/notes.txt")), "notes\n".repeat(1000));
      assert.equal(text(await backend.artifact(runId, "streamed.csv")), "a,b\n1,2\n3,4\n");
      assert.deepEqual([...await backend.artifact(runId, "bytes.bin")], [0, 1, 2, 255]);
      assert.deepEqual(await backend.artifact(runId, "blob.bin"), new Uint8Array(await blob.arrayBuffer()));
      assert.equal(text(await backend.artifact(runId, "raw.txt")), "raw stream");
      assert.equal(text(await backend.artifact(runId, "named.json")), '{"a":1}');
      const equity = text(await backend.artifact(runId, "equity_curve.csv")).split("\n");
      assert.equal(equity.length, 302);
      assert.equal(equity[1], `${EQUITY.timestampNs[0]},${EQUITY.equity[0]},0`);
      const trades = text(await backend.artifact(runId, "trades.csv")).split("\n");
      assert.deepEqual(trades.slice(0, 3), ["side,pnl,note", "short,0,t0", "long,1.5,t1"]);
      assert.equal((await backend.getRun(runId)).status, "FINISHED");
    });

    test("the chart's PNG and SVG arrive whole", async () => {
      const runId = await logBacktest({ trackingUri: backend.trackingUri, env: {}, equityCurve: EQUITY });
      const png = await backend.artifact(runId, "equity_curve.png");
      assert.deepEqual([...png.slice(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
      assert.ok(png.length > 1000);
      assert.match(text(await backend.artifact(runId, "equity_curve.svg")), /<\/svg>\s*$/);
    });

    test("a generated CSV over the staging threshold arrives whole and leaves no temporary file", async () => {
      const before = await stagedFiles();
      const rows = 400_000; // about 10 MB of CSV, past the 8 MiB kept in memory
      const trades = { pnl: Float64Array.from({ length: rows }, (_, i) => i + 0.25), qty: Float64Array.from({ length: rows }, (_, i) => i % 7) };
      const runId = await logBacktest({ trackingUri: backend.trackingUri, env: {}, trades, chart: false });
      const csv = await backend.artifact(runId, "trades.csv");
      let expected = "pnl,qty\n";
      for (let i = 0; i < rows; i++) expected += `${i + 0.25},${i % 7}\n`;
      assert.equal(csv.length, utf8.encode(expected).length);
      assert.equal(text(csv), expected);
      assert.deepEqual(await stagedFiles(), before);
    });

    test("a user artifact named like a generated one is refused before any request, naming both", async () => {
      const from = backend.server?.requests.length;
      const err = await logBacktest({
        trackingUri: backend.trackingUri,
        env: {},
        equityCurve: EQUITY,
        htmlReport: { name: "equity_curve.png", data: "<html></html>" },
      }).catch((e: unknown) => e);
      assert.ok(err instanceof MlflowValidationError);
      assert.equal(err.field, "htmlReport");
      assert.match(err.message, /'equity_curve\.png' is the artifact path of the equity chart/);
      assert.equal(backend.server?.requests.length, from);
      const refused = await logToMlflow({ trackingUri: backend.trackingUri, env: {} }, (run) =>
        run.logArtifact({ name: "trades.csv", data: "x" })).catch((e: unknown) => e);
      assert.ok(refused instanceof MlflowValidationError);
      assert.match(refused.message, /trades CSV/);
    });
  });
}

describe("the size check over REST", () => {
  let backend: Backend;
  before(async () => {
    backend = await BACKENDS.find((b) => b.name === "rest")!.open();
  });
  after(() => backend.close());
  const listings = (from: number) => backend.server!.requests.slice(from).filter((r) => r.path.endsWith("/mlflow/artifacts/list")).length;
  const puts = (from: number, file: string) =>
    backend.server!.requests.slice(from).filter((r) => r.method === "PUT" && r.path.endsWith(`/${file}`)).length;

  test("a file the server holds short is sent again once, with its length, and the run finishes", async () => {
    const { fetch, cut } = truncatingFetch((url) => url.endsWith("/trades.csv"), 1);
    const from = backend.server!.requests.length;
    const runId = await logBacktest({ trackingUri: backend.trackingUri, env: {}, fetch, retry: FAST_RETRY, trades: TRADES, equityCurve: EQUITY, chart: false });
    assert.equal(cut.length, 1);
    assert.equal(puts(from, "trades.csv"), 2);
    assert.equal(puts(from, "equity_curve.csv"), 1);
    // One listing of the root after the uploads, one more after the resend.
    assert.equal(listings(from), 2);
    assert.equal(text(await backend.artifact(runId, "trades.csv")).split("\n").length, TRADES.length + 2);
    assert.equal((await backend.getRun(runId)).status, "FINISHED");
  });

  test("a file still short after the second upload fails the call naming it, and the run ends FAILED", async () => {
    const { fetch } = truncatingFetch((url) => url.endsWith("/report.html"), Infinity);
    const experiment = uniqueName("short");
    const err = await logBacktest({
      trackingUri: backend.trackingUri,
      env: {},
      fetch,
      retry: FAST_RETRY,
      experiment,
      stats: { sharpe: 1 },
      htmlReport: { name: "report.html", data: "<p>" + "x".repeat(1000) + "</p>" },
    }).catch((e: unknown) => e);
    assert.ok(err instanceof MlflowError);
    assert.equal(err.errorCode, "ARTIFACT_INCOMPLETE");
    assert.match(err.message, /'report\.html' was sent with 1007 bytes, but .* holds 503 bytes of it, after a second upload/);
    const [run] = await backend.runsOf(experiment);
    assert.equal(run!.status, "FAILED");
    assert.equal(run!.metrics.sharpe, 1);
  });

  test("verifyArtifacts: false sends no listing", async () => {
    const from = backend.server!.requests.length;
    const runId = await logBacktest({ trackingUri: backend.trackingUri, env: {}, verifyArtifacts: false, trades: TRADES, chart: false });
    assert.equal(listings(from), 0);
    assert.equal(text(await backend.artifact(runId, "trades.csv")).split("\n")[0], "side,pnl,note");
  });

  test("one listing per artifact folder checks a run's uploads", async () => {
    const from = backend.server!.requests.length;
    await logToMlflow({ trackingUri: backend.trackingUri, env: {} }, async (run) => {
      await run.logBacktest({ trades: TRADES, equityCurve: EQUITY, htmlReport: { name: "report.html", data: "<p/>" } });
    });
    // equity_curve.csv, trades.csv, report.html, equity_curve.png and .svg all sit at the root.
    assert.equal(listings(from), 1);
  });

  test("a failed upload leaves no temporary file behind", async () => {
    const err = await failsLeavingNothingStaged(backend, { method: "PUT", path: "/api/2.0/mlflow-artifacts/*" }, 400_000);
    // Deno may see the early 500 as a reset, since the server answers before reading the body.
    assert.match(String(err.endpoint), /^PUT .*\/trades\.csv$/);
  });
});

describe("the size check on the file store", () => {
  test("a file short on disk after its write is written again", async () => {
    const root = await mkdtemp(join(tmpdir(), "flox-short-"));
    try {
      const store = createFileStore(root);
      const run = await store.createRun({ experimentId: "0", runName: "short", startTime: Date.now(), userId: "me", tags: [] });
      let shortened = 0;
      // The first write is cut on disk after it completes, as a full disk or a flaky mount can leave it.
      const faulty: TrackingStore = Object.assign(Object.create(store) as TrackingStore, {
        uploadArtifact: async (...args: Parameters<TrackingStore["uploadArtifact"]>) => {
          const stored = await store.uploadArtifact(...args);
          if (shortened++ === 0) await truncate(join(root, "0", run.runId, "artifacts", args[1].path), 3);
          return stored;
        },
      });
      await deliverArtifacts(faulty, run, [{ path: "data.csv", body: () => streamOf("a,b\n", "1,2\n"), contentType: "text/csv" }]);
      assert.equal(await readFile(join(root, "0", run.runId, "artifacts", "data.csv"), "utf8"), "a,b\n1,2\n");
      assert.equal(shortened, 1);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe("staging on edge runtimes", () => {
  test("a streamed body over the 32 MiB cap is refused naming the artifact, and one within it is sized", async () => {
    const mib = new Uint8Array(2 ** 20);
    const chunks = (count: number) =>
      new ReadableStream<Uint8Array>({
        pull(controller) {
          if (count-- > 0) controller.enqueue(mib);
          else controller.close();
        },
      });
    assert.equal(EDGE_LIMIT, 32 * 2 ** 20);
    const within = await edgeSpill(chunks(32), "big.csv");
    assert.equal(within.size, 32 * 2 ** 20);
    const err = await edgeSpill(chunks(33), "trades.csv").catch((e: unknown) => e);
    assert.ok(err instanceof MlflowError);
    assert.equal(err.errorCode, "ARTIFACT_TOO_LARGE");
    assert.match(err.message, /artifact 'trades\.csv' is over 32 MiB/);
  });
});

describe("a backtest's CSVs are staged before its chart is drawn", () => {
  let backend: Backend;
  before(async () => {
    backend = await BACKENDS.find((b) => b.name === "rest")!.open();
  });
  after(() => backend.close());

  test("the chart is drawn only once every streamed body is staged, so the CSVs' uploads go out first", async () => {
    const sent: string[] = [];
    let chartSent!: () => void;
    const chartUploaded = new Promise<void>((resolve) => (chartSent = resolve));
    const recording: typeof fetch = (input, init) => {
      const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
      if ((init?.method ?? "GET") === "PUT") {
        const file = url.slice(url.lastIndexOf("/") + 1);
        sent.push(file);
        if (file === "equity_curve.png") chartSent();
      }
      return fetch(input, init);
    };
    // A body that ends when the chart's upload starts, or after a second: staged
    // before the chart is drawn, it holds the chart back that second; drawn
    // alongside, the chart would go first.
    const slow = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(utf8.encode("late,body\n"));
        await Promise.race([chartUploaded, new Promise((resolve) => setTimeout(resolve, 1000))]);
        controller.close();
      },
    });
    await logBacktest({
      trackingUri: backend.trackingUri,
      env: {},
      fetch: recording,
      equityCurve: EQUITY,
      trades: TRADES,
      artifacts: [{ name: "late.csv", data: slow }],
    });
    assert.deepEqual(sent.slice(0, 3).sort(), ["equity_curve.csv", "late.csv", "trades.csv"], `uploads in order: ${sent.join(", ")}`);
    assert.deepEqual(sent.slice(3).sort(), ["equity_curve.png", "equity_curve.svg"]);
  });

  test("when the run cannot be created, what was staged for it is removed", async () => {
    // About 12 MiB of CSV: over the in-memory size, so Node and Bun stage it in a temporary file.
    const err = await failsLeavingNothingStaged(backend, { method: "POST", path: "/api/2.0/mlflow/runs/create" }, 900_000);
    assert.match(String(err.endpoint), /runs\/create/);
  });

  test("a body that fails while the run is still being created fails the call and ends the run FAILED, with its stats logged", async () => {
    let created: string | undefined;
    const slowCreate: typeof fetch = async (input, init) => {
      const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
      if (url.endsWith("/runs/create")) await new Promise((resolve) => setTimeout(resolve, 200));
      const response = await fetch(input, init);
      if (url.endsWith("/runs/create")) created = (await response.clone().json()).run.info.run_id;
      return response;
    };
    const broken = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.error(new Error("the source went away"));
      },
    });
    const err = await logBacktest({
      trackingUri: backend.trackingUri,
      env: {},
      fetch: slowCreate,
      stats: { sharpe_ratio: 1.5 },
      equityCurve: EQUITY,
      artifacts: [{ name: "broken.csv", data: broken }],
    }).catch((e: unknown) => e);
    assert.ok(err instanceof Error);
    assert.match(String(err.message) + String((err as { cause?: Error }).cause?.message), /the source went away/);
    assert.ok(created, "the run was created");
    const got = await fetch(`${backend.trackingUri}/api/2.0/mlflow/runs/get?run_id=${created}`).then((r) => r.json());
    assert.equal(got.run.info.status, "FAILED");
    // The stats do not wait on the files: a file that cannot be sent loses nothing else.
    assert.deepEqual(
      (got.run.data.metrics as { key: string; value: number }[]).filter((m) => m.key === "sharpe_ratio").map((m) => m.value),
      [1.5],
    );
  });

  test("when one body cannot be staged, the others' temporary files are removed and its error is the one thrown", async () => {
    const before = await stagedFiles();
    const mib = new Uint8Array(2 ** 20).fill(65);
    let left = 12;
    const big = () =>
      new ReadableStream<Uint8Array>({
        pull(controller) {
          if (left-- > 0) controller.enqueue(mib);
          else controller.close();
        },
      });
    const broken = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(utf8.encode("a,b\n"));
        controller.error(new Error("the source went away"));
      },
    });
    const err = await stageArtifacts([
      { path: "big.csv", contentType: "text/csv", body: big },
      { path: "broken.csv", contentType: "text/csv", body: broken },
    ]).catch((e: unknown) => e);
    assert.ok(err instanceof Error);
    assert.match(String(err.message) + String((err as { cause?: Error }).cause?.message), /the source went away/);
    assert.equal(left, -1, "the big body was staged to its end before anything was released");
    assert.deepEqual(await stagedFiles(), before);
  });

  test("bodies that are not streams are kept as they are", async () => {
    const bytes = utf8.encode("x");
    const staged = await stageArtifacts([
      { path: "a.bin", contentType: "application/octet-stream", body: bytes },
      { path: "b.txt", contentType: "text/plain", body: "text" },
    ]);
    assert.equal(staged.artifacts[0]!.body, bytes);
    assert.equal(staged.artifacts[1]!.body, "text");
    await staged.release();
  });
});

