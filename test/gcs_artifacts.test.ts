// Runs on a tracking server started with `--no-serve-artifacts --default-artifact-root gs://…`
// write their artifacts straight to Google Cloud Storage (issue 11) with a service account's
// OAuth token. The fake GCS verifies each JWT with the public half of a key pair made here, using
// node:crypto, and checks the Bearer token of every storage request.
//
// These tests always start their own in-memory MLflow server with a gs:// artifact root, even
// when MLFLOW_TEST_TRACKING_URI names an external server: that server hands out whatever artifact
// root it was started with, and the storage must be the fake below.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { logBacktest, MlflowError, MlflowValidationError } from "../mod.ts";
import { gcsArtifacts } from "../src/artifact_stores/gcs.ts";
import { DEFAULT_RETRY } from "../src/http.ts";
import { createRestStore } from "../src/rest_store.ts";
import { logGrid } from "../src/sweep.ts";
import { EQUITY_CSV, EQUITY_ROWS, FLOX_STATS, secretsAbsent, TRADES, TRADES_CSV } from "./support/aws_fixtures.ts";
import { createFakeGcs, type FakeGcs } from "./support/fake_gcs.ts";
import { createMlflowServer, type MlflowTestServer } from "./support/mlflow_server.ts";
import { serve, type ServedHandler } from "./support/serve.ts";
import { restReader, type RestRun } from "./support/target.ts";

const BUCKET = "flox-gcs";
const EMAIL = "mlflow-writer@flox-test.iam.gserviceaccount.com";
const FAST_RETRY = { initialDelayMs: 5, maxDelayMs: 20, timeoutMs: 10_000, budgetMs: 30_000 };
const text = (bytes: Uint8Array | undefined) => new TextDecoder().decode(bytes);
const keyPair = () =>
  generateKeyPairSync("rsa", { modulusLength: 2048, publicKeyEncoding: { type: "spki", format: "pem" }, privateKeyEncoding: { type: "pkcs8", format: "pem" } });

describe("gs:// artifact roots (fake GCS verifies the JWT with node:crypto)", () => {
  const { publicKey, privateKey } = keyPair();
  const other = keyPair();
  let gcs: FakeGcs;
  let gcsServed: ServedHandler;
  let mlflow: MlflowTestServer;
  let mlflowServed: ServedHandler;
  let dir: string;
  let keyFile: string;
  const serviceAccount = (pem = privateKey) => ({
    type: "service_account",
    project_id: "flox-test",
    private_key_id: "0123456789abcdef",
    private_key: pem,
    client_email: EMAIL,
    token_uri: `${gcsServed.url}/token`,
  });

  before(async () => {
    gcs = createFakeGcs({ account: { clientEmail: EMAIL, publicKeyPem: publicKey }, buckets: [BUCKET], tokenUrl: () => `${gcsServed.url}/token` });
    gcsServed = await serve(gcs.handler);
    mlflow = createMlflowServer({ defaultArtifactRoot: `gs://${BUCKET}/mlflow` });
    mlflowServed = await serve(mlflow.handler);
    dir = await mkdtemp(join(tmpdir(), "flox-gcs-"));
    keyFile = join(dir, "key.json");
    await writeFile(keyFile, JSON.stringify(serviceAccount()));
  });
  after(async () => {
    await mlflowServed.close();
    await gcsServed.close();
    await rm(dir, { recursive: true, force: true });
  });

  const env = (extra: Record<string, string> = {}) => ({ GOOGLE_APPLICATION_CREDENTIALS: keyFile, STORAGE_EMULATOR_HOST: gcsServed.url, ...extra });
  const getRun = async (runId: string): Promise<RestRun> => (await restReader(mlflowServed.url).getRun(runId)).run;
  const object = (run: RestRun, path: string) => {
    const prefix = `gs://${BUCKET}/`;
    assert.ok(run.info.artifact_uri.startsWith(prefix), run.info.artifact_uri);
    return gcs.objects.get(`${BUCKET}/${run.info.artifact_uri.slice(prefix.length)}/${path}`);
  };
  const tokenRequests = () => gcs.requests.filter((r) => r.path === "/token").length;

  test("logBacktest with GOOGLE_APPLICATION_CREDENTIALS writes stats to MLflow and the files to the bucket, one token for the run", async () => {
    gcs.reset();
    const runId = await logBacktest({
      trackingUri: mlflowServed.url,
      env: env(),
      retry: FAST_RETRY,
      experiment: "gcs-backtest",
      stats: FLOX_STATS,
      equityCurve: EQUITY_ROWS,
      trades: TRADES,
    });
    const run = await getRun(runId);
    assert.equal(run.info.status, "FINISHED");
    assert.equal(run.info.artifact_uri, `gs://${BUCKET}/mlflow/${run.info.experiment_id}/${runId}/artifacts`);
    assert.equal(new Map((run.data.metrics ?? []).map((m) => [m.key, m.value])).get("final_capital"), 10250.5);
    assert.equal(text(object(run, "equity_curve.csv")?.bytes), EQUITY_CSV);
    assert.equal(object(run, "equity_curve.csv")?.contentType, "text/csv");
    assert.equal(text(object(run, "trades.csv")?.bytes), TRADES_CSV);
    assert.deepEqual([...(object(run, "equity_curve.png")?.bytes ?? []).slice(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
    // Four uploads and the listing that checks them went with one token.
    assert.equal(tokenRequests(), 1);
    assert.ok(gcs.requests.some((r) => r.method === "GET" && r.path === `/storage/v1/b/${BUCKET}/o` && r.status === 200));
    assert.deepEqual(gcs.refusals, []);
    assert.ok(!mlflow.requests.some((r) => r.path.includes("mlflow-artifacts")));
  });

  test("logGrid with the key's JSON in the gcp option (runtimes without a file system)", async () => {
    const grid = await logGrid({
      trackingUri: mlflowServed.url,
      env: { STORAGE_EMULATOR_HOST: gcsServed.url },
      gcp: { serviceAccount: JSON.stringify(serviceAccount()) },
      retry: FAST_RETRY,
      experiment: "gcs-grid",
      runName: "grid",
      axes: ["fast"],
      results: [5, 10].map((fast, index) => ({ index, params: [fast], stats: { sharpeRatio: fast / 10 } })),
    });
    assert.deepEqual(grid.failed, []);
    for (const id of grid.childRunIds) assert.equal((await getRun(id as string)).info.status, "FINISHED");
    const runId = await logBacktest({
      trackingUri: mlflowServed.url,
      env: { STORAGE_EMULATOR_HOST: gcsServed.url },
      gcp: { serviceAccount: serviceAccount() },
      retry: FAST_RETRY,
      equityCurve: EQUITY_ROWS,
      chart: false,
    });
    assert.equal(text(object(await getRun(runId), "equity_curve.csv")?.bytes), EQUITY_CSV);
  });

  test("a token the storage refuses is fetched again once and the upload repeated", async () => {
    gcs.reset();
    // A 401 as GCS sends it for an expired token, on the first upload only.
    gcs.injectFault({
      method: "POST",
      path: `/upload/storage/v1/b/${BUCKET}/o`,
      status: 401,
      contentType: "application/json",
      body: JSON.stringify({ error: { code: 401, message: "Invalid Credentials", errors: [{ reason: "authError" }] } }),
    });
    const runId = await logBacktest({ trackingUri: mlflowServed.url, env: env(), retry: FAST_RETRY, equityCurve: EQUITY_ROWS, chart: false });
    assert.equal(text(object(await getRun(runId), "equity_curve.csv")?.bytes), EQUITY_CSV);
    assert.equal(tokenRequests(), 2);
  });

  test("a token past its expiry is renewed before the next request", async () => {
    gcs.reset();
    const before = gcs.issued.length;
    // Tokens that live 30 s are already inside the minute's margin, so each later request asks for a fresh
    // one (uploads sent together share one request): the uploads' token, then the listing's.
    const shortLived = createFakeGcs({
      account: { clientEmail: EMAIL, publicKeyPem: publicKey },
      buckets: [BUCKET],
      tokenLifetimeSeconds: 30,
      tokenUrl: () => `${served.url}/token`,
    });
    const served = await serve(shortLived.handler);
    try {
      const runId = await logBacktest({
        trackingUri: mlflowServed.url,
        env: { STORAGE_EMULATOR_HOST: served.url },
        gcp: { serviceAccount: { ...serviceAccount(), token_uri: `${served.url}/token` } },
        retry: FAST_RETRY,
        equityCurve: EQUITY_ROWS,
        trades: TRADES,
        chart: false,
      });
      assert.ok(runId);
      assert.ok(shortLived.issued.length >= 2, `issued ${shortLived.issued.length}`);
      assert.deepEqual(shortLived.refusals, []);
    } finally {
      await served.close();
    }
    assert.equal(gcs.issued.length, before);
  });

  test("a JWT refused for this machine's clock is signed again with the token endpoint's time, once", async () => {
    // The token endpoint's clock is two hours ahead: the first JWT has already expired there.
    const ahead = createFakeGcs({
      account: { clientEmail: EMAIL, publicKeyPem: publicKey },
      buckets: [BUCKET],
      clockOffsetMs: 2 * 3_600_000,
      tokenUrl: () => `${served.url}/token`,
    });
    const served = await serve(ahead.handler);
    try {
      const runId = await logBacktest({
        trackingUri: mlflowServed.url,
        env: { STORAGE_EMULATOR_HOST: served.url },
        gcp: { serviceAccount: { ...serviceAccount(), token_uri: `${served.url}/token` } },
        retry: FAST_RETRY,
        equityCurve: EQUITY_ROWS,
        chart: false,
      });
      assert.ok(runId);
      assert.equal(ahead.refusals.length, 1);
      assert.match(ahead.refusals[0]!, /reasonable timeframe/);
      assert.equal(ahead.issued.length, 1);
    } finally {
      await served.close();
    }
  });

  test("a key the token endpoint refuses fails naming GOOGLE_APPLICATION_CREDENTIALS, never the key", async () => {
    const wrongFile = join(dir, "wrong.json");
    await writeFile(wrongFile, JSON.stringify(serviceAccount(other.privateKey)));
    const err = await logBacktest({
      trackingUri: mlflowServed.url,
      env: env({ GOOGLE_APPLICATION_CREDENTIALS: wrongFile }),
      retry: FAST_RETRY,
      equityCurve: EQUITY_ROWS,
      chart: false,
    }).catch((e: unknown) => e);
    assert.ok(err instanceof MlflowError, String(err));
    assert.equal(err.status, 400);
    assert.match(err.message, /invalid_grant/);
    assert.match(err.message, /GOOGLE_APPLICATION_CREDENTIALS/);
    const keyBody = other.privateKey.split("\n").filter((l) => !l.startsWith("-----") && l !== "");
    secretsAbsent(err, [other.privateKey, ...keyBody.slice(1, 4)]);
    assert.ok(gcs.refusals.includes("invalid_grant: Invalid JWT Signature."));
  });

  test("missing or unusable credentials fail before any storage request, naming what to set", async () => {
    gcs.reset();
    const attempt = (extra: Record<string, string>, gcp?: { serviceAccount: unknown }) =>
      logBacktest({
        trackingUri: mlflowServed.url,
        env: { STORAGE_EMULATOR_HOST: gcsServed.url, ...extra },
        ...(gcp ? { gcp: gcp as never } : {}),
        retry: FAST_RETRY,
        equityCurve: EQUITY_ROWS,
        chart: false,
      });
    await assert.rejects(attempt({}), (e: unknown) => e instanceof MlflowValidationError && e.field === "GOOGLE_APPLICATION_CREDENTIALS" && /gcp\.serviceAccount/.test(e.message));
    await assert.rejects(attempt({ GOOGLE_APPLICATION_CREDENTIALS: join(dir, "missing.json") }),
      (e: unknown) => e instanceof MlflowValidationError && /missing\.json', which does not exist/.test(e.message));
    await assert.rejects(attempt({}, { serviceAccount: { type: "authorized_user", refresh_token: "rt-secret" } }),
      (e: unknown) => e instanceof MlflowValidationError && e.field === "gcp.serviceAccount" && /not a service-account key/.test(e.message) && !e.message.includes("rt-secret"));
    await assert.rejects(attempt({}, { serviceAccount: { ...serviceAccount(), private_key: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n" } }),
      (e: unknown) => e instanceof MlflowValidationError && /not an RSA key in PKCS#8/.test(e.message));
    await assert.rejects(
      logBacktest({ trackingUri: mlflowServed.url, gcp: { service_account: "{}" } as never, equityCurve: EQUITY_ROWS }),
      (e: unknown) => e instanceof MlflowValidationError && e.field === "gcp.service_account" && /serviceAccount/.test(e.message),
    );
    assert.equal(gcs.requests.length, 0);
  });

  test("an upload answered 429 with Retry-After is sent again after the wait", async () => {
    gcs.reset();
    gcs.injectFault({ method: "POST", path: `/upload/storage/v1/b/${BUCKET}/o`, status: 429, headers: { "Retry-After": "1" } });
    const started = Date.now();
    const runId = await logBacktest({
      trackingUri: mlflowServed.url,
      env: env(),
      retry: { initialDelayMs: 10_000, maxDelayMs: 10_000, budgetMs: 60_000 },
      equityCurve: EQUITY_ROWS,
      chart: false,
    });
    const elapsed = Date.now() - started;
    // Without Retry-After the first backoff would be 5 to 10 s.
    assert.ok(elapsed >= 1000 && elapsed < 5000, `took ${elapsed} ms`);
    assert.equal(text(object(await getRun(runId), "equity_curve.csv")?.bytes), EQUITY_CSV);
    assert.deepEqual(gcs.requests.filter((r) => r.method === "POST" && r.path.startsWith("/upload/")).map((r) => r.status), [429, 200]);
  });

  test("the check of a run's files follows nextPageToken, and the connection's runs share a token", async () => {
    const store = createRestStore({
      baseUrl: mlflowServed.url,
      fetch: globalThis.fetch.bind(globalThis),
      retry: { ...DEFAULT_RETRY, ...FAST_RETRY },
      env: env(),
      artifactStores: [gcsArtifacts({ listPageSize: 1 })],
    });
    const experimentId = await store.resolveExperiment({ name: "gcs-pages" });
    const run = await store.createRun({ experimentId, runName: "pages", startTime: Date.now(), userId: "test", tags: [] });
    for (const [path, body] of [["data/a.txt", "a"], ["data/b.txt", "bb"], ["data/c.txt", "ccc"], ["data/sub/d.txt", "d"]] as const) {
      await (await store.uploadArtifact(run, { path, body, contentType: "text/plain" })).release();
    }
    gcs.reset();
    assert.deepEqual([...(await store.artifactSizes(run, "data"))].sort(), [["a.txt", 1], ["b.txt", 2], ["c.txt", 3]]);
    assert.ok(gcs.requests.filter((r) => r.method === "GET").length >= 3);
    // A second run of the same connection uses the token the first one got.
    const second = await store.createRun({ experimentId, runName: "pages-2", startTime: Date.now(), userId: "test", tags: [] });
    await (await store.uploadArtifact(second, { path: "e.txt", body: "e", contentType: "text/plain" })).release();
    assert.equal(tokenRequests(), 0);
  });
});
