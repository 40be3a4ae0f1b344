/**
 * `npm run bench`: runs every benchmark in its own fresh process and prints
 * one JSON object with all figures. Run on an otherwise idle machine; the
 * figures are wall-clock times on this machine.
 *
 * @module
 */
import { spawn } from "node:child_process";

const node = [process.execPath, "--import", "tsx"];
const deno = ["node_modules/.bin/deno", "run", "-A"];
const bun = ["node_modules/.bin/bun"];

const parts: Array<[string, string[]]> = [
  ["logging", [...node, "bench/logging.ts"]],
  ["sweep", [...node, "bench/sweep.ts"]],
  ["chart_node", [...node, "bench/chart.ts"]],
  ["chart_deno", [...deno, "bench/chart.ts"]],
  ["chart_bun", [...bun, "bench/chart.ts"]],
  ["cold_start", [...node, "bench/cold_start.ts"]],
  ["startup", [...node, "bench/startup.ts"]],
  ["artifacts", [...node, "bench/artifacts.ts"]],
  ["soak", [...node, "bench/soak.ts"]],
  ["fanout", [...node, "bench/fanout.ts"]],
  ["cli", [...node, "bench/cli.ts"]],
];

function run(command: string[]): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const child = spawn(command[0]!, command.slice(1), { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (chunk) => (out += chunk));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`${command.join(" ")} exited with ${code}`));
      // Each part prints one JSON object, on one line or spread over several.
      const text = out.trim();
      resolve(JSON.parse(text.slice(text.search(/^\{/m))));
    });
  });
}

const only = process.argv.slice(2);
const results: Record<string, unknown> = {};
for (const [name, command] of parts) {
  if (only.length && !only.includes(name)) continue;
  results[name] = await run(command);
}
console.log(JSON.stringify(results, null, 2));
