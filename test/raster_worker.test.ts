/**
 * Where PNGs are drawn when the library runs from its sources, in a child
 * process of the runtime running this file (the installed package's worker
 * file is checked in package.test.ts).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";

const PROBE = fileURLToPath(new URL("./fixtures/scripts/png_thread_probe.mjs", import.meta.url));
const MOD = fileURLToPath(new URL("../mod.ts", import.meta.url));
const RUNTIME = "Deno" in globalThis ? "Deno" : "Bun" in globalThis ? "Bun" : "Node";
// A worker left referenced would hold the process open long after the chart.
const PROMPT_MS = 2_000;

interface Probe {
  width: number;
  resvgOnThisThread: boolean;
  settledAt: number;
}

function probe(mode: "plain" | "wasm"): Promise<{ probe: Probe; exitedAt: number }> {
  const args = RUNTIME === "Deno" ? ["run", "-A", PROBE] : RUNTIME === "Bun" ? [PROBE] : ["--import", "tsx", PROBE];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...args, MOD, mode], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (chunk) => (out += chunk));
    child.on("error", reject);
    child.on("exit", (code) => {
      const exitedAt = Date.now();
      if (code !== 0) return reject(new Error(`the probe exited with ${code}: ${out}`));
      resolve({ probe: JSON.parse(out.trim().split("\n").at(-1)!) as Probe, exitedAt });
    });
  });
}

describe("PNG rendering thread", () => {
  test(`the sources draw PNGs on a worker thread under Deno and Bun, on the calling thread under Node 20 (its workers start from JavaScript only); ${RUNTIME} ends right after`, async () => {
    const { probe: result, exitedAt } = await probe("plain");
    assert.equal(result.width, 1200);
    assert.equal(result.resvgOnThisThread, RUNTIME === "Node");
    assert.ok(exitedAt - result.settledAt < PROMPT_MS, `exited ${exitedAt - result.settledAt} ms after the chart`);
  });

  test("initChart({ wasm }) keeps PNGs on the calling thread, with the module given", async () => {
    const { probe: result } = await probe("wasm");
    assert.equal(result.width, 1200);
    assert.equal(result.resvgOnThisThread, true);
  });
});
