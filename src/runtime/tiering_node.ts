/**
 * Delayed optimisation of resvg's WebAssembly on V8 (Node's build). V8 runs
 * WebAssembly first as Liftoff code and recompiles a function with TurboFan, on
 * background threads, once it has spent a budget of work
 * (`--wasm-tiering-budget`, read when an instance is created). A process that
 * draws one chart spends more on that recompilation than it gets back: on
 * Node 20 with 2 cores, resvg's first render of a 100k-point backtest's chart
 * took 340-470 ms wall and 640-890 ms of CPU with V8's default budget,
 * 180-210 ms and 200-240 ms with a larger one; the whole first `logBacktest`
 * went from 1.06-1.15 s to 0.81-0.87 s (`bench/cold_start.ts`'s one-shot
 * process), and `bench/chart.ts`'s first 10k-point render from 465-550 ms
 * (820-1,000 ms of CPU) to 270-300 ms (350-420 ms). A sweep still gets
 * TurboFan's code: the hottest functions reach the larger budget after about
 * ten charts, and the budget V8 gives a function once it has been optimised
 * is the default again.
 *
 * The budget is a process-wide V8 flag, so it is raised only while resvg's
 * instance is created and put back right after, to the value the process was
 * started with. Another WebAssembly instance created in that window would also
 * start with the larger budget: it runs as before, optimised later.
 *
 * @module
 */
import process from "node:process";
import { setFlagsFromString } from "node:v8";

/**
 * V8's own default budget, read from `node --v8-options`: 1.8M on Node 20
 * (V8 11.3), 13M from Node 21 (V8 11.8) on, Node 22 (12.4) and 24 (13.6)
 * included.
 *
 * @param v8Version V8's version, as `process.versions.v8` gives it.
 * @returns The budget V8 starts a process with.
 * @example Node 20 and Node 22
 * ```ts
 * import { v8DefaultBudget } from "./tiering_node.ts";
 * if (v8DefaultBudget("11.3.244.8-node.38") !== 1_800_000 || v8DefaultBudget("12.4.254.21-node.57") !== 13_000_000) throw new Error();
 * ```
 */
export function v8DefaultBudget(v8Version: string = process.versions.v8): number {
  const [major = 0, minor = 0] = v8Version.split(".").map(Number);
  return major > 11 || (major === 11 && minor >= 8) ? 13_000_000 : 1_800_000;
}

/**
 * Budget for resvg's functions: about 330 times Node 20's default, 46 times
 * Node 22's. No function of a first chart reaches it (during a first
 * 2,000-point chart, with Node 20's default, 74 are recompiled; with 100M, 7;
 * 300M, 3; from 600M, none; on Node 22 and 24, 35-36 with their default and
 * none with this: `--trace-wasm-compilation-times`); the hottest do after
 * about ten charts. Until they do, a render costs 5-10% more than TurboFan's
 * code (`bench/chart.ts` warm medians on Node 20: 10k points 76-77 -> 76-86 ms,
 * 1M points 93-102 -> 99-101 ms).
 *
 * @example Far above V8's default
 * ```ts
 * import { RESVG_TIERING_BUDGET } from "./tiering_node.ts";
 * if (RESVG_TIERING_BUDGET <= 1_800_000 || RESVG_TIERING_BUDGET > 2 ** 31 - 1) throw new Error("not a larger int32 budget");
 * ```
 */
export const RESVG_TIERING_BUDGET = 600_000_000;

/**
 * The budget the process was started with: the last `--wasm-tiering-budget` of
 * its V8 options, else V8's default ({@link v8DefaultBudget}).
 *
 * @param execArgv The process's runtime options.
 * @returns The budget to restore.
 * @example Read from the options
 * ```ts
 * import { startingBudget, v8DefaultBudget } from "./tiering_node.ts";
 * if (startingBudget(["--wasm-tiering-budget=5000"]) !== 5000 || startingBudget([]) !== v8DefaultBudget()) throw new Error();
 * ```
 */
export function startingBudget(execArgv: readonly string[] = process.execArgv): number {
  let budget = v8DefaultBudget();
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i]!.replaceAll("_", "-");
    const value = arg.startsWith("--wasm-tiering-budget=")
      ? arg.slice("--wasm-tiering-budget=".length)
      : arg === "--wasm-tiering-budget"
      ? execArgv[i + 1]
      : undefined;
    if (value !== undefined && /^\d+$/.test(value)) budget = Number(value);
  }
  return budget;
}

function setBudget(budget: number): void {
  try {
    setFlagsFromString(`--wasm-tiering-budget=${budget}`);
  } catch {
    // A runtime that refuses V8 flags keeps its own tiering; the chart is the same.
  }
}

/**
 * Creates resvg's WebAssembly instance with V8's optimising tier held back
 * (see the module's documentation), then restores the process's budget.
 *
 * @param instantiate Creates the instance.
 * @returns What `instantiate` returns.
 * @example Around any instantiation
 * ```ts
 * import { withDelayedTierUp } from "./tiering_node.ts";
 * const bytes = Uint8Array.of(0, 97, 115, 109, 1, 0, 0, 0);
 * const { instance } = await withDelayedTierUp(() => WebAssembly.instantiate(bytes));
 * if (!(instance instanceof WebAssembly.Instance)) throw new Error();
 * ```
 */
export async function withDelayedTierUp<T>(instantiate: () => Promise<T>): Promise<T> {
  const starting = startingBudget();
  if (starting >= RESVG_TIERING_BUDGET) return await instantiate();
  setBudget(RESVG_TIERING_BUDGET);
  try {
    return await instantiate();
  } finally {
    setBudget(starting);
  }
}
