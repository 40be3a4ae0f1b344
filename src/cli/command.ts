/**
 * What every `flox-mlflow` command is: its flags and help, and a function
 * that runs it against the process's streams.
 *
 * @module
 */
import type { FlagSpec } from "./args.ts";
import type { ProgressSink } from "./progress.ts";
import type { StdinReader } from "./sources.ts";

/** The process a command runs in: its streams and the signal that interrupts it. */
export interface CliContext {
  /** Writes the command's result to standard output. */
  stdout(text: string): void;
  /** Standard error: progress, warnings, errors. */
  stderr: ProgressSink;
  /** Reads standard input (for `-`). */
  stdin: StdinReader;
  /** Aborts when the user interrupts (Ctrl-C); runs in progress end KILLED. */
  signal?: AbortSignal;
}

/** One command of the tool. */
export interface Command {
  /** The command's name, e.g. `log`. */
  name: string;
  /** One line for the tool's help. */
  summary: string;
  /** The usage line and what the command does, for its help. */
  usage: string;
  /** The flags it takes. */
  flags: readonly FlagSpec[];
  /** Text after the flags in its help: input shapes, examples. */
  notes?: string;
  /**
   * Runs the command.
   *
   * @param argv The arguments after the command name.
   * @param context The process's streams.
   * @returns The exit code.
   */
  run(argv: readonly string[], context: CliContext): Promise<number>;
}
