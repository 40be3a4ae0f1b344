/**
 * Large artifacts of Databricks runs go in parts: on S3 through the
 * workspace's multipart upload (parts of MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE,
 * each a presigned PUT checked by the AWS signer in the fake bucket, joined
 * by complete-multipart-upload; an expired part URL is replaced once; a
 * failed upload is aborted), on Azure as Put Block + Put Block List, checked
 * by Azurite. The thresholds are lowered through MLflow's own variables so a
 * 12 MiB file stands in for a 500 MiB one.
 *
 * Always against the fake workspace, whatever MLFLOW_TEST_TRACKING_URI says:
 * no self-hosted MLflow server has these endpoints.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { logToMlflow, MlflowError, MlflowValidationError } from "../mod.ts";
import { type FakeDatabricks, startFakeDatabricks } from "./support/fake_databricks.ts";

const FAST_RETRY = { initialDelayMs: 5, maxDelayMs: 50, timeoutMs: 20_000, budgetMs: 60_000 };
const MIB = 1024 * 1024;

// 12 MiB of bytes that differ from part to part, so a part out of place shows.
const BIG = Uint8Array.from({ length: 12 * MIB }, (_, i) => (i * 31 + (i >> 20)) & 0xff);

describe("multipart uploads of large Databricks artifacts", () => {
  let ws: FakeDatabricks;
  before(async () => {
    ws = await startFakeDatabricks();
  });
  after(() => ws.close());

  const env = (): Record<string, string> => ({
    DATABRICKS_HOST: ws.url,
    DATABRICKS_TOKEN: ws.pat,
    MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE: String(8 * MIB),
    MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE: String(5 * MIB),
  });
  const logBig = (experiment: string, extra: Record<string, string> = {}) =>
    logToMlflow({ trackingUri: "databricks", env: { ...env(), ...extra }, retry: FAST_RETRY, experiment }, async (run) => {
      await run.logArtifact(BIG, "data/big.bin");
      await run.logArtifact(new TextEncoder().encode("small"), "data/small.txt");
      return run.runId;
    });
  const apiCalls = (name: string): number => ws.proxy.requests.filter((r) => r.path === `/api/2.0/mlflow/artifacts/${name}`).length;

  test("a file over the threshold goes in 5 MiB parts and reads back whole; a small one in one PUT", async () => {
    const created = apiCalls("create-multipart-upload");
    const bucketBefore = ws.bucket.requests.length;
    const runId = await logBig("/Shared/multipart");
    assert.deepEqual(await ws.artifact(runId, "data/big.bin"), BIG);
    assert.equal(new TextDecoder().decode(await ws.artifact(runId, "data/small.txt")), "small");
    assert.equal(apiCalls("create-multipart-upload") - created, 1);
    const parts = ws.bucket.requests.slice(bucketBefore).filter((r) => r.method === "PUT" && r.key.endsWith("big.bin"));
    assert.ok(parts.every((r) => r.status === 200));
    assert.deepEqual(parts.map((r) => Number(r.contentLength)).sort((x, y) => x - y), [2 * MIB, 5 * MIB, 5 * MIB]);
    assert.equal(ws.bucket.uploads.size, 0);
  });

  test("an expired part URL is replaced through get-presigned-upload-part-url and the part sent once more", async () => {
    ws.expireNextPartUrls(1);
    const refreshed = apiCalls("get-presigned-upload-part-url");
    const bucketBefore = ws.bucket.requests.length;
    const runId = await logBig("/Shared/multipart-expired");
    assert.deepEqual(await ws.artifact(runId, "data/big.bin"), BIG);
    assert.equal(apiCalls("get-presigned-upload-part-url") - refreshed, 1);
    assert.equal(ws.bucket.requests.slice(bucketBefore).filter((r) => r.status === 403).length, 1);
  });

  test("a failed completion aborts the upload and fails the run's logging", async () => {
    ws.proxy.injectFault({
      method: "POST",
      path: "/api/2.0/mlflow/artifacts/complete-multipart-upload",
      status: 400,
      body: JSON.stringify({ error_code: "INVALID_PARAMETER_VALUE", message: "InvalidPart: injected" }),
      contentType: "application/json",
    });
    const bucketBefore = ws.bucket.requests.length;
    const err = await logBig("/Shared/multipart-failed").then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof MlflowError);
    assert.match(err.message, /complete-multipart-upload failed with 400/);
    const aborts = ws.bucket.requests.slice(bucketBefore).filter((r) => r.method === "DELETE");
    assert.deepEqual(aborts.map((r) => r.status), [204]);
    assert.equal(ws.bucket.uploads.size, 0);
  });

  test("a part size outside S3's 5 MiB to 5 GiB is refused naming the variable", async () => {
    const err = await logBig("/Shared/multipart-bad", { MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE: "1024" }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof MlflowValidationError, String(err));
    assert.equal(err.field, "MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE");
  });
});

describe("block uploads of large Databricks artifacts on Azure", () => {
  let ws: FakeDatabricks;
  before(async () => {
    ws = await startFakeDatabricks({ storage: "azure" });
  });
  after(() => ws?.close());

  /** Logs the big file, recording each storage request's query kind and status. */
  const logBig = async (experiment: string): Promise<{ runId: string; seen: string[] }> => {
    const seen: string[] = [];
    const recording: typeof fetch = async (input, init) => {
      const url = new URL(String(input instanceof Request ? input.url : input));
      const response = await fetch(input, init);
      if (url.searchParams.has("sig")) seen.push(`${url.searchParams.get("comp") ?? "blob"} ${response.status}`);
      return response;
    };
    const env = {
      DATABRICKS_HOST: ws.url,
      DATABRICKS_TOKEN: ws.pat,
      MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE: String(8 * MIB),
      MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE: String(5 * MIB),
    };
    const runId = await logToMlflow({ trackingUri: "databricks", env, fetch: recording, retry: FAST_RETRY, experiment }, async (run) => {
      await run.logArtifact(BIG, "big.bin");
      return run.runId;
    });
    return { runId, seen };
  };

  test("a file over the threshold goes as three blocks and one block list, and reads back whole", async () => {
    const { runId, seen } = await logBig("/Shared/blocks");
    assert.deepEqual(seen, ["block 201", "block 201", "block 201", "blocklist 201"]);
    assert.deepEqual(await ws.artifact(runId, "big.bin"), BIG);
  });

  test("a block refused for an expired SAS gets fresh credentials and is sent once more", async () => {
    ws.expireNextUploadUrls(1);
    const { runId, seen } = await logBig("/Shared/blocks-expired");
    assert.deepEqual(seen, ["block 403", "block 201", "block 201", "block 201", "blocklist 201"]);
    assert.deepEqual(await ws.artifact(runId, "big.bin"), BIG);
  });
});
