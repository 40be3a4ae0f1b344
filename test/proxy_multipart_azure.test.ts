/**
 * Proxied multipart upload to a server whose artifact destination is Azure
 * Blob storage (Azurite, which checks every SAS): the part URLs are Put Block
 * URLs with a SAS, there is no upload id, and the server reads each block id
 * back from the part `url` the client returns with `mpu/complete`, as
 * mlflow/store/artifact/azure_blob_artifact_repo.py does.
 *
 * These tests start their own in-memory server even when
 * MLFLOW_TEST_TRACKING_URI is set: the destination must be the Azurite below.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { logToMlflow } from "../mod.ts";
import { type Azurite, startAzurite } from "./support/fake_databricks_azurite.ts";
import { createMlflowServer, type MlflowTestServer } from "./support/mlflow_server.ts";
import { azureMultipartDestination } from "./support/mpu_azure_destination.ts";
import { serve, type ServedHandler } from "./support/serve.ts";
import { restReader } from "./support/target.ts";

const MIB = 1024 * 1024;
const BIG = Uint8Array.from({ length: 12 * MIB }, (_, i) => (i * 31 + (i >> 20)) & 0xff);
const LIMITS = { MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE: String(8 * MIB), MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE: String(5 * MIB) };
const FAST_RETRY = { initialDelayMs: 5, maxDelayMs: 50, timeoutMs: 20_000, budgetMs: 60_000 };

describe("proxied multipart upload to an Azure destination", () => {
  let azurite: Azurite;
  let mlflow: MlflowTestServer;
  let served: ServedHandler;
  before(async () => {
    azurite = await startAzurite();
    mlflow = createMlflowServer({ multipartDestination: azureMultipartDestination(azurite, "proxied") });
    served = await serve(mlflow.handler);
  });
  after(async () => {
    await served?.close();
    await azurite?.close();
  });

  test("a large file goes as SAS Put Blocks and is committed from the part URLs sent back", async () => {
    const runId = await logToMlflow({ trackingUri: served.url, env: LIMITS, retry: FAST_RETRY, experiment: "mpu-azure" }, async (run) => {
      await run.logArtifact(BIG, "data/big.bin");
      return run.runId;
    });
    const reader = restReader(served.url);
    const { run } = await reader.getRun(runId);
    assert.deepEqual(await reader.getArtifact(run, "data/big.bin"), BIG);
    const blob = `proxied/${run.info.experiment_id}/${runId}/artifacts/data/big.bin`;
    assert.deepEqual([...await azurite.list(blob)], [[blob, BIG.length]]);
    const steps = mlflow.requests.filter((r) => r.path.includes("/mlflow-artifacts/mpu/"));
    assert.deepEqual(steps.map((r) => [r.path.split("/")[5], r.status]), [["create", 200], ["complete", 200]]);
  });
});
