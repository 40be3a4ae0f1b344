/**
 * CSV as backtesters write it (Python's `csv` module, FLOX's
 * `write_equity_curve_csv`, pandas `to_csv`): a header row, then one record
 * per line; RFC 4180 quoting; `\n` or `\r\n` line ends.
 *
 * @module
 */
import { MlflowValidationError } from "../errors.ts";

/** A CSV file read as text cells under its header. */
export interface CsvTable {
  /** The header row's names. */
  header: string[];
  /** The records, one text cell per header name, in header order. */
  records: string[][];
}

/**
 * Reads CSV text into its header and records, cells kept as the exact text.
 *
 * @param text The CSV text.
 * @param field What the text is, for errors (e.g. `--equity`).
 * @returns The header and the records.
 * @throws {MlflowValidationError} On an empty file, an unclosed quote or a record whose cell count differs from the header's (naming the line).
 * @example FLOX's equity CSV
 * ```ts
 * import { parseCsv } from "./csv_input.ts";
 * const table = parseCsv("timestamp_ns,equity,drawdown_pct\n1704067200000000000,10000.0,0.0\n", "--equity");
 * if (table.header[0] !== "timestamp_ns" || table.records[0]![0] !== "1704067200000000000") throw new Error();
 * ```
 */
export function parseCsv(text: string, field: string): CsvTable {
  const rows: { cells: string[]; line: number }[] = [];
  let pos = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  while (pos < text.length) {
    const start = line;
    const cells: string[] = [];
    for (;;) {
      let cell = "";
      if (text[pos] === '"') {
        pos++;
        for (;;) {
          const close = text.indexOf('"', pos);
          if (close < 0) throw new MlflowValidationError(field, `is not valid CSV: the quote opened on line ${start} is never closed`);
          cell += text.slice(pos, close);
          for (let i = pos; i < close; i++) if (text.charCodeAt(i) === 0x0a) line++;
          pos = close + 1;
          if (text[pos] === '"') {
            cell += '"';
            pos++;
            continue;
          }
          break;
        }
        const next = text[pos];
        if (next !== undefined && next !== "," && next !== "\n" && next !== "\r") {
          throw new MlflowValidationError(field, `is not valid CSV: line ${line} has text after a closing quote`);
        }
      } else {
        let end = pos;
        while (end < text.length) {
          const c = text.charCodeAt(end);
          if (c === 0x2c || c === 0x0a || c === 0x0d) break;
          end++;
        }
        cell = text.slice(pos, end);
        pos = end;
      }
      cells.push(cell);
      if (text[pos] === ",") {
        pos++;
        continue;
      }
      if (text[pos] === "\r") pos++;
      if (text[pos] === "\n") pos++;
      break;
    }
    // A blank line (a trailing one included) is no record.
    if (!(cells.length === 1 && cells[0] === "")) rows.push({ cells, line: start });
    line++;
  }
  const [head, ...body] = rows;
  if (head === undefined) throw new MlflowValidationError(field, "is an empty CSV file; it needs a header row");
  for (const row of body) {
    if (row.cells.length !== head.cells.length) {
      throw new MlflowValidationError(
        field,
        `is not valid CSV: line ${row.line} has ${row.cells.length} cells but the header has ${head.cells.length}`,
      );
    }
  }
  return { header: head.cells.map((name) => name.trim()), records: body.map((row) => row.cells) };
}
