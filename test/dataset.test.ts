import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describeBars, getRun, logBacktest, logGrid, MlflowValidationError, searchRuns, startRun } from "../mod.ts";
import { type Backend, BACKENDS, uniqueName } from "./support/backends.ts";
import { inputsOf } from "./support/dataset_reader.ts";
import { readMlruns } from "./support/mlruns_reader.ts";

const T0 = 1704067200000000000n; // 2024-01-01T00:00:00Z
const MINUTE = 60_000_000_000n;

function barsCsv(rows: number, closeOffset = 0): string {
  let text = "timestamp_ns,open,close,volume\n";
  for (let i = 0; i < rows; i++) text += `${T0 + BigInt(i) * MINUTE},${42000 + i},${42000.5 + i + closeOffset},${10 + i}\n`;
  return text;
}

const sha8 = (bytes: string | Uint8Array): string => createHash("sha256").update(bytes).digest("hex").slice(0, 8);

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "flox-dataset-"));
});
after(() => rm(dir, { recursive: true, force: true }));

describe("describeBars", () => {
  test("a CSV file's digest is the first 8 hex digits of its SHA-256, and its profile counts rows and spans the bars", async () => {
    const text = barsCsv(3);
    const path = join(dir, "btcusdt_1m.csv");
    await writeFile(path, text);
    const dataset = await describeBars(path);
    assert.equal(dataset.digest, sha8(text));
    assert.equal(dataset.name, "btcusdt_1m");
    assert.equal(dataset.sourceType, "local");
    assert.equal(dataset.source, `{"uri": "${pathToFileURL(path).href}"}`);
    assert.equal(dataset.context, "backtest");
    assert.equal(
      dataset.schema,
      '{"mlflow_colspec": [{"type": "long", "name": "timestamp_ns", "required": true}, {"type": "long", "name": "open", "required": true}, ' +
        '{"type": "double", "name": "close", "required": true}, {"type": "long", "name": "volume", "required": true}]}',
    );
    assert.equal(
      dataset.profile,
      '{"num_rows": 3, "num_elements": 12, "first_bar_time": "2024-01-01T00:00:00Z", "last_bar_time": "2024-01-01T00:02:00Z"}',
    );
  });

  test("bars in memory as columns or rows digest like the same bars written as CSV", async () => {
    const columns = {
      timestamp_ns: [T0, T0 + MINUTE, T0 + 2n * MINUTE],
      open: Float64Array.of(42000, 42001, 42002),
      close: [42000.5, 42001.5, 42002.5],
      volume: [10, 11, 12],
    };
    const rows = [0, 1, 2].map((i) => ({ timestamp_ns: columns.timestamp_ns[i], open: columns.open[i], close: columns.close[i], volume: columns.volume[i] }));
    const fromColumns = await describeBars(columns, { name: "btc" });
    const fromRows = await describeBars(rows, { name: "btc" });
    assert.equal(fromColumns.digest, sha8(barsCsv(3)));
    assert.equal(fromRows.digest, fromColumns.digest);
    assert.equal(fromRows.profile, fromColumns.profile);
    assert.equal(fromColumns.sourceType, "code");
    // A source URI says where the bars came from, whatever was digested.
    // FLOX Node's camelCase columns: timestampNs is found and read as nanoseconds, as numbers too.
    const camel = await describeBars({ timestampNs: BigInt64Array.of(T0, T0 + MINUTE), close: Float64Array.of(1, 2) }, { name: "camel" });
    assert.match(camel.profile!, /"first_bar_time": "2024-01-01T00:00:00Z", "last_bar_time": "2024-01-01T00:01:00Z"/);
    const seconds = await describeBars({ open_time_s: [1704067200, 1704067260], close: [1, 2] }, { name: "s", timeColumn: "open_time_s" });
    assert.match(seconds.profile!, /"last_bar_time": "2024-01-01T00:01:00Z"/);
    const millis = await describeBars({ ts: [1704067200000, 1704067260000], close: [1, 2] }, { name: "ms" });
    assert.match(millis.profile!, /"first_bar_time": "2024-01-01T00:00:00Z", "last_bar_time": "2024-01-01T00:01:00Z"/);
    for (const ts of ["1704067200", "1704067200000", "1704067200000000", "1704067200000000000"]) {
      const sized = await describeBars(new Blob([`ts,close\n${ts},1\n`]).stream(), { name: "sized" });
      assert.match(sized.profile!, /"first_bar_time": "2024-01-01T00:00:00Z", "last_bar_time": "2024-01-01T00:00:00Z"/, ts);
    }
    const sourced = await describeBars(columns, { name: "btc", source: "s3://bars/btc.parquet", context: "training" });
    assert.deepEqual([sourced.sourceType, sourced.source, sourced.context], ["s3", '{"uri": "s3://bars/btc.parquet"}', "training"]);
  });

  test("a line break inside quotes stays in its row; ISO times and a chosen time column give the span", async () => {
    const text = 'symbol,when,close,note\r\nBTC,2024-03-01T00:00:00Z,1.5,"two\nlines"\r\n\r\nBTC,2024-03-01T01:00:00.123456789Z,2,"a ""quote"""\r\n';
    const dataset = await describeBars(new Blob([text]).stream(), { name: "quoted", timeColumn: "when" });
    assert.equal(dataset.digest, sha8(text));
    assert.equal(
      dataset.profile,
      '{"num_rows": 2, "num_elements": 8, "first_bar_time": "2024-03-01T00:00:00Z", "last_bar_time": "2024-03-01T01:00:00.123456789Z"}',
    );
  });

  test("a URL is fetched and digested as it streams; credentials in it stay out of the dataset and its errors", async () => {
    const text = barsCsv(5);
    const seen: string[] = [];
    const fetchBars = async (url: string | URL | Request, init?: RequestInit): Promise<Response> => {
      seen.push(`${String(url)} ${new Headers(init?.headers).get("authorization")}`);
      return String(url).includes("missing") ? new Response("no", { status: 404 }) : new Response(text);
    };
    const url = "https://alice:pw@data.example/bars/btc.csv?day=2024-01-01&X-Amz-Signature=s3cr3t";
    const dataset = await describeBars(url, { fetch: fetchBars, headers: { authorization: "Bearer tok3n" } });
    assert.deepEqual(seen, [`${url} Bearer tok3n`]);
    assert.equal(dataset.name, "btc");
    assert.equal(dataset.digest, sha8(text));
    assert.equal(dataset.sourceType, "http");
    assert.equal(dataset.source, '{"url": "https://data.example/bars/btc.csv?day=2024-01-01"}');
    const failed = await describeBars(url.replace("btc.csv", "missing.csv"), { fetch: fetchBars }).then(() => undefined, (e: unknown) => e);
    assert.ok(failed instanceof MlflowValidationError);
    assert.equal(failed.field, "bars");
    assert.doesNotMatch(failed.message, /s3cr3t|pw@/);
    assert.match(failed.message, /404/);
  });

  test("a large CSV is digested as it streams: chunks are not kept, memory stays below the data's size", async () => {
    // 192 MiB of bars, each 1 MiB chunk a fresh copy: holding them would hold 192 MiB.
    const line = new TextEncoder().encode(`${T0},42000,42000.5,10\n`);
    const rowsPerChunk = Math.floor((1 << 20) / line.length);
    const template = new Uint8Array(rowsPerChunk * line.length);
    for (let i = 0; i < template.length; i += line.length) template.set(line, i);
    const header = new TextEncoder().encode("timestamp_ns,open,close,volume\n");
    const chunks = 192;
    const reference = createHash("sha256").update(header);
    const given: Uint8Array[] = [];
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(header.slice());
      },
      pull(controller) {
        peak = Math.max(peak, process.memoryUsage().rss);
        // A chunk three reads back is spoilt: a reader that kept it to hash or parse later gets another digest.
        given[given.length - 3]?.fill(0);
        if (given.length === chunks) return controller.close();
        const chunk = template.slice();
        reference.update(chunk);
        given.push(chunk);
        if (given.length > 3) given[given.length - 4] = new Uint8Array(0);
        controller.enqueue(chunk);
      },
    }, { highWaterMark: 1 });
    const dataset = await describeBars(stream, { name: "large" });
    assert.equal(given.length, chunks);
    assert.equal(dataset.digest, reference.digest("hex").slice(0, 8));
    assert.match(dataset.profile!, new RegExp(`"num_rows": ${rowsPerChunk * chunks},`));
    // Holding the chunks would be 192 MiB or more; reading as it streams stays below that. Garbage
    // collection lags (65-80 MiB seen on Node and Deno under load, 140 MiB under Bun, which runs every
    // test file in one process), so the bound is the data's size itself; the spoilt chunks above catch
    // a reader that keeps chunks for later whatever the memory does.
    const grown = (peak - baseline) / 2 ** 20;
    assert.ok(grown < 192, `memory grew by ${grown.toFixed(0)} MiB while reading 192 MiB`);
  });

  test("bad bars and options are named errors", async () => {
    const cases: [() => Promise<unknown>, string, RegExp][] = [
      [() => describeBars({ ts: [1, 2], close: [1] }, { name: "x" }), "bars.close", /has 1 values but 'ts' has 2/],
      [() => describeBars({ ts: [1] }), "options.name", /is required/],
      [() => describeBars(join(dir, "nope.csv")), "bars", /does not exist/],
      [() => describeBars({ ts: [1] }, { name: "x", contxt: "t" } as never), "options.contxt", /did you mean 'context'/],
      [() => describeBars({ ts: [1] }, { name: "x".repeat(501) }), "dataset.name", /over MLflow's limit of 500/],
      [() => describeBars({ ts: [1] }, { name: "x", timeColumn: "when" }), "options.timeColumn", /not a column/],
      [() => describeBars(42 as never, { name: "x" }), "bars", /must be rows, columns/],
      [() => describeBars(join(dir, "100%.csv")), "bars", /does not exist/],
      [() => describeBars("https://[bad/bars.csv"), "bars", /not a valid URL/],
      [() => describeBars("https://data.example/bars.csv", { fetch: 5 as never }), "options.fetch", /fetch function/],
      // Options are checked before the stream is read: this one fails on its first read.
      [() => describeBars(new ReadableStream({ pull: () => Promise.reject(new Error("read")) })), "options.name", /is required/],
      [() => describeBars(new ReadableStream({ pull: () => Promise.reject(new Error("read")) }), { name: "x", context: 7 as never }), "options.context", /non-empty string/],
    ];
    for (const [call, field, message] of cases) {
      const error = await call().then(() => undefined, (e: unknown) => e);
      assert.ok(error instanceof MlflowValidationError, `${field}: ${String(error)}`);
      assert.equal(error.field, field);
      assert.match(error.message, message);
    }
  });
});

for (const { name, open } of BACKENDS) {
  describe(`dataset inputs (${name} store)`, () => {
    let backend: Backend;
    before(async () => {
      backend = await open();
    });
    after(() => backend.close());
    const options = () => ({ trackingUri: backend.trackingUri, env: {}, chart: false as const });

    test("two backtests on the same bars share one dataset; another file gets another digest", async () => {
      const experiment = uniqueName("datasets");
      const path = join(dir, `same-${name}.csv`);
      await writeFile(path, barsCsv(4));
      const first = await logBacktest({ ...options(), experiment, dataset: await describeBars(path), params: { fast: 5 }, stats: { sharpe: 1 } });
      const second = await logBacktest({ ...options(), experiment, dataset: await describeBars(path), params: { fast: 10 }, stats: { sharpe: 2 } });
      const changed = join(dir, `changed-${name}.csv`);
      await writeFile(changed, barsCsv(4, 0.25));
      const third = await logBacktest({ ...options(), experiment, dataset: await describeBars(changed, { name: `same-${name}` }), stats: { sharpe: 3 } });
      const [a, b, c] = await Promise.all([first, second, third].map((id) => inputsOf(backend, id)));
      assert.equal(a!.length, 1);
      assert.deepEqual(a, b);
      assert.equal(a![0]!.dataset.name, `same-${name}`);
      assert.equal(a![0]!.dataset.digest, sha8(barsCsv(4)));
      assert.deepEqual(a![0]!.tags, { "mlflow.data.context": "backtest" });
      assert.equal(c![0]!.dataset.name, a![0]!.dataset.name);
      assert.equal(c![0]!.dataset.digest, sha8(barsCsv(4, 0.25)));
      assert.notEqual(c![0]!.dataset.digest, a![0]!.dataset.digest);
      if (backend.name === "file") {
        // One dataset folder per distinct (name, digest) in the experiment, as MLflow's FileStore keeps them.
        const experimentRecord = (await readMlruns(fileURLToPath(backend.trackingUri))).find((e) => e.meta.name === experiment)!;
        const ids = new Set(experimentRecord.runs.flatMap((r) => r.inputs.map((i) => String(i.meta.source_id))));
        assert.equal(ids.size, 2);
      }
      // The library reads them back too, on either store.
      const run = await getRun(first, { trackingUri: backend.trackingUri, env: {} });
      assert.equal(run.datasetInputs?.[0]?.dataset.digest, a![0]!.dataset.digest);
      assert.equal(run.datasetInputs?.[0]?.dataset.profile, a![0]!.dataset.profile);
      const { runs } = await searchRuns({ trackingUri: backend.trackingUri, env: {}, experiment, filter: "params.fast = '10'" });
      assert.deepEqual(runs.map((r) => [r.runId, r.datasetInputs?.[0]?.dataset.digest]), [[second, a![0]!.dataset.digest]]);
    });

    test("startRun's dataset option and run.logInput log bars in memory with their schema and time span", async () => {
      const bars = { ts: [T0, T0 + MINUTE], close: [42000.5, 42010] };
      const run = await startRun({
        trackingUri: backend.trackingUri, env: {}, experiment: uniqueName("datasets"),
        dataset: await describeBars(bars, { name: "btc-mem" }),
      });
      await run.logInput(await describeBars(bars, { name: "btc-mem-validation", context: "validation" }));
      await run.end();
      const inputs = await inputsOf(backend, run.runId);
      const byName = Object.fromEntries(inputs.map((i) => [i.dataset.name, i]));
      assert.deepEqual(Object.keys(byName).sort(), ["btc-mem", "btc-mem-validation"]);
      assert.deepEqual(byName["btc-mem-validation"]!.tags, { "mlflow.data.context": "validation" });
      assert.equal(byName["btc-mem"]!.dataset.source_type, "code");
      assert.equal(
        byName["btc-mem"]!.dataset.schema,
        '{"mlflow_colspec": [{"type": "long", "name": "ts", "required": true}, {"type": "double", "name": "close", "required": true}]}',
      );
      assert.equal(
        byName["btc-mem"]!.dataset.profile,
        '{"num_rows": 2, "num_elements": 4, "first_bar_time": "2024-01-01T00:00:00Z", "last_bar_time": "2024-01-01T00:01:00Z"}',
      );
    });

    test("a grid's dataset goes on its parent run", async () => {
      const dataset = await describeBars({ ts: [T0, T0 + MINUTE], close: [1, 2] }, { name: "btc-grid" });
      const grid = await logGrid({
        ...options(), experiment: uniqueName("datasets"), dataset,
        results: [{ params: { fast: 5 }, stats: { sharpe_ratio: 1 } }, { params: { fast: 10 }, stats: { sharpe_ratio: 2 } }],
      });
      assert.deepEqual((await inputsOf(backend, grid.parentRunId)).map((i) => [i.dataset.name, i.dataset.digest]), [["btc-grid", dataset.digest]]);
    });

    test("a list of datasets is logged together, each with its own context", async () => {
      const bars = { ts: [T0, T0 + MINUTE], close: [1, 2] };
      const train = await describeBars(bars, { name: "btc-train", context: "training" });
      const test_ = await describeBars({ ts: [T0 + 2n * MINUTE], close: [3] }, { name: "btc-test", context: "test" });
      const before = backend.server?.requests.length ?? 0;
      const runId = await logBacktest({ ...options(), experiment: uniqueName("datasets"), dataset: [train, test_], stats: { sharpe: 1 } });
      if (backend.server) {
        // One runs/log-inputs request for the whole list (MLflow takes up to 1000 datasets in one).
        const sent = backend.server.requests.slice(before).filter((r) => r.path.endsWith("/mlflow/runs/log-inputs"));
        assert.deepEqual(sent.map((r) => [r.method, r.status]), [["POST", 200]]);
      }
      const inputs = await inputsOf(backend, runId);
      assert.deepEqual(
        inputs.map((i) => [i.dataset.name, i.tags["mlflow.data.context"]]).sort(),
        [["btc-test", "test"], ["btc-train", "training"]],
      );
    });

    test("a bad dataset is a named error before any request: no run, no input", async () => {
      const experiment = uniqueName("datasets-bad");
      const good = await describeBars({ ts: [T0] }, { name: "ok" });
      const cases: [object, string, RegExp][] = [
        [{ ...good, digest: "x".repeat(37) }, "dataset.digest", /over MLflow's limit of 36/],
        [{ ...good, name: "" }, "dataset.name", /non-empty string/],
        [{ ...good, source: undefined }, "dataset.source", /non-empty string/],
        [{ ...good, context: "c".repeat(501) }, "dataset.context", /limit of 500/],
        [{ ...good, contxt: "x" }, "dataset.contxt", /did you mean 'context'/],
        [[good, { ...good, schema: 5 }], "dataset[1].schema", /must be a string/],
      ];
      const requestsBefore = backend.server?.requests.length ?? 0;
      for (const [dataset, field, message] of cases) {
        const error = await logBacktest({ ...options(), experiment, dataset: dataset as never, stats: { sharpe: 1 } }).then(() => undefined, (e: unknown) => e);
        assert.ok(error instanceof MlflowValidationError, `${field}: ${String(error)}`);
        assert.equal(error.field, field);
        assert.match(error.message, message);
      }
      if (backend.server) assert.equal(backend.server.requests.length, requestsBefore);
      else assert.equal((await readMlruns(fileURLToPath(backend.trackingUri))).filter((e) => e.meta.name === experiment).length, 0);
      // On an open run too: nothing is sent and the run keeps no input.
      const run = await startRun({ trackingUri: backend.trackingUri, env: {}, experiment });
      const error = await run.logInput({ ...good, digest: undefined } as never).then(() => undefined, (e: unknown) => e);
      assert.ok(error instanceof MlflowValidationError);
      assert.equal(error.field, "dataset.digest");
      await run.end();
      assert.deepEqual(await inputsOf(backend, run.runId), []);
    });
  });
}

describe("dataset inputs in ./mlruns, byte for byte as MLflow writes them", () => {
  test("the dataset and input meta.yaml of the recorded layout, in md5-named folders", async () => {
    // /work/shared/reference/mlflow-filestore-layout.txt, addendum: mlflow.log_input(from_pandas(...), context="backtest").
    const root = join(dir, "mlruns-layout");
    const run = await startRun({
      trackingUri: root, env: {}, experiment: "layout",
      dataset: {
        name: "btcusdt_1m_2024Q4", digest: "ffecc93a", sourceType: "local", source: '{"uri": "file:///data/btcusdt_1m.csv"}',
        schema: '{"mlflow_colspec": [{"type": "long", "name": "ts", "required": true}, {"type": "double", "name": "close", "required": true}]}',
        profile: '{"num_rows": 2, "num_elements": 4}',
      },
    });
    await run.end();
    const [input] = (await readMlruns(root)).flatMap((e) => e.runs).find((r) => r.id === run.runId)!.inputs;
    const datasetId = createHash("md5").update("btcusdt_1m_2024Q4ffecc93a").digest("hex");
    assert.equal(datasetId, "3db6315254fa14d39100841037fc7284");
    assert.equal(input!.id, createHash("md5").update(datasetId + run.runId).digest("hex"));
    assert.equal(
      input!.datasetText,
      "digest: ffecc93a\nname: btcusdt_1m_2024Q4\nprofile: '{\"num_rows\": 2, \"num_elements\": 4}'\n" +
        "schema: '{\"mlflow_colspec\": [{\"type\": \"long\", \"name\": \"ts\", \"required\": true}, {\"type\":\n" +
        "  \"double\", \"name\": \"close\", \"required\": true}]}'\nsource: '{\"uri\": \"file:///data/btcusdt_1m.csv\"}'\nsource_type: local\n",
    );
    assert.equal(
      input!.metaText,
      `destination_id: ${datasetId}\ndestination_type: RUN\nsource_id: ${datasetId}\nsource_type: DATASET\ntags:\n  mlflow.data.context: backtest\n`,
    );
    assert.equal(
      await readFile(join(root, run.experimentId, "datasets", datasetId, "meta.yaml"), "utf8"),
      input!.datasetText,
    );
  });
});
