import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createAsyncContext } from "../src/runtime/context_edge.ts";
import { MlflowError } from "../src/errors.ts";

describe("the run context without AsyncLocalStorage (edge runtimes)", () => {
  test("one open run is the current one, also across awaits", async () => {
    const context = createAsyncContext<string>();
    assert.equal(context.get(), undefined);
    await context.run("parent", async () => {
      await new Promise((r) => setTimeout(r, 1));
      assert.equal(context.get(), "parent");
    });
    assert.equal(context.get(), undefined);
  });

  test("with runs open side by side it refuses to guess a parent", async () => {
    const context = createAsyncContext<string>();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const first = context.run("a", () => held);
    await context.run("b", async () => {
      assert.throws(() => context.get(), (err: unknown) => err instanceof MlflowError && /parentRunId/.test(err.message));
    });
    release();
    await first;
    assert.equal(context.get(), undefined);
  });

  test("a run that throws synchronously is closed", () => {
    const context = createAsyncContext<string>();
    assert.throws(() => context.run("x", () => {
      throw new RangeError("boom");
    }), RangeError);
    assert.equal(context.get(), undefined);
  });
});
