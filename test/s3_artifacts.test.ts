// Runs on a tracking server started with `--no-serve-artifacts --default-artifact-root s3://…`
// write their artifacts straight to the bucket, signed with SigV4 (issue 11).
//
// These tests always start their own in-memory MLflow server configured with an s3:// artifact
// root, even when MLFLOW_TEST_TRACKING_URI names an external server: that server hands out
// whatever artifact root it was started with, and the bucket must be the fake S3 below, whose
// signature checks use the official AWS signer.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { logBacktest, MlflowError, MlflowValidationError } from "../mod.ts";
import { s3Artifacts } from "../src/artifact_stores/s3.ts";
import { DEFAULT_RETRY } from "../src/http.ts";
import { createRestStore } from "../src/rest_store.ts";
import { type BucketRuns, logBacktestAndReadBack, logGridAndReadBack } from "./support/bucket_runs.ts";
import { createFakeS3, type FakeS3 } from "./support/fake_s3.ts";
import { createMlflowServer, type MlflowTestServer } from "./support/mlflow_server.ts";
import { readS3Object } from "./support/s3_reader.ts";
import { serve, type ServedHandler } from "./support/serve.ts";
import type { FakeAwsCredential } from "./support/sigv4_check.ts";
import { restReader, type RestRun } from "./support/target.ts";
import { EQUITY_CSV, EQUITY_ROWS, secretsAbsent } from "./support/aws_fixtures.ts";

const BUCKET = "flox-artifacts";
const KEYS: FakeAwsCredential = { accessKeyId: "AKIAFLOXS3TEST000001", secretAccessKey: "s3Secret/NeverPrint+0001" };
const TEMPORARY: FakeAwsCredential = {
  accessKeyId: "ASIAFLOXS3TEMP000002",
  secretAccessKey: "s3TempSecret/NeverPrint+0002",
  sessionToken: "FwoGZXIvYXdzEFLOXs3SessionTokenNeverPrint0002",
};
const EXPIRED: FakeAwsCredential = {
  accessKeyId: "ASIAFLOXS3EXPD000003",
  secretAccessKey: "s3ExpiredSecret/NeverPrint+0003",
  sessionToken: "FwoGZXIvYXdzEFLOXs3ExpiredTokenNeverPrint0003",
  expired: true,
};
const SECRETS = [KEYS, TEMPORARY, EXPIRED].flatMap((c) => [c.secretAccessKey, c.sessionToken ?? c.secretAccessKey]);
const FAST_RETRY = { initialDelayMs: 5, maxDelayMs: 20, timeoutMs: 5000, budgetMs: 20_000 };
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

describe("s3:// artifact roots (fake S3 checked by the official SigV4 signer)", () => {
  let s3: FakeS3;
  let mlflow: MlflowTestServer;
  let s3Served: ServedHandler;
  let mlflowServed: ServedHandler;
  before(async () => {
    // Two keys per listing page, so checking a run's four root files takes the continuation token.
    s3 = createFakeS3({ credentials: [KEYS, TEMPORARY, EXPIRED], buckets: [BUCKET], pageSize: 2 });
    mlflow = createMlflowServer({ defaultArtifactRoot: `s3://${BUCKET}/mlflow` });
    s3Served = await serve(s3.handler);
    mlflowServed = await serve(mlflow.handler);
  });
  after(async () => {
    await s3Served.close();
    await mlflowServed.close();
  });

  const env = (credential: FakeAwsCredential, extra: Record<string, string> = {}) => ({
    AWS_ACCESS_KEY_ID: credential.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credential.secretAccessKey,
    ...(credential.sessionToken ? { AWS_SESSION_TOKEN: credential.sessionToken } : {}),
    MLFLOW_S3_ENDPOINT_URL: s3Served.url,
    ...extra,
  });
  const getRun = async (runId: string): Promise<RestRun> => (await restReader(mlflowServed.url).getRun(runId)).run;
  const keyOf = (run: RestRun, path: string): string => {
    const prefix = `s3://${BUCKET}/`;
    assert.ok(run.info.artifact_uri.startsWith(prefix), run.info.artifact_uri);
    return `${run.info.artifact_uri.slice(prefix.length)}/${path}`;
  };
  const object = (run: RestRun, path: string) => readS3Object(s3Served.url, BUCKET, keyOf(run, path), KEYS);

  const bucketRuns = (): BucketRuns => ({ connection: { trackingUri: mlflowServed.url, env: env(KEYS), retry: FAST_RETRY }, getRun, read: object });

  test("logBacktest writes stats to MLflow and the CSVs and chart to the bucket, byte for byte", async () => {
    s3.reset();
    const run = await logBacktestAndReadBack(bucketRuns(), "s3-backtest", `s3://${BUCKET}/mlflow`);
    assert.equal(new Map((run.data.metrics ?? []).map((m) => [m.key, m.value])).get("equity"), 10250.5);
    assert.ok((await object(run, "equity_curve.png")).length > 1000);
    assert.match(text(await object(run, "equity_curve.svg")), /^<svg/);
    assert.equal(s3.objects.get(`${BUCKET}/${keyOf(run, "equity_curve.csv")}`)?.headers["content-type"], "text/csv");
    // Nothing went through the tracking server's artifact proxy.
    assert.ok(!mlflow.requests.some((r) => r.path.includes("mlflow-artifacts")));
    // The uploads were checked with ListObjectsV2, following the continuation token past the first page.
    const listings = s3.requests.filter((r) => r.method === "GET" && r.path === `/${BUCKET}`);
    assert.ok(listings.length >= 2, `listings: ${listings.length}`);
    assert.deepEqual(s3.refusals, []);
  });

  test("logGrid writes a parent and its cells to a server with an s3:// root", async () => {
    for (const cell of await logGridAndReadBack(bucketRuns(), "s3-grid")) assert.ok(cell.info.artifact_uri.startsWith(`s3://${BUCKET}/mlflow/`));
  });

  test("temporary credentials send their session token, signed", async () => {
    s3.reset();
    const runId = await logBacktest({ trackingUri: mlflowServed.url, env: env(TEMPORARY), retry: FAST_RETRY, equityCurve: EQUITY_ROWS, chart: false });
    const run = await getRun(runId);
    assert.equal(text(await object(run, "equity_curve.csv")), EQUITY_CSV);
    const stored = s3.objects.get(`${BUCKET}/${keyOf(run, "equity_curve.csv")}`);
    assert.equal(stored?.headers["x-amz-security-token"], TEMPORARY.sessionToken);
    assert.deepEqual(s3.refusals, []);
  });

  test("credentials from the aws option, for runtimes without an environment", async () => {
    const runId = await logBacktest({
      trackingUri: mlflowServed.url,
      env: { MLFLOW_S3_ENDPOINT_URL: s3Served.url },
      aws: { accessKeyId: KEYS.accessKeyId, secretAccessKey: KEYS.secretAccessKey },
      retry: FAST_RETRY,
      equityCurve: EQUITY_ROWS,
      chart: false,
    });
    assert.equal(text(await object(await getRun(runId), "equity_curve.csv")), EQUITY_CSV);
    await assert.rejects(
      logBacktest({ trackingUri: mlflowServed.url, aws: { aws_secret_access_key: "x" } as never, stats: { a: 1 } }),
      (err: unknown) => err instanceof MlflowValidationError && err.field === "aws.aws_secret_access_key" && /did you mean 'secretAccessKey'/.test(err.message),
    );
  });

  test("credentials and region from a profile of the shared credentials and config files", async () => {
    const { mkdtemp, mkdir, rm, writeFile } = await import("node:fs/promises");
    const { join } = await import("node:path");
    const { tmpdir } = await import("node:os");
    const home = await mkdtemp(join(tmpdir(), "flox-aws-home-"));
    try {
      await mkdir(join(home, ".aws"));
      await writeFile(join(home, ".aws", "credentials"),
        `[default]\naws_access_key_id = AKIAWRONGDEFAULT0001\naws_secret_access_key = nope\n\n[quant]\n` +
          `aws_access_key_id = ${TEMPORARY.accessKeyId}\naws_secret_access_key = ${TEMPORARY.secretAccessKey}\naws_session_token = ${TEMPORARY.sessionToken}\n`);
      await writeFile(join(home, ".aws", "config"), "[profile quant]\nregion = us-east-1\n");
      s3.reset();
      const runId = await logBacktest({
        trackingUri: mlflowServed.url,
        env: { HOME: home, AWS_PROFILE: "quant", MLFLOW_S3_ENDPOINT_URL: s3Served.url },
        retry: FAST_RETRY,
        equityCurve: EQUITY_ROWS,
        chart: false,
      });
      assert.equal(text(await object(await getRun(runId), "equity_curve.csv")), EQUITY_CSV);
      assert.deepEqual(s3.refusals, []);
      await assert.rejects(
        logBacktest({ trackingUri: mlflowServed.url, env: { HOME: home, AWS_PROFILE: "research", MLFLOW_S3_ENDPOINT_URL: s3Served.url }, retry: FAST_RETRY, equityCurve: EQUITY_ROWS, chart: false }),
        (err: unknown) => err instanceof MlflowValidationError && err.field === "AWS_PROFILE" && /'research'/.test(err.message),
      );
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });

  test("MLFLOW_S3_UPLOAD_EXTRA_ARGS become signed PutObject headers", async () => {
    const runId = await logBacktest({
      trackingUri: mlflowServed.url,
      env: env(KEYS, { MLFLOW_S3_UPLOAD_EXTRA_ARGS: '{"ServerSideEncryption":"AES256","StorageClass":"STANDARD_IA"}' }),
      retry: FAST_RETRY,
      equityCurve: EQUITY_ROWS,
      chart: false,
    });
    const stored = s3.objects.get(`${BUCKET}/${keyOf(await getRun(runId), "equity_curve.csv")}`);
    assert.equal(stored?.headers["x-amz-server-side-encryption"], "AES256");
    assert.equal(stored?.headers["x-amz-storage-class"], "STANDARD_IA");
  });

  test("a wrong secret key fails with SignatureDoesNotMatch naming AWS_SECRET_ACCESS_KEY, never the secret", async () => {
    const wrong = { ...KEYS, secretAccessKey: "wrongSecret/NeverPrint+9999" };
    const runs = mlflow.requests.length;
    const err = await logBacktest({ trackingUri: mlflowServed.url, env: env(wrong), retry: FAST_RETRY, equityCurve: EQUITY_ROWS, chart: false })
      .then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof MlflowError, String(err));
    assert.match(err.message, /SignatureDoesNotMatch/);
    assert.match(err.message, /AWS_SECRET_ACCESS_KEY/);
    secretsAbsent(err, [...SECRETS, wrong.secretAccessKey]);
    // The run that could not store its files is not left RUNNING, and no secret reached its tags.
    const created = mlflow.requests.slice(runs).some((r) => r.path.endsWith("/runs/create"));
    assert.ok(created);
    const { runs: logged = [] } = await restReader(mlflowServed.url).searchRuns(["0"]);
    for (const run of logged) secretsAbsent(run, [...SECRETS, wrong.secretAccessKey]);
  });

  test("an unknown access key id fails with InvalidAccessKeyId naming AWS_ACCESS_KEY_ID", async () => {
    const unknown = { accessKeyId: "AKIAFLOXUNKNOWN00009", secretAccessKey: "unknownSecret/NeverPrint" };
    await assert.rejects(
      logBacktest({ trackingUri: mlflowServed.url, env: env(unknown), retry: FAST_RETRY, equityCurve: EQUITY_ROWS, chart: false }),
      (err: unknown) => {
        assert.ok(err instanceof MlflowError);
        assert.equal(err.errorCode, "InvalidAccessKeyId");
        assert.match(err.message, /AWS_ACCESS_KEY_ID/);
        secretsAbsent(err, [unknown.secretAccessKey]);
        return true;
      },
    );
  });

  test("an expired session token fails with ExpiredToken naming AWS_SESSION_TOKEN, never the token", async () => {
    await assert.rejects(
      logBacktest({ trackingUri: mlflowServed.url, env: env(EXPIRED), retry: FAST_RETRY, equityCurve: EQUITY_ROWS, chart: false }),
      (err: unknown) => {
        assert.ok(err instanceof MlflowError);
        assert.equal(err.errorCode, "ExpiredToken");
        assert.equal(err.status, 400);
        assert.match(err.message, /AWS_SESSION_TOKEN/);
        secretsAbsent(err, SECRETS);
        return true;
      },
    );
  });

  test("a bucket in another region than AWS_REGION fails naming AWS_REGION and the bucket's region", async () => {
    await assert.rejects(
      logBacktest({ trackingUri: mlflowServed.url, env: env(KEYS, { AWS_REGION: "ap-southeast-2" }), retry: FAST_RETRY, equityCurve: EQUITY_ROWS, chart: false }),
      (err: unknown) => err instanceof MlflowError && err.errorCode === "AuthorizationHeaderMalformed" && /set AWS_REGION to us-east-1/.test(err.message),
    );
  });

  test("missing credentials fail naming the variables to set, before any upload", async () => {
    s3.reset();
    await assert.rejects(
      logBacktest({ trackingUri: mlflowServed.url, env: { MLFLOW_S3_ENDPOINT_URL: s3Served.url }, retry: FAST_RETRY, equityCurve: EQUITY_ROWS, chart: false }),
      (err: unknown) => {
        assert.ok(err instanceof MlflowValidationError);
        assert.match(err.message, /AWS_ACCESS_KEY_ID/);
        assert.match(err.message, /AWS_SECRET_ACCESS_KEY/);
        return true;
      },
    );
    assert.equal(s3.requests.length, 0);
    await assert.rejects(
      logBacktest({ trackingUri: mlflowServed.url, env: { ...env(KEYS), AWS_SECRET_ACCESS_KEY: "" }, retry: FAST_RETRY, equityCurve: EQUITY_ROWS, chart: false }),
      (err: unknown) => err instanceof MlflowValidationError && err.field === "AWS_SECRET_ACCESS_KEY",
    );
  });

  test("a clock 20 minutes behind S3's is corrected from the answer's Date and the upload re-signed", async () => {
    s3.reset();
    s3.setClockOffset(20 * 60_000);
    let runId = "";
    try {
      runId = await logBacktest({ trackingUri: mlflowServed.url, env: env(KEYS), retry: FAST_RETRY, equityCurve: EQUITY_ROWS, chart: false });
      // One refusal, for the first request; every later one was signed with the corrected clock.
      assert.deepEqual(s3.refusals, ["RequestTimeTooSkewed"]);
    } finally {
      s3.setClockOffset(0);
    }
    assert.equal(text(await object(await getRun(runId), "equity_curve.csv")), EQUITY_CSV);
  });

  test("503 SlowDown with Retry-After is retried after the time S3 asks for", async () => {
    s3.reset();
    s3.injectFault({
      method: "PUT",
      path: `/${BUCKET}/*`,
      status: 503,
      headers: { "Retry-After": "1" },
      contentType: "application/xml",
      body: "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>",
    });
    const started = Date.now();
    // Without Retry-After the first backoff would be 5 to 10 s.
    const runId = await logBacktest({
      trackingUri: mlflowServed.url,
      env: env(KEYS),
      retry: { initialDelayMs: 10_000, maxDelayMs: 10_000, budgetMs: 60_000 },
      equityCurve: EQUITY_ROWS,
      chart: false,
    });
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 1000 && elapsed < 5000, `took ${elapsed} ms`);
    assert.equal(text(await object(await getRun(runId), "equity_curve.csv")), EQUITY_CSV);
    assert.deepEqual(s3.requests.filter((r) => r.method === "PUT").map((r) => r.status), [503, 200]);
  });
  // The store with thresholds small enough for a test: parts of 5 MiB (S3's smallest) above 8 MiB.
  const multipartStore = (credential: FakeAwsCredential) =>
    createRestStore({
      baseUrl: mlflowServed.url,
      fetch: globalThis.fetch.bind(globalThis),
      retry: { ...DEFAULT_RETRY, ...FAST_RETRY },
      env: env(credential),
      artifactStores: [s3Artifacts({ multipartThreshold: 8 * 1024 ** 2, partSize: 5 * 1024 ** 2 })],
    });
  const pattern = (size: number): Uint8Array<ArrayBuffer> => Uint8Array.from({ length: size }, (_, i) => (i * 7919) % 251);

  test("a file above the multipart threshold goes up in parts, a failed part is retried alone, and it reads back whole", async () => {
    const store = multipartStore(KEYS);
    const experimentId = await store.resolveExperiment({ name: "s3-multipart" });
    const run = await store.createRun({ experimentId, runName: "mpu", startTime: Date.now(), userId: "test", tags: [] });
    const bytes = pattern(12 * 1024 ** 2 + 7);
    s3.reset();
    // The first part fails once; only it is sent again.
    s3.injectFault({ method: "PUT", path: `/${BUCKET}/*`, status: 500 });
    const stored = await store.uploadArtifact(run, { path: "data/big.bin", body: new Blob([bytes]), contentType: "application/octet-stream" });
    await stored.release();
    assert.equal(stored.size, bytes.length);
    assert.deepEqual([...(await store.artifactSizes(run, "data"))], [["big.bin", bytes.length]]);
    const back = await readS3Object(s3Served.url, BUCKET, `mlflow/${experimentId}/${run.runId}/artifacts/data/big.bin`, KEYS);
    assert.equal(back.length, bytes.length);
    assert.ok(back.every((b, i) => b === bytes[i]));
    // Create, three parts (the first answered 500 once, then sent again), complete.
    assert.deepEqual(s3.requests.filter((r) => r.method !== "GET").map((r) => `${r.method} ${r.status}`), [
      "POST 200", "PUT 500", "PUT 200", "PUT 200", "PUT 200", "POST 200",
    ]);
    assert.equal(s3.objects.get(`${BUCKET}/mlflow/${experimentId}/${run.runId}/artifacts/data/big.bin`)?.headers["content-type"], "application/octet-stream");
    assert.equal(s3.pendingUploads.size, 0);
  });

  test("a part refused for good aborts the multipart upload and names what to fix", async () => {
    const store = multipartStore(KEYS);
    const experimentId = await store.resolveExperiment({ name: "s3-multipart" });
    const run = await store.createRun({ experimentId, runName: "mpu-denied", startTime: Date.now(), userId: "test", tags: [] });
    s3.reset();
    s3.injectFault({
      method: "PUT",
      path: `/${BUCKET}/*`,
      status: 403,
      // The body is read before the refusal: a server answering mid-body makes Deno's fetch see a dropped connection.
      applyThenFail: true,
      contentType: "application/xml",
      body: "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>",
    });
    await assert.rejects(
      store.uploadArtifact(run, { path: "big.bin", body: pattern(9 * 1024 ** 2), contentType: "application/octet-stream" }),
      (err: unknown) => err instanceof MlflowError && err.errorCode === "AccessDenied" && /s3:PutObject/.test(err.message),
    );
    assert.deepEqual(s3.requests.filter((r) => r.method !== "GET").map((r) => `${r.method} ${r.status}`), ["POST 200", "PUT 403", "DELETE 204"]);
    assert.equal(s3.pendingUploads.size, 0);
  });
});
