/**
 * The process environment as the library reads it (`#env`'s `processEnv` on
 * Node, Deno and Bun): one variable at a time, when asked for, so a Deno
 * process reads only the names it was granted (the subprocess tests in
 * deno_permissions.test.ts run that case under exact flags).
 */
import assert from "node:assert/strict";
import process from "node:process";
import { describe, test } from "node:test";
import { processEnv } from "../src/runtime/env_node.ts";

describe("processEnv", () => {
  test("reads a variable by name when asked, as the environment holds it then", () => {
    const env = processEnv();
    const name = "FLOX_MLFLOW_ENV_TEST";
    delete process.env[name];
    assert.equal(env[name], undefined);
    assert.equal(name in env, false);
    process.env[name] = "file:./somewhere";
    try {
      assert.equal(env[name], "file:./somewhere");
      assert.equal(name in env, true);
    } finally {
      delete process.env[name];
    }
    assert.equal(env[name], undefined);
  });

  test("does not list the environment: nothing is read that was not asked for by name", () => {
    process.env.FLOX_MLFLOW_ENV_LISTED = "1";
    try {
      const env = processEnv();
      assert.deepEqual(Object.keys(env), []);
      assert.deepEqual({ ...env }, {});
    } finally {
      delete process.env.FLOX_MLFLOW_ENV_LISTED;
    }
  });

  test("cannot be written: the environment is the process's, not the library's", () => {
    const env = processEnv();
    // Modules are strict code: a refused write throws.
    assert.throws(() => {
      (env as Record<string, string>).FLOX_MLFLOW_ENV_WRITE = "x";
    }, TypeError);
    assert.equal(process.env.FLOX_MLFLOW_ENV_WRITE, undefined);
  });
});
