/**
 * Databricks from workerd (no `nodejs_compat`): the edge build signs in with
 * the variables passed as `env` and writes run artifacts through the
 * workspace's presigned URLs, all with fetch and Web Crypto; a profile, which
 * would need ~/.databrickscfg, is refused saying to pass the variables.
 *
 * Node only: miniflare drives the workerd binary from Node; under Deno or Bun
 * the file registers no tests. It logs to the fake workspace of
 * test/support/fake_databricks.ts whatever MLFLOW_TEST_TRACKING_URI says, as
 * the other Databricks tests do.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { FakeDatabricks } from "./support/fake_databricks.ts";
import type { RunningWorker } from "./support/workerd.ts";
import { onNode } from "./support/node.ts";

const WORKER_SOURCE = `
import { logBacktest, MlflowError } from "../mod.ts";

export default {
  async fetch(request: Request): Promise<Response> {
    const { trackingUri, env, experiment } = await request.json();
    try {
      const runId = await logBacktest({
        trackingUri, env, experiment, chart: false,
        stats: { sharpe_ratio: 1.5 },
        trades: [{ side: "long", pnl: 12.5 }, { side: "short", pnl: -3 }],
        retry: { initialDelayMs: 5, maxDelayMs: 50, budgetMs: 30000 },
      });
      return Response.json({ runId });
    } catch (err) {
      return Response.json({ error: err instanceof MlflowError ? err.message : String(err), field: (err as { field?: string }).field });
    }
  },
};
`;

if (onNode) {
  describe("Databricks from workerd", () => {
    let worker: RunningWorker;
    let ws: FakeDatabricks;

    before(async () => {
      // Imported here, not at the top: esbuild and miniflare load only under Node.
      const { bundleWorker, startWorker } = await import("./support/workerd.ts");
      const { startFakeDatabricks } = await import("./support/fake_databricks.ts");
      ws = await startFakeDatabricks();
      worker = await startWorker(await bundleWorker({ source: WORKER_SOURCE, resolveDir: new URL(".", import.meta.url).pathname }));
    });

    after(async () => {
      await worker?.dispose();
      await ws?.close();
    });

    const call = async (body: unknown): Promise<Record<string, string>> => {
      const res = await worker.fetch("/", { method: "POST", body: JSON.stringify(body) });
      const text = await res.text();
      assert.equal(res.status, 200, text);
      return JSON.parse(text) as Record<string, string>;
    };

    test("a service principal's variables in env log a run whose CSV lands in the bucket", async () => {
      const answer = await call({
        trackingUri: "databricks",
        env: { DATABRICKS_HOST: ws.url, DATABRICKS_CLIENT_ID: ws.clientId, DATABRICKS_CLIENT_SECRET: ws.clientSecret },
        experiment: `/Users/${ws.userName}/edge`,
      });
      assert.ok(answer.runId, JSON.stringify(answer));
      const { run } = await ws.api<{ run: { info: { status: string } } }>("GET", "mlflow/runs/get", { run_id: answer.runId! });
      assert.equal(run.info.status, "FINISHED");
      assert.equal(new TextDecoder().decode(await ws.artifact(answer.runId!, "trades.csv")), "side,pnl\nlong,12.5\nshort,-3\n");
      assert.equal(ws.oauth.issued.length, 1);
    });

    test("a profile cannot be read without a file system: the error says to pass the variables in env", async () => {
      const answer = await call({ trackingUri: "databricks://ci", env: {}, experiment: "/Shared/edge" });
      assert.equal(answer.field, "profile");
      assert.match(answer.error!, /no file system.*DATABRICKS_HOST and DATABRICKS_TOKEN/);
    });
  });
}
