/**
 * A file store left behind by a process killed mid-write (kill -9) is usable
 * at once by the next writer.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { createFileStore } from "../src/file_store.ts";

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

// Runs a fixture script in a fresh process of this runtime and returns what it printed.
async function runScript(name: string, ...args: string[]): Promise<string> {
  const script = fileURLToPath(new URL(`./fixtures/scripts/${name}`, import.meta.url));
  const runtime = "Deno" in globalThis ? ["run", "-A", script] : "Bun" in globalThis ? [script] : ["--import", "tsx", script];
  const child = spawn(process.execPath, [...runtime, ...args], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (chunk) => (out += chunk));
  await new Promise((resolve) => child.once("exit", resolve));
  return out;
}

// The pid of a process that has exited: nothing runs under it (until the OS reuses it).
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await new Promise((resolve) => child.once("exit", resolve));
  return child.pid!;
}

describe("the file store after a writer was killed", () => {
  test("a lock left by a process on this host that is gone is broken at once, not after the stale period", async () => {
    const root = await mkdtemp(join(tmpdir(), "flox-lock-"));
    try {
      const store = createFileStore(root);
      await store.resolveExperiment({ name: "warm-up" });
      const name = "sma-grid";
      const lock = join(root, `.experiment-${await sha256Hex(name)}.lock`);
      await writeFile(lock, `${Date.now()} 0123456789abcdef ${hostname()}:${await deadPid()}`);
      const start = performance.now();
      const id = await store.resolveExperiment({ name });
      // The stale period is 10 s; a dead owner must not make the next writer wait for it.
      assert.ok(performance.now() - start < 5000, `waited ${performance.now() - start} ms`);
      assert.match(id, /^\d+$/);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe("staged uploads after a process was killed", () => {
  test("a staged file whose process is gone is removed by the next process that stages one; one in use is kept", async () => {
    const orphan = `flox-mlflow-${await deadPid()}-00112233aabbccdd.tmp`;
    const inUse = `flox-mlflow-${process.pid}-44556677aabbccdd.tmp`;
    await writeFile(join(tmpdir(), orphan), "left by a killed process");
    await writeFile(join(tmpdir(), inUse), "staged by this process, which runs");
    const { startTarget } = await import("./support/target.ts");
    const target = await startTarget();
    try {
      // The sweep happens once per process, before its first staged file: a fresh process stands for the next writer.
      assert.match(await runScript("stage_once.ts", target.trackingUri), /logged/);
      const left = await readdir(tmpdir());
      // Deno holds uploads in memory and stages nothing, so it has nothing to sweep.
      assert.equal(left.includes(orphan), "Deno" in globalThis, "the orphan is still there");
      assert.ok(left.includes(inUse), "a file of a running process was removed");
    } finally {
      await target.close();
      await rm(join(tmpdir(), orphan), { force: true });
      await rm(join(tmpdir(), inUse), { force: true });
    }
  });
});

describe("half-written files after a process was killed", () => {
  test("the next writer in an experiment removes temporaries of dead writers and keeps those in use", async () => {
    const root = await mkdtemp(join(tmpdir(), "flox-orphan-files-"));
    try {
      const first = createFileStore(root);
      const experimentId = await first.resolveExperiment({ name: "killed" });
      const run = await first.createRun({ experimentId, runName: "was-running", startTime: Date.now(), userId: "me", tags: [] });
      const runDir = join(root, experimentId, run.runId);
      const dead = await deadPid();
      await writeFile(join(runDir, `.tmp-${dead}-0011223344556677`), "x".repeat(1000));
      await writeFile(join(root, experimentId, `.tmp-${dead}-8899aabbccddeeff`), "meta: half");
      await writeFile(join(root, `.tmp-${dead}-0123456701234567`), "lock: half");
      await writeFile(join(runDir, `.tmp-${process.pid}-7766554433221100`), "in use");
      // The sweep happens once per process: a fresh process stands for the next writer.
      assert.match(await runScript("create_run_once.ts", root, experimentId), /created/);
      assert.deepEqual((await readdir(runDir)).filter((n) => n.startsWith(".tmp-")), [`.tmp-${process.pid}-7766554433221100`]);
      assert.deepEqual((await readdir(join(root, experimentId))).filter((n) => n.startsWith(".tmp-")), []);
      assert.deepEqual((await readdir(root)).filter((n) => n.startsWith(".tmp-")), []);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
