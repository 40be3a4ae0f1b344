/**
 * Splitting metrics, params and tags into the fewest `log-batch` requests
 * MLflow's limits allow.
 *
 * @module
 */
import type { LogBatchRequest } from "./store.ts";

/** Per-request limits of `runs/log-batch`. */
export interface BatchLimits {
  /** Metrics per request; MLflow: 1000. */
  metrics: number;
  /** Params per request; MLflow: 100. */
  params: number;
  /** Tags per request; MLflow: 100. */
  tags: number;
  /** Metrics, params and tags together per request; MLflow: 1000. */
  entities: number;
  /** Approximate JSON bytes per request; Databricks enforces 1 MB. */
  bytes: number;
}

/** MLflow's own limits. */
export const MLFLOW_BATCH_LIMITS: BatchLimits = {
  metrics: 1000,
  params: 100,
  tags: 100,
  entities: 1000,
  bytes: 900_000,
};

// JSON overhead of one entity beyond its key and value text: braces, field
// names, quotes, commas, and for metrics the number fields.
const PAIR_OVERHEAD = 32;
const METRIC_OVERHEAD = 90;

/**
 * Splits a batch into requests that each respect every limit, in order:
 * params and tags first (they are few), then metrics.
 *
 * @param batch Everything to log.
 * @param limits The limits.
 * @returns One request body per element; empty when there is nothing to log.
 * @example 1,500 metrics take two requests
 * ```ts
 * import { MLFLOW_BATCH_LIMITS, planBatches } from "./batch.ts";
 * const metrics = Array.from({ length: 1500 }, (_, i) => ({ key: "m", value: i, timestamp: 0, step: i }));
 * const plan = planBatches({ metrics, params: [], tags: [] }, MLFLOW_BATCH_LIMITS);
 * if (plan.length !== 2) throw new Error();
 * ```
 */
export function planBatches(batch: LogBatchRequest, limits: BatchLimits): LogBatchRequest[] {
  const out: LogBatchRequest[] = [];
  const next = { params: 0, tags: 0, metrics: 0 };
  const sizes = {
    params: (i: number) => utf8Length(batch.params[i]!.key) + utf8Length(batch.params[i]!.value) + PAIR_OVERHEAD,
    tags: (i: number) => utf8Length(batch.tags[i]!.key) + utf8Length(batch.tags[i]!.value) + PAIR_OVERHEAD,
    metrics: (i: number) => utf8Length(batch.metrics[i]!.key) + METRIC_OVERHEAD,
  };
  // Each request takes as many params and tags as allowed, then fills up with metrics,
  // so a few params and tags never cost a request of their own.
  while (next.params < batch.params.length || next.tags < batch.tags.length || next.metrics < batch.metrics.length) {
    const part: LogBatchRequest = { metrics: [], params: [], tags: [] };
    let entities = 0;
    let bytes = 0;
    for (const kind of ["params", "tags", "metrics"] as const) {
      const source = batch[kind];
      const target = part[kind] as unknown[];
      while (next[kind] < source.length && target.length < limits[kind] && entities < limits.entities) {
        const size = sizes[kind](next[kind]);
        if (entities > 0 && bytes + size > limits.bytes) break;
        target.push(source[next[kind]++]);
        entities++;
        bytes += size;
      }
    }
    out.push(part);
  }
  return out;
}

// JSON escapes aside, this is the UTF-8 size the server measures.
function utf8Length(text: string): number {
  let n = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x80) n += c >= 0x800 && (c < 0xd800 || c > 0xdfff) ? 2 : 1;
  }
  return n;
}
