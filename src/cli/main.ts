/**
 * The `flox-mlflow` program: runs the command line on this process's
 * arguments and streams. `node --import tsx src/cli/main.ts`, `deno run -A
 * src/cli/main.ts`, `bun src/cli/main.ts`; the npm package's `bin` runs the
 * built `runCli` the same way.
 *
 * @module
 */
import process from "node:process";
import { runProcess } from "./process.ts";

process.exit(await runProcess(process.argv.slice(2)));
