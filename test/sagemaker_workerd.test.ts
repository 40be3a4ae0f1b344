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
import { EQUITY_CSV, EQUITY_ROWS } from "./support/aws_fixtures.ts";
import { createFakeS3, type FakeS3 } from "./support/fake_s3.ts";
import { createFakeSageMaker, type FakeSageMaker } from "./support/fake_sagemaker.ts";
import { readS3Object } from "./support/s3_reader.ts";
import { serve, type ServedHandler } from "./support/serve.ts";
import { restReader } from "./support/target.ts";
import type { RunningWorker } from "./support/workerd.ts";

const onNode = typeof (globalThis as { Deno?: unknown }).Deno === "undefined" &&
  typeof (globalThis as { Bun?: unknown }).Bun === "undefined";

const ARN = "arn:aws:sagemaker:us-west-2:123456789012:mlflow-tracking-server/edge";
const BUCKET = "edge-artifacts";
const KEYS = { accessKeyId: "AKIAFLOXEDGETEST0001", secretAccessKey: "edgeSecret/NeverPrint+0001" };

const workerSource = (bindings: Record<string, string>) => `
import { logBacktest } from "../mod.ts";
const bindings = ${JSON.stringify(bindings)};
export default {
  async fetch(request: Request): Promise<Response> {
    const { equityCurve } = await request.json() as { equityCurve: { timestamp_ns: string; equity: number; drawdown_pct: number }[] };
    const rows = equityCurve.map((r) => ({ ...r, timestamp_ns: BigInt(r.timestamp_ns) }));
    try {
      const runId = await logBacktest({
        trackingUri: bindings.TRACKING_ARN,
        env: { SAGEMAKER_MLFLOW_CUSTOM_ENDPOINT: bindings.SAGEMAKER_MLFLOW_CUSTOM_ENDPOINT, MLFLOW_S3_ENDPOINT_URL: bindings.MLFLOW_S3_ENDPOINT_URL },
        aws: { accessKeyId: bindings.AWS_ACCESS_KEY_ID, secretAccessKey: bindings.AWS_SECRET_ACCESS_KEY, region: "us-west-2" },
        stats: { sharpe_ratio: 1.25 },
        equityCurve: rows,
        chart: false,
      });
      return Response.json({ runId });
    } catch (err) {
      return Response.json({ error: String(err) }, { status: 500 });
    }
  },
};
`;

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
      const { bundleWorker, startWorker } = await import("./support/workerd.ts");
      worker = await startWorker(await bundleWorker({
        source: workerSource({
          TRACKING_ARN: ARN,
          SAGEMAKER_MLFLOW_CUSTOM_ENDPOINT: served[1]!.url,
          MLFLOW_S3_ENDPOINT_URL: served[0]!.url,
          AWS_ACCESS_KEY_ID: KEYS.accessKeyId,
          AWS_SECRET_ACCESS_KEY: KEYS.secretAccessKey,
        }),
        resolveDir: new URL(".", import.meta.url).pathname,
      }));
    });

    after(async () => {
      await worker?.dispose();
      for (const s of served) await s.close();
    });

    test("a Worker logs a backtest to a SageMaker ARN and writes its CSV to the run's s3:// URI", async () => {
      const res = await worker.fetch("/", {
        method: "POST",
        body: JSON.stringify({ equityCurve: EQUITY_ROWS.map((r) => ({ ...r, timestamp_ns: String(r.timestamp_ns) })) }),
      });
      const answer = await res.json() as { runId?: string; error?: string };
      assert.equal(res.status, 200, answer.error ?? "");
      assert.deepEqual(front.refusals, []);
      assert.deepEqual(s3.refusals, []);
      const { run } = await restReader(served[2]!.url).getRun(answer.runId!);
      assert.equal(run.info.status, "FINISHED");
      const key = `${run.info.artifact_uri.slice(`s3://${BUCKET}/`.length)}/equity_curve.csv`;
      assert.equal(new TextDecoder().decode(await readS3Object(served[0]!.url, BUCKET, key, KEYS, "us-west-2")), EQUITY_CSV);
    });
  });
}
