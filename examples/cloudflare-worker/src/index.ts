/**
 * A Cloudflare Worker that logs backtest results to MLflow. POST a result as
 * JSON (`stats`, `params`, `equityCurve`, `trades`, `tags`, `runName`,
 * `experiment`; see {@link BacktestRequest}) and it is logged, equity chart
 * included, to the tracking server named by the Worker's bindings; the answer
 * is `201 {"runId": "…"}`.
 *
 * Bindings (wrangler.jsonc `vars`, or secrets):
 * - `MLFLOW_TRACKING_URI` (required): the MLflow server, e.g. `https://mlflow.example.com`.
 * - `MLFLOW_EXPERIMENT_NAME`: experiment for requests that name none.
 * - `MLFLOW_TRACKING_TOKEN`, or `MLFLOW_TRACKING_USERNAME` + `MLFLOW_TRACKING_PASSWORD` (secrets).
 * - `INGEST_TOKEN` (secret): when set, callers must send `Authorization: Bearer <INGEST_TOKEN>`.
 * - `LOG_CHART`: `"false"` skips the PNG/SVG chart, whose rendering needs more CPU
 *   than the Workers Free plan's 10 ms per request.
 *
 * Runs on workerd without the `nodejs_compat` flag: the package's `workerd`
 * build has no file-system code, and imports resvg's WebAssembly itself (on
 * the first chart) as a module that wrangler bundles, because workerd cannot
 * compile WebAssembly from bytes. Nothing to set up: no `initChart` call.
 *
 * @module
 */
// In your own project (`npm install flox-mlflow`), import these from "flox-mlflow".
import { logBacktest, MlflowError, MlflowValidationError } from "../../../mod.ts";
import { type BacktestRequest, parseBacktestJson } from "./backtest_json.ts";

export type { BacktestRequest };

/** The Worker's bindings. */
export interface Env {
  MLFLOW_TRACKING_URI?: string;
  MLFLOW_EXPERIMENT_NAME?: string;
  MLFLOW_TRACKING_TOKEN?: string;
  MLFLOW_TRACKING_USERNAME?: string;
  MLFLOW_TRACKING_PASSWORD?: string;
  INGEST_TOKEN?: string;
  LOG_CHART?: string;
}

async function digest(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

/** Compares digests rather than the strings, so the time taken says nothing about the token. */
async function sameSecret(given: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([digest(given), digest(expected)]);
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a[i]! ^ b[i]!;
  return difference === 0;
}

const json = (body: unknown, status: number, headers: Record<string, string> = {}): Response =>
  Response.json(body, { status, headers });

/** Bindings that are text (vars and secrets): what the library reads `MLFLOW_*` settings from. */
function textBindings(env: Env): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => typeof entry[1] === "string"));
}

/**
 * Handles one request: checks method and token, reads the backtest, logs it.
 *
 * @param request The incoming request.
 * @param env The Worker's bindings.
 * @returns `201 {runId}`, or an error status with `{error}`.
 */
async function handle(request: Request, env: Env): Promise<Response> {
  if (request.method !== "POST") return json({ error: "POST a backtest result as JSON" }, 405, { allow: "POST" });
  if (env.INGEST_TOKEN) {
    const given = /^Bearer\s+(.+)$/i.exec(request.headers.get("authorization") ?? "")?.[1] ?? "";
    if (!(await sameSecret(given, env.INGEST_TOKEN))) {
      return json({ error: "send Authorization: Bearer <INGEST_TOKEN>" }, 401, { "www-authenticate": "Bearer" });
    }
  }
  if (!env.MLFLOW_TRACKING_URI) {
    return json({ error: "the Worker has no MLFLOW_TRACKING_URI binding; set it in wrangler.jsonc vars" }, 500);
  }
  try {
    const backtest = parseBacktestJson(await request.text());
    // A chart that cannot be drawn is not fatal: the run is still logged, with the reason in the tag flox.chart_error.
    const chart = env.LOG_CHART !== "false";
    const runId = await logBacktest({
      ...backtest,
      env: textBindings(env),
      trackingUri: env.MLFLOW_TRACKING_URI,
      chart,
    });
    return json({ runId }, 201);
  } catch (error) {
    if (error instanceof MlflowValidationError) return json({ error: error.message, field: error.field }, 400);
    if (error instanceof MlflowError) {
      return json({ error: error.message, errorCode: error.errorCode ?? null, status: error.status ?? null }, 502);
    }
    console.error("flox-mlflow worker: unexpected error", error);
    return json({ error: "internal error; see the Worker's logs" }, 500);
  }
}

/** The Worker: module syntax, whose entry point workerd reads from the default export. */
export default { fetch: handle };
