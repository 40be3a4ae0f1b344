import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createAsyncContext } from "../src/runtime/context_edge.ts";
import { logToMlflow, MlflowValidationError, startRun } from "../mod.ts";
import { type Backend, BACKENDS, uniqueName } from "./support/backends.ts";

describe("the run context without AsyncLocalStorage (edge runtimes)", () => {
  // Requests in one isolate share its globals: a single open run may be another request's.
  test("never names a current run, not even the only open one", async () => {
    const context = createAsyncContext<string>();
    assert.equal(context.tracks, false);
    await context.run("parent", async () => {
      await new Promise((r) => setTimeout(r, 1));
      assert.equal(context.get(), undefined);
    });
  });

  test("still runs the function and passes on what it returns or throws", () => {
    const context = createAsyncContext<string>();
    assert.equal(context.run("x", () => 42), 42);
    assert.throws(() => context.run("x", () => {
      throw new RangeError("boom");
    }), RangeError);
  });
});

for (const { name, open } of BACKENDS) {
  describe(`children opened from their parent's handle (${name} store)`, () => {
    let backend: Backend;
    before(async () => {
      backend = await open();
    });
    after(() => backend.close());

    test("startChild and logChild link children to the parent, in its experiment, without async context", async () => {
      const experiment = uniqueName("children");
      const parent = await startRun({ trackingUri: backend.trackingUri, env: {}, experiment, runName: "grid" });
      const first = await parent.startChild({ runName: "cell-0" });
      await first.logMetrics({ sharpe: 0.5 });
      await first.end();
      const secondId = await parent.logChild({ runName: "cell-1" }, async (child) => {
        await child.logBacktest({ stats: { sharpe: 1.5 }, params: { fast: 10 } });
        return child.runId;
      });
      const failed = await parent.logChild({ runName: "cell-2" }, () => {
        throw new Error("cell crashed");
      }).catch((e: unknown) => e);
      assert.match(String(failed), /cell crashed/);
      await parent.end();
      const children = await backend.childrenOf(parent.runId, parent.experimentId);
      assert.deepEqual(children.map((c) => c.runName).sort(), ["cell-0", "cell-1", "cell-2"]);
      for (const child of children) assert.equal(child.experimentId, parent.experimentId);
      const byName = Object.fromEntries(children.map((c) => [c.runName, c]));
      assert.equal(byName["cell-0"]!.status, "FINISHED");
      assert.equal(byName["cell-1"]!.runId, secondId);
      assert.equal(byName["cell-1"]!.params.fast, "10");
      assert.equal(byName["cell-2"]!.status, "FAILED");
    });

    test("a child named by parentRunId alone goes into its parent's experiment; an unknown parent is refused before the run exists", async () => {
      const experiment = uniqueName("by-id");
      const parent = await startRun({ trackingUri: backend.trackingUri, env: {}, experiment, runName: "parent" });
      const childId = await logToMlflow({ trackingUri: backend.trackingUri, env: {}, parentRunId: parent.runId, runName: "child" }, (child) => child.runId);
      await parent.end();
      const child = await backend.getRun(childId);
      assert.equal(child.experimentId, parent.experimentId);
      assert.equal(child.tags["mlflow.parentRunId"], parent.runId);
      const creates = () => backend.server?.requests.filter((r) => r.path.endsWith("/runs/create")).length;
      const before = creates();
      const err = await startRun({ trackingUri: backend.trackingUri, env: {}, parentRunId: "0123456789abcdef0123456789abcdef" })
        .catch((e: unknown) => e);
      assert.ok(err instanceof MlflowValidationError);
      assert.equal(err.field, "parentRunId");
      assert.match(err.message, /does not exist/);
      assert.equal(creates(), before);
    });

    test("a grandchild opened with nested: true inside logChild finds its parent", async () => {
      const grandchild = await logToMlflow({ trackingUri: backend.trackingUri, env: {}, runName: "top" }, (top) =>
        top.logChild({ runName: "mid" }, () =>
          logToMlflow({ runName: "leaf", nested: true }, async (leaf) => ({ id: leaf.runId, experimentId: leaf.experimentId }))));
      const run = await backend.getRun(grandchild.id);
      const mid = await backend.getRun(run.tags["mlflow.parentRunId"]!);
      assert.equal(mid.runName, "mid");
    });
  });
}
