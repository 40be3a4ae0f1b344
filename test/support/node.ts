/**
 * Which runtime the tests run on, and the Node to start child processes with.
 *
 * @module
 */
import process from "node:process";
import { fileURLToPath } from "node:url";

/**
 * Whether the tests run on Node rather than Deno or Bun. The parts that start
 * other runtimes (workerd, Deno by URL, the packed tarball) run once, from
 * Node's pass of the suite.
 */
export const onNode: boolean = typeof (globalThis as { Deno?: unknown }).Deno === "undefined" &&
  typeof (globalThis as { Bun?: unknown }).Bun === "undefined";

/** The `node` binary for child processes: under Deno and Bun, `process.execPath` is their own binary, so the node on PATH. */
export const NODE: string = onNode ? process.execPath : "node";

/** tsx's ESM loader, for `node --import <TSX>` of this repository's TypeScript. */
export const TSX: string = fileURLToPath(new URL("../../node_modules/tsx/dist/esm/index.mjs", import.meta.url));
