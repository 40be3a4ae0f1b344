/**
 * `flox-mlflow`: the command line. Picks the command, prints help and the
 * version, runs the command and turns what it throws into a message on
 * standard error and an exit code.
 *
 * @module
 */
import { MlflowValidationError } from "../errors.ts";
import { nearestKey } from "../option_keys.ts";
import { flagHelp } from "./args.ts";
import type { CliContext, Command } from "./command.ts";
import { EXIT, exitCodeOf } from "./exit_codes.ts";
import { GRID_COMMAND } from "./grid_command.ts";
import { LOG_COMMAND } from "./log_command.ts";
import { jsonLine } from "./output.ts";
import { errorReport, formatError } from "./report_error.ts";
import { VERSION } from "./version.ts";
import { WALK_FORWARD_COMMAND } from "./walk_forward_command.ts";

const COMMANDS: readonly Command[] = [LOG_COMMAND, GRID_COMMAND, WALK_FORWARD_COMMAND];

const EXIT_HELP = `Exit codes: 0 logged; 1 other failure; 2 bad input (nothing logged); 3 the
server refused the credentials (401/403); 4 the tracking store failed (5xx or
429 after retries, network error, timeout).`;

/**
 * The tool's help.
 *
 * @returns The text.
 * @example Lists the commands
 * ```ts
 * import { toolHelp } from "./cli.ts";
 * if (!toolHelp().includes("walk-forward")) throw new Error();
 * ```
 */
export function toolHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return `Usage: flox-mlflow <command> [options]

Logs backtests into MLflow from any backtester's output files.

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`).join("\n")}

Run flox-mlflow <command> --help for a command's options. --version prints the version.

Where runs go: --tracking-uri, else MLFLOW_TRACKING_URI, else ./mlruns. Credentials
come from MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD or MLFLOW_TRACKING_TOKEN.

${EXIT_HELP}
`;
}

/**
 * A command's help.
 *
 * @param command The command.
 * @returns The text.
 * @example The log command
 * ```ts
 * import { commandHelp } from "./cli.ts";
 * import { LOG_COMMAND } from "./log_command.ts";
 * if (!commandHelp(LOG_COMMAND).includes("--stats FILE")) throw new Error();
 * ```
 */
export function commandHelp(command: Command): string {
  return `${command.usage}\n\nOptions:\n${flagHelp([...command.flags, { name: "help", help: "this help" }])}\n` +
    (command.notes ? `\n${command.notes}\n` : "") + `\n${EXIT_HELP}\n`;
}

/**
 * Runs the tool: `argv` is what follows the program name.
 *
 * @param argv The arguments, e.g. `["log", "--stats", "stats.json"]`.
 * @param context The process's streams.
 * @returns The exit code (see {@link EXIT}).
 * @example The version
 * ```ts
 * import { runCli } from "./cli.ts";
 * let out = "";
 * const code = await runCli(["--version"], { stdout: (t) => { out += t; }, stderr: { write() {}, isTTY: false }, stdin: async () => new Uint8Array() });
 * if (code !== 0 || !out.startsWith("flox-mlflow ")) throw new Error(out);
 * ```
 */
export async function runCli(argv: readonly string[], context: CliContext): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    const topic = name === "help" ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    if (name === undefined) {
      context.stderr.write(toolHelp());
      return EXIT.badInput;
    }
    context.stdout(topic ? commandHelp(topic) : toolHelp());
    return EXIT.ok;
  }
  if (name === "--version" || name === "-V") {
    context.stdout(`flox-mlflow ${VERSION}\n`);
    return EXIT.ok;
  }
  const command = COMMANDS.find((c) => c.name === name);
  const label = command ? `flox-mlflow ${command.name}` : "flox-mlflow";
  const json = rest.includes("--json");
  try {
    if (command === undefined) {
      const near = nearestKey(name, COMMANDS.map((c) => c.name));
      throw new MlflowValidationError(
        name,
        `is not a command; ${near !== undefined ? `did you mean '${near}'? ` : ""}the commands are ${COMMANDS.map((c) => c.name).join(", ")}`,
      );
    }
    const flagsEnd = rest.indexOf("--");
    const flags = flagsEnd < 0 ? rest : rest.slice(0, flagsEnd);
    if (flags.includes("--help") || flags.includes("-h")) {
      context.stdout(commandHelp(command));
      return EXIT.ok;
    }
    return await command.run(rest, context);
  } catch (error) {
    context.stderr.write(formatError(label, error));
    if (json) context.stdout(jsonLine({ error: errorReport(error) }));
    return exitCodeOf(error);
  }
}
