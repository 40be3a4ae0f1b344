/**
 * MLflow's fluent habits: a default experiment ({@link setExperiment}, like
 * `mlflow.set_experiment`), the active run ({@link activeRun}, like
 * `mlflow.active_run`) and ending it ({@link endRun}, like `mlflow.end_run`).
 *
 * `startRun` makes its run the active one until it ends; `startRun({ nested:
 * true })` makes the active run its parent. Inside a `logToMlflow` or
 * `logChild` callback the callback's run is the parent instead, which stays
 * right when many children are opened at once (Node, Deno, Bun). Outside any
 * callback the stack is one per process, as MLflow's is one per thread: runs
 * opened concurrently there with `nested: true` nest under whichever run is
 * newest, so concurrent children belong in a callback, under
 * `parent.startChild()`, or carry `parentRunId`. Edge workers have no active
 * run at all (one isolate serves many requests through shared globals).
 *
 * @module
 */
import { connect, type ConnectionOptions, experimentRef } from "./config.ts";
import { MlflowError, MlflowValidationError } from "./errors.ts";
import { currentActiveRun, setDefaultExperiment } from "./fluent_state.ts";
import { checkOptionKeys, CONNECTION_KEYS } from "./option_keys.ts";
import type { MlflowRun } from "./run.ts";
import { checkSignal, describeValue } from "./validation.ts";

/** Options of {@link setExperiment}: where the experiment is, and a signal. */
export interface SetExperimentOptions extends ConnectionOptions {
  /** Stops the lookup. */
  signal?: AbortSignal;
}

/**
 * Sets the experiment of every later run that names none (it wins over
 * `MLFLOW_EXPERIMENT_NAME`/`MLFLOW_EXPERIMENT_ID`, as in MLflow). By name,
 * the experiment is created when missing; by id, it must exist. A deleted
 * experiment is refused. `undefined` clears the default.
 *
 * @param experiment An experiment name, `{ experimentId }`, or `undefined`.
 * @param options Where the experiment is (the tracking URI later runs use).
 * @returns The experiment id, or `undefined` when cleared.
 * @throws {MlflowValidationError} On a bad name or id, before any request.
 * @throws {MlflowError} `RESOURCE_DOES_NOT_EXIST` for an unknown id, `INVALID_STATE` for a deleted experiment.
 * @example Runs go to the experiment set once
 * ```ts
 * import { setExperiment } from "./fluent.ts";
 * import { startRun } from "./run.ts";
 * const trackingUri = await Deno.makeTempDir();
 * const id = await setExperiment("sma-crossover", { trackingUri, env: {} });
 * const run = await startRun({ trackingUri, env: {} });
 * if (run.experimentId !== id) throw new Error();
 * await run.end();
 * await setExperiment(undefined);
 * ```
 */
export async function setExperiment(
  experiment: string | { experimentId: string } | undefined,
  options: SetExperimentOptions = {},
): Promise<string | undefined> {
  checkOptionKeys(options, [...CONNECTION_KEYS, "signal"], "options");
  checkSignal(options.signal, "signal");
  if (experiment === undefined) {
    setDefaultExperiment(undefined);
    return undefined;
  }
  let ref;
  if (typeof experiment === "string") ref = experimentRef({ experiment }, {});
  else if (typeof experiment === "object" && experiment !== null) {
    checkOptionKeys(experiment, ["experimentId"], "experiment");
    ref = experimentRef({ experimentId: experiment.experimentId }, {});
  } else {
    throw new MlflowValidationError("experiment", `must be a name, { experimentId } or undefined, got ${describeValue(experiment)}`);
  }
  const call = options.signal === undefined ? {} : { signal: options.signal };
  const { store } = connect(options);
  const found = await store.getExperiment(ref, call);
  const shown = ref.name !== undefined ? `'${ref.name}'` : `id '${ref.id}'`;
  if (found?.lifecycleStage === "deleted") {
    throw new MlflowError(`experiment ${shown} is deleted in ${store.location}; restore it (mlflow experiments restore) or choose another`, {
      errorCode: "INVALID_STATE",
    });
  }
  if (found === undefined && ref.id !== undefined) {
    throw new MlflowError(`experiment id '${ref.id}' does not exist in ${store.location}; pass an existing id, or a name to create`, {
      errorCode: "RESOURCE_DOES_NOT_EXIST",
    });
  }
  const id = found?.experimentId ?? await store.resolveExperiment(ref, call);
  setDefaultExperiment(ref);
  return id;
}

/**
 * The active run: the newest run `startRun` opened (in the caller's
 * `logToMlflow` callback, if inside one) that has not ended, else the
 * callback's own run. Always `undefined` on edge runtimes.
 *
 * @returns The run, or `undefined` when none is active.
 * @example The run startRun opened
 * ```ts
 * import { activeRun } from "./fluent.ts";
 * import { startRun } from "./run.ts";
 * const run = await startRun({ trackingUri: await Deno.makeTempDir(), env: {} });
 * if (activeRun() !== run) throw new Error();
 * await run.end();
 * if (activeRun() === run) throw new Error();
 * ```
 */
export function activeRun(): MlflowRun | undefined {
  return currentActiveRun();
}

/**
 * Ends the active run, as `mlflow.end_run`; does nothing when none is active.
 *
 * @param status `FINISHED` (default), `FAILED` or `KILLED`.
 * @returns When the status is stored.
 * @throws {MlflowError} When the store cannot record it.
 * @example End the run startRun opened
 * ```ts
 * import { endRun } from "./fluent.ts";
 * import { startRun } from "./run.ts";
 * const run = await startRun({ trackingUri: await Deno.makeTempDir(), env: {} });
 * await endRun();
 * if (run.status !== "FINISHED") throw new Error();
 * ```
 */
export async function endRun(status: "FINISHED" | "FAILED" | "KILLED" = "FINISHED"): Promise<void> {
  await currentActiveRun()?.end(status);
}
