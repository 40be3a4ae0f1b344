/**
 * A command's result on standard output: one line, a run id or JSON.
 *
 * @module
 */

/**
 * One line of JSON. BigInts (a param or stat too long for a double) are
 * written as strings with every digit; NaN and Infinity, which JSON has no
 * word for, as the strings `"NaN"`, `"Infinity"`, `"-Infinity"`.
 *
 * @param value What to print.
 * @returns The JSON text with a line break.
 * @example A nanosecond time
 * ```ts
 * import { jsonLine } from "./output.ts";
 * if (jsonLine({ t: 1704067200000000001n }) !== '{"t":"1704067200000000001"}\n') throw new Error();
 * ```
 */
export function jsonLine(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === "bigint") return v.toString();
    if (typeof v === "number" && !Number.isFinite(v)) return String(v);
    return v;
  }) + "\n";
}
