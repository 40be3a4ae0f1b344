/**
 * Test support: JSON and numbers the way MLflow's Python server writes and
 * reads them.
 *
 * Output follows Python's `json.dumps` (ensure_ascii, floats printed with
 * `repr`, so `2.0` stays `2.0`): byte-exact answers let the transcript replay
 * compare truncated bodies by length. Input follows Python's `json.loads`,
 * which accepts bare `NaN` / `Infinity` tokens and tells int from float,
 * because the server's answers and error messages depend on both.
 *
 * @module
 */

/** A double-typed value, printed the way Python prints a float. */
export class PyFloat {
  /** @param value The number to print as a Python float. */
  constructor(readonly value: number) {}
}

/** A value `pyDumps` can write; `PyFloat` marks a double so it prints as one. */
export type PyJson = null | boolean | number | string | PyFloat | PyJson[] | { [key: string]: PyJson | undefined };

/** Python `repr(float)`: the shortest round-trip digits, `2.0` for whole numbers, `1e-07` style exponents. */
export function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (x === Infinity) return "Infinity";
  if (x === -Infinity) return "-Infinity";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const sign = x < 0 ? "-" : "";
  const [mantissa = "", exponent = "0"] = Math.abs(x).toExponential().split("e");
  const digits = mantissa.replace(".", "");
  const decpt = Number(exponent) + 1;
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) return `${sign}0.${"0".repeat(-decpt)}${digits}`;
    if (decpt >= digits.length) return `${sign}${digits}${"0".repeat(decpt - digits.length)}.0`;
    return `${sign}${digits.slice(0, decpt)}.${digits.slice(decpt)}`;
  }
  const e = decpt - 1;
  const rest = digits.length > 1 ? `.${digits.slice(1)}` : "";
  return `${sign}${digits[0]}${rest}e${e < 0 ? "-" : "+"}${String(Math.abs(e)).padStart(2, "0")}`;
}

/** Python `str(float)`, used inside error messages. */
export function pyFloatStr(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (x === Infinity) return "inf";
  if (x === -Infinity) return "-inf";
  return pyFloatRepr(x);
}

/** A JSON string literal as `json.dumps` writes it: ASCII only, other code units as `\uXXXX`. */
export function pyJsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const code = s.charCodeAt(i);
    const ch = s[i] as string;
    if (ch === '"') out += '\\"';
    else if (ch === "\\") out += "\\\\";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\b") out += "\\b";
    else if (ch === "\f") out += "\\f";
    else if (code < 0x20 || code > 0x7e) out += `\\u${code.toString(16).padStart(4, "0")}`;
    else out += ch;
  }
  return `${out}"`;
}

/** Python `json.dumps(value)` (no indent) or `json.dumps(value, indent=2)`. */
export function pyDumps(value: PyJson, indent?: number): string {
  const write = (v: PyJson, level: number): string => {
    if (v === null) return "null";
    if (v === true) return "true";
    if (v === false) return "false";
    if (typeof v === "number") return Number.isInteger(v) ? String(v) : pyFloatRepr(v);
    if (typeof v === "string") return pyJsonString(v);
    if (v instanceof PyFloat) return pyFloatRepr(v.value);
    const inner = indent === undefined ? "" : `\n${" ".repeat(indent * (level + 1))}`;
    const outer = indent === undefined ? "" : `\n${" ".repeat(indent * level)}`;
    const comma = indent === undefined ? ", " : ",";
    if (Array.isArray(v)) {
      if (v.length === 0) return "[]";
      return `[${v.map((item) => inner + write(item, level + 1)).join(comma)}${outer}]`;
    }
    const entries = Object.entries(v).filter((entry): entry is [string, PyJson] => entry[1] !== undefined);
    if (entries.length === 0) return "{}";
    return `{${entries.map(([k, item]) => `${inner}${pyJsonString(k)}: ${write(item, level + 1)}`).join(comma)}${outer}}`;
  };
  return write(value, 0);
}

/** Python `repr(str)`. */
export function pyRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const code = ch.codePointAt(0) as number;
    if (ch === "\\") out += "\\\\";
    else if (ch === quote) out += `\\${quote}`;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (code < 0x20 || (code >= 0x7f && code < 0xa0)) out += `\\x${code.toString(16).padStart(2, "0")}`;
    else out += ch;
  }
  return out + quote;
}

/** A JSON number with Python's int/float distinction. */
export class PyNum {
  /**
   * @param value The number.
   * @param isFloat Whether the JSON text had a fraction or an exponent (or was NaN/Infinity).
   */
  constructor(
    readonly value: number,
    readonly isFloat: boolean,
  ) {}
}

/** A JSON value as `parsePythonJson` reads it; numbers keep whether they were written as floats. */
export type Raw = null | boolean | string | PyNum | Raw[] | RawObject;
/** A JSON object read by `parsePythonJson` (no prototype, so any key is safe). */
export interface RawObject {
  [key: string]: Raw;
}

/** True for a JSON object (not an array, number or null). */
export function isRawObject(v: Raw | undefined): v is RawObject {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof PyNum);
}

/** Parses like Python's `json.loads`; `undefined` for anything it would reject. */
export function parsePythonJson(text: string): Raw | undefined {
  let pos = 0;
  const fail = (): never => {
    throw new SyntaxError(`bad JSON at ${pos}`);
  };
  const space = (): void => {
    while (pos < text.length && " \t\n\r".includes(text[pos] as string)) pos++;
  };
  const literal = (word: string): boolean => {
    if (text.startsWith(word, pos)) {
      pos += word.length;
      return true;
    }
    return false;
  };
  const str = (): string => {
    pos++;
    let out = "";
    for (;;) {
      if (pos >= text.length) fail();
      const ch = text[pos] as string;
      if (ch === '"') {
        pos++;
        return out;
      }
      if (ch.charCodeAt(0) < 0x20) fail();
      if (ch !== "\\") {
        out += ch;
        pos++;
        continue;
      }
      const esc = text[pos + 1];
      const simple: Record<string, string> = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };
      if (esc !== undefined && esc in simple) {
        out += simple[esc];
        pos += 2;
      } else if (esc === "u" && /^[0-9a-fA-F]{4}$/.test(text.slice(pos + 2, pos + 6))) {
        out += String.fromCharCode(parseInt(text.slice(pos + 2, pos + 6), 16));
        pos += 6;
      } else {
        fail();
      }
    }
  };
  const value = (): Raw => {
    space();
    const ch = text[pos];
    if (ch === "{") {
      pos++;
      const obj: RawObject = Object.create(null) as RawObject;
      space();
      if (text[pos] === "}") {
        pos++;
        return obj;
      }
      for (;;) {
        space();
        if (text[pos] !== '"') fail();
        const key = str();
        space();
        if (text[pos] !== ":") fail();
        pos++;
        obj[key] = value();
        space();
        if (text[pos] === ",") pos++;
        else if (text[pos] === "}") {
          pos++;
          return obj;
        } else fail();
      }
    }
    if (ch === "[") {
      pos++;
      const arr: Raw[] = [];
      space();
      if (text[pos] === "]") {
        pos++;
        return arr;
      }
      for (;;) {
        arr.push(value());
        space();
        if (text[pos] === ",") pos++;
        else if (text[pos] === "]") {
          pos++;
          return arr;
        } else fail();
      }
    }
    if (ch === '"') return str();
    if (literal("true")) return true;
    if (literal("false")) return false;
    if (literal("null")) return null;
    if (literal("NaN")) return new PyNum(NaN, true);
    if (literal("Infinity")) return new PyNum(Infinity, true);
    if (literal("-Infinity")) return new PyNum(-Infinity, true);
    const num = /^-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(pos));
    if (num === null) return fail();
    pos += num[0].length;
    return new PyNum(Number(num[0]), num[1] !== undefined || num[2] !== undefined);
  };
  try {
    const result = value();
    space();
    return pos === text.length ? result : undefined;
  } catch {
    return undefined;
  }
}

/** Python's type name of a parsed JSON value, as MLflow's error hints print it. */
export function pyTypeName(v: Raw | undefined): string {
  if (v === null || v === undefined) return "NoneType";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "string") return "str";
  if (v instanceof PyNum) return v.isFloat ? "float" : "int";
  return Array.isArray(v) ? "list" : "dict";
}

/** `json.dumps(value, sort_keys=True, separators=(",", ":"))`, as in MLflow's `invalid_value`. */
export function pyCompactJson(v: Raw | undefined): string {
  if (v === null || v === undefined) return "null";
  if (typeof v === "boolean") return String(v);
  if (typeof v === "string") return pyJsonString(v);
  if (v instanceof PyNum) return v.isFloat ? pyFloatRepr(v.value) : String(v.value);
  if (Array.isArray(v)) return `[${v.map(pyCompactJson).join(",")}]`;
  const keys = Object.keys(v).sort();
  return `{${keys.map((k) => `${pyJsonString(k)}:${pyCompactJson(v[k])}`).join(",")}}`;
}

/** Python `float(str)`; `undefined` where Python raises ValueError. */
export function pyFloatFromString(s: string): number | undefined {
  const t = s.trim();
  if (/^[+-]?(?:inf|infinity)$/i.test(t)) return t.startsWith("-") ? -Infinity : Infinity;
  if (/^[+-]?nan$/i.test(t)) return NaN;
  const digits = String.raw`\d(?:_?\d)*`;
  const re = new RegExp(`^[+-]?(?:${digits}(?:\\.(?:${digits})?)?|\\.${digits})(?:[eE][+-]?${digits})?$`);
  return re.test(t) ? Number(t.replace(/_/g, "")) : undefined;
}

/** Python `int(str)`; `undefined` where Python raises ValueError. */
export function pyIntFromString(s: string): number | undefined {
  const t = s.trim();
  return /^[+-]?\d(?:_?\d)*$/.test(t) ? Number(t.replace(/_/g, "")) : undefined;
}
