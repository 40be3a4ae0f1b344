/**
 * Where the command line's input files come from: a path, or standard input
 * for `-`, so a backtester in any language can pipe into the tool.
 *
 * @module
 */
import { readFile } from "node:fs/promises";
import process from "node:process";
import { concatBytes } from "../bytes.ts";
import { MlflowValidationError } from "../errors.ts";

/** Reads standard input to its end; `undefined` when it is a terminal (nothing was piped in). */
export type StdinReader = () => Promise<Uint8Array | undefined>;

/**
 * Standard input of this process, read to its end. A terminal is not read
 * (it would wait for typing): the caller says to pipe the data in.
 *
 * @returns The bytes piped in, or `undefined` when standard input is a terminal.
 * @example Read what was piped in
 * ```ts ignore
 * import { readProcessStdin } from "./sources.ts";
 * const bytes = await readProcessStdin();
 * ```
 */
export async function readProcessStdin(): Promise<Uint8Array | undefined> {
  if (process.stdin.isTTY) return undefined;
  const chunks: Uint8Array[] = [];
  for await (const chunk of process.stdin) chunks.push(typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk);
  return concatBytes(chunks);
}

/**
 * Checks that at most one input names standard input: `-` can be read only once.
 *
 * @param inputs Flag or argument names to the paths given.
 * @throws {MlflowValidationError} When two inputs are `-`.
 * @example Two inputs from stdin
 * ```ts
 * import { checkOneStdin } from "./sources.ts";
 * let refused = false;
 * try { checkOneStdin({ "--stats": "-", "--equity": "-" }); } catch { refused = true; }
 * if (!refused) throw new Error();
 * ```
 */
export function checkOneStdin(inputs: Record<string, string | undefined>): void {
  const fromStdin = Object.entries(inputs).filter(([, path]) => path === "-").map(([name]) => name);
  if (fromStdin.length > 1) {
    throw new MlflowValidationError(fromStdin[1]!, `and ${fromStdin[0]} both read standard input ('-'); pipe one of them and pass the other as a file`);
  }
}

/**
 * Reads an input as UTF-8 text: the file at `path`, or standard input for `-`.
 *
 * @param path A file path, or `-`.
 * @param field The flag or argument it was given to, for errors.
 * @param stdin Reads standard input.
 * @returns The text.
 * @throws {MlflowValidationError} When the file cannot be read, or standard input is empty.
 * @example Read a file
 * ```ts
 * import { readSource } from "./sources.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "{}");
 * if (await readSource(path, "--stats", async () => new Uint8Array()) !== "{}") throw new Error();
 * ```
 */
export async function readSource(path: string, field: string, stdin: StdinReader): Promise<string> {
  if (path === "-") {
    const bytes = await stdin();
    if (bytes === undefined) {
      throw new MlflowValidationError(field, "reads standard input ('-'), which is a terminal; pipe the data in (... | flox-mlflow ...) or pass a file");
    }
    const text = new TextDecoder().decode(bytes);
    if (text.trim() === "") throw new MlflowValidationError(field, "reads standard input ('-'), but nothing was piped in");
    return text;
  }
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const why = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "it is a folder" : code === "EACCES" ? "permission denied" : String(code ?? error);
    throw new MlflowValidationError(field, `cannot read '${path}': ${why}`);
  }
}
