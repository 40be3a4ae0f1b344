/**
 * Run by test/tiering.test.ts in Node with V8's `--trace-wasm-compilation-times`:
 * draws one chart with this package's sources (Node's `#tiering`), then runs a
 * small WebAssembly loop instantiated afterwards hot enough to reach V8's
 * default tiering budget, so the trace shows which functions TurboFan
 * recompiled.
 *
 * @module
 */
import { renderEquityChart } from "../../src/chart.ts";

const n = 2000;
const timestampNs = new BigInt64Array(n);
const equity = new Float64Array(n);
for (let i = 0; i < n; i++) {
  timestampNs[i] = 1_704_067_200_000_000_000n + BigInt(i) * 60_000_000_000n;
  equity[i] = 100 + 10 * Math.sin(i / 50) + i / 100;
}
const chart = await renderEquityChart({ timestampNs, equity }, { title: "tiering" });
if (!chart.png) throw new Error("no PNG");

// (func (export "spin") (param i32) (result i32) (local i32)
//   loop  acc += n; n -= 1; br_if n  end  acc): a 27-byte body.
const SPIN = Uint8Array.of(
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  0x01, 0x06, 0x01, 0x60, 0x01, 0x7f, 0x01, 0x7f,
  0x03, 0x02, 0x01, 0x00,
  0x07, 0x08, 0x01, 0x04, 0x73, 0x70, 0x69, 0x6e, 0x00, 0x00,
  0x0a, 0x1d, 0x01, 0x1b,
  0x01, 0x01, 0x7f,
  0x03, 0x40,
  0x20, 0x01, 0x20, 0x00, 0x6a, 0x21, 0x01,
  0x20, 0x00, 0x41, 0x01, 0x6b, 0x21, 0x00,
  0x20, 0x00, 0x0d, 0x00,
  0x0b,
  0x20, 0x01,
  0x0b,
);
const { instance } = await WebAssembly.instantiate(SPIN);
const spin = instance.exports.spin as (n: number) => number;
// Three million turns in all: far past V8's default budget (1.8M on Node 20,
// 13M later) and far short of the budget resvg's instance starts with.
for (let i = 0; i < 3; i++) {
  spin(1_000_000);
  await new Promise((resolve) => setTimeout(resolve, 200));
}
