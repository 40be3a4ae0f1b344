/**
 * What `grid` and `walk-forward` share: their flags for how children are
 * logged, progress on standard error, and how failed cells set the exit code.
 *
 * @module
 */
import { MlflowValidationError } from "../errors.ts";
import type { SweepFailure, SweepOptions } from "../sweep.ts";
import type { FlagSpec, ParsedArgs } from "./args.ts";
import type { CliContext } from "./command.ts";
import { EXIT, exitCodeOf } from "./exit_codes.ts";
import { createProgress } from "./progress.ts";
import { errorReport, formatError } from "./report_error.ts";
import { RUN_FLAGS, runFlags } from "./run_flags.ts";

/** Flags of both sweep commands (the shared run flags included). */
export const SWEEP_FLAGS: readonly FlagSpec[] = [
  { name: "concurrency", value: "N", help: "children logged at once (default 8)" },
  { name: "fail-fast", help: "stop at the first cell that fails; the parent ends FAILED" },
  { name: "quiet", help: "no progress on standard error" },
  ...RUN_FLAGS,
];

/**
 * The options both sweeps take, from the flags: where the parent goes, its
 * params and tags, concurrency, progress and warnings on standard error.
 *
 * @param args Parsed arguments.
 * @param context The process's streams.
 * @param label The command, e.g. `flox-mlflow grid`.
 * @param what What is counted in progress, e.g. `cells`.
 * @returns The options, `--json`, and `finish()` to end the progress line.
 * @throws {MlflowValidationError} On a bad `--concurrency` or a shared flag's bad value.
 * @example Concurrency and a parent run name
 * ```ts
 * import { parseArgs } from "./args.ts";
 * import { SWEEP_FLAGS, sweepOptions } from "./sweep_flags.ts";
 * const context = { stdout() {}, stderr: { write() {}, isTTY: false }, stdin: async () => new Uint8Array() };
 * const { options } = sweepOptions(parseArgs(["--concurrency", "4", "--run-name", "g"], SWEEP_FLAGS, "grid"), context, "grid", "cells");
 * if (options.concurrency !== 4 || options.runName !== "g") throw new Error();
 * ```
 */
export function sweepOptions(
  args: ParsedArgs,
  context: CliContext,
  label: string,
  what: string,
): { options: SweepOptions; json: boolean; dataset: string | undefined; finish(): void } {
  const shared = runFlags(args);
  const options: SweepOptions = {
    ...shared.run,
    onWarning: (message) => context.stderr.write(`${label}: warning: ${message}\n`),
  };
  if (shared.params !== undefined) options.params = shared.params;
  if (shared.statsNaming !== undefined) options.statsNaming = shared.statsNaming;
  if (context.signal) options.signal = context.signal;
  if (args.flags.has("fail-fast")) options.failFast = true;
  const concurrency = args.flags.get("concurrency");
  if (typeof concurrency === "string") {
    const n = Number(concurrency);
    if (!/^\d+$/.test(concurrency) || n < 1) throw new MlflowValidationError("--concurrency", `is '${concurrency}'; pass a whole number of 1 or more`);
    options.concurrency = n;
  }
  const progress = createProgress(context.stderr, label, what);
  if (!args.flags.has("quiet")) options.onProgress = (done, total) => progress.update(done, total);
  return { options, json: shared.json, dataset: shared.dataset, finish: () => progress.finish() };
}

/**
 * Reports failed cells on standard error and picks the exit code: 0 when
 * every cell was logged, else the code of the first failure's kind (the
 * parent and the other cells are logged all the same).
 *
 * @param failed The sweep's failures.
 * @param context The process's streams.
 * @param label The command.
 * @returns The exit code.
 * @example No failures
 * ```ts
 * import { reportFailures } from "./sweep_flags.ts";
 * const context = { stdout() {}, stderr: { write() {}, isTTY: false }, stdin: async () => new Uint8Array() };
 * if (reportFailures([], context, "grid") !== 0) throw new Error();
 * ```
 */
export function reportFailures(failed: readonly SweepFailure[], context: CliContext, label: string): number {
  for (const f of failed) context.stderr.write(formatError(`${label}: ${f.runName} (#${f.index})`, f.error));
  return failed.length === 0 ? EXIT.ok : exitCodeOf(failed[0]!.error);
}

/**
 * Failures as `--json` prints them.
 *
 * @param failed The sweep's failures.
 * @returns Position, run name, run id (or null) and the error's fields.
 * @example One failure
 * ```ts
 * import { failuresJson } from "./sweep_flags.ts";
 * const [f] = failuresJson([{ index: 2, runName: "fast=5", runId: undefined, error: new Error("x") }]);
 * if (f!.runId !== null || f!.error.message !== "x") throw new Error();
 * ```
 */
export function failuresJson(failed: readonly SweepFailure[]): { index: number; runName: string; runId: string | null; error: ReturnType<typeof errorReport> }[] {
  return failed.map((f) => ({ index: f.index, runName: f.runName, runId: f.runId ?? null, error: errorReport(f.error) }));
}
