/**
 * JSON as backtesters write it: Python's `json.dumps` (bare `NaN`,
 * `Infinity`, `-Infinity`), Codon's float printing (`nan`, `inf`, `-inf`),
 * and integers longer than a double holds (19-digit nanosecond times), kept
 * exact as BigInts.
 *
 * @module
 */
import { MlflowValidationError } from "../errors.ts";

const MAX_DEPTH = 512;
const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
const SPECIALS: ReadonlyArray<readonly [string, number]> = [
  ["NaN", NaN],
  ["Infinity", Infinity],
  ["-Infinity", -Infinity],
  ["nan", NaN],
  ["-inf", -Infinity],
  ["inf", Infinity],
];
const ESCAPES: Record<string, string> = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };

/**
 * Parses JSON text the way a backtest's output needs: bare `NaN` /
 * `Infinity` / `-Infinity` (and `nan` / `inf` / `-inf`) are numbers, an
 * integer beyond 2^53 is a BigInt with every digit, other numbers are
 * numbers. Objects have no prototype, so any key (`__proto__` too) is data.
 *
 * @param text The JSON text.
 * @param field What the text is, for errors (e.g. `--stats`).
 * @returns The value.
 * @throws {MlflowValidationError} Naming `field`, the line and the column where the text stops being JSON.
 * @example Python's json.dumps output with NaN and a nanosecond time
 * ```ts
 * import { parseBacktestJson } from "./json_input.ts";
 * const stats = parseBacktestJson('{"sharpe_ratio": NaN, "start_time_ns": 1704067200000000001}', "--stats") as Record<string, unknown>;
 * if (!Number.isNaN(stats.sharpe_ratio) || stats.start_time_ns !== 1704067200000000001n) throw new Error();
 * ```
 */
export function parseBacktestJson(text: string, field: string): unknown {
  let pos = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let depth = 0;

  const fail = (expected: string): never => {
    const before = text.slice(0, pos);
    const line = before.split("\n").length;
    const column = pos - before.lastIndexOf("\n");
    const found = pos >= text.length ? "the end of the input" : JSON.stringify(text.slice(pos, pos + 12));
    throw new MlflowValidationError(field, `is not valid JSON: line ${line}, column ${column}: expected ${expected}, found ${found}`);
  };
  const space = (): void => {
    for (;;) {
      const c = text.charCodeAt(pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) pos++;
      else return;
    }
  };
  const string = (): string => {
    pos++; // the opening quote
    let out = "";
    let start = pos;
    for (;;) {
      if (pos >= text.length) fail("a closing '\"'");
      const c = text.charCodeAt(pos);
      if (c === 0x22) {
        out += text.slice(start, pos);
        pos++;
        return out;
      }
      if (c < 0x20) fail("no control character inside a string");
      if (c !== 0x5c) {
        pos++;
        continue;
      }
      out += text.slice(start, pos);
      const esc = text[pos + 1];
      if (esc !== undefined && esc in ESCAPES) {
        out += ESCAPES[esc];
        pos += 2;
      } else if (esc === "u" && /^[0-9a-fA-F]{4}$/.test(text.slice(pos + 2, pos + 6))) {
        out += String.fromCharCode(parseInt(text.slice(pos + 2, pos + 6), 16));
        pos += 6;
      } else {
        fail("a valid escape (\\n, \\\", \\uXXXX, ...)");
      }
      start = pos;
    }
  };
  const value = (): unknown => {
    space();
    const c = text[pos];
    if (c === "{") return object();
    if (c === "[") return array();
    if (c === '"') return string();
    if (text.startsWith("true", pos)) return (pos += 4, true);
    if (text.startsWith("false", pos)) return (pos += 5, false);
    if (text.startsWith("null", pos)) return (pos += 4, null);
    for (const [word, number] of SPECIALS) {
      if (text.startsWith(word, pos)) return (pos += word.length, number);
    }
    NUMBER.lastIndex = pos;
    const match = NUMBER.exec(text);
    if (match === null) return fail("a value");
    pos += match[0].length;
    const n = Number(match[0]);
    // An integer a double cannot hold exactly (a nanosecond time) keeps its digits.
    if (match[1] === undefined && match[2] === undefined && !Number.isSafeInteger(n)) return BigInt(match[0]);
    return n;
  };
  const enter = (): void => {
    if (++depth > MAX_DEPTH) fail(`nesting at most ${MAX_DEPTH} levels deep`);
    pos++;
    space();
  };
  const object = (): Record<string, unknown> => {
    enter();
    const out = Object.create(null) as Record<string, unknown>;
    if (text[pos] === "}") return (pos++, depth--, out);
    for (;;) {
      space();
      if (text[pos] !== '"') fail("a key in double quotes");
      const key = string();
      space();
      if (text[pos] !== ":") fail("':'");
      pos++;
      out[key] = value();
      space();
      if (text[pos] === ",") pos++;
      else if (text[pos] === "}") return (pos++, depth--, out);
      else fail("',' or '}'");
    }
  };
  const array = (): unknown[] => {
    enter();
    const out: unknown[] = [];
    if (text[pos] === "]") return (pos++, depth--, out);
    for (;;) {
      out.push(value());
      space();
      if (text[pos] === ",") pos++;
      else if (text[pos] === "]") return (pos++, depth--, out);
      else fail("',' or ']'");
    }
  };

  const result = value();
  space();
  if (pos < text.length) fail("the end of the input");
  return result;
}
