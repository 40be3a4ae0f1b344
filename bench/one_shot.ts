/**
 * One backtest logged with its chart in a fresh process, as most users run it.
 * Prints how long the import took, how long the first `logBacktest` took once
 * imported, both together (import to run id) and the time since the process
 * started, and the CPU time (whole process, and main thread alone) of the call
 * and of import plus call. Started by bench/cold_start.ts; `FLOX_MLFLOW_ENTRY` names the module
 * to measure (default: the sources' `mod.ts`).
 *
 * @module
 */
import { readFileSync } from "node:fs";
import process from "node:process";
import { backtestOfSize } from "./fixtures.ts";

type Entry = typeof import("../mod.ts");
const trackingUri = process.argv[2];
const backtest = backtestOfSize(100_000, 10_000);
/**
 * CPU time of the main thread alone (Linux, 10 ms ticks): what the call itself costs, without
 * the engine's background threads (wasm tier-up, GC), and far less stretched than wall time
 * when other work shares the cores.
 */
function mainThreadCpuMs(): number {
  const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

const mainStart = mainThreadCpuMs();
const cpuStart = process.cpuUsage();
const start = performance.now();
const { logBacktest }: Entry = await import(process.env.FLOX_MLFLOW_ENTRY ?? "../mod.ts");
const imported = performance.now();
const cpuImported = process.cpuUsage();
const mainImported = mainThreadCpuMs();
await logBacktest({ trackingUri, env: {}, experiment: "cold-start", runName: "one-shot", ...backtest });
const end = performance.now();
const mainEnd = mainThreadCpuMs();
// CPU time of the whole process (every thread), which a busy machine stretches less than wall time.
const cpuMs = (from: NodeJS.CpuUsage): number => {
  const used = process.cpuUsage(from);
  return Math.round((used.user + used.system) / 1000);
};
console.log(JSON.stringify({
  import_ms: Math.round(imported - start),
  first_log_backtest_ms: Math.round(end - imported),
  log_backtest_ms: Math.round(end - start),
  first_log_backtest_cpu_ms: cpuMs(cpuImported),
  import_to_run_id_cpu_ms: cpuMs(cpuStart),
  first_log_backtest_main_thread_cpu_ms: mainEnd - mainImported,
  import_to_run_id_main_thread_cpu_ms: mainEnd - mainStart,
  since_process_start_ms: Math.round(end),
}));
