/**
 * Test support: an in-memory MLflow tracking server (version 3.11.2.dev0,
 * SQL backend, `--serve-artifacts`) as a web `fetch` handler.
 *
 * It answers the way the real server does in the recorded transcripts under
 * `test/fixtures/mlflow-transcripts/`: same status codes, same error bodies
 * (minus SQL details), same JSON layout (Python `json.dumps` formatting, so
 * `2.0` stays `2.0`), same quirks (a bare `NaN` token silently logged as 0,
 * `metrics/get-history` without `max_results` returning nothing). Requests are
 * recorded and faults can be injected for retry tests.
 *
 * @module
 */

import { DropConnection } from "./serve.ts";

/** Options of {@link createMlflowServer}. */
export interface MlflowServerOptions {
  /**
   * Reject over-long param and tag values with a 400 instead of truncating
   * them, like a server started with `MLFLOW_TRUNCATE_LONG_VALUES=false`.
   */
  strict?: boolean;
}

/** One request seen by the server. */
export interface RecordedRequest {
  /** HTTP method, upper case. */
  method: string;
  /** URL path without the query string, e.g. `/api/2.0/mlflow/runs/log-batch`. */
  path: string;
  /** Status answered; 0 when the connection was dropped by an injected fault. */
  status: number;
}

/** A fault for {@link MlflowTestServer.injectFault}. */
export interface FaultSpec {
  /** Only requests with this method (any method when absent). */
  method?: string;
  /** Exact path, or a prefix ending in `*` (e.g. `/api/2.0/mlflow-artifacts/*`). */
  path: string;
  /** How many matching requests get the fault (default 1; `Infinity` for all). */
  times?: number;
  /** Status of the fault response (default 503; a fault with only `delayMs` answers normally, late). */
  status?: number;
  /** Body of the fault response (default: an MLflow JSON error body). */
  body?: string;
  /** Content-Type of the fault response (default JSON for the default body, else text/plain). */
  contentType?: string;
  /** Extra response headers, e.g. `{"Retry-After": "0"}`. */
  headers?: Record<string, string>;
  /** Perform the real operation first, then answer with the fault: a response lost after the work was done. */
  applyThenFail?: boolean;
  /** Wait this long before answering (alone: a slow but successful answer). */
  delayMs?: number;
  /** Drop the connection instead of answering (needs `serve()`; a direct handler call rejects with `DropConnection`). */
  reset?: boolean;
}

/** The in-memory server returned by {@link createMlflowServer}. */
export interface MlflowTestServer {
  /**
   * Answers one request. Rejects with `DropConnection` for a `reset` fault.
   *
   * @param request The request, with a URL whose path starts at the server root.
   * @returns The response the real server would give.
   */
  handler(request: Request): Promise<Response>;
  /** Every request seen since creation or the last {@link MlflowTestServer.reset}, in arrival order. */
  readonly requests: RecordedRequest[];
  /** Forgets every experiment but "Default", every run, artifact, fault and recorded request. */
  reset(): void;
  /**
   * Makes the next matching requests fail (or slow down).
   *
   * @param fault Which requests and how they fail.
   */
  injectFault(fault: FaultSpec): void;
}

/**
 * Creates an in-memory MLflow tracking server. Experiment "0" ("Default")
 * exists from the start; new experiments get ids "1", "2", …; runs get 32
 * lowercase hex ids.
 *
 * @param options `strict` rejects over-long param/tag values instead of truncating them.
 * @returns The server: a `fetch`-style handler, the request log, `reset()` and `injectFault()`.
 * @example Create a run without a network
 * ```ts
 * import { createMlflowServer } from "./mlflow_server.ts";
 * const server = createMlflowServer();
 * const res = await server.handler(new Request("http://mlflow.test/api/2.0/mlflow/runs/create", {
 *   method: "POST",
 *   headers: { "Content-Type": "application/json" },
 *   body: JSON.stringify({ experiment_id: "0", start_time: Date.now() }),
 * }));
 * const { run } = await res.json();
 * console.log(run.info.run_id, server.requests.length);
 * ```
 */
export function createMlflowServer(options: MlflowServerOptions = {}): MlflowTestServer {
  const impl = new InMemoryMlflow(options.strict === true);
  return {
    handler: (request) => impl.handle(request),
    requests: impl.requests,
    reset: () => impl.reset(),
    injectFault: (fault) => impl.injectFault(fault),
  };
}

// ---------------------------------------------------------------------------
// Python-compatible JSON output. The real server formats with Python's
// `json.dumps` (ensure_ascii, floats printed with repr, so 2.0 stays "2.0"):
// byte-exact output lets tests compare the truncated transcripts by length.

/** A double-typed value, printed the way Python prints a float. */
class PyFloat {
  constructor(readonly value: number) {}
}

type PyJson = null | boolean | number | string | PyFloat | PyJson[] | { [key: string]: PyJson | undefined };

function pyFloatRepr(x: number): string {
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
function pyFloatStr(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (x === Infinity) return "inf";
  if (x === -Infinity) return "-inf";
  return pyFloatRepr(x);
}

function pyJsonString(s: string): string {
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
function pyDumps(value: PyJson, indent?: number): string {
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
function pyRepr(s: string): string {
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

function jsonResponse(body: PyJson): Response {
  return new Response(pyDumps(body, 2), { headers: { "content-type": "application/json" } });
}

// ---------------------------------------------------------------------------
// Lenient JSON input, as Python's json.loads reads it: bare NaN / Infinity
// tokens are accepted and int/float are told apart, because the server's
// answers (and error messages) depend on both.

/** A JSON number with Python's int/float distinction. */
class PyNum {
  constructor(
    readonly value: number,
    readonly isFloat: boolean,
  ) {}
}

type Raw = null | boolean | string | PyNum | Raw[] | RawObject;
interface RawObject {
  [key: string]: Raw;
}

function isRawObject(v: Raw | undefined): v is RawObject {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof PyNum);
}

/** Parses like Python's `json.loads`; `undefined` for anything it would reject. */
function parsePythonJson(text: string): Raw | undefined {
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

function pyTypeName(v: Raw | undefined): string {
  if (v === null || v === undefined) return "NoneType";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "string") return "str";
  if (v instanceof PyNum) return v.isFloat ? "float" : "int";
  return Array.isArray(v) ? "list" : "dict";
}

/** `json.dumps(value, sort_keys=True, separators=(",", ":"))`, as in MLflow's `invalid_value`. */
function pyCompactJson(v: Raw | undefined): string {
  if (v === null || v === undefined) return "null";
  if (typeof v === "boolean") return String(v);
  if (typeof v === "string") return pyJsonString(v);
  if (v instanceof PyNum) return v.isFloat ? pyFloatRepr(v.value) : String(v.value);
  if (Array.isArray(v)) return `[${v.map(pyCompactJson).join(",")}]`;
  const keys = Object.keys(v).sort();
  return `{${keys.map((k) => `${pyJsonString(k)}:${pyCompactJson(v[k])}`).join(",")}}`;
}

/** Python `float(str)`; `undefined` where Python raises ValueError. */
function pyFloatFromString(s: string): number | undefined {
  const t = s.trim();
  if (/^[+-]?(?:inf|infinity)$/i.test(t)) return t.startsWith("-") ? -Infinity : Infinity;
  if (/^[+-]?nan$/i.test(t)) return NaN;
  const digits = String.raw`\d(?:_?\d)*`;
  const re = new RegExp(`^[+-]?(?:${digits}(?:\\.(?:${digits})?)?|\\.${digits})(?:[eE][+-]?${digits})?$`);
  return re.test(t) ? Number(t.replace(/_/g, "")) : undefined;
}

/** Python `int(str)`; `undefined` where Python raises ValueError. */
function pyIntFromString(s: string): number | undefined {
  const t = s.trim();
  return /^[+-]?\d(?:_?\d)*$/.test(t) ? Number(t.replace(/_/g, "")) : undefined;
}

// ---------------------------------------------------------------------------
// Protobuf JSON parsing with MLflow's quirk: a ParseError is swallowed and the
// message keeps whatever was parsed before it (fields in document order).

class ParseError extends Error {}

type EnumValues = Record<string, number>;
interface FieldSpec {
  type: "string" | "int64" | "double" | { enumValues: EnumValues } | { message: ProtoSchema };
  repeated?: boolean;
}
type ProtoSchema = Record<string, FieldSpec>;
type ProtoValue = string | number | ProtoMsg | ProtoValue[];
interface ProtoMsg {
  [field: string]: ProtoValue | undefined;
}

const RUN_STATUS: EnumValues = { RUNNING: 1, SCHEDULED: 2, FINISHED: 3, FAILED: 4, KILLED: 5 };
const VIEW_TYPE: EnumValues = { ACTIVE_ONLY: 1, DELETED_ONLY: 2, ALL: 3 };
const KEY_VALUE: ProtoSchema = { key: { type: "string" }, value: { type: "string" } };
const METRIC: ProtoSchema = {
  key: { type: "string" },
  value: { type: "double" },
  timestamp: { type: "int64" },
  step: { type: "int64" },
  dataset_name: { type: "string" },
  dataset_digest: { type: "string" },
  model_id: { type: "string" },
  run_id: { type: "string" },
};
const RUN_REF: ProtoSchema = { run_id: { type: "string" }, run_uuid: { type: "string" } };

function convertScalar(v: Raw, spec: FieldSpec): ProtoValue {
  const type = spec.type;
  if (type === "string") {
    if (typeof v !== "string") throw new ParseError("expected a string");
    return v;
  }
  if (type === "int64") {
    if (v instanceof PyNum) {
      if (!Number.isInteger(v.value)) throw new ParseError("couldn't parse integer");
      return v.value;
    }
    const parsed = typeof v === "string" && !v.includes(" ") ? pyIntFromString(v) : undefined;
    if (parsed === undefined) throw new ParseError("couldn't parse integer");
    return parsed;
  }
  if (type === "double") {
    if (v instanceof PyNum) {
      if (!Number.isFinite(v.value)) throw new ParseError('use quoted "NaN"/"Infinity" instead');
      return v.value;
    }
    if (typeof v === "boolean") return v ? 1 : 0;
    if (v === "NaN") return NaN;
    if (v === "Infinity") return Infinity;
    if (v === "-Infinity") return -Infinity;
    const parsed = typeof v === "string" && v !== "nan" ? pyFloatFromString(v) : undefined;
    if (parsed === undefined) throw new ParseError("couldn't parse float");
    return parsed;
  }
  if ("enumValues" in type) {
    if (typeof v === "string" && own(type.enumValues, v) !== undefined) return v;
    const number = v instanceof PyNum ? v.value : typeof v === "string" ? pyIntFromString(v) : undefined;
    const name = Object.entries(type.enumValues).find(([, n]) => n === number)?.[0];
    if (name === undefined) throw new ParseError("invalid enum value");
    return name;
  }
  if (!isRawObject(v)) throw new ParseError("expected an object");
  const msg: ProtoMsg = {};
  parseInto(v, type.message, msg);
  return msg;
}

/** Fills `out` from `raw`; throws ParseError at the first bad field, leaving `out` partly filled. */
function parseInto(raw: RawObject, schema: ProtoSchema, out: ProtoMsg): void {
  for (const [name, v] of Object.entries(raw)) {
    const spec = own(schema, name);
    if (spec === undefined || v === null) continue;
    if (spec.repeated !== true) {
      out[name] = convertScalar(v, spec);
      continue;
    }
    if (!Array.isArray(v)) throw new ParseError(`repeated field ${name} must be a list`);
    const list: ProtoValue[] = [];
    out[name] = list;
    for (const item of v) {
      if (typeof spec.type === "object" && "message" in spec.type) {
        // protobuf adds the sub-message before filling it, so a failing element stays, half-filled
        const sub: ProtoMsg = {};
        list.push(sub);
        if (!isRawObject(item)) throw new ParseError("expected an object");
        parseInto(item, spec.type.message, sub);
      } else {
        if (item === null) throw new ParseError("null in a repeated field");
        list.push(convertScalar(item, spec));
      }
    }
  }
}

function str(msg: ProtoMsg, field: string): string | undefined {
  const v = msg[field];
  return typeof v === "string" ? v : undefined;
}

function num(msg: ProtoMsg, field: string): number | undefined {
  const v = msg[field];
  return typeof v === "number" ? v : undefined;
}

function list(msg: ProtoMsg, field: string): ProtoValue[] {
  const v = msg[field];
  return Array.isArray(v) ? v : [];
}

function keyValues(msg: ProtoMsg, field: string): { key: string; value: string }[] {
  return list(msg, field).map((item) => {
    const m = typeof item === "object" && !Array.isArray(item) ? item : {};
    return { key: str(m, "key") ?? "", value: str(m, "value") ?? "" };
  });
}

// ---------------------------------------------------------------------------
// Errors and request-schema checks (mlflow/server/handlers.py).

const ERROR_STATUS: Record<string, number> = {
  INVALID_PARAMETER_VALUE: 400,
  RESOURCE_ALREADY_EXISTS: 400,
  BAD_REQUEST: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  RESOURCE_DOES_NOT_EXIST: 404,
  ENDPOINT_NOT_FOUND: 404,
  NOT_FOUND: 404,
  ABORTED: 409,
  REQUEST_LIMIT_EXCEEDED: 429,
  INTERNAL_ERROR: 500,
  NOT_IMPLEMENTED: 501,
  TEMPORARILY_UNAVAILABLE: 503,
  DEADLINE_EXCEEDED: 504,
};

const ERROR_CODE_FOR_STATUS: Record<number, string> = {
  400: "BAD_REQUEST",
  401: "UNAUTHENTICATED",
  403: "PERMISSION_DENIED",
  404: "NOT_FOUND",
  409: "ABORTED",
  429: "REQUEST_LIMIT_EXCEEDED",
  500: "INTERNAL_ERROR",
  501: "NOT_IMPLEMENTED",
  503: "TEMPORARILY_UNAVAILABLE",
  504: "DEADLINE_EXCEEDED",
};

class ApiError extends Error {
  constructor(
    readonly errorCode: string,
    message: string,
  ) {
    super(message);
  }
}

const invalid = (message: string): ApiError => new ApiError("INVALID_PARAMETER_VALUE", message);

function errorResponse(errorCode: string, message: string): Response {
  const body = {
    error_code: errorCode,
    message,
    sqlstate: "KAM00",
    error_class: errorCode === "RESOURCE_DOES_NOT_EXIST" ? "RESOURCE_NOT_FOUND" : errorCode,
  };
  return new Response(pyDumps(body), {
    status: ERROR_STATUS[errorCode] ?? 500,
    headers: { "content-type": "application/json" },
  });
}

const DOCS_HINT = " See the API docs for more information about request parameters.";

type Check =
  | "required"
  | "string"
  | "intlike"
  | "floatlike"
  | "array"
  | "itemStrings"
  | { atMost: number }
  | ((value: Raw | undefined) => void);

const TYPE_CHECKS = new Set<Check>(["string", "intlike", "floatlike", "array", "itemStrings"]);

function pyIntOf(v: Raw | undefined): number | undefined {
  if (v instanceof PyNum) return Number.isFinite(v.value) ? Math.trunc(v.value) : undefined;
  if (typeof v === "boolean") return v ? 1 : 0;
  return typeof v === "string" ? pyIntFromString(v) : undefined;
}

function passes(check: Check, v: Raw | undefined): boolean {
  switch (check) {
    case "required":
      return v !== null && v !== undefined && v !== "";
    case "string":
      return typeof v === "string";
    case "intlike":
      return pyIntOf(v) !== undefined;
    case "floatlike":
      return v instanceof PyNum || typeof v === "boolean" || (typeof v === "string" && pyFloatFromString(v) !== undefined);
    case "array":
      return Array.isArray(v);
    case "itemStrings":
      return Array.isArray(v) && v.every((item) => typeof item === "string");
    default:
      if (typeof check === "function") {
        check(v);
        return true;
      }
      return (pyIntOf(v) ?? Infinity) <= check.atMost;
  }
}

/** `_validate_param_against_schema`: type checks only run when protobuf parsing failed. */
function checkSchema(raw: RawObject, rules: [string, Check[]][], parsedOk: boolean): void {
  for (const [key, checks] of rules) {
    if (!(key in raw) && !checks.includes("required")) continue;
    let value = raw[key];
    if (key === "run_id" && (value === undefined || value === null) && "run_uuid" in raw) value = raw.run_uuid;
    for (const check of checks) {
      if (parsedOk && TYPE_CHECKS.has(check)) continue;
      if (passes(check, value)) continue;
      if (check === "required") throw invalid(`Missing value for required parameter '${key}'.${DOCS_HINT}`);
      throw invalid(
        `Invalid value ${pyCompactJson(value)} for parameter '${key}' supplied:  Hint: Value was of type '${pyTypeName(value)}'.${DOCS_HINT}`,
      );
    }
  }
}

function requirePresent(v: Raw | undefined, path: string): void {
  if (v === null || v === undefined || v === "") {
    throw invalid(`Missing value for required parameter '${path}'.${DOCS_HINT}`);
  }
}

/** log-batch's per-element presence checks; MLflow reports missing tag keys as `params[i].key` too. */
function fieldsPresent(prefix: string, fields: string[]): (v: Raw | undefined) => void {
  return (v) => {
    if (!Array.isArray(v)) return;
    v.forEach((item, i) => {
      for (const field of fields) requirePresent(isRawObject(item) ? item[field] : undefined, `${prefix}[${i}].${field}`);
    });
  };
}

// ---------------------------------------------------------------------------
// Entity validation (mlflow/utils/validation.py).

const MAX_PARAMS_TAGS_PER_BATCH = 100;
const MAX_METRICS_PER_BATCH = 1000;
const MAX_ENTITIES_PER_BATCH = 1000;
const MAX_PARAM_VAL_LENGTH = 6000;
const MAX_TAG_VAL_LENGTH = 8000;
const MAX_EXPERIMENT_NAME_LENGTH = 500;
const MAX_EXPERIMENT_TAG_VAL_LENGTH = 5000;
const MAX_ENTITY_KEY_LENGTH = 250;
const MAX_SEARCH_RESULTS = 50000;
const BAD_CHARACTERS =
  "Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and slashes (/).";
/** `^[/\w.\- :]*$` with Python's Unicode `\w`; Python's `$` also matches before one final newline. */
const NAME_RE = /^[/\p{L}\p{N}_.\- :]*\n?$/u;
const RUN_ID_RE = /^[a-zA-Z0-9][\w-]{0,255}$/;

function appendPath(path: string, field: string): string {
  return path === "" ? field : `${path}.${field}`;
}

function invalidValue(path: string, value: string, message?: string): ApiError {
  const shown = pyJsonString(value);
  return invalid(
    message === undefined
      ? `Invalid value ${shown} for parameter '${path}' supplied.`
      : `Invalid value ${shown} for parameter '${path}' supplied: ${message}`,
  );
}

/** Python `posixpath.normpath`. */
function normpath(path: string): string {
  if (path === "") return ".";
  let initial = path.startsWith("/") ? 1 : 0;
  if (path.startsWith("//") && !path.startsWith("///")) initial = 2;
  const parts: string[] = [];
  for (const comp of path.split("/")) {
    if (comp === "" || comp === ".") continue;
    if (comp !== ".." || (initial === 0 && parts.length === 0) || parts[parts.length - 1] === "..") parts.push(comp);
    else if (parts.length > 0) parts.pop();
  }
  return "/".repeat(initial) + parts.join("/") || ".";
}

function validateName(name: string, path: string): void {
  if (!NAME_RE.test(name)) throw invalidValue(path, name, BAD_CHARACTERS);
  const norm = normpath(name);
  if (norm !== name || norm === "." || norm.startsWith("..") || norm.startsWith("/")) {
    throw invalidValue(
      path,
      name,
      `Names may be treated as files in certain cases, and must not resolve to other names when treated as such. This name would resolve to ${pyRepr(norm)}`,
    );
  }
}

/** Python `len(str)` counts code points, not UTF-16 units. */
function pyLen(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function pySlice(s: string, end: number): string {
  return Array.from(s).slice(0, end).join("");
}

interface MetricIn {
  key: string;
  value: number;
  timestamp: number;
  step: number;
}

function validateMetric(m: MetricIn, path: string): void {
  validateName(m.key, appendPath(path, "name"));
  if (m.timestamp < 0) {
    throw invalid(
      `Invalid value ${m.timestamp} for parameter '${appendPath(path, "timestamp")}' supplied: metric '${m.key}' (value=${pyFloatStr(m.value)}). Timestamp must be a nonnegative long (64-bit integer) `,
    );
  }
  if (pyLen(m.key) > MAX_ENTITY_KEY_LENGTH) {
    throw invalid(`'Metric name' exceeds the maximum length of ${MAX_ENTITY_KEY_LENGTH} characters`);
  }
}

function toMetrics(msg: ProtoMsg, field: string): MetricIn[] {
  return list(msg, field).map((item) => {
    const m = typeof item === "object" && !Array.isArray(item) ? item : {};
    return { key: str(m, "key") ?? "", value: num(m, "value") ?? 0, timestamp: num(m, "timestamp") ?? 0, step: num(m, "step") ?? 0 };
  });
}

// ---------------------------------------------------------------------------
// Search filters and order_by (mlflow/utils/search_utils.py, simplified).

type EntityType = "metric" | "param" | "tag" | "attribute";
interface Clause {
  type: EntityType;
  key: string;
  comparator: string;
  value: string | number | string[] | undefined;
}

const ENTITY_TYPES: Record<string, EntityType> = {
  metric: "metric",
  metrics: "metric",
  param: "param",
  params: "param",
  parameter: "param",
  parameters: "param",
  tag: "tag",
  tags: "tag",
  attribute: "attribute",
  attributes: "attribute",
  attr: "attribute",
  run: "attribute",
};
const NUMERIC_COMPARATORS = ["=", "!=", ">", ">=", "<", "<="];
const STRING_COMPARATORS = ["=", "!=", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL"];

class FilterCursor {
  pos = 0;
  constructor(readonly text: string) {}

  done(): boolean {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos] as string)) this.pos++;
    return this.pos >= this.text.length;
  }

  take(re: RegExp): RegExpExecArray | undefined {
    this.done();
    const m = re.exec(this.text.slice(this.pos));
    if (m === null) return undefined;
    this.pos += m[0].length;
    return m;
  }
}

function readIdentifier(c: FilterCursor, fail: () => never): { type: EntityType; key: string } {
  const head = c.take(/^[A-Za-z_][A-Za-z0-9_]*/)?.[0] ?? fail();
  if (c.text[c.pos] !== ".") return { type: "attribute", key: head };
  c.pos++;
  const quoted = /^`([^`]*)`/.exec(c.text.slice(c.pos)) ?? /^"([^"]*)"/.exec(c.text.slice(c.pos));
  const bare = quoted === null ? /^[^\s=!<>()'"`]+/.exec(c.text.slice(c.pos)) : null;
  const match = quoted ?? bare ?? fail();
  c.pos += match[0].length;
  const type = own(ENTITY_TYPES, head) ?? fail();
  return { type, key: quoted !== null ? (quoted[1] as string) : match[0] };
}

function readQuoted(c: FilterCursor): string | undefined {
  const m = c.take(/^'((?:[^']|'')*)'/) ?? c.take(/^"((?:[^"]|"")*)"/);
  if (m === undefined) return undefined;
  const quote = m[0][0] as string;
  return (m[1] as string).replaceAll(quote + quote, quote);
}

/** Parses `a and b and …`; `attributes` names the valid attribute keys and which are numeric. */
function parseFilter(filter: string, attributes: Record<string, "number" | "string">, allowed: EntityType[]): Clause[] {
  const c = new FilterCursor(filter);
  const fail = (): never => {
    throw invalid(`Error on parsing filter '${filter}'`);
  };
  const clauses: Clause[] = [];
  if (c.done()) return clauses;
  for (;;) {
    const { type, key } = readIdentifier(c, fail);
    if (!allowed.includes(type)) throw invalid(`Invalid entity type '${type}' in filter '${filter}'`);
    if (type === "attribute" && own(attributes, key) === undefined) {
      throw invalid(`Invalid attribute key '${key}' specified. Valid keys are '${Object.keys(attributes).join("', '")}'`);
    }
    const rawComparator =
      c.take(/^(?:!=|>=|<=|=|<|>)/)?.[0] ?? c.take(/^(?:NOT\s+IN|IN|ILIKE|LIKE|IS\s+NOT\s+NULL|IS\s+NULL)(?![\w])/i)?.[0] ?? fail();
    const comparator = rawComparator.toUpperCase().replace(/\s+/g, " ");
    const numeric = type === "metric" || (type === "attribute" && attributes[key] === "number");
    let value: Clause["value"];
    if (comparator === "IN" || comparator === "NOT IN") {
      if (numeric || type !== "attribute") throw invalid(`Invalid comparator '${comparator}' for '${key}' in filter '${filter}'`);
      if (c.take(/^\(/) === undefined) fail();
      const items: string[] = [];
      do items.push(readQuoted(c) ?? fail());
      while (c.take(/^,/) !== undefined);
      if (c.take(/^\)/) === undefined) fail();
      value = items;
    } else if (!comparator.startsWith("IS ")) {
      const quoted = readQuoted(c);
      if (quoted !== undefined) {
        if (numeric) throw invalid(`Expected numeric value type for ${type} '${key}'. Found '${quoted}'`);
        value = quoted;
      } else {
        const n = c.take(/^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?(?![\w.])/)?.[0] ?? fail();
        if (!numeric) {
          throw invalid(
            `${type === "tag" ? "Tag" : type === "param" ? "Parameter" : "Attribute"} value is either not quoted or unidentified quote types used for string value ${n}. Use either single or double quotes.`,
          );
        }
        value = Number(n);
      }
    }
    const valid = numeric ? NUMERIC_COMPARATORS : type === "attribute" ? [...STRING_COMPARATORS, "IN", "NOT IN"] : STRING_COMPARATORS;
    if (!valid.includes(comparator)) {
      throw invalid(`Invalid comparator '${comparator}' not one of '${JSON.stringify(valid)}' for '${key}'`);
    }
    clauses.push({ type, key, comparator, value });
    if (c.done()) return clauses;
    if (c.take(/^and(?=\s)/i) === undefined || c.done()) fail();
  }
}

function likeMatches(value: string, pattern: string, insensitive: boolean): boolean {
  const source = Array.from(pattern)
    .map((ch) => (ch === "%" ? ".*" : ch === "_" ? "." : ch.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
    .join("");
  return new RegExp(`^${source}$`, insensitive ? "isu" : "su").test(value);
}

function clauseMatches(clause: Clause, actual: string | number | undefined): boolean {
  const { comparator, value } = clause;
  if (comparator === "IS NULL") return actual === undefined;
  if (comparator === "IS NOT NULL") return actual !== undefined;
  if (actual === undefined) return false;
  if (Array.isArray(value)) return value.includes(String(actual)) === (comparator === "IN");
  if (comparator === "LIKE" || comparator === "ILIKE") {
    return likeMatches(String(actual), String(value), comparator === "ILIKE");
  }
  const a = actual;
  const b = value as string | number;
  switch (comparator) {
    case "=":
      return a === b;
    case "!=":
      return a !== b;
    case ">":
      return a > b;
    case ">=":
      return a >= b;
    case "<":
      return a < b;
    default:
      return a <= b;
  }
}

interface OrderKey {
  type: EntityType;
  key: string;
  ascending: boolean;
}

function parseOrderBy(clause: string, attributes: Record<string, "number" | "string">): OrderKey {
  const c = new FilterCursor(clause);
  const fail = (): never => {
    throw invalid(`Invalid order_by clause '${clause}'. Could not be parsed.`);
  };
  const { type, key } = readIdentifier(c, fail);
  if (type === "attribute" && own(attributes, key) === undefined) {
    throw invalid(`Invalid attribute key '${key}' specified. Valid keys are '${Object.keys(attributes).join("', '")}'`);
  }
  const direction = c.take(/^(?:ASC|DESC)\b/i)?.[0]?.toUpperCase();
  if (!c.done()) fail();
  return { type, key, ascending: direction !== "DESC" };
}

/** Sort value comparison with SQL-store semantics: missing values always last. */
function compareSortValues(a: string | number | undefined, b: string | number | undefined, ascending: boolean): number {
  if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? 1 : -1;
  const order = a < b ? -1 : a > b ? 1 : 0;
  return ascending ? order : -order;
}

function decodePageToken(token: string | undefined): number {
  if (token === undefined || token === "") return 0;
  let decoded: string;
  try {
    decoded = atob(token);
  } catch {
    throw invalid("Invalid page token, could not base64-decode");
  }
  const parsed = parsePythonJson(decoded);
  const offset = isRawObject(parsed) ? parsed.offset : undefined;
  if (!(offset instanceof PyNum) || !Number.isInteger(offset.value)) {
    throw invalid(`Invalid page token, parsed value=${decoded}. Expected a dict with an 'offset' key`);
  }
  return offset.value;
}

function encodePageToken(offset: number): string {
  return btoa(pyDumps({ offset }));
}

interface ExperimentRec {
  id: string;
  name: string;
  artifactLocation: string;
  lifecycleStage: "active" | "deleted";
  creationTime: number;
  lastUpdateTime: number;
  tags: Map<string, string>;
}

interface MetricRec {
  key: string;
  value: number;
  isNan: boolean;
  timestamp: number;
  step: number;
}

interface RunRec {
  id: string;
  experimentId: string;
  name: string;
  userId: string;
  status: string;
  startTime: number;
  endTime: number | undefined;
  artifactUri: string;
  lifecycleStage: "active" | "deleted";
  params: Map<string, string>;
  tags: Map<string, string>;
  latest: Map<string, MetricRec>;
  history: Map<string, MetricRec[]>;
}

const RUN_NAME_TAG = "mlflow.runName";
const MAX_DOUBLE = 1.7976931348623157e308;
const RUN_ATTRIBUTES: Record<string, "number" | "string"> = {
  run_id: "string",
  run_name: "string",
  status: "string",
  user_id: "string",
  artifact_uri: "string",
  start_time: "number",
  end_time: "number",
  created: "number",
  Created: "number",
};
const EXPERIMENT_ATTRIBUTES: Record<string, "number" | "string"> = {
  name: "string",
  experiment_id: "string",
  creation_time: "number",
  last_update_time: "number",
};
const PREDICATES = ["able", "bold", "bright", "calm", "clean", "crisp", "eager", "fair", "gentle", "honest", "kind", "lucky", "neat", "quick", "silent", "wise"];
const NOUNS = ["ant", "bat", "carp", "crane", "deer", "eel", "finch", "fox", "gull", "hare", "lynx", "mole", "owl", "seal", "wren", "yak"];
const UI_NOT_FOUND = `
Unable to display MLflow UI - landing page (index.html) not found.

You are very likely running the MLflow server using a source installation of the Python MLflow
package.

If you are a developer making MLflow source code changes and intentionally running a source
installation of MLflow, you can view the UI by running the Javascript dev server:
https://github.com/mlflow/mlflow/blob/master/CONTRIBUTING.md#running-the-javascript-dev-server

Otherwise, uninstall MLflow via 'pip uninstall mlflow', reinstall an official MLflow release
from PyPI via 'pip install mlflow', and rerun the MLflow server.
`;
const TEXT_EXTENSIONS = new Set(
  "txt log err cfg conf cnf cf ini properties prop hocon toml yaml yml xml json js py py3 csv tsv md rst MLmodel mlproject".split(" "),
);
const MIME_TYPES: Record<string, string> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  svg: "image/svg+xml",
  webp: "image/webp",
  html: "text/html",
  htm: "text/html",
  pdf: "application/pdf",
  zip: "application/zip",
};

/** Record lookup that ignores inherited names such as `constructor`. */
function own<T>(record: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

function pick<T>(items: readonly T[]): T {
  return items[Math.floor(Math.random() * items.length)] as T;
}

function newRunId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function guessMimeType(fileName: string): string {
  const dot = fileName.lastIndexOf(".");
  const extension = dot > 0 ? fileName.slice(dot + 1) : fileName;
  if (TEXT_EXTENSIONS.has(extension)) return "text/plain";
  return own(MIME_TYPES, extension.toLowerCase()) ?? "application/octet-stream";
}

/** `validate_path_is_safe`; returns the path with empty and `.` segments dropped. */
function safeArtifactPath(path: string): string {
  let decoded = path;
  for (let i = 0; i < 5; i++) {
    let next: string;
    try {
      next = decodeURIComponent(decoded);
    } catch {
      break;
    }
    if (next === decoded) break;
    decoded = next;
  }
  const unsafe =
    decoded.includes("#") ||
    decoded.includes("\\") ||
    decoded.startsWith("/") ||
    /^[A-Za-z]:/.test(decoded) ||
    decoded.startsWith("file:") ||
    decoded.split("/").includes("..");
  if (unsafe) throw invalid("Invalid path");
  return path
    .split("/")
    .filter((part) => part !== "" && part !== ".")
    .join("/");
}

/** `mlflow-artifacts:/1/<run>/artifacts` (or with a netloc) -> `1/<run>/artifacts`. */
function proxiedRoot(artifactUri: string): string {
  const withoutScheme = artifactUri.replace(/^mlflow-artifacts:/, "");
  const withoutHost = withoutScheme.startsWith("//") ? withoutScheme.replace(/^\/\/[^/]*/, "") : withoutScheme;
  return withoutHost.replace(/^\/+/, "");
}

function joinPath(dir: string, name: string): string {
  if (name === "") return dir;
  return dir === "" ? name : `${dir}/${name}`;
}

interface Fault extends FaultSpec {
  remaining: number;
}

type Route = (request: Request, url: URL) => Promise<Response>;

class InMemoryMlflow {
  readonly requests: RecordedRequest[] = [];
  private experiments = new Map<string, ExperimentRec>();
  private runs = new Map<string, RunRec>();
  private artifacts = new Map<string, Uint8Array>();
  private faults: Fault[] = [];
  private nextExperimentId = 1;
  private readonly routes: Record<string, [string[], Route]>;

  constructor(private readonly strict: boolean) {
    this.routes = {
      "mlflow/experiments/create": [["POST"], (r, u) => this.createExperiment(r, u)],
      "mlflow/experiments/get": [["GET"], (r, u) => this.getExperiment(r, u)],
      "mlflow/experiments/get-by-name": [["GET"], (r, u) => this.getExperimentByName(r, u)],
      "mlflow/experiments/search": [["POST", "GET"], (r, u) => this.searchExperiments(r, u)],
      "mlflow/runs/create": [["POST"], (r, u) => this.createRun(r, u)],
      "mlflow/runs/update": [["POST"], (r, u) => this.updateRun(r, u)],
      "mlflow/runs/get": [["GET"], (r, u) => this.getRun(r, u)],
      "mlflow/runs/search": [["POST", "GET"], (r, u) => this.searchRuns(r, u)],
      "mlflow/runs/delete": [["POST"], (r, u) => this.setRunLifecycle(r, u, "deleted")],
      "mlflow/runs/restore": [["POST"], (r, u) => this.setRunLifecycle(r, u, "active")],
      "mlflow/runs/log-batch": [["POST"], (r, u) => this.logBatch(r, u)],
      "mlflow/runs/log-metric": [["POST"], (r, u) => this.logMetric(r, u)],
      "mlflow/runs/log-parameter": [["POST"], (r, u) => this.logParam(r, u)],
      "mlflow/runs/set-tag": [["POST"], (r, u) => this.setTag(r, u)],
      "mlflow/metrics/get-history": [["GET"], (r, u) => this.metricHistory(r, u)],
      "mlflow/artifacts/list": [["GET"], (r, u) => this.listRunArtifacts(r, u)],
      "mlflow-artifacts/artifacts": [["GET"], (r, u) => this.listProxiedArtifacts(r, u)],
    };
    this.reset();
  }

  reset(): void {
    this.requests.length = 0;
    this.faults = [];
    this.runs.clear();
    this.artifacts.clear();
    this.experiments.clear();
    this.nextExperimentId = 1;
    const now = Date.now();
    this.experiments.set("0", {
      id: "0",
      name: "Default",
      artifactLocation: "mlflow-artifacts:/0",
      lifecycleStage: "active",
      creationTime: now,
      lastUpdateTime: now,
      tags: new Map(),
    });
  }

  injectFault(fault: FaultSpec): void {
    this.faults.push({ ...fault, remaining: fault.times ?? 1 });
  }

  async handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const record: RecordedRequest = { method: request.method, path: url.pathname, status: 0 };
    this.requests.push(record);
    const fault = this.takeFault(request.method, url.pathname);
    if (fault?.delayMs !== undefined) await sleep(fault.delayMs, request.signal);
    const onlySlow =
      fault?.delayMs !== undefined &&
      fault.reset !== true &&
      fault.status === undefined &&
      fault.body === undefined &&
      fault.applyThenFail !== true;
    if (fault === undefined || onlySlow) {
      const response = await this.route(request, url);
      record.status = response.status;
      return response;
    }
    if (fault.applyThenFail === true) await this.route(request, url);
    if (fault.reset === true) throw new DropConnection();
    const status = fault.status ?? 503;
    const headers = new Headers(fault.headers);
    const errorCode = ERROR_CODE_FOR_STATUS[status] ?? "INTERNAL_ERROR";
    const body = fault.body ?? pyDumps({ error_code: errorCode, message: `Injected fault: HTTP ${status}` });
    headers.set("content-type", fault.contentType ?? (fault.body === undefined ? "application/json" : "text/plain; charset=utf-8"));
    record.status = status;
    return new Response(body, { status, headers });
  }

  private takeFault(method: string, path: string): Fault | undefined {
    const fault = this.faults.find(
      (f) =>
        f.remaining > 0 &&
        (f.method === undefined || f.method.toUpperCase() === method) &&
        (f.path.endsWith("*") ? path.startsWith(f.path.slice(0, -1)) : path === f.path),
    );
    if (fault !== undefined) fault.remaining--;
    return fault;
  }

  private async route(request: Request, url: URL): Promise<Response> {
    try {
      return await this.dispatch(request, url);
    } catch (error) {
      if (error instanceof ApiError) return errorResponse(error.errorCode, error.message);
      return errorResponse("INTERNAL_ERROR", `Test server failure: ${String(error)}`);
    }
  }

  private dispatch(request: Request, url: URL): Promise<Response> {
    const path = url.pathname;
    const method = request.method;
    const text = (body: string, contentType: string): Promise<Response> =>
      Promise.resolve(new Response(body, { headers: { "content-type": contentType } }));
    if (path === "/" && method === "GET") return text(UI_NOT_FOUND, "text/plain; charset=utf-8");
    if (path === "/health" && method === "GET") return text("OK", "text/html; charset=utf-8");
    if (path === "/version" && method === "GET") return text("3.11.2.dev0", "text/html; charset=utf-8");
    if (path === "/get-artifact" && method === "GET") return this.legacyGetArtifact(url);
    if (["/", "/health", "/version", "/get-artifact"].includes(path)) return Promise.resolve(methodNotAllowed(["GET"]));
    const api = /^\/(?:ajax-)?api\/2\.0\/(.+)$/.exec(path)?.[1];
    if (api === undefined) return Promise.resolve(notFound());
    const prefix = "mlflow-artifacts/artifacts/";
    if (api.startsWith(prefix) && api.length > prefix.length) {
      const artifactPath = decodeURIComponent(api.slice(prefix.length));
      if (method === "PUT") return this.uploadArtifact(request, artifactPath);
      if (method === "GET") return this.downloadArtifact(artifactPath);
      if (method === "DELETE") return this.deleteArtifact(artifactPath);
      return Promise.resolve(methodNotAllowed(["GET", "PUT", "DELETE"]));
    }
    const route = own(this.routes, api);
    if (route === undefined) return Promise.resolve(notFound());
    const [methods, handler] = route;
    if (!methods.includes(method)) return Promise.resolve(methodNotAllowed(methods));
    return handler(request, url);
  }

  private async message(
    request: Request,
    url: URL,
    schema: ProtoSchema,
    rules: [string, Check[]][],
  ): Promise<{ msg: ProtoMsg; raw: RawObject }> {
    const raw = request.method === "GET" && url.search.length > 1 ? queryDict(url) : await readJsonBody(request);
    const msg: ProtoMsg = {};
    let parsedOk = true;
    try {
      parseInto(raw, schema, msg);
    } catch (error) {
      if (!(error instanceof ParseError)) throw error;
      parsedOk = false;
    }
    checkSchema(raw, rules, parsedOk);
    return { msg, raw };
  }

  private async createExperiment(request: Request, url: URL): Promise<Response> {
    const { msg } = await this.message(
      request,
      url,
      { name: { type: "string" }, artifact_location: { type: "string" }, tags: { type: { message: KEY_VALUE }, repeated: true } },
      [
        ["name", ["required", "string"]],
        ["artifact_location", ["string"]],
        ["tags", ["array"]],
      ],
    );
    const name = str(msg, "name") ?? "";
    if (name === "") throw invalid(`Invalid experiment name: ''`);
    if (pyLen(name) > MAX_EXPERIMENT_NAME_LENGTH) {
      throw invalid(`'name' exceeds the maximum length of ${MAX_EXPERIMENT_NAME_LENGTH} characters`);
    }
    const artifactLocation = str(msg, "artifact_location");
    if (artifactLocation?.startsWith("runs:") === true) {
      throw invalid(`Artifact location cannot be a runs:/ URI. Given: '${artifactLocation}'`);
    }
    const tags = keyValues(msg, "tags");
    for (const tag of tags) {
      validateName(tag.key, "key");
      if (pyLen(tag.key) > MAX_ENTITY_KEY_LENGTH) throw invalid(`'key' exceeds the maximum length of ${MAX_ENTITY_KEY_LENGTH} characters`);
      if (pyLen(tag.value) > MAX_EXPERIMENT_TAG_VAL_LENGTH) {
        throw invalid(`'value' exceeds the maximum length of ${MAX_EXPERIMENT_TAG_VAL_LENGTH} characters`);
      }
    }
    if ([...this.experiments.values()].some((e) => e.name === name)) {
      throw new ApiError("RESOURCE_ALREADY_EXISTS", `Experiment(name=${name}) already exists.`);
    }
    const id = String(this.nextExperimentId++);
    const now = Date.now();
    this.experiments.set(id, {
      id,
      name,
      artifactLocation: artifactLocation !== undefined && artifactLocation !== "" ? artifactLocation : `mlflow-artifacts:/${id}`,
      lifecycleStage: "active",
      creationTime: now,
      lastUpdateTime: now,
      tags: new Map(tags.map((t) => [t.key, t.value])),
    });
    return jsonResponse({ experiment_id: id });
  }

  private async getExperiment(request: Request, url: URL): Promise<Response> {
    const { msg } = await this.message(request, url, { experiment_id: { type: "string" } }, [["experiment_id", ["required", "string"]]]);
    const id = str(msg, "experiment_id") ?? "";
    const experiment = this.experiments.get(id);
    if (experiment === undefined) throw new ApiError("RESOURCE_DOES_NOT_EXIST", `No Experiment with id=${id} exists`);
    return jsonResponse({ experiment: experimentJson(experiment) });
  }

  private async getExperimentByName(request: Request, url: URL): Promise<Response> {
    const { msg } = await this.message(request, url, { experiment_name: { type: "string" } }, [
      ["experiment_name", ["required", "string"]],
    ]);
    const name = str(msg, "experiment_name") ?? "";
    const matches = [...this.experiments.values()].filter((e) => e.name === name);
    const experiment = matches.find((e) => e.lifecycleStage === "active") ?? matches[0];
    if (experiment === undefined) {
      throw new ApiError("RESOURCE_DOES_NOT_EXIST", `Could not find experiment with name '${name}'`);
    }
    return jsonResponse({ experiment: experimentJson(experiment) });
  }

  private async searchExperiments(request: Request, url: URL): Promise<Response> {
    const { msg } = await this.message(
      request,
      url,
      {
        max_results: { type: "int64" },
        page_token: { type: "string" },
        filter: { type: "string" },
        order_by: { type: "string", repeated: true },
        view_type: { type: { enumValues: VIEW_TYPE } },
      },
      [
        ["max_results", ["intlike", { atMost: MAX_SEARCH_RESULTS }]],
        ["page_token", ["string"]],
        ["filter", ["string"]],
        ["order_by", ["array", "itemStrings"]],
      ],
    );
    const maxResults = num(msg, "max_results") ?? 1000;
    const viewType = str(msg, "view_type") ?? "ACTIVE_ONLY";
    const clauses = parseFilter(str(msg, "filter") ?? "", EXPERIMENT_ATTRIBUTES, ["attribute", "tag"]);
    const orderBy = (list(msg, "order_by") as string[]).map((o) => parseOrderBy(o, EXPERIMENT_ATTRIBUTES));
    const valueOf = (e: ExperimentRec, type: EntityType, key: string): string | number | undefined => {
      if (type === "tag") return e.tags.get(key);
      if (key === "name") return e.name;
      if (key === "experiment_id") return Number(e.id);
      return key === "creation_time" ? e.creationTime : e.lastUpdateTime;
    };
    const order = orderBy.length > 0 ? orderBy : [{ type: "attribute" as const, key: "creation_time", ascending: false }];
    const found = [...this.experiments.values()]
      .filter((e) => viewType === "ALL" || (viewType === "ACTIVE_ONLY") === (e.lifecycleStage === "active"))
      .filter((e) => clauses.every((cl) => clauseMatches(cl, valueOf(e, cl.type, cl.key))))
      .sort((a, b) => {
        for (const o of order) {
          const c = compareSortValues(valueOf(a, o.type, o.key), valueOf(b, o.type, o.key), o.ascending);
          if (c !== 0) return c;
        }
        return Number(a.id) - Number(b.id);
      });
    const offset = decodePageToken(str(msg, "page_token"));
    const page = found.slice(offset, offset + maxResults);
    return jsonResponse({
      experiments: page.length > 0 ? page.map(experimentJson) : undefined,
      next_page_token: page.length === maxResults ? encodePageToken(offset + maxResults) : undefined,
    });
  }

  private findRun(id: string): RunRec {
    const run = this.runs.get(id);
    if (run === undefined) throw new ApiError("RESOURCE_DOES_NOT_EXIST", `Run with id=${id} not found`);
    return run;
  }

  private activeRun(id: string): RunRec {
    const run = this.findRun(id);
    if (run.lifecycleStage !== "active") {
      throw invalid(`The run ${id} must be in the 'active' state. Current state is ${run.lifecycleStage}.`);
    }
    return run;
  }

  private runIdOf(msg: ProtoMsg): string {
    const id = str(msg, "run_id");
    return id !== undefined && id !== "" ? id : (str(msg, "run_uuid") ?? "");
  }

  private limitValue(entity: string, limit: number, value: string): string {
    if (value.length <= limit || pyLen(value) <= limit) return value;
    if (this.strict) throw invalid(`'${entity}' exceeds the maximum length of ${limit} characters`);
    return pySlice(value, limit);
  }

  private validateParam(key: string, value: string, path: string): { key: string; value: string } {
    validateName(key, appendPath(path, "key"));
    if (pyLen(key) > MAX_ENTITY_KEY_LENGTH) throw invalid(`'Param key' exceeds the maximum length of ${MAX_ENTITY_KEY_LENGTH} characters`);
    return { key, value: this.limitValue("Param value", MAX_PARAM_VAL_LENGTH, value) };
  }

  private validateTag(key: string, value: string, path: string): { key: string; value: string } {
    validateName(key, appendPath(path, "key"));
    if (pyLen(key) > MAX_ENTITY_KEY_LENGTH) {
      throw invalid(`'${appendPath(path, "key")}' exceeds the maximum length of ${MAX_ENTITY_KEY_LENGTH} characters`);
    }
    return { key, value: this.limitValue(appendPath(path, "value"), MAX_TAG_VAL_LENGTH, value) };
  }

  private async createRun(request: Request, url: URL): Promise<Response> {
    const { msg } = await this.message(
      request,
      url,
      {
        experiment_id: { type: "string" },
        user_id: { type: "string" },
        run_name: { type: "string" },
        start_time: { type: "int64" },
        tags: { type: { message: KEY_VALUE }, repeated: true },
      },
      [
        ["experiment_id", ["string"]],
        ["user_id", ["string"]],
        ["start_time", ["intlike"]],
        ["tags", ["array"]],
        ["run_name", ["string"]],
      ],
    );
    const experimentId = str(msg, "experiment_id") || "0";
    const experiment = this.experiments.get(experimentId);
    if (experiment === undefined) throw new ApiError("RESOURCE_DOES_NOT_EXIST", `No Experiment with id=${experimentId} exists`);
    if (experiment.lifecycleStage !== "active") {
      throw invalid(`The experiment ${experimentId} must be in the 'active' state. Current state is ${experiment.lifecycleStage}.`);
    }
    // The SQL store's create_run stores tags as given: no key check, no truncation.
    const tags = new Map(keyValues(msg, "tags").map((t) => [t.key, t.value]));
    const runNameTag = tags.get(RUN_NAME_TAG);
    const runName = str(msg, "run_name") ?? "";
    if (runName !== "" && runNameTag !== undefined && runNameTag !== "" && runName !== runNameTag) {
      throw invalid(
        `Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values (run_name='${runName}', mlflow.runName='${runNameTag}').`,
      );
    }
    const name = runName || runNameTag || `${pick(PREDICATES)}-${pick(NOUNS)}-${Math.floor(Math.random() * 1000)}`;
    if (runNameTag === undefined || runNameTag === "") tags.set(RUN_NAME_TAG, name);
    const id = newRunId();
    const run: RunRec = {
      id,
      experimentId,
      name,
      userId: str(msg, "user_id") ?? "",
      status: "RUNNING",
      startTime: num(msg, "start_time") ?? 0,
      endTime: undefined,
      artifactUri: `${experiment.artifactLocation.replace(/\/+$/, "")}/${id}/artifacts`,
      lifecycleStage: "active",
      params: new Map(),
      tags,
      latest: new Map(),
      history: new Map(),
    };
    this.runs.set(id, run);
    return jsonResponse({ run: { info: runInfoJson(run), data: runDataJson(run), inputs: {} } });
  }

  private async updateRun(request: Request, url: URL): Promise<Response> {
    const { msg } = await this.message(
      request,
      url,
      { ...RUN_REF, status: { type: { enumValues: RUN_STATUS } }, end_time: { type: "int64" }, run_name: { type: "string" } },
      [
        ["run_id", ["required", "string"]],
        ["end_time", ["intlike"]],
        ["status", ["string"]],
        ["run_name", ["string"]],
      ],
    );
    const run = this.activeRun(this.runIdOf(msg));
    const status = str(msg, "status");
    if (status !== undefined) run.status = status;
    const endTime = num(msg, "end_time");
    if (endTime !== undefined) run.endTime = endTime;
    const runName = str(msg, "run_name");
    if (runName !== undefined && runName !== "") this.renameRun(run, runName);
    return jsonResponse({ run_info: runInfoJson(run) });
  }

  private renameRun(run: RunRec, name: string): void {
    run.name = name;
    run.tags.set(RUN_NAME_TAG, name);
  }

  private async getRun(request: Request, url: URL): Promise<Response> {
    const { msg } = await this.message(request, url, RUN_REF, [["run_id", ["required", "string"]]]);
    const run = this.findRun(this.runIdOf(msg));
    return jsonResponse({ run: fullRunJson(run) });
  }

  private async setRunLifecycle(request: Request, url: URL, stage: "active" | "deleted"): Promise<Response> {
    const { msg } = await this.message(request, url, RUN_REF, [["run_id", ["required", "string"]]]);
    this.findRun(this.runIdOf(msg)).lifecycleStage = stage;
    return jsonResponse({});
  }

  private async searchRuns(request: Request, url: URL): Promise<Response> {
    const { msg } = await this.message(
      request,
      url,
      {
        experiment_ids: { type: "string", repeated: true },
        filter: { type: "string" },
        run_view_type: { type: { enumValues: VIEW_TYPE } },
        max_results: { type: "int64" },
        order_by: { type: "string", repeated: true },
        page_token: { type: "string" },
      },
      [
        ["experiment_ids", ["array"]],
        ["filter", ["string"]],
        ["max_results", ["intlike", { atMost: MAX_SEARCH_RESULTS }]],
        ["order_by", ["array", "itemStrings"]],
      ],
    );
    const experimentIds = new Set(list(msg, "experiment_ids") as string[]);
    const viewType = str(msg, "run_view_type") ?? "ACTIVE_ONLY";
    const maxResults = num(msg, "max_results") ?? 1000;
    const clauses = parseFilter(str(msg, "filter") ?? "", RUN_ATTRIBUTES, ["metric", "param", "tag", "attribute"]);
    const orderBy = (list(msg, "order_by") as string[]).map((o) => parseOrderBy(o, RUN_ATTRIBUTES));
    if (!orderBy.some((o) => o.type === "attribute" && o.key === "start_time")) {
      orderBy.push({ type: "attribute", key: "start_time", ascending: false });
    }
    const found = [...this.runs.values()]
      .filter((r) => experimentIds.has(r.experimentId))
      .filter((r) => viewType === "ALL" || (viewType === "ACTIVE_ONLY") === (r.lifecycleStage === "active"))
      .filter((r) => clauses.every((cl) => clauseMatches(cl, runValue(r, cl.type, cl.key))))
      .sort((a, b) => {
        for (const o of orderBy) {
          const c = compareSortValues(runValue(a, o.type, o.key), runValue(b, o.type, o.key), o.ascending);
          if (c !== 0) return c;
        }
        return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
      });
    const offset = decodePageToken(str(msg, "page_token"));
    const page = found.slice(offset, offset + maxResults);
    return jsonResponse({
      runs: page.length > 0 ? page.map(fullRunJson) : undefined,
      next_page_token: page.length === maxResults ? encodePageToken(offset + maxResults) : undefined,
    });
  }

  private async logBatch(request: Request, url: URL): Promise<Response> {
    const { msg } = await this.message(
      request,
      url,
      {
        run_id: { type: "string" },
        metrics: { type: { message: METRIC }, repeated: true },
        params: { type: { message: KEY_VALUE }, repeated: true },
        tags: { type: { message: KEY_VALUE }, repeated: true },
      },
      [
        ["run_id", ["string", "required"]],
        ["metrics", ["array", fieldsPresent("metrics", ["key", "value", "timestamp"])]],
        ["params", ["array", fieldsPresent("params", ["key"])]],
        ["tags", ["array", fieldsPresent("params", ["key"])]],
      ],
    );
    const runId = str(msg, "run_id") ?? "";
    if (!RUN_ID_RE.test(runId)) throw invalidValue("run_id", runId);
    const metrics = toMetrics(msg, "metrics");
    metrics.forEach((m, i) => validateMetric(m, `metrics[${i}]`));
    const params = keyValues(msg, "params").map((p, i) => this.validateParam(p.key, p.value, `params[${i}]`));
    const tags = keyValues(msg, "tags").map((t, i) => this.validateTag(t.key, t.value, `tags[${i}]`));
    const batchLimit = (entity: string, limit: number, count: number): void => {
      if (count > limit) {
        throw invalid(
          `A batch logging request can contain at most ${limit} ${entity}. Got ${count} ${entity}. Please split up ${entity} across multiple requests and try again.`,
        );
      }
    };
    batchLimit("metrics", MAX_METRICS_PER_BATCH, metrics.length);
    batchLimit("params", MAX_PARAMS_TAGS_PER_BATCH, params.length);
    batchLimit("tags", MAX_PARAMS_TAGS_PER_BATCH, tags.length);
    batchLimit("metrics, params, and tags", MAX_ENTITIES_PER_BATCH, metrics.length + params.length + tags.length);
    const seen = new Set<string>();
    const duplicates = params.map((p) => p.key).filter((k) => seen.has(k) || (seen.add(k), false));
    if (duplicates.length > 0) {
      throw invalid(
        `Duplicate parameter keys have been submitted: [${duplicates.map(pyRepr).join(", ")}]. Please ensure the request contains only one param value per param key.`,
      );
    }
    const run = this.activeRun(runId);
    const mismatches = params.filter((p) => run.params.has(p.key) && run.params.get(p.key) !== p.value);
    if (mismatches.length > 0) {
      const shown = mismatches.map(
        (p) => `{'key': ${pyRepr(p.key)}, 'old_value': ${pyRepr(run.params.get(p.key) ?? "")}, 'new_value': ${pyRepr(p.value)}}`,
      );
      throw invalid(`Changing param values is not allowed. Params were already logged='[${shown.join(", ")}]' for run ID='${runId}'.`);
    }
    for (const p of params) run.params.set(p.key, p.value);
    for (const m of metrics) storeMetric(run, m);
    for (const t of tags) this.storeTag(run, t.key, t.value);
    return jsonResponse({});
  }

  private storeTag(run: RunRec, key: string, value: string): void {
    if (key === RUN_NAME_TAG) this.renameRun(run, value);
    else run.tags.set(key, value);
  }

  private async logMetric(request: Request, url: URL): Promise<Response> {
    const { msg } = await this.message(request, url, { ...RUN_REF, ...METRIC }, [
      ["run_id", ["required", "string"]],
      ["key", ["required", "string"]],
      ["value", ["required", "floatlike"]],
      ["timestamp", ["intlike", "required"]],
      ["step", ["intlike"]],
    ]);
    const [metric] = toMetrics({ metrics: [msg] }, "metrics") as [MetricIn];
    validateMetric(metric, "");
    storeMetric(this.activeRun(this.runIdOf(msg)), metric);
    return jsonResponse({});
  }

  private async logParam(request: Request, url: URL): Promise<Response> {
    const { msg } = await this.message(request, url, { ...RUN_REF, ...KEY_VALUE }, [
      ["run_id", ["required", "string"]],
      ["key", ["required", "string"]],
      ["value", ["string"]],
    ]);
    const param = this.validateParam(str(msg, "key") ?? "", str(msg, "value") ?? "", "");
    const runId = this.runIdOf(msg);
    const run = this.activeRun(runId);
    const old = run.params.get(param.key);
    if (old !== undefined && old !== param.value) {
      throw invalid(
        `Changing param values is not allowed. Param with key='${param.key}' was already logged with value='${old}' for run ID='${runId}'. Attempted logging new value '${param.value}'.`,
      );
    }
    run.params.set(param.key, param.value);
    return jsonResponse({});
  }

  private async setTag(request: Request, url: URL): Promise<Response> {
    const { msg } = await this.message(request, url, { ...RUN_REF, ...KEY_VALUE }, [
      ["run_id", ["required", "string"]],
      ["key", ["required", "string"]],
      ["value", ["string"]],
    ]);
    const tag = this.validateTag(str(msg, "key") ?? "", str(msg, "value") ?? "", "");
    this.storeTag(this.activeRun(this.runIdOf(msg)), tag.key, tag.value);
    return jsonResponse({});
  }

  private async metricHistory(request: Request, url: URL): Promise<Response> {
    const { msg } = await this.message(
      request,
      url,
      { ...RUN_REF, metric_key: { type: "string" }, page_token: { type: "string" }, max_results: { type: "int64" } },
      [
        ["run_id", ["string", "required"]],
        ["metric_key", ["string", "required"]],
        ["page_token", ["string"]],
        ["max_results", ["intlike"]],
      ],
    );
    // The handler passes the proto default 0 when max_results is absent: no
    // metrics and a page token pointing at the same offset (transcript 37).
    const maxResults = num(msg, "max_results") ?? 0;
    const offset = decodePageToken(str(msg, "page_token"));
    const history = this.runs.get(this.runIdOf(msg))?.history.get(str(msg, "metric_key") ?? "") ?? [];
    const sorted = [...history].sort((a, b) => a.timestamp - b.timestamp || a.step - b.step);
    const page = sorted.slice(offset, offset + maxResults);
    return jsonResponse({
      metrics: page.length > 0 ? page.map(metricJson) : undefined,
      next_page_token: page.length === maxResults ? encodePageToken(offset + maxResults) : undefined,
    });
  }

  private listDir(dir: string): { name: string; isDir: boolean; size?: number }[] {
    const entries = new Map<string, { name: string; isDir: boolean; size?: number }>();
    for (const [path, bytes] of this.artifacts) {
      if (dir !== "" && !path.startsWith(`${dir}/`)) continue;
      const rest = dir === "" ? path : path.slice(dir.length + 1);
      const slash = rest.indexOf("/");
      if (slash >= 0) entries.set(rest.slice(0, slash), { name: rest.slice(0, slash), isDir: true });
      else entries.set(rest, { name: rest, isDir: false, size: bytes.length });
    }
    return [...entries.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  private async listRunArtifacts(request: Request, url: URL): Promise<Response> {
    const { msg } = await this.message(request, url, { ...RUN_REF, path: { type: "string" }, page_token: { type: "string" } }, [
      ["run_id", ["string", "required"]],
      ["path", ["string"]],
      ["page_token", ["string"]],
    ]);
    const relative = str(msg, "path");
    const cleaned = relative === undefined ? "" : safeArtifactPath(relative);
    const run = this.findRun(this.runIdOf(msg));
    const files = this.listDir(joinPath(proxiedRoot(run.artifactUri), cleaned)).map((f) => ({
      // posixpath.join(path, name), as the handler builds it
      path: relative === undefined || relative === "" ? f.name : `${relative.replace(/\/$/, "")}/${f.name}`,
      is_dir: f.isDir,
      file_size: f.size,
    }));
    return jsonResponse({ root_uri: run.artifactUri, files: files.length > 0 ? files : undefined });
  }

  private async listProxiedArtifacts(request: Request, url: URL): Promise<Response> {
    const { msg } = await this.message(request, url, { path: { type: "string" } }, []);
    const path = str(msg, "path");
    const files = this.listDir(path === undefined ? "" : safeArtifactPath(path)).map((f) => ({
      path: f.name,
      is_dir: f.isDir,
      file_size: f.size,
    }));
    return jsonResponse({ files: files.length > 0 ? files : undefined });
  }

  private async uploadArtifact(request: Request, rawPath: string): Promise<Response> {
    const path = safeArtifactPath(rawPath);
    const bytes = new Uint8Array(await request.arrayBuffer());
    const parts = path.split("/");
    const blockedByFile = parts.some((_, i) => i > 0 && this.artifacts.has(parts.slice(0, i).join("/")));
    if (path === "" || blockedByFile || [...this.artifacts.keys()].some((k) => k.startsWith(`${path}/`))) {
      throw new ApiError("INTERNAL_ERROR", `Cannot write artifact '${path}': a file and a directory would share a name`);
    }
    this.artifacts.set(path, bytes);
    return jsonResponse({});
  }

  private fileResponse(path: string): Response {
    const bytes = this.artifacts.get(path);
    if (bytes === undefined) throw new ApiError("RESOURCE_DOES_NOT_EXIST", `File '${path}' does not exist`);
    const fileName = path.slice(path.lastIndexOf("/") + 1);
    return new Response(bytes.slice(), {
      headers: {
        "content-type": guessMimeType(fileName),
        "content-disposition": `attachment; filename=${fileName}`,
        "x-content-type-options": "nosniff",
      },
    });
  }

  private downloadArtifact(rawPath: string): Promise<Response> {
    return Promise.resolve(this.fileResponse(safeArtifactPath(rawPath)));
  }

  private deleteArtifact(rawPath: string): Promise<Response> {
    const path = safeArtifactPath(rawPath);
    for (const key of [...this.artifacts.keys()]) {
      if (key === path || key.startsWith(`${path}/`)) this.artifacts.delete(key);
    }
    return Promise.resolve(jsonResponse({}));
  }

  private legacyGetArtifact(url: URL): Promise<Response> {
    const runId = url.searchParams.get("run_id") || url.searchParams.get("run_uuid") || "";
    const path = url.searchParams.get("path");
    if (path === null) throw invalid(`Missing value for required parameter 'path'.${DOCS_HINT}`);
    const cleaned = safeArtifactPath(path);
    const run = this.findRun(runId);
    return Promise.resolve(this.fileResponse(joinPath(proxiedRoot(run.artifactUri), cleaned)));
  }
}

function storeMetric(run: RunRec, m: MetricIn): void {
  const isNan = Number.isNaN(m.value);
  const value = isNan ? 0 : Math.max(-MAX_DOUBLE, Math.min(MAX_DOUBLE, m.value));
  const rec: MetricRec = { key: m.key, value, isNan, timestamp: m.timestamp, step: m.step };
  const history = run.history.get(m.key) ?? [];
  run.history.set(m.key, history);
  // The SQL primary key covers every column, so an exact repeat is not stored twice.
  const same = (h: MetricRec): boolean => h.value === value && h.isNan === isNan && h.timestamp === m.timestamp && h.step === m.step;
  if (!history.some(same)) history.push(rec);
  const current = run.latest.get(m.key);
  const newer =
    current === undefined ||
    rec.step > current.step ||
    (rec.step === current.step && (rec.timestamp > current.timestamp || (rec.timestamp === current.timestamp && rec.value > current.value)));
  if (newer) run.latest.set(m.key, rec);
}

function runValue(run: RunRec, type: EntityType, key: string): string | number | undefined {
  if (type === "metric") return run.latest.get(key)?.value;
  if (type === "param") return run.params.get(key);
  if (type === "tag") return run.tags.get(key);
  switch (key) {
    case "run_id":
      return run.id;
    case "run_name":
      return run.name;
    case "status":
      return run.status;
    case "user_id":
      return run.userId;
    case "artifact_uri":
      return run.artifactUri;
    case "end_time":
      return run.endTime;
    default:
      return run.startTime;
  }
}

function experimentJson(e: ExperimentRec): PyJson {
  return {
    experiment_id: e.id,
    name: e.name,
    artifact_location: e.artifactLocation,
    lifecycle_stage: e.lifecycleStage,
    last_update_time: e.lastUpdateTime,
    creation_time: e.creationTime,
    tags: e.tags.size > 0 ? [...e.tags].map(([key, value]) => ({ key, value })) : undefined,
  };
}

function metricJson(m: MetricRec): PyJson {
  return { key: m.key, value: m.isNan ? "NaN" : new PyFloat(m.value), timestamp: m.timestamp, step: m.step };
}

function runInfoJson(run: RunRec): PyJson {
  return {
    run_uuid: run.id,
    experiment_id: run.experimentId,
    run_name: run.name,
    user_id: run.userId,
    status: run.status,
    start_time: run.startTime,
    end_time: run.endTime,
    artifact_uri: run.artifactUri,
    lifecycle_stage: run.lifecycleStage,
    run_id: run.id,
  };
}

function runDataJson(run: RunRec): PyJson {
  const pairs = (m: Map<string, string>): PyJson | undefined => (m.size > 0 ? [...m].map(([key, value]) => ({ key, value })) : undefined);
  return {
    metrics: run.latest.size > 0 ? [...run.latest.values()].map(metricJson) : undefined,
    params: pairs(run.params),
    tags: pairs(run.tags),
  };
}

function fullRunJson(run: RunRec): PyJson {
  return { info: runInfoJson(run), data: runDataJson(run), inputs: {}, outputs: {} };
}

function queryDict(url: URL): RawObject {
  const raw: RawObject = Object.create(null) as RawObject;
  for (const [rawKey, value] of url.searchParams) {
    const arrayKey = /^(.*)\[\d*\]$/.exec(rawKey)?.[1];
    const key = arrayKey ?? rawKey;
    const existing = raw[key];
    if (Array.isArray(existing)) existing.push(value);
    else if (existing !== undefined) raw[key] = [existing, value];
    else raw[key] = arrayKey !== undefined ? [value] : value;
  }
  return raw;
}

/** Flask `get_json(force=True, silent=True)` after MLflow's Content-Type check; bad JSON reads as `{}`. */
async function readJsonBody(request: Request): Promise<RawObject> {
  if (request.method === "POST" || request.method === "PUT") {
    const contentType = request.headers.get("content-type");
    if (contentType === null) throw invalid("Bad Request. Content-Type header is missing.");
    if (contentType.split(";")[0] !== "application/json") {
      throw invalid("Bad Request. Content-Type must be one of ['application/json'].");
    }
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(await request.arrayBuffer());
  } catch {
    return Object.create(null) as RawObject;
  }
  let parsed = parsePythonJson(text);
  // Old clients double-encode the body as a JSON string; the server decodes twice.
  if (typeof parsed === "string") parsed = parsePythonJson(parsed);
  return isRawObject(parsed) ? parsed : (Object.create(null) as RawObject);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

function notFound(): Response {
  return new Response(
    '<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n<p>The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.</p>\n',
    { status: 404, headers: { "content-type": "text/html; charset=utf-8" } },
  );
}

function methodNotAllowed(methods: string[]): Response {
  return new Response(
    '<!doctype html>\n<html lang=en>\n<title>405 Method Not Allowed</title>\n<h1>Method Not Allowed</h1>\n<p>The method is not allowed for the requested URL.</p>\n',
    { status: 405, headers: { "content-type": "text/html; charset=utf-8", allow: [...methods, "OPTIONS"].join(", ") } },
  );
}
