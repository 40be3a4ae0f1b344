import { after, afterEach, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  activeRun,
  endRun,
  logBacktest,
  logToMlflow,
  MlflowError,
  MlflowValidationError,
  setExperiment,
  startRun,
} from "../mod.ts";
import { gitSourceTags, stripCredentials } from "../src/git_source.ts";
import { type Backend, BACKENDS, uniqueName } from "./support/backends.ts";

const FAST_RETRY = { initialDelayMs: 5, maxDelayMs: 20, timeoutMs: 5000, budgetMs: 10_000 };
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

for (const { name, open } of BACKENDS) {
  describe(`MLflow's everyday habits (${name} store)`, () => {
    let backend: Backend;
    before(async () => {
      backend = await open();
    });
    after(() => backend.close());
    // No test may leave a default experiment or an open run for the next.
    afterEach(async () => {
      await setExperiment(undefined);
      while (activeRun() !== undefined) await endRun();
    });
    const where = () => ({ trackingUri: backend.trackingUri, env: {}, retry: FAST_RETRY });

    test("setExperiment sends later runs to that experiment, created by name, and wins over MLFLOW_EXPERIMENT_NAME", async () => {
      const experiment = uniqueName("set-experiment");
      const id = await setExperiment(experiment, where());
      const runId = await logBacktest({ ...where(), env: { MLFLOW_EXPERIMENT_NAME: "from-env" }, runName: "after-set", stats: { sharpe: 1 }, chart: false });
      const runs = await backend.runsOf(experiment);
      assert.deepEqual(runs.map((r) => [r.runId, r.experimentId]), [[runId, id]]);
      // By id, the same experiment; a call that names an experiment still wins.
      await setExperiment({ experimentId: id! }, where());
      const run = await startRun({ ...where(), runName: "by-id" });
      await run.end();
      assert.equal((await backend.getRun(run.runId)).experimentId, id);
    });

    test("setExperiment refuses an unknown id and a bad name, and keeps the earlier default", async () => {
      const experiment = uniqueName("kept");
      await setExperiment(experiment, where());
      // SqlAlchemyStore._get_experiment raises RESOURCE_DOES_NOT_EXIST "No Experiment with id=..." (mlflow/store/tracking/sqlalchemy_store.py).
      await assert.rejects(setExperiment({ experimentId: "987654321" }, where()), (err: unknown) =>
        err instanceof MlflowError && err.errorCode === "RESOURCE_DOES_NOT_EXIST");
      await assert.rejects(setExperiment("", where()), (err: unknown) => err instanceof MlflowValidationError && err.field === "experiment");
      await assert.rejects(setExperiment(experiment, { ...where(), trackingUrl: "x" } as never), (err: unknown) =>
        err instanceof MlflowValidationError && /trackingUri/.test(err.message));
      const run = await startRun({ ...where(), runName: "still-default" });
      await run.end();
      assert.deepEqual((await backend.runsOf(experiment)).map((r) => r.runName), ["still-default"]);
    });

    test("startRun makes its run active and nested: true nests under it, child under parent under grandparent, as mlflow.start_run", async () => {
      const parent = await startRun({ ...where(), experiment: uniqueName("nested"), runName: "parent" });
      assert.equal(activeRun(), parent);
      const child = await startRun({ ...where(), nested: true, runName: "child" });
      const grandchild = await startRun({ ...where(), nested: true, runName: "grandchild" });
      assert.equal(activeRun(), grandchild);
      await endRun();
      assert.equal(activeRun(), child);
      await child.end();
      const sibling = await startRun({ nested: true, runName: "sibling" });
      await sibling.end();
      await endRun();
      assert.equal(activeRun(), undefined);
      assert.equal(parent.status, "FINISHED");
      const read = async (runId: string) => (await backend.getRun(runId)).tags["mlflow.parentRunId"];
      assert.equal(await read(child.runId), parent.runId);
      assert.equal(await read(grandchild.runId), child.runId);
      // A nested run without trackingUri logs where its parent logs.
      assert.equal(await read(sibling.runId), parent.runId);
      assert.equal(await read(parent.runId), undefined);
    });

    test("inside a logToMlflow callback its run is active; with no run active, nested: true says what to do", async () => {
      await assert.rejects(startRun({ ...where(), nested: true }), (err: unknown) =>
        err instanceof MlflowValidationError && err.field === "nested" && /no run is active.*parentRunId/.test(err.message));
      const seen = await logToMlflow({ ...where(), experiment: uniqueName("callback"), runName: "cb" }, (run) => activeRun() === run);
      assert.equal(seen, true);
      assert.equal(activeRun(), undefined);
    });

    test("concurrent logToMlflow callbacks each nest their own children, whatever the others opened meanwhile", async () => {
      const experiment = uniqueName("concurrent");
      const parents = await Promise.all(["a", "b", "c"].map((label) =>
        logToMlflow({ ...where(), experiment, runName: `parent-${label}` }, async (parent) => {
          const children = [];
          for (let i = 0; i < 3; i++) {
            // Yield so the other callbacks open runs between these.
            await new Promise((resolve) => setTimeout(resolve, 1));
            const child = await startRun({ nested: true, runName: `${label}-${i}` });
            children.push(child);
          }
          for (const child of children) await child.end();
          return parent.runId;
        })
      ));
      for (const [i, label] of ["a", "b", "c"].entries()) {
        const children = await backend.childrenOf(parents[i]!, (await backend.getRun(parents[i]!)).experimentId);
        assert.deepEqual(children.map((c) => c.runName).sort(), [`${label}-0`, `${label}-1`, `${label}-2`]);
      }
    });

    test("runId resumes a RUNNING run, refuses an ended one unless reopen is set, then ends it again", async () => {
      const first = await startRun({ ...where(), experiment: uniqueName("resume"), runName: "resumable" });
      await first.logMetric("sharpe", 1, { step: 0 });
      const again = await startRun({ ...where(), runId: first.runId, tags: { resumed: "yes" } });
      assert.equal(again.runName, "resumable");
      await again.logMetric("sharpe", 2, { step: 1 });
      await again.end();
      const finished = await backend.getRun(first.runId);
      assert.deepEqual([finished.status, finished.metrics.sharpe, finished.tags.resumed], ["FINISHED", 2, "yes"]);

      await assert.rejects(startRun({ ...where(), runId: first.runId }), (err: unknown) =>
        err instanceof MlflowValidationError && err.field === "runId" && /FINISHED.*reopen: true/.test(err.message));
      // Reopening is runs/update with status RUNNING and the old end time, as mlflow.start_run(run_id=...) does it
      // (mlflow/tracking/fluent.py, start_run: update_run_info(existing_run_id, run_status=RUNNING, end_time=...)).
      const reopened = await startRun({ ...where(), runId: first.runId, reopen: true });
      assert.equal((await backend.getRun(first.runId)).status, "RUNNING");
      await reopened.logParams({ late: 1 });
      await reopened.end("FAILED");
      const last = await backend.getRun(first.runId);
      assert.deepEqual([last.status, last.params.late], ["FAILED", "1"]);

      await assert.rejects(startRun({ ...where(), runId: first.runId, runName: "rename" }), (err: unknown) =>
        err instanceof MlflowValidationError && err.field === "runId");
      await assert.rejects(startRun({ ...where(), runId: "0123456789abcdef0123456789abcdef" }), (err: unknown) =>
        err instanceof MlflowValidationError && /does not exist/.test(err.message));
      await assert.rejects(startRun({ ...where(), runId: first.runId, reopen: true, experiment: uniqueName("other") }), (err: unknown) =>
        err instanceof MlflowValidationError && err.field === "experiment");
    });

    test("runId refuses a deleted run, even with reopen", async () => {
      const run = await startRun({ ...where(), experiment: uniqueName("deleted"), runName: "to-delete" });
      await run.end();
      if (backend.name === "rest") {
        // runs/delete as transcript 61 records it.
        const res = await fetch(`${backend.trackingUri}/api/2.0/mlflow/runs/delete`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ run_id: run.runId }),
        });
        assert.equal(res.status, 200, await res.text());
      } else {
        // MLflow's FileStore.delete_run rewrites meta.yaml with lifecycle_stage: deleted.
        const meta = join(new URL(backend.trackingUri).pathname, run.experimentId, run.runId, "meta.yaml");
        await writeFile(meta, (await readFile(meta, "utf8")).replace("lifecycle_stage: active", "lifecycle_stage: deleted"));
      }
      await assert.rejects(startRun({ ...where(), runId: run.runId, reopen: true }), (err: unknown) =>
        err instanceof MlflowValidationError && err.field === "runId" && /deleted/.test(err.message));
    });

    test("MLFLOW_RUN_ID resumes into that run once per process, as mlflow.start_run consumes it", async () => {
      const target = await startRun({ ...where(), experiment: uniqueName("env-run-id"), runName: "from-env" });
      const env = { MLFLOW_RUN_ID: target.runId };
      // Three runs started at once: only the first takes the variable, the others are new runs.
      const ids = await Promise.all([1.7, 0.2, 0.3].map((sharpe) => logBacktest({ ...where(), env, stats: { sharpe }, chart: false })));
      assert.equal(ids[0], target.runId);
      assert.equal(new Set(ids).size, 3);
      // The variable is used up, so a later run is a new one too.
      const next = await logBacktest({ ...where(), env, stats: { sharpe: 0.4 }, chart: false });
      assert.ok(!ids.includes(next));
      const read = await backend.getRun(target.runId);
      assert.deepEqual([read.status, read.metrics.sharpe], ["FINISHED", 1.7]);
    });

    test("logDict writes YAML for .yaml as PyYAML does, logArtifacts uploads a folder tree, logImage refuses non-PNG bytes", async () => {
      const folder = await mkdtemp(join(tmpdir(), "flox-habits-"));
      try {
        await mkdir(join(folder, "daily", "2024"), { recursive: true });
        await writeFile(join(folder, "summary.html"), "<p>ok</p>");
        await writeFile(join(folder, "daily", "2024", "01.csv"), "day,pnl\n1,5\n");
        const run = await startRun({ ...where(), experiment: uniqueName("files"), runName: "files" });
        await run.logDict({ symbols: ["BTC", "ETH"], fast: 10, nested: { on: true, fee: 0.0004 }, name: "yes" }, "config.yaml");
        await run.logArtifacts(folder, "reports");
        await assert.rejects(run.logImage(new TextEncoder().encode("GIF89a"), "x.png"), (err: unknown) =>
          err instanceof MlflowValidationError && err.field === "png");
        await assert.rejects(run.logArtifacts(join(folder, "missing")), (err: unknown) =>
          err instanceof MlflowValidationError && err.field === "folder");
        await assert.rejects(run.logDict({ a: 1n << 70n, b: () => 1 }, "x.json"), (err: unknown) =>
          err instanceof MlflowValidationError && /dictionary/.test(err.field));
        await run.end();
        const logged = await backend.getRun(run.runId);
        assert.deepEqual(logged.artifacts, ["config.yaml", "reports/daily/2024/01.csv", "reports/summary.html"]);
        assert.equal(
          text(await backend.artifact(run.runId, "config.yaml")),
          'fast: 10\nname: "yes"\nnested:\n  fee: 0.0004\n  "on": true\nsymbols:\n- BTC\n- ETH\n',
        );
        assert.equal(text(await backend.artifact(run.runId, "reports/daily/2024/01.csv")), "day,pnl\n1,5\n");
      } finally {
        await rm(folder, { recursive: true, force: true });
      }
    });

    test("a run started in this checkout carries the commit git itself reports", async () => {
      const run = await startRun({ ...where(), experiment: uniqueName("git"), runName: "git" });
      await run.end();
      const tags = (await backend.getRun(run.runId)).tags;
      let commit: string | undefined;
      try {
        commit = execFileSync("git", ["rev-parse", "HEAD"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
      } catch {
        commit = undefined;
      }
      // Outside a checkout (a release tarball) there is no tag; inside one, git's own answer.
      assert.equal(tags["mlflow.source.git.commit"], commit);
    });
  });
}

describe("git source tags read from .git files", () => {
  const SHA_A = "a".repeat(40);
  const SHA_B = "b".repeat(40);
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "flox-git-"));
  });
  after(() => rm(root, { recursive: true, force: true }));

  test("a branch from packed-refs, from a subfolder, with the token stripped from the remote URL", async () => {
    const repo = join(root, "packed");
    await mkdir(join(repo, ".git", "refs", "heads"), { recursive: true });
    await mkdir(join(repo, "strategies", "sma"), { recursive: true });
    await writeFile(join(repo, ".git", "HEAD"), "ref: refs/heads/feature/grid\n");
    await writeFile(join(repo, ".git", "packed-refs"), `# pack-refs with: peeled fully-peeled sorted\n${SHA_A} refs/heads/feature/grid\n${SHA_B} refs/heads/main\n`);
    await writeFile(
      join(repo, ".git", "config"),
      '[core]\n\tbare = false\n[remote "upstream"]\n\turl = https://other.example/x.git\n[remote "origin"]\n\turl = https://me:ghp_SECRET@github.com/flox/strategies.git\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n',
    );
    const tags = await gitSourceTags(join(repo, "strategies", "sma"));
    assert.deepEqual(tags, [
      { key: "mlflow.source.git.commit", value: SHA_A },
      { key: "mlflow.source.git.branch", value: "feature/grid" },
      { key: "mlflow.source.git.repoURL", value: "https://github.com/flox/strategies.git" },
    ]);
    assert.ok(!JSON.stringify(tags).includes("SECRET"));
  });

  test("a worktree's .git file and commondir, a loose ref winning over packed-refs, and a detached HEAD without a branch", async () => {
    const main = join(root, "main");
    const worktree = join(root, "wt");
    await mkdir(join(main, ".git", "worktrees", "wt"), { recursive: true });
    await mkdir(join(main, ".git", "refs", "heads"), { recursive: true });
    await mkdir(worktree, { recursive: true });
    await writeFile(join(worktree, ".git"), `gitdir: ${join(main, ".git", "worktrees", "wt")}\n`);
    await writeFile(join(main, ".git", "worktrees", "wt", "HEAD"), "ref: refs/heads/habits\n");
    await writeFile(join(main, ".git", "worktrees", "wt", "commondir"), "../..\n");
    await writeFile(join(main, ".git", "refs", "heads", "habits"), `${SHA_B}\n`);
    await writeFile(join(main, ".git", "packed-refs"), `${SHA_A} refs/heads/habits\n`);
    await writeFile(join(main, ".git", "config"), '[remote "origin"]\n\turl = git@github.com:flox/strategies.git\n');
    assert.deepEqual(await gitSourceTags(worktree), [
      { key: "mlflow.source.git.commit", value: SHA_B },
      { key: "mlflow.source.git.branch", value: "habits" },
      { key: "mlflow.source.git.repoURL", value: "git@github.com:flox/strategies.git" },
    ]);
    await writeFile(join(main, ".git", "worktrees", "wt", "HEAD"), `${SHA_A}\n`);
    assert.deepEqual(await gitSourceTags(worktree), [
      { key: "mlflow.source.git.commit", value: SHA_A },
      { key: "mlflow.source.git.repoURL", value: "git@github.com:flox/strategies.git" },
    ]);
    assert.equal(stripCredentials("ssh://deploy:pw@host:22/repo.git?x=1"), "ssh://host:22/repo.git");
  });

  test("a folder outside any checkout gets no git tags", async () => {
    const plain = join(root, "plain");
    await mkdir(plain, { recursive: true });
    // The temp folder sits outside any checkout unless the system put one above it.
    const above = await readFile(join(tmpdir(), ".git", "HEAD"), "utf8").catch(() => undefined);
    if (above === undefined) assert.deepEqual(await gitSourceTags(plain), []);
    else assert.ok((await gitSourceTags(plain)).length > 0);
  });
});
