/**
 * Hostile input on every public entry: circular and absurdly deep objects,
 * Symbols, functions and BigInts where they mean nothing, invalid and
 * out-of-range times, `null` where an object belongs, numbers where a string
 * belongs, malformed URIs, values a CSV cannot hold, options of the wrong kind.
 * Each is an MlflowValidationError naming the field, thrown before any request
 * (for logBacktest, logGrid and logWalkForward: before any run exists), never a
 * raw TypeError or RangeError from deep inside. Lengths count as MLflow counts
 * them, in code points.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import {
  equityChartSpec,
  initChart,
  logBacktest,
  type LogBacktestOptions,
  logGrid,
  type LogGridOptions,
  logToMlflow,
  logWalkForward,
  type LogWalkForwardOptions,
  type MlflowRun,
  MlflowValidationError,
  renderEquityChart,
  setTrackingUri,
  startRun,
} from "../mod.ts";
import { type Backend, BACKENDS, uniqueName } from "./support/backends.ts";

const T0 = 1704067200000000000n;
const MINUTE = 60_000_000_000n;
const EMOJI = "\u{1F600}";

function circular(): Record<string, unknown> {
  const o: Record<string, unknown> = { a: 1 };
  o.self = o;
  return o;
}

function deepObject(levels = 10_000): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  let at = root;
  for (let i = 0; i < levels; i++) at = (at.x = {}) as Record<string, unknown>;
  return root;
}

function deepArray(levels = 10_000): unknown[] {
  const root: unknown[] = [];
  let at = root;
  for (let i = 0; i < levels; i++) {
    const next: unknown[] = [];
    at.push(next);
    at = next;
  }
  return root;
}

const rows = (n = 3) =>
  Array.from({ length: n }, (_, i) => ({ timestamp_ns: T0 + BigInt(i) * MINUTE, equity: 100 + i, drawdown_pct: 0 }));

/** Values that have no faithful text: `suffix` is the path below the value's own field where the error points. */
const UNWRITABLE: Array<{ label: string; make: () => unknown; suffix: string; message: RegExp }> = [
  { label: "a circular object", make: circular, suffix: ".self", message: /circular/ },
  { label: "a 10,000-level object", make: () => deepObject(), suffix: "", message: /deeper than 100 levels/ },
  { label: "a 10,000-level array", make: () => deepArray(), suffix: "", message: /deeper than 100 levels/ },
  { label: "a Symbol", make: () => Symbol("s"), suffix: "", message: /is a Symbol/ },
  { label: "a function", make: () => () => 1, suffix: "", message: /is a function/ },
  { label: "a Map", make: () => new Map([["a", 1]]), suffix: "", message: /is a Map.*Object\.fromEntries/ },
  { label: "a Set", make: () => new Set([1]), suffix: "", message: /is a Set.*\[\.\.\.set\]/ },
  { label: "an invalid Date", make: () => new Date(NaN), suffix: "", message: /invalid Date/ },
  { label: "a Symbol inside an array", make: () => [1, Symbol("s")], suffix: "[1]", message: /is a Symbol/ },
];

async function failure(call: () => unknown): Promise<unknown> {
  try {
    await call();
  } catch (err) {
    return err;
  }
  return new Error("the call succeeded");
}

for (const { name, open } of BACKENDS) {
  describe(`hostile input is refused before any request (${name} store)`, () => {
    let backend: Backend;
    let run: MlflowRun;
    // Everything refused goes to this experiment; it must stay empty, uncreated even.
    const experiment = uniqueName("hostile");
    before(async () => {
      backend = await open();
      run = await startRun({ trackingUri: backend.trackingUri, env: {}, experiment: uniqueName("handle"), runName: "handle" });
    });
    after(async () => {
      await run.end();
      await backend.close();
    });
    const base = () => ({ trackingUri: backend.trackingUri, env: {}, experiment, chart: false as const });
    const runBase = () => ({ trackingUri: backend.trackingUri, env: {}, experiment });
    const requests = () => backend.server?.requests.length ?? 0;

    let scenario = "";
    async function refused(call: () => unknown, field: string, message?: RegExp): Promise<void> {
      const before = requests();
      const err = await failure(call);
      assert.ok(err instanceof MlflowValidationError, `${scenario}${field}: expected an MlflowValidationError, got ${inspect(err, { depth: 0 })}`);
      assert.equal(err.field, field, err.message);
      if (message) assert.match(err.message, message, field);
      assert.equal(requests(), before, `${field}: a request was sent`);
    }

    const backtest = (data: Partial<LogBacktestOptions>) => () => logBacktest({ ...base(), ...data } as LogBacktestOptions);
    const grid = (data: Partial<LogGridOptions>) => () => logGrid({ ...base(), results: [{ params: { a: 1 } }], ...data } as LogGridOptions);
    const walkForward = (data: Partial<LogWalkForwardOptions>) => () =>
      logWalkForward({ ...base(), folds: [{ trainStats: { s: 1 }, testStats: { s: 1 } }], ...data } as LogWalkForwardOptions);
    const bad = <T>(value: unknown) => value as T;

    test("values with no faithful text in params, tags, stats and trade rows name the value", async () => {
      for (const { label, make, suffix, message } of UNWRITABLE) {
        scenario = `${label}: `;
        await refused(backtest({ params: { fast: 1, v: make() } }), `params["v"]${suffix}`, message);
        await refused(backtest({ tags: { v: make() } }), `tags["v"]${suffix}`, message);
        // Stats flatten nested objects, so a cycle is named by the stat key path.
        const statField = suffix === ".self" ? 'stats["v.self"]' : `stats["v"]${suffix}`;
        await refused(backtest({ stats: { ok: 1, v: make() } }), statField, label === "a circular object" ? /refers back to stats\["v"\]/ : message);
        await refused(backtest({ trades: [{ pnl: 1 }, { pnl: 2, v: make() }] }), `trades[1].v${suffix}`, message);
        await refused(backtest({ trades: { pnl: [1, 2], v: [1, make()] } }), `trades.v[1]${suffix}`, message);
        // The same through every other entry that takes them.
        await refused(() => run.logParams({ v: make() }), `params["v"]${suffix}`, message);
        await refused(() => run.logTags({ v: make() }), `tags["v"]${suffix}`, message);
        await refused(() => run.logBacktest({ trades: [{ v: make() }], chart: false }), `trades[0].v${suffix}`, message);
        await refused(() => startRun({ ...runBase(), tags: { v: make() } }), `tags["v"]${suffix}`, message);
        await refused(grid({ results: [{ params: { a: 1 } }, { params: { a: 2, v: make() } }] }), `results[1].params["v"]${suffix}`, message);
        await refused(grid({ results: [{ params: { a: 1 }, stats: { v: make() } }] }), `results[0].${statField}`);
        await refused(walkForward({ folds: [{ params: { v: make() }, testStats: { s: 1 } }] }), `folds[0].params["v"]${suffix}`, message);
        await refused(walkForward({ params: { v: make() } }), `params["v"]${suffix}`, message);
      }
      scenario = "";
    });

    test("circular and 10,000-level objects as a whole option are refused, not a stack overflow", async () => {
      await refused(backtest({ stats: circular() }), 'stats["self"]', /refers back to stats itself/);
      await refused(backtest({ stats: deepObject() }), 'stats["x"]', /deeper than 100 levels/);
      await refused(backtest({ params: circular() }), 'params["self"].self', /circular/);
      await refused(backtest({ tags: deepObject() }), 'tags["x"]', /deeper/);
      await refused(walkForward({ folds: [{ trainStats: circular() }] }), 'folds[0].stats["train.self"]', /circular/);
      // A shared (not circular) object is fine.
      const shared = { n: 1 };
      const runId = await logBacktest({ ...base(), experiment: uniqueName("shared"), params: { a: shared, b: [shared, shared] } });
      assert.equal((await backend.getRun(runId)).params.b, '[{"n":1},{"n":1}]');
    });

    test("Symbol keys, which Object.entries would drop without a word, are refused", async () => {
      const keyed = { [Symbol("k")]: 1, ok: 2 };
      await refused(backtest({ params: keyed }), "params[Symbol(k)]", /Symbol key/);
      await refused(backtest({ tags: keyed }), "tags[Symbol(k)]", /Symbol key/);
      await refused(backtest({ stats: keyed }), "stats[Symbol(k)]", /Symbol key/);
      await refused(backtest({ stats: { nested: keyed } }), 'stats["nested"][Symbol(k)]', /Symbol key/);
      await refused(backtest({ trades: bad([{ pnl: 1 }, keyed]) }), "trades[1][Symbol(k)]", /Symbol key/);
      await refused(() => run.logMetrics(bad({ [Symbol("k")]: 1 })), "metrics[Symbol(k)]", /Symbol key/);
    });

    test("BigInts where a number is meant are refused; where text is meant they keep every digit", async () => {
      await refused(() => run.logMetrics(bad({ pnl: 10n })), 'metrics["pnl"]', /BigInt.*Number\(\)/);
      await refused(() => run.logMetrics({ pnl: 1 }, { step: bad(1n) }), "step", /whole number/);
      await refused(backtest({ equityCurve: [{ timestamp_ns: T0, equity: bad(10n) }] }), "equityCurve[0].equity", /BigInt/);
      await refused(backtest({ equityCurve: { timestampNs: [T0], equity: bad([10n]) } }), "equityCurve.equity[0]", /BigInt/);
      await refused(backtest({ runName: bad(5n) }), "runName", /string/);
      await refused(backtest({ equityMetric: bad(500n) }), "equityMetric", /whole number/);
      const runId = await logBacktest({
        ...base(), experiment: uniqueName("bigint"),
        params: { seed: 12345678901234567890n, seeds: [1n] }, stats: { big: 2n ** 64n, small: 3n },
      });
      const logged = await backend.getRun(runId);
      assert.equal(logged.params.seed, "12345678901234567890");
      assert.equal(logged.params.seeds, '["1"]');
      assert.equal(logged.tags.big, "18446744073709551616");
      assert.equal(logged.metrics.small, 3);
    });

    test("invalid Dates and times outside 64-bit nanoseconds are refused wherever a time is read", async () => {
      const invalid = new Date(NaN);
      await refused(backtest({ equityCurve: [...rows(1), { timestamp: invalid, equity: 1 }] }), "equityCurve[1].timestamp", /invalid Date/);
      await refused(backtest({ equityCurve: [...rows(1), { timestamp: 8.64e15, equity: 1 }] }), "equityCurve[1].timestamp", /1677-09-21 to 2262-04-11/);
      await refused(backtest({ equityCurve: [...rows(1), { timestamp_ns: 2n ** 63n, equity: 1 }] }), "equityCurve[1].timestamp_ns", /64-bit/);
      await refused(backtest({ equityCurve: { timestampNs: [T0, 2n ** 64n], equity: [1, 2] } }), "equityCurve.timestampNs[1]", /64-bit/);
      await refused(backtest({ equityCurve: { timestampNs: [T0, "9999-12-31"], equity: [1, 2] } as never }), "equityCurve.timestampNs[1]", /64-bit/);
      await refused(backtest({ stats: { start_time_ns: 2n ** 64n } }), 'stats["start_time_ns"]', /64-bit/);
      await refused(backtest({ stats: { day: invalid } }), 'stats["day"]', /invalid Date/);
      await refused(() => run.logMetrics({ pnl: 1 }, { timestamp: invalid }), "timestamp", /invalid Date/);
      await refused(() => run.logMetrics({ pnl: 1 }, { timestamp: 1e300 }), "timestamp", /64-bit/);
      await refused(walkForward({ folds: [{ trainStartNs: invalid, trainStats: { s: 1 } }] }), "folds[0].trainStartNs", /invalid Date/);
      await refused(walkForward({ folds: [{ test_end_ns: 2n ** 70n, test_stats: { s: 1 } }] }), "folds[0].test_end_ns", /64-bit/);
      await refused(backtest({ trades: [{ entryTime: invalid }] }), "trades[0].entryTime", /invalid Date/);
    });

    test("null where an object belongs names the option", async () => {
      await refused(backtest({ stats: bad(null) }), "stats", /got null/);
      await refused(backtest({ params: bad(null) }), "params", /got null/);
      await refused(backtest({ tags: bad(null) }), "tags", /got null/);
      await refused(backtest({ equityCurve: bad(null) }), "equityCurve", /got null/);
      await refused(backtest({ trades: bad(null) }), "trades", /got null/);
      await refused(backtest({ trades: bad([{ pnl: 1 }, null]) }), "trades[1]", /got null/);
      await refused(backtest({ equityCurve: [...rows(2), bad(null)] }), "equityCurve[2]", /got null/);
      await refused(backtest({ equityCurve: { timestampNs: bad(null), equity: [1] } }), "equityCurve.timestampNs", /got null/);
      await refused(backtest({ trades: { pnl: bad(null) } }), "trades.pnl", /got null/);
      await refused(backtest({ chart: bad(null) }), "chart", /got null/);
      await refused(backtest({ symbolNames: bad(null) }), "symbolNames", /got null/);
      await refused(backtest({ htmlReport: bad(null) }), "htmlReport", /got null/);
      await refused(grid({ results: [{ params: { a: 1 } }, bad(null)] }), "results[1]");
      await refused(walkForward({ folds: [bad(null)] }), "folds[0]");
      await refused(walkForward({ folds: [{ params: bad(null), trainStats: { s: 1 } }] }), "folds[0].params", /got null/);
      await refused(() => run.logParams(bad(null)), "params", /got null/);
      await refused(() => run.logTags(bad(null)), "tags", /got null/);
      await refused(() => run.logMetrics(bad(null)), "metrics", /got null/);
      await refused(() => run.logMetrics({ a: 1 }, bad(null)), "options", /got null/);
      await refused(() => run.logArtifact(bad(null)), "logArtifact", /got null/);
      await refused(() => run.logBacktest({ stats: bad(null) }), "stats", /got null/);
      await refused(() => renderEquityChart(bad(null)), "equityCurve", /got null/);
      await refused(() => renderEquityChart([bad(null)]), "equityCurve[0]", /got null/);
      await refused(() => renderEquityChart(rows(), bad(null)), "options", /got null/);
      await refused(() => equityChartSpec(bad(null)), "options", /got null/);
      await refused(() => initChart(bad(null)), "options", /got null/);
      await refused(() => startRun({ ...runBase(), tags: bad(null) }), "tags", /got null/);
    });

    test("numbers where a string belongs are refused on every entry, not turned into text", async () => {
      const fields = ["runName", "experiment", "experimentId", "parentRunId", "description", "trackingUri"] as const;
      for (const field of fields) {
        const options = { [field]: 5 };
        await refused(backtest(options), field, /5/);
        await refused(() => startRun({ ...runBase(), ...options } as never), field);
        await refused(() => logToMlflow({ ...runBase(), ...options } as never, () => 1), field);
        await refused(grid(options), field);
        await refused(walkForward(options), field);
      }
      await refused(() => run.startChild(bad({ runName: 7 })), "runName");
      await refused(() => setTrackingUri(bad(5)), "trackingUri", /must be a string/);
      await refused(backtest({ env: { MLFLOW_TRACKING_URI: bad(5) }, trackingUri: undefined }), "MLFLOW_TRACKING_URI", /must be a string/);
      await refused(backtest({ env: { MLFLOW_EXPERIMENT_ID: bad(5) }, experiment: undefined }), "MLFLOW_EXPERIMENT_ID", /must be a string/);
    });

    test("ids that are not MLflow ids are refused before the store sees them", async () => {
      await refused(backtest({ experimentId: "../0" }), "experimentId", /not an experiment id/);
      await refused(backtest({ parentRunId: "not a run" }), "parentRunId", /not a run id/);
      await refused(backtest({ nested: bad("yes") }), "nested", /true or false/);
    });

    test("null and non-numbers in equity rows and columns, and drawdowns on only some rows, are refused", async () => {
      await refused(backtest({ equityCurve: [...rows(1), { timestamp_ns: T0 + MINUTE, equity: bad("10000") }] }), "equityCurve[1].equity", /string "10000".*Number\(x\)/);
      await refused(backtest({ equityCurve: { timestampNs: [T0, T0 + MINUTE], equity: bad([1, "10000"]) } }), "equityCurve.equity[1]", /string "10000"/);
      await refused(backtest({ equityCurve: { timestampNs: [T0], equity: [1], drawdownPct: bad(["0"]) } }), "equityCurve.drawdownPct[0]", /string/);
      await refused(backtest({ equityCurve: { timestampNs: [T0], equity: bad("1") } }), "equityCurve.equity", /array or typed array/);
      await refused(
        backtest({ equityCurve: [rows(1)[0]!, { timestamp_ns: T0 + MINUTE, equity: 99 }] }),
        "equityCurve[1].drawdown_pct",
        /is missing, but equityCurve\[0\] has one/,
      );
      await refused(
        backtest({ equityCurve: [{ timestamp_ns: T0, equity: 99 }, { timestamp_ns: T0 + MINUTE, equity: 98, drawdown_pct: 1 }] }),
        "equityCurve[1].drawdown_pct",
        /is given, but equityCurve\[0\] has none/,
      );
      await refused(backtest({ equityCurve: [{ timestamp_ns: T0, equity: 1, drawdown_pct: bad("0") }] }), "equityCurve[0].drawdown_pct", /string/);
    });

    test("malformed URIs are refused naming trackingUri, never as a raw URIError or a write into the working directory", async () => {
      await refused(backtest({ trackingUri: "http://u:%zz@host" }), "trackingUri", /malformed %-escape/);
      await refused(backtest({ trackingUri: "file:///a%zz" }), "trackingUri", /malformed %-escape/);
      for (const uri of ["file:", "file://", "file://localhost", "file:?x=1"]) {
        await refused(backtest({ trackingUri: uri }), "trackingUri", /names no folder/);
        await refused(() => setTrackingUri(uri), "trackingUri", /names no folder/);
      }
      await refused(backtest({ trackingUri: "http://exa mple.com" }), "trackingUri", /not a valid URL/);
      await refused(backtest({ trackingUri: "file://fileserver/share" }), "trackingUri", /fileserver/);
      await refused(() => setTrackingUri("http://u:%zz@host"), "trackingUri", /malformed/);
    });

    test("a signal that is not an AbortSignal and callbacks that are not functions are refused", async () => {
      await refused(backtest({ signal: bad({}) }), "signal", /AbortSignal/);
      await refused(() => startRun({ ...runBase(), signal: bad({ aborted: false }) }), "signal", /AbortSignal/);
      await refused(() => logToMlflow({ ...runBase(), signal: bad("stop") }, () => 1), "signal", /AbortSignal/);
      await refused(grid({ signal: bad({}) }), "signal", /AbortSignal/);
      await refused(walkForward({ signal: bad({}) }), "signal", /AbortSignal/);
      await refused(backtest({ onWarning: bad("console") }), "onWarning", /must be a function/);
      await refused(() => run.logBacktest({ onWarning: bad(1) }), "onWarning", /must be a function/);
      await refused(grid({ onWarning: bad({}) }), "onWarning", /must be a function/);
      await refused(grid({ onProgress: bad("x") }), "onProgress", /must be a function/);
      await refused(walkForward({ onProgress: bad(1) }), "onProgress", /must be a function/);
      await refused(grid({ failFast: bad("yes") }), "failFast", /true or false/);
      await refused(grid({ concurrency: bad(Symbol("8")) }), "concurrency", /a Symbol/);
      await refused(grid({ direction: bad(1n) }), "direction", /BigInt/);
    });

    test("options that used to be guessed silently are refused: statsNaming, equityMetric, chart, symbolNames, sweep tags", async () => {
      await refused(backtest({ stats: { aB: 1 }, statsNaming: bad("kebab-case") }), "statsNaming", /"snake_case", "camelCase" or "as-given"/);
      await refused(grid({ statsNaming: bad("CamelCase") }), "statsNaming");
      await refused(backtest({ equityCurve: rows(), equityMetric: bad("yes") }), "equityMetric", /true, false or a whole number/);
      await refused(backtest({ equityMetric: bad(8) }), "equityMetric", /16 or more/);
      await refused(walkForward({ equityMetric: bad(null) }), "equityMetric");
      await refused(backtest({ equityCurve: rows(), chart: bad("yes") }), "chart", /got a string/);
      await refused(backtest({ equityCurve: rows(), chart: { width: 10 } }), "chart.width", /300 to 8000/);
      await refused(backtest({ equityCurve: rows(), chart: bad({ colour: "red" }) }), "chart.colour", /not an option/);
      await refused(backtest({ equityCurve: rows(), chart: bad({ png: "no" }) }), "chart.png", /true or false/);
      await refused(grid({ chart: bad({ maxPoints: 3 }) }), "chart.maxPoints", /at least 16/);
      await refused(backtest({ trades: { symbol: Uint32Array.of(0) }, symbolNames: bad([Symbol("BTC")]) }), "symbolNames[0]", /string/);
      await refused(backtest({ stats: bad(new Map([["sharpe", 1]])) }), "stats", /got a Map; convert a Map with Object\.fromEntries/);
      await refused(backtest({ params: bad(new Map([["fast", 1]])) }), "params", /got a Map/);
      await refused(backtest({ params: bad([10, 30]) }), "params", /got an array/);
      await refused(grid({ tags: bad("abc") }), "tags", /got the string/);
      await refused(() => renderEquityChart(rows(), bad({ png: 1 })), "png", /true or false/);
      await refused(() => renderEquityChart(rows(), bad({ colour: "red" })), "options.colour", /not an option/);
    });

    test("artifacts of the wrong kind are refused before the upload", async () => {
      await refused(() => run.logArtifact(bad(5)), "logArtifact", /file path, a File/);
      await refused(() => run.logArtifact(bad({ name: "a.txt", data: 5 })), "logArtifact.data", /got the number 5/);
      await refused(() => run.logArtifact(new Uint8Array(1), bad(7)), "artifactPath", /string/);
      await refused(backtest({ htmlReport: bad({ name: "r.html", data: {} }) }), "htmlReport.data", /got an object/);
    });

    test("lengths are counted in code points, as MLflow counts them", async () => {
      const experiment_ = uniqueName("code-points");
      const options = { ...base(), experiment: experiment_ };
      // 3,001 emoji are 6,002 UTF-16 units but 3,001 characters: legal.
      const param = EMOJI.repeat(3001);
      const tag = EMOJI.repeat(4001);
      const description = EMOJI.repeat(8000);
      const runName = EMOJI.repeat(250);
      const runId = await logBacktest({ ...options, params: { p: param }, tags: { t: tag }, description, runName });
      const logged = await backend.getRun(runId);
      assert.equal(logged.params.p, param);
      assert.equal(logged.tags.t, tag);
      assert.equal(logged.tags["mlflow.note.content"], description);
      assert.equal(logged.runName, runName);
      // One character over is refused, with the count MLflow would give.
      await refused(backtest({ params: { p: EMOJI.repeat(6001) } }), 'params["p"]', /6001 characters/);
      await refused(backtest({ tags: { t: EMOJI.repeat(8001) } }), 'tags["t"]', /8001 characters/);
      await refused(backtest({ description: "x".repeat(8001) }), "description", /8001 characters.*mlflow\.note\.content/);
      await refused(backtest({ description: EMOJI.repeat(8001) }), "description", /8001 characters/);
      await refused(backtest({ runName: EMOJI.repeat(251) }), "runName", /251 characters/);
      await refused(backtest({ experiment: EMOJI.repeat(501) }), "experiment", /1 to 500 characters/);
    });

    test("an experiment name of 300 emoji (600 UTF-16 units) is legal", async () => {
      const experiment_ = `${EMOJI.repeat(300)}-${Date.now().toString(36)}`;
      const runId = await logBacktest({ ...base(), experiment: experiment_, stats: { x: 1 } });
      assert.equal((await backend.getRun(runId)).metrics.x, 1);
    });

    test("documented behaviour: arrays and objects in params, tags and stats are logged as their JSON", async () => {
      const runId = await logBacktest({
        ...base(), experiment: uniqueName("json"),
        params: { windows: [10, 30], cfg: { fee: 0.0004, on: new Date(0) }, none: null },
        tags: { symbols: ["BTC", "ETH"] },
        stats: { monthly: [1.5, -0.5], when: new Date(0) },
      });
      const logged = await backend.getRun(runId);
      assert.equal(logged.params.windows, "[10,30]");
      assert.equal(logged.params.cfg, '{"fee":0.0004,"on":"1970-01-01T00:00:00.000Z"}');
      assert.equal(logged.params.none, "null");
      assert.equal(logged.tags.symbols, '["BTC","ETH"]');
      assert.equal(logged.tags.monthly, "[1.5,-0.5]");
      assert.equal(logged.tags.when, "1970-01-01T00:00:00.000Z");
    });

    test("documented behaviour: a sweep cell's equity and trades are read when the cell is logged, so a bad one fails that cell only", async () => {
      const result = await logGrid({
        ...base(), experiment: uniqueName("cell-trades"),
        results: [{ params: { a: 1 }, trades: [{ x: circular() }] }, { params: { a: 2 }, trades: [{ x: 1 }] }],
      });
      assert.deepEqual(result.failed.map((f) => [f.index, (f.error as MlflowValidationError).field]), [[0, "results[0].trades[0].x.self"]]);
      assert.ok(result.failed[0]!.error instanceof MlflowValidationError);
      assert.equal((await backend.getRun(result.childRunIds[1]!)).status, "FINISHED");
    });

    // end() and logToMlflow's fn live outside the checks of planRun: src/run.ts needs the change described with these tests.
    test("end() with a status other than FINISHED, FAILED or KILLED is refused before any request, and the run stays open", async () => {
      const open_ = await startRun({ trackingUri: backend.trackingUri, env: {}, experiment: uniqueName("end") });
      for (const status of ["BAD", null, 5, "finished"]) await refused(() => open_.end(bad(status)), "status", /FINISHED/);
      assert.equal(open_.status, "RUNNING");
      await open_.end();
      assert.equal((await backend.getRun(open_.runId)).status, "FINISHED");
    });

    test("logToMlflow with a block that is not a function is refused before the run exists", async () => {
      // Its own experiment: until run.ts checks fn, the run is created there.
      await refused(() => logToMlflow({ ...runBase(), experiment: uniqueName("fn") }, bad("run => 1")), "fn", /must be a function/);
      await refused(() => run.logChild({}, bad(null)), "fn", /must be a function/);
    });

    test("nothing was created in the experiment the refused calls named", async () => {
      assert.deepEqual(await backend.runsOf(experiment).catch(() => []), []);
    });
  });
}
