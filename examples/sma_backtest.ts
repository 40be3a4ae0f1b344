/**
 * A small, deterministic SMA-crossover backtest on a synthetic market, used by
 * the demo and the benchmarks. It returns FLOX's shapes: snake_case stats,
 * `{timestamp_ns, equity, drawdown_pct}` rows and trade rows.
 *
 * @module
 */

/** One-minute bars as columns. */
export interface Market {
  timestampNs: BigInt64Array;
  close: Float64Array;
}

/** What the backtest returns, in FLOX Python's shapes. */
export interface BacktestResult {
  stats: Record<string, number | bigint>;
  equityCurve: { timestamp_ns: bigint; equity: number; drawdown_pct: number }[];
  trades: {
    symbol: string;
    side: "long" | "short";
    entry_price: number;
    exit_price: number;
    quantity: number;
    pnl: number;
    fee: number;
    entry_time_ns: bigint;
    exit_time_ns: bigint;
  }[];
}

/**
 * A seeded random walk of one-minute closes (mulberry32), so every run of the
 * demo logs the same numbers.
 *
 * @param bars Number of bars.
 * @param seed Random seed.
 * @returns The market.
 * @example
 * ```ts
 * import { syntheticMarket } from "./sma_backtest.ts";
 * const m = syntheticMarket(10, 1);
 * if (m.close.length !== 10) throw new Error();
 * ```
 */
export function syntheticMarket(bars: number, seed: number): Market {
  let state = seed >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const start = 1_704_067_200_000_000_000n; // 2024-01-01T00:00:00Z
  const timestampNs = new BigInt64Array(bars);
  const close = new Float64Array(bars);
  let price = 42_000;
  for (let i = 0; i < bars; i++) {
    // A slow sine drift gives the crossover trends to find.
    const drift = 0.000004 * Math.sin(i / 20_000);
    price *= 1 + drift + (random() - 0.5) * 0.002;
    timestampNs[i] = start + BigInt(i) * 60_000_000_000n;
    close[i] = price;
  }
  return { timestampNs, close };
}

/**
 * Runs a long-only SMA crossover: long when the fast average is above the slow.
 *
 * @param market The bars.
 * @param params Window lengths, fee rate and starting capital.
 * @returns Stats, equity curve and trades.
 * @example
 * ```ts
 * import { runSmaCrossover, syntheticMarket } from "./sma_backtest.ts";
 * const r = runSmaCrossover(syntheticMarket(5000, 7), { fast: 10, slow: 50, fee: 0.0004, capital: 10000 });
 * if (typeof r.stats.sharpe_ratio !== "number") throw new Error();
 * ```
 */
export function runSmaCrossover(
  market: Market,
  params: { fast: number; slow: number; fee: number; capital: number },
): BacktestResult {
  const { close, timestampNs } = market;
  const n = close.length;
  let cash = params.capital;
  let qty = 0;
  let entryPrice = 0;
  let entryTime = 0n;
  let fastSum = 0;
  let slowSum = 0;
  let peak = params.capital;
  let maxDd = 0;
  let maxDdPct = 0;
  const equityCurve: BacktestResult["equityCurve"] = [];
  const trades: BacktestResult["trades"] = [];
  const returns: number[] = [];
  let prevEquity = params.capital;
  let fees = 0;
  for (let i = 0; i < n; i++) {
    const price = close[i]!;
    fastSum += price - (i >= params.fast ? close[i - params.fast]! : 0);
    slowSum += price - (i >= params.slow ? close[i - params.slow]! : 0);
    if (i >= params.slow) {
      const up = fastSum / params.fast > slowSum / params.slow;
      if (up && qty === 0) {
        const fee = cash * params.fee;
        qty = (cash - fee) / price;
        fees += fee;
        cash = 0;
        entryPrice = price;
        entryTime = timestampNs[i]!;
      } else if (!up && qty > 0) {
        const gross = qty * price;
        const fee = gross * params.fee;
        fees += fee;
        cash = gross - fee;
        trades.push({
          symbol: "BTCUSDT",
          side: "long",
          entry_price: entryPrice,
          exit_price: price,
          quantity: qty,
          pnl: (price - entryPrice) * qty - fee,
          fee,
          entry_time_ns: entryTime,
          exit_time_ns: timestampNs[i]!,
        });
        qty = 0;
      }
    }
    const equity = cash + qty * price;
    if (equity > peak) peak = equity;
    const dd = peak - equity;
    const ddPct = (dd / peak) * 100;
    if (dd > maxDd) maxDd = dd;
    if (ddPct > maxDdPct) maxDdPct = ddPct;
    equityCurve.push({ timestamp_ns: timestampNs[i]!, equity, drawdown_pct: ddPct });
    returns.push(equity / prevEquity - 1);
    prevEquity = equity;
  }
  const wins = trades.filter((t) => t.pnl > 0);
  const losses = trades.filter((t) => t.pnl <= 0);
  const grossProfit = wins.reduce((s, t) => s + t.pnl, 0);
  const grossLoss = -losses.reduce((s, t) => s + t.pnl, 0);
  const mean = returns.reduce((s, r) => s + r, 0) / Math.max(1, returns.length);
  const sd = Math.sqrt(returns.reduce((s, r) => s + (r - mean) ** 2, 0) / Math.max(1, returns.length - 1));
  const downside = Math.sqrt(returns.reduce((s, r) => s + Math.min(0, r) ** 2, 0) / Math.max(1, returns.length));
  const perYear = Math.sqrt(365 * 24 * 60);
  const finalCapital = equityCurve.at(-1)?.equity ?? params.capital;
  const returnPct = (finalCapital / params.capital - 1) * 100;
  const durations = trades.map((t) => Number(t.exit_time_ns - t.entry_time_ns)).sort((a, b) => a - b);
  return {
    stats: {
      total_trades: trades.length,
      winning_trades: wins.length,
      losing_trades: losses.length,
      initial_capital: params.capital,
      final_capital: finalCapital,
      total_pnl: finalCapital - params.capital + fees,
      total_fees: fees,
      net_pnl: finalCapital - params.capital,
      gross_profit: grossProfit,
      gross_loss: grossLoss,
      max_drawdown: maxDd,
      max_drawdown_pct: maxDdPct,
      win_rate: trades.length ? wins.length / trades.length : 0,
      // No losing trade gives an infinite profit factor, as FLOX reports it.
      profit_factor: grossLoss === 0 ? (grossProfit > 0 ? Infinity : NaN) : grossProfit / grossLoss,
      avg_win: wins.length ? grossProfit / wins.length : 0,
      avg_loss: losses.length ? -grossLoss / losses.length : 0,
      avg_trade_duration_ns: durations.length ? durations.reduce((s, d) => s + d, 0) / durations.length : 0,
      median_trade_duration_ns: durations.length ? durations[Math.floor(durations.length / 2)]! : 0,
      sharpe_ratio: sd === 0 ? NaN : (mean / sd) * perYear,
      sortino_ratio: downside === 0 ? NaN : (mean / downside) * perYear,
      calmar_ratio: maxDdPct === 0 ? NaN : returnPct / maxDdPct,
      return_pct: returnPct,
      start_time_ns: timestampNs[0] ?? 0n,
      end_time_ns: timestampNs[n - 1] ?? 0n,
    },
    equityCurve,
    trades,
  };
}
