/**
 * The process-wide state behind MLflow's fluent habits: the default
 * experiment ({@link setDefaultExperiment}), the stack of active runs, and
 * which `MLFLOW_RUN_ID` values have been used.
 *
 * The active-run stack follows MLflow's model (one stack per thread, here per
 * process), with one change for concurrent async code: every entry remembers
 * the `logToMlflow`/`logChild` scope it was opened in, and only runs opened in
 * the caller's own scope count. Concurrent scopes therefore never see each
 * other's runs. On runtimes without `AsyncLocalStorage` (edge workers, where
 * one isolate serves many requests through shared globals) nothing is pushed
 * and there is never an active run: a run cannot be told to belong to a request.
 *
 * @module
 */
import { type AsyncContext, createAsyncContext } from "#context";
import type { MlflowRun } from "./run.ts";
import type { ExperimentRef } from "./store.ts";

export type { AsyncContext };

/** The run whose `logToMlflow`/`logChild` callback the caller is inside, where the runtime can tell. */
export const runScope: AsyncContext<MlflowRun> = createAsyncContext<MlflowRun>();

const stack: { run: MlflowRun; scope: MlflowRun | undefined }[] = [];
let experiment: ExperimentRef | undefined;
const usedRunIds = new Set<string>();

/**
 * Puts a run opened by `startRun` on top of the active-run stack of the
 * caller's scope. Does nothing where the runtime cannot tell scopes apart.
 *
 * @param run The run.
 * @example Nothing to push on a runtime without async context
 * ```ts
 * import { pushActiveRun, runScope } from "./fluent_state.ts";
 * if (typeof pushActiveRun !== "function" || typeof runScope.tracks !== "boolean") throw new Error();
 * ```
 */
export function pushActiveRun(run: MlflowRun): void {
  if (runScope.tracks) stack.push({ run, scope: runScope.get() });
}

/**
 * Takes an ended run off the stack, wherever it is.
 *
 * @param run The run.
 * @example Removing a run that is not there does nothing
 * ```ts
 * import { removeActiveRun } from "./fluent_state.ts";
 * import type { MlflowRun } from "./run.ts";
 * removeActiveRun({} as MlflowRun);
 * ```
 */
export function removeActiveRun(run: MlflowRun): void {
  const at = stack.findIndex((entry) => entry.run === run);
  if (at >= 0) stack.splice(at, 1);
}

/**
 * The newest run still open that `startRun` opened in the caller's scope,
 * else the scope's own run; `undefined` outside any (and always on the edge).
 *
 * @returns The active run.
 * @example No run is active at first
 * ```ts
 * import { currentActiveRun } from "./fluent_state.ts";
 * if (currentActiveRun() !== undefined) throw new Error();
 * ```
 */
export function currentActiveRun(): MlflowRun | undefined {
  if (!runScope.tracks) return undefined;
  const scope = runScope.get();
  for (let i = stack.length - 1; i >= 0; i--) if (stack[i]!.scope === scope) return stack[i]!.run;
  return scope;
}

/**
 * Sets (or with `undefined` clears) the experiment of calls that name none.
 *
 * @param ref The experiment, by name or id.
 * @example Set and clear
 * ```ts
 * import { defaultExperiment, setDefaultExperiment } from "./fluent_state.ts";
 * setDefaultExperiment({ name: "x" });
 * if (defaultExperiment()?.name !== "x") throw new Error();
 * setDefaultExperiment(undefined);
 * ```
 */
export function setDefaultExperiment(ref: ExperimentRef | undefined): void {
  experiment = ref;
}

/**
 * The experiment {@link setDefaultExperiment} set, if any.
 *
 * @returns The experiment reference.
 * @example Nothing set
 * ```ts
 * import { defaultExperiment } from "./fluent_state.ts";
 * if (defaultExperiment() !== undefined) throw new Error();
 * ```
 */
export function defaultExperiment(): ExperimentRef | undefined {
  return experiment;
}

/**
 * Whether an `MLFLOW_RUN_ID` value has resumed a run in this process already.
 * MLflow's `start_run` removes the variable once it has used it, so only the
 * first run of a process resumes it.
 *
 * @param runId The value.
 * @returns Whether it was used.
 * @example Used once
 * ```ts
 * import { envRunIdUsed, markEnvRunIdUsed } from "./fluent_state.ts";
 * markEnvRunIdUsed("abc");
 * if (!envRunIdUsed("abc")) throw new Error();
 * ```
 */
export function envRunIdUsed(runId: string): boolean {
  return usedRunIds.has(runId);
}

/**
 * Records that an `MLFLOW_RUN_ID` value has resumed a run.
 *
 * @param runId The value.
 * @example Mark a value
 * ```ts
 * import { markEnvRunIdUsed } from "./fluent_state.ts";
 * markEnvRunIdUsed("0123456789abcdef0123456789abcdef");
 * ```
 */
export function markEnvRunIdUsed(runId: string): void {
  usedRunIds.add(runId);
}
