/**
 * The in-memory MLflow server answers like the real MLflow 3.11 server: every
 * recorded transcript is replayed against it in order, then the fault proxy,
 * forwarding, `serve()`, the REST reader and behaviours the transcripts do not
 * show.
 */

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { createFaultProxy, type FaultProxy } from "./support/fault_proxy.ts";
import { forwardTo } from "./support/http_forward.ts";
import { createMlflowServer, type MlflowTestServer } from "./support/mlflow_server.ts";
import { DropConnection, serve, type ServedHandler } from "./support/serve.ts";
import { restReader, startTarget } from "./support/target.ts";

const TRANSCRIPT_DIR = fileURLToPath(new URL("./fixtures/mlflow-transcripts/", import.meta.url));
const MARKER = /\n\.\.\. \[(\d+) bytes total, truncated in transcript(?:; sha256 ([0-9a-f]+))?\] \.\.\.(?:\n|$)/;
const RUN_ID = /([0-9a-f]{32})/;
/**
 * Where an experiment id stands in a transcript: in an artifact path or URI
 * before a run id, or as the value of `experiment_id(s)`. Only ids the harness
 * bound are rewritten, so other numbers are left alone.
 */
const EXPERIMENT_ID = /(mlflow-artifacts:\/|\/mlflow-artifacts\/(?:artifacts|mpu\/\w+)\/|[?&]path=|"experiment_ids?"\s*:\s*\[?\s*")(\d+)(?=[/"])/g;
/** Fields the server fills with its own clock. */
const SERVER_TIMESTAMPS = new Set(["creation_time", "last_update_time"]);

interface Truncated {
  head: string;
  tail: string;
  totalBytes: number;
  sha256Prefix: string | undefined;
}

interface Transcript {
  name: string;
  method: string;
  pathAndQuery: string;
  requestHeaders: [string, string][];
  requestBody: string | undefined;
  status: number;
  responseHeaders: Map<string, string>;
  responseBody: string | Truncated;
}

const utf8 = new TextEncoder();
const byteLength = (s: string): number => utf8.encode(s).length;

function splitTruncated(text: string): string | Truncated {
  const m = MARKER.exec(text);
  if (m === null) return text;
  return {
    head: text.slice(0, m.index),
    tail: text.slice(m.index + m[0].length),
    totalBytes: Number(m[1]),
    sha256Prefix: m[2],
  };
}

function section(text: string, start: string, end: string | undefined): string {
  const from = text.indexOf(start);
  assert.ok(from >= 0, `missing ${start}`);
  const to = end === undefined ? text.length : text.indexOf(end, from + start.length);
  return text.slice(from + start.length, to);
}

function parseTranscript(name: string, text: string): Transcript {
  // Each section ends with one blank separator line; the last one with the file's final newline.
  const request = section(text, "### REQUEST\n", "\n### STATUS\n").replace(/\n$/, "");
  const blank = request.indexOf("\n\n");
  const head = blank >= 0 ? request.slice(0, blank) : request;
  const [requestLine = "", ...headerLines] = head.split("\n");
  const [method = "", url = ""] = requestLine.split(" ");
  const responseHeaderLines = section(text, "### RESPONSE HEADERS\n", "\n### RESPONSE BODY\n").trim().split("\n").slice(1);
  return {
    name,
    method,
    pathAndQuery: url.replace(/^https?:\/\/[^/]+/, ""),
    requestHeaders: headerLines.filter((line) => line.trim() !== "").map((line) => {
      const colon = line.indexOf(":");
      return [line.slice(0, colon).trim(), line.slice(colon + 1).trim()];
    }),
    requestBody: blank >= 0 ? request.slice(blank + 2) : undefined,
    status: Number(section(text, "### STATUS\n", "\n").trim()),
    responseHeaders: new Map(
      responseHeaderLines.map((line) => {
        const colon = line.indexOf(":");
        return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()];
      }),
    ),
    // Newer transcripts end with a "### NOTE" on the exchange, which is not part of the body.
    responseBody: splitTruncated(section(text, "### RESPONSE BODY\n", text.includes("\n### NOTE\n") ? "\n### NOTE\n" : undefined).replace(/\n$/, "")),
  };
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", utf8.encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Rebuilds a body cut in the middle: a run of one repeated character, or a
 * list of flat JSON objects whose numbers grow by a constant step per element
 * (`{"key": "p7", "value": "7"}`). The byte count and the sha256 prefix of the
 * transcript must match, so a wrong guess fails loudly.
 */
async function rebuild(t: Truncated): Promise<string> {
  assert.ok(t.tail !== "", "a body without a visible end cannot be rebuilt");
  let body: string;
  const last = t.head[t.head.length - 1];
  if (last !== undefined && t.tail.startsWith(last)) {
    body = t.head + last.repeat(t.totalBytes - byteLength(t.head) - byteLength(t.tail)) + t.tail;
  } else {
    const items = [...t.head.matchAll(/\{[^{}]*\}/g)];
    const tailItems = [...t.tail.matchAll(/\{[^{}]*\}/g)];
    const [first, second] = items;
    const lastItem = tailItems[tailItems.length - 1];
    assert.ok(first !== undefined && second !== undefined && lastItem !== undefined, "no repeated items to extend");
    const numbers = (s: string): string[] => s.match(/\d+(?:\.\d+)?/g) ?? [];
    const literals = (s: string): string[] => s.split(/\d+(?:\.\d+)?/);
    const a = numbers(first[0]);
    const b = numbers(second[0]);
    const z = numbers(lastItem[0]);
    const steps = a.map((x, i) => Number(b[i]) - Number(x));
    const slot = steps.findIndex((s) => s !== 0);
    const count = (Number(z[slot]) - Number(a[slot])) / (steps[slot] as number) + 1;
    const parts = literals(first[0]);
    const item = (n: number): string =>
      parts
        .map((lit, i) => {
          if (i === a.length) return lit;
          const start = a[i] as string;
          const decimals = start.includes(".") ? start.length - start.indexOf(".") - 1 : 0;
          return lit + (Number(start) + n * (steps[i] as number)).toFixed(decimals);
        })
        .join("");
    const separator = t.head.slice(first.index + first[0].length, second.index);
    const prefix = t.head.slice(0, first.index);
    const suffix = t.tail.slice(lastItem.index + lastItem[0].length);
    body = prefix + Array.from({ length: count }, (_, n) => item(n)).join(separator) + suffix;
  }
  assert.ok(body.startsWith(t.head) && body.endsWith(t.tail), "rebuilt body does not keep the visible parts");
  assert.equal(byteLength(body), t.totalBytes, "rebuilt body has the wrong size");
  if (t.sha256Prefix !== undefined) assert.ok((await sha256Hex(body)).startsWith(t.sha256Prefix), "rebuilt body has the wrong sha256");
  return body;
}

/** Maps the run and experiment ids of the transcripts to the ids this server generated. */
class IdBinder {
  private readonly ids = new Map<string, string>();
  private readonly experiments = new Map<string, string>();

  /** Binds a run id the transcripts use to a run the harness created for them. */
  bindRun(recorded: string, actual: string): void {
    assert.ok(![...this.ids.values()].includes(actual), `server id ${actual} reused for transcript id ${recorded}`);
    this.ids.set(recorded, actual);
  }

  /** Binds an experiment id the transcripts use to one the harness created. */
  bindExperiment(recorded: string, actual: string): void {
    this.experiments.set(recorded, actual);
  }

  /** The experiment id bound to a recorded one. */
  experimentId(recorded: string): string {
    const bound = this.experiments.get(recorded);
    assert.ok(bound !== undefined, `experiment ${recorded} of the transcripts is not bound`);
    return bound;
  }

  /** The experiment ids of `text` replaced by their bound ones. */
  rewriteExperiments(text: string): string {
    return text.replace(EXPERIMENT_ID, (whole, before: string, id: string) => {
      const bound = this.experiments.get(id);
      return bound === undefined ? whole : before + bound;
    });
  }

  rewrite(text: string): string {
    let out = this.rewriteExperiments(text);
    for (const [from, to] of this.ids) out = out.split(from).join(to);
    return out;
  }

  /** True when `actual` is `expected` with its ids replaced; binds ids seen for the first time. */
  matches(expected: string, actual: string): boolean {
    const parts = expected.split(RUN_ID);
    const fresh: string[] = [];
    const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const pattern = parts
      .map((part, i) => {
        if (i % 2 === 0) return escape(part);
        const bound = this.ids.get(part);
        if (bound !== undefined) return escape(bound);
        const seen = fresh.indexOf(part);
        if (seen >= 0) return `\\${seen + 1}`;
        fresh.push(part);
        return "([0-9a-f]{32})";
      })
      .join("");
    const m = new RegExp(`^${pattern}$`, "s").exec(actual);
    if (m === null) return false;
    fresh.forEach((id, i) => {
      const value = m[i + 1] as string;
      assert.ok(![...this.ids.values()].includes(value), `server id ${value} reused for transcript id ${id}`);
      this.ids.set(id, value);
    });
    return true;
  }
}

function compareJson(expected: unknown, actual: unknown, path: string, binder: IdBinder, problems: string[]): void {
  const problem = (): void => {
    problems.push(`${path}: expected ${JSON.stringify(expected)?.slice(0, 200)}, got ${JSON.stringify(actual)?.slice(0, 200)}`);
  };
  if (typeof expected === "string") {
    if (typeof actual !== "string" || !binder.matches(expected, actual)) problem();
  } else if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) problem();
    else expected.forEach((item, i) => compareJson(item, actual[i], `${path}[${i}]`, binder, problems));
  } else if (typeof expected === "object" && expected !== null) {
    if (typeof actual !== "object" || actual === null || Array.isArray(actual)) return problem();
    const e = expected as Record<string, unknown>;
    const a = actual as Record<string, unknown>;
    if (JSON.stringify(Object.keys(e).sort()) !== JSON.stringify(Object.keys(a).sort())) {
      problems.push(`${path}: keys ${Object.keys(e).join(",")} expected, got ${Object.keys(a).join(",")}`);
      return;
    }
    for (const key of Object.keys(e)) {
      if (SERVER_TIMESTAMPS.has(key)) {
        if (!Number.isInteger(a[key]) || (a[key] as number) <= 0) problems.push(`${path}.${key}: not a timestamp`);
      } else compareJson(e[key], a[key], `${path}.${key}`, binder, problems);
    }
  } else if (expected !== actual) problem();
}

/** The real server appends SQL details to some messages; the test server leaves them out. */
function withoutSqlDetails(message: string): string {
  return message.replace(/ Error: \(sqlite3\.[\s\S]*$/, "");
}

/** A body sent as a stream, which fetch sends chunked, without a Content-Length. */
function streamOf(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      controller.enqueue(bytes);
      controller.close();
    },
  });
}

async function replay(t: Transcript, baseUrl: string, binder: IdBinder): Promise<void> {
  let body = t.requestBody;
  if (body !== undefined) {
    const cut = splitTruncated(body);
    body = binder.rewrite(typeof cut === "string" ? cut : await rebuild(cut));
  }
  // The body goes out framed as recorded: chunked when the transcript says so (a stream, as fetch
  // sends one; fetch sets Transfer-Encoding itself), else sized from bytes (Content-Length).
  const chunked = t.requestHeaders.some(([name, value]) => name.toLowerCase() === "transfer-encoding" && value === "chunked");
  const bytes = body === undefined ? undefined : utf8.encode(body);
  const response = await fetch(baseUrl + binder.rewrite(t.pathAndQuery), {
    method: t.method,
    headers: t.requestHeaders.filter(([name]) => name.toLowerCase() !== "transfer-encoding"),
    ...(bytes !== undefined && chunked ? { body: streamOf(bytes), duplex: "half" } : { body: bytes }),
  } as RequestInit);
  const text = await response.text();
  assert.equal(response.status, t.status, `status of ${t.name}; body: ${text.slice(0, 300)}`);
  for (const header of ["content-type", "content-disposition"]) {
    const expected = t.responseHeaders.get(header);
    if (expected !== undefined) assert.equal(response.headers.get(header), expected, `${header} of ${t.name}`);
  }
  const expected = t.responseBody;
  if (typeof expected !== "string") {
    // Only the start survives in the transcript: the answer must begin with it and have its exact size.
    const head = binder.rewrite(expected.head);
    assert.equal(text.slice(0, head.length), head, `visible start of ${t.name}`);
    assert.equal(byteLength(text), expected.totalBytes, `byte size of ${t.name}`);
    assert.doesNotThrow(() => JSON.parse(text), `${t.name} answers valid JSON`);
    return;
  }
  if (t.responseHeaders.get("content-type") !== "application/json") {
    const recordedLength = Number(t.responseHeaders.get("content-length") ?? NaN);
    if (recordedLength > byteLength(expected)) {
      // The transcript kept only the start of this body (58): its recorded length says how much more there was.
      assert.equal(text.slice(0, expected.length), expected, `visible start of ${t.name}`);
      assert.equal(byteLength(text), recordedLength, `byte size of ${t.name}`);
    } else assert.equal(text, expected, `body of ${t.name}`);
    return;
  }
  const want = JSON.parse(binder.rewriteExperiments(expected)) as Record<string, unknown>;
  const got = JSON.parse(text) as Record<string, unknown>;
  if (typeof want.error_code === "string") {
    assert.equal(got.error_code, want.error_code);
    assert.ok(binder.matches(withoutSqlDetails(String(want.message)), String(got.message)), `message: ${String(got.message)}`);
    assert.equal(got.sqlstate, want.sqlstate);
    assert.equal(got.error_class, want.error_class);
    return;
  }
  const problems: string[] = [];
  compareJson(want, got, "$", binder, problems);
  assert.deepEqual(problems, [], `body of ${t.name}`);
}

const transcripts = await Promise.all(
  (await readdir(TRANSCRIPT_DIR))
    .filter((name) => /^\d\d-.*\.txt$/.test(name))
    .sort()
    .map(async (name) => parseTranscript(name, await readFile(TRANSCRIPT_DIR + name, "utf8"))),
);

/**
 * What a group of transcripts takes for granted: experiments, runs and uploads
 * the recording made with calls it did not keep. The harness makes them first
 * and binds their ids to the recorded ones.
 */
interface Preconditions {
  experiments: { recorded: string; name: string }[];
  /** Runs to create, started at `startTime` with only a name (no user, no other tag). */
  runs: { recorded: string; experiment: string; runName: string; startTime: number }[];
  /** Files uploaded with a Content-Length, by recorded run id. */
  uploads: { run: string; path: string; body: string }[];
}

const PRECONDITIONS_55_65: Preconditions = {
  experiments: [
    { recorded: "30", name: "transcripts-55-58" },
    { recorded: "78", name: "transcripts-59-65" },
  ],
  runs: [
    { recorded: "de31b42126634f1daabb6b9968c67e19", experiment: "30", runName: "uploads", startTime: 1700000000000 },
    // 60 and 62-65 show these three: start_time 1700000000000, user_id "", only the mlflow.runName tag.
    { recorded: "129870da5c7e4cdbba3d59a3ac3b3d52", experiment: "78", runName: "alpha", startTime: 1700000000000 },
    { recorded: "ddc63f9902934601bafde29761c36bc6", experiment: "78", runName: "beta", startTime: 1700000000000 },
    { recorded: "046663a96cb24d538ac53adfa1182b59", experiment: "78", runName: "gamma", startTime: 1700000000000 },
  ],
  // 55's note: sized.csv holds the same 12 bytes as chunked.csv, sent with a Content-Length, before 56 lists the run.
  uploads: [{ run: "de31b42126634f1daabb6b9968c67e19", path: "sized.csv", body: "a,b\n1,2\n3,4\n" }],
};

async function prepare(baseUrl: string, binder: IdBinder, pre: Preconditions): Promise<void> {
  const post = async (path: string, body: unknown): Promise<Record<string, unknown>> => {
    const response = await fetch(`${baseUrl}/api/2.0/mlflow/${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    assert.equal(response.status, 200, `${path} for the preconditions`);
    return (await response.json()) as Record<string, unknown>;
  };
  for (const e of pre.experiments) binder.bindExperiment(e.recorded, String((await post("experiments/create", { name: e.name })).experiment_id));
  const artifactRoots = new Map<string, string>();
  for (const r of pre.runs) {
    const { run } = (await post("runs/create", { experiment_id: binder.experimentId(r.experiment), run_name: r.runName, start_time: r.startTime })) as {
      run: { info: { run_id: string; artifact_uri: string } };
    };
    binder.bindRun(r.recorded, run.info.run_id);
    artifactRoots.set(r.recorded, run.info.artifact_uri.replace(/^mlflow-artifacts:\/*/, ""));
  }
  for (const u of pre.uploads) {
    const put = await fetch(`${baseUrl}/api/2.0/mlflow-artifacts/artifacts/${artifactRoots.get(u.run)}/${u.path}`, {
      method: "PUT",
      body: utf8.encode(u.body),
    });
    assert.equal(put.status, 200, `upload of ${u.path} for the preconditions`);
    await put.body?.cancel();
  }
}

function replaySuite(title: string, strict: boolean, files: Transcript[], preconditions?: Preconditions): void {
  describe(title, () => {
    const binder = new IdBinder();
    let served: ServedHandler;
    before(async () => {
      served = await serve(createMlflowServer({ strict }).handler);
      if (preconditions !== undefined) await prepare(served.url, binder, preconditions);
    });
    after(() => served.close());
    for (const t of files) {
      test(`${t.name}: answers as recorded`, () => replay(t, served.url, binder));
    }
  });
}

const numbered = (from: number, to: number): Transcript[] =>
  transcripts.filter((t) => Number(t.name.slice(0, 2)) >= from && Number(t.name.slice(0, 2)) <= to);

test("transcripts: all 65 exchanges are found and parsed", () => {
  assert.equal(transcripts.length, 65);
  assert.ok(transcripts.every((t) => t.method !== "" && t.status >= 200), "every transcript has a request line and a status");
});

replaySuite("transcripts 01-49 replayed in order against the default server", false, numbered(1, 49));
replaySuite("transcripts 50-54 replayed against a strict server (MLFLOW_TRUNCATE_LONG_VALUES=false)", true, numbered(50, 54));
replaySuite(
  "transcripts 55-65 replayed in order against the default server, on the runs they take for granted",
  false,
  numbered(55, 65),
  PRECONDITIONS_55_65,
);

// ---------------------------------------------------------------------------

interface Answer {
  status: number;
  json: Record<string, unknown> & { error_code?: string; message?: string };
  headers: Headers;
}

function client(base: () => string): (method: string, path: string, body?: unknown) => Promise<Answer> {
  return async (method, path, body) => {
    const response = await fetch(base() + path, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    let json: Answer["json"] = {};
    try {
      json = JSON.parse(text) as Answer["json"];
    } catch {
      json = { text };
    }
    return { status: response.status, json, headers: response.headers };
  };
}

const API = "/api/2.0/mlflow";

describe("the fault proxy in front of the in-memory server", () => {
  let memory: MlflowTestServer;
  let server: FaultProxy;
  let served: ServedHandler;
  const call = client(() => served.url);
  before(async () => {
    memory = createMlflowServer();
    server = createFaultProxy(memory.handler);
    served = await serve(server.handler);
  });
  after(() => served.close());

  test("a fault answers its status, body and headers the given number of times, then the server answers normally", async () => {
    server.reset();
    server.injectFault({ path: `${API}/experiments/get-by-name`, times: 2, status: 429, headers: { "Retry-After": "0" } });
    const first = await call("GET", `${API}/experiments/get-by-name?experiment_name=Default`);
    const second = await call("GET", `${API}/experiments/get-by-name?experiment_name=Default`);
    const third = await call("GET", `${API}/experiments/get-by-name?experiment_name=Default`);
    assert.deepEqual([first.status, second.status, third.status], [429, 429, 200]);
    assert.equal(first.headers.get("retry-after"), "0");
    assert.equal(first.json.error_code, "REQUEST_LIMIT_EXCEEDED");
    assert.deepEqual(
      server.requests.map((r) => [r.method, r.path, r.status]),
      Array.from({ length: 3 }, (_, i) => ["GET", `${API}/experiments/get-by-name`, i < 2 ? 429 : 200]),
    );
  });

  test("a custom fault body is sent as text/plain unless a content type is given", async () => {
    server.reset();
    server.injectFault({ path: "/health", body: "<html>bad gateway</html>", status: 502 });
    server.injectFault({ path: "/health", body: "{}", contentType: "application/json", status: 500 });
    const plain = await fetch(`${served.url}/health`);
    assert.equal(plain.status, 502);
    assert.equal(plain.headers.get("content-type"), "text/plain; charset=utf-8");
    assert.equal(await plain.text(), "<html>bad gateway</html>");
    const json = await fetch(`${served.url}/health`);
    assert.equal(json.headers.get("content-type"), "application/json");
    assert.equal(await json.text(), "{}");
  });

  test("a path ending in * matches by prefix and a method limits the fault to that method", async () => {
    server.reset();
    server.injectFault({ method: "PUT", path: "/api/2.0/mlflow-artifacts/*", times: Infinity });
    const list = await call("GET", "/api/2.0/mlflow-artifacts/artifacts?path=0");
    const put = await fetch(`${served.url}/api/2.0/mlflow-artifacts/artifacts/0/x/artifacts/a.txt`, { method: "PUT", body: "a" });
    const putAgain = await fetch(`${served.url}/api/2.0/mlflow-artifacts/artifacts/0/x/artifacts/b.txt`, { method: "PUT", body: "b" });
    assert.equal(list.status, 200);
    assert.deepEqual([put.status, putAgain.status], [503, 503]);
    assert.equal((await put.json()).error_code, "TEMPORARILY_UNAVAILABLE");
    await putAgain.body?.cancel();
  });

  test("applyThenFail performs the operation and then answers with the fault", async () => {
    server.reset();
    memory.reset();
    server.injectFault({ path: `${API}/runs/create`, applyThenFail: true, status: 500 });
    const create = await call("POST", `${API}/runs/create`, { experiment_id: "0", start_time: 1 });
    assert.equal(create.status, 500);
    const search = await call("POST", `${API}/runs/search`, { experiment_ids: ["0"] });
    assert.equal((search.json.runs as unknown[]).length, 1);
  });

  test("reset drops the connection before any answer and is recorded with status 0", async () => {
    server.reset();
    server.injectFault({ path: `${API}/runs/log-batch`, reset: true });
    await assert.rejects(fetch(`${served.url}${API}/runs/log-batch`, { method: "POST", body: "{}" }), TypeError);
    assert.deepEqual(server.requests.at(-1), { method: "POST", path: `${API}/runs/log-batch`, status: 0 });
    assert.equal((await call("GET", "/health")).status, 200);
  });

  test("reset combined with applyThenFail loses the answer of a request that was carried out", async () => {
    server.reset();
    server.injectFault({ path: `${API}/experiments/create`, reset: true, applyThenFail: true });
    await assert.rejects(call("POST", `${API}/experiments/create`, { name: "lost-answer" }), TypeError);
    const found = await call("GET", `${API}/experiments/get-by-name?experiment_name=lost-answer`);
    assert.equal(found.status, 200);
  });

  test("calling the handler directly with a reset fault rejects with DropConnection", async () => {
    const direct = createFaultProxy(createMlflowServer().handler);
    direct.injectFault({ path: "/health", reset: true });
    await assert.rejects(direct.handler(new Request("http://test/health")), DropConnection);
    assert.equal((await direct.handler(new Request("http://test/health"))).status, 200);
  });

  test("a delay alone still answers normally, and a client that gives up sees its own abort", async () => {
    server.reset();
    server.injectFault({ path: "/version", delayMs: 30 });
    const slow = await fetch(`${served.url}/version`);
    assert.equal(await slow.text(), "3.11.2.dev0");
    server.injectFault({ path: "/version", delayMs: 60_000 });
    await assert.rejects(fetch(`${served.url}/version`, { signal: AbortSignal.timeout(50) }), (error: Error) =>
      ["TimeoutError", "AbortError"].includes(error.name),
    );
  });

  test("the proxy's reset() forgets faults and recorded requests, and what the server stored stays", async () => {
    await call("POST", `${API}/experiments/create`, { name: "kept" });
    server.injectFault({ path: "/health", status: 500, times: 5 });
    server.reset();
    assert.equal(server.requests.length, 0);
    assert.equal((await call("GET", "/health")).status, 200);
    assert.equal((await call("GET", `${API}/experiments/get-by-name?experiment_name=kept`)).status, 200);
  });

  test("the in-memory server's reset() forgets runs and experiments but keeps Default, and clears its own proxy", async () => {
    await call("POST", `${API}/experiments/create`, { name: "to-forget" });
    memory.injectFault({ path: "/health", status: 500, times: 5 });
    memory.reset();
    assert.equal(memory.requests.length, 0);
    assert.equal((await call("GET", "/health")).status, 200);
    assert.equal((await call("GET", `${API}/experiments/get-by-name?experiment_name=to-forget`)).status, 404);
    const exp = await call("GET", `${API}/experiments/get?experiment_id=0`);
    assert.equal((exp.json.experiment as { name: string }).name, "Default");
    assert.equal((await call("POST", `${API}/experiments/create`, { name: "again" })).json.experiment_id, "1");
  });
});

describe("forwardTo() behind the fault proxy", () => {
  test("keeps method, path, query, headers and the body's framing, and passes the answer back", async () => {
    const seen: Record<string, string | null>[] = [];
    const upstream = await serve(async (request) => {
      const url = new URL(request.url);
      seen.push({
        method: request.method,
        path: url.pathname + url.search,
        host: request.headers.get("host"),
        custom: request.headers.get("x-custom"),
        contentLength: request.headers.get("content-length"),
        transferEncoding: request.headers.get("transfer-encoding"),
        body: await request.text(),
      });
      return new Response("short and stout", { status: 418, headers: { "x-teapot": "yes", "content-type": "text/plain" } });
    });
    const proxy = createFaultProxy(forwardTo(`${upstream.url}/prefix/`));
    const served = await serve(proxy.handler);
    try {
      const sized = await fetch(`${served.url}/a/b?c=1&d=%20`, { method: "PUT", headers: { "x-custom": "kept" }, body: utf8.encode("12345") });
      assert.deepEqual([sized.status, sized.headers.get("x-teapot"), await sized.text()], [418, "yes", "short and stout"]);
      const streamed = await fetch(`${served.url}/a`, { method: "POST", body: streamOf(utf8.encode("streamed")), duplex: "half" } as RequestInit);
      await streamed.body?.cancel();
      assert.deepEqual(seen, [
        {
          method: "PUT",
          path: "/prefix/a/b?c=1&d=%20",
          host: new URL(upstream.url).host,
          custom: "kept",
          contentLength: "5",
          transferEncoding: null,
          body: "12345",
        },
        { method: "POST", path: "/prefix/a", host: new URL(upstream.url).host, custom: null, contentLength: null, transferEncoding: "chunked", body: "streamed" },
      ]);
      assert.deepEqual(
        proxy.requests.map((r) => [r.method, r.path, r.status]),
        [
          ["PUT", "/a/b", 418],
          ["POST", "/a", 418],
        ],
      );
    } finally {
      await served.close();
      await upstream.close();
    }
  });

  test("a chunked upload through the proxy is stored empty upstream, as a real server would store it (55, 56)", async () => {
    const upstream = await serve(createMlflowServer().handler);
    const served = await serve(createFaultProxy(forwardTo(upstream.url)).handler);
    const file = `${served.url}/api/2.0/mlflow-artifacts/artifacts/0/r/artifacts`;
    try {
      const chunked = await fetch(`${file}/chunked.csv`, { method: "PUT", body: streamOf(utf8.encode("a,b\n")), duplex: "half" } as RequestInit);
      const sized = await fetch(`${file}/sized.csv`, { method: "PUT", body: utf8.encode("a,b\n") });
      assert.deepEqual([await chunked.text(), await sized.text()], ["{}", "{}"]);
      assert.equal(await (await fetch(`${file}/chunked.csv`)).text(), "");
      assert.equal(await (await fetch(`${file}/sized.csv`)).text(), "a,b\n");
    } finally {
      await served.close();
      await upstream.close();
    }
  });
});

describe("serve() on the current runtime", () => {
  // Node's http server, Bun.serve and Deno's node:http all hand the handler Content-Length and
  // Transfer-Encoding as they were on the wire (probed on each: a stream body arrives with
  // "transfer-encoding: chunked" and no length; bytes, a string, a Blob or an empty body with their
  // length). The in-memory server's chunked-upload behaviour depends on it, so it is checked here.
  test("hands the handler Content-Length and Transfer-Encoding as the client sent them", async () => {
    const served = await serve(async (request) =>
      Response.json({
        length: request.headers.get("content-length"),
        encoding: request.headers.get("transfer-encoding"),
        body: await request.text(),
      }),
    );
    try {
      const ask = async (init: RequestInit): Promise<unknown> => (await fetch(served.url, { method: "PUT", ...init } as RequestInit)).json();
      assert.deepEqual(await ask({ body: streamOf(utf8.encode("abc")), duplex: "half" } as RequestInit), { length: null, encoding: "chunked", body: "abc" });
      assert.deepEqual(await ask({ body: utf8.encode("abc") }), { length: "3", encoding: null, body: "abc" });
      assert.deepEqual(await ask({ body: new Uint8Array(0) }), { length: "0", encoding: null, body: "" });
    } finally {
      await served.close();
    }
  });

  test("a chunked artifact PUT is answered 200 and stored empty, a sized one whole (55, 56), and close() stops the server", async () => {
    const served = await serve(createMlflowServer().handler);
    const dir = `${served.url}/api/2.0/mlflow-artifacts/artifacts/0/r/artifacts`;
    const chunks = ["date,equity\n", "2024-01-01,10000\n", "2024-01-02,10123.5\n"];
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const chunk of chunks) controller.enqueue(utf8.encode(chunk));
        controller.close();
      },
    });
    try {
      const chunked = await fetch(`${dir}/chunked.csv`, { method: "PUT", body: stream, duplex: "half" } as RequestInit);
      assert.deepEqual([chunked.status, await chunked.text()], [200, "{}"]);
      const sized = await fetch(`${dir}/sized.csv`, { method: "PUT", body: utf8.encode(chunks.join("")) });
      assert.deepEqual([sized.status, await sized.text()], [200, "{}"]);
      assert.equal(await (await fetch(`${dir}/chunked.csv`)).text(), "");
      assert.equal(await (await fetch(`${dir}/sized.csv`)).text(), chunks.join(""));
    } finally {
      await served.close();
    }
    await assert.rejects(fetch(`${served.url}/health`), TypeError);
  });

  test("a handler that throws answers 500 and the server keeps serving", async () => {
    let calls = 0;
    const served = await serve(async () => {
      calls++;
      if (calls === 1) throw new Error("boom");
      return new Response("fine");
    });
    try {
      const failed = await fetch(served.url);
      assert.equal(failed.status, 500);
      await failed.body?.cancel();
      assert.equal(await (await fetch(served.url)).text(), "fine");
    } finally {
      await served.close();
    }
  });
});

describe("server behaviour beyond the transcripts", () => {
  let served: ServedHandler;
  const call = client(() => served.url);
  const createRun = async (body: Record<string, unknown>): Promise<string> => {
    const res = await call("POST", `${API}/runs/create`, { experiment_id: "0", start_time: 1, ...body });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    return (res.json.run as { info: { run_id: string } }).info.run_id;
  };
  before(async () => {
    served = await serve(createMlflowServer().handler);
  });
  after(() => served.close());

  test("a POST without Content-Type is a 400 naming the missing header", async () => {
    const res = await fetch(`${served.url}${API}/runs/create`, { method: "POST", body: new Uint8Array([123, 125]) });
    const body = (await res.json()) as { error_code: string; message: string };
    assert.equal(res.status, 400);
    assert.deepEqual(body.message, "Bad Request. Content-Type header is missing.");
    assert.equal(body.error_code, "INVALID_PARAMETER_VALUE");
  });

  test("unknown routes are 404 and wrong methods 405, as Flask answers", async () => {
    const missing = await fetch(`${served.url}${API}/runs/nope`);
    assert.equal(missing.status, 404);
    assert.match(await missing.text(), /404 Not Found/);
    const wrong = await fetch(`${served.url}${API}/runs/get`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    assert.equal(wrong.status, 405);
    await wrong.body?.cancel();
  });

  test("a run without a name gets a generated one, kept in sync with the mlflow.runName tag", async () => {
    const id = await createRun({});
    const created = await call("GET", `${API}/runs/get?run_id=${id}`);
    const run = created.json.run as { info: { run_name: string }; data: { tags: { key: string; value: string }[] } };
    assert.match(run.info.run_name, /^[a-z]+-[a-z]+-\d{1,3}$/);
    assert.deepEqual(run.data.tags, [{ key: "mlflow.runName", value: run.info.run_name }]);
    await call("POST", `${API}/runs/set-tag`, { run_id: id, key: "mlflow.runName", value: "renamed" });
    const renamed = (await call("GET", `${API}/runs/get?run_id=${id}`)).json.run as { info: { run_name: string } };
    assert.equal(renamed.info.run_name, "renamed");
    await call("POST", `${API}/runs/update`, { run_id: id, run_name: "again" });
    const again = (await call("GET", `${API}/runs/get?run_id=${id}`)).json.run as typeof run;
    assert.deepEqual(again.data.tags, [{ key: "mlflow.runName", value: "again" }]);
  });

  test("run_name different from an mlflow.runName tag is rejected at creation", async () => {
    const res = await call("POST", `${API}/runs/create`, {
      experiment_id: "0",
      run_name: "a",
      tags: [{ key: "mlflow.runName", value: "b" }],
    });
    assert.equal(res.status, 400);
    assert.match(String(res.json.message), /run_name='a', mlflow\.runName='b'/);
  });

  test("log-parameter keeps params immutable and set-tag overwrites", async () => {
    const id = await createRun({ run_name: "immutable" });
    assert.equal((await call("POST", `${API}/runs/log-parameter`, { run_id: id, key: "k", value: "1" })).status, 200);
    assert.equal((await call("POST", `${API}/runs/log-parameter`, { run_id: id, key: "k", value: "1" })).status, 200);
    const changed = await call("POST", `${API}/runs/log-parameter`, { run_id: id, key: "k", value: "2" });
    assert.equal(changed.status, 400);
    assert.match(String(changed.json.message), /Changing param values is not allowed\. Param with key='k' was already logged with value='1'/);
    const numeric = await call("POST", `${API}/runs/log-parameter`, { run_id: id, key: "n", value: 5 });
    assert.equal(numeric.status, 400);
    assert.match(String(numeric.json.message), /Invalid value 5 for parameter 'value' supplied:  Hint: Value was of type 'int'/);
    await call("POST", `${API}/runs/set-tag`, { run_id: id, key: "t", value: "old" });
    await call("POST", `${API}/runs/set-tag`, { run_id: id, key: "t", value: "new" });
    const run = (await call("GET", `${API}/runs/get?run_id=${id}`)).json.run as { data: { tags: { key: string; value: string }[] } };
    assert.deepEqual(
      run.data.tags.find((t) => t.key === "t"),
      { key: "t", value: "new" },
    );
  });

  test("keys follow MLflow's rules: Unicode letters are fine, '#' and '//' are not", async () => {
    const id = await createRun({ run_name: "keys" });
    const ok = await call("POST", `${API}/runs/log-metric`, { run_id: id, key: "équité/日本 1:2", value: 1, timestamp: 1 });
    assert.equal(ok.status, 200);
    const hash = await call("POST", `${API}/runs/log-metric`, { run_id: id, key: "a#b", value: 1, timestamp: 1 });
    assert.equal(hash.json.message, `Invalid value "a#b" for parameter 'name' supplied: Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and slashes (/).`);
    const slashes = await call("POST", `${API}/runs/log-batch`, { run_id: id, tags: [{ key: "a//b", value: "1" }] });
    assert.match(String(slashes.json.message), /'tags\[0\]\.key'.*would resolve to 'a\/b'$/);
  });

  test("over-long tag values are truncated to 8000 characters by set-tag, or rejected by a strict server", async () => {
    const id = await createRun({ run_name: "long" });
    await call("POST", `${API}/runs/set-tag`, { run_id: id, key: "long", value: "v".repeat(8001) });
    const run = (await call("GET", `${API}/runs/get?run_id=${id}`)).json.run as { data: { tags: { key: string; value: string }[] } };
    assert.equal(run.data.tags.find((t) => t.key === "long")?.value.length, 8000);
    const strict = createMlflowServer({ strict: true });
    const base = "http://strict.test";
    const created = await strict.handler(
      new Request(`${base}${API}/runs/create`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" }),
    );
    const strictId = ((await created.json()) as { run: { info: { run_id: string } } }).run.info.run_id;
    const rejected = await strict.handler(
      new Request(`${base}${API}/runs/set-tag`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ run_id: strictId, key: "long", value: "v".repeat(8001) }),
      }),
    );
    assert.equal(rejected.status, 400);
    assert.equal(((await rejected.json()) as { message: string }).message, "'value' exceeds the maximum length of 8000 characters");
  });

  test("metric history pages by max_results with an offset page token", async () => {
    const id = await createRun({ run_name: "history" });
    const metrics = [2, 0, 1].map((step) => ({ key: "equity", value: 100 + step, timestamp: 1000 + step, step }));
    await call("POST", `${API}/runs/log-batch`, { run_id: id, metrics });
    const first = await call("GET", `${API}/metrics/get-history?run_id=${id}&metric_key=equity&max_results=2`);
    assert.deepEqual(
      (first.json.metrics as { step: number }[]).map((m) => m.step),
      [0, 1],
    );
    const token = encodeURIComponent(String(first.json.next_page_token));
    const second = await call("GET", `${API}/metrics/get-history?run_id=${id}&metric_key=equity&max_results=2&page_token=${token}`);
    assert.deepEqual(second.json, { metrics: [{ key: "equity", value: 102, timestamp: 1002, step: 2 }] });
  });

  test("runs/search filters on tags, backticked keys, params, metrics and attributes, and pages in start_time order", async () => {
    const created = await call("POST", `${API}/experiments/create`, { name: "search-behaviour" });
    const exp = String(created.json.experiment_id);
    const ids: string[] = [];
    for (const n of [1, 2, 3]) {
      const id = await createRun({ experiment_id: exp, run_name: `run-${n}`, start_time: n * 1000 });
      ids.push(id);
      await call("POST", `${API}/runs/log-batch`, {
        run_id: id,
        metrics: [{ key: "sharpe", value: n / 2, timestamp: 1, step: 0 }],
        params: [{ key: "fold", value: String(n) }],
        tags: [{ key: "bt.strategy", value: n === 2 ? "ema" : "sma" }, { key: "kind", value: "fold" }],
      });
    }
    await call("POST", `${API}/runs/update`, { run_id: ids[0], status: "FINISHED", end_time: 5000 });
    const names = async (filter: string, extra: Record<string, unknown> = {}): Promise<string[]> => {
      const res = await call("POST", `${API}/runs/search`, { experiment_ids: [exp], filter, ...extra });
      assert.equal(res.status, 200, `${filter}: ${JSON.stringify(res.json)}`);
      return ((res.json.runs ?? []) as { info: { run_name: string } }[]).map((r) => r.info.run_name);
    };
    assert.deepEqual(await names(""), ["run-3", "run-2", "run-1"]);
    assert.deepEqual(await names("tags.`bt.strategy` = 'ema'"), ["run-2"]);
    assert.deepEqual(await names(`params.fold != "2" AND metrics.sharpe <= 1.5`), ["run-3", "run-1"]);
    assert.deepEqual(await names("attributes.status = 'FINISHED'"), ["run-1"]);
    assert.deepEqual(await names("attributes.run_name = 'run-3' and tags.kind = 'fold'"), ["run-3"]);
    assert.deepEqual(await names("params.fold LIKE '%' and metrics.sharpe > 0.5"), ["run-3", "run-2"]);
    assert.deepEqual(await names("", { order_by: ["attributes.start_time ASC"] }), ["run-1", "run-2", "run-3"]);
    const first = await call("POST", `${API}/runs/search`, { experiment_ids: [exp], max_results: 2 });
    const second = await call("POST", `${API}/runs/search`, {
      experiment_ids: [exp],
      max_results: 2,
      page_token: first.json.next_page_token,
    });
    assert.equal((first.json.runs as unknown[]).length, 2);
    assert.deepEqual(
      (second.json.runs as { info: { run_name: string } }[]).map((r) => r.info.run_name),
      ["run-1"],
    );
    assert.equal(second.json.next_page_token, undefined);
    const bad = await call("POST", `${API}/runs/search`, { experiment_ids: [exp], filter: "metrics.sharpe >" });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error_code, "INVALID_PARAMETER_VALUE");
  });

  test("logging to a deleted run is refused, and unknown runs are 404", async () => {
    const id = await createRun({ run_name: "deleted" });
    assert.equal((await call("POST", `${API}/runs/delete`, { run_id: id })).status, 200);
    const log = await call("POST", `${API}/runs/set-tag`, { run_id: id, key: "a", value: "b" });
    assert.equal(log.status, 400);
    assert.match(String(log.json.message), /must be in the 'active' state\. Current state is deleted\./);
    const missing = await call("GET", `${API}/runs/get?run_id=ffffffffffffffffffffffffffffffff`);
    assert.deepEqual([missing.status, missing.json.error_code], [404, "RESOURCE_DOES_NOT_EXIST"]);
  });

  test("artifact paths that climb out of the artifact root are refused, even double-encoded", async () => {
    for (const path of ["0/%252E%252E/escape.txt", "0/a%5C..%5Cescape.txt"]) {
      const res = await fetch(`${served.url}/api/2.0/mlflow-artifacts/artifacts/${path}`, { method: "PUT", body: "x" });
      assert.equal(res.status, 400, path);
      assert.equal(((await res.json()) as { message: string }).message, "Invalid path");
    }
    const list = await call("GET", `${API}/artifacts/list?run_id=${await createRun({})}&path=../x`);
    assert.deepEqual([list.status, list.json.message], [400, "Invalid path"]);
  });

  test("an empty file is listed without file_size by both listings, as FileInfo.to_proto leaves 0 out", async () => {
    const id = await createRun({ run_name: "empty-file" });
    const root = `0/${id}/artifacts`;
    for (const [name, body] of [["empty.txt", ""], ["full.txt", "x"]] as const) {
      const put = await fetch(`${served.url}/api/2.0/mlflow-artifacts/artifacts/${root}/${name}`, { method: "PUT", body: utf8.encode(body) });
      assert.equal(put.status, 200);
      await put.body?.cancel();
    }
    const expected = [
      { path: "empty.txt", is_dir: false },
      { path: "full.txt", is_dir: false, file_size: 1 },
    ];
    assert.deepEqual((await call("GET", `${API}/artifacts/list?run_id=${id}`)).json.files, expected);
    assert.deepEqual((await call("GET", `/api/2.0/mlflow-artifacts/artifacts?path=${root}`)).json.files, expected);
  });

  test("a PUT handed to the handler directly keeps only what its Content-Length declares, as werkzeug reads it", async () => {
    const server = createMlflowServer();
    const file = "http://direct.test/api/2.0/mlflow-artifacts/artifacts/0/r/artifacts/a.txt";
    const put = (headers: Record<string, string>): Promise<Response> => server.handler(new Request(file, { method: "PUT", headers, body: "abcdef" }));
    // new Request() sets no Content-Length: without one the upload reads as chunked and is stored empty.
    assert.equal((await put({})).status, 200);
    assert.equal(await (await server.handler(new Request(file))).text(), "");
    await put({ "content-length": "6" });
    assert.equal(await (await server.handler(new Request(file))).text(), "abcdef");
    await put({ "content-length": "3" });
    assert.equal(await (await server.handler(new Request(file))).text(), "abc");
  });

  test("multipart upload complete and abort are checked like create, then refused with 57's 501", async () => {
    const mpu = (step: string, body: unknown): Promise<Answer> => call("POST", `/api/2.0/mlflow-artifacts/mpu/${step}/0/r/artifacts/big.csv`, body);
    const refused = { error_code: "NOT_IMPLEMENTED", message: "Multipart upload is not supported for the current artifact repository" };
    const complete = await mpu("complete", { path: "big.csv", upload_id: "u", parts: [{ part_number: 1, etag: "e", url: "x" }] });
    assert.deepEqual([complete.status, complete.json], [501, refused]);
    const abort = await mpu("abort", { path: "big.csv", upload_id: "u" });
    assert.deepEqual([abort.status, abort.json], [501, refused]);
    const noPath = await mpu("create", { num_parts: 2 });
    assert.deepEqual([noPath.status, noPath.json.message], [400, `Missing value for required parameter 'path'. See the API docs for more information about request parameters.`]);
    const noParts = await mpu("complete", { path: "big.csv", upload_id: "u" });
    assert.deepEqual([noParts.status, noParts.json.message], [400, `Missing value for required parameter 'parts'. See the API docs for more information about request parameters.`]);
    const escape = await call("POST", "/api/2.0/mlflow-artifacts/mpu/create/0/%252E%252E/x", { path: "x" });
    assert.deepEqual([escape.status, escape.json.message], [400, "Invalid path"]);
  });
});

describe("startTarget() and restReader()", () => {
  test("without MLFLOW_TEST_TRACKING_URI the target is the fault proxy in front of an in-memory server the reader can read back", async () => {
    const saved = process.env.MLFLOW_TEST_TRACKING_URI;
    delete process.env.MLFLOW_TEST_TRACKING_URI;
    const target = await startTarget();
    try {
      assert.ok(target.memory !== undefined, "an in-memory server is started");
      const call = client(() => target.trackingUri);
      const exp = String((await call("POST", `${API}/experiments/create`, { name: "reader" })).json.experiment_id);
      const run = (await call("POST", `${API}/runs/create`, { experiment_id: exp, run_name: "r", start_time: 1 })).json.run as {
        info: { run_id: string; artifact_uri: string };
      };
      const runId = run.info.run_id;
      await call("POST", `${API}/runs/log-batch`, {
        run_id: runId,
        metrics: [
          { key: "equity", value: 1, timestamp: 1, step: 0 },
          { key: "equity", value: "NaN", timestamp: 2, step: 1 },
        ],
        params: [{ key: "p", value: "v" }],
      });
      const put = await fetch(`${target.trackingUri}/api/2.0/mlflow-artifacts/artifacts/${run.info.artifact_uri.slice(18)}/plots/a b.png`, {
        method: "PUT",
        body: new Uint8Array([137, 80, 78, 71]),
      });
      assert.equal(put.status, 200);
      const reader = restReader(`${target.trackingUri}/`);
      assert.equal((await reader.getExperimentByName("reader")).experiment.experiment_id, exp);
      assert.deepEqual((await reader.getRun(runId)).run.data.params, [{ key: "p", value: "v" }]);
      assert.deepEqual(
        (await reader.searchRuns([exp], "params.p = 'v'")).runs?.map((r) => r.info.run_id),
        [runId],
      );
      assert.deepEqual(await reader.searchRuns([exp], "params.p = 'w'"), {});
      assert.deepEqual((await reader.metricHistory(runId, "equity")).metrics?.map((m) => m.value), [1, "NaN"]);
      assert.deepEqual((await reader.listArtifacts(runId, "plots")).files, [{ path: "plots/a b.png", is_dir: false, file_size: 4 }]);
      assert.deepEqual([...(await reader.getArtifact(runId, "plots/a b.png"))], [137, 80, 78, 71]);
      await assert.rejects(reader.getExperimentByName("absent"), /answered 404/);
      assert.ok(target.server.requests.some((r) => r.method === "PUT" && r.status === 200), "the proxy saw the upload");
    } finally {
      await target.close();
      if (saved !== undefined) process.env.MLFLOW_TEST_TRACKING_URI = saved;
    }
  });

  test("with MLFLOW_TEST_TRACKING_URI set the target is the fault proxy in front of that server, and no in-memory server", async () => {
    const saved = process.env.MLFLOW_TEST_TRACKING_URI;
    // A second in-memory server plays the external one.
    const external = await serve(createMlflowServer().handler);
    process.env.MLFLOW_TEST_TRACKING_URI = `${external.url}/`;
    const target = await startTarget();
    try {
      assert.equal(target.memory, undefined);
      assert.notEqual(target.trackingUri, external.url);
      const call = client(() => target.trackingUri);
      assert.equal((await call("POST", `${API}/experiments/create`, { name: "through-the-proxy" })).status, 200);
      const direct = await fetch(`${external.url}${API}/experiments/get-by-name?experiment_name=through-the-proxy`);
      assert.equal(direct.status, 200, "the experiment reached the external server");
      await direct.body?.cancel();
      target.server.injectFault({ path: `${API}/experiments/get-by-name`, status: 503 });
      assert.equal((await call("GET", `${API}/experiments/get-by-name?experiment_name=through-the-proxy`)).status, 503);
      assert.deepEqual(
        target.server.requests.map((r) => [r.method, r.path, r.status]),
        [
          ["POST", `${API}/experiments/create`, 200],
          ["GET", `${API}/experiments/get-by-name`, 503],
        ],
      );
    } finally {
      await target.close();
      await external.close();
      if (saved === undefined) delete process.env.MLFLOW_TEST_TRACKING_URI;
      else process.env.MLFLOW_TEST_TRACKING_URI = saved;
    }
  });
});
