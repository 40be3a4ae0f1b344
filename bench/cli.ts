/**
 * Start-up of the `flox-mlflow` command line, wall clock of whole fresh
 * processes: `--version`, and `log` of FLOX Python's stats and equity CSV into
 * a file store (without the chart, and with it), beside the runtime starting
 * with nothing to run. Measured for the npm bin entry
 * on Node (over the npm package's node build, from scripts/build.ts), and for
 * the sources under Deno, Bun and Node with tsx. Prints one JSON object of
 * medians over `--runs N` processes (default 5).
 *
 * Run: `node --import tsx bench/cli.ts [--runs N]` (or `npm run bench -- cli`).
 *
 * @module
 */
import { spawn } from "node:child_process";
import { chmod, copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { build } from "../scripts/build.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const MAIN = join(REPO, "src", "cli", "main.ts");
const { values } = parseArgs({ options: { runs: { type: "string", default: "5" } } });
const RUNS = Number(values.runs);

/** Runs a command to its end; resolves with its wall time in ms. */
function timed(command: string[], cwd: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(command[0]!, command.slice(1), { cwd, stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, MLFLOW_TRACKING_URI: "" } });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(performance.now() - start) : reject(new Error(`${command.join(" ")}: exit ${code}\n${stderr}`))));
  });
}

async function median(command: string[], cwd: string): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) times.push(await timed(command, cwd));
  times.sort((a, b) => a - b);
  return Math.round(times[Math.floor(times.length / 2)]!);
}

const scratch = await mkdtemp(join(tmpdir(), "flox-cli-bench-"));
try {
  // The layout npm installs: bin/flox-mlflow.mjs beside dist/node/cli.js.
  const pkg = join(scratch, "package");
  await mkdir(join(pkg, "bin"), { recursive: true });
  await copyFile(join(REPO, "bin", "flox-mlflow.mjs"), join(pkg, "bin", "flox-mlflow.mjs"));
  await chmod(join(pkg, "bin", "flox-mlflow.mjs"), 0o755);
  await writeFile(join(pkg, "package.json"), JSON.stringify({ name: "flox-mlflow", type: "module" }));
  await symlink(join(REPO, "node_modules"), join(pkg, "node_modules"), "dir");
  await build({ outDir: join(pkg, "dist"), parts: ["node"] });

  const runtimes: Record<string, string[]> = {
    node_bin: [process.execPath, join(pkg, "bin", "flox-mlflow.mjs")],
    deno: [join(REPO, "node_modules", ".bin", "deno"), "run", "-A", MAIN],
    bun: [join(REPO, "node_modules", ".bin", "bun"), MAIN],
    node_tsx: [process.execPath, "--import", "tsx", MAIN],
  };
  const fixtures = join(REPO, "test", "fixtures", "cli", "python");
  const log = ["log", "--stats", join(fixtures, "stats.json"), "--equity", join(fixtures, "equity.csv"), "--tracking-uri", join(scratch, "mlruns")];
  // The runtime starting and doing nothing, for scale.
  const empty: Record<string, string[]> = {
    node_bin: [process.execPath, "-e", ""],
    deno: [join(REPO, "node_modules", ".bin", "deno"), "eval", ""],
    bun: [join(REPO, "node_modules", ".bin", "bun"), "-e", ""],
    node_tsx: [process.execPath, "--import", "tsx", "-e", ""],
  };
  const results: Record<string, { runtime_only_ms: number; version_ms: number; log_ms: number; log_chart_ms: number }> = {};
  for (const [name, command] of Object.entries(runtimes)) {
    process.stderr.write(`cli: ${name}\n`);
    results[name] = {
      runtime_only_ms: await median(empty[name]!, REPO),
      version_ms: await median([...command, "--version"], REPO),
      log_ms: await median([...command, ...log, "--no-chart"], REPO),
      log_chart_ms: await median([...command, ...log], REPO),
    };
  }
  console.log(JSON.stringify({ runs: RUNS, what: "median wall time of a fresh process, ms; log = FLOX Python stats + 4-row equity CSV into a file store", ...results }));
} finally {
  await rm(scratch, { recursive: true, force: true });
}
