/**
 * Test support: MLflow's request messages read the way its server reads them,
 * with protobuf's JSON parser (`google.protobuf.json_format`) and MLflow's quirk
 * on top: a `ParseError` is swallowed and the message keeps whatever was parsed
 * before it, fields in document order (`_get_request_message` in
 * mlflow/server/handlers.py). Also the messages of `service.proto` that several
 * endpoints share.
 *
 * @module
 */

import { isRawObject, pyIntFromString, pyFloatFromString, PyNum, type Raw, type RawObject } from "./python_json.ts";

/** A value protobuf's JSON parser refuses; the handler swallows it. */
export class ParseError extends Error {}

/** An enum's names and numbers. */
export type EnumValues = Record<string, number>;
/** One field of a message: its type and whether it is repeated. */
export interface FieldSpec {
  type: "string" | "int64" | "double" | { enumValues: EnumValues } | { message: ProtoSchema };
  repeated?: boolean;
}
/** A message type: its fields by JSON (snake_case) name. */
export type ProtoSchema = Record<string, FieldSpec>;
/** A parsed field value: enums as their names, int64 and double as numbers. */
export type ProtoValue = string | number | ProtoMsg | ProtoValue[];
/** A parsed message; a field absent from the request is absent here. */
export interface ProtoMsg {
  [field: string]: ProtoValue | undefined;
}

/** `RunStatus`. */
export const RUN_STATUS: EnumValues = { RUNNING: 1, SCHEDULED: 2, FINISHED: 3, FAILED: 4, KILLED: 5 };
/** `ViewType` of search requests. */
export const VIEW_TYPE: EnumValues = { ACTIVE_ONLY: 1, DELETED_ONLY: 2, ALL: 3 };
/** `Param`, `RunTag`, `ExperimentTag` and `InputTag`: a key and a value. */
export const KEY_VALUE: ProtoSchema = { key: { type: "string" }, value: { type: "string" } };
/** `Metric`. */
export const METRIC: ProtoSchema = {
  key: { type: "string" },
  value: { type: "double" },
  timestamp: { type: "int64" },
  step: { type: "int64" },
  dataset_name: { type: "string" },
  dataset_digest: { type: "string" },
  model_id: { type: "string" },
  run_id: { type: "string" },
};
/** `DatasetInput` of `runs/log-inputs`: input tags and a `Dataset` whose source, schema and profile are JSON text (transcript 59). */
export const DATASET_INPUT: ProtoSchema = {
  tags: { type: { message: KEY_VALUE }, repeated: true },
  dataset: {
    type: {
      message: {
        name: { type: "string" },
        digest: { type: "string" },
        source_type: { type: "string" },
        source: { type: "string" },
        schema: { type: "string" },
        profile: { type: "string" },
      },
    },
  },
};
/** The run a request names: `run_id`, or the deprecated `run_uuid`. */
export const RUN_REF: ProtoSchema = { run_id: { type: "string" }, run_uuid: { type: "string" } };

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
export function parseInto(raw: RawObject, schema: ProtoSchema, out: ProtoMsg): void {
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

/** A string field, or `undefined` when absent. */
export function str(msg: ProtoMsg, field: string): string | undefined {
  const v = msg[field];
  return typeof v === "string" ? v : undefined;
}

/** A numeric field, or `undefined` when absent. */
export function num(msg: ProtoMsg, field: string): number | undefined {
  const v = msg[field];
  return typeof v === "number" ? v : undefined;
}

/** A repeated field, empty when absent. */
export function list(msg: ProtoMsg, field: string): ProtoValue[] {
  const v = msg[field];
  return Array.isArray(v) ? v : [];
}

/** A repeated key/value field, with missing keys and values read as "". */
export function keyValues(msg: ProtoMsg, field: string): { key: string; value: string }[] {
  return list(msg, field).map((item) => {
    const m = typeof item === "object" && !Array.isArray(item) ? item : {};
    return { key: str(m, "key") ?? "", value: str(m, "value") ?? "" };
  });
}


/** Record lookup that ignores inherited names such as `constructor`. */
export function own<T>(record: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}
