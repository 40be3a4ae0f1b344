/**
 * Dataset inputs in MLflow's `./mlruns` layout (`mlflow/store/tracking/file_store.py`
 * `log_inputs`, `_get_dataset_id`, `_get_input_id`, `_get_run_inputs`; spec
 * §6.5 and the file-store layout addendum recorded from MLflow 3.11):
 *
 * - `<experiment>/datasets/<md5(name + digest)>/meta.yaml`: the dataset;
 * - `<run>/inputs/<md5(dataset id + run id)>/meta.yaml`: the link, with the
 *   input tags, `source_type: DATASET` and the dataset id as `source_id`.
 *
 * @module
 */
import { fileSystem } from "#fs";
import { MlflowValidationError } from "./errors.ts";
import { parseFlatYaml, yamlString } from "./flat_yaml.ts";
import { dumpYaml, isPlainYamlKey, yamlStringValue } from "./flat_yaml_dump.ts";
import { md5Hex } from "./md5.ts";
import type { DatasetInput, DatasetRecord, KeyValue } from "./store.ts";
import { codePointLength } from "./validation.ts";

/** The folder names under a run and its experiment. */
export const INPUTS_FOLDER = "inputs";
/** The folder of an experiment's datasets. */
export const DATASETS_FOLDER = "datasets";

/**
 * A dataset's folder name: MD5 of its name then its digest, as `_get_dataset_id`.
 *
 * @param name The dataset's name.
 * @param digest Its digest.
 * @returns 32 hex digits.
 * @example The dataset of the layout addendum
 * ```ts
 * import { datasetId } from "./file_store_inputs.ts";
 * if (datasetId("btcusdt_1m_2024Q4", "ffecc93a") !== "3db6315254fa14d39100841037fc7284") throw new Error();
 * ```
 */
export function datasetId(name: string, digest: string): string {
  return md5Hex(name + digest);
}

/**
 * A run input's folder name: MD5 of the dataset id then the run id, as `_get_input_id`.
 *
 * @param dataset The dataset id.
 * @param runId The run id.
 * @returns 32 hex digits.
 * @example The input of the layout addendum
 * ```ts
 * import { inputId } from "./file_store_inputs.ts";
 * if (inputId("3db6315254fa14d39100841037fc7284", "a0b2957bd1fe401bb79884fc3b44c11a") !== "1a021246ce7a1bcfc62117637773ed34") throw new Error();
 * ```
 */
export function inputId(dataset: string, runId: string): string {
  return md5Hex(dataset + runId);
}

/** The input tags of an input's meta.yaml: the block under `tags:`, two spaces in. */
function inputTags(text: string): { key: string; value: string }[] {
  const match = /^tags:[ \t]*(\{\})?[ \t]*\n([\s\S]*)$/m.exec(text.replace(/\r\n?/g, "\n"));
  if (!match || match[1] !== undefined) return [];
  const lines: string[] = [];
  for (const line of match[2]!.split("\n")) {
    if (line !== "" && !line.startsWith("  ")) break;
    lines.push(line.slice(2));
  }
  const parsed = parseFlatYaml(lines.join("\n"));
  return [...parsed.keys()].map((key) => ({ key, value: yamlString(parsed, key) ?? "" }));
}

/**
 * Reads a run's dataset inputs back, as MLflow's `_get_run_inputs` does.
 *
 * @param runDir The run folder.
 * @param experimentDir Its experiment folder.
 * @returns The inputs, by input folder name; `[]` when there are none.
 */
export async function readRunInputs(runDir: string, experimentDir: string): Promise<DatasetInput[]> {
  const entries = (await fileSystem.listDirectory(fileSystem.join(runDir, INPUTS_FOLDER))).filter((e) => e.isDirectory);
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const out: DatasetInput[] = [];
  for (const entry of entries) {
    const text = await fileSystem.readText(fileSystem.join(runDir, INPUTS_FOLDER, entry.name, "meta.yaml"));
    if (text === undefined) continue;
    const meta = parseFlatYaml(text);
    const sourceId = yamlString(meta, "source_id");
    if (yamlString(meta, "source_type") !== "DATASET" || sourceId === undefined || !/^[0-9a-f]{32}$/.test(sourceId)) continue;
    const datasetText = await fileSystem.readText(fileSystem.join(experimentDir, DATASETS_FOLDER, sourceId, "meta.yaml"));
    if (datasetText === undefined) continue;
    const d = parseFlatYaml(datasetText);
    const dataset: DatasetRecord = {
      name: yamlString(d, "name") ?? "",
      digest: yamlString(d, "digest") ?? "",
      sourceType: yamlString(d, "source_type") ?? "",
      source: yamlString(d, "source") ?? "",
    };
    const schema = yamlString(d, "schema");
    const profile = yamlString(d, "profile");
    if (schema !== undefined) dataset.schema = schema;
    if (profile !== undefined) dataset.profile = profile;
    out.push({ dataset, tags: inputTags(text) });
  }
  return out;
}

/**
 * A run input's `meta.yaml`, as MLflow's `FileStore._FileStoreInput.write_yaml`
 * writes it (file-store layout addendum): sorted keys, the tags as a nested
 * block mapping with sorted keys. Tag keys must be plain YAML scalars.
 *
 * @param fields The input's own fields (`source_id`, `source_type`, ...).
 * @param tags The input tags.
 * @returns The file's text.
 * @throws {MlflowValidationError} `dataset.tags` for a tag key that cannot be written plain.
 * @example An input with its context tag
 * ```ts
 * import { dumpInputMeta } from "./file_store_inputs.ts";
 * const text = dumpInputMeta(new Map([["source_type", "DATASET"]]), [{ key: "mlflow.data.context", value: "training" }]);
 * if (text !== "source_type: DATASET\ntags:\n  mlflow.data.context: training\n") throw new Error(text);
 * ```
 */
export function dumpInputMeta(fields: ReadonlyMap<string, string>, tags: readonly KeyValue[]): string {
  let out = dumpYaml(fields);
  const byKey = new Map(tags.map((t) => [t.key, t.value]));
  if (byKey.size === 0) return out + "tags: {}\n";
  out += "tags:\n";
  for (const key of [...byKey.keys()].sort()) {
    if (!isPlainYamlKey(key) || codePointLength(key) > 128) {
      throw new MlflowValidationError("dataset.tags", `input tag key ${JSON.stringify(key)} cannot be written as a plain YAML key; use letters, digits, '.', '_' and '-'`);
    }
    out += `  ${key}:${yamlStringValue(key, byKey.get(key)!, 1)}\n`;
  }
  return out;
}
