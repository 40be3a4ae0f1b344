/**
 * How a Databricks connection is resolved before any request: the tracking
 * URI forms MLflow accepts, host normalisation and the order of environment
 * and profile file as the Databricks SDK resolves them, the SDK's refusal of
 * two sign-in methods at once, and experiment names as workspace paths.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { logBacktest, MlflowValidationError, setTrackingUri } from "../mod.ts";
import { parseIni } from "../src/databricks/config_file.ts";
import { workspaceExperimentPath } from "../src/databricks/experiment_path.ts";
import { normaliseHost, resolveDatabricksSettings } from "../src/databricks/settings.ts";
import { parseDatabricksUri } from "../src/databricks/uri.ts";

const validation = (pattern: RegExp, field?: string) => (err: unknown): boolean => {
  assert.ok(err instanceof MlflowValidationError, String(err));
  assert.match(err.message, pattern);
  if (field !== undefined) assert.equal(err.field, field);
  return true;
};

async function withConfigFile<T>(text: string, fn: (home: string) => Promise<T>): Promise<T> {
  const home = await mkdtemp(join(tmpdir(), "flox-dbcfg-"));
  try {
    await writeFile(join(home, ".databrickscfg"), text);
    return await fn(home);
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}

describe("Databricks tracking URIs", () => {
  test("databricks and databricks://<profile> are taken; the profile is the netloc", () => {
    assert.deepEqual(parseDatabricksUri("databricks", "trackingUri"), {});
    assert.deepEqual(parseDatabricksUri("databricks://ci", "trackingUri"), { profile: "ci" });
    assert.deepEqual(parseDatabricksUri("databricks://ci/", "trackingUri"), { profile: "ci" });
  });

  test("the secret-scope form is refused: it works only inside the Databricks runtime", () => {
    assert.throws(() => parseDatabricksUri("databricks://scope:prefix", "trackingUri"), validation(/only works inside the Databricks runtime/, "trackingUri"));
    // setTrackingUri checks it too, before any run.
    assert.throws(() => setTrackingUri("databricks://scope:prefix"), validation(/secret scopes/));
  });

  test("a URI naming no profile, or the Unity Catalog registry URI, is refused with the form to use", () => {
    assert.throws(() => parseDatabricksUri("databricks:/x", "trackingUri"), validation(/names no profile/));
    assert.throws(() => parseDatabricksUri("databricks://", "trackingUri"), validation(/names no profile/));
    assert.throws(() => parseDatabricksUri("databricks-uc", "trackingUri"), validation(/model registry URI/));
  });
});

describe("Databricks host and credentials", () => {
  test("hosts are normalised as the SDK does: https:// added, trailing slash and :443 dropped", () => {
    assert.equal(normaliseHost("adb-123.4.azuredatabricks.net", "DATABRICKS_HOST"), "https://adb-123.4.azuredatabricks.net");
    assert.equal(normaliseHost("https://dbc-1.cloud.databricks.com:443/", "DATABRICKS_HOST"), "https://dbc-1.cloud.databricks.com");
    assert.equal(normaliseHost("http://127.0.0.1:8080//", "DATABRICKS_HOST"), "http://127.0.0.1:8080");
    assert.throws(() => normaliseHost("https://user:pw@h", "DATABRICKS_HOST"), validation(/workspace URL alone/));
  });

  test("a token and a client secret at once is the SDK's 'more than one authorization method' error, naming variables only", async () => {
    const env = { DATABRICKS_HOST: "h", DATABRICKS_TOKEN: "dapi-secret-1", DATABRICKS_CLIENT_ID: "cid", DATABRICKS_CLIENT_SECRET: "dose-secret-2" };
    await assert.rejects(resolveDatabricksSettings(undefined, env), (err: unknown) => {
      validation(/more than one authorization method configured: oauth and pat/, "DATABRICKS_AUTH_TYPE")(err);
      const message = (err as Error).message;
      assert.match(message, /DATABRICKS_TOKEN, DATABRICKS_CLIENT_ID, DATABRICKS_CLIENT_SECRET/);
      assert.ok(!message.includes("dapi-secret-1") && !message.includes("dose-secret-2"));
      return true;
    });
    const chosen = await resolveDatabricksSettings(undefined, { ...env, DATABRICKS_AUTH_TYPE: "oauth-m2m" });
    assert.equal(chosen.auth.kind, "oauth-m2m");
  });

  test("set variables win over the file, which is not even read when they configure the workspace", async () => {
    await withConfigFile("[DEFAULT]\nhost = https://from-file.example.com\ntoken = file-token\n[broken\n", async (home) => {
      const fromEnv = await resolveDatabricksSettings(undefined, { HOME: home, DATABRICKS_HOST: "https://env.example.com", DATABRICKS_TOKEN: "env-token" });
      assert.equal(fromEnv.host, "https://env.example.com");
      assert.deepEqual(fromEnv.auth, { kind: "pat", token: "env-token", source: "DATABRICKS_TOKEN" });
      const fromFile = await resolveDatabricksSettings(undefined, { HOME: home });
      assert.equal(fromFile.host, "https://from-file.example.com");
      assert.equal(fromFile.auth.source, `token in profile 'DEFAULT' of ${home}/.databrickscfg`);
    });
  });

  test("a named profile takes the file's keys that the environment leaves unset", async () => {
    await withConfigFile("[ci]\nHost: https://ci.example.com\nclient_id = cid\nclient_secret = cs\n", async (home) => {
      const settings = await resolveDatabricksSettings("ci", { HOME: home, DATABRICKS_HOST: "https://override.example.com" });
      assert.equal(settings.host, "https://override.example.com");
      assert.equal(settings.auth.kind, "oauth-m2m");
    });
  });

  test("nothing configured names DATABRICKS_HOST; a named profile without a file says which file", async () => {
    const home = await mkdtemp(join(tmpdir(), "flox-dbcfg-"));
    try {
      await assert.rejects(resolveDatabricksSettings(undefined, { HOME: home }), validation(/set DATABRICKS_HOST.*does not exist/, "DATABRICKS_HOST"));
      await assert.rejects(resolveDatabricksSettings("prod", { HOME: home }), validation(/'prod' is named, but .*\.databrickscfg does not exist/));
      await assert.rejects(resolveDatabricksSettings(undefined, { DATABRICKS_HOST: "h" }), validation(/no Databricks credentials/, "DATABRICKS_TOKEN"));
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });

  test("sign-in methods this module does not speak are named, not silently ignored", async () => {
    await assert.rejects(
      resolveDatabricksSettings(undefined, { DATABRICKS_HOST: "h", ARM_CLIENT_ID: "a", ARM_CLIENT_SECRET: "b", ARM_TENANT_ID: "c" }),
      validation(/'azure' sign-in method is not supported/),
    );
  });

  test("the INI reader follows configparser: ':' or '=', comments, lower-cased keys, continuation lines", () => {
    const sections = parseIni("\uFEFF# top\n[p]\nHOST : https://h\n; note\ntoken=a=b\nmulti = one\n  two\n");
    assert.deepEqual(Object.fromEntries(sections.get("p")!), { host: "https://h", token: "a=b", multi: "one\ntwo" });
  });
});

describe("Databricks experiment names", () => {
  test("workspace paths are normalised: /Workspace stripped, // collapsed, trailing / dropped", () => {
    assert.equal(workspaceExperimentPath("/Workspace/Users/a@b.com//x/", "experiment"), "/Users/a@b.com/x");
    assert.equal(workspaceExperimentPath("/Shared/x", "experiment"), "/Shared/x");
    assert.equal(workspaceExperimentPath("/WorkspaceNotes/x", "experiment"), "/WorkspaceNotes/x");
  });

  test("a bare name, from the option or MLFLOW_EXPERIMENT_NAME, fails before anything is sent", async () => {
    let requests = 0;
    const counting: typeof fetch = (input, init) => {
      requests++;
      return fetch(input, init);
    };
    const env = { DATABRICKS_HOST: "http://127.0.0.1:9", DATABRICKS_TOKEN: "dapi1", MLFLOW_EXPERIMENT_NAME: "from-env" };
    await assert.rejects(
      logBacktest({ trackingUri: "databricks", env, fetch: counting, stats: { sharpe: 1 } }),
      validation(/'\/Users\/<your user name>\/from-env' or '\/Shared\/from-env'/, "experiment"),
    );
    assert.equal(requests, 0);
  });
});
