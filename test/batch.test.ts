import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { MLFLOW_BATCH_LIMITS, planBatches } from "../src/batch.ts";
import type { KeyValue, Metric } from "../src/store.ts";

const metrics = (n: number): Metric[] => Array.from({ length: n }, (_, i) => ({ key: `m${i % 7}`, value: i, timestamp: 0, step: i }));
const pairs = (n: number, prefix: string, size = 1): KeyValue[] =>
  Array.from({ length: n }, (_, i) => ({ key: `${prefix}${i}`, value: "v".repeat(size) }));

describe("planBatches", () => {
  test("one backtest's stats, params and tags fit in one request", () => {
    const plan = planBatches({ metrics: metrics(24), params: pairs(10, "p"), tags: pairs(7, "t") }, MLFLOW_BATCH_LIMITS);
    assert.equal(plan.length, 1);
  });

  test("every request respects each limit and nothing is lost or reordered", () => {
    const input = { metrics: metrics(2500), params: pairs(250, "p"), tags: pairs(130, "t") };
    const plan = planBatches(input, MLFLOW_BATCH_LIMITS);
    for (const part of plan) {
      assert.ok(part.metrics.length <= 1000 && part.params.length <= 100 && part.tags.length <= 100);
      assert.ok(part.metrics.length + part.params.length + part.tags.length <= 1000);
    }
    assert.deepEqual(plan.flatMap((p) => p.metrics), input.metrics);
    assert.deepEqual(plan.flatMap((p) => p.params), input.params);
    assert.deepEqual(plan.flatMap((p) => p.tags), input.tags);
    // 250 params need 3 requests at least, and the tags and metrics ride along in them.
    assert.equal(plan.length, 3);
  });

  test("lower limits for smaller servers are honoured", () => {
    const plan = planBatches({ metrics: metrics(450), params: [], tags: [] }, { ...MLFLOW_BATCH_LIMITS, metrics: 200 });
    assert.deepEqual(plan.map((p) => p.metrics.length), [200, 200, 50]);
  });

  test("large values are split to stay under the byte limit", () => {
    const plan = planBatches({ metrics: [], params: pairs(100, "p", 6000), tags: pairs(100, "t", 8000) }, MLFLOW_BATCH_LIMITS);
    assert.ok(plan.length >= 2);
    for (const part of plan) assert.ok(JSON.stringify(part).length < 1_000_000);
  });

  test("nothing to log makes no request", () => {
    assert.deepEqual(planBatches({ metrics: [], params: [], tags: [] }, MLFLOW_BATCH_LIMITS), []);
  });
});
