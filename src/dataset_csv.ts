/**
 * Reads CSV bytes as they stream: hashes every byte (SHA-256) and counts the
 * records, keeping only the header, the first and the last record. Memory
 * stays at a chunk or two whatever the file's size.
 *
 * @module
 */
import { Sha256 } from "./sha256.ts";

/** What one pass over a CSV stream found. */
export interface CsvScan {
  /** The header's fields (a UTF-8 byte order mark dropped). */
  header: string[];
  /** The first data record's fields, when there is one. */
  first?: string[];
  /** The last data record's fields, when there is one. */
  last?: string[];
  /** Data records, blank lines not counted. */
  rows: number;
  /** Bytes read. */
  bytes: number;
  /** SHA-256 of every byte, 64 hex digits. */
  sha256: string;
}

const NEWLINE = 0x0a;
const QUOTE = 0x22;

function concat(pieces: readonly Uint8Array[]): Uint8Array {
  if (pieces.length === 1) return pieces[0]!;
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const piece of pieces) {
    out.set(piece, offset);
    offset += piece.byteLength;
  }
  return out;
}

/**
 * Splits one CSV record into fields (RFC 4180 quoting: `""` inside quotes is a quote).
 *
 * @param line The record without its line end.
 * @returns The fields.
 * @example A quoted comma
 * ```ts
 * import { csvFields } from "./dataset_csv.ts";
 * if (csvFields('a,"b,c",d').join("|") !== "a|b,c|d") throw new Error();
 * ```
 */
export function csvFields(line: string): string[] {
  const fields: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === "\"" && line[i + 1] === "\"") {
        field += "\"";
        i += 1;
      } else if (ch === "\"") quoted = false;
      else field += ch;
    } else if (ch === "\"") quoted = true;
    else if (ch === ",") {
      fields.push(field);
      field = "";
    } else field += ch;
  }
  fields.push(field);
  return fields;
}

/**
 * Reads a CSV stream to its end: its SHA-256, its record count, its header,
 * first and last record. A line break inside quotes stays inside its record.
 *
 * @param stream The CSV bytes (UTF-8).
 * @param signal Stops the read at the next chunk.
 * @returns What was found.
 * @example Two bars
 * ```ts
 * import { scanCsv } from "./dataset_csv.ts";
 * const scan = await scanCsv(new Blob(["ts,close\n1,10.5\n2,11\n"]).stream());
 * if (scan.rows !== 2 || scan.last?.[1] !== "11" || scan.sha256.length !== 64) throw new Error();
 * ```
 */
export async function scanCsv(stream: ReadableStream<Uint8Array>, signal?: AbortSignal): Promise<CsvScan> {
  const hash = new Sha256();
  const decoder = new TextDecoder();
  let bytes = 0;
  let inQuote = false;
  let pieces: Uint8Array[] = [];
  let header: string[] | undefined;
  let first: Uint8Array | undefined;
  let last: Uint8Array | undefined;
  let rows = 0;
  const endRecord = (): void => {
    let record = concat(pieces);
    pieces = [];
    if (record.byteLength > 0 && record[record.byteLength - 1] === 0x0d) record = record.subarray(0, -1);
    if (record.byteLength === 0) return;
    if (header === undefined) {
      header = csvFields(decoder.decode(record).replace(/^\uFEFF/, ""));
      return;
    }
    rows += 1;
    // Copied once: a view would keep its whole chunk alive.
    if (first === undefined) first = record.slice();
    last = record;
  };
  const reader = stream.getReader();
  try {
    for (;;) {
      if (signal?.aborted) throw signal.reason;
      const { done, value } = await reader.read();
      if (done) break;
      hash.update(value);
      bytes += value.byteLength;
      let start = 0;
      let i = 0;
      let nextQuote = value.indexOf(QUOTE);
      while (i < value.byteLength) {
        if (inQuote) {
          if (nextQuote === -1) break;
          inQuote = false;
          i = nextQuote + 1;
          nextQuote = value.indexOf(QUOTE, i);
          continue;
        }
        const nextNewline = value.indexOf(NEWLINE, i);
        if (nextQuote !== -1 && (nextNewline === -1 || nextQuote < nextNewline)) {
          inQuote = true;
          i = nextQuote + 1;
          nextQuote = value.indexOf(QUOTE, i);
          continue;
        }
        if (nextNewline === -1) break;
        pieces.push(value.subarray(start, nextNewline));
        endRecord();
        start = i = nextNewline + 1;
      }
      if (start < value.byteLength) pieces.push(value.subarray(start));
      // The last record is kept as its own copy, so no chunk outlives the next read.
      if (last !== undefined && last.buffer === value.buffer) last = last.slice();
    }
  } finally {
    reader.releaseLock();
  }
  endRecord();
  const fields = (record: Uint8Array | undefined) => (record === undefined ? undefined : csvFields(decoder.decode(record)));
  const firstFields = fields(first);
  const lastFields = fields(last);
  return {
    header: header ?? [],
    ...(firstFields ? { first: firstFields } : {}),
    ...(lastFields ? { last: lastFields } : {}),
    rows,
    bytes,
    sha256: hash.hex(),
  };
}
