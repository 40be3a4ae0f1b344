/**
 * Benchmark child processes: run one to its end, or kill it at a timeout,
 * and read the JSON figures it printed last.
 *
 * @module
 */
import { spawn } from "node:child_process";
import process from "node:process";

/** What a child printed and how it ended. */
export interface ChildOutcome {
  /** The last line of stdout that is a JSON object. */
  json?: Record<string, unknown>;
  /** Why the child failed: a timeout, a crash, an exit code, with the tail of its stderr. */
  error?: string;
  /** Wall time from start to exit. */
  wall_ms: number;
}

/**
 * The last line of `text` that parses as a JSON object.
 *
 * @param text A child's output.
 * @returns The object, or `undefined`.
 */
export function lastJsonLine(text: string): Record<string, unknown> | undefined {
  const line = text.trim().split("\n").reverse().find((l) => l.startsWith("{"));
  try {
    return line === undefined ? undefined : (JSON.parse(line) as Record<string, unknown>);
  } catch {
    return undefined;
  }
}

/**
 * Runs a child to its end, or kills it at the timeout; its stderr is passed
 * on and its tail kept for the error.
 *
 * @param command The program and its arguments.
 * @param timeoutMs When to kill it.
 * @param cwd Where it runs.
 * @returns Its figures, or why there are none.
 */
export function runChild(command: string[], timeoutMs: number, cwd: string): Promise<ChildOutcome> {
  const start = performance.now();
  return new Promise((resolve) => {
    const child = spawn(command[0]!, command.slice(1), { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let errTail = "";
    let timedOut = false;
    child.stdout.on("data", (chunk: Buffer) => (out += chunk));
    child.stderr.on("data", (chunk: Buffer) => {
      process.stderr.write(chunk);
      errTail = (errTail + chunk.toString()).slice(-1500);
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      resolve({ error: `could not start: ${err.message}`, wall_ms: 0 });
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const wall_ms = Math.round(performance.now() - start);
      const json = lastJsonLine(out);
      if (timedOut) return resolve({ ...(json ? { json } : {}), error: `timeout after ${Math.round(timeoutMs / 1000)} s (killed)`, wall_ms });
      if (code !== 0 || json === undefined) {
        const why = signal ? `killed by ${signal}` : `exited with ${code}`;
        return resolve({ ...(json ? { json } : {}), error: `${why}: ${errTail.trim().split("\n").slice(-6).join(" | ")}`, wall_ms });
      }
      resolve({ json, wall_ms });
    });
  });
}
