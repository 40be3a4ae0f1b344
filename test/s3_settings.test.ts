// How the S3 store and SageMaker ARNs read their settings: addressing, upload arguments,
// endpoints, credentials, limits. No server is needed: each check stops before a request.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MlflowError, MlflowValidationError } from "../mod.ts";
import { S3_MULTIPART_THRESHOLD, S3_PART_SIZE, s3Artifacts, s3BucketUrl, s3UploadHeaders } from "../src/artifact_stores/s3.ts";
import { s3PartSize } from "../src/aws/s3_multipart.ts";
import { s3Hint } from "../src/aws/s3_fetch.ts";
import { awsCredentials, awsRegion, loadAwsCredentials, loadAwsRegion } from "../src/aws/credentials.ts";
import { DEFAULT_RETRY } from "../src/http.ts";
import { HttpClient } from "../src/http.ts";
import { parseSageMakerArn, sageMakerBaseUrl } from "../src/sagemaker.ts";

test("buckets are path-style under MLFLOW_S3_ENDPOINT_URL, virtual-hosted on AWS, path-style for dotted names", () => {
  assert.equal(s3BucketUrl("b", "us-east-1", { MLFLOW_S3_ENDPOINT_URL: "http://minio:9000/" }), "http://minio:9000/b");
  assert.equal(
    s3BucketUrl("b", "us-east-1", { MLFLOW_S3_ENDPOINT_URL: "https://r2.example.com", MLFLOW_BOTO_CLIENT_ADDRESSING_STYLE: "virtual" }),
    "https://b.r2.example.com",
  );
  assert.equal(s3BucketUrl("my-bucket", "eu-central-1", {}), "https://my-bucket.s3.eu-central-1.amazonaws.com");
  assert.equal(s3BucketUrl("my.bucket", "eu-central-1", {}), "https://s3.eu-central-1.amazonaws.com/my.bucket");
  assert.equal(s3BucketUrl("b", "us-east-1", { MLFLOW_BOTO_CLIENT_ADDRESSING_STYLE: "path" }), "https://s3.us-east-1.amazonaws.com/b");
  assert.throws(() => s3BucketUrl("b", "us-east-1", { MLFLOW_S3_ENDPOINT_URL: "minio:9000" }),
    (err: unknown) => err instanceof MlflowValidationError && err.field === "MLFLOW_S3_ENDPOINT_URL");
  assert.throws(() => s3BucketUrl("b", "us-east-1", { MLFLOW_BOTO_CLIENT_ADDRESSING_STYLE: "host" }),
    (err: unknown) => err instanceof MlflowValidationError && err.field === "MLFLOW_BOTO_CLIENT_ADDRESSING_STYLE");
});

test("MLFLOW_S3_UPLOAD_EXTRA_ARGS maps boto3 arguments to PutObject headers and refuses unknown ones by name", () => {
  assert.deepEqual(
    s3UploadHeaders({
      MLFLOW_S3_UPLOAD_EXTRA_ARGS: '{"ACL":"bucket-owner-full-control","Metadata":{"Team":"quant"},"CacheControl":"no-cache"}',
      MLFLOW_S3_EXPECTED_BUCKET_OWNER: "123456789012",
    }),
    {
      "x-amz-acl": "bucket-owner-full-control",
      "x-amz-meta-team": "quant",
      "cache-control": "no-cache",
      "x-amz-expected-bucket-owner": "123456789012",
    },
  );
  assert.throws(() => s3UploadHeaders({ MLFLOW_S3_UPLOAD_EXTRA_ARGS: '{"Callback":"x"}' }),
    (err: unknown) => err instanceof MlflowValidationError && err.field === "MLFLOW_S3_UPLOAD_EXTRA_ARGS.Callback" && /ServerSideEncryption/.test(err.message));
  assert.throws(() => s3UploadHeaders({ MLFLOW_S3_UPLOAD_EXTRA_ARGS: "ServerSideEncryption=AES256" }),
    (err: unknown) => err instanceof MlflowValidationError && err.field === "MLFLOW_S3_UPLOAD_EXTRA_ARGS");
});

test("SageMaker ARNs name their endpoint, signing service and routing header; SAGEMAKER_MLFLOW_CUSTOM_ENDPOINT overrides", () => {
  const server = parseSageMakerArn("arn:aws:sagemaker:us-east-2:123456789012:mlflow-tracking-server/quant", "trackingUri");
  assert.deepEqual([server.endpoint, server.service, server.header, server.region], [
    "https://us-east-2.experiments.sagemaker.aws", "sagemaker-mlflow", "x-mlflow-sm-tracking-server-arn", "us-east-2",
  ]);
  const app = parseSageMakerArn("arn:aws-us-gov:sagemaker:us-gov-west-1:123456789012:mlflow-app/app-x", "trackingUri");
  assert.deepEqual([app.endpoint, app.service, app.header], ["https://mlflow.sagemaker.us-gov-west-1.app.aws", "sagemaker", "x-sm-mlflow-app-arn"]);
  assert.equal(sageMakerBaseUrl(server, {}), "https://us-east-2.experiments.sagemaker.aws");
  assert.throws(() => sageMakerBaseUrl(server, { SAGEMAKER_MLFLOW_CUSTOM_ENDPOINT: "not a url" }),
    (err: unknown) => err instanceof MlflowValidationError && err.field === "SAGEMAKER_MLFLOW_CUSTOM_ENDPOINT");
});

test("credentials are trimmed, checked without being shown, and the option's pair wins over the environment's", () => {
  const env = { AWS_ACCESS_KEY_ID: "AKIAENV", AWS_SECRET_ACCESS_KEY: "envSecret\n", AWS_SESSION_TOKEN: "" };
  assert.deepEqual(awsCredentials(env, undefined, "a test"), { accessKeyId: "AKIAENV", secretAccessKey: "envSecret" });
  assert.equal(awsCredentials(env, { accessKeyId: "AKIAOPT", secretAccessKey: "optSecret" }, "a test").accessKeyId, "AKIAOPT");
  assert.throws(() => awsCredentials({ AWS_ACCESS_KEY_ID: "AKIA ENV", AWS_SECRET_ACCESS_KEY: "s" }, undefined, "a test"),
    (err: unknown) => err instanceof MlflowValidationError && err.field === "AWS_ACCESS_KEY_ID" && !err.message.includes("AKIA ENV"));
  assert.throws(() => awsCredentials({ ...env, AWS_SESSION_TOKEN: "tok\nen-secret" }, undefined, "a test"),
    (err: unknown) => err instanceof MlflowValidationError && err.field === "AWS_SESSION_TOKEN" && !err.message.includes("en-secret"));
  assert.equal(awsRegion({ AWS_DEFAULT_REGION: "ap-south-1" }, undefined), "ap-south-1");
  assert.throws(() => awsRegion({ AWS_REGION: "Frankfurt" }, undefined), (err: unknown) => err instanceof MlflowValidationError && err.field === "AWS_REGION");
});

test("a file over what 10 000 parts of 5 GiB hold is refused before any request", async () => {
  let requests = 0;
  const fetch: typeof globalThis.fetch = () => {
    requests++;
    return Promise.resolve(new Response(""));
  };
  const repository = await s3Artifacts().open({
    run: { runId: "r", experimentId: "1", runName: "", startTime: 0, artifactUri: "s3://b/mlflow/1/r/artifacts" },
    http: new HttpClient({ baseUrl: "http://mlflow.test", fetch, retry: DEFAULT_RETRY }),
    fetch,
    env: { AWS_ACCESS_KEY_ID: "AKIA", AWS_SECRET_ACCESS_KEY: "s", MLFLOW_S3_ENDPOINT_URL: "http://s3.test" },
    retry: DEFAULT_RETRY,
  });
  // A Blob that says it is 60 TiB, without holding it.
  class Huge extends Blob {
    override get size(): number {
      return 60 * 1024 ** 4;
    }
  }
  await assert.rejects(
    repository.upload({ path: "big.bin", body: new Huge(["x"]), contentType: "application/octet-stream" }, {}),
    (err: unknown) => err instanceof MlflowError && err.errorCode === "ARTIFACT_TOO_LARGE" && /10 000 parts of 5 GiB/.test(err.message),
  );
  assert.equal(requests, 0);
});

test("a profile that assumes a role is refused naming AWS_PROFILE and what is not supported; env keys win over files", async () => {
  const { mkdtemp, rm, writeFile } = await import("node:fs/promises");
  const { join } = await import("node:path");
  const { tmpdir } = await import("node:os");
  const dir = await mkdtemp(join(tmpdir(), "flox-aws-files-"));
  try {
    const credentials = join(dir, "creds");
    const config = join(dir, "conf");
    await writeFile(credentials, "[default]\naws_access_key_id=AKIAFILE\naws_secret_access_key=fileSecret\n");
    await writeFile(config, "[default]\nregion = eu-north-1\n[profile ops]\nrole_arn = arn:aws:iam::123456789012:role/ops\nsource_profile = default\n");
    const files = { AWS_SHARED_CREDENTIALS_FILE: credentials, AWS_CONFIG_FILE: config };
    assert.deepEqual(await loadAwsCredentials(files, undefined, "a test"), { accessKeyId: "AKIAFILE", secretAccessKey: "fileSecret" });
    assert.equal(await loadAwsRegion(files, undefined), "eu-north-1");
    assert.equal((await loadAwsCredentials({ ...files, AWS_ACCESS_KEY_ID: "AKIAENV", AWS_SECRET_ACCESS_KEY: "e" }, undefined, "a test")).accessKeyId, "AKIAENV");
    await assert.rejects(loadAwsCredentials({ ...files, AWS_PROFILE: "ops" }, undefined, "a test"),
      (err: unknown) => err instanceof MlflowValidationError && err.field === "AWS_PROFILE" && /role_arn/.test(err.message) && /not support/.test(err.message));
    // Only the key id in the environment: the file is not mixed in, the missing half is named.
    await assert.rejects(loadAwsCredentials({ ...files, AWS_ACCESS_KEY_ID: "AKIAENV" }, undefined, "a test"),
      (err: unknown) => err instanceof MlflowValidationError && err.field === "AWS_SECRET_ACCESS_KEY");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("S3 refusals name what to fix: permissions for AccessDenied, the bucket for NoSuchBucket", () => {
  assert.match(s3Hint("AccessDenied", "us-east-1"), /s3:PutObject and s3:ListBucket/);
  assert.match(s3Hint("NoSuchBucket", "us-east-1"), /--default-artifact-root and MLFLOW_S3_ENDPOINT_URL/);
  assert.equal(s3Hint("SomethingElse", "us-east-1"), "");
});

test("multipart starts above 512 MiB with 64 MiB parts, raised to whole MiB when 10 000 parts would not hold the file", () => {
  assert.equal(S3_MULTIPART_THRESHOLD, 512 * 1024 ** 2);
  assert.equal(S3_PART_SIZE, 64 * 1024 ** 2);
  assert.equal(s3PartSize(600 * 1024 ** 2, S3_PART_SIZE), 64 * 1024 ** 2);
  assert.equal(s3PartSize(1000 * 1024 ** 3, S3_PART_SIZE), 103 * 1024 ** 2);
  assert.equal(s3PartSize(10 * 1024 ** 2, 1024), 5 * 1024 ** 2);
});
