/**
 * Options are checked before any request: an unknown key (a typo, or FLOX
 * Python's snake_case spelling) is an error naming the key meant, and a
 * connection option of the wrong type or range is an error naming it,
 * instead of a run logged silently without it or a loop that never ends.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { runInNewContext } from "node:vm";
import { logBacktest, logGrid, logToMlflow, logWalkForward, MlflowValidationError, startRun } from "../mod.ts";
import { nearestKey } from "../src/option_keys.ts";
import { type Backend, BACKENDS } from "./support/backends.ts";

describe("option keys", () => {
  let backend: Backend;
  before(async () => {
    backend = await BACKENDS.find((b) => b.name === "rest")!.open();
  });
  after(() => backend.close());
  const base = () => ({ trackingUri: backend.trackingUri, env: {} });

  async function refused(call: () => Promise<unknown>, field: string, message: RegExp): Promise<void> {
    const from = backend.server!.requests.length;
    const err = await call().catch((e: unknown) => e);
    assert.ok(err instanceof MlflowValidationError, `expected a validation error, got ${String(err)}`);
    assert.equal(err.field, field);
    assert.match(err.message, message);
    assert.equal(backend.server!.requests.length, from, "a request was sent");
  }

  test("FLOX Python's spellings name the option meant", async () => {
    const python: Array<[string, string]> = [
      ["run_name", "runName"],
      ["experiment_name", "experiment"],
      ["equity_curve", "equityCurve"],
      ["html_report", "htmlReport"],
      ["tracking_uri", "trackingUri"],
      ["parent_run_id", "parentRunId"],
    ];
    for (const [key, meant] of python) {
      await refused(() => logBacktest({ ...base(), stats: { x: 1 }, [key]: "x" } as never), `options.${key}`,
        new RegExp(`did you mean '${meant}'\\?`));
    }
  });

  test("a typo is caught on every entry point, and an unrelated key lists the options", async () => {
    await refused(() => startRun({ ...base(), runNmae: "x" } as never), "options.runNmae", /did you mean 'runName'/);
    await refused(() => logToMlflow({ ...base(), experimnet: "x" } as never, () => 1), "options.experimnet", /did you mean 'experiment'/);
    await refused(
      () => logGrid({ ...base(), results: [{ params: { a: 1 }, stats: { s: 1 } }], concurency: 2 } as never),
      "options.concurency",
      /did you mean 'concurrency'/,
    );
    await refused(
      () => logWalkForward({ ...base(), folds: [{ trainStats: { s: 1 }, testStats: { s: 1 } }], fold: [] } as never),
      "options.fold",
      /did you mean 'folds'/,
    );
    await refused(() => logBacktest({ ...base(), colour: "red" } as never), "options.colour", /the options are trackingUri, env,/);
    const err = await logToMlflow({ ...base() }, (run) => run.logBacktest({ equity_curve: [] } as never)).catch((e: unknown) => e);
    assert.ok(err instanceof MlflowValidationError);
    assert.equal(err.field, "backtest.equity_curve");
  });

  test("options that are not an object are refused", async () => {
    await refused(() => logBacktest(null as never), "options", /must be an object of options, got null/);
    await refused(() => startRun("http://x" as never), "options", /got a string/);
  });

  test("retry and batchLimits are checked for keys, types and ranges", async () => {
    await refused(() => logBacktest({ ...base(), retry: { timeout: 5 } } as never), "retry.timeout", /did you mean 'timeoutMs'/);
    await refused(() => logBacktest({ ...base(), retry: { maxRetries: 1.5 } }), "retry.maxRetries", /whole number/);
    await refused(() => logBacktest({ ...base(), retry: { budgetMs: NaN } }), "retry.budgetMs", /is NaN/);
    // A limit of 0 or NaN used to split a batch forever.
    await refused(() => logBacktest({ ...base(), batchLimits: { metrics: 0 }, stats: { x: 1 } }), "batchLimits.metrics", /is 0/);
    await refused(() => logBacktest({ ...base(), batchLimits: { bytes: NaN }, stats: { x: 1 } }), "batchLimits.bytes", /is NaN/);
    await refused(() => logBacktest({ ...base(), fetch: "fetch" } as never), "fetch", /must be a fetch function/);
    await refused(() => logBacktest({ ...base(), verifyArtifacts: "no" } as never), "verifyArtifacts", /true or false/);
  });

  test("options made in another realm (vm, an edge route's request.json()) are plain options", async () => {
    const options = runInNewContext("({ runName: 'other-realm', stats: { sharpe: 1.5 }, params: { fast: 3 } })") as object;
    const runId = await logBacktest({ ...base(), ...options });
    const run = await backend.getRun(runId);
    assert.equal(run.runName, "other-realm");
    assert.equal(run.metrics.sharpe, 1.5);
  });

  test("the nearest key: spelling first, then a small edit distance, never a far guess", () => {
    assert.equal(nearestKey("RUN-NAME", ["runName"]), "runName");
    assert.equal(nearestKey("stat", ["stats", "trades"]), "stats");
    assert.equal(nearestKey("zzzzzz", ["stats", "trades"]), undefined);
  });
});
