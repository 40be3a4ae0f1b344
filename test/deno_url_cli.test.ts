/**
 * The command line by URL, as a Deno user without npm runs it: `npm run
 * build`'s `dist/` (built here into a temporary folder) is served over HTTP
 * on 127.0.0.1, and `deno run <server>/dist/cli.js log …` runs in an empty
 * folder with a fresh `DENO_DIR`, `--no-prompt` and only the permissions the
 * README names: import from the module's host, the network to the MLflow
 * server, reading the input files. The run is read back over REST. Deno's
 * permission audit log shows nothing else was asked for. `cli.js` itself
 * stays small: the library, Vega and resvg come from the `mod.js` beside it.
 *
 * The test drives the `deno` binary in a child process, so it runs the same
 * under Node, Deno and Bun.
 */
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { type DenoRan, runDeno, type ServedBuild, serveBuild } from "./support/deno_url.ts";
import { restReader, startTarget, type Target, valuesOf } from "./support/target.ts";

const FIXTURES = fileURLToPath(new URL("./fixtures/cli", import.meta.url));
const fixture = (path: string): string => join(FIXTURES, path);
const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
/** What the build may weigh: its own code only (the test's limit sits below the build's own 150 KB guard). */
const CLI_MAX_BYTES = 100 * 1024;

describe("Deno runs the built dist/cli.js by URL", () => {
  let target: Target;
  let distDir: string;
  let cacheDir: string;
  let workDir: string;
  let files: Record<string, number>;
  let server: ServedBuild;
  let cliUrl: string;
  let flags: string[];

  before(async () => {
    target = await startTarget();
    distDir = await mkdtemp(join(tmpdir(), "flox-cli-dist-"));
    cacheDir = await mkdtemp(join(tmpdir(), "flox-cli-cache-"));
    workDir = await mkdtemp(join(tmpdir(), "flox-cli-user-"));
    const { build } = await import("../scripts/build.ts");
    files = (await build({ outDir: distDir, parts: ["deno"] })).files;
    server = await serveBuild(distDir, Object.keys(files), "/dist");
    cliUrl = `${server.url}/dist/cli.js`;
    const moduleHost = new URL(server.url).host;
    const mlflowHost = new URL(target.trackingUri).host;
    // The README's least privilege: fetch the two modules, talk to MLflow, read the inputs. No env, no write.
    flags = ["run", "--no-prompt", `--allow-import=${moduleHost}`, `--allow-net=${mlflowHost}`, `--allow-read=${FIXTURES}`];
  });

  after(async () => {
    await server?.close();
    await target?.close();
    for (const dir of [distDir, cacheDir, workDir]) if (dir) await rm(dir, { recursive: true, force: true });
  });

  function cli(args: string[]): Promise<DenoRan> {
    return runDeno([...flags, cliUrl, ...args], { cwd: workDir, denoDir: cacheDir });
  }

  /** Permission checks other than those granted: any would have prompted, or failed under --no-prompt. */
  function ungranted(ran: DenoRan): string[] {
    const mlflow = new URL(target.trackingUri).host;
    // Deno logs a fetch's check with its whole URL.
    const granted = [`import ${new URL(server.url).host}`, `net ${mlflow}`, `net http://${mlflow}/`, `read ${FIXTURES}`];
    // Git source tags look for `.git` from the working folder up; each folder is first a permission query, which never prompts.
    const gitLookup = (line: string): boolean => line === `read ${workDir}`;
    return ran.audit.filter((line) => !granted.some((grant) => line.startsWith(grant)) && !gitLookup(line));
  }

  test("dist/cli.js holds only the command line and imports the library from ./mod.js beside it", async () => {
    const cli = await readFile(join(distDir, "cli.js"), "utf8");
    assert.ok(files["cli.js"]! < CLI_MAX_BYTES, `cli.js is ${files["cli.js"]} bytes`);
    assert.ok(files["cli.js"]! * 50 < files["mod.js"]!, `cli.js ${files["cli.js"]} bytes, mod.js ${files["mod.js"]}`);
    assert.match(cli, /\bfrom\s*"\.\/mod\.js"/);
    assert.deepEqual([...cli.matchAll(/\bfrom\s*"([^"]+)"/g)].map((m) => m[1]).filter((from) => from !== "./mod.js" && !from!.startsWith("node:")), []);
    assert.doesNotMatch(cli, /vega|resvg|WebAssembly/i);
  });

  test("log by URL with --allow-import, --allow-net and --allow-read only: exit 0, the run id printed, the run on the server with its files", async () => {
    const experiment = `cli-url-${Date.now()}`;
    const ran = await cli([
      "log", "--stats", fixture("python/stats.json"), "--equity", fixture("python/equity.csv"), "--trades", fixture("python/trades.csv"),
      "--param", "fast=10", "--tag", "source=deno-url", "--experiment", experiment, "--run-name", "by-url", "--tracking-uri", target.trackingUri,
    ]);
    assert.equal(ran.code, 0, ran.stderr);
    assert.match(ran.stdout, /^[0-9a-f]{32}\n$/);
    assert.deepEqual(ungranted(ran), []);
    assert.ok(ran.audit.some((line) => line.startsWith(`read ${FIXTURES}/python/`)), ran.audit.join("\n"));
    // cli.js fetched mod.js from beside it; nothing was written to the user's folder.
    assert.deepEqual(server.served.slice(0, 2), ["cli.js", "mod.js"]);
    assert.deepEqual(await readdir(workDir), []);

    const reader = restReader(target.trackingUri);
    const { run } = await reader.getRun(ran.stdout.trim());
    assert.equal(run.info.status, "FINISHED");
    assert.equal(run.info.run_name, "by-url");
    assert.equal(run.info.experiment_id, (await reader.getExperimentByName(experiment)).experiment.experiment_id);
    const metrics = valuesOf(run.data.metrics);
    const tags = valuesOf(run.data.tags);
    assert.equal(metrics.final_capital, 10250.5);
    assert.equal(metrics.total_trades, 3);
    assert.equal(tags.sharpe_ratio, "NaN");
    assert.equal(tags.start_time_ns, "1704067200000000001");
    assert.equal(tags.source, "deno-url");
    assert.equal(tags["flox.chart_error"], undefined);
    assert.deepEqual(valuesOf(run.data.params), { fast: "10" });
    const { files: listed = [] } = await reader.listArtifacts(run.info.run_id);
    assert.deepEqual(listed.map((f) => f.path).sort(), ["equity_curve.csv", "equity_curve.png", "equity_curve.svg", "trades.csv"]);
    assert.match(text(await reader.getArtifact(run, "equity_curve.csv")), /^1704067260000000001,10120\.25,0$/m);
    assert.deepEqual([...(await reader.getArtifact(run, "equity_curve.png")).subarray(1, 4)], [0x50, 0x4e, 0x47]);
  });

  test("bad input by URL exits 2 with the library's MlflowValidationError, before any request", async () => {
    const requests = target.server.requests.length;
    // The library (in mod.js) refuses the file name; exit 2 needs its error class to be the one cli.js checks.
    const ran = await cli([
      "log", "--stats", fixture("python/stats.json"), "--trades", fixture("python/trades.csv"), "--artifact", fixture("python/trades.csv"),
      "--tracking-uri", target.trackingUri,
    ]);
    assert.equal(ran.code, 2, ran.stderr);
    assert.match(ran.stderr, /MlflowValidationError \[INVALID_PARAMETER_VALUE\]: artifacts\[0\]: 'trades\.csv' is the artifact path of the trades CSV/);
    assert.equal(ran.stdout, "");
    assert.deepEqual(ungranted(ran), []);
    assert.equal(target.server.requests.length, requests);
    const unknown = await cli(["log", "--stats", fixture("python/stats.json"), "--trakcing-uri", target.trackingUri]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /--trakcing-uri.*--tracking-uri/);
  });
});
