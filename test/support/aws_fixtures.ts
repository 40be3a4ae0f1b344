/**
 * Test support: one FLOX backtest (stats, equity curve, trades and the CSVs
 * they become) shared by the S3 and SageMaker tests, and a check that no
 * secret appears anywhere in an error or a logged run.
 *
 * @module
 */

import assert from "node:assert/strict";

/** FLOX `BacktestStats`, as in log_backtest.test.ts. */
export const FLOX_STATS = {
  total_trades: 3, winning_trades: 2, losing_trades: 1, initial_capital: 10000, final_capital: 10250.5,
  net_pnl: 250.5, max_drawdown_pct: 1.2, win_rate: 0.6667, sharpe_ratio: NaN, sortino_ratio: Infinity,
  return_pct: 2.505, start_time_ns: 1704067200000000000n, end_time_ns: 1704153599999999999n,
};

/** A FLOX equity curve. */
export const EQUITY_ROWS = [
  { timestamp_ns: 1704067200000000000n, equity: 10000, drawdown_pct: 0 },
  { timestamp_ns: 1704067260000000000n, equity: 10120.25, drawdown_pct: 0 },
  { timestamp_ns: 1704067320000000000n, equity: 10000, drawdown_pct: 1.188 },
  { timestamp_ns: 1704067380000000000n, equity: 10250.5, drawdown_pct: 0 },
];

/** `equity_curve.csv` of {@link EQUITY_ROWS}, byte for byte. */
export const EQUITY_CSV = "timestamp_ns,equity,drawdown_pct\n" +
  "1704067200000000000,10000,0\n1704067260000000000,10120.25,0\n" +
  "1704067320000000000,10000,1.188\n1704067380000000000,10250.5,0\n";

/** FLOX trades. */
export const TRADES = [
  { symbol: "BTCUSDT", side: "long", entry_price: 42000, exit_price: 42500.5, quantity: 0.1, pnl: 50.05, fee: 3.4,
    entry_time_ns: 1704067200000000000n, exit_time_ns: 1704070800000000000n },
  { symbol: "BTCUSDT", side: "short", entry_price: 42500, exit_price: 42100, quantity: 0.2, pnl: 80, fee: 3.1,
    entry_time_ns: 1704070800000000001n, exit_time_ns: 1704074400000000000n, note: "stop" },
];

/** `trades.csv` of {@link TRADES}, byte for byte. */
export const TRADES_CSV = "symbol,side,entry_price,exit_price,quantity,pnl,fee,entry_time_ns,exit_time_ns,note\n" +
  "BTCUSDT,long,42000,42500.5,0.1,50.05,3.4,1704067200000000000,1704070800000000000,\n" +
  "BTCUSDT,short,42500,42100,0.2,80,3.1,1704070800000000001,1704074400000000000,stop\n";

// Every text an error or a record can show: messages, stacks, own properties, causes.
function texts(value: unknown, seen = new Set<unknown>()): string[] {
  if (value === null || value === undefined || seen.has(value)) return [];
  if (typeof value !== "object") return [String(value)];
  seen.add(value);
  const out: string[] = [];
  if (value instanceof Error) out.push(String(value), value.stack ?? "", ...texts(value.cause, seen));
  for (const key of Object.getOwnPropertyNames(value)) out.push(key, ...texts((value as Record<string, unknown>)[key], seen));
  return out;
}

/**
 * Fails when any secret shows up in `value` (an error with its cause chain, or a logged run).
 *
 * @param value The error or record.
 * @param secrets The secrets.
 * @example
 * ```ts
 * import { secretsAbsent } from "./aws_fixtures.ts";
 * secretsAbsent(new Error("no secret here"), ["s3cr3t"]);
 * ```
 */
export function secretsAbsent(value: unknown, secrets: readonly string[]): void {
  const all = texts(value).join("\n");
  for (const secret of secrets) assert.ok(!all.includes(secret), `a secret (${secret.length} characters) appears in ${all.slice(0, 200)}`);
}
