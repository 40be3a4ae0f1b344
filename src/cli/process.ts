/**
 * The command line wired to this process: its arguments, standard streams,
 * Ctrl-C, and an exit once the output is written.
 *
 * @module
 */
import { setMaxListeners } from "node:events";
import process from "node:process";
import { runCli } from "./cli.ts";
import { readProcessStdin } from "./sources.ts";

/**
 * Runs `flox-mlflow` with `argv` on this process's streams. The first Ctrl-C
 * aborts the runs in progress (they end KILLED); the second exits at once.
 *
 * @param argv The arguments after the program name.
 * @returns The exit code, once standard output and error are flushed.
 * @example Print the version
 * ```ts ignore
 * import { runProcess } from "./process.ts";
 * process.exitCode = await runProcess(["--version"]);
 * ```
 */
export async function runProcess(argv: readonly string[]): Promise<number> {
  const controller = new AbortController();
  // Every run of a sweep listens to this one signal while it is open (a dozen at the default concurrency): not a leak.
  setMaxListeners(0, controller.signal);
  const onSigint = (): void => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort(new Error("interrupted (Ctrl-C)"));
  };
  process.on("SIGINT", onSigint);
  const code = await runCli(argv, {
    stdout: (text) => process.stdout.write(text),
    stderr: { write: (text) => process.stderr.write(text), isTTY: process.stderr.isTTY === true },
    stdin: readProcessStdin,
    signal: controller.signal,
  });
  process.off("SIGINT", onSigint);
  // Exit explicitly (pooled connections would keep the process alive), after the streams drain.
  await Promise.all([flush(process.stdout), flush(process.stderr)]);
  return code;
}

// The callback of an empty write runs once everything written before it is out.
function flush(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    stream.write("", () => resolve());
  });
}
