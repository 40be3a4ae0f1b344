import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { legalKey, statsToEntries, stringifyValue, toKeyValues } from "../src/stats.ts";
import { MlflowValidationError } from "../src/errors.ts";

const FLOX_PYTHON_STATS = {
  total_trades: 37, winning_trades: 20, losing_trades: 17, max_consecutive_wins: 5,
  max_consecutive_losses: 4, initial_capital: 10000, final_capital: 11234.5, total_pnl: 1300.25,
  total_fees: 65.75, net_pnl: 1234.5, gross_profit: 3000, gross_loss: 1700, max_drawdown: 512.3,
  max_drawdown_pct: 4.9, win_rate: 0.54, profit_factor: Infinity, avg_win: 150, avg_loss: -100,
  avg_win_loss_ratio: 1.5, avg_trade_duration_ns: 3_600_000_000_000, median_trade_duration_ns: 1_800_000_000_000,
  max_trade_duration_ns: 86_400_000_000_000, sharpe_ratio: NaN, sortino_ratio: -Infinity, calmar_ratio: 2.1,
  time_weighted_return: 0.12, return_pct: 12.345, start_time_ns: 1704067200123456789n,
  end_time_ns: 1735689599000000000n,
};

describe("statsToEntries", () => {
  test("finite numbers become metrics with the given timestamp and step 0", () => {
    const { metrics } = statsToEntries({ sharpe_ratio: 1.25, total_trades: 3 }, { timestamp: 1234 });
    assert.deepEqual(metrics, [
      { key: "sharpe_ratio", value: 1.25, timestamp: 1234, step: 0 },
      { key: "total_trades", value: 3, timestamp: 1234, step: 0 },
    ]);
  });

  test("NaN and infinities become tags, never metrics, never dropped", () => {
    const { metrics, tags } = statsToEntries({ a: NaN, b: Infinity, c: -Infinity }, { timestamp: 0 });
    assert.equal(metrics.length, 0);
    assert.deepEqual(tags, [{ key: "a", value: "NaN" }, { key: "b", value: "Infinity" }, { key: "c", value: "-Infinity" }]);
  });

  test("nanosecond timestamps become exact tags plus an ISO-8601 twin", () => {
    const { tags, metrics } = statsToEntries({ start_time_ns: 1704067200123456789n, endTimeNs: 1704067200000000000n }, {
      timestamp: 0,
    });
    assert.equal(metrics.length, 0);
    assert.deepEqual(tags, [
      { key: "start_time_ns", value: "1704067200123456789" },
      { key: "start_time_iso", value: "2024-01-01T00:00:00.123456789Z" },
      { key: "endTimeNs", value: "1704067200000000000" },
      { key: "endTimeIso", value: "2024-01-01T00:00:00Z" },
    ]);
  });

  test("strings, booleans, big BigInts and Dates become tags with exact text", () => {
    const { tags, metrics } = statsToEntries({
      symbol: "BTCUSDT", ok: true, big: 2n ** 70n, small: 42n, when: new Date("2024-03-01T10:00:00Z"),
    }, { timestamp: 0 });
    assert.deepEqual(metrics.map((m) => [m.key, m.value]), [["small", 42]]);
    assert.deepEqual(tags, [
      { key: "symbol", value: "BTCUSDT" },
      { key: "ok", value: "true" },
      { key: "big", value: "1180591620717411303424" },
      { key: "when", value: "2024-03-01T10:00:00.000Z" },
    ]);
  });

  test("all 29 FLOX Python stats land: 24 metrics and 7 tags", () => {
    const { metrics, tags } = statsToEntries(FLOX_PYTHON_STATS, { timestamp: 0 });
    assert.equal(metrics.length, 24);
    assert.deepEqual(tags.map((t) => t.key), [
      "profit_factor", "sharpe_ratio", "sortino_ratio", "start_time_ns", "start_time_iso", "end_time_ns", "end_time_iso",
    ]);
  });

  test("backtesting.py keys are mapped to legal readable keys", () => {
    const { metrics } = statsToEntries({
      "Return [%]": 12.1, "# Trades": 40, "Max. Drawdown [%]": -8, "Buy & Hold Return [%]": 3, "Win Rate [%]": 55,
    }, { timestamp: 0 });
    assert.deepEqual(metrics.map((m) => m.key), [
      "return_pct", "num_trades", "max_drawdown_pct", "buy_and_hold_return_pct", "win_rate_pct",
    ]);
  });

  test("nested objects are flattened with dots", () => {
    const { metrics } = statsToEntries({ drawdown: { max: { drawdown: 5.5, len: 10 } } }, { timestamp: 0 });
    assert.deepEqual(metrics.map((m) => m.key), ["drawdown.max.drawdown", "drawdown.max.len"]);
  });

  test("two stats that map to one key are an error naming both", () => {
    assert.throws(
      () => statsToEntries({ "Return [%]": 1, return_pct: 2 }, { timestamp: 0 }),
      (err: unknown) =>
        err instanceof MlflowValidationError && err.message.includes("Return [%]") && err.message.includes("return_pct"),
    );
  });

  test("naming option renders camelCase stats as snake_case and back", () => {
    const snake = statsToEntries({ sharpeRatio: 1, maxDrawdownPct: 2 }, { timestamp: 0, naming: "snake_case" });
    assert.deepEqual(snake.metrics.map((m) => m.key), ["sharpe_ratio", "max_drawdown_pct"]);
    const camel = statsToEntries({ sharpe_ratio: 1, max_drawdown_pct: 2 }, { timestamp: 0, naming: "camelCase" });
    assert.deepEqual(camel.metrics.map((m) => m.key), ["sharpeRatio", "maxDrawdownPct"]);
  });

  test("a prefix goes in front of every key", () => {
    const { metrics } = statsToEntries({ sharpe_ratio: 1 }, { timestamp: 0, prefix: "test." });
    assert.equal(metrics[0]!.key, "test.sharpe_ratio");
  });
});

describe("legalKey", () => {
  test("keeps legal keys, including unicode letters, as given", () => {
    assert.equal(legalKey("Sharpe Ratio"), "Sharpe Ratio");
    assert.equal(legalKey("rendite_ü"), "rendite_ü");
  });
});

describe("stringifyValue and toKeyValues", () => {
  test("numbers keep their JavaScript text", () => {
    assert.equal(stringifyValue(0.0004), "0.0004");
    assert.equal(stringifyValue(10), "10");
    assert.equal(stringifyValue(1e-7), "1e-7");
  });

  test("objects and arrays become JSON, BigInts exact", () => {
    assert.equal(stringifyValue({ a: [1, 2n ** 64n] }), '{"a":[1,"18446744073709551616"]}');
  });

  test("undefined values are left out of params", () => {
    assert.deepEqual(toKeyValues({ a: 1, b: undefined, c: null }), [{ key: "a", value: "1" }, { key: "c", value: "null" }]);
  });
});
