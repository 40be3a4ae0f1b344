/**
 * Dataset inputs on the wire: the `runs/log-inputs` request body and the
 * `inputs.dataset_inputs` of `runs/get` and `runs/search`, as MLflow 3.11
 * sends and answers them (transcripts 59 and 60).
 *
 * @module
 */
import type { DatasetInput, DatasetRecord } from "./store.ts";

/** `Dataset` as the REST API spells it. */
export interface RestDataset {
  /** The dataset's name. */
  name: string;
  /** Its digest. */
  digest: string;
  /** `local`, `http`, `code`... */
  source_type: string;
  /** The source as JSON text. */
  source: string;
  /** The columns as JSON text. */
  schema?: string;
  /** Summary numbers as JSON text. */
  profile?: string;
}

/** `DatasetInput` as the REST API spells it. */
export interface RestDatasetInput {
  /** Input tags; absent when there are none. */
  tags?: { key: string; value?: string }[];
  /** The dataset. */
  dataset: RestDataset;
}

/**
 * The body of one `runs/log-inputs` request.
 *
 * @param runId The run.
 * @param inputs The checked inputs.
 * @returns `{run_id, datasets: [{tags, dataset}]}`.
 * @example One dataset
 * ```ts
 * import { logInputsBody } from "./rest_inputs.ts";
 * const body = logInputsBody("r1", [{ dataset: { name: "b", digest: "d", sourceType: "local", source: "{}" }, tags: [] }]);
 * if (body.datasets[0]!.dataset.source_type !== "local") throw new Error();
 * ```
 */
export function logInputsBody(runId: string, inputs: readonly DatasetInput[]): { run_id: string; datasets: RestDatasetInput[] } {
  return {
    run_id: runId,
    datasets: inputs.map(({ dataset, tags }) => ({
      tags: tags.map(({ key, value }) => ({ key, value })),
      dataset: {
        name: dataset.name,
        digest: dataset.digest,
        source_type: dataset.sourceType,
        source: dataset.source,
        ...(dataset.schema !== undefined ? { schema: dataset.schema } : {}),
        ...(dataset.profile !== undefined ? { profile: dataset.profile } : {}),
      },
    })),
  };
}

/**
 * Reads `inputs.dataset_inputs` of a run as `runs/get` answers it.
 *
 * @param inputs The run's `inputs` object; absent or without `dataset_inputs` when nothing was logged.
 * @returns The inputs, in the server's order.
 * @example A run without inputs
 * ```ts
 * import { datasetInputsFromRest } from "./rest_inputs.ts";
 * if (datasetInputsFromRest({}).length !== 0) throw new Error();
 * ```
 */
export function datasetInputsFromRest(inputs: { dataset_inputs?: RestDatasetInput[] } | undefined): DatasetInput[] {
  return (inputs?.dataset_inputs ?? []).map(({ tags, dataset }) => {
    const record: DatasetRecord = { name: dataset.name, digest: dataset.digest, sourceType: dataset.source_type, source: dataset.source };
    if (dataset.schema !== undefined) record.schema = dataset.schema;
    if (dataset.profile !== undefined) record.profile = dataset.profile;
    return { dataset: record, tags: (tags ?? []).map((t) => ({ key: t.key, value: t.value ?? "" })) };
  });
}
