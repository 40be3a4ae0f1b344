/**
 * The worker thread that draws PNGs for {@link "./raster_worker.ts"}: it
 * initialises resvg, says so, then answers each `{ id, svg, scale }` with the
 * PNG (its buffer transferred) or the error's message and code.
 *
 * @module
 */
import { parentPort } from "node:worker_threads";
import { threadRenderer } from "../chart_raster.ts";
import { MlflowError } from "../errors.ts";

interface Job {
  id: number;
  svg: string;
  scale: number;
}

const port = parentPort;
if (port !== null) {
  const describe = (cause: unknown): { message: string; errorCode?: string } => ({
    message: cause instanceof Error ? cause.message : String(cause),
    ...(cause instanceof MlflowError && cause.errorCode !== undefined ? { errorCode: cause.errorCode } : {}),
  });
  const ready = threadRenderer(undefined);
  ready.then(() => port.postMessage({ ready: true }), (cause: unknown) => port.postMessage({ ready: false, ...describe(cause) }));
  port.on("message", (job: Job) => {
    ready
      .then((draw) => draw(job.svg, job.scale))
      .then(
        (png) => port.postMessage({ id: job.id, png }, [png.buffer as ArrayBuffer]),
        (cause: unknown) => port.postMessage({ id: job.id, ...describe(cause) }),
      );
  });
}
