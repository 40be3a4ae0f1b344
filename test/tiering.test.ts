/**
 * resvg's WebAssembly on Node: the first chart is drawn without V8's
 * optimising tier recompiling resvg's functions on background threads (the
 * cost that doubled a one-chart process's time on 2 cores), and the tiering
 * budget is back to the process's own for WebAssembly created afterwards.
 * Checked from V8's own trace of what it compiled.
 *
 * @module
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { RESVG_TIERING_BUDGET, startingBudget, v8DefaultBudget } from "../src/runtime/tiering_node.ts";
import { NODE, TSX } from "./support/node.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));

function traceOf(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, [...args, "--import", TSX, join(REPO, "test", "support", "tiering_probe.ts")], { cwd: REPO });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(stdout) : reject(new Error(`probe exited ${code}: ${stderr}`))));
  });
}

interface Compiled {
  /** V8's address of the module's native code: tells modules apart. */
  module: string;
  tier: string;
  bodySize: number;
}

/** What V8 compiled, from `--trace-wasm-compilation-times` lines. */
function compilations(trace: string): Compiled[] {
  const line = /Compiled function (0x[0-9a-f]+)#\d+ using (\w+), took .* bodysize (\d+) /g;
  return [...trace.matchAll(line)].map((m) => ({ module: m[1]!, tier: m[2]!, bodySize: Number(m[3]) }));
}

/**
 * resvg's module (the one with by far the most functions compiled on first
 * call) and the probe's loop (its one 27-byte function); Node's own
 * WebAssembly (its module lexer) is neither.
 */
function modulesOf(trace: string): { resvg: Compiled[]; spin: Compiled[] } {
  const all = compilations(trace);
  const counts = new Map<string, number>();
  for (const c of all) if (c.tier === "Liftoff") counts.set(c.module, (counts.get(c.module) ?? 0) + 1);
  const resvg = [...counts].sort((a, b) => b[1] - a[1])[0]?.[0];
  const spin = all.find((c) => c.tier === "Liftoff" && c.bodySize === SPIN_BODY_SIZE)?.module;
  assert.ok(resvg !== undefined && spin !== undefined && resvg !== spin, `trace without both modules:\n${trace.slice(0, 2000)}`);
  return { resvg: all.filter((c) => c.module === resvg), spin: all.filter((c) => c.module === spin) };
}

const SPIN_BODY_SIZE = 27;

describe("resvg's WebAssembly on Node", () => {
  test("the first chart recompiles none of resvg's functions with TurboFan, and WebAssembly created afterwards is optimised at V8's usual budget", async () => {
    const { resvg, spin } = modulesOf(await traceOf(["--trace-wasm-compilation-times"]));
    // resvg ran: hundreds of its functions were compiled on first call.
    assert.ok(resvg.length > 100, `${resvg.length} resvg compilations`);
    assert.deepEqual(resvg.filter((c) => c.tier !== "Liftoff"), [], "resvg functions recompiled by TurboFan");
    assert.ok(spin.some((c) => c.tier === "TurboFan"), "the later module's hot loop was not optimised: the budget was not restored");
  });

  test("a budget the process was started with is the one restored, in either spelling; V8's default otherwise", () => {
    assert.equal(startingBudget([]), v8DefaultBudget());
    assert.equal(startingBudget(["--wasm-tiering-budget=5000"]), 5000);
    assert.equal(startingBudget(["--wasm_tiering_budget", "7000", "--no-warnings"]), 7000);
    assert.equal(startingBudget(["--wasm-tiering-budget=5000", "--wasm-tiering-budget=9000"]), 9000);
    assert.equal(startingBudget(["--wasm-tiering-budget=lots"]), v8DefaultBudget());
  });

  test("V8's default budget is the one its version starts with (node --v8-options on Node 20, 21, 22 and 24)", () => {
    assert.equal(v8DefaultBudget("11.3.244.8-node.38"), 1_800_000);
    assert.equal(v8DefaultBudget("11.8.172.17-node.20"), 13_000_000);
    assert.equal(v8DefaultBudget("12.4.254.21-node.57"), 13_000_000);
    assert.equal(v8DefaultBudget("13.6.233.17-node.53"), 13_000_000);
  });

  test("a process started with a budget at least as large keeps it: the chart's budget would only lower it", async () => {
    const { resvg, spin } = modulesOf(
      await traceOf([`--wasm-tiering-budget=${RESVG_TIERING_BUDGET + 1}`, "--trace-wasm-compilation-times"]),
    );
    // Neither reaches that budget, the later loop included: the process's own choice stood.
    assert.ok(resvg.length > 100, `${resvg.length} resvg compilations`);
    assert.deepEqual([...resvg, ...spin].filter((c) => c.tier !== "Liftoff"), []);
  });
});
