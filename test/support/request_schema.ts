/**
 * Test support: the request-schema checks of MLflow's handlers
 * (`_validate_param_against_schema` and the `_assert_*` helpers in
 * mlflow/server/handlers.py). Type checks run only when protobuf's parser
 * failed; presence checks always run.
 *
 * @module
 */

import { DOCS_HINT, invalid } from "./mlflow_errors.ts";
import { isRawObject, pyCompactJson, pyIntFromString, PyNum, pyTypeName, type Raw, type RawObject, pyFloatFromString } from "./python_json.ts";

/** One check of a field: a named `_assert_*`, a maximum, or a function that throws. */
export type Check =
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

/**
 * `_validate_param_against_schema`: type checks only run when protobuf parsing failed.
 *
 * @param raw The request's JSON (or query) as sent.
 * @param rules Each field's checks, in the order the handler lists them.
 * @param parsedOk Whether protobuf parsed the request without error.
 * @throws ApiError `INVALID_PARAMETER_VALUE` naming the first field that fails.
 */
export function checkSchema(raw: RawObject, rules: [string, Check[]][], parsedOk: boolean): void {
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

/**
 * log-batch's per-element presence checks; MLflow reports missing tag keys as `params[i].key` too.
 *
 * @param prefix The name errors give the list, e.g. `metrics`.
 * @param fields The fields each element must have.
 * @returns A check for {@link checkSchema}.
 */
export function fieldsPresent(prefix: string, fields: string[]): (v: Raw | undefined) => void {
  return (v) => {
    if (!Array.isArray(v)) return;
    v.forEach((item, i) => {
      for (const field of fields) requirePresent(isRawObject(item) ? item[field] : undefined, `${prefix}[${i}].${field}`);
    });
  };
}

