/**
 * SageMaker and S3 from workerd without `nodejs_compat` (bundled as wrangler
 * would): SigV4 over Web Crypto alone, credentials from the `aws` option as a
 * Worker gets them from its secrets, the run's equity CSV written to its
 * s3:// URI and read back byte for byte.
 *
 * Always its own fake SageMaker front and fake S3 (signatures checked by the
 * official AWS signer), even when MLFLOW_TEST_TRACKING_URI is set: the
 * tracking URI is an ARN whose endpoint must be the fake.
 *
 * Node only: miniflare drives the workerd binary from Node; under Deno or Bun
 * the file registers no tests.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { EQUITY_CSV } from "./support/aws_fixtures.ts";
import { postBacktest, startBacktestWorker } from "./support/backtest_worker.ts";
import { createFakeS3, type FakeS3 } from "./support/fake_s3.ts";
import { createFakeSageMaker, type FakeSageMaker } from "./support/fake_sagemaker.ts";
import { readS3Object } from "./support/s3_reader.ts";
import { serve, type ServedHandler } from "./support/serve.ts";
import { restReader } from "./support/target.ts";
import type { RunningWorker } from "./support/workerd.ts";
import { onNode } from "./support/node.ts";

const ARN = "arn:aws:sagemaker:us-west-2:123456789012:mlflow-tracking-server/edge";
const BUCKET = "edge-artifacts";
const KEYS = { accessKeyId: "AKIAFLOXEDGETEST0001", secretAccessKey: "edgeSecret/NeverPrint+0001" };

if (onNode) {
  describe("SageMaker and S3 in workerd", () => {
    let s3: FakeS3;
    let front: FakeSageMaker;
    let served: ServedHandler[] = [];
    let worker: RunningWorker;

    before(async () => {
      s3 = createFakeS3({ credentials: [KEYS], buckets: [BUCKET], region: "us-west-2" });
      front = createFakeSageMaker({ arn: ARN, credentials: [KEYS], artifactRoot: `s3://${BUCKET}/mlflow` });
      served = [await serve(s3.handler), await serve(front.handler), await serve(front.mlflow.handler)];
      worker = await startBacktestWorker({
        trackingUri: ARN,
        env: { SAGEMAKER_MLFLOW_CUSTOM_ENDPOINT: served[1]!.url, MLFLOW_S3_ENDPOINT_URL: served[0]!.url },
        aws: { ...KEYS, region: "us-west-2" },
      });
    });

    after(async () => {
      await worker?.dispose();
      for (const s of served) await s.close();
    });

    test("a Worker logs a backtest to a SageMaker ARN and writes its CSV to the run's s3:// URI", async () => {
      const runId = await postBacktest(worker);
      assert.deepEqual(front.refusals, []);
      assert.deepEqual(s3.refusals, []);
      const { run } = await restReader(served[2]!.url).getRun(runId);
      assert.equal(run.info.status, "FINISHED");
      const key = `${run.info.artifact_uri.slice(`s3://${BUCKET}/`.length)}/equity_curve.csv`;
      assert.equal(new TextDecoder().decode(await readS3Object(served[0]!.url, BUCKET, key, KEYS, "us-west-2")), EQUITY_CSV);
    });
  });
}
