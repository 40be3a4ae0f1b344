/**
 * Test support: what MLflow accepts as an entity, from
 * mlflow/utils/validation.py: batch and length limits, the key rules (allowed
 * characters, no path tricks), metric checks, and `validate_path_is_safe`
 * (mlflow/utils/uri.py) for artifact paths. Lengths count code points, as
 * Python's `len` does.
 *
 * @module
 */

import { invalid, type ApiError } from "./mlflow_errors.ts";
import { list, num, type ProtoMsg, str } from "./proto.ts";
import { pyFloatStr, pyJsonString, pyRepr } from "./python_json.ts";

/** Params, and tags, per `log-batch`. */
export const MAX_PARAMS_TAGS_PER_BATCH = 100;
/** Metrics per `log-batch`. */
export const MAX_METRICS_PER_BATCH = 1000;
/** Metrics, params and tags together per `log-batch`. */
export const MAX_ENTITIES_PER_BATCH = 1000;
/** Param value length, in code points. */
export const MAX_PARAM_VAL_LENGTH = 6000;
/** Run tag value length, in code points. */
export const MAX_TAG_VAL_LENGTH = 8000;
/** Experiment name length. */
export const MAX_EXPERIMENT_NAME_LENGTH = 500;
/** Experiment tag value length (never truncated). */
export const MAX_EXPERIMENT_TAG_VAL_LENGTH = 5000;
/** Metric, param and tag key length. */
export const MAX_ENTITY_KEY_LENGTH = 250;
/** The largest `max_results` a search takes. */
export const MAX_SEARCH_RESULTS = 50000;
const BAD_CHARACTERS =
  "Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and slashes (/).";
/** `^[/\w.\- :]*$` with Python's Unicode `\w`; Python's `$` also matches before one final newline. */
const NAME_RE = /^[/\p{L}\p{N}_.\- :]*\n?$/u;
/** What MLflow takes as a run id. */
export const RUN_ID_RE = /^[a-zA-Z0-9][\w-]{0,255}$/;

/** `metrics[0]` + `name` -> `metrics[0].name`; a top-level field keeps its own name. */
export function appendPath(path: string, field: string): string {
  return path === "" ? field : `${path}.${field}`;
}

/** MLflow's `Invalid value "…" for parameter '…' supplied` error. */
export function invalidValue(path: string, value: string, message?: string): ApiError {
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

/** `_validate_metric_name` and friends: allowed characters, and a key that stays itself as a path. */
export function validateName(name: string, path: string): void {
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
export function pyLen(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** The first `end` code points of `s`, as Python's `s[:end]`. */
export function pySlice(s: string, end: number): string {
  return Array.from(s).slice(0, end).join("");
}

/** A metric of a request, after protobuf parsing. */
export interface MetricIn {
  key: string;
  value: number;
  timestamp: number;
  step: number;
}

/** `_validate_metric`: key rules, a non-negative timestamp, the key length. */
export function validateMetric(m: MetricIn, path: string): void {
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

/** The metrics of a repeated `Metric` field, absent fields read as 0 or "". */
export function toMetrics(msg: ProtoMsg, field: string): MetricIn[] {
  return list(msg, field).map((item) => {
    const m = typeof item === "object" && !Array.isArray(item) ? item : {};
    return { key: str(m, "key") ?? "", value: num(m, "value") ?? 0, timestamp: num(m, "timestamp") ?? 0, step: num(m, "step") ?? 0 };
  });
}


/**
 * `validate_path_is_safe`; returns the path with empty and `.` segments dropped.
 *
 * @throws ApiError "Invalid path" for a path that could leave the artifact root, even percent-encoded several times.
 */
export function safeArtifactPath(path: string): string {
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
export function proxiedRoot(artifactUri: string): string {
  const withoutScheme = artifactUri.replace(/^mlflow-artifacts:/, "");
  const withoutHost = withoutScheme.startsWith("//") ? withoutScheme.replace(/^\/\/[^/]*/, "") : withoutScheme;
  return withoutHost.replace(/^\/+/, "");
}

/**
 * MLflow's limits on a logged dataset and its input tags, in characters
 * (`mlflow/utils/validation.py:68-77`, spec §5 limits table).
 */
export const DATASET_FIELD_LIMITS: Readonly<Record<string, number>> = {
  name: 500,
  digest: 36,
  source: 65535,
  schema: 1048575,
  profile: 16777215,
};
/** Input tag key / value limits (`validation.py:76-77`). */
export const MAX_INPUT_TAG_KEY_LENGTH = 255;
export const MAX_INPUT_TAG_VALUE_LENGTH = 500;

/**
 * The check `log_inputs` makes before storing (`_validate_dataset_inputs` →
 * `_validate_dataset`, `_validate_input_tag`, `validation.py:606-665`): name,
 * digest, source type and source present, every field within its limit. The
 * messages are paraphrased; tests rely on the status and error code only.
 *
 * @param input One `DatasetInput` as parsed.
 * @param index Its position, for the message.
 * @throws {ApiError} `INVALID_PARAMETER_VALUE` on the first problem.
 */
export function checkDatasetInput(input: { tags?: { key?: string; value?: string }[]; dataset?: Record<string, unknown> }, index: number): void {
  const dataset = input.dataset;
  if (dataset === undefined) throw invalid(`Dataset cannot be None (datasets[${index}])`);
  for (const field of ["name", "digest", "source_type", "source"]) {
    if (typeof dataset[field] !== "string") throw invalid(`Dataset ${field} cannot be None (datasets[${index}])`);
  }
  for (const [field, limit] of Object.entries(DATASET_FIELD_LIMITS)) {
    const value = dataset[field];
    if (typeof value === "string" && [...value].length > limit) {
      throw invalid(`Dataset ${field} exceeds the maximum length of ${limit} (datasets[${index}])`);
    }
  }
  for (const tag of input.tags ?? []) {
    if (typeof tag.key !== "string" || typeof tag.value !== "string") throw invalid("InputTag key and value cannot be None");
    if ([...tag.key].length > MAX_INPUT_TAG_KEY_LENGTH) throw invalid(`InputTag key exceeds the maximum length of ${MAX_INPUT_TAG_KEY_LENGTH}`);
    if ([...tag.value].length > MAX_INPUT_TAG_VALUE_LENGTH) throw invalid(`InputTag value exceeds the maximum length of ${MAX_INPUT_TAG_VALUE_LENGTH}`);
  }
}
