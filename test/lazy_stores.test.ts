/**
 * Artifact stores are loaded with import() on the first run that uses them:
 * a run's artifact_uri picks its kind without loading any store's code, the
 * code is loaded once for every run after, and an import that fails is an
 * MlflowError tried again on the next run, never the runtime's raw error.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type ArtifactRepository, type ArtifactStoreKind, lazyArtifactStore, openArtifactRepository } from "../src/artifact_repository.ts";
import { serverKinds } from "../src/artifact_stores/kinds.ts";
import { MlflowError } from "../src/errors.ts";
import { DEFAULT_RETRY, HttpClient } from "../src/http.ts";
import { lazyModule } from "../src/lazy_module.ts";
import type { RunInfo } from "../src/store.ts";

const http = new HttpClient({ baseUrl: "http://127.0.0.1:9", fetch, retry: DEFAULT_RETRY });
const context = (artifactUri: string) => {
  const run: RunInfo = { runId: "r1", experimentId: "1", runName: "", startTime: 0, artifactUri };
  return { run, http, fetch, env: {}, retry: DEFAULT_RETRY };
};
const repository: ArtifactRepository = { upload: () => Promise.reject(new Error("not used")), sizes: async () => new Map() };

describe("artifact stores loaded on first use", () => {
  test("each server URI goes to its kind by name, with no store's code loaded to tell", () => {
    const kinds = serverKinds({});
    const pick = (uri: string) => kinds.find((k) => k.accepts(uri))?.name;
    assert.equal(pick("mlflow-artifacts:/1/r1/artifacts"), "mlflow-artifacts");
    assert.equal(pick("https://files.example.com/1/r1/artifacts"), "mlflow-artifacts");
    assert.equal(pick("dbfs:/databricks/mlflow-tracking/1/r1/artifacts"), "databricks");
    assert.equal(pick("s3://bucket/1/r1/artifacts"), "s3");
    assert.equal(pick("wasbs://c@acct.blob.core.windows.net/1/r1/artifacts"), "azure");
    assert.equal(pick("abfss://c@acct.dfs.core.windows.net/1/r1/artifacts"), "azure");
    assert.equal(pick("gs://bucket/1/r1/artifacts"), "gcs");
    assert.equal(pick("ftp://host/1/r1/artifacts"), undefined);
  });

  test("a kind's code is loaded on its first open only, once for every run after", async () => {
    let loads = 0;
    let opens = 0;
    const kind = lazyArtifactStore("fake", (uri) => uri.startsWith("fake:"), async (): Promise<ArtifactStoreKind> => {
      loads++;
      return { name: "fake", accepts: () => true, open: () => (opens++, repository) };
    });
    const other = lazyArtifactStore("other", (uri) => uri.startsWith("other:"), () => Promise.reject(new Error("must not load")));
    assert.equal(loads, 0);
    assert.equal(await openArtifactRepository([other, kind], context("fake:/1/r1")), repository);
    assert.equal(await openArtifactRepository([other, kind], context("fake:/1/r2")), repository);
    assert.deepEqual({ loads, opens }, { loads: 1, opens: 2 });
  });

  test("an error the loaded kind's open throws reaches the caller as it was thrown", async () => {
    const refusal = new MlflowError("run r1 stores artifacts at a path this store cannot write", { errorCode: "UNSUPPORTED_ARTIFACT_STORE" });
    const kind = lazyArtifactStore("fake", () => true, async () => ({ name: "fake", accepts: () => true, open: () => Promise.reject(refusal) }));
    await assert.rejects(openArtifactRepository([kind], context("fake:/1/r1")), (err) => err === refusal);
  });

  test("a store whose code cannot be loaded fails the run with MlflowError INTERNAL_ERROR, and the next run loads it again", async () => {
    let attempts = 0;
    const kind = lazyArtifactStore("fake", () => true, async () => {
      attempts++;
      if (attempts === 1) throw new TypeError("Failed to fetch dynamically imported module: ./shared-X.js");
      return { name: "fake", accepts: () => true, open: () => repository };
    });
    const err = await openArtifactRepository([kind], context("fake:/1/r1")).catch((e: unknown) => e);
    assert.ok(err instanceof MlflowError, `expected an MlflowError, got ${String(err)}`);
    assert.equal(err.errorCode, "INTERNAL_ERROR");
    assert.match(err.message, /cannot load the fake artifact store: Failed to fetch dynamically imported module/);
    assert.ok(err.cause instanceof TypeError);
    assert.equal(await openArtifactRepository([kind], context("fake:/1/r2")), repository);
    assert.equal(attempts, 2);
  });

  test("a loaded module is the same object on every call, and concurrent first calls load it once", async () => {
    let loads = 0;
    const load = lazyModule("a module", async () => ({ loaded: ++loads }));
    const [a, b] = await Promise.all([load(), load()]);
    assert.equal(a, b);
    assert.equal(await load(), a);
    assert.equal(loads, 1);
  });
});
