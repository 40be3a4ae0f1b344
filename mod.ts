/**
 * flox-mlflow logs trading backtests into MLflow from Node, Deno, Bun and
 * edge workers: stats become metrics (or tags when not finite), params
 * params, the equity curve and trades CSV artifacts, and a grid search a
 * parent run with one nested child per cell. It talks to a tracking server
 * over REST with `fetch`, or writes MLflow's `./mlruns` file store where the
 * runtime has a file system.
 *
 * @example Log one backtest
 * ```ts
 * import { logBacktest } from "./mod.ts";
 * const runId = await logBacktest({
 *   trackingUri: await Deno.makeTempDir(), env: {},
 *   runName: "sma-crossover", experiment: "my-strategy",
 *   stats: { sharpe_ratio: 1.4, profit_factor: Infinity, total_trades: 12 },
 *   params: { fast: 10, slow: 30, fee: 0.0004 },
 *   equityCurve: [
 *     { timestamp_ns: 1700000000000000000n, equity: 10000, drawdown_pct: 0 },
 *     { timestamp_ns: 1700000060000000000n, equity: 10100, drawdown_pct: 0 },
 *   ],
 * });
 * if (runId.length !== 32) throw new Error("expected a run id");
 * ```
 *
 * @module
 */
export {
  type ArtifactSource,
  type LogBacktestOptions,
  logBacktest,
  logToMlflow,
  type MetricOptions,
  MlflowRun,
  type RunOptions,
  startRun,
} from "./src/run.ts";
export type { BacktestData, NamedData } from "./src/backtest.ts";
export {
  type EquityChartOptions,
  type EquityChartResult,
  equityChartSpec,
  type EquityChartSpecOptions,
  initChart,
  type InitChartOptions,
  renderEquityChart,
  type VegaLiteSpec,
} from "./src/chart.ts";
export {
  type ChildOptions,
  type GridBest,
  type GridCell,
  logCells,
  type LogCellsOptions,
  type LogCellsResult,
  logGrid,
  type LogGridOptions,
  type LogGridResult,
  logWalkForward,
  type LogWalkForwardOptions,
  type LogWalkForwardResult,
  summarizeSweep,
  type SummarizeSweepOptions,
  type SweepFailure,
  type SweepOptions,
  type SweepSummary,
  type WalkForwardFold,
} from "./src/sweep.ts";
export { type OverlayStyle, type PictureStyle, type SweepPictures, type SweepPicturesOptions } from "./src/sweep_pictures_options.ts";
export { type ConnectionOptions, setTrackingUri } from "./src/config.ts";
export { activeRun, endRun, setExperiment, type SetExperimentOptions } from "./src/fluent.ts";
export {
  type BestChild,
  bestChild,
  type BestChildOptions,
  downloadArtifact,
  getMetricHistory,
  getRun,
  listArtifacts,
  type ReadOptions,
  searchRuns,
  type SearchRunsOptions,
} from "./src/read_back.ts";
export {
  type BarsInMemory,
  type BarsSource,
  describeBars,
  type DescribeBarsOptions,
} from "./src/dataset.ts";
export type { Dataset } from "./src/dataset_inputs.ts";
export { MlflowError, type MlflowErrorInit, MlflowValidationError } from "./src/errors.ts";
export type { HeadersProvider, RetryOptions } from "./src/http.ts";
export type { BatchLimits } from "./src/batch.ts";
export type { AwsOptions } from "./src/aws/options.ts";
export type { GcpOptions } from "./src/gcp/options.ts";
export type { StatsNaming } from "./src/stats.ts";
export type { EquityColumns, EquityCurveInput, EquityRow, NormalizedEquity } from "./src/equity.ts";
export type { TradeColumns, TradeRow, TradesInput, TradesOptions } from "./src/trades.ts";
export type {
  Artifact,
  ArtifactBody,
  ArtifactEntry,
  CallOptions,
  CreateRunRequest,
  DatasetInput,
  DatasetRecord,
  ExperimentRef,
  KeyValue,
  LogBatchRequest,
  Metric,
  RunInfo,
  RunPage,
  RunQuery,
  RunSearch,
  RunStatus,
  StoredArtifact,
  StoredExperiment,
  StoredRun,
  TrackingStore,
} from "./src/store.ts";
export type { LocalFile } from "./src/runtime/fs_shared.ts";
export type { TimeInput } from "./src/time.ts";
