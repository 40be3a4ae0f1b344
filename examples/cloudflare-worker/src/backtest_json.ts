/**
 * Reads a backtest result posted as JSON, including what Python's
 * `json.dumps` writes for FLOX results: bare `NaN`, `Infinity` and
 * `-Infinity` (a profit factor without losing trades, the Sharpe ratio of a
 * flat curve) become those numbers, and integers beyond 2^53 (nanosecond
 * times) become BigInts, so no digit is lost on the way to MLflow.
 *
 * @module
 */
import { type EquityCurveInput, MlflowValidationError, type TradesInput } from "../../../mod.ts";

/** The body the Worker accepts. Every field is optional; the server's env decides where it goes. */
export interface BacktestRequest {
  /** Run name; MLflow-style random name when absent. */
  runName?: string;
  /** Experiment name; default `MLFLOW_EXPERIMENT_NAME`, else MLflow's Default. */
  experiment?: string;
  /** Markdown description of the run. */
  description?: string;
  /** Backtest statistics (finite numbers become metrics, the rest tags). */
  stats?: Record<string, unknown>;
  /** Strategy parameters. */
  params?: Record<string, unknown>;
  /** Run tags. */
  tags?: Record<string, unknown>;
  /** `{timestamp_ns, equity, drawdown_pct}` rows or `{timestampNs, equity, drawdownPct}` columns. */
  equityCurve?: EquityCurveInput;
  /** Trade rows or columns. */
  trades?: TradesInput;
}

// Strings are matched first so nothing inside them is touched; a number is only
// rewritten when it is not the tail of another (a fraction or an exponent).
const SPECIAL_TOKENS = /"(?:[^"\\]|\\.)*"|(?<![\w.+-])-?(?:NaN|Infinity|\d{16,})(?![\w.])/g;
const MARK = "\u0000flox-number:";
const OBJECT_FIELDS = ["stats", "params", "tags"] as const;
const STRING_FIELDS = ["runName", "experiment", "description"] as const;

function revive(_key: string, value: unknown): unknown {
  if (typeof value !== "string" || !value.startsWith(MARK)) return value;
  const token = value.slice(MARK.length);
  if (token.endsWith("NaN")) return NaN;
  if (token.endsWith("Infinity")) return token.startsWith("-") ? -Infinity : Infinity;
  const big = BigInt(token);
  return big > BigInt(Number.MAX_SAFE_INTEGER) || big < BigInt(Number.MIN_SAFE_INTEGER) ? big : Number(big);
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * Parses and shape-checks a posted backtest result. Only the fields of
 * {@link BacktestRequest} are kept: a caller cannot choose the tracking
 * server or read files.
 *
 * @param text The request body.
 * @returns The backtest, ready for `logBacktest`.
 * @throws {MlflowValidationError} When the body is not JSON or a field has the wrong type.
 * @example A FLOX stats dict from Python
 * ```ts
 * import { parseBacktestJson } from "./backtest_json.ts";
 * const body = parseBacktestJson('{"stats": {"profit_factor": Infinity, "start_time_ns": 1704067200000000001}}');
 * if (body.stats!.profit_factor !== Infinity || body.stats!.start_time_ns !== 1704067200000000001n) throw new Error();
 * ```
 */
export function parseBacktestJson(text: string): BacktestRequest {
  let parsed: unknown;
  try {
    const marked = text.replace(SPECIAL_TOKENS, (token) => (token.startsWith('"') ? token : JSON.stringify(MARK + token)));
    parsed = JSON.parse(marked, revive);
  } catch (error) {
    throw new MlflowValidationError("body", `is not valid JSON (${(error as Error).message}); send the backtest as a JSON object`);
  }
  if (!isRecord(parsed)) {
    throw new MlflowValidationError("body", "must be a JSON object with stats, params, equityCurve, trades, ...");
  }
  const request: BacktestRequest = {};
  for (const field of STRING_FIELDS) {
    const value = parsed[field];
    if (value === undefined || value === null) continue;
    if (typeof value !== "string") throw new MlflowValidationError(field, "must be a string");
    request[field] = value;
  }
  for (const field of OBJECT_FIELDS) {
    const value = parsed[field];
    if (value === undefined || value === null) continue;
    if (!isRecord(value)) throw new MlflowValidationError(field, "must be a JSON object of names to values");
    request[field] = value;
  }
  // The library checks the curve and the trades in depth; here only that they are rows or columns.
  if (parsed.equityCurve !== undefined && parsed.equityCurve !== null) {
    if (typeof parsed.equityCurve !== "object") {
      throw new MlflowValidationError("equityCurve", "must be an array of {timestamp_ns, equity, drawdown_pct} rows or an object of columns");
    }
    request.equityCurve = parsed.equityCurve as EquityCurveInput;
  }
  if (parsed.trades !== undefined && parsed.trades !== null) {
    if (typeof parsed.trades !== "object") {
      throw new MlflowValidationError("trades", "must be an array of trade rows or an object of columns");
    }
    request.trades = parsed.trades as TradesInput;
  }
  return request;
}
