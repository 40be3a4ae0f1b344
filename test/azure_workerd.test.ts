/**
 * Azure Blob storage from workerd without `nodejs_compat` (bundled as
 * wrangler would): SharedKey signed with workerd's Web Crypto HMAC, the
 * connection string given in `env` as a Worker gets it from a secret, the
 * run's equity CSV written to its wasbs:// URI and read back from Azurite,
 * which checks every signature.
 *
 * Always its own in-memory MLflow server (a wasbs:// artifact root) and
 * Azurite, even when MLFLOW_TEST_TRACKING_URI is set: the artifact root must
 * be the Azurite below.
 *
 * Node only: miniflare drives the workerd binary from Node; under Deno or Bun
 * the file registers no tests.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { EQUITY_CSV } from "./support/aws_fixtures.ts";
import { AZURITE_ACCOUNT, AZURITE_KEY } from "./support/azure_sas.ts";
import { postBacktest, startBacktestWorker } from "./support/backtest_worker.ts";
import { type Azurite, startAzurite } from "./support/fake_databricks_azurite.ts";
import { createMlflowServer } from "./support/mlflow_server.ts";
import { serve, type ServedHandler } from "./support/serve.ts";
import { restReader } from "./support/target.ts";
import type { RunningWorker } from "./support/workerd.ts";
import { onNode } from "./support/node.ts";

if (onNode) {
  describe("Azure Blob storage in workerd", () => {
    let azurite: Azurite;
    let mlflowServed: ServedHandler;
    let worker: RunningWorker;

    before(async () => {
      azurite = await startAzurite();
      const mlflow = createMlflowServer({ defaultArtifactRoot: `wasbs://${azurite.container}@${AZURITE_ACCOUNT}.blob.core.windows.net/edge` });
      mlflowServed = await serve(mlflow.handler);
      worker = await startBacktestWorker({
        trackingUri: mlflowServed.url,
        env: { AZURE_STORAGE_CONNECTION_STRING: `AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${azurite.accountUrl};` },
      });
    });

    after(async () => {
      await worker?.dispose();
      await mlflowServed?.close();
      await azurite?.close();
    });

    test("a Worker logs a backtest and writes its CSV to the run's wasbs:// URI, signed with SharedKey", async () => {
      const runId = await postBacktest(worker);
      const { run } = await restReader(mlflowServed.url).getRun(runId);
      assert.equal(run.info.status, "FINISHED");
      const name = `${run.info.artifact_uri.slice(`wasbs://${azurite.container}@${AZURITE_ACCOUNT}.blob.core.windows.net/`.length)}/equity_curve.csv`;
      const back = await fetch(await azurite.blobSas(name, "r"));
      assert.equal(back.status, 200);
      assert.equal(await back.text(), EQUITY_CSV);
    });
  });
}
