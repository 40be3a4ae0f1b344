// Runs on a tracking server started with `--no-serve-artifacts --default-artifact-root wasbs://…`
// write their artifacts straight to Azure Blob storage (issue 11), played by Azurite 3.35, which
// checks every SharedKey and SAS signature itself.
//
// These tests always start their own in-memory MLflow server with a wasbs:// artifact root, even
// when MLFLOW_TEST_TRACKING_URI names an external server: that server hands out whatever artifact
// root it was started with, and the storage must be the Azurite below.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { logBacktest, MlflowError, MlflowValidationError } from "../mod.ts";
import { azureArtifacts } from "../src/artifact_stores/azure.ts";
import { DEFAULT_RETRY } from "../src/http.ts";
import { createRestStore } from "../src/rest_store.ts";
import { EQUITY_CSV, EQUITY_ROWS, secretsAbsent, TRADES, TRADES_CSV } from "./support/aws_fixtures.ts";
import { AZURITE_ACCOUNT, AZURITE_KEY, containerSas } from "./support/azure_sas.ts";
import { type Azurite, startAzurite } from "./support/fake_databricks_azurite.ts";
import { createFaultProxy, type FaultProxy } from "./support/fault_proxy.ts";
import { forwardTo } from "./support/http_forward.ts";
import { createMlflowServer, type MlflowTestServer } from "./support/mlflow_server.ts";
import { type BucketRuns, logBacktestAndReadBack, logGridAndReadBack } from "./support/bucket_runs.ts";
import { serve, type ServedHandler } from "./support/serve.ts";
import { restReader, type RestRun } from "./support/target.ts";

const FAST_RETRY = { initialDelayMs: 5, maxDelayMs: 20, timeoutMs: 10_000, budgetMs: 30_000 };
const WRONG_KEY = btoa("wrong-key-never-printed-0123456789abcdef");
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

describe("wasbs:// artifact roots (Azurite checks every signature)", () => {
  let azurite: Azurite;
  // Azurite behind a fault proxy, for throttling; requests pass through unchanged.
  let front: FaultProxy;
  let frontServed: ServedHandler;
  let mlflow: MlflowTestServer;
  let mlflowServed: ServedHandler;
  let blobEndpoint: string;

  before(async () => {
    azurite = await startAzurite();
    front = createFaultProxy(forwardTo(new URL(azurite.accountUrl).origin));
    frontServed = await serve(front.handler);
    blobEndpoint = `${frontServed.url}/${AZURITE_ACCOUNT}`;
    mlflow = createMlflowServer({ defaultArtifactRoot: `wasbs://${azurite.container}@${AZURITE_ACCOUNT}.blob.core.windows.net/mlflow` });
    mlflowServed = await serve(mlflow.handler);
  });
  after(async () => {
    await mlflowServed.close();
    await frontServed.close();
    await azurite.close();
  });

  const keyString = (key = AZURITE_KEY) => `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${key};BlobEndpoint=${blobEndpoint};`;
  const sasString = (sas: string) => `BlobEndpoint=${blobEndpoint};SharedAccessSignature=${sas}`;
  const getRun = async (runId: string): Promise<RestRun> => (await restReader(mlflowServed.url).getRun(runId)).run;
  const blobName = (run: RestRun, path: string): string => {
    const prefix = `wasbs://${azurite.container}@${AZURITE_ACCOUNT}.blob.core.windows.net/`;
    assert.ok(run.info.artifact_uri.startsWith(prefix), run.info.artifact_uri);
    return `${run.info.artifact_uri.slice(prefix.length)}/${path}`;
  };
  // Read back with a read-only blob SAS straight from Azurite, as another Azure client would.
  const readBlob = async (run: RestRun, path: string): Promise<{ bytes: Uint8Array; type: string | null }> => {
    const res = await fetch(await azurite.blobSas(blobName(run, path), "r"));
    assert.equal(res.status, 200, `GET ${path}`);
    return { bytes: new Uint8Array(await res.arrayBuffer()), type: res.headers.get("content-type") };
  };

  const bucketRuns = (connectionString: string): BucketRuns => ({
    connection: { trackingUri: mlflowServed.url, env: { AZURE_STORAGE_CONNECTION_STRING: connectionString }, retry: FAST_RETRY },
    getRun,
    read: async (run, path) => (await readBlob(run, path)).bytes,
  });

  test("logBacktest with a connection string writes stats to MLflow and the CSVs and chart to the container, byte for byte", async () => {
    front.reset();
    const run = await logBacktestAndReadBack(bucketRuns(keyString()), "azure-backtest", `wasbs://mlflow@${AZURITE_ACCOUNT}.blob.core.windows.net/mlflow`);
    assert.equal((await readBlob(run, "equity_curve.csv")).type, "text/csv");
    assert.ok(!mlflow.requests.some((r) => r.path.includes("mlflow-artifacts")));
    // The uploads were checked with List Blobs.
    assert.ok(front.requests.some((r) => r.method === "GET" && r.path === `/${AZURITE_ACCOUNT}/${azurite.container}` && r.status === 200));
    assert.ok(front.requests.every((r) => r.status < 300), JSON.stringify(front.requests));
  });

  test("logGrid and logBacktest with a SAS token in the connection string", async () => {
    await logGridAndReadBack(bucketRuns(sasString(containerSas(azurite.container, "racwl", Date.now() + 3_600_000))), "azure-grid");
    // The SAS writes and lists a backtest's files as the account key does.
    const runId = await logBacktest({
      trackingUri: mlflowServed.url,
      env: { AZURE_STORAGE_CONNECTION_STRING: sasString(containerSas(azurite.container, "racwl", Date.now() + 3_600_000)) },
      retry: FAST_RETRY,
      equityCurve: EQUITY_ROWS,
      trades: TRADES,
      chart: false,
    });
    assert.equal(text((await readBlob(await getRun(runId), "trades.csv")).bytes), TRADES_CSV);
  });

  test("AZURE_STORAGE_SAS_TOKEN alone reaches the account named by the wasbs:// URI", async () => {
    const azureHost = `https://${AZURITE_ACCOUNT}.blob.core.windows.net/`;
    const reached: string[] = [];
    // Azure's public host stands for the account here: requests to it go to Azurite's path-style URL.
    // A service SAS signs the account and container, not the host, so Azurite's check is the real one.
    const routed: typeof fetch = (input, init) => {
      const url = input instanceof Request ? input.url : String(input);
      if (!url.startsWith(azureHost)) return fetch(input, init);
      reached.push(new URL(url).pathname);
      return fetch(`${blobEndpoint}/${url.slice(azureHost.length)}`, init);
    };
    const runId = await logBacktest({
      trackingUri: mlflowServed.url,
      env: { AZURE_STORAGE_SAS_TOKEN: `?${containerSas(azurite.container, "racwl", Date.now() + 3_600_000)}` },
      fetch: routed,
      retry: FAST_RETRY,
      equityCurve: EQUITY_ROWS,
      chart: false,
    });
    assert.equal(text((await readBlob(await getRun(runId), "equity_curve.csv")).bytes), EQUITY_CSV);
    assert.ok(reached.some((p) => p.startsWith(`/${azurite.container}/mlflow/`)), reached.join());
  });

  test("an expired SAS fails with Azure's 403, naming the variable to set, never the token", async () => {
    const sas = containerSas(azurite.container, "racwl", Date.now() - 3_600_000);
    const err = await logBacktest({
      trackingUri: mlflowServed.url,
      env: { AZURE_STORAGE_CONNECTION_STRING: sasString(sas) },
      retry: FAST_RETRY,
      equityCurve: EQUITY_ROWS,
      chart: false,
    }).catch((e: unknown) => e);
    assert.ok(err instanceof MlflowError, String(err));
    assert.equal(err.status, 403);
    assert.match(err.message, /AZURE_STORAGE_CONNECTION_STRING/);
    secretsAbsent(err, [new URLSearchParams(sas).get("sig")!, sas]);
  });

  test("a wrong account key fails with 403 naming AZURE_STORAGE_CONNECTION_STRING's AccountKey, never the key", async () => {
    const err = await logBacktest({
      trackingUri: mlflowServed.url,
      env: { AZURE_STORAGE_CONNECTION_STRING: keyString(WRONG_KEY) },
      retry: FAST_RETRY,
      equityCurve: EQUITY_ROWS,
      chart: false,
    }).catch((e: unknown) => e);
    assert.ok(err instanceof MlflowError, String(err));
    assert.equal(err.status, 403);
    assert.match(err.message, /AZURE_STORAGE_CONNECTION_STRING \(AccountName and AccountKey\)/);
    secretsAbsent(err, [WRONG_KEY, AZURITE_KEY]);
  });

  test("a network error that quotes the URL does not carry the SAS", async () => {
    const sas = containerSas(azurite.container, "racwl", Date.now() + 3_600_000);
    // Deno's fetch names the URL in its error: "error sending request for url (…)".
    const quoting: typeof fetch = (input, init) => {
      const url = input instanceof Request ? input.url : String(input);
      if (url.includes("sig=")) return Promise.reject(new TypeError(`error sending request for url (${url})`));
      return fetch(input, init);
    };
    const err = await logBacktest({
      trackingUri: mlflowServed.url,
      env: { AZURE_STORAGE_CONNECTION_STRING: sasString(sas) },
      fetch: quoting,
      retry: { ...FAST_RETRY, maxRetries: 1 },
      equityCurve: EQUITY_ROWS,
      chart: false,
    }).catch((e: unknown) => e);
    assert.ok(err instanceof MlflowError, String(err));
    assert.equal(err.errorCode, "NETWORK_ERROR");
    secretsAbsent(err, [new URLSearchParams(sas).get("sig")!, sas]);
  });

  test("no Azure credentials fail before any Azure request, naming the variables to set", async () => {
    front.reset();
    await assert.rejects(
      logBacktest({ trackingUri: mlflowServed.url, env: {}, retry: FAST_RETRY, equityCurve: EQUITY_ROWS, chart: false }),
      (err: unknown) =>
        err instanceof MlflowValidationError && err.field === "AZURE_STORAGE_CONNECTION_STRING" &&
        /AZURE_STORAGE_ACCESS_KEY or AZURE_STORAGE_SAS_TOKEN/.test(err.message),
    );
    await assert.rejects(
      logBacktest({ trackingUri: mlflowServed.url, env: { AZURE_STORAGE_ACCESS_KEY: "not base64!" }, retry: FAST_RETRY, equityCurve: EQUITY_ROWS, chart: false }),
      (err: unknown) => err instanceof MlflowValidationError && err.field === "AZURE_STORAGE_ACCESS_KEY" && !err.message.includes("not base64!"),
    );
    assert.equal(front.requests.length, 0);
  });

  test("a Put Blob answered 429 with Retry-After is sent again after the wait", async () => {
    front.reset();
    front.injectFault({ method: "PUT", path: `/${AZURITE_ACCOUNT}/${azurite.container}/*`, status: 429, headers: { "Retry-After": "1" }, body: "" });
    const started = Date.now();
    const runId = await logBacktest({
      trackingUri: mlflowServed.url,
      env: { AZURE_STORAGE_CONNECTION_STRING: keyString() },
      retry: { initialDelayMs: 10_000, maxDelayMs: 10_000, budgetMs: 60_000 },
      equityCurve: EQUITY_ROWS,
      chart: false,
    });
    const elapsed = Date.now() - started;
    // Without Retry-After the first backoff would be 5 to 10 s.
    assert.ok(elapsed >= 1000 && elapsed < 5000, `took ${elapsed} ms`);
    assert.equal(text((await readBlob(await getRun(runId), "equity_curve.csv")).bytes), EQUITY_CSV);
    assert.deepEqual(front.requests.filter((r) => r.method === "PUT").map((r) => r.status), [429, 201]);
  });

  test("a file over the single-put size goes as Put Block + Put Block List, and listing follows NextMarker", async () => {
    const store = createRestStore({
      baseUrl: mlflowServed.url,
      fetch: globalThis.fetch.bind(globalThis),
      retry: { ...DEFAULT_RETRY, ...FAST_RETRY },
      env: { AZURE_STORAGE_CONNECTION_STRING: keyString() },
      artifactStores: [azureArtifacts({ maxSinglePutSize: 2 * 1024 * 1024, blockSize: 1024 * 1024, listPageSize: 1 })],
    });
    const experimentId = await store.resolveExperiment({ name: "azure-blocks" });
    const run = await store.createRun({ experimentId, runName: "blocks", startTime: Date.now(), userId: "test", tags: [] });
    const bytes = Uint8Array.from({ length: 3 * 1024 * 1024 + 5 }, (_, i) => (i * 7919) % 251);
    front.reset();
    const stored = await store.uploadArtifact(run, { path: "data/big.bin", body: new Blob([bytes]), contentType: "application/octet-stream" });
    await stored.release();
    const small = await store.uploadArtifact(run, { path: "data/small.txt", body: "small", contentType: "text/plain" });
    await small.release();
    assert.deepEqual([...(await store.artifactSizes(run, "data"))].sort(), [["big.bin", bytes.length], ["small.txt", 5]]);
    const restRun = await getRun(run.runId);
    assert.deepEqual((await readBlob(restRun, "data/big.bin")).bytes, bytes);
    const blocks = front.requests.filter((r) => r.method === "PUT" && r.path.endsWith("/data/big.bin"));
    // Four 1 MiB blocks (the last 5 bytes), then the block list.
    assert.equal(blocks.length, 5);
    // One blob per List Blobs page: the two files took two pages at least.
    assert.ok(front.requests.filter((r) => r.method === "GET").length >= 2);
  });

  test("an abfss:// run is refused with a message saying ADLS Gen2 is not supported", async () => {
    const adls = createMlflowServer({ defaultArtifactRoot: "abfss://fs@acct.dfs.core.windows.net/mlflow" });
    const served = await serve(adls.handler);
    try {
      await assert.rejects(
        logBacktest({ trackingUri: served.url, env: { AZURE_STORAGE_CONNECTION_STRING: keyString() }, retry: FAST_RETRY, equityCurve: EQUITY_ROWS, chart: false }),
        (err: unknown) => err instanceof MlflowValidationError && /ADLS Gen2 \(abfss:\/\/\)/.test(err.message),
      );
    } finally {
      await served.close();
    }
  });
});
