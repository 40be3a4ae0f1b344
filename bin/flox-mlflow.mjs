#!/usr/bin/env node
// The npm package's `flox-mlflow` command: the command line built into dist/node/cli.js
// (from src/cli/process.ts). In this repository, run src/cli/main.ts instead.
import process from "node:process";
import { setFlagsFromString } from "node:v8";

// `log` draws one chart in a process that has just started. Node 20's V8 would
// recompile resvg's WebAssembly with its optimising tier on the other core while
// that one chart is drawn, costing more CPU than the chart and slowing it (see
// the README's "Numbers" section, `npm run bench -- cold_start`). Set before
// anything is compiled; sweeps, which draw many charts, keep the optimising tier.
if (process.argv[2] === "log") setFlagsFromString("--liftoff-only");

const { runProcess } = await import("../dist/node/cli.js");
process.exit(await runProcess(process.argv.slice(2)));
