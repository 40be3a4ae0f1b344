/**
 * No password or token leaves the module in anything a user or a log can
 * see: an error's message, its `cause` chain, `String(err)`, `util.inspect`,
 * `JSON.stringify`, a warning, a tag or an artifact. Runtimes repeat their
 * input in their own error texts (Deno's `new URL`, Node's `input` property,
 * header errors that quote the value), so none of those texts may be passed on.
 */
import { after, afterEach, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { logBacktest, logToMlflow, MlflowError, MlflowValidationError, setTrackingUri, startRun } from "../mod.ts";
import { redactUri } from "../src/config.ts";
import { openRestBackend, type RestBackend } from "./support/backends.ts";

const PASSWORD = "pw-S3cr3t-7q";
const TOKEN = "tok-S3cr3t-9z";

// Everything a secret could hide in: each error of the cause chain (and of an
// AggregateError), in every form a user or a logger prints it.
function leaks(err: unknown, secrets: readonly string[]): string[] {
  const found: string[] = [];
  const seen = new Set<unknown>();
  const visit = (value: unknown, where: string): void => {
    if (value === undefined || value === null || seen.has(value)) return;
    seen.add(value);
    const forms: Record<string, string> = {
      String: String(value),
      inspect: inspect(value, { depth: 10, showHidden: true }),
      JSON: JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? String(v) : v)) ?? "",
    };
    if (value instanceof Error) forms.message = value.message;
    for (const [form, text] of Object.entries(forms)) {
      for (const secret of secrets) if (text.includes(secret)) found.push(`${where} ${form} holds '${secret}'`);
    }
    if (value instanceof Error) {
      visit(value.cause, `${where}.cause`);
      if (value instanceof AggregateError) value.errors.forEach((e, i) => visit(e, `${where}.errors[${i}]`));
    }
  };
  visit(err, "error");
  return found;
}

async function failure(call: () => Promise<unknown> | unknown): Promise<unknown> {
  try {
    await call();
  } catch (err) {
    return err;
  }
  assert.fail("expected the call to fail");
}

describe("secrets never leave the module", () => {
  let backend: RestBackend;
  let host: string;
  const warnings: string[] = [];
  const originalWarn = console.warn;
  before(async () => {
    backend = await openRestBackend();
    host = backend.trackingUri.replace(/^http:\/\//, "");
  });
  after(() => backend.close());
  beforeEach(() => {
    warnings.length = 0;
    console.warn = (...args: unknown[]) => {
      warnings.push(args.map((a) => (typeof a === "string" ? a : inspect(a))).join(" "));
    };
  });
  afterEach(() => {
    console.warn = originalWarn;
    setTrackingUri(undefined);
    assert.deepEqual(warnings.filter((w) => w.includes(PASSWORD) || w.includes(TOKEN)), [], "a warning holds a secret");
  });

  const onWarning = (message: string) => warnings.push(message);
  // A fetch that records the Authorization header it is asked to send.
  const recordingFetch = (sent: string[]): typeof fetch => (input, init) => {
    sent.push(new Headers(init?.headers).get("authorization") ?? "");
    return fetch(input, init);
  };

  async function refusedWithoutLeak(call: () => Promise<unknown> | unknown, field: string, secrets: string[]): Promise<MlflowValidationError> {
    const before = backend.server.requests.length;
    const err = await failure(call);
    assert.ok(err instanceof MlflowValidationError, `expected a validation error, got ${String(err)}`);
    assert.equal(err.field, field);
    assert.deepEqual(leaks(err, secrets), []);
    assert.equal(backend.server.requests.length, before, "a request was sent");
    return err;
  }

  test("a URI whose password cannot be read is refused without the password, whatever the runtime's URL error says", async () => {
    // A raw '/' ends the authority early, so the URL does not parse: Deno's message and Node's `input` repeat it.
    for (const password of [`pa/${PASSWORD}`, `pa#${PASSWORD}`, `pa?${PASSWORD}`, `${PASSWORD}%zz`, `%zz${PASSWORD}`]) {
      const uri = `http://me:${password}@${host}`;
      const err = await refusedWithoutLeak(() => logBacktest({ trackingUri: uri, env: {}, stats: { x: 1 } }), "trackingUri", [PASSWORD]);
      assert.match(err.message, /http:\/\/\*\*\*@/);
      await refusedWithoutLeak(() => setTrackingUri(uri), "trackingUri", [PASSWORD]);
      await refusedWithoutLeak(() => startRun({ trackingUri: uri, env: {} }), "trackingUri", [PASSWORD]);
    }
    // The same URI from the environment names the variable.
    await refusedWithoutLeak(
      () => logBacktest({ env: { MLFLOW_TRACKING_URI: `http://me:pa/${PASSWORD}@${host}` }, stats: { x: 1 } }),
      "MLFLOW_TRACKING_URI",
      [PASSWORD],
    );
  });

  test("passwords holding '@', ':', '/' or '%', raw or percent-encoded, reach the server as Basic credentials and nowhere else", async () => {
    const cases: Array<[string, string]> = [
      [`p@${PASSWORD}`, `p@${PASSWORD}`],
      [`p:${PASSWORD}:x`, `p:${PASSWORD}:x`],
      [`p%40${PASSWORD}`, `p@${PASSWORD}`],
      [`p%2F${PASSWORD}`, `p/${PASSWORD}`],
      [`p%25${PASSWORD}`, `p%${PASSWORD}`],
      [`p%3A${PASSWORD}`, `p:${PASSWORD}`],
    ];
    for (const [inUri, decoded] of cases) {
      const sent: string[] = [];
      const runId = await logBacktest({
        trackingUri: `http://me:${inUri}@${host}`, env: {}, fetch: recordingFetch(sent), onWarning,
        stats: { sharpe: 1 }, trades: [{ pnl: 1 }], chart: false, runName: "credentials",
      });
      assert.equal(sent[0], `Basic ${btoa(`me:${decoded}`)}`, inUri);
      const run = await backend.getRun(runId);
      const stored = JSON.stringify(run) + new TextDecoder().decode(await backend.artifact(runId, "trades.csv"));
      assert.ok(!stored.includes(PASSWORD), `the run of ${inUri} holds the password`);
    }
  });

  test("errors from the server, the network and the chart never carry the URI's password", async () => {
    const uri = `http://me:p@${PASSWORD}@${host}`;
    backend.server.injectFault({ path: "/api/2.0/mlflow/runs/create", status: 401, times: 1 });
    const unauthorized = await failure(() => logBacktest({ trackingUri: uri, env: {}, stats: { x: 1 }, retry: { maxRetries: 0 } }));
    assert.ok(unauthorized instanceof MlflowError && unauthorized.status === 401, String(unauthorized));
    assert.deepEqual(leaks(unauthorized, [PASSWORD]), []);

    const closed = await failure(() =>
      logBacktest({ trackingUri: `http://me:${PASSWORD}@127.0.0.1:9`, env: {}, stats: { x: 1 }, retry: { maxRetries: 0 } })
    );
    assert.ok(closed instanceof MlflowError && closed.errorCode === "NETWORK_ERROR", String(closed));
    assert.deepEqual(leaks(closed, [PASSWORD]), []);

    // A chart that fails becomes a warning and a tag; neither may hold the URI.
    const runId = await logBacktest({
      trackingUri: uri, env: {}, onWarning, runName: "chart-fails",
      equityCurve: [{ timestamp_ns: 1n, equity: NaN }, { timestamp_ns: 2n, equity: 1 }],
    });
    assert.ok(warnings.some((w) => w.includes("equity chart")), "the chart warning was not given");
    assert.ok(!JSON.stringify(await backend.getRun(runId)).includes(PASSWORD));
  });

  test("a file: URI with credentials is refused without them", async () => {
    for (const uri of [`file://me:${PASSWORD}@localhost/tmp/mlruns`, `file://me:${PASSWORD}@fileserver/share`, `file://me:p@${PASSWORD}@x/`]) {
      await refusedWithoutLeak(() => logBacktest({ trackingUri: uri, env: {}, stats: { x: 1 } }), "trackingUri", [PASSWORD]);
      await refusedWithoutLeak(() => setTrackingUri(uri), "trackingUri", [PASSWORD]);
    }
    // Nor does a URI that is neither a server nor a path echo what looks like credentials.
    await refusedWithoutLeak(() => logBacktest({ trackingUri: `ftp://me:${PASSWORD}@x/`, env: {}, stats: { x: 1 } }), "trackingUri", [PASSWORD]);
  });

  test("a token fetch could not send is refused naming MLFLOW_TRACKING_TOKEN, never quoting it", async () => {
    for (const token of [`${TOKEN}\nx`, `a\r\n${TOKEN}`, `${TOKEN}\0`, `${TOKEN}\u20ac`]) {
      await refusedWithoutLeak(
        () => logBacktest({ trackingUri: backend.trackingUri, env: { MLFLOW_TRACKING_TOKEN: token }, stats: { x: 1 } }),
        "MLFLOW_TRACKING_TOKEN",
        [TOKEN],
      );
    }
    // A token read from a file with its final newline is sent as fetch sends it: trimmed.
    const sent: string[] = [];
    await logBacktest({ trackingUri: backend.trackingUri, env: { MLFLOW_TRACKING_TOKEN: `${TOKEN}\n` }, fetch: recordingFetch(sent), stats: { x: 1 } });
    assert.equal(sent[0], `Bearer ${TOKEN}`);
  });

  test("a password with a line break is sent inside Basic credentials, which any header carries", async () => {
    const sent: string[] = [];
    const env = { MLFLOW_TRACKING_USERNAME: "me", MLFLOW_TRACKING_PASSWORD: `${PASSWORD}\n/%@:`, MLFLOW_TRACKING_TOKEN: TOKEN };
    const runId = await logBacktest({ trackingUri: backend.trackingUri, env, fetch: recordingFetch(sent), stats: { x: 1 } });
    assert.equal(sent[0], `Basic ${btoa(`me:${PASSWORD}\n/%@:`)}`);
    assert.ok(!JSON.stringify(await backend.getRun(runId)).includes(PASSWORD));
    const closed = await failure(() =>
      logBacktest({ trackingUri: "http://127.0.0.1:9", env, stats: { x: 1 }, retry: { maxRetries: 0 } })
    );
    assert.deepEqual(leaks(closed, [PASSWORD, TOKEN]), []);
  });

  test("a headers option holding a value fetch would refuse is refused naming the header, never quoting it", async () => {
    for (const value of [`Bearer ${TOKEN}\nx`, `Bearer ${TOKEN}\u20ac`, `${TOKEN}\0`]) {
      await refusedWithoutLeak(
        () => logBacktest({ trackingUri: backend.trackingUri, env: {}, headers: { Authorization: value }, stats: { x: 1 } }),
        'headers["Authorization"]',
        [TOKEN],
      );
      await refusedWithoutLeak(
        () => logToMlflow({ trackingUri: backend.trackingUri, env: {}, headers: { "X-Api-Key": value } }, () => 1),
        'headers["X-Api-Key"]',
        [TOKEN],
      );
    }
    await refusedWithoutLeak(
      () => startRun({ trackingUri: backend.trackingUri, env: {}, headers: { "Bad Name": TOKEN } }),
      'headers["Bad Name"]',
      [TOKEN],
    );
    await refusedWithoutLeak(
      () => startRun({ trackingUri: backend.trackingUri, env: {}, headers: { "X-Api-Key": 42 as unknown as string } }),
      'headers["X-Api-Key"]',
      [TOKEN],
    );
  });

  // The headers function is called per request, inside src/http.ts: fetch's
  // TypeError quotes the value (Node: `Headers.append: "Bearer …" is an invalid
  // header value.`, Deno: `Invalid header value: "Bearer …"`) and becomes the
  // NETWORK_ERROR's message and cause.
  test("a token from a headers function that fetch refuses does not appear in the error", async () => {
    const err = await failure(() =>
      logBacktest({
        trackingUri: backend.trackingUri, env: {}, stats: { x: 1 }, retry: { maxRetries: 0 },
        headers: () => ({ Authorization: `Bearer ${TOKEN}\nx` }),
      })
    );
    assert.ok(err instanceof MlflowError, String(err));
    assert.deepEqual(leaks(err, [TOKEN]), []);
  });

  test("redactUri hides everything before the last '@' and any query, and leaves other URIs alone", () => {
    assert.equal(redactUri(`http://me:p@${PASSWORD}@h:5000/x`), "http://***@h:5000/x");
    assert.equal(redactUri(`https://me:pa/${PASSWORD}@h`), "https://***@h");
    assert.equal(redactUri(`http://h:5000/?token=${TOKEN}#x`), "http://h:5000/?***");
    assert.equal(redactUri(`me:${PASSWORD}@h`), "me:***@h");
    assert.equal(redactUri("http://127.0.0.1:5000/prefix"), "http://127.0.0.1:5000/prefix");
  });
});
