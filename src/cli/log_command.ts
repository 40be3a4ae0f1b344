/**
 * `flox-mlflow log`: one backtest's files (stats, equity curve, trades,
 * report, other artifacts) logged as one run; prints the run id.
 *
 * @module
 */
import type { BacktestData } from "../backtest.ts";
import { MlflowValidationError } from "../errors.ts";
import { type FlagSpec, parseArgs } from "./args.ts";
import type { CliContext, Command } from "./command.ts";
import { EXIT } from "./exit_codes.ts";
import { readEquity, readStats, readTrades } from "./inputs.ts";
import { jsonLine } from "./output.ts";
import { datasetFlag, RUN_FLAGS, runFlags } from "./run_flags.ts";
import { checkOneStdin, readSource } from "./sources.ts";

const NAME = "flox-mlflow log";

const FLAGS: readonly FlagSpec[] = [
  { name: "stats", value: "FILE", help: "stats as JSON (required; - reads standard input)" },
  { name: "equity", value: "FILE", help: "equity curve, JSON rows or columns, or CSV timestamp_ns,equity,drawdown_pct" },
  { name: "trades", value: "FILE", help: "trades, JSON rows or columns, or CSV with a header" },
  { name: "symbols", value: "A,B", help: "symbol names for numeric symbol ids in the trades, in id order (FLOX Node)" },
  { name: "report", value: "FILE", help: "an HTML report, logged under its own name" },
  { name: "artifact", value: "FILE", repeat: true, help: "another file to log, under its own name" },
  { name: "no-chart", help: "skip the equity chart (PNG and SVG)" },
  ...RUN_FLAGS,
];

/** The `log` command. */
export const LOG_COMMAND: Command = {
  name: "log",
  summary: "log one backtest (stats, equity curve, trades, report) as one run",
  usage: `Usage: ${NAME} --stats FILE [--equity FILE] [--trades FILE] [options]

Logs one backtest as one MLflow run and prints its id: finite stats become
metrics, NaN/Infinity and text become tags, the equity curve and trades become
equity_curve.csv and trades.csv (plus the equity chart), --param and --tag the
run's params and tags. Everything is read and checked before the run is created.`,
  flags: FLAGS,
  notes: `Inputs are read as each FLOX binding writes them: Python's json.dumps (bare
NaN and Infinity; 19-digit nanosecond integers are kept exact), Node's
JSON.stringify (BigInts as strings, typed arrays as arrays), and CSV. One input
may be -, read from standard input.

Example:
  python backtest.py | ${NAME} --stats - --equity equity.csv --experiment sma --param fast=10`,
  run: runLog,
};

async function runLog(argv: readonly string[], context: CliContext): Promise<number> {
  // Loaded here, not at the top: --help and --version need none of it.
  const { logBacktest } = await import("../run.ts");
  const args = parseArgs(argv, FLAGS, NAME);
  if (args.positionals.length > 0) {
    throw new MlflowValidationError(args.positionals[0]!, `is not an option of '${NAME}'; pass files with --stats, --equity, --trades`);
  }
  const shared = runFlags(args);
  const path = (name: string): string | undefined => args.flags.get(name) as string | undefined;
  const statsPath = path("stats");
  if (statsPath === undefined) throw new MlflowValidationError("--stats", "is required: the backtest's stats as JSON (- reads standard input)");
  checkOneStdin({ "--stats": statsPath, "--equity": path("equity"), "--trades": path("trades") });

  const data: BacktestData = {
    stats: readStats(await readSource(statsPath, "--stats", context.stdin), "--stats"),
    params: shared.params,
    htmlReport: path("report"),
    artifacts: args.flags.get("artifact") as string[] | undefined,
    statsNaming: shared.statsNaming,
    chart: args.flags.has("no-chart") ? false : undefined,
    onWarning: (message) => context.stderr.write(`${NAME}: warning: ${message}\n`),
  };
  const symbols = path("symbols");
  if (symbols !== undefined) data.symbolNames = symbols.split(",").map((s) => s.trim());
  const equityPath = path("equity");
  if (equityPath !== undefined) data.equityCurve = readEquity(equityPath, await readSource(equityPath, "--equity", context.stdin), "--equity");
  const tradesPath = path("trades");
  if (tradesPath !== undefined) data.trades = readTrades(tradesPath, await readSource(tradesPath, "--trades", context.stdin), "--trades");

  const dataset = await datasetFlag(shared.dataset, context.signal);
  const runOptions = { ...shared.run, ...(context.signal ? { signal: context.signal } : {}), ...(dataset ? { dataset } : {}) };
  const runId = await logBacktest({ ...runOptions, ...data });
  context.stdout(shared.json ? jsonLine({ runId }) : `${runId}\n`);
  return EXIT.ok;
}
