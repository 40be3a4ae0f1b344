/**
 * Reads CSV bytes as they stream: hashes every byte (SHA-256) and counts the
 * records, keeping only the header, the first and the last record. Memory
 * stays at a chunk or two whatever the file's size.
 *
 * @module
 */
import { concatBytes } from "./bytes.ts";
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

// A record within one chunk is used in place; one spread over several is joined.
function concat(pieces: readonly Uint8Array[]): Uint8Array {
  return pieces.length === 1 ? pieces[0]! : concatBytes(pieces);
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
  const state = new ScanState();
  const reader = stream.getReader();
  try {
    for (;;) {
      if (signal?.aborted) throw signal.reason;
      const { done, value } = await reader.read();
      if (done) break;
      hash.update(value);
      state.chunk(value);
    }
  } finally {
    reader.releaseLock();
  }
  return { ...state.finish(), sha256: hash.hex() };
}

/** Record bounds across chunks: a record is counted from its bounds; its bytes are copied only when kept. */
class ScanState {
  bytes = 0;
  rows = 0;
  private inQuote = false;
  // The start of a record that began in an earlier chunk.
  private carry: Uint8Array[] = [];
  private header: string[] | undefined;
  private first: Uint8Array | undefined;
  private last: Uint8Array | undefined;
  private readonly decoder = new TextDecoder();

  chunk(value: Uint8Array): void {
    this.bytes += value.byteLength;
    let start = 0;
    let lastStart = -1;
    let lastEnd = -1;
    let inQuote = this.inQuote;
    const length = value.byteLength;
    for (let i = 0; i < length; i++) {
      const byte = value[i];
      if (byte === QUOTE) {
        // RFC 4180: a doubled quote inside quotes toggles twice, so it changes nothing.
        inQuote = !inQuote;
        continue;
      }
      if (byte !== NEWLINE || inQuote) continue;
      if (this.carry.length > 0) {
        this.carry.push(value.subarray(0, i));
        this.record(concat(this.carry));
        this.carry = [];
      } else if (i > start && !(i - start === 1 && value[start] === 0x0d)) {
        if (this.header === undefined || this.first === undefined) this.record(value.subarray(start, i));
        else this.rows += 1;
        lastStart = start;
        lastEnd = i;
      }
      start = i + 1;
    }
    this.inQuote = inQuote;
    // Kept as copies, so no chunk outlives the next read.
    if (lastStart !== -1) this.last = value.slice(lastStart, lastEnd);
    else if (this.last !== undefined && this.last.buffer === value.buffer) this.last = this.last.slice();
    if (start < length) this.carry.push(value.subarray(start));
  }

  private record(bytes: Uint8Array): void {
    const end = bytes.byteLength > 0 && bytes[bytes.byteLength - 1] === 0x0d ? bytes.byteLength - 1 : bytes.byteLength;
    if (end === 0) return;
    const text = bytes.subarray(0, end);
    if (this.header === undefined) {
      this.header = csvFields(this.decoder.decode(text).replace(/^\uFEFF/, ""));
      return;
    }
    this.rows += 1;
    if (this.first === undefined) this.first = text.slice();
    this.last = text;
  }

  finish(): Omit<CsvScan, "sha256"> {
    if (this.carry.length > 0) this.record(concat(this.carry));
    this.carry = [];
    const fields = (bytes: Uint8Array | undefined): string[] | undefined => {
      if (bytes === undefined) return undefined;
      const end = bytes.byteLength > 0 && bytes[bytes.byteLength - 1] === 0x0d ? bytes.byteLength - 1 : bytes.byteLength;
      return csvFields(this.decoder.decode(bytes.subarray(0, end)));
    };
    const first = fields(this.first);
    const last = this.rows > 0 ? fields(this.last) : undefined;
    return {
      header: this.header ?? [],
      ...(first ? { first } : {}),
      ...(last ? { last } : {}),
      rows: this.rows,
      bytes: this.bytes,
    };
  }
}
