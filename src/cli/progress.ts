/**
 * Progress of a sweep on standard error: a bar redrawn in place on a
 * terminal, plain lines (about one per 5%) when standard error is a file or
 * a pipe, so logs stay readable.
 *
 * @module
 */

/** Where progress goes and whether it is a terminal. */
export interface ProgressSink {
  /** Writes text to standard error. */
  write(text: string): void;
  /** Whether standard error is a terminal. */
  isTTY: boolean;
}

/** What a sweep calls as cells settle, and once at the end. */
export interface Progress {
  /** Called with the cells settled so far and the total. */
  update(done: number, total: number): void;
  /** Ends the bar's line on a terminal. */
  finish(): void;
}

const BAR_WIDTH = 30;
const LINES = 20;

/**
 * A progress reporter for `what` (`cells`, `folds`).
 *
 * @param sink Standard error.
 * @param label The command, e.g. `flox-mlflow grid`.
 * @param what What is counted, e.g. `cells`.
 * @returns The reporter.
 * @example Plain lines when not a terminal
 * ```ts
 * import { createProgress } from "./progress.ts";
 * let out = "";
 * const progress = createProgress({ write: (t) => { out += t; }, isTTY: false }, "flox-mlflow grid", "cells");
 * for (let i = 1; i <= 4; i++) progress.update(i, 4);
 * progress.finish();
 * if (!out.endsWith("flox-mlflow grid: 4/4 cells\n")) throw new Error(out);
 * ```
 */
export function createProgress(sink: ProgressSink, label: string, what: string): Progress {
  let lastStep = 0;
  let drawn = false;
  return {
    update(done, total) {
      if (sink.isTTY) {
        const filled = total === 0 ? BAR_WIDTH : Math.round((done / total) * BAR_WIDTH);
        sink.write(`\r${label} [${"#".repeat(filled)}${"-".repeat(BAR_WIDTH - filled)}] ${done}/${total} ${what}`);
        drawn = true;
        return;
      }
      // A line per ~5%: a 1000-cell grid writes 20 lines, a 4-cell grid one per cell.
      const step = total === 0 ? LINES : Math.floor((done * LINES) / total);
      if (step === lastStep && done !== total) return;
      lastStep = step;
      sink.write(`${label}: ${done}/${total} ${what}\n`);
    },
    finish() {
      if (drawn) sink.write("\n");
      drawn = false;
    },
  };
}
