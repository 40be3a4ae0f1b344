import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { logBacktest, logToMlflow, MlflowValidationError } from "../mod.ts";
import { durationSeconds } from "../src/duration.ts";
import { type Backend, BACKENDS, uniqueName } from "./support/backends.ts";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

const T0 = 1704067200000000000n; // 2024-01-01T00:00:00Z
const MINUTE = 60_000_000_000n;

describe("durationSeconds", () => {
  test("reads ISO-8601 durations with weeks, days, hours, minutes and fractional seconds", () => {
    assert.equal(durationSeconds("P1DT2H"), 93600);
    assert.equal(durationSeconds("PT90M"), 5400);
    assert.equal(durationSeconds("P2W"), 1209600);
    assert.equal(durationSeconds("P1DT2H3M4.5S"), 93784.5);
    assert.equal(durationSeconds("-PT0.5S"), -0.5);
    assert.equal(durationSeconds("P0D"), 0);
  });

  test("reads pandas Timedelta and Python timedelta text, negative ones included", () => {
    assert.equal(durationSeconds("1 days 02:00:00"), 93600);
    assert.equal(durationSeconds("0 days 00:00:00.000001"), 0.000001);
    assert.equal(durationSeconds("365 days 00:00:00"), 31536000);
    assert.equal(durationSeconds("-1 days +23:00:00"), -3600);
    assert.equal(durationSeconds("1 day, 2:00:00"), 93600);
    assert.equal(durationSeconds("2 days, 0:00:00.500000"), 172800.5);
    assert.equal(durationSeconds("-1 day, 23:00:00"), -3600);
  });

  test("leaves everything else alone: words, times of day, dates, years and months, NaT", () => {
    for (const value of ["BTCUSDT", "02:00:00", "2024-01-01 00:00:00", "P1Y", "P1M", "P", "PT", "P1DT", "NaT", "1 days", ""]) {
      assert.equal(durationSeconds(value), undefined, value);
    }
  });
});

for (const { name, open } of BACKENDS) {
  describe(`input shapes (${name} store)`, () => {
    let backend: Backend;
    before(async () => {
      backend = await open();
    });
    after(() => backend.close());
    const options = () => ({ trackingUri: backend.trackingUri, env: {}, chart: false as const });

    test("FLOX Node equity columns land in the CSV with every nanosecond digit", async () => {
      const runId = await logBacktest({
        ...options(),
        equityCurve: {
          timestampNs: BigInt64Array.of(T0 + 1n, T0 + MINUTE + 999_999_999n, T0 + 2n * MINUTE),
          equity: Float64Array.of(10000, 10100.5, 9999.25),
          drawdownPct: Float64Array.of(0, 0, 1.0002),
        },
      });
      assert.equal(
        text(await backend.artifact(runId, "equity_curve.csv")),
        "timestamp_ns,equity,drawdown_pct\n" +
          "1704067200000000001,10000,0\n1704067260999999999,10100.5,0\n1704067320000000000,9999.25,1.0002\n",
      );
    });

    test("equity columns as plain arrays, without drawdowns, get drawdowns from the running peak", async () => {
      const runId = await logBacktest({
        ...options(),
        equityCurve: { timestampNs: [T0, T0 + MINUTE, T0 + 2n * MINUTE], equity: [100, 120, 90] },
      });
      assert.equal(
        text(await backend.artifact(runId, "equity_curve.csv")),
        "timestamp_ns,equity,drawdown_pct\n1704067200000000000,100,0\n1704067260000000000,120,0\n1704067320000000000,90,25\n",
      );
    });

    test("equity rows take ns BigInts, ms numbers, ISO strings and Dates as times", async () => {
      const runId = await logBacktest({
        ...options(),
        equityCurve: [
          { timestamp_ns: T0 + 7n, equity: 1, drawdown_pct: 0 },
          { timestamp: 1704067260000, equity: 2, drawdown_pct: 0 },
          { timestamp: "2024-01-01T00:02:00.123456789Z", equity: 3, drawdown_pct: 0 },
          { timestamp: new Date("2024-01-01T00:03:00.250Z"), equity: 4, drawdown_pct: 0 },
          { timestamp: T0 + 4n * MINUTE, equity: 5, drawdown_pct: 0 },
        ],
      });
      assert.equal(
        text(await backend.artifact(runId, "equity_curve.csv")),
        "timestamp_ns,equity,drawdown_pct\n" +
          "1704067200000000007,1,0\n1704067260000000000,2,0\n1704067320123456789,3,0\n" +
          "1704067380250000000,4,0\n1704067440000000000,5,0\n",
      );
      // The equity history's metric timestamps are the bar times in milliseconds.
      assert.deepEqual((await backend.metricHistory(runId, "equity")).map((p) => p.timestamp), [
        1704067200000, 1704067260000, 1704067320123, 1704067380250, 1704067440000,
      ]);
    });

    test("FLOX Node trade columns: symbol ids named by symbolNames, side codes as long/short, exact BigInt times", async () => {
      const trades = {
        symbol: Uint32Array.of(0, 1, 7),
        side: Uint8Array.of(0, 1, 0),
        entryPrice: Float64Array.of(42000.5, 2500, 1.25),
        exitPrice: Float64Array.of(42100, 2450.75, 1.5),
        quantity: Float64Array.of(0.1, 2, 100),
        pnl: Float64Array.of(9.95, 98.5, 25),
        fee: Float64Array.of(0.5, 0.25, 0),
        entryTimeNs: BigInt64Array.of(T0 + 1n, T0 + MINUTE, T0 + 2n * MINUTE + 123n),
        exitTimeNs: BigInt64Array.of(T0 + MINUTE - 1n, T0 + 2n * MINUTE, 9223372036854775807n),
      };
      const expected = (third: string) =>
        "symbol,side,entryPrice,exitPrice,quantity,pnl,fee,entryTimeNs,exitTimeNs\n" +
        "BTCUSDT,long,42000.5,42100,0.1,9.95,0.5,1704067200000000001,1704067259999999999\n" +
        "ETHUSDT,short,2500,2450.75,2,98.5,0.25,1704067260000000000,1704067320000000000\n" +
        `${third},long,1.25,1.5,100,25,0,1704067320000000123,9223372036854775807\n`;
      const asMap = await logBacktest({ ...options(), trades, symbolNames: new Map([[0, "BTCUSDT"], [1, "ETHUSDT"], [7, "DOGEUSDT"]]) });
      assert.equal(text(await backend.artifact(asMap, "trades.csv")), expected("DOGEUSDT"));
      const asObject = await logBacktest({ ...options(), trades, symbolNames: { 0: "BTCUSDT", 1: "ETHUSDT" } });
      // An id without a name keeps its number rather than vanishing.
      assert.equal(text(await backend.artifact(asObject, "trades.csv")), expected("7"));
      const asArray = await logBacktest({ ...options(), trades, symbolNames: ["BTCUSDT", "ETHUSDT"] });
      assert.equal(text(await backend.artifact(asArray, "trades.csv")), expected("7"));
    });

    test("FLOX Python trade rows keep their keys, symbols and exact times", async () => {
      const runId = await logBacktest({
        ...options(),
        trades: [
          { symbol: 0, side: "long", pnl: 1.5, entry_time_ns: T0 + 1n, exit_time_ns: T0 + MINUTE },
          { symbol: 1, side: "short", pnl: -0.5, entry_time_ns: T0 + MINUTE, exit_time_ns: T0 + 2n * MINUTE + 5n, tag: "stop" },
        ],
        symbolNames: ["BTCUSDT", "ETHUSDT"],
      });
      assert.equal(
        text(await backend.artifact(runId, "trades.csv")),
        "symbol,side,pnl,entry_time_ns,exit_time_ns,tag\n" +
          "BTCUSDT,long,1.5,1704067200000000001,1704067260000000000,\n" +
          "ETHUSDT,short,-0.5,1704067260000000000,1704067320000000005,stop\n",
      );
    });

    test("columns of unequal length are refused, naming the column, before anything is written", async () => {
      const experiment = uniqueName("unequal");
      const requestsBefore = backend.server?.requests.length;
      await assert.rejects(
        logBacktest({
          ...options(),
          experiment,
          equityCurve: { timestampNs: BigInt64Array.of(T0, T0 + MINUTE), equity: Float64Array.of(1, 2), drawdownPct: Float64Array.of(0) },
        }),
        (err: unknown) => err instanceof MlflowValidationError && err.field === "equityCurve.drawdownPct" && /has 1 values/.test(err.message),
      );
      await assert.rejects(
        logBacktest({
          ...options(),
          experiment,
          trades: { symbol: Uint32Array.of(0, 1), side: Uint8Array.of(0, 1), pnl: Float64Array.of(1, 2, 3) },
        }),
        (err: unknown) => err instanceof MlflowValidationError && err.field === "trades.pnl" && /has 3 values but trades.symbol has 2/.test(err.message),
      );
      assert.equal(backend.server?.requests.length, requestsBefore);
      assert.deepEqual(await backend.runsOf(experiment).catch(() => []), []);
    });

    test("camelCase and snake_case stats are logged as given, or renamed with statsNaming", async () => {
      const node = { sharpeRatio: 1.5, maxDrawdownPct: 4.25, totalTrades: 12, profitFactor: Infinity };
      const python = { sharpe_ratio: 1.5, max_drawdown_pct: 4.25, total_trades: 12, profit_factor: Infinity };
      const asGiven = await backend.getRun(await logBacktest({ ...options(), stats: node }));
      assert.deepEqual(asGiven.metrics, { sharpeRatio: 1.5, maxDrawdownPct: 4.25, totalTrades: 12 });
      assert.equal(asGiven.tags.profitFactor, "Infinity");
      const snake = await backend.getRun(await logBacktest({ ...options(), stats: node, statsNaming: "snake_case" }));
      assert.deepEqual(snake.metrics, { sharpe_ratio: 1.5, max_drawdown_pct: 4.25, total_trades: 12 });
      assert.equal(snake.tags.profit_factor, "Infinity");
      const camel = await backend.getRun(await logBacktest({ ...options(), stats: python, statsNaming: "camelCase" }));
      assert.deepEqual(camel.metrics, { sharpeRatio: 1.5, maxDrawdownPct: 4.25, totalTrades: 12 });
      assert.equal(camel.tags.profitFactor, "Infinity");
    });

    test("backtesting.py stats: illegal keys mapped, durations as text plus seconds, NaN kept as a tag", async () => {
      const run = await backend.getRun(await logBacktest({
        ...options(),
        stats: {
          "Start": "2024-01-01 00:00:00",
          "End": "2024-03-31 00:00:00",
          "Duration": "90 days 00:00:00",
          "Exposure Time [%]": 45.5,
          "Equity Final [$]": 11234.5,
          "Return [%]": 12.345,
          "Buy & Hold Return [%]": 8.1,
          "Sharpe Ratio": 1.21,
          "Max. Drawdown [%]": -7.5,
          "Max. Drawdown Duration": "P12DT6H",
          "Avg. Trade Duration": "0 days 04:30:00.500000",
          "# Trades": 40,
          "Win Rate [%]": NaN,
          "SQN": 1.9,
        },
      }));
      assert.deepEqual(run.metrics, {
        "Duration_s": 7776000,
        "exposure_time_pct": 45.5,
        "equity_final_usd": 11234.5,
        "return_pct": 12.345,
        "buy_and_hold_return_pct": 8.1,
        "Sharpe Ratio": 1.21,
        "max_drawdown_pct": -7.5,
        "Max. Drawdown Duration_s": 1058400,
        "Avg. Trade Duration_s": 16200.5,
        "num_trades": 40,
        "SQN": 1.9,
      });
      assert.equal(run.tags.Duration, "90 days 00:00:00");
      assert.equal(run.tags["Max. Drawdown Duration"], "P12DT6H");
      assert.equal(run.tags.Start, "2024-01-01 00:00:00");
      assert.equal(run.tags.win_rate_pct, "NaN");
    });

    test("vectorbt stats map to legal keys with their period as seconds", async () => {
      const run = await backend.getRun(await logBacktest({
        ...options(),
        stats: {
          "Period": "31 days 00:00:00",
          "Start Value": 100,
          "Total Return [%]": 5.5,
          "Total Fees Paid": 1.25,
          "Max Drawdown Duration": "3 days 12:00:00",
          "Total Trades": 7,
          "Omega Ratio": 1.4,
        },
        statsNaming: "snake_case",
      }));
      assert.deepEqual(run.metrics, {
        "period_s": 2678400,
        "start value": 100,
        "total_return_pct": 5.5,
        "total fees paid": 1.25,
        "max drawdown duration_s": 302400,
        "total trades": 7,
        "omega ratio": 1.4,
      });
      assert.equal(run.tags.period, "31 days 00:00:00");
    });

    test("backtrader analyzer trees are flattened with dots", async () => {
      const run = await backend.getRun(await logBacktest({
        ...options(),
        stats: {
          sharpe: { sharperatio: 0.87 },
          drawdown: { len: 3, drawdown: 2.5, moneydown: 250, max: { len: 10, drawdown: 6.1, moneydown: 610 } },
          trades: { total: { total: 14, open: 1, closed: 13 }, won: { total: 8 }, pnl: { net: { total: 512.5, average: 39.4 } } },
          annual: { 2023: 0.12, 2024: -0.03 },
        },
      }));
      assert.deepEqual(run.metrics, {
        "sharpe.sharperatio": 0.87,
        "drawdown.len": 3,
        "drawdown.drawdown": 2.5,
        "drawdown.moneydown": 250,
        "drawdown.max.len": 10,
        "drawdown.max.drawdown": 6.1,
        "drawdown.max.moneydown": 610,
        "trades.total.total": 14,
        "trades.total.open": 1,
        "trades.total.closed": 13,
        "trades.won.total": 8,
        "trades.pnl.net.total": 512.5,
        "trades.pnl.net.average": 39.4,
        "annual.2023": 0.12,
        "annual.2024": -0.03,
      });
    });

    test("metric timestamps accept ns BigInts, ms numbers, ISO strings and Dates", async () => {
      const runId = await logToMlflow({ trackingUri: backend.trackingUri, env: {}, runName: "times" }, async (run) => {
        await run.logMetrics({ pnl: 1 }, { step: 0, timestamp: T0 + 999_999n });
        await run.logMetrics({ pnl: 2 }, { step: 1, timestamp: 1704067260000 });
        await run.logMetrics({ pnl: 3 }, { step: 2, timestamp: "2024-01-01T00:02:00.5Z" });
        await run.logMetrics({ pnl: 4 }, { step: 3, timestamp: new Date("2024-01-01T00:03:00Z") });
        return run.runId;
      });
      const history = (await backend.metricHistory(runId, "pnl")).sort((a, b) => a.step - b.step);
      assert.deepEqual(history.map((p) => [p.value, p.timestamp]), [
        [1, 1704067200000], [2, 1704067260000], [3, 1704067320500], [4, 1704067380000],
      ]);
    });
  });
}
