/**
 * The fan-out path: many workers (processes, machines) log their share of one
 * grid's cells directly under one existing parent run, each cell tagged with
 * its global index; {@link summarizeSweep} then writes the summary once.
 *
 * @module
 */
import { type ConnectionOptions, connect } from "./config.ts";
import { abortedError, MlflowValidationError } from "./errors.ts";
import { type Assert, CONNECTION_KEYS, type ExactKeys } from "./option_keys.ts";
import type { CallOptions } from "./store.ts";
import { cellData, cellRunName, checkAxes, type GridCell, planGrid } from "./sweep_grid.ts";
import { type ChildOptions, checkChildOptions, connectionOf, logChildren, type SweepFailure } from "./sweep_run.ts";
import { CELL_INDEX_TAG } from "./sweep_summary.ts";
import { checkRunId, describeValue } from "./validation.ts";

/** Options of {@link logCells}. */
export interface LogCellsOptions extends ConnectionOptions, ChildOptions {
  /** The parent run the cells go under; it must exist and be RUNNING, and it is left as it is. */
  parentRunId: string;
  /**
   * This worker's cells. Each cell's global index is its `index` (FLOX
   * `GridSearch.run()` output carries it), else `firstIndex` plus its
   * position here. Child run ids come back in this order.
   */
  cells: readonly GridCell[];
  /** The global index of `cells[0]`, for cells without an `index` of their own (`firstIndex + position`). */
  firstIndex?: number;
  /** Param names for positional `params`, in the order of `GridSearch.addAxis` calls. */
  axes?: readonly string[];
}

/** What {@link logCells} returns. */
export interface LogCellsResult {
  /** The parent the cells went under. */
  parentRunId: string;
  /** One per cell, in the order of `cells`; `undefined` where a failed cell's run could not be created. */
  childRunIds: Array<string | undefined>;
  /** Each cell's global index, in the order of `cells`, as tagged `flox.cell_index`. */
  cellIndices: number[];
  /** Cells that failed, by position in `cells` (with `cellIndex`). Empty when every cell was logged. */
  failed: SweepFailure[];
}

const CELLS_KEYS = [
  ...CONNECTION_KEYS,
  "parentRunId",
  "cells",
  "firstIndex",
  "axes",
  "concurrency",
  "statsNaming",
  "chart",
  "equityMetric",
  "failFast",
  "onProgress",
  "onWarning",
  "signal",
] as const;
type _CellsKeysMatch = Assert<ExactKeys<typeof CELLS_KEYS, LogCellsOptions>>;

const isIndex = (value: unknown): value is number => typeof value === "number" && Number.isSafeInteger(value) && value >= 0;

// Every cell's global index, each once: a worker that restarts numbering at 0 is stopped here.
function globalIndices(cells: readonly GridCell[], firstIndex: number | undefined): number[] {
  if (firstIndex !== undefined && !isIndex(firstIndex)) {
    throw new MlflowValidationError("firstIndex", `is ${describeValue(firstIndex)}; pass the global index of cells[0] (a whole number of 0 or more)`);
  }
  const seen = new Map<number, number>();
  return cells.map((cell, i) => {
    const own = typeof cell === "object" && cell !== null ? cell.index : undefined;
    if (own !== undefined && !isIndex(own)) {
      throw new MlflowValidationError(`cells[${i}].index`, `is ${describeValue(own)}; pass the cell's global index (a whole number of 0 or more)`);
    }
    const index = own ?? (firstIndex === undefined ? undefined : firstIndex + i);
    if (index === undefined) {
      throw new MlflowValidationError(
        `cells[${i}].index`,
        "is missing; give each cell its global index in the whole grid (FLOX GridSearch output has it), or pass firstIndex, the global index of cells[0]",
      );
    }
    const earlier = seen.get(index);
    if (earlier !== undefined) {
      throw new MlflowValidationError(`cells[${i}].index`, `is ${index}, as cells[${earlier}] is; each cell of a grid has its own index`);
    }
    seen.set(index, i);
    return index;
  });
}

/**
 * Logs grid cells as children of an existing parent run, for sweeps split
 * over many workers: each worker calls it with its share of the cells and the
 * same `parentRunId`, and {@link summarizeSweep} then summarises the parent
 * from all the children. Nothing is written on the parent: it stays RUNNING.
 *
 * Each child is logged as {@link logGrid} logs one (named from its params,
 * its stats, params, equity curve, trades and report), in the parent's
 * experiment, tagged `flox.cell_index` with the cell's global index: its
 * `index`, or `firstIndex` plus its position. Every cell costs three requests
 * (create, one `log-batch`, finish) plus its artifacts; the call adds one
 * `runs/get` of the parent and one `runs/search` per 1,000 of its children.
 *
 * Before any child is created the call checks, and refuses with an
 * {@link MlflowValidationError}: a cell without an index, two cells with one
 * index, a parent that does not exist or is not RUNNING, and an index that
 * already has a FINISHED child under the parent (another worker's, or an
 * earlier attempt's: leave those cells out when a worker is run again). A
 * cell that fails does not stop the others (it is listed in `failed`) unless
 * `failFast` is set; aborting `signal` ends the open children KILLED.
 *
 * @param options The parent, the cells and how to log them.
 * @returns The child run ids, the cells' global indices and the failed cells.
 * @throws {MlflowValidationError} Before any child is created, on bad options or cells, or a parent or index as above.
 * @throws {MlflowError} When the store fails the checks' reads; with `failFast`, the first failed cell's error; code `ABORTED` when `signal` aborts.
 * @example One worker's share of a grid, under a parent another process opened
 * ```ts
 * import { startRun } from "./run.ts";
 * import { logCells } from "./sweep_cells.ts";
 * const trackingUri = await Deno.makeTempDir();
 * const parent = await startRun({ trackingUri, env: {}, runName: "sma-grid" });
 * const mine = [
 *   { index: 2, params: [10, 30], stats: { sharpeRatio: 1.1 } },
 *   { index: 3, params: [10, 50], stats: { sharpeRatio: 1.6 } },
 * ];
 * const logged = await logCells({ trackingUri, env: {}, parentRunId: parent.runId, axes: ["fast", "slow"], cells: mine });
 * if (logged.cellIndices.join() !== "2,3" || parent.status !== "RUNNING") throw new Error();
 * ```
 */
export async function logCells(options: LogCellsOptions): Promise<LogCellsResult> {
  if (typeof options !== "object" || options === null) {
    throw new MlflowValidationError("options", "must be an object with parentRunId and cells");
  }
  const concurrency = checkChildOptions(options, CELLS_KEYS);
  checkRunId(options.parentRunId, "parentRunId");
  const cells = options.cells;
  if (!Array.isArray(cells) || cells.length === 0) {
    throw new MlflowValidationError("cells", "must be a non-empty array of grid cells ({index, params, stats} or FLOX GridSearch.run() output)");
  }
  const axes = checkAxes(options.axes);
  const indices = globalIndices(cells, options.firstIndex);
  const planned = planGrid(cells, "cells", axes, options.statsNaming, []);
  const runNames = planned.named.map((params, i) => cellRunName(params, indices[i]!));

  const { parentRunId, signal } = options;
  const connection = connectionOf(options);
  const { store } = connect(connection);
  const call: CallOptions = signal === undefined ? {} : { signal };
  const parent = await store.getRun(parentRunId, call);
  if (parent === undefined) {
    throw new MlflowValidationError(
      "parentRunId",
      `run '${parentRunId}' does not exist (or is deleted) in ${store.location}; open the parent first (startRun) and pass its runId`,
    );
  }
  if (parent.status !== "RUNNING") {
    throw new MlflowValidationError(
      "parentRunId",
      `run '${parentRunId}' is ${parent.status}; cells go under a RUNNING parent, which summarizeSweep({ end: true }) ends once every worker is done`,
    );
  }
  const logged = new Map<number, string>();
  for (const child of await store.searchRuns({ experimentIds: [parent.experimentId], parentRunId }, call)) {
    const raw = child.tags[CELL_INDEX_TAG];
    if (child.status === "FINISHED" && raw !== undefined) logged.set(Number(raw), child.runId);
  }
  indices.forEach((index, i) => {
    const runId = logged.get(index);
    if (runId !== undefined) {
      throw new MlflowValidationError(
        `cells[${i}].index`,
        `is ${index}, which run '${runId}' has already logged under parent '${parentRunId}'; leave logged cells out, or check that workers' indices do not overlap`,
      );
    }
  });

  const outcome = await logChildren(
    {
      field: "cells",
      total: cells.length,
      runName: (i) => runNames[i]!,
      childTags: (i) => ({ [CELL_INDEX_TAG]: indices[i]! }),
      data: (i) => cellData(cells[i]!, planned.named[i]!, options),
    },
    {
      base: { ...connection, experimentId: parent.experimentId, parentRunId, ...(signal !== undefined ? { signal } : {}) },
      concurrency,
      failFast: options.failFast,
      signal,
      onProgress: options.onProgress,
      warn: options.onWarning ?? console.warn,
      describe: (i) => ({ cellIndex: indices[i]! }),
    },
  );
  if (signal?.aborted) {
    throw abortedError(signal, (reason) => `cells under ${parentRunId} were aborted (${reason}); the open children were ended as KILLED, the parent is untouched`);
  }
  if (options.failFast && outcome.firstFailure) throw outcome.firstFailure.error;
  return { parentRunId, childRunIds: outcome.childRunIds, cellIndices: indices, failed: outcome.failed };
}
