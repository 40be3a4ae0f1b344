import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  bestChild,
  downloadArtifact,
  getMetricHistory,
  getRun,
  listArtifacts,
  logBacktest,
  logGrid,
  MlflowError,
  MlflowValidationError,
  searchRuns,
  startRun,
} from "../mod.ts";
import { type Backend, BACKENDS, uniqueName } from "./support/backends.ts";

const FAST_RETRY = { initialDelayMs: 5, maxDelayMs: 20, timeoutMs: 5000, budgetMs: 10_000 };
// A 1x1 PNG, as any encoder writes it.
const PNG = Uint8Array.from(
  atob("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="),
  (c) => c.charCodeAt(0),
);

for (const { name, open } of BACKENDS) {
  describe(`reading runs back (${name} store)`, () => {
    let backend: Backend;
    before(async () => {
      backend = await open();
    });
    after(() => backend.close());
    const where = () => ({ trackingUri: backend.trackingUri, env: {}, retry: FAST_RETRY });

    // Five runs of one experiment, fast = 5..25, sharpe = fast / 10 except a NaN at 15.
    const logFive = async (experiment: string): Promise<Map<string, string>> => {
      const ids = new Map<string, string>();
      for (const fast of [5, 10, 15, 20, 25]) {
        const runId = await logBacktest({
          ...where(),
          experiment,
          runName: `fast-${fast}`,
          params: { fast, symbol: fast % 10 === 0 ? "ETHUSDT" : "BTCUSDT" },
          stats: { sharpe: fast === 15 ? NaN : fast / 10 },
          tags: { family: "sma" },
          chart: false,
        });
        ids.set(`fast-${fast}`, runId);
      }
      return ids;
    };

    test("searchRuns filters on metrics, params and tags, orders by a metric with NaN last, and pages with tokens", async () => {
      const experiment = uniqueName("search");
      await logFive(experiment);
      const names = (runs: { runName: string }[]) => runs.map((r) => r.runName);

      const filtered = await searchRuns({ ...where(), experiment, filter: "metrics.sharpe >= 1 and params.symbol = 'ETHUSDT' and tags.family = 'sma'" });
      assert.deepEqual(names(filtered.runs).sort(), ["fast-10", "fast-20"]);

      // Paging two at a time walks every run once, best first and the NaN run last, as MLflow orders them.
      const seen: string[] = [];
      let pageToken: string | undefined;
      let pages = 0;
      do {
        const page = await searchRuns({ ...where(), experiment, orderBy: ["metrics.sharpe DESC"], maxResults: 2, ...(pageToken ? { pageToken } : {}) });
        seen.push(...names(page.runs));
        pageToken = page.nextPageToken;
        pages++;
      } while (pageToken !== undefined);
      assert.deepEqual(seen, ["fast-25", "fast-20", "fast-10", "fast-5", "fast-15"]);
      assert.equal(pages, 3);
      // What the user reads matches the store as an independent reader sees it.
      const independent = await backend.runsOf(experiment);
      assert.deepEqual(seen.slice().sort(), independent.map((r) => r.runName).sort());
    });

    test("searchRuns matches attributes, LIKE and run id lists, and an unknown experiment name has no runs", async () => {
      const experiment = uniqueName("attributes");
      const ids = await logFive(experiment);
      const like = await searchRuns({ ...where(), experiment, filter: "attributes.run_name LIKE 'fast-2%' and attributes.status = 'FINISHED'" });
      assert.deepEqual(like.runs.map((r) => r.runName).sort(), ["fast-20", "fast-25"]);
      const byId = await searchRuns({ ...where(), experiment, filter: `attributes.run_id IN ('${ids.get("fast-5")}', '${ids.get("fast-15")}')` });
      assert.deepEqual(byId.runs.map((r) => r.runName).sort(), ["fast-15", "fast-5"]);
      const none = await searchRuns({ ...where(), experiment: uniqueName("never-created") });
      assert.deepEqual(none.runs, []);
    });

    test("the file store's filter evaluator and the server agree on MLflow's comparisons", async () => {
      const experiment = uniqueName("comparisons");
      const ids = await logFive(experiment);
      const cases: [string, string[]][] = [
        ["metrics.sharpe != 1", ["fast-20", "fast-25", "fast-5"]],
        ["metrics.sharpe <= 1 and metrics.sharpe > 0.5", ["fast-10"]],
        ["params.symbol != 'BTCUSDT'", ["fast-10", "fast-20"]],
        ["attributes.run_name ILIKE 'FAST-1%'", ["fast-10", "fast-15"]],
        ["run_name LIKE '%5'", ["fast-15", "fast-25", "fast-5"]],
        ["tags.`family` = 'sma' and params.fast = '25'", ["fast-25"]],
        ["tags.missing IS NULL and params.fast = '5'", ["fast-5"]],
        ["params.fast IS NOT NULL and params.symbol = 'ETHUSDT'", ["fast-10", "fast-20"]],
        [`attributes.run_id NOT IN ('${ids.get("fast-5")}', '${ids.get("fast-10")}', '${ids.get("fast-15")}')`, ["fast-20", "fast-25"]],
        ["attributes.start_time > 0 and params.fast = '20'", ["fast-20"]],
        ["metrics.never_logged > 0", []],
      ];
      for (const [filter, expected] of cases) {
        const { runs } = await searchRuns({ ...where(), experiment, filter });
        assert.deepEqual(runs.map((r) => r.runName).sort(), expected, filter);
      }
      const ascending = await searchRuns({ ...where(), experiment, orderBy: ["params.fast ASC"] });
      // Params are text: '10' < '15' < '20' < '25' < '5'.
      assert.deepEqual(ascending.runs.map((r) => r.runName), ["fast-10", "fast-15", "fast-20", "fast-25", "fast-5"]);
    });

    test("a filter MLflow would refuse is a named error before any request", async () => {
      const before = backend.server?.requests.length ?? 0;
      for (const [filter, pattern] of [
        ["metrics.sharpe > 1 or params.fast = '5'", /OR is not supported/],
        ["metrics.sharpe > 'high'", /is a number/],
        ["params.fast > 5", /is text/],
        ["bogus.x = 'y'", /not an entity type/],
      ] as const) {
        await assert.rejects(searchRuns({ ...where(), filter }), (err: unknown) => {
          assert.ok(err instanceof MlflowValidationError);
          assert.equal(err.field, "filter");
          assert.match(err.message, pattern);
          return true;
        });
      }
      await assert.rejects(searchRuns({ ...where(), orderBy: ["metrics.sharpe DOWN"] }), (err: unknown) => err instanceof MlflowValidationError && err.field === "orderBy[0]");
      await assert.rejects(searchRuns({ ...where(), maxResults: 0 }), (err: unknown) => err instanceof MlflowValidationError && err.field === "maxResults");
      await assert.rejects(searchRuns({ ...where(), filters: "x" } as never), (err: unknown) => err instanceof MlflowValidationError && /filter/.test(err.message));
      assert.equal(backend.server?.requests.length ?? 0, before);
    });

    test("getRun and getMetricHistory read back what logMetric wrote, step by step", async () => {
      const run = await startRun({ ...where(), experiment: uniqueName("history"), runName: "curve" });
      const curve = [10_000, 10_050, NaN, 9_990, 10_020];
      for (const [step, equity] of curve.entries()) await run.logMetric("equity", equity, { step, timestamp: 1_700_000_000_000 + step });
      await run.logParam("fast", 10);
      await run.setTag("symbol", "BTCUSDT");
      await run.end();

      const read = await getRun(run.runId, where());
      assert.equal(read.status, "FINISHED");
      assert.equal(read.metrics.equity, 10_020);
      assert.equal(read.params.fast, "10");
      assert.equal(read.tags.symbol, "BTCUSDT");
      const history = await getMetricHistory(run.runId, "equity", where());
      assert.deepEqual(history.map((p) => [p.step, p.value]), curve.map((v, i) => [i, v]));
      assert.deepEqual(history.map((p) => p.timestamp), curve.map((_, i) => 1_700_000_000_000 + i));
      const independent = await backend.metricHistory(run.runId, "equity");
      assert.deepEqual(independent.map((p) => p.value).sort(), curve.slice().sort());
      assert.deepEqual(await getMetricHistory(run.runId, "never_logged", where()), []);
    });

    test("getRun of an unknown run is RESOURCE_DOES_NOT_EXIST, and a malformed id is refused before any request", async () => {
      await assert.rejects(getRun("0123456789abcdef0123456789abcdef", where()), (err: unknown) =>
        err instanceof MlflowError && err.errorCode === "RESOURCE_DOES_NOT_EXIST");
      const before = backend.server?.requests.length ?? 0;
      await assert.rejects(getRun("../etc", where()), (err: unknown) => err instanceof MlflowValidationError && err.field === "runId");
      assert.equal(backend.server?.requests.length ?? 0, before);
    });

    test("listArtifacts and downloadArtifact give back the bytes logText, logDict and logImage wrote", async () => {
      const run = await startRun({ ...where(), experiment: uniqueName("artifacts"), runName: "files" });
      await run.logText("entry on the cross\n", "notes/why.txt");
      await run.logDict({ slow: 30, fast: 10 }, "config/params.json");
      await run.logImage(PNG, "plots/dot.png");
      await run.end();

      const root = await listArtifacts(run.runId, undefined, where());
      assert.deepEqual(root, [{ path: "config", isDir: true }, { path: "notes", isDir: true }, { path: "plots", isDir: true }]);
      assert.deepEqual(await listArtifacts(run.runId, "plots", where()), [{ path: "plots/dot.png", isDir: false, size: PNG.length }]);
      assert.deepEqual(await downloadArtifact(run.runId, "plots/dot.png", where()), PNG);
      assert.deepEqual(await backend.artifact(run.runId, "plots/dot.png"), PNG);
      const json = new TextDecoder().decode(await downloadArtifact(run.runId, "config/params.json", where()));
      assert.equal(json, '{\n  "slow": 30,\n  "fast": 10\n}');
      assert.equal(new TextDecoder().decode(await backend.artifact(run.runId, "notes/why.txt")), "entry on the cross\n");
      await assert.rejects(downloadArtifact(run.runId, "notes/none.txt", where()), (err: unknown) => err instanceof MlflowError);
      await assert.rejects(downloadArtifact(run.runId, "../meta.yaml", where()), (err: unknown) => err instanceof MlflowValidationError && err.field === "path");
    });

    test("bestChild gives the params of a grid's best finished cell by max or min, skipping NaN cells", async () => {
      const grid = await logGrid({
        ...where(),
        experiment: uniqueName("best"),
        runName: "grid",
        axes: ["fast", "slow"],
        chart: false,
        results: [
          { params: [5, 20], stats: { sharpe: 0.4, drawdown: 3 } },
          { params: [10, 20], stats: { sharpe: NaN, drawdown: 1 } },
          { params: [10, 30], stats: { sharpe: 1.3, drawdown: 5 } },
          { params: [5, 30], stats: { sharpe: 0.9, drawdown: 2 } },
        ],
      });
      const best = await bestChild({ ...where(), parentRunId: grid.parentRunId, metric: "sharpe" });
      assert.deepEqual([best?.params.fast, best?.params.slow, best?.value], ["10", "30", 1.3]);
      const calmest = await bestChild({ ...where(), parentRunId: grid.parentRunId, metric: "drawdown", direction: "min" });
      assert.deepEqual([calmest?.params.fast, calmest?.params.slow], ["10", "20"]);
      // The same answer an independent reader of the children gives (a NaN stat is logged as a tag, not a metric).
      const children = await backend.childrenOf(grid.parentRunId, best!.run.experimentId);
      assert.equal(children.length, 4);
      const top = children.filter((c) => typeof c.metrics.sharpe === "number" && !Number.isNaN(c.metrics.sharpe)).sort((a, b) => b.metrics.sharpe! - a.metrics.sharpe!)[0]!;
      assert.equal(top.runId, best!.run.runId);
      assert.equal(await bestChild({ ...where(), parentRunId: grid.parentRunId, metric: "never_logged" }), undefined);
      await assert.rejects(bestChild({ ...where(), parentRunId: grid.parentRunId, metric: "sharpe", direction: "up" as never }), (err: unknown) =>
        err instanceof MlflowValidationError && err.field === "direction");
    });
  });
}
