/**
 * The JSON files `flox-mlflow grid` and `flox-mlflow walk-forward` read.
 *
 * Grid: an array of cells, or `{"axes": [...], "results": [...]}`. A cell
 * is FLOX Node's `GridSearch.run()` item `{index, params: [values in axis
 * order], stats}` or FLOX Python's `{params: {name: value}, stats}`, with an
 * optional `equityCurve` (or `equity_curve`) and `trades`.
 *
 * Walk-forward: an array of folds, or `{"folds": [...]}`. A fold is FLOX's
 * `WalkForwardRunner` output in camelCase (Node: `foldIndex`, `trainStartBar`,
 * `trainStartNs`, ..., `trainStats`, `testStats`) or snake_case (Python), with
 * optional `params`, `equityCurve` and `trades`.
 *
 * @module
 */
import { MlflowValidationError } from "../errors.ts";
import { nearestKey } from "../option_keys.ts";
import type { GridCell, WalkForwardFold } from "../sweep.ts";
import { parseBacktestJson } from "./json_input.ts";

const CELL_KEYS = ["index", "params", "stats", "equityCurve", "equity_curve", "trades", "symbolNames", "equityMetric"];
const FOLD_KEYS = [
  "foldIndex", "fold_index", "params", "equityCurve", "equity_curve", "trades", "symbolNames", "equityMetric",
  ...["train", "test"].flatMap((w) => [
    `${w}StartBar`, `${w}_start_bar`, `${w}EndBar`, `${w}_end_bar`,
    `${w}StartNs`, `${w}_start_ns`, `${w}EndNs`, `${w}_end_ns`, `${w}Stats`, `${w}_stats`,
  ]),
];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

// Items keep only known keys (a typo is an error naming the key meant); equity_curve becomes equityCurve.
function items(list: unknown[], field: string, known: readonly string[], what: string): Record<string, unknown>[] {
  return list.map((item, i) => {
    if (!isObject(item)) throw new MlflowValidationError(`${field}[${i}]`, `must be an object (${what})`);
    for (const key of Object.keys(item)) {
      if (known.includes(key)) continue;
      const near = nearestKey(key, known);
      throw new MlflowValidationError(
        `${field}[${i}].${key}`,
        `is not a field of ${what}; ${near === undefined ? `the fields are ${known.join(", ")}` : `did you mean '${near}'?`}`,
      );
    }
    if ("equity_curve" in item) {
      if ("equityCurve" in item) throw new MlflowValidationError(`${field}[${i}]`, "has both equityCurve and equity_curve; give one");
      const { equity_curve, ...rest } = item;
      return { ...rest, equityCurve: equity_curve };
    }
    return item;
  });
}

function unwrap(value: unknown, field: string, listKey: string, extraKeys: readonly string[]): { list: unknown[]; top: Record<string, unknown> } {
  if (Array.isArray(value)) return { list: value, top: {} };
  if (isObject(value) && Array.isArray(value[listKey])) {
    const known = [listKey, ...extraKeys];
    for (const key of Object.keys(value)) {
      if (!known.includes(key)) {
        const near = nearestKey(key, known);
        throw new MlflowValidationError(`${field}.${key}`, `is not a field of the file; ${near === undefined ? `the fields are ${known.join(", ")}` : `did you mean '${near}'?`}`);
      }
    }
    return { list: value[listKey] as unknown[], top: value };
  }
  throw new MlflowValidationError(field, `must hold a JSON array, or an object with '${listKey}' holding one`);
}

/**
 * Reads a grid file.
 *
 * @param text The file's text.
 * @param field What the file is, for errors (`results`).
 * @returns The cells, and the axis names when the file names them.
 * @throws {MlflowValidationError} On JSON that cannot be read, a file of another shape, or a cell with an unknown field.
 * @example FLOX Node GridSearch output with its axes
 * ```ts
 * import { readGridInput } from "./sweep_inputs.ts";
 * const grid = readGridInput('{"axes": ["fast", "slow"], "results": [{"index": 0, "params": [10, 30], "stats": {"sharpeRatio": 1.1}}]}', "results");
 * if (grid.axes?.[1] !== "slow" || grid.results.length !== 1) throw new Error();
 * ```
 */
export function readGridInput(text: string, field: string): { results: GridCell[]; axes: string[] | undefined } {
  const { list, top } = unwrap(parseBacktestJson(text, field), field, "results", ["axes"]);
  const axes = top.axes;
  if (axes !== undefined && (!Array.isArray(axes) || !axes.every((a) => typeof a === "string"))) {
    throw new MlflowValidationError(`${field}.axes`, "must be an array of axis names");
  }
  return { results: items(list, field, CELL_KEYS, "a grid cell") as GridCell[], axes: axes as string[] | undefined };
}

/**
 * Reads a walk-forward file.
 *
 * @param text The file's text.
 * @param field What the file is, for errors (`folds`).
 * @returns The folds.
 * @throws {MlflowValidationError} On JSON that cannot be read, a file of another shape, or a fold with an unknown field.
 * @example FLOX Python folds in snake_case
 * ```ts
 * import { readFoldsInput } from "./sweep_inputs.ts";
 * const folds = readFoldsInput('[{"fold_index": 0, "train_stats": {"sharpe_ratio": NaN}, "test_stats": {"sharpe_ratio": 0.4}}]', "folds");
 * if (folds.length !== 1) throw new Error();
 * ```
 */
export function readFoldsInput(text: string, field: string): WalkForwardFold[] {
  const { list } = unwrap(parseBacktestJson(text, field), field, "folds", []);
  return items(list, field, FOLD_KEYS, "a walk-forward fold") as WalkForwardFold[];
}
