/**
 * `flox-mlflow walk-forward`: walk-forward folds logged as a parent run with
 * one child per fold; prints the parent run id.
 *
 * @module
 */
import { MlflowValidationError } from "../errors.ts";
import { parseArgs } from "./args.ts";
import type { CliContext, Command } from "./command.ts";
import { jsonLine } from "./output.ts";
import { readSource } from "./sources.ts";
import { datasetFlag } from "./run_flags.ts";
import { failuresJson, reportFailures, SWEEP_FLAGS, sweepOptions } from "./sweep_flags.ts";
import { readFoldsInput } from "./sweep_inputs.ts";

const NAME = "flox-mlflow walk-forward";

/** The `walk-forward` command. */
export const WALK_FORWARD_COMMAND: Command = {
  name: "walk-forward",
  summary: "log walk-forward folds: a parent run and one child per fold",
  usage: `Usage: ${NAME} FOLDS.json [options]

Logs walk-forward folds as a parent run with one child run per fold (fold-0,
fold-1, ...: train.* and test.* stats, bar bounds as params, time bounds as
tags) and prints the parent's run id. The parent gets the folds' means
(train.mean.*, test.mean.*). FOLDS.json may be - (standard input).`,
  flags: SWEEP_FLAGS,
  notes: `FOLDS.json is an array of folds, or {"folds": [...]}. A fold is FLOX's
WalkForwardRunner output: camelCase from Node (foldIndex, trainStartBar,
trainEndBar, testStartBar, testEndBar, trainStartNs, ..., trainStats,
testStats) or snake_case from Python (fold_index, train_start_bar, ...,
train_stats, test_stats), with optional "params", "equityCurve" and "trades".

Example:
  ${NAME} folds.json --experiment sma --run-name wf-2024`,
  run: runWalkForward,
};

async function runWalkForward(argv: readonly string[], context: CliContext): Promise<number> {
  // Loaded here, not at the top: --help and --version need none of it.
  const { logWalkForward } = await import("../sweep.ts");
  const args = parseArgs(argv, SWEEP_FLAGS, NAME);
  const [path, ...extra] = args.positionals;
  if (path === undefined) throw new MlflowValidationError("folds", "is required: the folds as JSON (a file, or - for standard input)");
  if (extra.length) throw new MlflowValidationError(extra[0]!, `is one argument too many; ${NAME} reads one folds file`);
  const { options, json, dataset: datasetPath, finish } = sweepOptions(args, context, NAME, "folds");
  const dataset = await datasetFlag(datasetPath, context.signal);
  if (dataset !== undefined) options.dataset = dataset;
  const folds = readFoldsInput(await readSource(path, "folds", context.stdin), "folds");
  let result;
  try {
    result = await logWalkForward({ ...options, folds });
  } finally {
    finish();
  }
  const { parentRunId, childRunIds, means, failed } = result;
  context.stderr.write(`${NAME}: ${childRunIds.length - failed.length} of ${childRunIds.length} folds logged under run ${parentRunId}\n`);
  context.stdout(
    json ? jsonLine({ parentRunId, childRunIds: childRunIds.map((id) => id ?? null), means, failed: failuresJson(failed) }) : `${parentRunId}\n`,
  );
  return reportFailures(failed, context, NAME);
}
