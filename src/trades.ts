/**
 * Trade lists as rows (FLOX Python, most backtesters) or typed-array columns
 * (FLOX Node), read as one table.
 *
 * @module
 */
import { MlflowValidationError } from "./errors.ts";
import type { Table } from "./csv.ts";

/** A trade row: any keys; the CSV columns are the union of keys in first-seen order. */
export type TradeRow = Record<string, unknown>;

/** Column arrays, one per field, aligned by index (FLOX Node `BacktestTrades`). */
export type TradeColumns = Record<string, ArrayLike<unknown>>;

/** Any trade list the module accepts. */
export type TradesInput = readonly TradeRow[] | TradeColumns;

/** Options for reading trades. */
export interface TradesOptions {
  /** Symbol id to name, applied to a numeric `symbol` column or field. */
  symbolNames?: Record<number, string> | Map<number, string> | readonly string[];
}

const SIDES = ["long", "short"];

function symbolLookup(names: TradesOptions["symbolNames"]): ((v: unknown) => unknown) | undefined {
  if (names === undefined) return undefined;
  const get = names instanceof Map
    ? (id: number) => names.get(id)
    : (id: number) => (names as Record<number, string>)[id];
  return (v) => (typeof v === "number" ? get(v) ?? v : v);
}

/**
 * Reads trades as a table. Rows give columns in first-seen key order.
 * Columns must all have the same length; a `side` column of 0/1 codes
 * (`Uint8Array`, as FLOX Node returns) reads as `long`/`short`, and numeric
 * symbol ids become names through `symbolNames`.
 *
 * @param input Rows or columns.
 * @param options Symbol names.
 * @returns The table.
 * @throws {MlflowValidationError} When columns differ in length or the input is neither shape.
 * @example FLOX Node columns
 * ```ts
 * import { tradesTable } from "./trades.ts";
 * const t = tradesTable(
 *   { symbol: Uint32Array.of(0), side: Uint8Array.of(1), pnl: Float64Array.of(2.5) },
 *   { symbolNames: ["BTCUSDT"] },
 * );
 * if (t.row(0).join() !== "BTCUSDT,short,2.5") throw new Error();
 * ```
 */
export function tradesTable(input: TradesInput, options: TradesOptions = {}): Table {
  const symbol = symbolLookup(options.symbolNames);
  if (Array.isArray(input)) {
    const rows = input as readonly TradeRow[];
    const seen = new Set<string>();
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      if (typeof row !== "object" || row === null) {
        throw new MlflowValidationError(`trades[${i}]`, "must be an object of field names to values");
      }
      for (const key in row) seen.add(key);
    }
    const columns = [...seen];
    const symbolAt = symbol ? columns.indexOf("symbol") : -1;
    return {
      columns,
      length: rows.length,
      row: (i) => {
        const r = rows[i]!;
        const out = columns.map((c) => r[c]);
        if (symbolAt >= 0) out[symbolAt] = symbol!(out[symbolAt]);
        return out;
      },
    };
  }
  if (typeof input !== "object" || input === null) {
    throw new MlflowValidationError("trades", "must be an array of trade rows or an object of equal-length columns");
  }
  const entries = Object.entries(input as TradeColumns);
  const length = entries[0]?.[1].length ?? 0;
  const readers = entries.map(([name, values]) => {
    if (values === null || typeof values !== "object" || typeof values.length !== "number") {
      throw new MlflowValidationError(`trades.${name}`, "must be an array or typed array");
    }
    if (values.length !== length) {
      throw new MlflowValidationError(
        `trades.${name}`,
        `has ${values.length} values but trades.${entries[0]![0]} has ${length}; columns must be the same length`,
      );
    }
    if (name === "side" && values instanceof Uint8Array) return (i: number) => SIDES[values[i]!] ?? values[i];
    if (name === "symbol" && symbol) return (i: number) => symbol(values[i]);
    return (i: number) => values[i];
  });
  return { columns: entries.map(([name]) => name), length, row: (i) => readers.map((read) => read(i)) };
}
