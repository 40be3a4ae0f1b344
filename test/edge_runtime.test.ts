/**
 * The library in workerd without `nodejs_compat` (bundled as wrangler would):
 * where no AsyncLocalStorage tells requests apart, `nested: true` refuses to
 * guess a parent, and a CSV too large to hold in an isolate is refused before
 * the run exists.
 *
 * Node only: miniflare drives the workerd binary from Node; under Deno or Bun
 * the file registers no tests.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { RunningWorker } from "./support/workerd.ts";
import { onNode } from "./support/node.ts";

// Port 9 is never reached: both calls must fail before any request.
const WORKER_SOURCE = `
import { logBacktest, logToMlflow, MlflowValidationError } from "../mod.ts";

const trackingUri = "http://127.0.0.1:9";
const outcome = (err: unknown) =>
  err instanceof MlflowValidationError ? { field: err.field, message: err.message } : { other: String(err) };

export default {
  async fetch(request: Request): Promise<Response> {
    const { pathname } = new URL(request.url);
    let requests = 0;
    const counting: typeof fetch = (input, init) => {
      requests++;
      return fetch(input, init);
    };
    if (pathname === "/nested") {
      const err = await logToMlflow({ trackingUri, env: {}, fetch: counting, nested: true, runName: "child" }, () => 1)
        .catch((e: unknown) => e);
      return Response.json({ ...outcome(err), requests });
    }
    // 1,000 columns of 34,000 rows: at least 34M bytes of CSV, from one small shared column.
    const column = new Float64Array(34_000);
    const trades = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => ["c" + i, column]));
    const err = await logBacktest({ trackingUri, env: {}, fetch: counting, trades, chart: false }).catch((e: unknown) => e);
    return Response.json({ ...outcome(err), requests });
  },
};
`;

if (onNode) {
  describe("the library in workerd", () => {
    let worker: RunningWorker;

    before(async () => {
      // Imported here, not at the top: esbuild and miniflare load only under Node.
      const { bundleWorker, startWorker } = await import("./support/workerd.ts");
      worker = await startWorker(await bundleWorker({ source: WORKER_SOURCE, resolveDir: new URL(".", import.meta.url).pathname }));
    });

    after(async () => {
      await worker?.dispose();
    });

    const call = async (path: string): Promise<Record<string, unknown>> => {
      const res = await worker.fetch(path);
      const text = await res.text();
      assert.equal(res.status, 200, text);
      return JSON.parse(text) as Record<string, unknown>;
    };

    test("nested: true without AsyncLocalStorage refuses to guess a parent and says what to do instead", async () => {
      const answer = await call("/nested");
      assert.equal(answer.field, "nested");
      assert.match(String(answer.message), /no AsyncLocalStorage.*parentRunId.*startChild/);
      assert.equal(answer.requests, 0);
    });

    test("a trades CSV past the 32 MiB an isolate holds is refused before the run exists", async () => {
      const answer = await call("/big-csv");
      assert.equal(answer.field, "trades");
      assert.match(String(answer.message), /trades\.csv of at least \d+ MiB, over the 32 MiB/);
      assert.equal(answer.requests, 0);
    });
  });
}
