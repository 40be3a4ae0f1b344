import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { checkKey, checkMetrics, checkParams, checkTags, keyProblem } from "../src/validation.ts";
import { MlflowValidationError } from "../src/errors.ts";

describe("keyProblem", () => {
  test("accepts what MLflow accepts", () => {
    for (const key of ["ok key-1.a:b/c_d", "sharpe_ratio", "équité", "system/cpu", "a.b.c"]) {
      assert.equal(keyProblem(key), undefined, key);
    }
  });

  test("rejects illegal characters, path tricks, empty and over-long keys", () => {
    for (const key of ["bad@key#1", 'tag with "quote" & amp', "../escape", "/abs", "a//b", "a/", "./a", "a/./b", "", "k".repeat(251), "..hidden", "e\u0301"]) {
      assert.notEqual(keyProblem(key), undefined, key);
    }
    assert.equal(keyProblem("k".repeat(250)), undefined);
    // Length is counted in characters, as MLflow counts it, not in UTF-16 units.
    assert.equal(keyProblem("\u{20000}".repeat(250)), undefined);
  });
});

describe("checks before any request", () => {
  test("a bad key is an error naming the field and the key", () => {
    assert.throws(() => checkKey("bad@key", "stats"), (err: unknown) =>
      err instanceof MlflowValidationError && err.field === 'stats["bad@key"]' && /letters, digits/.test(err.message));
  });

  test("param values over 6000 characters are refused with advice", () => {
    checkParams([{ key: "p", value: "x".repeat(6000) }], "params");
    assert.throws(() => checkParams([{ key: "p", value: "x".repeat(6001) }], "params"), /at most 6000.*artifact/);
  });

  test("tag values over 8000 characters are refused", () => {
    checkTags([{ key: "t", value: "x".repeat(8000) }], "tags");
    assert.throws(() => checkTags([{ key: "t", value: "x".repeat(8001) }], "tags"), /at most 8000/);
  });

  test("a param given twice is refused", () => {
    assert.throws(() => checkParams([{ key: "a", value: "1" }, { key: "a", value: "1" }], "params"), /twice/);
  });

  test("metric timestamps must be whole non-negative milliseconds and steps whole", () => {
    assert.throws(() => checkMetrics([{ key: "m", value: 1, timestamp: -1, step: 0 }], "metrics"), /timestamp/);
    assert.throws(() => checkMetrics([{ key: "m", value: 1, timestamp: 1.5, step: 0 }], "metrics"), /timestamp/);
    assert.throws(() => checkMetrics([{ key: "m", value: 1, timestamp: 0, step: 0.5 }], "metrics"), /step/);
    checkMetrics([{ key: "m", value: NaN, timestamp: 0, step: -3 }], "metrics");
  });
});
