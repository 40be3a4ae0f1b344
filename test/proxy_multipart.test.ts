/**
 * Large artifacts of `mlflow-artifacts:` runs use MLflow's proxied multipart
 * upload (`mlflow-artifacts/mpu/*`): the server hands out one presigned S3
 * URL per part (minted and checked by the official AWS signer, never by the
 * code under test), each part is a sized PUT without MLflow auth, and the
 * server joins them; a server whose destination has no multipart answers 501
 * (exchange 57) and gets one sized PUT. The thresholds are lowered through
 * MLflow's own variables, so a 12 MiB file stands in for a 500 MiB one.
 *
 * These tests start their own in-memory servers even when
 * MLFLOW_TEST_TRACKING_URI is set: the multipart path needs a server whose
 * artifact destination is the fake S3 below, which an external server is not.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { logToMlflow, MlflowError, MlflowValidationError } from "../mod.ts";
import { createFakeS3, type FakeS3 } from "./support/fake_s3.ts";
import { createMlflowServer, type MlflowTestServer } from "./support/mlflow_server.ts";
import { type MultipartDestination, s3MultipartDestination } from "./support/mpu_s3_destination.ts";
import { secretsAbsent } from "./support/aws_fixtures.ts";
import { serve, type ServedHandler } from "./support/serve.ts";
import type { FakeAwsCredential } from "./support/sigv4_check.ts";
import { restReader } from "./support/target.ts";

const MIB = 1024 * 1024;
const BUCKET = "mlflow-destination";
const SERVER_KEYS: FakeAwsCredential = { accessKeyId: "AKIAMLFLOWSERVER0001", secretAccessKey: "serverSecret/NeverPrint+0001" };
const TRACKING_TOKEN = "tracking-token-never-on-part-urls";
const FAST_RETRY = { initialDelayMs: 5, maxDelayMs: 50, timeoutMs: 20_000, budgetMs: 60_000 };
// 12 MiB whose bytes differ from part to part, so a part out of place shows.
const BIG = Uint8Array.from({ length: 12 * MIB }, (_, i) => (i * 31 + (i >> 20)) & 0xff);
const LIMITS = { MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE: String(8 * MIB), MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE: String(5 * MIB) };

describe("proxied multipart upload of large mlflow-artifacts: files", () => {
  let s3: FakeS3;
  let s3Served: ServedHandler;
  let s3Mlflow: MlflowTestServer;
  let destination: MultipartDestination;
  let s3MlflowServed: ServedHandler;
  let local: MlflowTestServer;
  let localServed: ServedHandler;
  const s3Authorizations: (string | null)[] = [];
  const partLengths: number[] = [];

  before(async () => {
    s3 = createFakeS3({ credentials: [SERVER_KEYS], buckets: [BUCKET] });
    s3Served = await serve(async (request) => {
      s3Authorizations.push(request.headers.get("authorization"));
      if (new URL(request.url).searchParams.has("partNumber")) partLengths.push(Number(request.headers.get("content-length")));
      // The body is read before any answer, throttling included: Deno's fetch reports an answer that
      // arrives while a 5 MiB body is still going out as a dropped connection, not as the 429.
      const body = request.method === "GET" || request.method === "HEAD" ? null : await request.arrayBuffer();
      return s3.handler(new Request(request.url, { method: request.method, headers: request.headers, body }));
    });
    // Part URLs live 10 minutes, so a test can move the fake S3's clock past them and stay inside the 15-minute skew.
    destination = s3MultipartDestination({
      endpoint: s3Served.url,
      bucket: BUCKET,
      prefix: "proxied",
      credential: SERVER_KEYS,
      expiresInSeconds: 600,
    });
    s3Mlflow = createMlflowServer({ multipartDestination: destination });
    s3MlflowServed = await serve(s3Mlflow.handler);
    local = createMlflowServer();
    localServed = await serve(local.handler);
  });
  after(async () => {
    await s3MlflowServed.close();
    await localServed.close();
    await s3Served.close();
  });

  const logBig = (trackingUri: string, experiment: string, env: Record<string, string> = LIMITS) =>
    logToMlflow({ trackingUri, env: { ...env, MLFLOW_TRACKING_TOKEN: TRACKING_TOKEN }, retry: FAST_RETRY, experiment }, async (run) => {
      await run.logArtifact(BIG, "data/big.bin");
      await run.logArtifact(new TextEncoder().encode("small"), "data/small.txt");
      return run.runId;
    });
  const steps = (server: MlflowTestServer, step: string) => server.requests.filter((r) => r.path.includes(`/mlflow-artifacts/mpu/${step}/`));

  test("a file over the threshold goes in 5 MiB presigned parts to the server's S3 destination and reads back whole", async () => {
    s3.reset();
    s3Authorizations.length = 0;
    partLengths.length = 0;
    const runId = await logBig(s3MlflowServed.url, "mpu-s3");
    const reader = restReader(s3MlflowServed.url);
    const { run } = await reader.getRun(runId);
    assert.deepEqual(await reader.getArtifact(run, "data/big.bin"), BIG);
    assert.equal(new TextDecoder().decode(await reader.getArtifact(run, "data/small.txt")), "small");
    // s3_artifact_repo.py: destination prefix + the artifact directory + the file's base name.
    const key = `${BUCKET}/proxied/${run.info.experiment_id}/${runId}/artifacts/data/big.bin`;
    assert.deepEqual(s3.objects.get(key)?.bytes, BIG);
    assert.equal(steps(s3Mlflow, "create").length, 1);
    assert.equal(steps(s3Mlflow, "complete").length, 1);
    assert.equal(steps(s3Mlflow, "abort").length, 0);
    assert.deepEqual(partLengths.sort((a, b) => a - b), [2 * MIB, 5 * MIB, 5 * MIB]);
    // Parts carry the URL's own signature: the tracking token never leaves for the bucket.
    const parts = s3Authorizations.filter((a) => a === null);
    assert.equal(parts.length, 3);
    assert.ok(s3Authorizations.every((a) => a === null || a.startsWith("AWS4-HMAC-SHA256 Credential=AKIAMLFLOWSERVER0001/")));
    assert.deepEqual(s3.refusals, []);
    assert.equal(s3.pendingUploads.size, 0);
    // The small file went as one PUT through the proxy.
    const smallPuts = s3Mlflow.requests.filter((r) => r.method === "PUT" && r.path.endsWith("/data/small.txt"));
    assert.equal(smallPuts.length, 1);
    const sizes = await reader.listArtifacts(runId, "data");
    assert.deepEqual(sizes.files?.map((f) => [f.path, Number(f.file_size)]), [["data/big.bin", 12 * MIB], ["data/small.txt", 5]]);
  });

  test("a server whose destination has no multipart answers 501 (exchange 57) and gets one sized PUT", async () => {
    local.reset();
    const runId = await logBig(localServed.url, "mpu-local");
    assert.deepEqual(await restReader(localServed.url).getArtifact(runId, "data/big.bin"), BIG);
    const created = steps(local, "create");
    assert.equal(created.length, 1);
    assert.equal(created[0]?.status, 501);
    assert.equal(steps(local, "complete").length + steps(local, "abort").length, 0);
    const puts = local.requests.filter((r) => r.method === "PUT" && r.path.endsWith("/data/big.bin"));
    assert.deepEqual(puts.map((r) => r.status), [200]);
  });

  test("a server older than MLflow 2.9 (no mpu route: Flask's HTML 404) gets one sized PUT", async () => {
    local.reset();
    // The in-memory server's answer for a route it does not have is Flask's 404 page (mlflow_errors.ts notFound).
    local.injectFault({
      method: "POST",
      path: "/api/2.0/mlflow-artifacts/mpu/create/*",
      status: 404,
      contentType: "text/html; charset=utf-8",
      body: "<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n",
    });
    const runId = await logBig(localServed.url, "mpu-old-server");
    assert.deepEqual(await restReader(localServed.url).getArtifact(runId, "data/big.bin"), BIG);
    assert.deepEqual(steps(local, "create").map((r) => r.status), [404]);
  });

  test("any other refusal of mpu/create is an error, not a silent single PUT", async () => {
    local.reset();
    local.injectFault({
      method: "POST",
      path: "/api/2.0/mlflow-artifacts/mpu/create/*",
      status: 403,
      contentType: "application/json",
      body: JSON.stringify({ error_code: "PERMISSION_DENIED", message: "Permission denied" }),
    });
    await assert.rejects(logBig(localServed.url, "mpu-refused"), (err: unknown) => err instanceof MlflowError && err.status === 403);
    assert.equal(local.requests.filter((r) => r.method === "PUT" && r.path.endsWith("/data/big.bin")).length, 0);
  });

  test("below the threshold nothing asks for multipart", async () => {
    local.reset();
    await logBig(localServed.url, "mpu-below", { ...LIMITS, MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE: String(13 * MIB) });
    assert.equal(steps(local, "create").length, 0);
  });

  test("a part URL past its expiry fails with S3's 403 and the upload is aborted", async () => {
    s3.reset();
    s3.setClockOffset(11 * 60_000);
    try {
      const before = steps(s3Mlflow, "abort").length;
      await assert.rejects(logBig(s3MlflowServed.url, "mpu-expired"), (err: unknown) => {
        assert.ok(err instanceof MlflowError, String(err));
        assert.equal(err.status, 403);
        assert.match(err.message, /AccessDenied.*Request has expired/);
        assert.ok(!err.message.includes(TRACKING_TOKEN));
        return true;
      });
      assert.equal(steps(s3Mlflow, "abort").length - before, 1);
      assert.equal(s3.pendingUploads.size, 0);
      assert.ok(s3.refusals.includes("AccessDenied"));
    } finally {
      s3.setClockOffset(0);
    }
  });

  test("a network error that quotes a part URL does not carry its signature", async () => {
    s3.reset();
    const quoting: typeof fetch = (input, init) => {
      const url = input instanceof Request ? input.url : String(input);
      // Deno's fetch names the URL in its error: "error sending request for url (…)".
      if (url.includes("X-Amz-Signature=")) return Promise.reject(new TypeError(`error sending request for url (${url})`));
      return fetch(input, init);
    };
    const err = await logToMlflow(
      { trackingUri: s3MlflowServed.url, env: LIMITS, fetch: quoting, retry: { ...FAST_RETRY, maxRetries: 1 }, experiment: "mpu-quoting" },
      (run) => run.logArtifact(BIG, "data/big.bin"),
    ).catch((e: unknown) => e);
    assert.ok(err instanceof MlflowError, String(err));
    assert.equal(err.errorCode, "NETWORK_ERROR");
    const signatures = [...new Set(destination.minted.map((u) => new URL(u).searchParams.get("X-Amz-Signature")!))];
    assert.ok(signatures.length > 0);
    secretsAbsent(err, signatures);
    assert.equal(s3.pendingUploads.size, 0);
  });

  test("a part answered 429 with Retry-After is sent again after the wait", async () => {
    s3.reset();
    partLengths.length = 0;
    s3.injectFault({ method: "PUT", path: `/${BUCKET}/*`, status: 429, headers: { "Retry-After": "1" }, body: "SlowDown", times: 1 });
    const started = Date.now();
    const runId = await logBig(s3MlflowServed.url, "mpu-throttled");
    assert.ok(Date.now() - started >= 900, "waited for Retry-After");
    assert.deepEqual(await restReader(s3MlflowServed.url).getArtifact(runId, "data/big.bin"), BIG);
    assert.deepEqual(s3.requests.filter((r) => r.method === "PUT").map((r) => r.status).sort(), [200, 200, 200, 429]);
  });

  test("the fake S3 refuses a minted part URL whose part number was changed (the signer's check is live)", async () => {
    const destination = s3MultipartDestination({ endpoint: s3Served.url, bucket: BUCKET, prefix: "probe", credential: SERVER_KEYS });
    const { upload_id = "", credentials } = await destination.create("1/r/artifacts", "x.bin", 1);
    const url = new URL(credentials[0]!.url);
    assert.equal((await fetch(url, { method: "PUT", body: new Uint8Array(3) })).status, 200);
    url.searchParams.set("partNumber", "2");
    const refused = await fetch(url, { method: "PUT", body: new Uint8Array(3) });
    assert.equal(refused.status, 403);
    assert.match(await refused.text(), /SignatureDoesNotMatch/);
    await destination.abort("1/r/artifacts", "x.bin", upload_id);
  });

  test("a part size MLflow's variables cannot have is refused before any request, naming the variable", async () => {
    const count = local.requests.length;
    await assert.rejects(
      logBig(localServed.url, "mpu-bad", { ...LIMITS, MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE: "10MB" }),
      (err: unknown) => err instanceof MlflowValidationError && err.field === "MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE",
    );
    assert.ok(!local.requests.slice(count).some((r) => r.method === "PUT"));
  });
});
