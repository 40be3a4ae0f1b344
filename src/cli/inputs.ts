/**
 * A backtest's files turned into what `logBacktest` takes: stats from JSON,
 * the equity curve and trades from JSON or CSV, as each FLOX binding writes
 * them.
 *
 * @module
 */
import type { EquityCurveInput } from "../equity.ts";
import { MlflowValidationError } from "../errors.ts";
import type { TradesInput } from "../trades.ts";
import { parseCsv } from "./csv_input.ts";
import { parseBacktestJson } from "./json_input.ts";

/**
 * Whether a file holds JSON or CSV: by its extension, else (standard input,
 * other names) by its first character.
 *
 * @param path The path given (`-` for standard input).
 * @param text The file's text.
 * @returns `"json"` or `"csv"`.
 * @example Standard input holding JSON
 * ```ts
 * import { formatOf } from "./inputs.ts";
 * if (formatOf("-", '  [{"equity": 1}]') !== "json" || formatOf("curve.csv", "[") !== "csv") throw new Error();
 * ```
 */
export function formatOf(path: string, text: string): "json" | "csv" {
  const ext = /\.([a-z]+)$/i.exec(path)?.[1]?.toLowerCase();
  if (ext === "json") return "json";
  if (ext === "csv") return "csv";
  const first = /\S/.exec(text.replace(/^\ufeff/, ""))?.[0];
  return first === "{" || first === "[" ? "json" : "csv";
}

/**
 * A CSV cell as a number where it is one, the way Python's `float()` reads
 * what `csv` wrote (`nan`, `inf`, `-inf` included); other text stays text, so
 * the library can name it in its error.
 *
 * @param text The cell.
 * @returns A number, or the text unchanged.
 * @example Python's float spellings
 * ```ts
 * import { numberCell } from "./inputs.ts";
 * if (numberCell("inf") !== Infinity || numberCell("10000.5") !== 10000.5 || numberCell("n/a") !== "n/a") throw new Error();
 * ```
 */
export function numberCell(text: string): number | string {
  const t = text.trim();
  if (/^[+-]?(?:inf|infinity)$/i.test(t)) return t.startsWith("-") ? -Infinity : Infinity;
  if (/^[+-]?nan$/i.test(t)) return NaN;
  return /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(t) ? Number(t) : text;
}

/**
 * Reads a stats file: a JSON object of stat names to values (Python's
 * `json.dumps(runner.stats())`, Node's `JSON.stringify(stats)`, or any
 * backtester's dict, nested ones included).
 *
 * @param text The file's text.
 * @param field The flag, for errors.
 * @returns The stats object.
 * @throws {MlflowValidationError} When the text is not JSON or not an object.
 * @example Python stats with Infinity
 * ```ts
 * import { readStats } from "./inputs.ts";
 * const stats = readStats('{"profit_factor": Infinity}', "--stats") as Record<string, number>;
 * if (stats.profit_factor !== Infinity) throw new Error();
 * ```
 */
export function readStats(text: string, field: string): object {
  const value = parseBacktestJson(text, field);
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new MlflowValidationError(field, `must hold a JSON object of stat names to values, got ${Array.isArray(value) ? "an array" : value === null ? "null" : typeof value}`);
  }
  return value;
}

const TIME_COLUMNS: Record<string, "timestamp_ns" | "timestamp"> = { timestamp_ns: "timestamp_ns", timestampNs: "timestamp_ns", timestamp: "timestamp" };
const DRAWDOWN_COLUMNS = ["drawdown_pct", "drawdownPct"];

/**
 * Reads an equity curve: JSON rows (`[{timestamp_ns, equity, drawdown_pct}]`,
 * FLOX Python) or columns (`{timestampNs, equity, drawdownPct}`, FLOX Node,
 * times as integers or integer strings), or CSV with the header
 * `timestamp_ns,equity,drawdown_pct` (`timestampNs`/`drawdownPct` and
 * `timestamp` for ISO-8601 or millisecond times work too). Nanosecond times
 * stay exact.
 *
 * @param path The path given, for the format.
 * @param text The file's text.
 * @param field The flag, for errors.
 * @returns The curve, as `logBacktest` takes it.
 * @throws {MlflowValidationError} On JSON or CSV that cannot be read, or a CSV without a time or equity column.
 * @example FLOX's equity CSV
 * ```ts
 * import { readEquity } from "./inputs.ts";
 * const rows = readEquity("eq.csv", "timestamp_ns,equity,drawdown_pct\n1704067200000000001,10000.0,0.0\n", "--equity");
 * if ((rows as { timestamp_ns: string }[])[0]!.timestamp_ns !== "1704067200000000001") throw new Error();
 * ```
 */
export function readEquity(path: string, text: string, field: string): EquityCurveInput {
  if (formatOf(path, text) === "json") return parseBacktestJson(text, field) as EquityCurveInput;
  const { header, records } = parseCsv(text, field);
  const timeAt = header.findIndex((name) => name in TIME_COLUMNS);
  const equityAt = header.indexOf("equity");
  if (timeAt < 0 || equityAt < 0) {
    throw new MlflowValidationError(
      field,
      `CSV header '${header.join(",")}' needs a time column (timestamp_ns, timestampNs or timestamp) and an equity column; FLOX writes timestamp_ns,equity,drawdown_pct`,
    );
  }
  const timeKey = TIME_COLUMNS[header[timeAt]!]!;
  const drawdownAt = header.findIndex((name) => DRAWDOWN_COLUMNS.includes(name));
  return records.map((cells) => {
    const row: Record<string, unknown> = { [timeKey]: cells[timeAt]!.trim(), equity: numberCell(cells[equityAt]!) };
    if (drawdownAt >= 0) row.drawdown_pct = numberCell(cells[drawdownAt]!);
    return row;
  }) as unknown as EquityCurveInput;
}

/**
 * Reads trades: JSON rows (FLOX Python, any backtester), JSON columns (FLOX
 * Node, typed arrays written as arrays; a `side` column of 0/1 codes reads as
 * long/short, as FLOX Node's Uint8Array does), or CSV with a header. CSV cells
 * are kept as their exact text, so `trades.csv` holds what the file held.
 *
 * @param path The path given, for the format.
 * @param text The file's text.
 * @param field The flag, for errors.
 * @returns The trades, as `logBacktest` takes them.
 * @throws {MlflowValidationError} On JSON or CSV that cannot be read.
 * @example A trades CSV
 * ```ts
 * import { readTrades } from "./inputs.ts";
 * const trades = readTrades("t.csv", "symbol,side,pnl\nBTCUSDT,long,50.05\n", "--trades") as Record<string, string>[];
 * if (trades[0]!.pnl !== "50.05") throw new Error();
 * const columns = readTrades("t.json", '{"side": [0, 1], "pnl": [1, 2]}', "--trades") as { side: Uint8Array };
 * if (!(columns.side instanceof Uint8Array)) throw new Error();
 * ```
 */
export function readTrades(path: string, text: string, field: string): TradesInput {
  if (formatOf(path, text) === "json") {
    const trades = parseBacktestJson(text, field);
    // FLOX Node's side column is a Uint8Array of 0/1 codes; saved as JSON it is a plain array. Typed again, it reads long/short.
    if (typeof trades === "object" && trades !== null && !Array.isArray(trades)) {
      const columns = trades as Record<string, unknown>;
      const side = columns.side;
      if (Array.isArray(side) && side.every((v) => v === 0 || v === 1)) columns.side = Uint8Array.from(side as number[]);
    }
    return trades as TradesInput;
  }
  const { header, records } = parseCsv(text, field);
  return records.map((cells) => Object.fromEntries(header.map((name, i) => [name, cells[i]!])));
}
