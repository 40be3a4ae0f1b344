/**
 * The fluent habits and read-back in workerd without `nodejs_compat`
 * (bundled as wrangler would): what needs a file system gives a named error
 * before any request, git is never looked for, and there is no active run.
 *
 * Node only: miniflare drives the workerd binary from Node; under Deno or Bun
 * the file registers no tests.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { RunningWorker } from "./support/workerd.ts";
import { onNode } from "./support/node.ts";

// Port 9 is never reached: every call must fail (or answer) before any request.
const WORKER_SOURCE = `
import { activeRun, getRun, MlflowRun, MlflowValidationError, searchRuns, startRun } from "../mod.ts";
import { processGitTags } from "../src/git_source.ts";

const outcome = (err: unknown) =>
  err instanceof MlflowValidationError ? { field: err.field, message: err.message } : { other: String(err) };

export default {
  async fetch(): Promise<Response> {
    let requests = 0;
    const counting: typeof fetch = (input, init) => {
      requests++;
      return fetch(input, init);
    };
    const info = { runId: "0123456789abcdef0123456789abcdef", experimentId: "1", runName: "r", artifactUri: "mlflow-artifacts:/1/r/artifacts", startTime: 0 };
    // The store is never reached: the folder is refused first.
    const run = new MlflowRun({} as never, info);
    const folder = await run.logArtifacts("/reports").catch((e: unknown) => e);
    const fileStore = await getRun(info.runId, { trackingUri: "./mlruns", env: {}, fetch: counting }).catch((e: unknown) => e);
    const badFilter = await searchRuns({ trackingUri: "http://127.0.0.1:9", env: {}, fetch: counting, filter: "metrics.a > 1 or metrics.b < 2" })
      .catch((e: unknown) => e);
    const nested = await startRun({ trackingUri: "http://127.0.0.1:9", env: {}, fetch: counting, nested: true }).catch((e: unknown) => e);
    return Response.json({
      folder: outcome(folder),
      fileStore: outcome(fileStore),
      badFilter: outcome(badFilter),
      nested: outcome(nested),
      git: await processGitTags(),
      active: activeRun() === undefined ? "none" : "some",
      requests,
    });
  },
};
`;

if (onNode) {
  describe("fluent habits and read-back in workerd", () => {
    let worker: RunningWorker;

    before(async () => {
      // Imported here, not at the top: esbuild and miniflare load only under Node.
      const { bundleWorker, startWorker } = await import("./support/workerd.ts");
      worker = await startWorker(await bundleWorker({ source: WORKER_SOURCE, resolveDir: new URL(".", import.meta.url).pathname }));
    });

    after(async () => {
      await worker?.dispose();
    });

    test("logArtifacts, a file-store read and a bad filter are named errors before any request; no git, no active run", async () => {
      const res = await worker.fetch("/");
      const body = await res.text();
      assert.equal(res.status, 200, body);
      type Outcome = { field?: string; message?: string };
      const answer = JSON.parse(body) as { folder: Outcome; fileStore: Outcome; badFilter: Outcome; nested: Outcome; git: unknown[]; active: string; requests: number };
      assert.equal(answer.folder.field, "folder");
      assert.match(String(answer.folder.message), /no file system/);
      assert.equal(answer.fileStore.field, "trackingUri");
      assert.match(String(answer.fileStore.message), /no file system/);
      assert.equal(answer.badFilter.field, "filter");
      assert.equal(answer.nested.field, "nested");
      assert.deepEqual(answer.git, []);
      assert.equal(answer.active, "none");
      assert.equal(answer.requests, 0);
    });
  });
}
