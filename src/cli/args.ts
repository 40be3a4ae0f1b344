/**
 * Command-line arguments: `--flag value`, `--flag=value`, repeatable flags,
 * switches, positional arguments. An unknown flag is an error naming the
 * nearest known one, as unknown option keys are in the library.
 *
 * @module
 */
import { MlflowValidationError } from "../errors.ts";
import { nearestKey } from "../option_keys.ts";

/** One flag a command takes. */
export interface FlagSpec {
  /** The name without dashes, e.g. `run-name`. */
  name: string;
  /** What the value is, for help (`FILE`, `K=V`); absent for a switch that takes no value. */
  value?: string;
  /** Whether the flag may be given more than once (its values are collected in order). */
  repeat?: boolean;
  /** One line of help. */
  help: string;
}

/** Arguments as parsed against a command's flags. */
export interface ParsedArgs {
  /** Values by flag name: a string, the list for a repeatable flag, `true` for a switch. */
  flags: Map<string, string | string[] | true>;
  /** Arguments that are not flags, in order (`-` among them). */
  positionals: string[];
}

/**
 * Parses arguments against a command's flags. `--` ends the flags; `-` is an
 * argument (standard input).
 *
 * @param argv The arguments after the command name.
 * @param specs The command's flags.
 * @param command The command, for errors (e.g. `flox-mlflow log`).
 * @returns The flag values and positional arguments.
 * @throws {MlflowValidationError} On an unknown flag (naming the nearest), a missing value, a value given to a switch, or a flag given twice that takes one value.
 * @example A typo gets a suggestion
 * ```ts
 * import { parseArgs } from "./args.ts";
 * const specs = [{ name: "stats", value: "FILE", help: "stats" }];
 * if (parseArgs(["--stats", "s.json"], specs, "log").flags.get("stats") !== "s.json") throw new Error();
 * try {
 *   parseArgs(["--stat", "s.json"], specs, "log");
 *   throw new Error("expected an error");
 * } catch (err) {
 *   if (!String(err).includes("did you mean '--stats'")) throw err;
 * }
 * ```
 */
export function parseArgs(argv: readonly string[], specs: readonly FlagSpec[], command: string): ParsedArgs {
  const flags = new Map<string, string | string[] | true>();
  const positionals: string[] = [];
  const byName = new Map(specs.map((s) => [s.name, s]));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("--") || arg.length === 2) {
      if (arg.startsWith("-") && arg !== "-") {
        throw new MlflowValidationError(arg, `is not an option of '${command}'; options are spelled with two dashes (see --help)`);
      }
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const spec = byName.get(name);
    if (spec === undefined) {
      const near = nearestKey(name, specs.map((s) => s.name));
      throw new MlflowValidationError(
        `--${name}`,
        `is not an option of '${command}'; ${near === undefined ? "see --help for the options" : `did you mean '--${near}'?`}`,
      );
    }
    if (spec.value === undefined) {
      if (eq >= 0) throw new MlflowValidationError(`--${name}`, "takes no value");
      flags.set(name, true);
      continue;
    }
    let value: string;
    if (eq >= 0) {
      value = arg.slice(eq + 1);
    } else {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith("--") && next.length > 2)) {
        throw new MlflowValidationError(`--${name}`, `needs a value: --${name} ${spec.value}`);
      }
      value = next;
      i++;
    }
    const seen = flags.get(name);
    if (spec.repeat) {
      flags.set(name, [...(Array.isArray(seen) ? seen : []), value]);
    } else if (seen !== undefined) {
      throw new MlflowValidationError(`--${name}`, "is given twice; give it once");
    } else {
      flags.set(name, value);
    }
  }
  return { flags, positionals };
}

/**
 * Reads `key=value` pairs (`--param fast=10`, `--tag data=btc`) into an
 * object; the value is everything after the first `=`.
 *
 * @param pairs The flag's values.
 * @param flag The flag, for errors.
 * @returns Keys to values, in order.
 * @throws {MlflowValidationError} On a pair without `=` or with an empty key, or a key given twice.
 * @example Params
 * ```ts
 * import { keyValues } from "./args.ts";
 * const params = keyValues(["fast=10", "expr=a=b"], "--param");
 * if (params.fast !== "10" || params.expr !== "a=b") throw new Error();
 * ```
 */
export function keyValues(pairs: readonly string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new MlflowValidationError(flag, `takes key=value, got '${pair}'`);
    const key = pair.slice(0, eq);
    if (Object.hasOwn(out, key)) throw new MlflowValidationError(flag, `gives '${key}' twice; give each key once`);
    out[key] = pair.slice(eq + 1);
  }
  return out;
}

/**
 * Formats a command's flags for `--help`.
 *
 * @param specs The flags.
 * @returns One aligned line per flag.
 * @example Two flags
 * ```ts
 * import { flagHelp } from "./args.ts";
 * const text = flagHelp([{ name: "stats", value: "FILE", help: "stats JSON" }, { name: "json", help: "print JSON" }]);
 * if (!text.includes("--stats FILE") || !text.includes("--json")) throw new Error();
 * ```
 */
export function flagHelp(specs: readonly FlagSpec[]): string {
  const left = specs.map((s) => `  --${s.name}${s.value ? ` ${s.value}` : ""}${s.repeat ? " ..." : ""}`);
  const width = Math.max(...left.map((l) => l.length)) + 2;
  return specs.map((s, i) => left[i]!.padEnd(width) + s.help).join("\n");
}
