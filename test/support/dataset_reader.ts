/**
 * Test support: a run's dataset inputs read back the way a user would, over
 * REST `runs/get` or from the files MLflow's FileStore reads in `./mlruns`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import type { Backend } from "./backends.ts";
import { readMlruns } from "./mlruns_reader.ts";
import { restReader } from "./target.ts";

/** A dataset input as a user reads it back: REST `runs/get`, or the files MLflow's FileStore reads. */
export interface ReadInput {
  dataset: { name: string; digest: string; source_type: string; source: string; schema?: string; profile?: string };
  tags: Record<string, string>;
}

export async function inputsOf(backend: Backend, runId: string): Promise<ReadInput[]> {
  if (backend.name === "rest") {
    const { run } = await restReader(backend.trackingUri).getRun(runId);
    const list = (run.inputs?.dataset_inputs ?? []) as { dataset: ReadInput["dataset"]; tags?: { key: string; value: string }[] }[];
    return list.map((i) => ({ dataset: i.dataset, tags: Object.fromEntries((i.tags ?? []).map((t) => [t.key, t.value])) }));
  }
  const root = fileURLToPath(backend.trackingUri);
  const run = (await readMlruns(root)).flatMap((e) => e.runs).find((r) => r.id === runId);
  assert.ok(run, `run ${runId} is in ${root}`);
  return run.inputs.map((input) => {
    assert.ok(input.dataset, `the dataset ${String(input.meta.source_id)} of input ${input.id} exists`);
    const d = input.dataset;
    return {
      dataset: {
        name: String(d.name), digest: String(d.digest), source_type: String(d.source_type), source: String(d.source),
        ...(typeof d.schema === "string" ? { schema: d.schema } : {}),
        ...(typeof d.profile === "string" ? { profile: d.profile } : {}),
      },
      tags: input.tags,
    };
  });
}

