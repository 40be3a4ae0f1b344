// A SageMaker managed MLflow server named by its ARN: every REST request signed with SigV4,
// the run's artifacts written to its s3:// URI (issue 11).
//
// These tests always start their own fake SageMaker front (with the in-memory MLflow server
// behind it) and fake S3, even when MLFLOW_TEST_TRACKING_URI names an external server: a
// SageMaker tracking URI is an ARN whose endpoint must be the fake, which checks signatures with
// the official AWS signer.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { logBacktest, MlflowError, MlflowValidationError, setTrackingUri } from "../mod.ts";
import { logGrid } from "../src/sweep.ts";
import { createFakeS3, type FakeS3 } from "./support/fake_s3.ts";
import { createFakeSageMaker, type FakeSageMaker } from "./support/fake_sagemaker.ts";
import { readS3Object } from "./support/s3_reader.ts";
import { serve, type ServedHandler } from "./support/serve.ts";
import type { FakeAwsCredential } from "./support/sigv4_check.ts";
import { restReader, type RestRun } from "./support/target.ts";
import { EQUITY_CSV, EQUITY_ROWS, FLOX_STATS, secretsAbsent, TRADES, TRADES_CSV } from "./support/aws_fixtures.ts";

const ARN = "arn:aws:sagemaker:eu-west-1:123456789012:mlflow-tracking-server/flox-team";
const APP_ARN = "arn:aws:sagemaker:eu-west-1:123456789012:mlflow-app/app-flox01";
const BUCKET = "sagemaker-eu-west-1-123456789012";
const KEYS: FakeAwsCredential = { accessKeyId: "AKIAFLOXSMTEST000001", secretAccessKey: "smSecret/NeverPrint+0001" };
const TEMPORARY: FakeAwsCredential = {
  accessKeyId: "ASIAFLOXSMTEMP000002",
  secretAccessKey: "smTempSecret/NeverPrint+0002",
  sessionToken: "FwoGZXIvYXdzEFLOXsmSessionTokenNeverPrint0002",
};
const EXPIRED: FakeAwsCredential = {
  accessKeyId: "ASIAFLOXSMEXPD000003",
  secretAccessKey: "smExpiredSecret/NeverPrint+0003",
  sessionToken: "FwoGZXIvYXdzEFLOXsmExpiredTokenNeverPrint0003",
  expired: true,
};
const SECRETS = [KEYS, TEMPORARY, EXPIRED].flatMap((c) => [c.secretAccessKey, c.sessionToken ?? c.secretAccessKey]);
const FAST_RETRY = { initialDelayMs: 5, maxDelayMs: 20, timeoutMs: 5000, budgetMs: 20_000 };
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

describe("SageMaker ARN tracking URIs (fake front and S3 checked by the official SigV4 signer)", () => {
  let s3: FakeS3;
  let front: FakeSageMaker;
  let app: FakeSageMaker;
  let s3Served: ServedHandler;
  let frontServed: ServedHandler;
  let appServed: ServedHandler;
  // The MLflow server behind the front, unsigned, to read runs back as a user would.
  let readerServed: ServedHandler;
  before(async () => {
    s3 = createFakeS3({ credentials: [KEYS, TEMPORARY, EXPIRED], buckets: [BUCKET], region: "eu-west-1" });
    front = createFakeSageMaker({ arn: ARN, credentials: [KEYS, TEMPORARY, EXPIRED], artifactRoot: `s3://${BUCKET}/mlflow` });
    app = createFakeSageMaker({ arn: APP_ARN, credentials: [KEYS], artifactRoot: `s3://${BUCKET}/app` });
    s3Served = await serve(s3.handler);
    frontServed = await serve(front.handler);
    appServed = await serve(app.handler);
    readerServed = await serve(front.mlflow.handler);
  });
  after(async () => {
    setTrackingUri(undefined);
    for (const served of [s3Served, frontServed, appServed, readerServed]) await served.close();
  });

  const env = (credential: FakeAwsCredential, endpoint = frontServed.url) => ({
    AWS_ACCESS_KEY_ID: credential.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credential.secretAccessKey,
    ...(credential.sessionToken ? { AWS_SESSION_TOKEN: credential.sessionToken } : {}),
    // S3 is signed for the bucket's region, the REST calls for the ARN's.
    AWS_REGION: "eu-west-1",
    SAGEMAKER_MLFLOW_CUSTOM_ENDPOINT: endpoint,
    MLFLOW_S3_ENDPOINT_URL: s3Served.url,
  });
  const getRun = async (runId: string): Promise<RestRun> => (await restReader(readerServed.url).getRun(runId)).run;
  const object = (run: RestRun, path: string) =>
    readS3Object(s3Served.url, BUCKET, `${run.info.artifact_uri.slice(`s3://${BUCKET}/`.length)}/${path}`, KEYS, "eu-west-1");

  test("logBacktest signs every request and writes the run's files to its s3:// URI, byte for byte", async () => {
    front.reset();
    const runId = await logBacktest({
      trackingUri: ARN,
      env: env(KEYS),
      retry: FAST_RETRY,
      experiment: "sagemaker-backtest",
      runName: "sma",
      stats: FLOX_STATS,
      equityCurve: EQUITY_ROWS,
      trades: TRADES,
      params: { fast: 10, slow: 30 },
    });
    assert.deepEqual(front.refusals, []);
    assert.ok(front.requests.length > 3);
    // Every request got past the signature check; the only non-200 is MLflow's 404 for the new experiment's name.
    assert.ok(front.requests.every((r) => r.status === 200 || (r.status === 404 && r.path.endsWith("/experiments/get-by-name"))), JSON.stringify(front.requests));
    const run = await getRun(runId);
    assert.equal(run.info.status, "FINISHED");
    assert.equal(run.info.artifact_uri, `s3://${BUCKET}/mlflow/${run.info.experiment_id}/${runId}/artifacts`);
    assert.equal(new Map((run.data.metrics ?? []).map((m) => [m.key, m.value])).get("final_capital"), 10250.5);
    assert.equal(text(await object(run, "equity_curve.csv")), EQUITY_CSV);
    assert.equal(text(await object(run, "trades.csv")), TRADES_CSV);
    const png = await object(run, "equity_curve.png");
    assert.deepEqual([...png.slice(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  });

  test("logGrid into an experiment whose name has spaces and quotes: signed GET queries use %20", async () => {
    front.reset();
    // experiments/get-by-name carries the name in the query; a '+' for a space would not verify.
    const experiment = "FLOX grid (team's) + more";
    const grid = await logGrid({
      trackingUri: ARN,
      env: env(TEMPORARY),
      retry: FAST_RETRY,
      experiment,
      runName: "grid",
      axes: ["fast", "slow"],
      results: [5, 10].flatMap((fast, i) => [20, 50].map((slow, j) => ({ index: i * 2 + j, params: [fast, slow], stats: { sharpeRatio: fast / slow } }))),
    });
    assert.deepEqual(grid.failed, []);
    assert.deepEqual(front.refusals, []);
    assert.ok(front.requests.some((r) => r.method === "GET" && r.path.endsWith("/experiments/get-by-name")));
    const { experiment: created } = await restReader(readerServed.url).getExperimentByName(experiment);
    const { runs = [] } = await restReader(readerServed.url).searchRuns([created.experiment_id]);
    assert.equal(runs.length, 5);
    assert.ok(runs.every((r) => r.info.status === "FINISHED"));
  });

  test("an mlflow-app ARN signs for service sagemaker with the app's routing header", async () => {
    const runId = await logBacktest({ trackingUri: APP_ARN, env: env(KEYS, appServed.url), retry: FAST_RETRY, stats: { sharpe_ratio: 1.5 } });
    assert.deepEqual(app.refusals, []);
    const served = await serve(app.mlflow.handler);
    const { run } = await restReader(served.url).getRun(runId).finally(() => served.close());
    assert.equal(run.info.status, "FINISHED");
    assert.ok(run.info.artifact_uri.startsWith(`s3://${BUCKET}/app/`));
  });

  test("setTrackingUri takes an ARN; a malformed or non-MLflow ARN is refused naming the shape", () => {
    setTrackingUri(ARN);
    setTrackingUri(undefined);
    assert.throws(() => setTrackingUri("arn:aws:sagemaker:eu-west-1:123456789012:notebook-instance/x"),
      (err: unknown) => err instanceof MlflowValidationError && err.field === "trackingUri" && /mlflow-tracking-server/.test(err.message));
    assert.throws(() => setTrackingUri("arn:aws:sagemaker:eu-west-1:mlflow-tracking-server/x"), MlflowValidationError);
    assert.throws(() => setTrackingUri("arn:aws-cn:sagemaker:cn-north-1:123456789012:mlflow-tracking-server/x"),
      (err: unknown) => err instanceof MlflowValidationError && /SAGEMAKER_MLFLOW_CUSTOM_ENDPOINT/.test(err.message));
  });

  test("a wrong secret key is refused with an error naming AWS_SECRET_ACCESS_KEY, never the secret (guessed error body)", async () => {
    const wrong = { ...KEYS, secretAccessKey: "wrongSmSecret/NeverPrint+9999" };
    front.reset();
    const err = await logBacktest({ trackingUri: ARN, env: env(wrong), retry: FAST_RETRY, stats: { a: 1 } }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof MlflowError, String(err));
    assert.equal(err.status, 403);
    assert.match(err.message, /AWS_SECRET_ACCESS_KEY/);
    assert.deepEqual(front.refusals.slice(0, 1), ["InvalidSignatureException"]);
    secretsAbsent(err, [...SECRETS, wrong.secretAccessKey]);
  });

  test("an expired session token is refused with 403 naming AWS_SESSION_TOKEN (guessed error body)", async () => {
    const err = await logBacktest({ trackingUri: ARN, env: env(EXPIRED), retry: FAST_RETRY, stats: { a: 1 } }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof MlflowError, String(err));
    assert.equal(err.status, 403);
    assert.match(err.message, /AWS_SESSION_TOKEN/);
    secretsAbsent(err, SECRETS);
  });

  test("an unknown access key id is refused with an error naming AWS_ACCESS_KEY_ID (guessed error body)", async () => {
    const unknown = { accessKeyId: "AKIAFLOXSMUNKNOWN009", secretAccessKey: "unknownSmSecret/NeverPrint" };
    const err = await logBacktest({ trackingUri: ARN, env: env(unknown), retry: FAST_RETRY, stats: { a: 1 } }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof MlflowError, String(err));
    assert.equal(err.status, 403);
    assert.match(err.message, /AWS_ACCESS_KEY_ID/);
    secretsAbsent(err, [unknown.secretAccessKey]);
  });

  test("missing credentials fail naming the variables, before any request", async () => {
    front.reset();
    await assert.rejects(
      logBacktest({ trackingUri: ARN, env: { SAGEMAKER_MLFLOW_CUSTOM_ENDPOINT: frontServed.url }, stats: { a: 1 } }),
      (err: unknown) =>
        err instanceof MlflowValidationError && /AWS_ACCESS_KEY_ID/.test(err.message) && /AWS_SECRET_ACCESS_KEY/.test(err.message),
    );
    await assert.rejects(
      logBacktest({ trackingUri: ARN, env: { AWS_ACCESS_KEY_ID: KEYS.accessKeyId, SAGEMAKER_MLFLOW_CUSTOM_ENDPOINT: frontServed.url }, stats: { a: 1 } }),
      (err: unknown) => err instanceof MlflowValidationError && err.field === "AWS_SECRET_ACCESS_KEY",
    );
    assert.equal(front.requests.length, 0);
  });

  test("429 with Retry-After is retried after the time the front asks for (guessed status)", async () => {
    front.reset();
    front.injectFault({ method: "POST", path: "/api/2.0/mlflow/runs/log-batch", status: 429, headers: { "Retry-After": "1" } });
    const started = Date.now();
    // Without Retry-After the first backoff would be 5 to 10 s.
    const runId = await logBacktest({
      trackingUri: ARN,
      env: env(KEYS),
      retry: { initialDelayMs: 10_000, maxDelayMs: 10_000, budgetMs: 60_000 },
      stats: { sharpe_ratio: 2 },
    });
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 1000 && elapsed < 5000, `took ${elapsed} ms`);
    assert.equal(new Map(((await getRun(runId)).data.metrics ?? []).map((m) => [m.key, m.value])).get("sharpe_ratio"), 2);
    assert.deepEqual(front.requests.filter((r) => r.path.endsWith("/runs/log-batch")).map((r) => r.status), [429, 200]);
  });

  test("without AWS_REGION the runs' bucket is signed for the ARN's region", async () => {
    const { AWS_REGION: _, ...withoutRegion } = env(KEYS);
    s3.reset();
    const runId = await logBacktest({ trackingUri: ARN, env: withoutRegion, retry: FAST_RETRY, equityCurve: EQUITY_ROWS, chart: false });
    assert.equal(text(await object(await getRun(runId), "equity_curve.csv")), EQUITY_CSV);
    assert.deepEqual(s3.refusals, []);
  });

  test("a clock 20 minutes behind the front's is corrected from the refusal's Date and the request re-signed (guessed error body)", async () => {
    front.reset();
    front.setClockOffset(-20 * 60_000);
    let runId = "";
    try {
      runId = await logBacktest({ trackingUri: ARN, env: env(KEYS), retry: FAST_RETRY, stats: { sharpe_ratio: 3 } });
      assert.deepEqual(front.refusals, ["InvalidSignatureException"]);
    } finally {
      front.setClockOffset(0);
    }
    assert.equal(new Map(((await getRun(runId)).data.metrics ?? []).map((m) => [m.key, m.value])).get("sharpe_ratio"), 3);
  });

  test("credentials from the shared credentials file's default profile sign the REST calls and the uploads", async () => {
    const { mkdtemp, rm, writeFile } = await import("node:fs/promises");
    const { join } = await import("node:path");
    const { tmpdir } = await import("node:os");
    const dir = await mkdtemp(join(tmpdir(), "flox-sm-creds-"));
    try {
      const file = join(dir, "credentials");
      await writeFile(file, `[default]\naws_access_key_id = ${KEYS.accessKeyId}\naws_secret_access_key = ${KEYS.secretAccessKey}\n`);
      front.reset();
      const runId = await logBacktest({
        trackingUri: ARN,
        env: { AWS_SHARED_CREDENTIALS_FILE: file, AWS_REGION: "eu-west-1", SAGEMAKER_MLFLOW_CUSTOM_ENDPOINT: frontServed.url, MLFLOW_S3_ENDPOINT_URL: s3Served.url },
        retry: FAST_RETRY,
        equityCurve: EQUITY_ROWS,
        chart: false,
      });
      assert.deepEqual(front.refusals, []);
      assert.equal(text(await object(await getRun(runId), "equity_curve.csv")), EQUITY_CSV);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("the aws option replaces the environment's keys; no secret reaches the run", async () => {
    const runId = await logBacktest({
      trackingUri: ARN,
      env: { SAGEMAKER_MLFLOW_CUSTOM_ENDPOINT: frontServed.url, MLFLOW_S3_ENDPOINT_URL: s3Served.url, AWS_REGION: "eu-west-1" },
      aws: { accessKeyId: TEMPORARY.accessKeyId, secretAccessKey: TEMPORARY.secretAccessKey, sessionToken: TEMPORARY.sessionToken! },
      retry: FAST_RETRY,
      equityCurve: EQUITY_ROWS,
      chart: false,
    });
    const run = await getRun(runId);
    assert.equal(text(await object(run, "equity_curve.csv")), EQUITY_CSV);
    secretsAbsent(run, SECRETS);
  });
});
