/**
 * Google Cloud Storage from workerd without `nodejs_compat` (bundled as
 * wrangler would): the service-account key given in the `gcp` option as a
 * Worker gets it from a secret (no file system), its RS256 JWT signed with
 * workerd's Web Crypto, the run's equity CSV written to its gs:// URI.
 *
 * Always its own in-memory MLflow server (a gs:// artifact root) and fake GCS
 * (JWTs verified with node:crypto and the key's public half), even when
 * MLFLOW_TEST_TRACKING_URI is set: the artifact root must be the fake.
 *
 * Node only: miniflare drives the workerd binary from Node; under Deno or Bun
 * the file registers no tests.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { EQUITY_CSV } from "./support/aws_fixtures.ts";
import { postBacktest, startBacktestWorker } from "./support/backtest_worker.ts";
import { createFakeGcs, type FakeGcs } from "./support/fake_gcs.ts";
import { createMlflowServer } from "./support/mlflow_server.ts";
import { serve, type ServedHandler } from "./support/serve.ts";
import { restReader } from "./support/target.ts";
import type { RunningWorker } from "./support/workerd.ts";
import { onNode } from "./support/node.ts";

const BUCKET = "edge-gcs";
const EMAIL = "edge-writer@flox-test.iam.gserviceaccount.com";

if (onNode) {
  describe("Google Cloud Storage in workerd", () => {
    let gcs: FakeGcs;
    let served: ServedHandler[] = [];
    let worker: RunningWorker;

    before(async () => {
      const { publicKey, privateKey } = generateKeyPairSync("rsa", {
        modulusLength: 2048,
        publicKeyEncoding: { type: "spki", format: "pem" },
        privateKeyEncoding: { type: "pkcs8", format: "pem" },
      });
      gcs = createFakeGcs({ account: { clientEmail: EMAIL, publicKeyPem: publicKey }, buckets: [BUCKET], tokenUrl: () => `${served[0]!.url}/token` });
      const mlflow = createMlflowServer({ defaultArtifactRoot: `gs://${BUCKET}/mlflow` });
      served = [await serve(gcs.handler), await serve(mlflow.handler)];
      worker = await startBacktestWorker({
        trackingUri: served[1]!.url,
        env: { STORAGE_EMULATOR_HOST: served[0]!.url },
        // The key's JSON text, as a Worker reads it from a secret.
        gcp: {
          serviceAccount: JSON.stringify({
            type: "service_account",
            private_key: privateKey,
            client_email: EMAIL,
            token_uri: `${served[0]!.url}/token`,
          }),
        },
      });
    });

    after(async () => {
      await worker?.dispose();
      for (const s of served) await s.close();
    });

    test("a Worker logs a backtest and writes its CSV to the run's gs:// URI with a token from its JWT", async () => {
      const runId = await postBacktest(worker);
      assert.deepEqual(gcs.refusals, []);
      assert.equal(gcs.issued.length, 1);
      const { run } = await restReader(served[1]!.url).getRun(runId);
      assert.equal(run.info.status, "FINISHED");
      const name = `${run.info.artifact_uri.slice(`gs://${BUCKET}/`.length)}/equity_curve.csv`;
      assert.equal(new TextDecoder().decode(gcs.objects.get(`${BUCKET}/${name}`)?.bytes), EQUITY_CSV);
    });
  });
}
