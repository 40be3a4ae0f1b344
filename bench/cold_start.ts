/**
 * Cold start: a fresh process per runtime imports the module and logs one
 * backtest (29 stats, 100k equity points, 10k trades) with its chart to the
 * in-memory MLflow test server on loopback. Reports the whole process's wall
 * time and the `logBacktest` call alone (median of 3 processes per runtime).
 *
 * Run: `node --import tsx bench/cold_start.ts`.
 *
 * @module
 */
import { spawn } from "node:child_process";
import { createMlflowServer } from "../test/support/mlflow_server.ts";
import { serve } from "../test/support/serve.ts";

const RUNS = 3;
const runtimes: Record<string, string[]> = {
  node: [process.execPath, "--import", "tsx", "bench/one_shot.ts"],
  deno: ["node_modules/.bin/deno", "run", "-A", "bench/one_shot.ts"],
  bun: ["node_modules/.bin/bun", "bench/one_shot.ts"],
};

function run(command: string[], uri: string): Promise<{ wall_ms: number; log_backtest_ms: number }> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(command[0]!, [...command.slice(1), uri], { stdio: ["ignore", "pipe", "inherit"] });
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
for (const [name, command] of Object.entries(runtimes)) {
  const samples = [];
  for (let i = 0; i < RUNS; i++) samples.push(await run(command, served.url));
  results[name] = {
    process_wall_ms: median(samples.map((s) => s.wall_ms)),
    log_backtest_ms: median(samples.map((s) => s.log_backtest_ms)),
  };
}
await served.close();
console.log(JSON.stringify({ cold_start_one_backtest_with_chart: results }));
