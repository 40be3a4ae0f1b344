import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { downsampleEquity } from "../src/downsample.ts";
import { MlflowValidationError } from "../src/errors.ts";

/** Drawdown from the running peak in percent, as FLOX reports it. */
function drawdownOf(equity: Float64Array): Float64Array {
  const out = new Float64Array(equity.length);
  let peak = -Infinity;
  for (let i = 0; i < equity.length; i++) {
    peak = Math.max(peak, equity[i]!);
    out[i] = ((peak - equity[i]!) / peak) * 100;
  }
  return out;
}

/**
 * A seeded 1M-bar random walk with single-bar extremes planted inside downsampling
 * buckets (a stride sample or an average would lose them): the global minimum
 * early on, then the global maximum and, two bars later, the max-drawdown trough.
 */
function millionPointCurve(): { equity: Float64Array; max: number; min: number; trough: number } {
  const n = 1_000_000;
  const equity = new Float64Array(n);
  let seed = 12345;
  let value = 10_000;
  let top = -Infinity;
  let bottom = Infinity;
  for (let i = 0; i < n; i++) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    value += (seed / 2 ** 32 - 0.5) * 2;
    equity[i] = value;
    top = Math.max(top, value);
    bottom = Math.min(bottom, value);
  }
  const planted = { min: 177_773, max: 500_001, trough: 500_003 };
  equity[planted.min] = bottom - 400;
  equity[planted.max] = top + 3_000;
  equity[planted.trough] = bottom - 300;
  return { equity, ...planted };
}

describe("downsampleEquity", () => {
  test("a 1M-point curve keeps its global max, global min and max-drawdown trough within maxPoints", () => {
    const curve = millionPointCurve();
    const drawdown = drawdownOf(curve.equity);
    const picked = downsampleEquity(curve.equity, drawdown, 2000);
    const kept = new Set(picked.indices);

    let argMax = 0;
    let argMin = 0;
    let argDeep = 0;
    for (let i = 1; i < curve.equity.length; i++) {
      if (curve.equity[i]! > curve.equity[argMax]!) argMax = i;
      if (curve.equity[i]! < curve.equity[argMin]!) argMin = i;
      if (drawdown[i]! > drawdown[argDeep]!) argDeep = i;
    }
    assert.equal(argMax, curve.max);
    assert.equal(argMin, curve.min);
    assert.equal(argDeep, curve.trough);

    assert.ok(picked.indices.length <= 2000, `${picked.indices.length} points`);
    assert.ok(picked.indices.length > 1000, "the budget is used, not wasted");
    assert.ok(kept.has(argMax), "global max kept");
    assert.ok(kept.has(argMin), "global min kept");
    assert.ok(kept.has(argDeep), "max-drawdown trough kept");
    assert.ok(kept.has(curve.max), "the peak the max drawdown started from kept");
    assert.ok(kept.has(0) && kept.has(curve.equity.length - 1), "first and last points kept");
    assert.equal(picked.maxIndex, argMax);
    assert.equal(picked.minIndex, argMin);
    assert.equal(picked.maxDrawdownIndex, argDeep);
    assert.equal(picked.maxDrawdownPeakIndex, curve.max);
  });

  test("kept indices are ascending and unique, and so are the drawdown outline's", () => {
    const curve = millionPointCurve();
    const picked = downsampleEquity(curve.equity, drawdownOf(curve.equity), 3000);
    for (const indices of [picked.indices, picked.drawdownIndices]) {
      for (let i = 1; i < indices.length; i++) assert.ok(indices[i]! > indices[i - 1]!, `index ${i} out of order`);
    }
    assert.ok(picked.drawdownIndices.includes(picked.maxDrawdownIndex));
    assert.ok(picked.drawdownIndices.length <= picked.indices.length);
  });

  test("every local extreme of each range survives: a spike in any range shows up", () => {
    const n = 100_000;
    const equity = new Float64Array(n).fill(100);
    const spikes = [17, 25_013, 49_999, 73_331, 99_998];
    spikes.forEach((i, k) => (equity[i] = k % 2 ? 40 : 160));
    const picked = downsampleEquity(equity, drawdownOf(equity), 500);
    for (const i of spikes) assert.ok(picked.indices.includes(i), `spike at ${i} kept`);
  });

  test("a drawdown trough that is neither the lowest nor the highest equity of its range is kept", () => {
    // 90 is the range's low and 1000 its high; the deepest drawdown is the 400 after the new high.
    const equity = new Float64Array(10_000).fill(100);
    equity.set([90, 1000, 400], 5003);
    equity.fill(1000, 5006);
    const picked = downsampleEquity(equity, drawdownOf(equity), 1000);
    assert.equal(picked.maxDrawdownIndex, 5005);
    assert.ok(picked.indices.includes(5005));
    assert.ok(picked.drawdownIndices.includes(5005));
  });

  test("recovery is the first bar back at the peak after the trough, or -1 when equity never gets back", () => {
    const recovered = Float64Array.of(100, 120, 90, 110, 125, 130);
    const a = downsampleEquity(recovered, drawdownOf(recovered), 16);
    assert.deepEqual([a.maxDrawdownPeakIndex, a.maxDrawdownIndex, a.recoveryIndex], [1, 2, 4]);
    const underwater = Float64Array.of(100, 120, 90, 110);
    assert.equal(downsampleEquity(underwater, drawdownOf(underwater), 16).recoveryIndex, -1);
    const rising = Float64Array.of(1, 2, 3);
    assert.equal(downsampleEquity(rising, drawdownOf(rising), 16).recoveryIndex, -1);
  });

  test("a curve within maxPoints keeps every point", () => {
    const equity = Float64Array.from({ length: 50 }, (_, i) => 100 + Math.sin(i));
    const picked = downsampleEquity(equity, drawdownOf(equity), 50);
    assert.deepEqual([...picked.indices], [...Array(50).keys()]);
    assert.deepEqual([...picked.drawdownIndices], [...Array(50).keys()]);
  });

  test("NaN or infinite values, an empty curve, unequal columns and a tiny budget are MlflowValidationErrors naming the problem", () => {
    const ok = Float64Array.of(1, 2, 3);
    const withNaN = Float64Array.of(1, NaN, 3);
    assert.throws(() => downsampleEquity(withNaN, new Float64Array(3), 16), (err) =>
      err instanceof MlflowValidationError && err.field === "equityCurve.equity[1]" && /NaN/.test(err.message));
    assert.throws(() => downsampleEquity(ok, Float64Array.of(0, Infinity, 0), 16), (err) =>
      err instanceof MlflowValidationError && err.field === "equityCurve.drawdownPct[1]");
    assert.throws(() => downsampleEquity(new Float64Array(0), new Float64Array(0), 16), (err) =>
      err instanceof MlflowValidationError && err.field === "equityCurve" && /empty/.test(err.message));
    assert.throws(() => downsampleEquity(ok, new Float64Array(2), 16), (err) =>
      err instanceof MlflowValidationError && err.field === "equityCurve.drawdownPct");
    assert.throws(() => downsampleEquity(ok, new Float64Array(3), 8), (err) =>
      err instanceof MlflowValidationError && err.field === "maxPoints");
  });
});
