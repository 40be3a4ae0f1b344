import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type DatasetInput, setTrackingUri } from "../mod.ts";
import { type Backend, BACKENDS } from "./support/backends.ts";
import { restReader } from "./support/target.ts";

const HEADING = "### Datasets";
const CSV = "timestamp_ns,close\n1704067200000000000,42000.5\n1704067260000000000,42010\n";

// The README's example, as a module importing this repository, reading `csvPath`, exporting what it computed.
async function readmeExample(csvPath: string): Promise<string> {
  const readme = await readFile(new URL("../README.md", import.meta.url), "utf8");
  const section = readme.slice(readme.indexOf(HEADING));
  const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(code !== undefined, "the README section has a ts example");
  assert.ok(code.includes('"data/btcusdt_1m.csv"'));
  const mod = pathToFileURL(new URL("../mod.ts", import.meta.url).pathname).href;
  return `${code.replaceAll('"flox-mlflow"', JSON.stringify(mod)).replace('"data/btcusdt_1m.csv"', JSON.stringify(csvPath))}\nexport { logged, runIds };\n`;
}

for (const { name, open } of BACKENDS) {
  describe(`the README's datasets example (${name} store)`, () => {
    let backend: Backend;
    let dir: string;
    before(async () => {
      backend = await open();
      dir = await mkdtemp(join(tmpdir(), "flox-readme-data-"));
    });
    after(async () => {
      setTrackingUri(undefined);
      await rm(dir, { recursive: true, force: true });
      await backend.close();
    });

    test("runs as written and gives what its comments say", async () => {
      setTrackingUri(backend.trackingUri);
      const csv = join(dir, "btcusdt_1m.csv");
      await writeFile(csv, CSV);
      const file = join(dir, `example_${name}.mts`);
      await writeFile(file, await readmeExample(csv));
      const { logged, runIds } = (await import(pathToFileURL(file).href)) as { logged: DatasetInput; runIds: string[] };
      assert.equal(logged.dataset.name, "btcusdt_1m");
      assert.equal(logged.dataset.digest, createHash("sha256").update(CSV).digest("hex").slice(0, 8));
      assert.deepEqual(logged.tags, [{ key: "mlflow.data.context", value: "backtest" }]);
      assert.equal(runIds.length, 2);
      const second = await import("../mod.ts").then((m) => m.getRun(runIds[1]!, { trackingUri: backend.trackingUri, env: {} }));
      assert.equal(second.datasetInputs?.[0]?.dataset.digest, logged.dataset.digest);
      if (backend.name === "rest") {
        // As MLflow's UI reads it: runs/get's inputs.dataset_inputs.
        const { run } = await restReader(backend.trackingUri).getRun(runIds[1]!);
        const inputs = run.inputs?.dataset_inputs as { dataset: { digest: string; profile: string } }[];
        assert.equal(inputs[0]!.dataset.digest, logged.dataset.digest);
        assert.equal(inputs[0]!.dataset.profile, '{"num_rows": 2, "num_elements": 4, "first_bar_time": "2024-01-01T00:00:00Z", "last_bar_time": "2024-01-01T00:01:00Z"}');
      }
    });
  });
}
