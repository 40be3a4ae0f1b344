/**
 * Trade lists as rows (FLOX Python, most backtesters) or typed-array columns
 * (FLOX Node), read as one table.
 *
 * @module
 */
import { MlflowValidationError } from "./errors.ts";
import type { Table } from "./csv.ts";
import { describeValue, fieldPath, isDate, jsonText, recordEntries } from "./validation.ts";

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

const isPlainCell = (value: unknown): boolean => {
  const type = typeof value;
  return type === "number" || type === "string" || type === "boolean" || type === "bigint" || value == null;
};

/**
 * Throws unless `value` can be written to a CSV cell: numbers, strings,
 * booleans, BigInts, valid Dates, null and undefined (an empty cell), or
 * arrays and objects that have JSON text. Checked for every cell before the
 * run exists, so the CSV, written later as a stream, cannot fail half-way.
 *
 * @param value A trade's field.
 * @param field Where it is, e.g. `trades[3].pnl`.
 * @throws {MlflowValidationError} On a function, a Symbol, an invalid Date, a Map or Set, a circular or too deep object.
 * @example Numbers and a JSON object are cells; a function is not
 * ```ts
 * import { checkCell } from "./trades.ts";
 * checkCell(2.5, "trades[0].pnl");
 * checkCell({ reason: "stop" }, "trades[0].meta");
 * let refused = false;
 * try {
 *   checkCell(() => 1, "trades[0].exit");
 * } catch {
 *   refused = true;
 * }
 * if (!refused) throw new Error("a function has no CSV text");
 * ```
 */
export function checkCell(value: unknown, field: string): void {
  switch (typeof value) {
    case "number":
    case "string":
    case "boolean":
    case "bigint":
    case "undefined":
      return;
    case "symbol":
    case "function":
      throw new MlflowValidationError(field, `is ${describeValue(value)}, which has no text for a CSV cell; pass numbers, strings, booleans, Dates or plain objects`);
  }
  if (value === null) return;
  if (isDate(value)) {
    if (Number.isNaN(value.getTime())) throw new MlflowValidationError(field, "is an invalid Date; pass a valid Date, or leave the field out");
    return;
  }
  jsonText(value, field);
}

/**
 * Throws unless `names` is a symbol-name table: an array of names, a Map or an
 * object of ids to names, every name a string.
 *
 * @param names What the caller passed as `symbolNames`.
 * @param field The option.
 * @throws {MlflowValidationError} Naming the entry that is not a string.
 * @example Names as an array and as a Map
 * ```ts
 * import { checkSymbolNames } from "./trades.ts";
 * checkSymbolNames(["BTCUSDT", "ETHUSDT"], "symbolNames");
 * checkSymbolNames(new Map([[7, "DOGEUSDT"]]), "symbolNames");
 * ```
 */
export function checkSymbolNames(names: unknown, field: string): void {
  if (names === undefined) return;
  const entries: [string | number, unknown][] = Array.isArray(names)
    ? names.map((name, i) => [i, name])
    : names instanceof Map
    ? [...names].map(([id, name]) => [typeof id === "number" ? id : String(id), name])
    : recordEntries(names, field, "symbol ids to names (or an array or Map)");
  for (const [id, name] of entries) {
    if (typeof name !== "string") {
      throw new MlflowValidationError(fieldPath(field, id), `must be a symbol name (a string), got ${describeValue(name)}`);
    }
  }
}

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
 * @throws {MlflowValidationError} When columns differ in length, the input is neither shape, a row is not an
 *   object, or a value cannot be written to CSV (see {@link checkCell}).
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
  checkSymbolNames(options.symbolNames, "symbolNames");
  const symbol = symbolLookup(options.symbolNames);
  if (Array.isArray(input)) {
    const rows = input as readonly TradeRow[];
    const seen = new Set<string>();
    for (let i = 0; i < rows.length; i++) {
      const row: unknown = rows[i];
      if (
        typeof row !== "object" || row === null || Array.isArray(row) || row instanceof Map || row instanceof Set ||
        Object.getOwnPropertySymbols(row).length > 0
      ) {
        recordEntries(row, `trades[${i}]`, "field names to values");
      }
      for (const key in row as TradeRow) {
        seen.add(key);
        const value = (row as TradeRow)[key];
        // Building the field name per cell would cost more than the check itself.
        if (!isPlainCell(value)) checkCell(value, fieldPath(`trades[${i}]`, key));
      }
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
  const entries = recordEntries(input, "trades", "equal-length columns (or an array of trade rows)");
  const length = (entries[0]?.[1] as ArrayLike<unknown> | undefined)?.length ?? 0;
  const readers = entries.map(([name, raw]) => {
    const field = `trades.${name}`;
    if (!Array.isArray(raw) && !(ArrayBuffer.isView(raw) && !(raw instanceof DataView))) {
      throw new MlflowValidationError(field, `must be an array or typed array, got ${describeValue(raw)}`);
    }
    const values = raw as ArrayLike<unknown>;
    if (values.length !== length) {
      throw new MlflowValidationError(
        field,
        `has ${values.length} values but trades.${entries[0]![0]} has ${length}; columns must be the same length`,
      );
    }
    // Typed arrays hold numbers or BigInts only; plain arrays can hold anything.
    if (Array.isArray(values)) {
      for (let i = 0; i < values.length; i++) if (!isPlainCell(values[i])) checkCell(values[i], `${field}[${i}]`);
    }
    if (name === "side" && values instanceof Uint8Array) return (i: number) => SIDES[values[i]!] ?? values[i];
    if (name === "symbol" && symbol) return (i: number) => symbol(values[i]);
    return (i: number) => values[i];
  });
  return { columns: entries.map(([name]) => name), length, row: (i) => readers.map((read) => read(i)) };
}
