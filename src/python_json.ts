/**
 * JSON text as Python's `json.dumps` writes it with its defaults: `", "` and
 * `": "` separators and non-ASCII escaped (`ensure_ascii=True`). MLflow's
 * dataset sources, schemas and profiles are such text (transcript 59:
 * `{"uri": "file:///data/btcusdt_1m.csv"}`), so ours read the same.
 *
 * @module
 */

/** What {@link pythonJson} writes. */
export type JsonValue = string | number | boolean | null | readonly JsonValue[] | { readonly [key: string]: JsonValue };

const ESCAPES: Record<string, string> = { "\"": "\\\"", "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f" };

function quote(text: string): string {
  // Code units, as Python escapes astral characters as surrogate pairs.
  return `"${text.replace(/[\u0000-\u001f"\\\u007f-\uffff]/g, (ch) => {
    const named = ESCAPES[ch];
    if (named !== undefined) return named;
    return `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`;
  })}"`;
}

/**
 * Serialises a value as Python's `json.dumps(value)` does.
 *
 * @param value Strings, finite numbers, booleans, null, arrays and plain objects.
 * @returns The JSON text.
 * @example A source
 * ```ts
 * import { pythonJson } from "./python_json.ts";
 * if (pythonJson({ uri: "file:///data/é.csv" }) !== '{"uri": "file:///data/\\u00e9.csv"}') throw new Error();
 * ```
 */
export function pythonJson(value: JsonValue): string {
  if (value === null) return "null";
  if (typeof value === "string") return quote(value);
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return Number.isNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity";
    return String(value);
  }
  if (Array.isArray(value)) return `[${value.map((v: JsonValue) => pythonJson(v)).join(", ")}]`;
  return `{${Object.entries(value).map(([k, v]) => `${quote(k)}: ${pythonJson(v as JsonValue)}`).join(", ")}}`;
}
