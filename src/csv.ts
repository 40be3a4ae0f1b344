/**
 * CSV artifacts as Web streams: rows are stringified a chunk at a time with
 * csv-stringify's runtime-neutral entry, so a large table is never held as
 * one string and a slow upload holds back the producer.
 *
 * @module
 */
import { stringify } from "csv-stringify/browser/esm/sync";
import type { NormalizedEquity } from "./equity.ts";
import { jsonText } from "./validation.ts";

/** A table to write as CSV: a header and a way to read row `i`. */
export interface Table {
  columns: readonly string[];
  length: number;
  row(index: number): unknown[];
  /**
   * Rows `from` to `to` (exclusive) as CSV lines, for tables whose cells are
   * all numbers or BigInts (nothing to quote): the same bytes as writing
   * {@link Table.row}'s cells, without an array per row.
   */
  lines?(from: number, to: number): string;
}

// Chunks of ~60 kB (the equity curve's rows): below the engines' large-object
// and allocator thresholds, so their strings and bytes reuse memory a process
// already has instead of mapping fresh pages for each (written into one array,
// a 100k-row curve's CSV took 20-30 ms less in a fresh process than with
// 5,000-row chunks, on Node, Deno and Bun).
const ROWS_PER_CHUNK = 1000;
/** The longest the CSV writer keeps the event loop before letting timers and I/O run. */
const YIELD_AFTER_MS = 16;

/**
 * A writer's pacing: the function it returns gives the event loop a turn once
 * a stretch of work has taken longer than a frame. A reader that consumes
 * chunks as fast as they come (an in-memory staging buffer) would otherwise
 * never let timers and I/O run: a reader's promises resolve as microtasks.
 */
function eventLoopTurns(): () => Promise<void> {
  let lastYield = performance.now();
  return async () => {
    if (performance.now() - lastYield > YIELD_AFTER_MS) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      lastYield = performance.now();
    }
  };
}

const CAST = {
  boolean: (value: boolean): string => (value ? "true" : "false"),
  date: (value: Date): string => value.toISOString(),
  number: (value: number): string => String(value),
  bigint: (value: bigint): string => value.toString(),
  // The same JSON as params get; trade tables check every cell with it before the run exists.
  object: (value: object): string => jsonText(value, "csv cell"),
};

// A chunk whose cells are numbers, booleans, empty, or strings with nothing to
// quote is written directly: csv-stringify would write the same bytes (its
// cast above for numbers and booleans, a string as it is unless it holds a
// delimiter, a quote or a line break, nothing for null and undefined), and
// skipping it is several times faster on the millions of rows of a backtest.
const NEEDS_QUOTES = /[,"\r\n]/;

function joinPlain(table: Table, from: number, to: number): string | undefined {
  let out = "";
  for (let r = from; r < to; r++) {
    const row = table.row(r);
    for (let i = 0; i < row.length; i++) {
      const value = row[i];
      if (i > 0) out += ",";
      switch (typeof value) {
        case "number":
        case "bigint":
          out += String(value);
          break;
        case "boolean":
          out += value ? "true" : "false";
          break;
        case "string":
          if (NEEDS_QUOTES.test(value)) return undefined;
          out += value;
          break;
        case "undefined":
          break;
        default:
          if (value !== null) return undefined;
      }
    }
    out += "\n";
  }
  return out;
}

function chunkText(table: Table, from: number, to: number): string {
  if (table.lines) return table.lines(from, to);
  const plain = joinPlain(table, from, to);
  if (plain !== undefined) return plain;
  const rows: unknown[][] = new Array(to - from);
  for (let i = from; i < to; i++) rows[i - from] = table.row(i);
  return stringify(rows, { cast: CAST });
}

/**
 * Makes a factory of CSV byte streams for a table; each call starts a fresh
 * stream, so an upload can be retried.
 *
 * @param table The header and rows.
 * @returns A function returning a new `ReadableStream` of UTF-8 CSV (header first, `\n` line ends).
 * @example Two rows
 * ```ts
 * import { csvStream } from "./csv.ts";
 * const open = csvStream({ columns: ["a", "b"], length: 2, row: (i) => [i, i * 2] });
 * const text = await new Response(open()).text();
 * if (text !== "a,b\n0,0\n1,2\n") throw new Error(text);
 * ```
 */
export function csvStream(table: Table): CsvBody {
  const open = () => {
    const encoder = new TextEncoder();
    let next = -1;
    const turn = eventLoopTurns();
    return new ReadableStream<Uint8Array>({
      async pull(controller) {
        await turn();
        if (next === -1) {
          controller.enqueue(encoder.encode(stringify([table.columns as string[]])));
          next = 0;
          if (table.length === 0) controller.close();
          return;
        }
        const end = Math.min(next + ROWS_PER_CHUNK, table.length);
        const text = chunkText(table, next, end);
        next = end;
        controller.enqueue(encoder.encode(text));
        if (next >= table.length) controller.close();
      },
    });
  };
  return Object.assign(open, { table });
}

/** {@link csvStream}'s factory, which also carries its table for {@link csvBytes}. */
export interface CsvBody {
  (): ReadableStream<Uint8Array>;
  /** The table the streams write. */
  readonly table: Table;
}

/**
 * Whether an artifact body is a {@link csvStream} factory.
 *
 * @param body Any artifact body.
 * @returns `true` for a factory made by {@link csvStream}.
 * @example A CSV factory and a plain stream factory
 * ```ts
 * import { csvStream, isCsvBody } from "./csv.ts";
 * const csv = csvStream({ columns: ["a"], length: 0, row: () => [] });
 * if (!isCsvBody(csv) || isCsvBody(() => new ReadableStream())) throw new Error();
 * ```
 */
export function isCsvBody(body: unknown): body is CsvBody {
  return typeof body === "function" && typeof (body as Partial<CsvBody>).table?.row === "function";
}

/**
 * A table's CSV as one byte array, the bytes {@link csvStream} streams, when
 * it fits in `limit` bytes; else `undefined`, decided from the first chunk's
 * size where it can, so that little work is lost.
 *
 * Rows are encoded straight into one buffer sized from the first chunk:
 * encoding each chunk into an array of its own and joining them touched
 * every byte twice, and fresh memory is the slow part of a cold process.
 *
 * @param table The header and rows.
 * @param limit The most bytes to hold.
 * @param beforeChunk Called before each chunk (throw to stop, e.g. on abort).
 * @returns The CSV, or `undefined` when it is over `limit`.
 * @example Two rows, and a limit too small for them
 * ```ts
 * import { csvBytes } from "./csv.ts";
 * const table = { columns: ["a", "b"], length: 2, row: (i: number) => [i, i * 2] };
 * const bytes = await csvBytes(table, 1024);
 * if (new TextDecoder().decode(bytes) !== "a,b\n0,0\n1,2\n") throw new Error();
 * if (await csvBytes(table, 8) !== undefined) throw new Error("over the limit");
 * ```
 */
export async function csvBytes(
  table: Table,
  limit: number,
  beforeChunk: () => void = () => {},
): Promise<Uint8Array<ArrayBuffer> | undefined> {
  const encoder = new TextEncoder();
  beforeChunk();
  let next = Math.min(ROWS_PER_CHUNK, table.length);
  const first = encoder.encode(stringify([table.columns as string[]]) + (next > 0 ? chunkText(table, 0, next) : ""));
  const projected = next === 0 ? first.length : Math.ceil((first.length / next) * table.length * 1.02) + 1024;
  if (first.length > limit || projected > limit * 1.25) return undefined;
  let buffer = new Uint8Array(Math.min(limit, projected));
  buffer.set(first);
  let size = first.length;
  const turn = eventLoopTurns();
  while (next < table.length) {
    await turn();
    beforeChunk();
    const end = Math.min(next + ROWS_PER_CHUNK, table.length);
    let text = chunkText(table, next, end);
    next = end;
    for (;;) {
      const { read, written } = encoder.encodeInto(text, buffer.subarray(size));
      size += written;
      if (read === text.length) break;
      // Longer rows than the first ones: grow, within the limit.
      text = text.slice(read);
      const needed = size + (text.length * 3 > limit - size ? encoder.encode(text).length : text.length * 3);
      if (needed > limit) return undefined;
      const grown = new Uint8Array(Math.min(limit, Math.max(needed, Math.ceil(buffer.length * 1.5))));
      grown.set(buffer.subarray(0, size));
      buffer = grown;
    }
  }
  return buffer.subarray(0, size);
}

/**
 * The equity curve as a table with FLOX's header
 * `timestamp_ns,equity,drawdown_pct`; times keep every nanosecond digit.
 *
 * @param curve The normalised curve.
 * @returns The table.
 * @example One bar with its exact time
 * ```ts
 * import { equityTable } from "./csv.ts";
 * import { normalizeEquity } from "./equity.ts";
 * const table = equityTable(normalizeEquity([{ timestamp_ns: 1n, equity: 5, drawdown_pct: 0 }]));
 * if (table.row(0)[0] !== 1n) throw new Error();
 * ```
 */
export function equityTable(curve: NormalizedEquity): Table {
  const { timestampNs, equity, drawdownPct } = curve;
  return {
    columns: ["timestamp_ns", "equity", "drawdown_pct"],
    length: curve.length,
    row: (i) => [timestampNs[i], equity[i], drawdownPct[i]],
    // Typed columns hold only numbers and BigInts, written as `String` writes them.
    lines: (from, to) => {
      let out = "";
      for (let i = from; i < to; i++) out += `${timestampNs[i]},${equity[i]},${drawdownPct[i]}\n`;
      return out;
    },
  };
}
