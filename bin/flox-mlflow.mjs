#!/usr/bin/env node
// The npm package's `flox-mlflow` command: the command line built into dist/node/cli.js
// (from src/cli/process.ts). In this repository, run src/cli/main.ts instead.
import process from "node:process";

const { runProcess } = await import("../dist/node/cli.js");
process.exit(await runProcess(process.argv.slice(2)));
