/**
 * Datasets as run inputs: the `dataset` option checked against MLflow's
 * limits (`mlflow/utils/validation.py` `_validate_dataset`,
 * `_validate_input_tag`; spec §5 limits table) before any request, and
 * turned into the `DatasetInput`s a store writes.
 *
 * @module
 */
import { MlflowValidationError } from "./errors.ts";
import { checkOptionKeys } from "./option_keys.ts";
import type { DatasetInput, DatasetRecord } from "./store.ts";
import { codePointLength, describeValue } from "./validation.ts";

/**
 * A dataset a run used, as `describeBars` returns it: MLflow's `Dataset`
 * fields and the context it was used in.
 */
export interface Dataset extends DatasetRecord {
  /** The input tag `mlflow.data.context`: how the run used the data; default `backtest`. */
  context?: string;
}

/** MLflow's limits on a dataset input, in characters (`validation.py` `MAX_DATASET_*`, `MAX_INPUT_TAG_*`). */
export const DATASET_LIMITS = {
  name: 500,
  digest: 36,
  source: 65_535,
  schema: 1_048_575,
  profile: 16_777_215,
  tagValue: 500,
  /** `MAX_DATASETS_PER_BATCH`. */
  perRequest: 1000,
} as const;

/** The input tag MLflow's UI shows as a dataset's context. */
export const CONTEXT_TAG = "mlflow.data.context";

/** The context a dataset is logged with when none is given. */
export const DEFAULT_CONTEXT = "backtest";

const DATASET_KEYS = ["name", "digest", "sourceType", "source", "schema", "profile", "context"] as const;

function text(value: unknown, field: string, limit: number, required: boolean, what: string): string | undefined {
  if (value === undefined && !required) return undefined;
  if (typeof value !== "string" || (required && value.length === 0)) {
    throw new MlflowValidationError(field, `must be ${required ? "a non-empty string" : "a string"} (${what}), got ${describeValue(value)}; describeBars builds a whole dataset`);
  }
  const length = codePointLength(value);
  if (length > limit) {
    throw new MlflowValidationError(field, `is ${length} characters, over MLflow's limit of ${limit} (${what}); shorten it`);
  }
  return value;
}

function one(value: unknown, field: string): DatasetInput {
  checkOptionKeys(value, DATASET_KEYS, field);
  const d = value as Record<string, unknown>;
  const dataset: DatasetRecord = {
    name: text(d.name, `${field}.name`, DATASET_LIMITS.name, true, "the dataset's name")!,
    digest: text(d.digest, `${field}.digest`, DATASET_LIMITS.digest, true, "a short fingerprint of the data")!,
    sourceType: text(d.sourceType, `${field}.sourceType`, DATASET_LIMITS.source, true, "local, http, code...")!,
    source: text(d.source, `${field}.source`, DATASET_LIMITS.source, true, "the source as JSON text")!,
  };
  const schema = text(d.schema, `${field}.schema`, DATASET_LIMITS.schema, false, "the columns as JSON text");
  const profile = text(d.profile, `${field}.profile`, DATASET_LIMITS.profile, false, "summary numbers as JSON text");
  if (schema !== undefined) dataset.schema = schema;
  if (profile !== undefined) dataset.profile = profile;
  const context = text(d.context ?? DEFAULT_CONTEXT, `${field}.context`, DATASET_LIMITS.tagValue, true, "how the run used the data, e.g. backtest");
  return { dataset, tags: [{ key: CONTEXT_TAG, value: context! }] };
}

/**
 * Checks the `dataset` option: one dataset or a list of them.
 *
 * @param value What the caller passed; `undefined` for none.
 * @param field The option's name, for errors.
 * @returns The inputs to log, `[]` for none.
 * @throws {MlflowValidationError} Naming the field that is missing, mistyped or over MLflow's limit.
 * @example A dataset with its default context
 * ```ts
 * import { datasetInputs } from "./dataset_inputs.ts";
 * const [input] = datasetInputs({ name: "btc-1m", digest: "3f2a9c1e", sourceType: "local", source: '{"uri": "file:///bars.csv"}' }, "dataset");
 * if (input!.tags[0]!.value !== "backtest") throw new Error();
 * ```
 */
export function datasetInputs(value: unknown, field: string): DatasetInput[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) return [one(value, field)];
  if (value.length > DATASET_LIMITS.perRequest) {
    throw new MlflowValidationError(field, `holds ${value.length} datasets, over MLflow's ${DATASET_LIMITS.perRequest} per request; log them in parts`);
  }
  return value.map((item, i) => one(item, `${field}[${i}]`));
}
