/**
 * Describes the bars a backtest ran on as an MLflow dataset: a name, a digest
 * of the data, where it came from, its columns (`mlflow_colspec`) and a
 * profile with the row count and the first and last bar time. Runs whose
 * datasets have the same name and digest saw the same data; MLflow's UI
 * groups them in its Datasets column.
 *
 * The digest is the first 8 hex digits of a SHA-256: of the file's bytes for
 * a file or URL (what `sha256sum` prints), of the bars written as CSV for
 * bars in memory. MLflow's pandas digest (`mlflow/data/digest_utils.py`,
 * an MD5 over pandas' row hashes) cannot be reproduced outside pandas; its
 * length, 8 hex digits, is kept.
 *
 * @module
 */
import { fileUrlToPath, openLocalFile, pathToFileUrl, resolvePath } from "#fs";
import { scanCsv } from "./dataset_csv.ts";
import { type Dataset, datasetInputs, DEFAULT_CONTEXT } from "./dataset_inputs.ts";
import { MlflowValidationError } from "./errors.ts";
import { checkOptionKeys } from "./option_keys.ts";
import { type JsonValue, pythonJson } from "./python_json.ts";
import { Sha256 } from "./sha256.ts";
import { nanosToIso, toNanoseconds } from "./time.ts";
import { checkCallback, checkSignal, describeValue, isDate } from "./validation.ts";

/** Bars in memory: rows of named values, or named columns of equal length. */
export type BarsInMemory = readonly Record<string, unknown>[] | Record<string, ArrayLike<unknown>>;

/**
 * Bars to describe: in memory, a CSV file path (or `file:` URI), an
 * `http(s)` URL of a CSV file, or a stream of CSV bytes.
 */
export type BarsSource = BarsInMemory | string | URL | ReadableStream<Uint8Array>;

/** Options of {@link describeBars}. */
export interface DescribeBarsOptions {
  /** The dataset's name; default the file name without `.csv` (required for bars in memory and streams). */
  name?: string;
  /** How the run used the data (input tag `mlflow.data.context`); default `backtest`. */
  context?: string;
  /** Where the data came from, as a URI (`file:`, `https:`, `s3:`...); default the file or URL read. */
  source?: string;
  /**
   * The column holding each bar's time; default the first of `timestamp_ns`
   * (or `timestampNs`), `ts`, `timestamp`, `time`, `datetime`, `date`,
   * `open_time`. Integers are read in the unit the name ends in (`_ns`/`Ns`,
   * `_us`, `_ms`, `_s`), else by size.
   */
  timeColumn?: string;
  /** The fetch used for a URL; default the global one. */
  fetch?: typeof fetch;
  /** Headers sent with a URL's request (credentials stay out of the dataset). */
  headers?: Record<string, string>;
  /** Stops reading. */
  signal?: AbortSignal;
}

const OPTION_KEYS = ["name", "context", "source", "timeColumn", "fetch", "headers", "signal"] as const;
/** Time column names, compared without `_` and case (`timestampNs` is `timestamp_ns`). */
const TIME_COLUMNS = ["timestampns", "ts", "timestamp", "time", "datetime", "date", "opentime"];
const fold = (name: string): string => name.replaceAll("_", "").toLowerCase();
/** The unit a column name ends in: `_ns`, `_us`, `_ms`, `_s`, or camelCase `Ns`, `Us`, `Ms`. */
const unitOf = (column: string): string | undefined =>
  (/_(ns|us|ms|s)$/i.exec(column)?.[1] ?? /[a-z](Ns|Us|Ms)$/.exec(column)?.[1])?.toLowerCase();
const DIGEST_LENGTH = 8;

type ColumnType = "long" | "double" | "string" | "boolean" | "datetime";

// Query parameters that carry credentials (pre-signed URLs, API keys) are dropped from a recorded URL.
const SECRET_PARAM = /sig|signature|token|key|secret|credential|password|auth/i;

/**
 * A URL as a dataset may record it: without user name, password or
 * credential-like query parameters.
 *
 * @param url The URL.
 * @param field The option it came from, for errors.
 * @returns The URL with credentials removed.
 * @throws {MlflowValidationError} When it is not a URL.
 * @example A pre-signed URL
 * ```ts
 * import { publicUrl } from "./dataset.ts";
 * if (publicUrl("https://u:p@host/bars.csv?X-Amz-Signature=abc&day=1") !== "https://host/bars.csv?day=1") throw new Error();
 * ```
 */
export function publicUrl(url: string | URL, field = "bars"): string {
  let parsed: URL;
  try {
    parsed = new URL(String(url));
  } catch {
    throw new MlflowValidationError(field, "is not a valid URL; pass an http(s) URL of a CSV file, such as https://data.example/bars.csv");
  }
  parsed.username = "";
  parsed.password = "";
  for (const key of [...parsed.searchParams.keys()]) if (SECRET_PARAM.test(key)) parsed.searchParams.delete(key);
  return parsed.toString();
}

/** MLflow's source types and JSON for a URI (`LocalArtifactDatasetSource` `{"uri"}`, `HTTPDatasetSource` `{"url"}`). */
function sourceOf(uri: string, field = "bars"): { sourceType: string; source: string } {
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(uri)?.[1]?.toLowerCase();
  if (scheme === "http" || scheme === "https") return { sourceType: "http", source: pythonJson({ url: publicUrl(uri, field) }) };
  if (scheme === undefined || scheme === "file") {
    return { sourceType: "local", source: pythonJson({ uri: scheme === undefined ? pathToFileUrl(resolvePath(uri)) : uri }) };
  }
  return { sourceType: scheme, source: pythonJson({ uri }) };
}

function timeColumnOf(columns: readonly string[], chosen: string | undefined, field: string): string | undefined {
  if (chosen !== undefined) {
    if (!columns.includes(chosen)) {
      throw new MlflowValidationError(`${field}.timeColumn`, `'${chosen}' is not a column; the columns are ${columns.join(", ")}`);
    }
    return chosen;
  }
  const folded = columns.map(fold);
  for (const name of TIME_COLUMNS) {
    const i = folded.indexOf(name);
    if (i !== -1) return columns[i];
  }
  return undefined;
}

// Integer text is read in the unit its column name says (…_ns, …_us, …_ms, …_s), else by its size.
function textTime(value: string, column: string, field: string): bigint {
  const text = value.trim();
  if (!/^-?\d+$/.test(text)) return toNanoseconds(text, field);
  const n = BigInt(text);
  const unit = unitOf(column);
  const abs = n < 0n ? -n : n;
  const scale = unit === "ns" ? 1n : unit === "us" ? 1_000n : unit === "ms" ? 1_000_000n : unit === "s" ? 1_000_000_000n
    : abs >= 10n ** 17n ? 1n : abs >= 10n ** 14n ? 1_000n : abs >= 10n ** 11n ? 1_000_000n : 1_000_000_000n;
  return toNanoseconds(n * scale, field, "ns");
}

function valueTime(value: unknown, column: string, field: string): bigint {
  if (typeof value === "string") return textTime(value, column, field);
  // Numbers are read in the unit the column name ends in (…_ns or …Ns as FLOX writes them), else as milliseconds.
  if (typeof value === "number" || typeof value === "bigint") {
    const unit = unitOf(column);
    if (unit === "ns") return toNanoseconds(value, field, "ns");
    if (unit === "us") return toNanoseconds(typeof value === "bigint" ? value * 1_000n : value / 1000, field);
    if (unit === "s") return toNanoseconds(typeof value === "bigint" ? value * 1_000_000_000n : value * 1000, field);
    if (unit === "ms" && typeof value === "bigint") return toNanoseconds(value * 1_000_000n, field);
  }
  return toNanoseconds(value, field);
}

function textType(values: readonly (string | undefined)[]): ColumnType {
  const present = values.filter((v): v is string => v !== undefined && v !== "");
  if (present.length === 0) return "string";
  if (present.every((v) => /^[-+]?\d+$/.test(v))) return "long";
  if (present.every((v) => /^[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|nan|NaN|inf|Infinity|-inf|-Infinity)$/.test(v))) return "double";
  if (present.every((v) => /^(?:true|false|True|False)$/.test(v))) return "boolean";
  return "string";
}

function valueType(values: Iterable<unknown>): ColumnType {
  let type: ColumnType | undefined;
  for (const v of values) {
    if (v === null || v === undefined) continue;
    const t: ColumnType = typeof v === "bigint" ? "long" : typeof v === "number" ? (Number.isInteger(v) ? "long" : "double")
      : typeof v === "boolean" ? "boolean" : isDate(v) ? "datetime" : "string";
    if (type === undefined || type === t) type = t;
    else if ((type === "long" && t === "double") || (type === "double" && t === "long")) type = "double";
    else return "string";
  }
  return type ?? "string";
}

function schemaJson(columns: readonly string[], types: readonly ColumnType[]): string {
  // Key order as MLflow writes a ColSpec (file-store layout addendum): type, name, required.
  return pythonJson({ mlflow_colspec: columns.map((name, i) => ({ type: types[i]!, name, required: true })) });
}

function profileJson(rows: number, columns: number, first: bigint | undefined, last: bigint | undefined): string {
  const profile: Record<string, JsonValue> = { num_rows: rows, num_elements: rows * columns };
  if (first !== undefined && last !== undefined) {
    profile.first_bar_time = nanosToIso(first);
    profile.last_bar_time = nanosToIso(last);
  }
  return pythonJson(profile);
}

function csvCell(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (isDate(value)) return value.toISOString();
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll("\"", "\"\"")}"` : text;
}

function isColumns(bars: object): bars is Record<string, ArrayLike<unknown>> {
  return !Array.isArray(bars) && !(bars instanceof ReadableStream) && !(bars instanceof URL);
}

function describeMemory(bars: BarsInMemory, options: DescribeBarsOptions, field: string): Omit<Dataset, "name" | "sourceType" | "source"> {
  let columns: string[];
  let length: number;
  let cell: (row: number, col: number) => unknown;
  if (Array.isArray(bars)) {
    const rows = bars as readonly Record<string, unknown>[];
    rows.forEach((row, i) => {
      if (typeof row !== "object" || row === null) throw new MlflowValidationError(`${field}[${i}]`, `must be an object of named values, got ${describeValue(row)}`);
    });
    columns = rows.length > 0 ? Object.keys(rows[0]!) : [];
    length = rows.length;
    cell = (r, c) => rows[r]![columns[c]!];
  } else {
    const table = bars as Record<string, ArrayLike<unknown>>;
    columns = Object.keys(table);
    length = -1;
    for (const name of columns) {
      const column = table[name];
      if (typeof column !== "object" || column === null || typeof column.length !== "number") {
        throw new MlflowValidationError(`${field}.${name}`, `must be an array or typed array of values, got ${describeValue(column)}`);
      }
      if (length !== -1 && column.length !== length) {
        throw new MlflowValidationError(`${field}.${name}`, `has ${column.length} values but '${columns[0]}' has ${length}; every column needs one value per bar`);
      }
      length = column.length;
    }
    length = Math.max(length, 0);
    cell = (r, c) => table[columns[c]!]![r];
  }
  if (columns.length === 0) throw new MlflowValidationError(field, "has no columns; pass rows of named values or named columns");
  // The digest is the SHA-256 of the bars as CSV text, fed a block at a time.
  const hash = new Sha256();
  const encoder = new TextEncoder();
  let pending = columns.map(csvCell).join(",") + "\n";
  for (let r = 0; r < length; r++) {
    let line = "";
    for (let c = 0; c < columns.length; c++) line += (c ? "," : "") + csvCell(cell(r, c));
    pending += line + "\n";
    if (pending.length > 65_536) {
      hash.update(encoder.encode(pending));
      pending = "";
    }
  }
  hash.update(encoder.encode(pending));
  const types = columns.map((_, c) => valueType((function* () {
    for (let r = 0; r < length; r++) yield cell(r, c);
  })()));
  const time = timeColumnOf(columns, options.timeColumn, "options");
  let first: bigint | undefined;
  let last: bigint | undefined;
  if (time !== undefined && length > 0) {
    const c = columns.indexOf(time);
    first = valueTime(cell(0, c), time, `${field}.${time}[0]`);
    last = valueTime(cell(length - 1, c), time, `${field}.${time}[${length - 1}]`);
  }
  return {
    digest: hash.hex().slice(0, DIGEST_LENGTH),
    schema: schemaJson(columns, types),
    profile: profileJson(length, columns.length, first, last),
  };
}

async function describeCsv(stream: ReadableStream<Uint8Array>, options: DescribeBarsOptions, field: string): Promise<Omit<Dataset, "name" | "sourceType" | "source">> {
  const scan = await scanCsv(stream, options.signal);
  if (scan.header.length === 0) throw new MlflowValidationError(field, "is empty; a bars CSV starts with a header line naming its columns");
  const types = scan.header.map((_, i) => textType([scan.first?.[i], scan.last?.[i]]));
  const time = timeColumnOf(scan.header, options.timeColumn, "options");
  let first: bigint | undefined;
  let last: bigint | undefined;
  if (time !== undefined && scan.first && scan.last) {
    const i = scan.header.indexOf(time);
    first = textTime(scan.first[i] ?? "", time, `${field}: the first bar's ${time}`);
    last = textTime(scan.last[i] ?? "", time, `${field}: the last bar's ${time}`);
  }
  return {
    digest: scan.sha256.slice(0, DIGEST_LENGTH),
    schema: schemaJson(scan.header, types),
    profile: profileJson(scan.rows, scan.header.length, first, last),
  };
}

async function fetchCsv(url: string, options: DescribeBarsOptions, field: string): Promise<ReadableStream<Uint8Array>> {
  const doFetch = options.fetch ?? globalThis.fetch;
  let response: Response;
  try {
    response = await doFetch(url, { ...(options.headers ? { headers: options.headers } : {}), ...(options.signal ? { signal: options.signal } : {}) });
  } catch (err) {
    throw new MlflowValidationError(field, `could not be fetched from ${publicUrl(url)}: ${err instanceof Error ? err.name : "error"}`);
  }
  if (!response.ok || response.body === null) {
    await response.body?.cancel().catch(() => undefined);
    throw new MlflowValidationError(field, `GET ${publicUrl(url)} answered ${response.status}; pass a URL that serves the CSV`);
  }
  return response.body;
}

/**
 * Describes bars as an MLflow dataset, ready for the `dataset` option of
 * `logBacktest`, `startRun` and `run.logInput`. A file or URL is read once,
 * as it streams: its digest is its SHA-256 (first 8 hex digits), its rows
 * counted, its header, first and last bar kept; nothing else is held.
 *
 * @param bars Rows or columns in memory, a CSV file path or `file:` URI, an `http(s)` URL, or a stream of CSV bytes.
 * @param options The name, context, source URI and time column.
 * @returns The dataset: name, digest, source type and source, schema, profile and context.
 * @throws {MlflowValidationError} On bars of the wrong shape, a missing file, a URL that fails, a name missing.
 * @example Bars in memory, as columns
 * ```ts
 * import { describeBars } from "./dataset.ts";
 * const dataset = await describeBars(
 *   { ts: [1704067200000000000n, 1704067260000000000n], close: [42000.5, 42010] },
 *   { name: "btcusdt-1m" },
 * );
 * if (dataset.digest.length !== 8 || !dataset.profile!.includes('"num_rows": 2')) throw new Error(dataset.profile);
 * ```
 */
export async function describeBars(bars: BarsSource, options: DescribeBarsOptions = {}): Promise<Dataset> {
  checkOptionKeys(options, OPTION_KEYS, "options");
  const field = "bars";
  if (options.name !== undefined && (typeof options.name !== "string" || options.name === "")) {
    throw new MlflowValidationError("options.name", `must be a non-empty string, got ${describeValue(options.name)}`);
  }
  if (options.source !== undefined && (typeof options.source !== "string" || options.source === "")) {
    throw new MlflowValidationError("options.source", `must be a URI string such as 'file:///data/bars.csv', got ${describeValue(options.source)}`);
  }
  if (options.context !== undefined && (typeof options.context !== "string" || options.context === "")) {
    throw new MlflowValidationError("options.context", `must be a non-empty string such as 'backtest' or 'training', got ${describeValue(options.context)}`);
  }
  checkCallback(options.fetch, "options.fetch", "a fetch function");
  checkSignal(options.signal, "options.signal");
  if (options.headers !== undefined && (typeof options.headers !== "object" || options.headers === null)) {
    throw new MlflowValidationError("options.headers", `must be an object of header names to values, got ${describeValue(options.headers)}`);
  }
  if (options.timeColumn !== undefined && typeof options.timeColumn !== "string") {
    throw new MlflowValidationError("options.timeColumn", `must be a column name, got ${describeValue(options.timeColumn)}`);
  }
  // Checked before any data is read.
  const given = options.source === undefined ? undefined : sourceOf(options.source, "options.source");
  const named = (fallback: string | undefined): string => {
    const name = options.name ?? fallback;
    if (name === undefined) throw new MlflowValidationError("options.name", "is required for bars in memory or a stream; name the data, e.g. 'btcusdt-1m-2024'");
    return name;
  };
  let described: Omit<Dataset, "name" | "sourceType" | "source">;
  let name: string;
  let origin: { sourceType: string; source: string };
  if (typeof bars === "string" || bars instanceof URL) {
    const text = String(bars);
    const isUrl = /^(?:https?|file):/i.test(text);
    const last = (isUrl ? text.replace(/[?#].*$/, "") : text).replace(/[\\/]+$/, "").split(/[\\/]/).pop() ?? "";
    let base = last;
    try {
      if (isUrl) base = decodeURIComponent(last);
    } catch {
      // A malformed %-escape keeps the name as written.
    }
    base = base.replace(/\.csv$/i, "");
    if (/^https?:/i.test(text)) {
      publicUrl(text);
      described = await describeCsv(await fetchCsv(text, options, field), options, field);
      origin = sourceOf(text);
    } else {
      const path = /^file:/i.test(text) ? fileUrlToPath(text) : text;
      const file = await openLocalFile(path, field);
      described = await describeCsv(file.open(), options, field);
      origin = sourceOf(pathToFileUrl(file.path));
    }
    name = named(base || undefined);
  } else if (bars instanceof ReadableStream) {
    name = named(undefined);
    described = await describeCsv(bars, options, field);
    origin = { sourceType: "code", source: pythonJson({ tags: {} }) };
  } else if (typeof bars === "object" && bars !== null && (Array.isArray(bars) || isColumns(bars))) {
    name = named(undefined);
    described = describeMemory(bars as BarsInMemory, options, field);
    origin = { sourceType: "code", source: pythonJson({ tags: {} }) };
  } else {
    throw new MlflowValidationError(field, `must be rows, columns, a CSV file path, a URL or a stream of CSV bytes; got ${describeValue(bars)}`);
  }
  if (given !== undefined) origin = given;
  const dataset: Dataset = { name, ...described, ...origin, context: options.context ?? DEFAULT_CONTEXT };
  // The limits are checked here too, so a dataset that cannot be logged fails where it is made.
  datasetInputs(dataset, "dataset");
  return dataset;
}
