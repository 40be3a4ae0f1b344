/**
 * Test support: the in-memory MLflow server as a program of its own, so the
 * suite's external mode (`MLFLOW_TEST_TRACKING_URI`) can be run, and debugged,
 * without a Python MLflow installation:
 *
 * ```sh
 * node --import tsx test/support/standalone_server.ts --port 5055 &
 * MLFLOW_TEST_TRACKING_URI=http://127.0.0.1:5055 node --import tsx --test test/rest_store.test.ts
 * ```
 *
 * It runs on Node, Deno (`deno run -A`) and Bun alike. Options: `--port N`
 * (default: a free port), `--strict` (reject over-long values, like
 * `MLFLOW_TRUNCATE_LONG_VALUES=false`). It prints its URL on stdout once it
 * listens, and stops on SIGINT or SIGTERM.
 *
 * @module
 */

import process from "node:process";
import { parseArgs } from "node:util";
import { createMlflowServer } from "./mlflow_server.ts";
import { serve } from "./serve.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: { port: { type: "string" }, strict: { type: "boolean" } },
});
const port = values.port === undefined ? 0 : Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port takes a port number, not ${values.port}`);

const served = await serve(createMlflowServer({ strict: values.strict === true }).handler, { port });
console.log(served.url);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void served.close().then(() => process.exit(0));
  });
}
