/**
 * The `flox-mlflow` program: runs the command line on this process's
 * arguments and streams. `node --import tsx src/cli/main.ts`, `deno run -A
 * src/cli/main.ts`, `bun src/cli/main.ts`; the npm package's `bin` runs the
 * built `runProcess` the same way. It is also the entry of `dist/cli.js`,
 * the command line by URL (`deno run --allow-import=<host>
 * --allow-net=<mlflow host> --allow-read=<inputs> https://<host>/dist/cli.js
 * log …`), which `scripts/build.ts` builds with the library taken from the
 * `dist/mod.js` beside it. Imported rather than run (a doc-test runner
 * loading every file), it does nothing.
 *
 * @module
 */
import { realpathSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { runProcess } from "./process.ts";

// Deno and Bun say whether this is the program; Node 20 does not, so compare the script path.
function isProgram(): boolean {
  const main = (import.meta as { main?: boolean }).main;
  if (main !== undefined) return main;
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isProgram()) process.exit(await runProcess(process.argv.slice(2)));
