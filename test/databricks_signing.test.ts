/**
 * The checks the Databricks tests lean on can fail: the fake bucket refuses
 * a tampered presigned URL, a missing signed header, a second auth mechanism
 * and a chunked PUT, each as S3 does; the client's OAuth tokens are renewed
 * before they expire and fetched once for many callers; and a signed URL
 * that keeps being refused ends in an error that shows neither the signature
 * nor the workspace's token.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { logBacktest, MlflowError } from "../mod.ts";
import { OAuthTokenSource } from "../src/databricks/oauth.ts";
import { DEFAULT_RETRY } from "../src/http.ts";
import { type FakeDatabricks, startFakeDatabricks } from "./support/fake_databricks.ts";

const FAST_RETRY = { initialDelayMs: 5, maxDelayMs: 50, timeoutMs: 10_000, budgetMs: 30_000 };

describe("the fake workspace's bucket checks presigned URLs with the AWS signer", () => {
  let ws: FakeDatabricks;
  let key: string;
  let signed: string;
  before(async () => {
    ws = await startFakeDatabricks();
    const { experiment_id: exp } = await ws.api<{ experiment_id: string }>("POST", "mlflow/experiments/create", { name: `/Users/${ws.userName}/sig` });
    const { run } = await ws.api<{ run: { info: { run_id: string } } }>("POST", "mlflow/runs/create", { experiment_id: exp });
    const answer = await ws.api<{ credential_infos: { signed_uri: string }[] }>("POST", "mlflow/artifacts/credentials-for-write", {
      run_id: run.info.run_id,
      path: ["a.txt"],
    });
    signed = answer.credential_infos[0]!.signed_uri;
    key = `${exp}/${run.info.run_id}/artifacts/a.txt`;
  });
  after(() => ws.close());

  const sse = { "x-amz-server-side-encryption": "AES256" };

  test("the URL with its signed header is accepted", async () => {
    const res = await fetch(signed, { method: "PUT", headers: sse, body: "ok" });
    assert.equal(res.status, 200, await res.text());
    assert.equal(new TextDecoder().decode(ws.bucket.objects.get(key)!.bytes), "ok");
  });

  test("a changed signature is SignatureDoesNotMatch", async () => {
    const url = new URL(signed);
    const sig = url.searchParams.get("X-Amz-Signature")!;
    url.searchParams.set("X-Amz-Signature", `${sig.slice(0, -1)}${sig.endsWith("0") ? "1" : "0"}`);
    const res = await fetch(url, { method: "PUT", headers: sse, body: "x" });
    assert.equal(res.status, 403);
    assert.match(await res.text(), /<Code>SignatureDoesNotMatch<\/Code>/);
  });

  test("leaving out the signed header, or sending another value, is SignatureDoesNotMatch", async () => {
    for (const headers of [{}, { "x-amz-server-side-encryption": "aws:kms" }] as Record<string, string>[]) {
      const res = await fetch(signed, { method: "PUT", headers, body: "x" });
      assert.equal(res.status, 403);
      assert.match(await res.text(), /SignatureDoesNotMatch/);
    }
  });

  test("an Authorization header next to the query signature is refused", async () => {
    const res = await fetch(signed, { method: "PUT", headers: { ...sse, authorization: `Bearer ${ws.pat}` }, body: "x" });
    assert.equal(res.status, 400);
    assert.match(await res.text(), /Only one auth mechanism allowed/);
  });

  test("a chunked PUT (no Content-Length) is NotImplemented", async () => {
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new Uint8Array([1, 2, 3]));
        c.close();
      },
    });
    const res = await fetch(signed, { method: "PUT", headers: sse, body, duplex: "half" } as RequestInit);
    assert.equal(res.status, 501);
    assert.match(await res.text(), /Transfer-Encoding/);
  });

  test("an upload whose signed URL is refused twice fails without showing the signature or the token", async () => {
    const tampered: string[] = [];
    // Every bucket request gets a wrong signature, as a URL altered on the way would.
    const tampering: typeof fetch = (input, init) => {
      const url = new URL(String(input instanceof Request ? input.url : input));
      const sig = url.searchParams.get("X-Amz-Signature");
      if (sig === null) return fetch(input, init);
      const bad = `${"0".repeat(sig.length - 4)}beef`;
      tampered.push(bad);
      url.searchParams.set("X-Amz-Signature", bad);
      return fetch(url, init);
    };
    const err = await logBacktest({
      trackingUri: "databricks",
      env: { DATABRICKS_HOST: ws.url, DATABRICKS_TOKEN: ws.pat },
      fetch: tampering,
      retry: FAST_RETRY,
      experiment: `/Users/${ws.userName}/tampered`,
      trades: [{ pnl: 1 }],
      chart: false,
    }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof MlflowError, String(err));
    assert.equal(err.status, 403);
    assert.match(err.message, /AWS_PRESIGNED_URL.*403 SignatureDoesNotMatch/);
    // Fresh credentials were fetched once: two PUTs of the file.
    assert.equal(tampered.length, 2);
    let texts = "";
    for (let e: unknown = err; e instanceof Error; e = e.cause) texts += `${e.message}\n${e.stack}\n`;
    for (const secret of [...tampered, ws.pat, "X-Amz-Signature", "X-Amz-Credential"]) assert.ok(!texts.includes(secret), secret);
  });
});

describe("OAuth tokens of a service principal", () => {
  let ws: FakeDatabricks;
  before(async () => {
    ws = await startFakeDatabricks({ tokenTtlSeconds: 3600 });
  });
  after(() => ws.close());

  const source = (now: () => number) =>
    new OAuthTokenSource({ host: ws.url, clientId: ws.clientId, clientSecret: ws.clientSecret, source: "test", fetch, retry: DEFAULT_RETRY, now });

  test("a token is kept until max(40 s, 10 % of its lifetime) before it expires, then fetched again", async () => {
    let clock = Date.now();
    const tokens = source(() => clock);
    const first = await tokens.authorization();
    assert.match(first, /^Bearer fake-oauth-/);
    clock += 3600_000 - 360_001; // 10 % of an hour is 6 minutes: still fresh
    assert.equal(await tokens.authorization(), first);
    clock += 2; // now inside the last 6 minutes
    const second = await tokens.authorization();
    assert.notEqual(second, first);
    assert.equal(ws.oauth.issued.length, 2);
  });

  test("a short-lived token is renewed 40 s early", async () => {
    ws.oauth.setTtl(60);
    try {
      let clock = Date.now();
      const tokens = source(() => clock);
      const first = await tokens.authorization();
      clock += 19_000;
      assert.equal(await tokens.authorization(), first);
      clock += 1_001;
      assert.notEqual(await tokens.authorization(), first);
    } finally {
      ws.oauth.setTtl(3600);
    }
  });

  test("many callers needing a token at once share one token request", async () => {
    const before = ws.oauth.issued.length;
    const tokens = source(Date.now);
    const headers = await Promise.all(Array.from({ length: 8 }, () => tokens.authorization()));
    assert.equal(new Set(headers).size, 1);
    assert.equal(ws.oauth.issued.length - before, 1);
  });

  test("a refused token is forgotten, so the next request fetches a new one", async () => {
    const tokens = source(Date.now);
    const first = await tokens.authorization();
    assert.equal(tokens.rejected(first), true);
    assert.notEqual(await tokens.authorization(), first);
  });
});
