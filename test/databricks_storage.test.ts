/**
 * Databricks run artifacts on each kind of workspace storage the
 * `credentials-for-write` answer can name: S3 presigned URLs (checked by the
 * official AWS signer), GCS signed URLs (the same single PUT) and Azure SAS
 * URLs (checked by Azurite). Each writes the data files byte for byte as the
 * file store does, stores an empty file empty, and replaces a signed URL the
 * storage refuses as expired, once.
 *
 * Always against the fake workspace, whatever MLFLOW_TEST_TRACKING_URI says:
 * no self-hosted MLflow server hands out these credentials.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { logBacktest, logToMlflow, MlflowError } from "../mod.ts";
import { BACKENDS, type Backend } from "./support/backends.ts";
import { type FakeDatabricks, startFakeDatabricks } from "./support/fake_databricks.ts";

const FAST_RETRY = { initialDelayMs: 5, maxDelayMs: 50, timeoutMs: 20_000, budgetMs: 60_000 };
const BACKTEST = {
  stats: { sharpe_ratio: 0.8, total_trades: 40 },
  equityCurve: {
    timestampNs: BigInt64Array.from({ length: 200 }, (_, i) => 1_700_000_000_000_000_000n + BigInt(i) * 60_000_000_000n),
    equity: Float64Array.from({ length: 200 }, (_, i) => 5_000 + Math.cos(i / 7) * 40 + i / 3),
  },
  trades: Array.from({ length: 40 }, (_, i) => ({ side: i % 3 ? "long" : "short", pnl: i * 0.75 - 9 })),
  chart: false,
};

/** A fetch that records every request to the storage (any URL with a signed query) and its status. */
function recording(): { fetch: typeof fetch; storage: { method: string; path: string; status: number }[] } {
  const storage: { method: string; path: string; status: number }[] = [];
  return {
    storage,
    fetch: async (input, init) => {
      const url = new URL(String(input instanceof Request ? input.url : input));
      const response = await fetch(input, init);
      if (url.searchParams.has("X-Amz-Signature") || url.searchParams.has("sig")) {
        storage.push({ method: init?.method ?? "GET", path: url.pathname, status: response.status });
      }
      return response;
    },
  };
}

for (const storage of ["s3", "gcs", "azure"] as const) {
  describe(`Databricks run artifacts on ${storage} storage`, () => {
    let ws: FakeDatabricks;
    let fileStore: Backend;
    before(async () => {
      ws = await startFakeDatabricks({ storage });
      fileStore = await BACKENDS.find((b) => b.name === "file")!.open();
    });
    after(async () => {
      await ws?.close();
      await fileStore?.close();
    });
    const env = () => ({ DATABRICKS_HOST: ws.url, DATABRICKS_TOKEN: ws.pat });

    test("the backtest's files arrive byte for byte as the file store writes them", async () => {
      const { fetch: counting, storage: seen } = recording();
      const runId = await logBacktest({ trackingUri: "databricks", env: env(), fetch: counting, retry: FAST_RETRY, experiment: `/Shared/${storage}-bt`, ...BACKTEST });
      const reference = await logBacktest({ trackingUri: fileStore.trackingUri, env: {}, ...BACKTEST });
      const expected = await fileStore.getRun(reference);
      const { run } = await ws.api<{ run: { info: { experiment_id: string; status: string } } }>("GET", "mlflow/runs/get", { run_id: runId });
      assert.equal(run.info.status, "FINISHED");
      const files = await ws.files(run.info.experiment_id, runId);
      assert.deepEqual([...files.keys()].sort(), expected.artifacts);
      for (const file of expected.artifacts) assert.deepEqual(await ws.artifact(runId, file), await fileStore.artifact(reference, file), file);
      assert.ok(seen.length >= expected.artifacts.length && seen.every((r) => r.method === "PUT" && r.status < 300), JSON.stringify(seen));
    });

    test("an empty file is stored empty", async () => {
      const runId = await logToMlflow({ trackingUri: "databricks", env: env(), retry: FAST_RETRY, experiment: `/Shared/${storage}-empty` }, async (run) => {
        await run.logArtifact(new Uint8Array(0), "empty.bin");
        return run.runId;
      });
      const { run } = await ws.api<{ run: { info: { experiment_id: string } } }>("GET", "mlflow/runs/get", { run_id: runId });
      assert.equal((await ws.files(run.info.experiment_id, runId)).get("empty.bin"), 0);
      assert.equal((await ws.artifact(runId, "empty.bin")).length, 0);
    });

    test("a signed URL refused as expired is replaced once and the file sent again", async () => {
      ws.expireNextUploadUrls(1);
      const { fetch: counting, storage: seen } = recording();
      const runId = await logBacktest({ trackingUri: "databricks", env: env(), fetch: counting, retry: FAST_RETRY, experiment: `/Shared/${storage}-expired`, ...BACKTEST });
      const refused = seen.filter((r) => r.status === 403);
      assert.equal(refused.length, 1, JSON.stringify(seen));
      assert.deepEqual(seen.filter((r) => r.path === refused[0]!.path).map((r) => r.status), [403, storage === "azure" ? 201 : 200]);
      const { run } = await ws.api<{ run: { info: { status: string } } }>("GET", "mlflow/runs/get", { run_id: runId });
      assert.equal(run.info.status, "FINISHED");
    });
  });
}

describe("Databricks run artifacts on ADLS Gen2 storage", () => {
  test("AZURE_ADLS_GEN2_SAS_URI credentials are refused naming the type, before the storage is reached", async () => {
    const ws = await startFakeDatabricks({ storage: "adls" });
    try {
      const { fetch: counting, storage: seen } = recording();
      const err = await logBacktest({
        trackingUri: "databricks",
        env: { DATABRICKS_HOST: ws.url, DATABRICKS_TOKEN: ws.pat },
        fetch: counting,
        retry: FAST_RETRY,
        experiment: "/Shared/adls",
        ...BACKTEST,
      }).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof MlflowError);
      assert.equal(err.errorCode, "UNSUPPORTED_ARTIFACT_STORE");
      assert.match(err.message, /AZURE_ADLS_GEN2_SAS_URI/);
      assert.deepEqual(seen, []);
    } finally {
      await ws.close();
    }
  });
});

describe("Databricks runs whose artifacts live elsewhere", () => {
  test("a Unity Catalog volume artifact location is refused naming it, and the run ends FAILED", async () => {
    const ws = await startFakeDatabricks();
    try {
      // Created as a user would with an explicit artifact_location (managed-mlflow.md §1.4.6).
      const { experiment_id: experimentId } = await ws.api<{ experiment_id: string }>("POST", "mlflow/experiments/create", {
        name: "/Shared/uc-volume",
        artifact_location: "dbfs:/Volumes/main/default/vol/mlflow",
      });
      const err = await logBacktest({ trackingUri: "databricks", env: { DATABRICKS_HOST: ws.url, DATABRICKS_TOKEN: ws.pat }, retry: FAST_RETRY, experimentId, ...BACKTEST })
        .then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof MlflowError);
      assert.equal(err.errorCode, "UNSUPPORTED_ARTIFACT_STORE");
      assert.match(err.message, /dbfs:\/Volumes\/main\/default\/vol\/mlflow\/[0-9a-f]{32}\/artifacts'.*Unity Catalog volumes/);
      const { runs = [] } = await ws.api<{ runs?: { info: { status: string } }[] }>("POST", "mlflow/runs/search", { experiment_ids: [experimentId] });
      assert.deepEqual(runs.map((r) => r.info.status), ["FAILED"]);
    } finally {
      await ws.close();
    }
  });
});
