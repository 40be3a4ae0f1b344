/**
 * Parameter sweeps and walk-forward folds: one parent run with one child run
 * per grid cell or fold, linked by `mlflow.parentRunId`, logged a few cells
 * at a time. Every cell costs three requests (create, one `log-batch`,
 * finish) plus its artifact uploads; the parent costs three more (create,
 * one summary `log-batch`, finish).
 *
 * One process logs a whole grid with `logGrid`; many workers share one grid
 * with `logCells` (cells under one existing parent, with global indices) and
 * `summarizeSweep` (the parent's summary from all its children).
 *
 * @module
 */
export { type GridCell, logGrid, type LogGridOptions, type LogGridResult } from "./sweep_grid.ts";
export { logCells, type LogCellsOptions, type LogCellsResult } from "./sweep_cells.ts";
export { type GridBest, summarizeSweep, type SummarizeSweepOptions, type SweepSummary } from "./sweep_summary.ts";
export {
  logWalkForward,
  type LogWalkForwardOptions,
  type LogWalkForwardResult,
  type WalkForwardFold,
} from "./sweep_walk_forward.ts";
export type { ChildOptions, SweepFailure, SweepOptions } from "./sweep_run.ts";
