/**
 * The flags every command shares: where the run goes (tracking URI,
 * experiment, run name), its params and tags, stat naming, output as JSON.
 *
 * @module
 */
import type { Dataset } from "../dataset_inputs.ts";
import type { RunOptions } from "../run.ts";
import type { StatsNaming } from "../stats.ts";
import { MlflowValidationError } from "../errors.ts";
import { type FlagSpec, keyValues, type ParsedArgs } from "./args.ts";

/** Flags of every command. */
export const RUN_FLAGS: readonly FlagSpec[] = [
  { name: "experiment", value: "NAME", help: "experiment name, created when missing (default: MLFLOW_EXPERIMENT_NAME, else Default)" },
  { name: "run-name", value: "NAME", help: "run name (default: a random one)" },
  { name: "tracking-uri", value: "URI", help: "http(s)://host:port, file:./mlruns or a folder (default: MLFLOW_TRACKING_URI, else ./mlruns)" },
  { name: "param", value: "K=V", repeat: true, help: "a param of the run" },
  { name: "tag", value: "K=V", repeat: true, help: "a tag of the run" },
  { name: "dataset", value: "FILE|URL", help: "the bars the backtest ran on (CSV file or URL), logged as the run's dataset input; digested as it streams" },
  { name: "stats-naming", value: "STYLE", help: "rename stat keys: snake_case or camelCase (default: as given)" },
  { name: "json", help: "print the result as one line of JSON" },
];

const NAMINGS = ["as-given", "snake_case", "camelCase"];

/** The run-level options the shared flags give. */
export interface RunFlags {
  /** Where the run goes, its name and tags. */
  run: Pick<RunOptions, "trackingUri" | "experiment" | "runName" | "tags">;
  /** `--param` pairs; `undefined` when none was given. */
  params: Record<string, string> | undefined;
  /** `--stats-naming`. */
  statsNaming: StatsNaming | undefined;
  /** `--json`. */
  json: boolean;
  /** `--dataset`: a CSV file or URL of the bars. */
  dataset: string | undefined;
}

/**
 * Reads the shared flags.
 *
 * @param args Parsed arguments.
 * @returns The run options, params, stat naming and output format.
 * @throws {MlflowValidationError} On a malformed `--param` / `--tag` or an unknown `--stats-naming`.
 * @example Experiment, params and tags
 * ```ts
 * import { parseArgs } from "./args.ts";
 * import { RUN_FLAGS, runFlags } from "./run_flags.ts";
 * const flags = runFlags(parseArgs(["--experiment", "sma", "--param", "fast=10", "--tag", "data=btc"], RUN_FLAGS, "log"));
 * if (flags.run.experiment !== "sma" || flags.params?.fast !== "10" || flags.run.tags === undefined) throw new Error();
 * ```
 */
export function runFlags(args: ParsedArgs): RunFlags {
  const text = (name: string): string | undefined => {
    const value = args.flags.get(name);
    return typeof value === "string" ? value : undefined;
  };
  const list = (name: string): string[] | undefined => {
    const value = args.flags.get(name);
    return Array.isArray(value) ? value : undefined;
  };
  const naming = text("stats-naming");
  if (naming !== undefined && !NAMINGS.includes(naming)) {
    throw new MlflowValidationError("--stats-naming", `is '${naming}'; pass snake_case, camelCase or as-given`);
  }
  const tags = list("tag");
  const params = list("param");
  const run: RunFlags["run"] = {};
  if (text("tracking-uri") !== undefined) run.trackingUri = text("tracking-uri")!;
  if (text("experiment") !== undefined) run.experiment = text("experiment")!;
  if (text("run-name") !== undefined) run.runName = text("run-name")!;
  if (tags !== undefined) run.tags = keyValues(tags, "--tag");
  return {
    run,
    params: params === undefined ? undefined : keyValues(params, "--param"),
    statsNaming: naming as StatsNaming | undefined,
    json: args.flags.get("json") === true,
    dataset: text("dataset"),
  };
}

/**
 * The dataset `--dataset` names, described as `describeBars` describes a
 * file or URL: read once as it streams, digested, its schema and time span
 * taken. Nothing is read when the flag is absent.
 *
 * @param path The flag's value.
 * @param signal Stops reading.
 * @returns The dataset, or `undefined` without the flag.
 * @throws {MlflowValidationError} When the file or URL cannot be read as bars.
 * @example No flag, no dataset
 * ```ts
 * import { datasetFlag } from "./run_flags.ts";
 * if ((await datasetFlag(undefined)) !== undefined) throw new Error();
 * ```
 */
export async function datasetFlag(path: string | undefined, signal?: AbortSignal): Promise<Dataset | undefined> {
  if (path === undefined) return undefined;
  // Loaded here: --help and --version need none of it.
  const { describeBars } = await import("../dataset.ts");
  return await describeBars(path, signal ? { signal } : {});
}
