import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, stat, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { MlflowError, MlflowValidationError } from "../src/errors.ts";
import { createFileStore, parseFileUri } from "../src/file_store.ts";
import * as edgeFs from "../src/runtime/fs_edge.ts";
import * as nodeFs from "../src/runtime/fs_node.ts";
import type { RunInfo, TrackingStore } from "../src/store.ts";
import { listFiles, listTree, type MetaValue, parseMetaYaml, readMlruns } from "./support/mlruns_reader.ts";
import { logCell, POINTS_PER_RUN } from "./support/fs_writer.ts";

// The edge entry must stay a drop-in for the node one: checked by the type checker.
const edgeFileSystem: typeof nodeFs.fileSystem = edgeFs.fileSystem;

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const fixturePath = join(repoRoot, "test", "fixtures", "mlflow-filestore-layout.txt");

let scratch = "";
let counter = 0;

/** A fresh, empty store root under the test's temporary folder. */
function freshRoot(): string {
  counter += 1;
  return join(scratch, `store-${counter}`, "mlruns");
}

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), "flox-file-store-"));
});

after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

async function newRun(store: TrackingStore, runName = "run", experimentId = "0"): Promise<RunInfo> {
  return await store.createRun({ experimentId, runName, startTime: 1700000000000, userId: "tester", tags: [] });
}

async function readRun(root: string, runId: string) {
  const run = (await readMlruns(root)).flatMap((e) => e.runs).find((r) => r.id === runId);
  assert.ok(run, `run ${runId} is on disk`);
  return run;
}

async function rejectsWith(
  promise: Promise<unknown>,
  errorClass: new (...args: never[]) => MlflowError,
  check: (error: MlflowError) => void,
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof errorClass, `expected ${errorClass.name}, got ${String(error)}`);
    check(error);
    return true;
  });
}

describe("parseFileUri", () => {
  test("selects file: URIs and plain paths and returns the absolute folder", () => {
    const cwd = process.cwd();
    assert.equal(parseFileUri("file:./mlruns"), join(cwd, "mlruns"));
    assert.equal(parseFileUri("./mlruns"), join(cwd, "mlruns"));
    assert.equal(parseFileUri("mlruns"), join(cwd, "mlruns"));
    assert.equal(parseFileUri("file:///tmp/my%20runs"), "/tmp/my runs");
    assert.equal(parseFileUri("file://localhost/tmp/x"), "/tmp/x");
    assert.equal(parseFileUri("/abs/path/../mlruns"), "/abs/mlruns");
  });

  test("leaves server and database URIs to other stores", () => {
    for (const uri of ["http://127.0.0.1:5000", "https://mlflow.example.com", "databricks", "databricks://profile", "sqlite:///mlflow.db", "mlflow-artifacts:/x", ""]) {
      assert.equal(parseFileUri(uri), undefined, uri);
    }
  });

  test("createFileStore refuses a server URI naming trackingUri, without echoing credentials", () => {
    assert.throws(() => createFileStore("https://user:secret@mlflow.example.com"), (error: unknown) => {
      assert.ok(error instanceof MlflowValidationError);
      assert.equal(error.field, "trackingUri");
      assert.ok(!error.message.includes("secret"));
      return true;
    });
  });

  test("a file: URI naming a remote host is refused", () => {
    assert.throws(() => parseFileUri("file://fileserver/share/mlruns"), MlflowError);
  });
});

describe("file store layout", () => {
  test("creates the root, .trash and the Default experiment 0 on first use", async () => {
    const root = freshRoot();
    const store = createFileStore(`file://${root}`);
    assert.equal(store.location, root);
    assert.equal(await store.resolveExperiment({}), "0");
    assert.deepEqual(await listTree(root), [".trash", "0", "0/meta.yaml"]);
    const text = await readFile(join(root, "0", "meta.yaml"), "utf8");
    const normalized = text.replace(/_time: \d+/g, "_time: <time>");
    assert.equal(
      normalized,
      `artifact_location: ${pathToFileURL(root).href}/0\ncreation_time: <time>\nexperiment_id: '0'\n` +
        "last_update_time: <time>\nlifecycle_stage: active\nname: Default\ntrace_location: null\nworkspace: default\n",
    );
  });

  test("creates a named experiment once, with an 18-digit id, and finds it again by name", async () => {
    const root = freshRoot();
    const store = createFileStore(root);
    const id = await store.resolveExperiment({ name: "sma grid" });
    assert.match(id, /^[1-9]\d{17}$/);
    assert.equal(await store.resolveExperiment({ name: "sma grid" }), id);
    assert.equal(await store.resolveExperiment({ id }), id);
    // Another store instance (as another process would) finds it by scanning meta.yaml files.
    assert.equal(await createFileStore(root).resolveExperiment({ name: "sma grid" }), id);
    const experiments = await readMlruns(root);
    assert.deepEqual(experiments.map((e) => e.meta.name).sort(), ["Default", "sma grid"]);
    assert.equal(experiments.find((e) => e.id === id)?.meta.experiment_id, id);
  });

  test("finds an experiment another writer created after this store cached its names", async () => {
    const root = freshRoot();
    const store = createFileStore(root);
    await store.resolveExperiment({ name: "first" });
    const dir = join(root, "123456789012345678");
    await mkdir(dir);
    await writeFile(
      join(dir, "meta.yaml"),
      "artifact_location: file:///elsewhere/123456789012345678\ncreation_time: 1\nexperiment_id: '123456789012345678'\n" +
        "last_update_time: 1\nlifecycle_stage: active\nname: 'made: elsewhere'\n",
    );
    assert.equal(await store.resolveExperiment({ name: "made: elsewhere" }), "123456789012345678");
  });

  test("rejects an unknown experiment id and an id that is a path", async () => {
    const store = createFileStore(freshRoot());
    await rejectsWith(store.resolveExperiment({ id: "42" }), MlflowError, (e) => assert.equal(e.errorCode, "RESOURCE_DOES_NOT_EXIST"));
    await rejectsWith(store.resolveExperiment({ id: "../0" }), MlflowValidationError, (e) => assert.match(e.message, /\.\.\/0/));
    await rejectsWith(
      store.createRun({ experimentId: "0/..", runName: "x", startTime: 1, userId: "u", tags: [] }),
      MlflowValidationError,
      (e) => assert.equal((e as MlflowValidationError).field, "experimentId"),
    );
  });

  test("writes run meta.yaml with MLflow's fields, integer status, run_uuid and the three folders", async () => {
    const root = freshRoot();
    const store = createFileStore(root);
    const run = await store.createRun({
      experimentId: "0",
      runName: "bt-ema-cross",
      startTime: 1735689600123,
      userId: "alice",
      tags: [{ key: "mlflow.user", value: "alice" }],
    });
    assert.match(run.runId, /^[0-9a-f]{32}$/);
    const artifactUri = `${pathToFileURL(root).href}/0/${run.runId}/artifacts`;
    assert.deepEqual(run, { runId: run.runId, experimentId: "0", runName: "bt-ema-cross", artifactUri, startTime: 1735689600123 });
    const onDisk = await readRun(root, run.runId);
    assert.equal(
      onDisk.metaText,
      `artifact_uri: ${artifactUri}\ndeleted_time: null\nend_time: null\nentry_point_name: ''\nexperiment_id: '0'\n` +
        `lifecycle_stage: active\nrun_id: ${run.runId}\nrun_name: bt-ema-cross\nrun_uuid: ${run.runId}\nsource_name: ''\n` +
        "source_type: 4\nsource_version: ''\nstart_time: 1735689600123\nstatus: 1\ntags: []\nuser_id: alice\n",
    );
    assert.deepEqual(onDisk.tags, { "mlflow.runName": "bt-ema-cross", "mlflow.user": "alice" });
    assert.deepEqual((await readdir(onDisk.dir)).sort(), ["artifacts", "meta.yaml", "metrics", "params", "tags"]);
  });

  test("keeps run_name and the mlflow.runName tag in sync, quoting a numeric name", async () => {
    const root = freshRoot();
    const store = createFileStore(root);
    const run = await newRun(store, "123");
    let onDisk = await readRun(root, run.runId);
    assert.match(onDisk.metaText, /^run_name: '123'$/m);
    assert.equal(onDisk.tags["mlflow.runName"], "123");
    await store.logBatch(run.runId, { metrics: [], params: [], tags: [{ key: "mlflow.runName", value: "renamed" }] });
    onDisk = await readRun(root, run.runId);
    assert.equal(onDisk.meta.run_name, "renamed");
    assert.equal(onDisk.tags["mlflow.runName"], "renamed");
    await rejectsWith(
      store.createRun({ experimentId: "0", runName: "a", startTime: 1, userId: "u", tags: [{ key: "mlflow.runName", value: "b" }] }),
      MlflowValidationError,
      (e) => assert.equal((e as MlflowValidationError).field, "runName"),
    );
  });

  test("quotes and folds YAML strings exactly as PyYAML (libyaml) safe_dump does", async () => {
    // Expected text produced by yaml.dump(..., Dumper=CSafeDumper, default_flow_style=False, allow_unicode=True).
    const cases: [string, string][] = [
      ["true", "run_name: 'true'\n"],
      ["Null", "run_name: 'Null'\n"],
      ["1.5e+3", "run_name: '1.5e+3'\n"],
      ["2024-01-31", "run_name: '2024-01-31'\n"],
      ["a\nb", "run_name: 'a\n\n  b'\n"],
      ["it's", "run_name: it's\n"],
      ["x: y", "run_name: 'x: y'\n"],
      ["- a", "run_name: '- a'\n"],
      ["#hash", "run_name: '#hash'\n"],
      [" lead", "run_name: ' lead'\n"],
      ["é中文 ok", "run_name: é中文 ok\n"],
      ["😀 rocket", "run_name: \"\\U0001F600 rocket\"\n"],
      ["tab\there", "run_name: \"tab\\there\"\n"],
      ["quote \"q\" and back\\slash", "run_name: quote \"q\" and back\\slash\n"],
      ["ends with newline\n", "run_name: 'ends with newline\n\n  '\n"],
      ["\u2028sep", "run_name: '\u2028  sep'\n"],
      [
        "sma crossover backtest with a fast window of ten bars and a slow window of fifty bars on BTC-USD",
        "run_name: sma crossover backtest with a fast window of ten bars and a slow window\n  of fifty bars on BTC-USD\n",
      ],
      [
        "grid: fast=10 slow=50 stop=2% take=5% on BTC-USD, ETH-USD and SOL-USD hourly bars since 2020",
        "run_name: 'grid: fast=10 slow=50 stop=2% take=5% on BTC-USD, ETH-USD and SOL-USD hourly\n  bars since 2020'\n",
      ],
      [
        "grid\tfast=10 slow=50 stop=2% take=5% on BTC-USD, ETH-USD and SOL-USD hourly bars  since 2020",
        "run_name: \"grid\\tfast=10 slow=50 stop=2% take=5% on BTC-USD, ETH-USD and SOL-USD hourly\n  bars  since 2020\"\n",
      ],
    ];
    const root = freshRoot();
    const store = createFileStore(root);
    for (const [name, expected] of cases) {
      const run = await newRun(store, name);
      await store.finishRun(run.runId, "FINISHED", 1700000000001);
      const onDisk = await readRun(root, run.runId);
      const block = /^run_name:.*?(?=^run_uuid:)/ms.exec(onDisk.metaText)?.[0];
      assert.equal(block, expected, JSON.stringify(name));
      assert.equal(onDisk.meta.run_name, name, "reads back after finishRun rewrote meta.yaml");
      assert.equal(onDisk.tags["mlflow.runName"], name);
    }
  });

  test("formats metric values like Python floats, one line per point, appended per key", async () => {
    const cases: [number, string][] = [
      [10000, "10000.0"], [1.42, "1.42"], [1e-7, "1e-07"], [NaN, "nan"], [Infinity, "inf"], [-Infinity, "-inf"],
      [-0, "-0.0"], [0, "0.0"], [1e16, "1e+16"], [1e15, "1000000000000000.0"], [0.0001, "0.0001"], [0.00001, "1e-05"],
      [123456789.123, "123456789.123"], [1.5e300, "1.5e+300"], [5e-324, "5e-324"], [0.1 + 0.2, "0.30000000000000004"],
      [-2.5, "-2.5"], [2 ** 53, "9007199254740992.0"], [1.7976931348623157e308, "1.7976931348623157e+308"],
      [-1234.5e-10, "-1.2345e-07"],
    ];
    const root = freshRoot();
    const store = createFileStore(root);
    const run = await newRun(store);
    await store.logBatch(run.runId, {
      metrics: cases.map(([value], step) => ({ key: "v", value, timestamp: 1700000000000 + step, step })),
      params: [],
      tags: [],
    });
    await store.logBatch(run.runId, { metrics: [{ key: "v", value: 3, timestamp: 5, step: -1 }], params: [], tags: [] });
    const onDisk = await readRun(root, run.runId);
    const expected = cases.map(([, text], step) => `${1700000000000 + step} ${text} ${step}\n`).join("") + "5 3.0 -1\n";
    assert.equal(onDisk.metricText.v, expected);
    assert.ok(Number.isNaN(onDisk.metrics.v?.[3]?.value));
    await rejectsWith(
      store.logBatch(run.runId, { metrics: [{ key: "v", value: 1, timestamp: 1.5, step: 0 }], params: [], tags: [] }),
      MlflowValidationError,
      (e) => assert.match(e.message, /timestamp/),
    );
  });

  test("writes params and tags raw without a trailing newline, '/' in a key making folders", async () => {
    const root = freshRoot();
    const store = createFileStore(root);
    const run = await newRun(store);
    await store.logBatch(run.runId, {
      metrics: [{ key: "dir/nested_metric", value: 3, timestamp: 1700000000000, step: 2 }],
      params: [{ key: "multi_line", value: "a\nb" }, { key: "grid/fast", value: "10" }, { key: "ünï:code", value: "ok" }],
      tags: [{ key: "mlflow.note.content", value: "# Notes\n\nline" }, { key: "team/desk", value: "" }],
    });
    const onDisk = await readRun(root, run.runId);
    assert.deepEqual(onDisk.params, { "grid/fast": "10", multi_line: "a\nb", "ünï:code": "ok" });
    assert.equal(await readFile(join(onDisk.dir, "params", "multi_line"), "utf8"), "a\nb");
    assert.equal(onDisk.tags["mlflow.note.content"], "# Notes\n\nline");
    assert.equal(onDisk.tags["team/desk"], "");
    assert.equal(onDisk.metricText["dir/nested_metric"], "1700000000000 3.0 2\n");
    assert.ok((await stat(join(onDisk.dir, "metrics", "dir"))).isDirectory());
  });

  test("params are immutable: the same value is a no-op, another value is rejected and nothing of that batch is written", async () => {
    const root = freshRoot();
    const store = createFileStore(root);
    const run = await newRun(store);
    await store.logBatch(run.runId, { metrics: [], params: [{ key: "fast_window", value: "10" }], tags: [] });
    await store.logBatch(run.runId, { metrics: [], params: [{ key: "fast_window", value: "10" }], tags: [] });
    await rejectsWith(
      store.logBatch(run.runId, {
        metrics: [{ key: "m", value: 1, timestamp: 1, step: 0 }],
        params: [{ key: "slow_window", value: "50" }, { key: "fast_window", value: "20" }],
        tags: [{ key: "t", value: "x" }],
      }),
      MlflowError,
      (e) => {
        assert.equal(e.errorCode, "INVALID_PARAMETER_VALUE");
        assert.match(e.message, /fast_window/);
        assert.match(e.message, /'10'/);
      },
    );
    await rejectsWith(
      store.logBatch(run.runId, { metrics: [], params: [{ key: "d", value: "a" }, { key: "d", value: "a" }], tags: [] }),
      MlflowValidationError,
      (e) => assert.equal((e as MlflowValidationError).field, "params.d"),
    );
    const onDisk = await readRun(root, run.runId);
    assert.deepEqual(onDisk.params, { fast_window: "10" });
    assert.deepEqual(onDisk.metrics, {});
    assert.equal(onDisk.tags.t, undefined);
  });

  test("over-long param and tag values are truncated to MLflow's limits like the server does", async () => {
    const root = freshRoot();
    const store = createFileStore(root);
    const run = await newRun(store);
    await store.logBatch(run.runId, {
      metrics: [],
      params: [{ key: "p", value: "x".repeat(6001) }],
      tags: [{ key: "t", value: "y".repeat(8001) }],
    });
    const onDisk = await readRun(root, run.runId);
    assert.equal(onDisk.params.p, "x".repeat(6000));
    assert.equal(onDisk.tags.t, "y".repeat(8000));
  });

  test("tags overwrite; finishRun rewrites meta.yaml by rename with status and end time", async () => {
    const root = freshRoot();
    const store = createFileStore(root);
    const run = await newRun(store);
    await store.logBatch(run.runId, { metrics: [], params: [], tags: [{ key: "stage", value: "one" }] });
    await store.logBatch(run.runId, { metrics: [], params: [], tags: [{ key: "stage", value: "two" }] });
    const metaPath = join(root, "0", run.runId, "meta.yaml");
    const before = await stat(metaPath);
    await store.finishRun(run.runId, "FAILED", 1700000099000);
    const after = await stat(metaPath);
    assert.notEqual(after.ino, before.ino, "meta.yaml was replaced, not rewritten in place");
    const onDisk = await readRun(root, run.runId);
    assert.equal(onDisk.tags.stage, "two");
    assert.equal(onDisk.meta.status, 4);
    assert.equal(onDisk.meta.end_time, 1700000099000);
    assert.equal("deleted_time" in onDisk.meta, false);
    assert.equal(onDisk.meta.run_uuid, run.runId);
    const leftovers = (await listTree(root)).filter((p) => /(^|\/)\.(tmp-|experiment-)/.test(p));
    assert.deepEqual(leftovers, []);
  });

  test("stores artifacts from bytes, strings, Blobs, streams and stream factories", async () => {
    const root = freshRoot();
    const store = createFileStore(root);
    const run = await newRun(store);
    const streamOf = (text: string) => new Blob([text]).stream();
    await store.uploadArtifact(run, { path: "a.bin", body: new Uint8Array([0, 1, 2, 255]), contentType: "application/octet-stream" });
    await store.uploadArtifact(run, { path: "equity.csv", body: "step,equity\n0,10000\n", contentType: "text/csv" });
    await store.uploadArtifact(run, { path: "results/summary.json", body: new Blob(["{\"sharpe\":1.42}"]), contentType: "application/json" });
    await store.uploadArtifact(run, { path: "plots/deep/s.txt", body: streamOf("stream"), contentType: "text/plain" });
    await store.uploadArtifact(run, { path: "f.txt", body: () => streamOf("factory"), contentType: "text/plain" });
    await store.uploadArtifact(run, { path: "equity.csv", body: "replaced\n", contentType: "text/csv" });
    const dir = join(root, "0", run.runId, "artifacts");
    assert.deepEqual(await listFiles(dir), ["a.bin", "equity.csv", "f.txt", "plots/deep/s.txt", "results/summary.json"]);
    assert.deepEqual([...(await readFile(join(dir, "a.bin")))], [0, 1, 2, 255]);
    assert.equal(await readFile(join(dir, "equity.csv"), "utf8"), "replaced\n");
    assert.equal(await readFile(join(dir, "results", "summary.json"), "utf8"), "{\"sharpe\":1.42}");
    assert.equal(await readFile(join(dir, "plots", "deep", "s.txt"), "utf8"), "stream");
    assert.equal(await readFile(join(dir, "f.txt"), "utf8"), "factory");
  });

  test("writes a stream to disk chunk by chunk instead of buffering it whole", async () => {
    const root = freshRoot();
    const store = createFileStore(root);
    const run = await newRun(store);
    const first = new Uint8Array(100_000).fill(97);
    const runDir = join(root, "0", run.runId);
    let bytesOnDiskBeforeSecondChunk = -1;
    let pulls = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        pulls += 1;
        if (pulls === 1) controller.enqueue(first);
        else if (pulls === 2) {
          const temps = (await readdir(runDir)).filter((name) => name.startsWith(".tmp-"));
          const sizes = await Promise.all(temps.map(async (name) => (await stat(join(runDir, name))).size));
          bytesOnDiskBeforeSecondChunk = sizes.reduce((a, b) => a + b, 0);
          controller.enqueue(new Uint8Array([98]));
        } else controller.close();
      },
      // No read-ahead: the next chunk is asked for only when the store reads again, after writing the last.
    }, { highWaterMark: 0 });
    await store.uploadArtifact(run, { path: "big.bin", body, contentType: "application/octet-stream" });
    assert.equal(bytesOnDiskBeforeSecondChunk, first.length);
    assert.equal((await stat(join(runDir, "artifacts", "big.bin"))).size, first.length + 1);
  });

  test("refuses keys, run ids and artifact paths that would leave the run folder, naming them", async () => {
    const base = join(scratch, `confine-${++counter}`);
    const root = join(base, "mlruns");
    const store = createFileStore(root);
    const run = await newRun(store);
    const badKeys = ["../escape", "/abs", "a/../../b", "a//b", "./a", "a/.", "..hidden", "a\0b", "a\\b", "", "k".repeat(251), "bad@key#1"];
    for (const key of badKeys) {
      for (const kind of ["metrics", "params", "tags"] as const) {
        const batch = {
          metrics: kind === "metrics" ? [{ key, value: 1, timestamp: 1, step: 0 }] : [],
          params: kind === "params" ? [{ key, value: "v" }] : [],
          tags: kind === "tags" ? [{ key, value: "v" }] : [],
        };
        await rejectsWith(store.logBatch(run.runId, batch), MlflowValidationError, (e) => {
          assert.equal((e as MlflowValidationError).field, `${kind}.${key}`);
        });
      }
    }
    for (const path of ["../evil.txt", "/etc/evil", "a/../../evil", "a\\..\\evil", "a\0b", "", "C:/evil", "./a", "dir/"]) {
      await rejectsWith(store.uploadArtifact(run, { path, body: "x", contentType: "text/plain" }), MlflowValidationError, (e) => {
        assert.equal((e as MlflowValidationError).field, "artifact.path");
        if (path !== "") assert.ok(e.message.includes(JSON.stringify(path)), e.message);
      });
    }
    for (const runId of ["../0", "a/b", "", "..", `${run.runId}/..`]) {
      await rejectsWith(store.logBatch(runId, { metrics: [], params: [], tags: [] }), MlflowValidationError, (e) =>
        assert.equal((e as MlflowValidationError).field, "runId"));
      await rejectsWith(store.finishRun(runId, "FINISHED", 1), MlflowValidationError, () => undefined);
    }
    // A run name is data, never a path.
    const sneaky = await newRun(store, "../../evil\0name");
    assert.equal((await readRun(root, sneaky.runId)).meta.run_name, "../../evil\0name");
    assert.deepEqual(await readdir(base), ["mlruns"]);
    assert.ok((await listTree(root)).every((p) => !p.includes("evil") && !p.includes("escape")));
  });

  test("logging to an unknown run reports RESOURCE_DOES_NOT_EXIST; a run made by another store instance is found", async () => {
    const root = freshRoot();
    const store = createFileStore(root);
    await rejectsWith(
      store.logBatch("0123456789abcdef0123456789abcdef", { metrics: [], params: [], tags: [] }),
      MlflowError,
      (e) => assert.equal(e.errorCode, "RESOURCE_DOES_NOT_EXIST"),
    );
    const experimentId = await store.resolveExperiment({ name: "other" });
    const run = await newRun(store, "elsewhere", experimentId);
    const other = createFileStore(root);
    await other.logBatch(run.runId, { metrics: [{ key: "m", value: 2, timestamp: 1, step: 0 }], params: [], tags: [] });
    await other.finishRun(run.runId, "KILLED", 2);
    const onDisk = await readRun(root, run.runId);
    assert.equal(onDisk.metricText.m, "1 2.0 0\n");
    assert.equal(onDisk.meta.status, 5);
  });
});

// ---------------------------------------------------------------------------
// Golden layout: the fixture is a tree written by MLflow 3.11 itself.

interface FixtureFile {
  content: string;
  /** Byte length the fixture states; the shown content may be cut short. */
  bytes?: number;
}

function parseFixture(text: string): { tree: string[]; files: Map<string, FixtureFile> } {
  const lines = text.split("\n");
  const tree: string[] = [];
  const files = new Map<string, FixtureFile>();
  let i = 0;
  for (; i < lines.length && !lines[i]!.startsWith("=== "); i++) {
    if (lines[i] !== "" && !lines[i]!.startsWith("#")) tree.push(lines[i]!);
  }
  while (i < lines.length) {
    const header = /^=== (\S+)(?: \((\d+) bytes; cat -A\))?$/.exec(lines[i]!);
    assert.ok(header, `fixture header at line ${i + 1}`);
    const body: string[] = [];
    for (i++; i < lines.length && !lines[i]!.startsWith("=== "); i++) body.push(lines[i]!);
    while (body.length > 0 && body[body.length - 1] === "") body.pop();
    if (header[2] === undefined) files.set(header[1]!, { content: body.map((l) => `${l}\n`).join("") });
    else {
      // `cat -A` marks each line end with `$`; a last line without it had no newline.
      const content = body.map((l) => (l.endsWith("$") ? `${l.slice(0, -1)}\n` : l)).join("");
      files.set(header[1]!, { content, bytes: Number(header[2]) });
    }
  }
  return { tree, files };
}

describe("golden layout", () => {
  test("a logged run has the same tree and byte-identical files as MLflow 3.11's (ids, times and paths aside)", async () => {
    const fixture = parseFixture(await readFile(fixturePath, "utf8"));
    const fixtureExperiment = "600556694027549950";
    const fixtureParent = "e917808f4c8b4a2585b06f46902df77a";
    const fixtureChild = "245629cb92a04d559b1daf8c7ded0fc9";
    const fixtureRootUri = "file:///home/user/project/mlruns";

    const root = freshRoot();
    const store = createFileStore(`file:${root}`);
    const experimentId = await store.resolveExperiment({ name: "fs-probe-exp" });
    const parent = await store.createRun({
      experimentId,
      runName: "sma-crossover-backtest",
      startTime: 1700000000000,
      userId: "unknown",
      tags: [{ key: "mode", value: "backtest" }, { key: "strategy", value: "sma_crossover" }, { key: "mlflow.note.content", value: "hello" }],
    });
    await store.logBatch(parent.runId, {
      params: [
        { key: "fast_window", value: "10" },
        { key: "long_param", value: "x".repeat(6000) },
        { key: "multi_line", value: "a\nb" },
        { key: "symbol", value: "BTC-USD" },
      ],
      metrics: [
        { key: "equity", value: 10000, timestamp: 1700000000000, step: 0 },
        { key: "sharpe", value: 1.42, timestamp: 1700000000000, step: 0 },
        { key: "nan_metric", value: NaN, timestamp: 1700000000000, step: 0 },
        { key: "inf_metric", value: Infinity, timestamp: 1700000000000, step: 0 },
        { key: "dir/nested_metric", value: 3, timestamp: 1700000000000, step: 2 },
      ],
      tags: [],
    });
    await store.logBatch(parent.runId, {
      params: [],
      metrics: [
        { key: "equity", value: 10123.5, timestamp: 1700000001000, step: 1 },
        { key: "sharpe", value: 1.5, timestamp: 1700000002000, step: 1 },
      ],
      tags: [],
    });
    await store.uploadArtifact(parent, { path: "equity.csv", body: "step,equity\n0,10000\n1,10123.5\n", contentType: "text/csv" });
    await store.uploadArtifact(parent, { path: "results/summary.json", body: "{\"sharpe\": 1.5}", contentType: "application/json" });
    const child = await store.createRun({
      experimentId,
      runName: "fold-1",
      startTime: 1700000001000,
      userId: "unknown",
      tags: [{ key: "mlflow.parentRunId", value: parent.runId }],
    });
    await store.logBatch(child.runId, { params: [{ key: "fold", value: "1" }], metrics: [], tags: [] });
    await store.finishRun(child.runId, "FINISHED", 1700000030000);
    await store.finishRun(parent.runId, "FINISHED", 1700000060000);

    const ours = (text: string): string =>
      text.replaceAll(pathToFileURL(root).href, fixtureRootUri)
        .replaceAll(experimentId, fixtureExperiment)
        .replaceAll(parent.runId, fixtureParent)
        .replaceAll(child.runId, fixtureChild);
    // Experiment tags are not part of the TrackingStore interface.
    const expectedTree = fixture.tree.filter((p) => !p.startsWith(`mlruns/${fixtureExperiment}/tags`));
    const actualTree = ["mlruns", ...(await listTree(root)).map((p) => ours(`mlruns/${p}`))].sort();
    assert.deepEqual(actualTree, [...expectedTree].sort());

    const times = (text: string): string => text.replace(/^((?:creation|last_update)_time): \d+$/gm, "$1: <time>");
    let compared = 0;
    for (const [path, expected] of fixture.files) {
      if (path.startsWith(`mlruns/${fixtureExperiment}/tags/`)) continue;
      const ourPath = join(root, ...path.split("/").slice(1).map((segment) =>
        segment === fixtureExperiment ? experimentId : segment === fixtureParent ? parent.runId : segment === fixtureChild ? child.runId : segment));
      let actual = ours(await readFile(ourPath, "utf8"));
      if (path.endsWith("meta.yaml")) {
        const meta = parseMetaYaml(actual);
        if ("run_id" in meta) {
          // We write run_uuid on purpose for MLflow 2.x readers; MLflow 3 dropped it.
          assert.equal(meta.run_uuid, meta.run_id, path);
          actual = actual.replace(/^run_uuid: .*\n/m, "");
        }
        assert.equal(times(actual), times(expected.content), path);
      } else if (expected.bytes !== undefined && expected.content.length < expected.bytes) {
        assert.equal(new TextEncoder().encode(actual).length, expected.bytes, path);
        assert.ok(actual.startsWith(expected.content), path);
      } else {
        assert.equal(actual, expected.content, path);
        if (expected.bytes !== undefined) assert.equal(new TextEncoder().encode(actual).length, expected.bytes, path);
      }
      compared++;
    }
    assert.equal(compared, 20);
  });
});

// ---------------------------------------------------------------------------
// Concurrency: one process with many parallel runs, and a second process.

function writerCommand(args: string[]): [string, string[]] {
  const script = join(repoRoot, "test", "support", "fs_writer.ts");
  const versions = process.versions as Record<string, string | undefined>;
  if (versions.deno !== undefined) return [process.execPath, ["run", "-A", script, ...args]];
  if (versions.bun !== undefined) return [process.execPath, [script, ...args]];
  return [process.execPath, ["--import", "tsx", script, ...args]];
}

interface Writer {
  /** Resolves once the writer has opened its store and waits for the go signal. */
  ready: Promise<void>;
  go: () => void;
  /** Resolves with the exit code and everything written to stdout and stderr. */
  exit: Promise<{ code: number | null; output: string }>;
}

function startWriter(args: string[]): Writer {
  const [command, commandArgs] = writerCommand(args);
  const child = spawn(command, commandArgs, { cwd: repoRoot, stdio: ["pipe", "pipe", "pipe"] });
  let output = "";
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  child.stdout.setEncoding("utf8");
  child.stderr.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => {
    output += chunk;
    if (output.includes("ready\n")) markReady();
  });
  child.stderr.on("data", (chunk: string) => (output += chunk));
  const exit = new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => {
      markReady();
      resolve({ code, output });
    });
  });
  return { ready, go: () => child.stdin.end("go\n"), exit };
}

describe("concurrency", () => {
  test("64 parallel runs here and a second process writing at once leave every run intact and one experiment", async () => {
    const root = freshRoot();
    const experimentName = "grid: sma 64";
    const childRuns = 8;
    // Open the root first so both processes start from an existing store.
    await createFileStore(root).resolveExperiment({});
    const writer = startWriter([root, experimentName, String(childRuns), "child", "--die"]);
    await writer.ready;
    writer.go();
    const stores = Array.from({ length: 4 }, () => createFileStore(root));
    const parentIds = await Promise.all(
      Array.from({ length: 64 }, (_, i) => logCell(stores[i % stores.length]!, experimentName, `cell-${i}`, "parent")),
    );
    const { code, output } = await writer.exit;
    assert.equal(code, 7, output);
    assert.match(output, /dying/);

    const experiments = await readMlruns(root);
    const named = experiments.filter((e) => e.meta.name === experimentName);
    assert.equal(named.length, 1, `one experiment named ${experimentName}: ${named.map((e) => e.id).join(", ")}`);
    const runs = named[0]!.runs;
    assert.equal(runs.length, 64 + childRuns + 1);
    assert.deepEqual(new Set(parentIds).size, 64);
    for (const run of runs) {
      const name = run.meta.run_name as string;
      if (name === "child-dying") {
        assert.equal(run.meta.status, 1, "a run whose process died stays RUNNING");
        assert.equal(run.meta.end_time, null);
        assert.equal(run.metricText.equity, "1700000000000 1.0 0\n");
        continue;
      }
      assert.equal(run.meta.status, 3, name);
      assert.equal(run.meta.run_id, run.id);
      assert.deepEqual(run.params, { cell: name, writer: name.startsWith("child") ? "child" : "parent" });
      assert.equal(run.tags["mlflow.runName"], name);
      assert.equal(run.tags.mode, "grid");
      assert.equal(run.metrics.equity?.length, POINTS_PER_RUN, name);
      assert.equal(run.metrics["nested/drawdown"]?.length, POINTS_PER_RUN, name);
      assert.deepEqual(run.metrics.equity?.map((p) => p.step), Array.from({ length: POINTS_PER_RUN }, (_, i) => i));
      assert.deepEqual(run.artifacts, ["equity.csv"]);
      assert.equal(await readFile(join(run.dir, "artifacts", "equity.csv"), "utf8"), `step,equity\n0,${name}\n`);
    }
    const names = runs.map((r) => r.meta.run_name as MetaValue).sort();
    assert.equal(new Set(names).size, runs.length);
    const leftovers = (await listTree(root)).filter((p) => /(^|\/)\.(tmp-|experiment-)/.test(p));
    assert.deepEqual(leftovers, []);
  });
});

describe("node file-system entry", () => {
  test("openLocalFile streams a file afresh per call and names a missing path in a validation error", async () => {
    const dir = join(scratch, `local-${++counter}`);
    await mkdir(dir);
    const path = join(dir, "report.html");
    await writeFile(path, "<html>report</html>");
    const file = await nodeFs.openLocalFile(path, "htmlReport");
    assert.equal(file.name, "report.html");
    assert.equal(file.size, 19);
    for (let attempt = 0; attempt < 2; attempt++) {
      assert.equal(await new Response(file.open()).text(), "<html>report</html>");
    }
    await rejectsWith(nodeFs.openLocalFile(join(dir, "missing.html"), "htmlReport"), MlflowValidationError, (e) => {
      assert.equal((e as MlflowValidationError).field, "htmlReport");
      assert.match(e.message, /missing\.html/);
    });
    await rejectsWith(nodeFs.openLocalFile(dir, "htmlReport"), MlflowValidationError, (e) => assert.match(e.message, /not a regular file/));
  });

  test("file URIs are percent-encoded as MLflow (Python pathlib) writes them and decode back", () => {
    assert.equal(nodeFs.pathToFileUrl("/data/my runs:1/é"), "file:///data/my%20runs%3A1/%C3%A9");
    assert.equal(nodeFs.fileUrlToPath("file:///data/my%20runs%3A1/%C3%A9"), "/data/my runs:1/é");
  });
});

describe("edge entry", () => {
  test("has no node: imports, and its file operations fail with advice to use an MLflow server", async () => {
    const seen = new Set<string>();
    const visit = async (file: string): Promise<void> => {
      if (seen.has(file)) return;
      seen.add(file);
      const source = await readFile(file, "utf8");
      assert.doesNotMatch(source, /(from\s+|import\s*\(\s*)["']node:/, file);
      for (const match of source.matchAll(/from\s+["'](\.{1,2}\/[^"']+)["']/g)) await visit(join(dirname(file), match[1]!));
    };
    await visit(join(repoRoot, "src", "runtime", "fs_edge.ts"));
    assert.ok(seen.size >= 2);

    await rejectsWith(edgeFileSystem.readText("/x"), MlflowError, (e) => {
      assert.equal(e.errorCode, "FILE_STORE_UNAVAILABLE");
      assert.match(e.message, /trackingUri/);
    });
    await rejectsWith(edgeFs.fileSystem.writeAtomic("/x", "y", "/"), MlflowError, () => undefined);
    await rejectsWith(edgeFs.openLocalFile("report.html", "htmlReport"), MlflowValidationError, (e) =>
      assert.equal((e as MlflowValidationError).field, "htmlReport"));
    assert.equal(edgeFs.resolvePath("./mlruns/../runs"), "/runs");
    assert.equal(edgeFs.fileUrlToPath("file:./mlruns"), "/mlruns");
    assert.equal(edgeFs.pathToFileUrl("/data/my runs:1"), "file:///data/my%20runs%3A1");
  });
});
