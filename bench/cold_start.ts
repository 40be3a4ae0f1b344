/**
 * Cold start: a fresh process per runtime imports the module and logs one
 * backtest (29 stats, 100k equity points, 10k trades) with its chart to the
 * in-memory MLflow test server on loopback (served from this process, so its
 * work runs on the other core). Reports the whole process's wall time and the
 * import plus `logBacktest` alone, median of 3 processes per runtime. Node
 * runs the npm build (`dist/node`, what `npm install` users get), Deno both
 * the sources and the URL bundle (`dist/mod.js`), Bun the sources.
 *
 * Run: `node --import tsx bench/cold_start.ts`.
 *
 * @module
 */
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import * as esbuild from "esbuild";
import { build } from "../scripts/build.ts";
import { createMlflowServer } from "../test/support/mlflow_server.ts";
import { serve } from "../test/support/serve.ts";

const RUNS = 3;
const dist = resolve(".bench/dist");
await build({ outDir: dist, parts: ["node", "deno"] });
// Node cannot run the TypeScript harness itself; bundle it, leaving the module under test an import.
await esbuild.build({
  entryPoints: ["bench/one_shot.ts"],
  outfile: ".bench/one_shot.mjs",
  bundle: true,
  platform: "node",
  format: "esm",
  packages: "external",
  logLevel: "silent",
});

const runtimes: Record<string, { command: string[]; entry?: string }> = {
  node_npm_build: { command: [process.execPath, ".bench/one_shot.mjs"], entry: resolve(dist, "node/mod.js") },
  deno_sources: { command: ["node_modules/.bin/deno", "run", "-A", "bench/one_shot.ts"] },
  deno_url_bundle: { command: ["node_modules/.bin/deno", "run", "-A", "bench/one_shot.ts"], entry: `file://${dist}/mod.js` },
  bun_sources: { command: ["node_modules/.bin/bun", "bench/one_shot.ts"] },
};

function run(
  { command, entry }: { command: string[]; entry?: string },
  uri: string,
): Promise<{ wall_ms: number; log_backtest_ms: number }> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const env = entry ? { ...process.env, FLOX_MLFLOW_ENTRY: entry } : process.env;
    const child = spawn(command[0]!, [...command.slice(1), uri], { stdio: ["ignore", "pipe", "inherit"], env });
    let out = "";
    child.stdout.on("data", (chunk) => (out += chunk));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`${command.join(" ")} exited with ${code}`));
      const wall = Math.round(performance.now() - start);
      resolve({ wall_ms: wall, log_backtest_ms: JSON.parse(out.trim().split("\n").at(-1)!).log_backtest_ms });
    });
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const server = createMlflowServer();
const served = await serve(server.handler);
const results: Record<string, { process_wall_ms: number; log_backtest_ms: number }> = {};
for (const [name, how] of Object.entries(runtimes)) {
  const samples = [];
  for (let i = 0; i < RUNS; i++) samples.push(await run(how, served.url));
  results[name] = {
    process_wall_ms: median(samples.map((s) => s.wall_ms)),
    log_backtest_ms: median(samples.map((s) => s.log_backtest_ms)),
  };
}
await served.close();
console.log(JSON.stringify({ cold_start_one_backtest_with_chart: results }));
