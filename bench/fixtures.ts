/**
 * Benchmark inputs: FLOX-shaped backtests of a given size, deterministic.
 *
 * @module
 */
import { runSmaCrossover, syntheticMarket } from "../examples/sma_backtest.ts";

/** The 29 FLOX stats keys with values from the synthetic backtest. */
export function floxStats(): Record<string, number | bigint> {
  const { stats } = runSmaCrossover(syntheticMarket(20_000, 3), { fast: 10, slow: 50, fee: 0.0004, capital: 10_000 });
  return {
    ...stats,
    max_consecutive_wins: 4,
    max_consecutive_losses: 3,
    avg_win_loss_ratio: 1.2,
    max_trade_duration_ns: 86_400_000_000_000,
    time_weighted_return: 0.02,
  };
}

/** A backtest of `points` equity rows and `trades` trade rows in FLOX Python shapes. */
export function backtestOfSize(points: number, trades: number): {
  stats: Record<string, number | bigint>;
  equityCurve: { timestamp_ns: bigint; equity: number; drawdown_pct: number }[];
  trades: Record<string, unknown>[];
} {
  const result = runSmaCrossover(syntheticMarket(points, 11), { fast: 10, slow: 50, fee: 0.0004, capital: 10_000 });
  const rows = Array.from({ length: trades }, (_, i) => {
    const t = result.trades[i % Math.max(1, result.trades.length)] ?? {
      symbol: "BTCUSDT", side: "long", entry_price: 1, exit_price: 1, quantity: 1, pnl: 0, fee: 0,
      entry_time_ns: 0n, exit_time_ns: 0n,
    };
    return { ...t, entry_time_ns: t.entry_time_ns + BigInt(i), exit_time_ns: t.exit_time_ns + BigInt(i) };
  });
  return { stats: floxStats(), equityCurve: result.equityCurve, trades: rows };
}
