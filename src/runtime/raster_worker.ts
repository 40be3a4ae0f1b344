/**
 * PNG rendering on a worker thread (Node, Deno and Bun; `raster_node.ts` and
 * `raster_ts.ts` say where each starts it from): resvg's WebAssembly is
 * compiled and run beside the calling thread, which meanwhile writes the
 * run's CSVs and sends its requests. On a process's first chart that is most
 * of the chart's cost (`npm run bench -- cold_start`).
 *
 * One worker per process, started on the first chart and reused; it never
 * keeps the process alive (it is referenced only while a PNG is pending).
 * When the worker cannot start (its file is missing, Deno may not read it),
 * or `initChart({ wasm })` gave this thread its own module, PNGs are drawn on
 * this thread instead. A worker that dies fails the PNGs in flight (the run
 * is still logged, with the chart error as a tag) and the next chart starts
 * another.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { type PngRenderer, threadRenderer, wasmPassed } from "../chart_raster.ts";
import { MlflowError } from "../errors.ts";
import { mayRead } from "./env_node.ts";

export type { PngRenderer } from "../chart_raster.ts";

interface Reply {
  id?: number;
  ready?: boolean;
  png?: Uint8Array;
  message?: string;
  errorCode?: string;
}

interface Pending {
  resolve(png: Uint8Array): void;
  reject(error: Error): void;
}

let shared: Promise<PngRenderer> | undefined;

/**
 * The renderer charts use: the process's worker thread, started from the
 * first of `names` (worker modules beside this file) that exists, or this
 * thread when no worker can be had.
 *
 * @param names Candidate worker modules, relative to this file.
 * @returns The renderer, once resvg is initialised where it runs.
 * @throws {MlflowError} `CHART_WASM_UNAVAILABLE` when resvg cannot be loaded; a later call retries.
 * @example A 2x2 PNG
 * ```ts
 * import { workerRenderer } from "./raster_worker.ts";
 * const draw = await workerRenderer(["./raster_worker.js", "./raster_worker_entry.ts"]);
 * const png = await draw('<svg xmlns="http://www.w3.org/2000/svg" width="2" height="2"/>', 1);
 * if (png[1] !== 0x50) throw new Error("not a PNG");
 * ```
 */
export function workerRenderer(names: readonly string[]): Promise<PngRenderer> {
  if (wasmPassed()) return threadRenderer(undefined);
  if (shared !== undefined) return shared;
  const current: Promise<PngRenderer> = startWorker(names, () => {
    // A worker that was running is gone: the next chart starts another.
    if (shared === current) shared = undefined;
  }).catch((cause: unknown) => {
    // resvg itself failing would fail here too: report it. Anything else is the worker.
    if (cause instanceof MlflowError && cause.errorCode === "CHART_WASM_UNAVAILABLE") throw cause;
    return threadRenderer(undefined);
  });
  shared = current;
  current.catch(() => {
    if (shared === current) shared = undefined;
  });
  return current;
}

/** The first of the worker modules `names` (relative to this file) that exists and may be read. */
function entry(names: readonly string[]): URL | undefined {
  for (const name of names) {
    const url = new URL(name, import.meta.url);
    if (url.protocol !== "file:") continue;
    // Deno without read access to this package: no worker, and nothing prompts.
    const path = fileURLToPath(url);
    if (mayRead(path) && existsSync(path)) return url;
  }
  return undefined;
}

function startWorker(names: readonly string[], onLost: () => void): Promise<PngRenderer> {
  const url = entry(names);
  if (url === undefined) return Promise.reject(new Error("no worker module"));
  return new Promise<PngRenderer>((resolve, reject) => {
    const worker = new Worker(url);
    const pending = new Map<number, Pending>();
    let next = 0;
    let started = false;
    const fail = (error: Error): void => {
      for (const job of pending.values()) job.reject(error);
      pending.clear();
      if (started) onLost();
      else reject(error);
    };
    worker.on("error", (cause: Error) => fail(new MlflowError(`equity chart: the PNG worker failed: ${cause.message}`, { errorCode: "CHART_RENDER_FAILED", cause })));
    worker.on("exit", (code: number) => fail(new MlflowError(`equity chart: the PNG worker exited (${code})`, { errorCode: "CHART_RENDER_FAILED" })));
    worker.on("message", (reply: Reply) => {
      if (reply.ready !== undefined) {
        started = true;
        if (!reply.ready) {
          void worker.terminate();
          reject(new MlflowError(reply.message ?? "resvg could not be loaded", reply.errorCode ? { errorCode: reply.errorCode } : {}));
          return;
        }
        worker.unref();
        resolve(draw);
        return;
      }
      const job = pending.get(reply.id!);
      if (job === undefined) return;
      pending.delete(reply.id!);
      if (pending.size === 0) worker.unref();
      if (reply.png !== undefined) job.resolve(reply.png);
      else job.reject(new MlflowError(reply.message ?? "resvg failed", reply.errorCode ? { errorCode: reply.errorCode } : {}));
    });
    const draw: PngRenderer = (svg, scale) =>
      new Promise<Uint8Array>((resolveJob, rejectJob) => {
        const id = next++;
        pending.set(id, { resolve: resolveJob, reject: rejectJob });
        worker.ref();
        worker.postMessage({ id, svg, scale });
      });
  });
}
