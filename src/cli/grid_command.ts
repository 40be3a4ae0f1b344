/**
 * `flox-mlflow grid`: a parameter sweep's results logged as a parent run with
 * one child per cell; prints the parent run id.
 *
 * @module
 */
import { MlflowValidationError } from "../errors.ts";
import { type FlagSpec, parseArgs } from "./args.ts";
import type { CliContext, Command } from "./command.ts";
import { jsonLine } from "./output.ts";
import { readSource } from "./sources.ts";
import { datasetFlag } from "./run_flags.ts";
import { failuresJson, reportFailures, SWEEP_FLAGS, sweepOptions } from "./sweep_flags.ts";
import { readGridInput } from "./sweep_inputs.ts";

const NAME = "flox-mlflow grid";

const FLAGS: readonly FlagSpec[] = [
  { name: "axes", value: "A,B", help: "param names for positional params, in GridSearch.addAxis order (default: the file's axes)" },
  { name: "metric", value: "STAT", help: "stat that picks the best cell (default: sharpeRatio or sharpe_ratio)" },
  { name: "mode", value: "max|min", help: "whether the best cell has the largest or smallest value (default max)" },
  ...SWEEP_FLAGS,
];

/** The `grid` command. */
export const GRID_COMMAND: Command = {
  name: "grid",
  summary: "log a grid search: a parent run and one child per cell",
  usage: `Usage: ${NAME} RESULTS.json [--axes fast,slow] [--metric STAT --mode max|min] [options]

Logs a parameter sweep as a parent run with one nested child run per cell
(named from its params, fast=10,slow=30) and prints the parent's run id. The
parent gets the best cell's params and stats (best.*) and the tag best_run_id.
RESULTS.json may be - (standard input).`,
  flags: FLAGS,
  notes: `RESULTS.json is an array of cells, or {"axes": [...], "results": [...]}. A cell is
FLOX Node's GridSearch.run() item {"index": 0, "params": [10, 30], "stats": {...}}
(params in axis order: give --axes or "axes") or {"params": {"fast": 10}, "stats":
{...}} with named params; it may carry "equityCurve" and "trades".

A cell that fails to log does not stop the others: it is reported on standard
error, and the exit code is that of the first failure (the rest is logged).

Example:
  node grid.mjs | ${NAME} - --axes fast,slow --metric sharpeRatio --experiment sma`,
  run: runGrid,
};

async function runGrid(argv: readonly string[], context: CliContext): Promise<number> {
  // Loaded here, not at the top: --help and --version need none of it.
  const { logGrid } = await import("../sweep.ts");
  const args = parseArgs(argv, FLAGS, NAME);
  const [path, ...extra] = args.positionals;
  if (path === undefined) throw new MlflowValidationError("results", "is required: the grid's results as JSON (a file, or - for standard input)");
  if (extra.length) throw new MlflowValidationError(extra[0]!, `is one argument too many; ${NAME} reads one results file`);
  const mode = args.flags.get("mode") as string | undefined;
  if (mode !== undefined && mode !== "max" && mode !== "min") throw new MlflowValidationError("--mode", `is '${mode}'; pass max or min`);
  const axesFlag = args.flags.get("axes") as string | undefined;
  const flagAxes = axesFlag?.split(",").map((a) => a.trim());
  if (flagAxes?.some((a) => a === "")) throw new MlflowValidationError("--axes", `is '${axesFlag}'; pass names separated by commas, e.g. fast,slow`);
  const { options, json, dataset: datasetPath, finish } = sweepOptions(args, context, NAME, "cells");
  const dataset = await datasetFlag(datasetPath, context.signal);
  if (dataset !== undefined) options.dataset = dataset;
  const input = readGridInput(await readSource(path, "results", context.stdin), "results");
  const axes = flagAxes ?? input.axes;
  const metric = args.flags.get("metric") as string | undefined;

  let result;
  try {
    result = await logGrid({
      ...options,
      results: input.results,
      ...(axes !== undefined ? { axes } : {}),
      ...(metric !== undefined ? { metric } : {}),
      ...(mode !== undefined ? { direction: mode } : {}),
    });
  } finally {
    finish();
  }
  const { parentRunId, childRunIds, best, failed } = result;
  const logged = childRunIds.length - failed.length;
  context.stderr.write(
    `${NAME}: ${logged} of ${childRunIds.length} cells logged under run ${parentRunId}` +
      (best ? `; best ${best.runName} (${best.metric} = ${best.value}), run ${best.runId}\n` : "\n"),
  );
  context.stdout(
    json
      ? jsonLine({ parentRunId, childRunIds: childRunIds.map((id) => id ?? null), best: best ?? null, failed: failuresJson(failed) })
      : `${parentRunId}\n`,
  );
  return reportFailures(failed, context, NAME);
}
