import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { setExperiment, setTrackingUri } from "../mod.ts";
import { type Backend, BACKENDS } from "./support/backends.ts";

const HEADING = "### MLflow habits and reading back";

// The README's example, as a module importing this repository and exporting what it computed.
async function readmeExample(): Promise<string> {
  const readme = await readFile(new URL("../README.md", import.meta.url), "utf8");
  const section = readme.slice(readme.indexOf(HEADING));
  const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(code !== undefined, "the README section has a ts example");
  const mod = pathToFileURL(new URL("../mod.ts", import.meta.url).pathname).href;
  return `${code.replaceAll('"flox-mlflow"', JSON.stringify(mod))}\nexport { best, curve, nextPageToken, parent, runs };\n`;
}

interface ExampleResult {
  best: { params: Record<string, string>; value: number } | undefined;
  curve: { step: number; value: number }[];
  nextPageToken: string | undefined;
  parent: { runId: string; status: string };
  runs: { runName: string; params: Record<string, string> }[];
}

for (const { name, open } of BACKENDS) {
  describe(`the README's habits example (${name} store)`, () => {
    let backend: Backend;
    let dir: string;
    before(async () => {
      backend = await open();
      dir = await mkdtemp(join(tmpdir(), "flox-readme-"));
    });
    after(async () => {
      setTrackingUri(undefined);
      await setExperiment(undefined);
      await rm(dir, { recursive: true, force: true });
      await backend.close();
    });

    test("runs as written and gives what its comments say", async () => {
      // The example names no tracking URI: a user sets MLFLOW_TRACKING_URI, the test the process-wide one.
      setTrackingUri(backend.trackingUri);
      const file = join(dir, `example_${name}.mts`);
      await writeFile(file, await readmeExample());
      const result = (await import(pathToFileURL(file).href)) as ExampleResult;
      assert.equal(result.best?.params.fast, "20");
      assert.equal(result.runs[0]?.runName, "fast=20");
      assert.ok(result.nextPageToken !== undefined);
      assert.deepEqual(result.curve.map((p) => [p.step, p.value]), [[0, 10_000], [1, 10_060]]);
      // Read back independently: three children under the parent, and the YAML the parent logged.
      const parent = await backend.getRun(result.parent.runId);
      assert.equal(parent.status, "FINISHED");
      const children = await backend.childrenOf(parent.runId, parent.experimentId);
      assert.deepEqual(children.map((c) => c.runName).sort(), ["fast=10", "fast=20", "fast=5"]);
      assert.equal(new TextDecoder().decode(await backend.artifact(parent.runId, "grid.yaml")), "fast:\n- 5\n- 10\n- 20\n");
    });
  });
}
