/**
 * Test support: an in-memory MLflow tracking server (version 3.11.2.dev0,
 * SQL backend, `--serve-artifacts` to a local destination) as a web `fetch`
 * handler.
 *
 * It answers the way the real server does in the recorded transcripts under
 * `test/fixtures/mlflow-transcripts/`: same status codes, same error bodies
 * (minus SQL details), same JSON layout (Python `json.dumps` formatting, so
 * `2.0` stays `2.0`), same quirks (a bare `NaN` token silently logged as 0,
 * `metrics/get-history` without `max_results` returning nothing, an artifact
 * uploaded without a `Content-Length` stored empty). Request recording and
 * fault injection come from the fault proxy it is wrapped in.
 *
 * @module
 */

import { createFaultProxy, type FaultProxy } from "./fault_proxy.ts";
import { ApiError, DOCS_HINT, errorResponse, invalid, methodNotAllowed, notFound } from "./mlflow_errors.ts";
import {
  invalidValue,
  MAX_ENTITIES_PER_BATCH,
  MAX_ENTITY_KEY_LENGTH,
  MAX_EXPERIMENT_NAME_LENGTH,
  MAX_EXPERIMENT_TAG_VAL_LENGTH,
  MAX_METRICS_PER_BATCH,
  MAX_PARAM_VAL_LENGTH,
  MAX_PARAMS_TAGS_PER_BATCH,
  MAX_SEARCH_RESULTS,
  MAX_TAG_VAL_LENGTH,
  type MetricIn,
  appendPath,
  proxiedRoot,
  pyLen,
  pySlice,
  RUN_ID_RE,
  safeArtifactPath,
  toMetrics,
  validateMetric,
  validateName,
} from "./mlflow_rules.ts";
import {
  DATASET_INPUT,
  KEY_VALUE,
  keyValues,
  list,
  METRIC,
  num,
  own,
  ParseError,
  parseInto,
  type ProtoMsg,
  type ProtoSchema,
  RUN_REF,
  RUN_STATUS,
  str,
  VIEW_TYPE,
} from "./proto.ts";
import { isRawObject, parsePythonJson, pyDumps, PyFloat, type PyJson, pyRepr, type RawObject } from "./python_json.ts";
import { type Check, checkSchema, fieldsPresent } from "./request_schema.ts";
import {
  clauseMatches,
  compareSortValues,
  decodePageToken,
  encodePageToken,
  type EntityType,
  parseFilter,
  parseOrderBy,
  searchPage,
} from "./search_filter.ts";

/** Options of {@link createMlflowServer}. */
export interface MlflowServerOptions {
  /**
   * Reject over-long param and tag values with a 400 instead of truncating
   * them, like a server started with `MLFLOW_TRUNCATE_LONG_VALUES=false`.
   */
  strict?: boolean;
  /**
   * The root new experiments get their artifact location under, like
   * `mlflow server --no-serve-artifacts --default-artifact-root s3://bucket/prefix`:
   * experiment location = root + `/<experiment_id>`, a run's artifact URI =
   * that + `/<run_id>/artifacts` (mlflow/store/tracking/sqlalchemy_store.py:470,
   * managed-mlflow.md §0.1). Default: the proxy's `mlflow-artifacts:`.
   */
  defaultArtifactRoot?: string;
}

/**
 * The in-memory server returned by {@link createMlflowServer}: the server
 * behind its own fault proxy, so a test (or a benchmark) that needs only one
 * server gets request counts and faults from it directly.
 */
export interface MlflowTestServer extends FaultProxy {
  /** Forgets every experiment but "Default", every run and artifact, and the proxy's faults and requests. */
  reset(): void;
}

/**
 * Creates an in-memory MLflow tracking server. Experiment "0" ("Default")
 * exists from the start; new experiments get ids "1", "2", …; runs get 32
 * lowercase hex ids.
 *
 * @param options `strict` rejects over-long param/tag values instead of truncating them.
 * @returns The server: a `fetch`-style handler, the request log, `reset()` and `injectFault()`.
 * @example Create a run without a network
 * ```ts
 * import { createMlflowServer } from "./mlflow_server.ts";
 * const server = createMlflowServer();
 * const res = await server.handler(new Request("http://mlflow.test/api/2.0/mlflow/runs/create", {
 *   method: "POST",
 *   headers: { "Content-Type": "application/json" },
 *   body: JSON.stringify({ experiment_id: "0", start_time: Date.now() }),
 * }));
 * const { run } = await res.json();
 * console.log(run.info.run_id, server.requests.length);
 * ```
 */
export function createMlflowServer(options: MlflowServerOptions = {}): MlflowTestServer {
  const impl = new InMemoryMlflow(options.strict === true, options.defaultArtifactRoot ?? "mlflow-artifacts:");
  const proxy = createFaultProxy((request) => impl.handle(request));
  return {
    handler: proxy.handler,
    requests: proxy.requests,
    injectFault: proxy.injectFault,
    reset() {
      impl.reset();
      proxy.reset();
    },
  };
}

/** A JSON answer laid out as the server lays it out: `json.dumps` with an indent of 2 (transcripts 31, 36). */
function jsonResponse(body: PyJson): Response {
  return new Response(pyDumps(body, 2), { headers: { "content-type": "application/json" } });
}

interface ExperimentRec {
  id: string;
  name: string;
  artifactLocation: string;
  lifecycleStage: "active" | "deleted";
  creationTime: number;
  lastUpdateTime: number;
  tags: Map<string, string>;
}

interface MetricRec {
  key: string;
  value: number;
  isNan: boolean;
  timestamp: number;
  step: number;
}

interface RunRec {
  id: string;
  experimentId: string;
  name: string;
  userId: string;
  status: string;
  startTime: number;
  endTime: number | undefined;
  artifactUri: string;
  lifecycleStage: "active" | "deleted";
  params: Map<string, string>;
  tags: Map<string, string>;
  latest: Map<string, MetricRec>;
  history: Map<string, MetricRec[]>;
  /** `DatasetInput`s from `runs/log-inputs`, as logged: `{tags, dataset}` in proto field order. */
  inputs: PyJson[];
}

const RUN_NAME_TAG = "mlflow.runName";
const MAX_DOUBLE = 1.7976931348623157e308;
const RUN_ATTRIBUTES: Record<string, "number" | "string"> = {
  run_id: "string",
  run_name: "string",
  status: "string",
  user_id: "string",
  artifact_uri: "string",
  start_time: "number",
  end_time: "number",
  created: "number",
  Created: "number",
};
const EXPERIMENT_ATTRIBUTES: Record<string, "number" | "string"> = {
  name: "string",
  experiment_id: "string",
  creation_time: "number",
  last_update_time: "number",
};
const PREDICATES = ["able", "bold", "bright", "calm", "clean", "crisp", "eager", "fair", "gentle", "honest", "kind", "lucky", "neat", "quick", "silent", "wise"];
const NOUNS = ["ant", "bat", "carp", "crane", "deer", "eel", "finch", "fox", "gull", "hare", "lynx", "mole", "owl", "seal", "wren", "yak"];
const UI_NOT_FOUND = `
Unable to display MLflow UI - landing page (index.html) not found.

You are very likely running the MLflow server using a source installation of the Python MLflow
package.

If you are a developer making MLflow source code changes and intentionally running a source
installation of MLflow, you can view the UI by running the Javascript dev server:
https://github.com/mlflow/mlflow/blob/master/CONTRIBUTING.md#running-the-javascript-dev-server

Otherwise, uninstall MLflow via 'pip uninstall mlflow', reinstall an official MLflow release
from PyPI via 'pip install mlflow', and rerun the MLflow server.
`;
const TEXT_EXTENSIONS = new Set(
  "txt log err cfg conf cnf cf ini properties prop hocon toml yaml yml xml json js py py3 csv tsv md rst MLmodel mlproject".split(" "),
);
const MIME_TYPES: Record<string, string> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  svg: "image/svg+xml",
  webp: "image/webp",
  html: "text/html",
  htm: "text/html",
  pdf: "application/pdf",
  zip: "application/zip",
};

/** Record lookup that ignores inherited names such as `constructor`. */

function pick<T>(items: readonly T[]): T {
  return items[Math.floor(Math.random() * items.length)] as T;
}

function newRunId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function guessMimeType(fileName: string): string {
  const dot = fileName.lastIndexOf(".");
  const extension = dot > 0 ? fileName.slice(dot + 1) : fileName;
  if (TEXT_EXTENSIONS.has(extension)) return "text/plain";
  return own(MIME_TYPES, extension.toLowerCase()) ?? "application/octet-stream";
}

function joinPath(dir: string, name: string): string {
  if (name === "") return dir;
  return dir === "" ? name : `${dir}/${name}`;
}

type MultipartStep = "create" | "complete" | "abort";

/** Each multipart request's message and schema checks, from mlflow/server/handlers.py. */
const MULTIPART_REQUESTS: Record<MultipartStep, [ProtoSchema, [string, Check[]][]]> = {
  create: [
    { path: { type: "string" }, num_parts: { type: "int64" } },
    [
      ["path", ["required", "string"]],
      ["num_parts", ["intlike"]],
    ],
  ],
  complete: [
    {
      path: { type: "string" },
      upload_id: { type: "string" },
      parts: { type: { message: { part_number: { type: "int64" }, etag: { type: "string" }, url: { type: "string" } } }, repeated: true },
    },
    [
      ["path", ["required", "string"]],
      ["upload_id", ["string"]],
      ["parts", ["required"]],
    ],
  ],
  abort: [
    { path: { type: "string" }, upload_id: { type: "string" } },
    [
      ["path", ["required", "string"]],
      ["upload_id", ["string"]],
    ],
  ],
};

/**
 * The bytes MLflow 3.11 stores from an artifact upload: none at all unless the
 * request has a `Content-Length` and is not chunked (transcripts 55 and 56).
 *
 * Why: `_upload_artifact` (mlflow/server/handlers.py) copies Flask's
 * `request.stream`, which is werkzeug's `get_input_stream(environ)`
 * (werkzeug/wsgi.py). When `get_content_length` finds no `CONTENT_LENGTH`, or
 * `Transfer-Encoding: chunked`, and the WSGI server did not set
 * `wsgi.input_terminated`, that function returns an empty `io.BytesIO()`
 * rather than risk reading an endless stream. Under uvicorn, `mlflow server`'s
 * default, Flask sits behind MLflow's WSGI bridge (`_EfficientWSGIResponder`
 * in mlflow/server/fastapi_app.py, using starlette's `build_environ` from
 * starlette/middleware/wsgi.py): it buffers the whole body, sets
 * `CONTENT_LENGTH` only from a `Content-Length` header and never sets
 * `wsgi.input_terminated`. So a chunked upload (what `fetch` sends for a
 * `ReadableStream` body) is answered 200 `{}` and stored as an empty file.
 * (A later MLflow, mlflow/server/artifact_router.py, serves this PUT natively
 * in FastAPI and keeps chunked bodies; the recorded 3.11 server does not.)
 */
async function bytesFlaskReads(request: Request): Promise<Uint8Array> {
  // The bridge reads the body to its end whatever werkzeug keeps of it.
  const body = new Uint8Array(await request.arrayBuffer());
  const length = request.headers.get("content-length");
  if (request.headers.get("transfer-encoding") === "chunked" || length === null) return new Uint8Array(0);
  // werkzeug's LimitedStream stops at the declared length; a length that is not a number reads as 0.
  const declared = /^\d+$/.test(length.trim()) ? Number(length.trim()) : 0;
  return body.subarray(0, declared);
}

type Route = (request: Request, url: URL) => Promise<Response>;

class InMemoryMlflow {
  private experiments = new Map<string, ExperimentRec>();
  private runs = new Map<string, RunRec>();
  private artifacts = new Map<string, Uint8Array>();
  private nextExperimentId = 1;
  private readonly routes: Record<string, [string[], Route]>;

  constructor(private readonly strict: boolean, private readonly artifactRoot: string) {
    this.routes = {
      "mlflow/experiments/create": [["POST"], (r, u) => this.createExperiment(r, u)],
      "mlflow/experiments/get": [["GET"], (r, u) => this.getExperiment(r, u)],
      "mlflow/experiments/get-by-name": [["GET"], (r, u) => this.getExperimentByName(r, u)],
      "mlflow/experiments/search": [["POST", "GET"], (r, u) => this.searchExperiments(r, u)],
      "mlflow/runs/create": [["POST"], (r, u) => this.createRun(r, u)],
      "mlflow/runs/update": [["POST"], (r, u) => this.updateRun(r, u)],
      "mlflow/runs/get": [["GET"], (r, u) => this.getRun(r, u)],
      "mlflow/runs/search": [["POST", "GET"], (r, u) => this.searchRuns(r, u)],
      "mlflow/runs/delete": [["POST"], (r, u) => this.setRunLifecycle(r, u, "deleted")],
      "mlflow/runs/restore": [["POST"], (r, u) => this.setRunLifecycle(r, u, "active")],
      "mlflow/runs/log-batch": [["POST"], (r, u) => this.logBatch(r, u)],
      "mlflow/runs/log-metric": [["POST"], (r, u) => this.logMetric(r, u)],
      "mlflow/runs/log-parameter": [["POST"], (r, u) => this.logParam(r, u)],
      "mlflow/runs/set-tag": [["POST"], (r, u) => this.setTag(r, u)],
      "mlflow/runs/log-inputs": [["POST"], (r, u) => this.logInputs(r, u)],
      "mlflow/metrics/get-history": [["GET"], (r, u) => this.metricHistory(r, u)],
      "mlflow/artifacts/list": [["GET"], (r, u) => this.listRunArtifacts(r, u)],
      "mlflow-artifacts/artifacts": [["GET"], (r, u) => this.listProxiedArtifacts(r, u)],
    };
    this.reset();
  }

  // An experiment's default artifact location: `mlflow-artifacts:/<id>` (transcripts) or `<root>/<id>`.
  private location(id: string): string {
    return this.artifactRoot === "mlflow-artifacts:" ? `mlflow-artifacts:/${id}` : `${this.artifactRoot.replace(/\/+$/, "")}/${id}`;
  }

  reset(): void {
    this.runs.clear();
    this.artifacts.clear();
    this.experiments.clear();
    this.nextExperimentId = 1;
    const now = Date.now();
    this.experiments.set("0", {
      id: "0",
      name: "Default",
      artifactLocation: this.location("0"),
      lifecycleStage: "active",
      creationTime: now,
      lastUpdateTime: now,
      tags: new Map(),
    });
  }

  async handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    try {
      return await this.dispatch(request, url);
    } catch (error) {
      if (error instanceof ApiError) return errorResponse(error.errorCode, error.message);
      return errorResponse("INTERNAL_ERROR", `Test server failure: ${String(error)}`);
    }
  }

  private dispatch(request: Request, url: URL): Promise<Response> {
    const path = url.pathname;
    const method = request.method;
    const text = (body: string, contentType: string): Promise<Response> =>
      Promise.resolve(new Response(body, { headers: { "content-type": contentType } }));
    if (path === "/" && method === "GET") return text(UI_NOT_FOUND, "text/plain; charset=utf-8");
    if (path === "/health" && method === "GET") return text("OK", "text/html; charset=utf-8");
    if (path === "/version" && method === "GET") return text("3.11.2.dev0", "text/html; charset=utf-8");
    if (path === "/get-artifact" && method === "GET") return this.legacyGetArtifact(url);
    if (["/", "/health", "/version", "/get-artifact"].includes(path)) return Promise.resolve(methodNotAllowed(["GET"]));
    const api = /^\/(?:ajax-)?api\/2\.0\/(.+)$/.exec(path)?.[1];
    if (api === undefined) return Promise.resolve(notFound());
    const prefix = "mlflow-artifacts/artifacts/";
    if (api.startsWith(prefix) && api.length > prefix.length) {
      const artifactPath = decodeURIComponent(api.slice(prefix.length));
      if (method === "PUT") return this.uploadArtifact(request, artifactPath);
      if (method === "GET") return this.downloadArtifact(artifactPath);
      if (method === "DELETE") return this.deleteArtifact(artifactPath);
      return Promise.resolve(methodNotAllowed(["GET", "PUT", "DELETE"]));
    }
    const mpu = /^mlflow-artifacts\/mpu\/(create|complete|abort)\/(.+)$/.exec(api);
    if (mpu !== null) {
      if (method !== "POST") return Promise.resolve(methodNotAllowed(["POST"]));
      return this.multipartUpload(request, url, mpu[1] as MultipartStep, decodeURIComponent(mpu[2] as string));
    }
    const route = own(this.routes, api);
    if (route === undefined) return Promise.resolve(notFound());
    const [methods, handler] = route;
    if (!methods.includes(method)) return Promise.resolve(methodNotAllowed(methods));
    return handler(request, url);
  }

  private async message(
    request: Request,
    url: URL,
    schema: ProtoSchema,
    rules: [string, Check[]][],
  ): Promise<{ msg: ProtoMsg; raw: RawObject }> {
    const raw = request.method === "GET" && url.search.length > 1 ? queryDict(url) : await readJsonBody(request);
    const msg: ProtoMsg = {};
    let parsedOk = true;
    try {
      parseInto(raw, schema, msg);
    } catch (error) {
      if (!(error instanceof ParseError)) throw error;
      parsedOk = false;
    }
    checkSchema(raw, rules, parsedOk);
    return { msg, raw };
  }

  private async createExperiment(request: Request, url: URL): Promise<Response> {
    const { msg } = await this.message(
      request,
      url,
      { name: { type: "string" }, artifact_location: { type: "string" }, tags: { type: { message: KEY_VALUE }, repeated: true } },
      [
        ["name", ["required", "string"]],
        ["artifact_location", ["string"]],
        ["tags", ["array"]],
      ],
    );
    const name = str(msg, "name") ?? "";
    if (name === "") throw invalid(`Invalid experiment name: ''`);
    if (pyLen(name) > MAX_EXPERIMENT_NAME_LENGTH) {
      throw invalid(`'name' exceeds the maximum length of ${MAX_EXPERIMENT_NAME_LENGTH} characters`);
    }
    const artifactLocation = str(msg, "artifact_location");
    if (artifactLocation?.startsWith("runs:") === true) {
      throw invalid(`Artifact location cannot be a runs:/ URI. Given: '${artifactLocation}'`);
    }
    const tags = keyValues(msg, "tags");
    for (const tag of tags) {
      validateName(tag.key, "key");
      if (pyLen(tag.key) > MAX_ENTITY_KEY_LENGTH) throw invalid(`'key' exceeds the maximum length of ${MAX_ENTITY_KEY_LENGTH} characters`);
      if (pyLen(tag.value) > MAX_EXPERIMENT_TAG_VAL_LENGTH) {
        throw invalid(`'value' exceeds the maximum length of ${MAX_EXPERIMENT_TAG_VAL_LENGTH} characters`);
      }
    }
    if ([...this.experiments.values()].some((e) => e.name === name)) {
      throw new ApiError("RESOURCE_ALREADY_EXISTS", `Experiment(name=${name}) already exists.`);
    }
    const id = String(this.nextExperimentId++);
    const now = Date.now();
    this.experiments.set(id, {
      id,
      name,
      artifactLocation: artifactLocation !== undefined && artifactLocation !== "" ? artifactLocation : this.location(id),
      lifecycleStage: "active",
      creationTime: now,
      lastUpdateTime: now,
      tags: new Map(tags.map((t) => [t.key, t.value])),
    });
    return jsonResponse({ experiment_id: id });
  }

  private async getExperiment(request: Request, url: URL): Promise<Response> {
    const { msg } = await this.message(request, url, { experiment_id: { type: "string" } }, [["experiment_id", ["required", "string"]]]);
    const id = str(msg, "experiment_id") ?? "";
    const experiment = this.experiments.get(id);
    if (experiment === undefined) throw new ApiError("RESOURCE_DOES_NOT_EXIST", `No Experiment with id=${id} exists`);
    return jsonResponse({ experiment: experimentJson(experiment) });
  }

  private async getExperimentByName(request: Request, url: URL): Promise<Response> {
    const { msg } = await this.message(request, url, { experiment_name: { type: "string" } }, [
      ["experiment_name", ["required", "string"]],
    ]);
    const name = str(msg, "experiment_name") ?? "";
    const matches = [...this.experiments.values()].filter((e) => e.name === name);
    const experiment = matches.find((e) => e.lifecycleStage === "active") ?? matches[0];
    if (experiment === undefined) {
      throw new ApiError("RESOURCE_DOES_NOT_EXIST", `Could not find experiment with name '${name}'`);
    }
    return jsonResponse({ experiment: experimentJson(experiment) });
  }

  private async searchExperiments(request: Request, url: URL): Promise<Response> {
    const { msg } = await this.message(
      request,
      url,
      {
        max_results: { type: "int64" },
        page_token: { type: "string" },
        filter: { type: "string" },
        order_by: { type: "string", repeated: true },
        view_type: { type: { enumValues: VIEW_TYPE } },
      },
      [
        ["max_results", ["intlike", { atMost: MAX_SEARCH_RESULTS }]],
        ["page_token", ["string"]],
        ["filter", ["string"]],
        ["order_by", ["array", "itemStrings"]],
      ],
    );
    const maxResults = num(msg, "max_results") ?? 1000;
    const viewType = str(msg, "view_type") ?? "ACTIVE_ONLY";
    const clauses = parseFilter(str(msg, "filter") ?? "", EXPERIMENT_ATTRIBUTES, ["attribute", "tag"]);
    const orderBy = (list(msg, "order_by") as string[]).map((o) => parseOrderBy(o, EXPERIMENT_ATTRIBUTES));
    const valueOf = (e: ExperimentRec, type: EntityType, key: string): string | number | undefined => {
      if (type === "tag") return e.tags.get(key);
      if (key === "name") return e.name;
      if (key === "experiment_id") return Number(e.id);
      return key === "creation_time" ? e.creationTime : e.lastUpdateTime;
    };
    const order = orderBy.length > 0 ? orderBy : [{ type: "attribute" as const, key: "creation_time", ascending: false }];
    const found = [...this.experiments.values()]
      .filter((e) => viewType === "ALL" || (viewType === "ACTIVE_ONLY") === (e.lifecycleStage === "active"))
      .filter((e) => clauses.every((cl) => clauseMatches(cl, valueOf(e, cl.type, cl.key))))
      .sort((a, b) => {
        for (const o of order) {
          const c = compareSortValues(valueOf(a, o.type, o.key), valueOf(b, o.type, o.key), o.ascending);
          if (c !== 0) return c;
        }
        return Number(a.id) - Number(b.id);
      });
    const { page, nextPageToken } = searchPage(found, str(msg, "page_token"), maxResults);
    return jsonResponse({ experiments: page.length > 0 ? page.map(experimentJson) : undefined, next_page_token: nextPageToken });
  }

  private findRun(id: string): RunRec {
    const run = this.runs.get(id);
    if (run === undefined) throw new ApiError("RESOURCE_DOES_NOT_EXIST", `Run with id=${id} not found`);
    return run;
  }

  private activeRun(id: string): RunRec {
    const run = this.findRun(id);
    if (run.lifecycleStage !== "active") {
      throw invalid(`The run ${id} must be in the 'active' state. Current state is ${run.lifecycleStage}.`);
    }
    return run;
  }

  private runIdOf(msg: ProtoMsg): string {
    const id = str(msg, "run_id");
    return id !== undefined && id !== "" ? id : (str(msg, "run_uuid") ?? "");
  }

  private limitValue(entity: string, limit: number, value: string): string {
    if (value.length <= limit || pyLen(value) <= limit) return value;
    if (this.strict) throw invalid(`'${entity}' exceeds the maximum length of ${limit} characters`);
    return pySlice(value, limit);
  }

  private validateParam(key: string, value: string, path: string): { key: string; value: string } {
    validateName(key, appendPath(path, "key"));
    if (pyLen(key) > MAX_ENTITY_KEY_LENGTH) throw invalid(`'Param key' exceeds the maximum length of ${MAX_ENTITY_KEY_LENGTH} characters`);
    return { key, value: this.limitValue("Param value", MAX_PARAM_VAL_LENGTH, value) };
  }

  private validateTag(key: string, value: string, path: string): { key: string; value: string } {
    validateName(key, appendPath(path, "key"));
    if (pyLen(key) > MAX_ENTITY_KEY_LENGTH) {
      throw invalid(`'${appendPath(path, "key")}' exceeds the maximum length of ${MAX_ENTITY_KEY_LENGTH} characters`);
    }
    return { key, value: this.limitValue(appendPath(path, "value"), MAX_TAG_VAL_LENGTH, value) };
  }

  private async createRun(request: Request, url: URL): Promise<Response> {
    const { msg } = await this.message(
      request,
      url,
      {
        experiment_id: { type: "string" },
        user_id: { type: "string" },
        run_name: { type: "string" },
        start_time: { type: "int64" },
        tags: { type: { message: KEY_VALUE }, repeated: true },
      },
      [
        ["experiment_id", ["string"]],
        ["user_id", ["string"]],
        ["start_time", ["intlike"]],
        ["tags", ["array"]],
        ["run_name", ["string"]],
      ],
    );
    const experimentId = str(msg, "experiment_id") || "0";
    const experiment = this.experiments.get(experimentId);
    if (experiment === undefined) throw new ApiError("RESOURCE_DOES_NOT_EXIST", `No Experiment with id=${experimentId} exists`);
    if (experiment.lifecycleStage !== "active") {
      throw invalid(`The experiment ${experimentId} must be in the 'active' state. Current state is ${experiment.lifecycleStage}.`);
    }
    // The SQL store's create_run stores tags as given: no key check, no truncation.
    const tags = new Map(keyValues(msg, "tags").map((t) => [t.key, t.value]));
    const runNameTag = tags.get(RUN_NAME_TAG);
    const runName = str(msg, "run_name") ?? "";
    if (runName !== "" && runNameTag !== undefined && runNameTag !== "" && runName !== runNameTag) {
      throw invalid(
        `Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values (run_name='${runName}', mlflow.runName='${runNameTag}').`,
      );
    }
    const name = runName || runNameTag || `${pick(PREDICATES)}-${pick(NOUNS)}-${Math.floor(Math.random() * 1000)}`;
    if (runNameTag === undefined || runNameTag === "") tags.set(RUN_NAME_TAG, name);
    const id = newRunId();
    const run: RunRec = {
      id,
      experimentId,
      name,
      userId: str(msg, "user_id") ?? "",
      status: "RUNNING",
      startTime: num(msg, "start_time") ?? 0,
      endTime: undefined,
      artifactUri: `${experiment.artifactLocation.replace(/\/+$/, "")}/${id}/artifacts`,
      lifecycleStage: "active",
      params: new Map(),
      tags,
      latest: new Map(),
      history: new Map(),
      inputs: [],
    };
    this.runs.set(id, run);
    return jsonResponse({ run: { info: runInfoJson(run), data: runDataJson(run), inputs: {} } });
  }

  private async updateRun(request: Request, url: URL): Promise<Response> {
    const { msg } = await this.message(
      request,
      url,
      { ...RUN_REF, status: { type: { enumValues: RUN_STATUS } }, end_time: { type: "int64" }, run_name: { type: "string" } },
      [
        ["run_id", ["required", "string"]],
        ["end_time", ["intlike"]],
        ["status", ["string"]],
        ["run_name", ["string"]],
      ],
    );
    const run = this.activeRun(this.runIdOf(msg));
    const status = str(msg, "status");
    if (status !== undefined) run.status = status;
    const endTime = num(msg, "end_time");
    if (endTime !== undefined) run.endTime = endTime;
    const runName = str(msg, "run_name");
    if (runName !== undefined && runName !== "") this.renameRun(run, runName);
    return jsonResponse({ run_info: runInfoJson(run) });
  }

  private renameRun(run: RunRec, name: string): void {
    run.name = name;
    run.tags.set(RUN_NAME_TAG, name);
  }

  private async getRun(request: Request, url: URL): Promise<Response> {
    const { msg } = await this.message(request, url, RUN_REF, [["run_id", ["required", "string"]]]);
    const run = this.findRun(this.runIdOf(msg));
    return jsonResponse({ run: fullRunJson(run) });
  }

  private async setRunLifecycle(request: Request, url: URL, stage: "active" | "deleted"): Promise<Response> {
    const { msg } = await this.message(request, url, RUN_REF, [["run_id", ["required", "string"]]]);
    this.findRun(this.runIdOf(msg)).lifecycleStage = stage;
    return jsonResponse({});
  }

  private async searchRuns(request: Request, url: URL): Promise<Response> {
    const { msg } = await this.message(
      request,
      url,
      {
        experiment_ids: { type: "string", repeated: true },
        filter: { type: "string" },
        run_view_type: { type: { enumValues: VIEW_TYPE } },
        max_results: { type: "int64" },
        order_by: { type: "string", repeated: true },
        page_token: { type: "string" },
      },
      [
        ["experiment_ids", ["array"]],
        ["filter", ["string"]],
        ["max_results", ["intlike", { atMost: MAX_SEARCH_RESULTS }]],
        ["order_by", ["array", "itemStrings"]],
      ],
    );
    const experimentIds = new Set(list(msg, "experiment_ids") as string[]);
    const viewType = str(msg, "run_view_type") ?? "ACTIVE_ONLY";
    const maxResults = num(msg, "max_results") ?? 1000;
    const clauses = parseFilter(str(msg, "filter") ?? "", RUN_ATTRIBUTES, ["metric", "param", "tag", "attribute"]);
    const orderBy = (list(msg, "order_by") as string[]).map((o) => parseOrderBy(o, RUN_ATTRIBUTES));
    if (!orderBy.some((o) => o.type === "attribute" && o.key === "start_time")) {
      orderBy.push({ type: "attribute", key: "start_time", ascending: false });
    }
    const found = [...this.runs.values()]
      .filter((r) => experimentIds.has(r.experimentId))
      .filter((r) => viewType === "ALL" || (viewType === "ACTIVE_ONLY") === (r.lifecycleStage === "active"))
      .filter((r) => clauses.every((cl) => clauseMatches(cl, runValue(r, cl.type, cl.key))))
      .sort((a, b) => {
        for (const o of orderBy) {
          const c = compareSortValues(runValue(a, o.type, o.key), runValue(b, o.type, o.key), o.ascending);
          if (c !== 0) return c;
        }
        return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
      });
    const { page, nextPageToken } = searchPage(found, str(msg, "page_token"), maxResults);
    return jsonResponse({ runs: page.length > 0 ? page.map(fullRunJson) : undefined, next_page_token: nextPageToken });
  }

  private async logBatch(request: Request, url: URL): Promise<Response> {
    const { msg } = await this.message(
      request,
      url,
      {
        run_id: { type: "string" },
        metrics: { type: { message: METRIC }, repeated: true },
        params: { type: { message: KEY_VALUE }, repeated: true },
        tags: { type: { message: KEY_VALUE }, repeated: true },
      },
      [
        ["run_id", ["string", "required"]],
        ["metrics", ["array", fieldsPresent("metrics", ["key", "value", "timestamp"])]],
        ["params", ["array", fieldsPresent("params", ["key"])]],
        ["tags", ["array", fieldsPresent("params", ["key"])]],
      ],
    );
    const runId = str(msg, "run_id") ?? "";
    if (!RUN_ID_RE.test(runId)) throw invalidValue("run_id", runId);
    const metrics = toMetrics(msg, "metrics");
    metrics.forEach((m, i) => validateMetric(m, `metrics[${i}]`));
    const params = keyValues(msg, "params").map((p, i) => this.validateParam(p.key, p.value, `params[${i}]`));
    const tags = keyValues(msg, "tags").map((t, i) => this.validateTag(t.key, t.value, `tags[${i}]`));
    const batchLimit = (entity: string, limit: number, count: number): void => {
      if (count > limit) {
        throw invalid(
          `A batch logging request can contain at most ${limit} ${entity}. Got ${count} ${entity}. Please split up ${entity} across multiple requests and try again.`,
        );
      }
    };
    batchLimit("metrics", MAX_METRICS_PER_BATCH, metrics.length);
    batchLimit("params", MAX_PARAMS_TAGS_PER_BATCH, params.length);
    batchLimit("tags", MAX_PARAMS_TAGS_PER_BATCH, tags.length);
    batchLimit("metrics, params, and tags", MAX_ENTITIES_PER_BATCH, metrics.length + params.length + tags.length);
    const seen = new Set<string>();
    const duplicates = params.map((p) => p.key).filter((k) => seen.has(k) || (seen.add(k), false));
    if (duplicates.length > 0) {
      throw invalid(
        `Duplicate parameter keys have been submitted: [${duplicates.map(pyRepr).join(", ")}]. Please ensure the request contains only one param value per param key.`,
      );
    }
    const run = this.activeRun(runId);
    const mismatches = params.filter((p) => run.params.has(p.key) && run.params.get(p.key) !== p.value);
    if (mismatches.length > 0) {
      const shown = mismatches.map(
        (p) => `{'key': ${pyRepr(p.key)}, 'old_value': ${pyRepr(run.params.get(p.key) ?? "")}, 'new_value': ${pyRepr(p.value)}}`,
      );
      throw invalid(`Changing param values is not allowed. Params were already logged='[${shown.join(", ")}]' for run ID='${runId}'.`);
    }
    for (const p of params) run.params.set(p.key, p.value);
    for (const m of metrics) storeMetric(run, m);
    for (const t of tags) this.storeTag(run, t.key, t.value);
    return jsonResponse({});
  }

  private storeTag(run: RunRec, key: string, value: string): void {
    if (key === RUN_NAME_TAG) this.renameRun(run, value);
    else run.tags.set(key, value);
  }

  private async logMetric(request: Request, url: URL): Promise<Response> {
    const { msg } = await this.message(request, url, { ...RUN_REF, ...METRIC }, [
      ["run_id", ["required", "string"]],
      ["key", ["required", "string"]],
      ["value", ["required", "floatlike"]],
      ["timestamp", ["intlike", "required"]],
      ["step", ["intlike"]],
    ]);
    const [metric] = toMetrics({ metrics: [msg] }, "metrics") as [MetricIn];
    validateMetric(metric, "");
    storeMetric(this.activeRun(this.runIdOf(msg)), metric);
    return jsonResponse({});
  }

  private async logParam(request: Request, url: URL): Promise<Response> {
    const { msg } = await this.message(request, url, { ...RUN_REF, ...KEY_VALUE }, [
      ["run_id", ["required", "string"]],
      ["key", ["required", "string"]],
      ["value", ["string"]],
    ]);
    const param = this.validateParam(str(msg, "key") ?? "", str(msg, "value") ?? "", "");
    const runId = this.runIdOf(msg);
    const run = this.activeRun(runId);
    const old = run.params.get(param.key);
    if (old !== undefined && old !== param.value) {
      throw invalid(
        `Changing param values is not allowed. Param with key='${param.key}' was already logged with value='${old}' for run ID='${runId}'. Attempted logging new value '${param.value}'.`,
      );
    }
    run.params.set(param.key, param.value);
    return jsonResponse({});
  }

  private async setTag(request: Request, url: URL): Promise<Response> {
    const { msg } = await this.message(request, url, { ...RUN_REF, ...KEY_VALUE }, [
      ["run_id", ["required", "string"]],
      ["key", ["required", "string"]],
      ["value", ["string"]],
    ]);
    const tag = this.validateTag(str(msg, "key") ?? "", str(msg, "value") ?? "", "");
    this.storeTag(this.activeRun(this.runIdOf(msg)), tag.key, tag.value);
    return jsonResponse({});
  }

  private async logInputs(request: Request, url: URL): Promise<Response> {
    const { msg } = await this.message(
      request,
      url,
      { run_id: { type: "string" }, datasets: { type: { message: DATASET_INPUT }, repeated: true }, models: { type: { message: { model_id: { type: "string" } } }, repeated: true } },
      [
        ["run_id", ["required", "string"]],
        ["datasets", ["array"]],
        ["models", ["array"]],
      ],
    );
    const run = this.activeRun(str(msg, "run_id") ?? "");
    // Kept as parsed: runs/get shows them back field for field (transcripts 59, 60). Model inputs
    // and the SQL store's de-duplication of a dataset logged twice are not modelled.
    for (const input of list(msg, "datasets")) run.inputs.push(input as PyJson);
    return jsonResponse({});
  }

  private async metricHistory(request: Request, url: URL): Promise<Response> {
    const { msg } = await this.message(
      request,
      url,
      { ...RUN_REF, metric_key: { type: "string" }, page_token: { type: "string" }, max_results: { type: "int64" } },
      [
        ["run_id", ["string", "required"]],
        ["metric_key", ["string", "required"]],
        ["page_token", ["string"]],
        ["max_results", ["intlike"]],
      ],
    );
    // The handler passes the proto default 0 when max_results is absent: no
    // metrics and a page token pointing at the same offset (transcript 37).
    const maxResults = num(msg, "max_results") ?? 0;
    const offset = decodePageToken(str(msg, "page_token"));
    const history = this.runs.get(this.runIdOf(msg))?.history.get(str(msg, "metric_key") ?? "") ?? [];
    const sorted = [...history].sort((a, b) => a.timestamp - b.timestamp || a.step - b.step);
    const page = sorted.slice(offset, offset + maxResults);
    return jsonResponse({
      metrics: page.length > 0 ? page.map(metricJson) : undefined,
      next_page_token: page.length === maxResults ? encodePageToken(offset + maxResults) : undefined,
    });
  }

  private listDir(dir: string): { name: string; isDir: boolean; size?: number }[] {
    const entries = new Map<string, { name: string; isDir: boolean; size?: number }>();
    for (const [path, bytes] of this.artifacts) {
      if (dir !== "" && !path.startsWith(`${dir}/`)) continue;
      const rest = dir === "" ? path : path.slice(dir.length + 1);
      const slash = rest.indexOf("/");
      if (slash >= 0) entries.set(rest.slice(0, slash), { name: rest.slice(0, slash), isDir: true });
      // FileInfo.to_proto (mlflow/entities/file_info.py) sets file_size only `if self.file_size:`,
      // so an empty file is listed without one, by both listings (transcript 56).
      else entries.set(rest, { name: rest, isDir: false, size: bytes.length > 0 ? bytes.length : undefined });
    }
    return [...entries.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  private async listRunArtifacts(request: Request, url: URL): Promise<Response> {
    const { msg } = await this.message(request, url, { ...RUN_REF, path: { type: "string" }, page_token: { type: "string" } }, [
      ["run_id", ["string", "required"]],
      ["path", ["string"]],
      ["page_token", ["string"]],
    ]);
    const relative = str(msg, "path");
    const cleaned = relative === undefined ? "" : safeArtifactPath(relative);
    const run = this.findRun(this.runIdOf(msg));
    const files = this.listDir(joinPath(proxiedRoot(run.artifactUri), cleaned)).map((f) => ({
      // posixpath.join(path, name), as the handler builds it
      path: relative === undefined || relative === "" ? f.name : `${relative.replace(/\/$/, "")}/${f.name}`,
      is_dir: f.isDir,
      file_size: f.size,
    }));
    return jsonResponse({ root_uri: run.artifactUri, files: files.length > 0 ? files : undefined });
  }

  private async listProxiedArtifacts(request: Request, url: URL): Promise<Response> {
    const { msg } = await this.message(request, url, { path: { type: "string" } }, []);
    const path = str(msg, "path");
    const files = this.listDir(path === undefined ? "" : safeArtifactPath(path)).map((f) => ({
      path: f.name,
      is_dir: f.isDir,
      file_size: f.size,
    }));
    return jsonResponse({ files: files.length > 0 ? files : undefined });
  }

  private async uploadArtifact(request: Request, rawPath: string): Promise<Response> {
    const path = safeArtifactPath(rawPath);
    const bytes = await bytesFlaskReads(request);
    const parts = path.split("/");
    const blockedByFile = parts.some((_, i) => i > 0 && this.artifacts.has(parts.slice(0, i).join("/")));
    if (path === "" || blockedByFile || [...this.artifacts.keys()].some((k) => k.startsWith(`${path}/`))) {
      throw new ApiError("INTERNAL_ERROR", `Cannot write artifact '${path}': a file and a directory would share a name`);
    }
    this.artifacts.set(path, bytes);
    return jsonResponse({});
  }

  /**
   * `mlflow-artifacts/mpu/{create,complete,abort}/<dir>`: the request is checked
   * as `_create_multipart_upload_artifact` and its siblings check it
   * (mlflow/server/handlers.py), then refused, because a local artifact
   * destination has no multipart upload (transcript 57).
   */
  private async multipartUpload(request: Request, url: URL, step: MultipartStep, rawPath: string): Promise<Response> {
    safeArtifactPath(rawPath);
    const [schema, rules] = MULTIPART_REQUESTS[step];
    await this.message(request, url, schema, rules);
    // 57's body, exactly: this error carries no sqlstate or error_class.
    return new Response(
      pyDumps({ error_code: "NOT_IMPLEMENTED", message: "Multipart upload is not supported for the current artifact repository" }),
      { status: 501, headers: { "content-type": "application/json" } },
    );
  }

  private fileResponse(path: string): Response {
    const bytes = this.artifacts.get(path);
    if (bytes === undefined) throw new ApiError("RESOURCE_DOES_NOT_EXIST", `File '${path}' does not exist`);
    const fileName = path.slice(path.lastIndexOf("/") + 1);
    return new Response(bytes.slice(), {
      headers: {
        "content-type": guessMimeType(fileName),
        "content-disposition": `attachment; filename=${fileName}`,
        "x-content-type-options": "nosniff",
      },
    });
  }

  private downloadArtifact(rawPath: string): Promise<Response> {
    return Promise.resolve(this.fileResponse(safeArtifactPath(rawPath)));
  }

  private deleteArtifact(rawPath: string): Promise<Response> {
    const path = safeArtifactPath(rawPath);
    for (const key of [...this.artifacts.keys()]) {
      if (key === path || key.startsWith(`${path}/`)) this.artifacts.delete(key);
    }
    return Promise.resolve(jsonResponse({}));
  }

  private legacyGetArtifact(url: URL): Promise<Response> {
    const runId = url.searchParams.get("run_id") || url.searchParams.get("run_uuid") || "";
    const path = url.searchParams.get("path");
    if (path === null) throw invalid(`Missing value for required parameter 'path'.${DOCS_HINT}`);
    const cleaned = safeArtifactPath(path);
    const run = this.findRun(runId);
    return Promise.resolve(this.fileResponse(joinPath(proxiedRoot(run.artifactUri), cleaned)));
  }
}

function storeMetric(run: RunRec, m: MetricIn): void {
  const isNan = Number.isNaN(m.value);
  const value = isNan ? 0 : Math.max(-MAX_DOUBLE, Math.min(MAX_DOUBLE, m.value));
  const rec: MetricRec = { key: m.key, value, isNan, timestamp: m.timestamp, step: m.step };
  const history = run.history.get(m.key) ?? [];
  run.history.set(m.key, history);
  // The SQL primary key covers every column, so an exact repeat is not stored twice.
  const same = (h: MetricRec): boolean => h.value === value && h.isNan === isNan && h.timestamp === m.timestamp && h.step === m.step;
  if (!history.some(same)) history.push(rec);
  const current = run.latest.get(m.key);
  const newer =
    current === undefined ||
    rec.step > current.step ||
    (rec.step === current.step && (rec.timestamp > current.timestamp || (rec.timestamp === current.timestamp && rec.value > current.value)));
  if (newer) run.latest.set(m.key, rec);
}

function runValue(run: RunRec, type: EntityType, key: string): string | number | undefined {
  if (type === "metric") return run.latest.get(key)?.value;
  if (type === "param") return run.params.get(key);
  if (type === "tag") return run.tags.get(key);
  switch (key) {
    case "run_id":
      return run.id;
    case "run_name":
      return run.name;
    case "status":
      return run.status;
    case "user_id":
      return run.userId;
    case "artifact_uri":
      return run.artifactUri;
    case "end_time":
      return run.endTime;
    default:
      return run.startTime;
  }
}

function experimentJson(e: ExperimentRec): PyJson {
  return {
    experiment_id: e.id,
    name: e.name,
    artifact_location: e.artifactLocation,
    lifecycle_stage: e.lifecycleStage,
    last_update_time: e.lastUpdateTime,
    creation_time: e.creationTime,
    tags: e.tags.size > 0 ? [...e.tags].map(([key, value]) => ({ key, value })) : undefined,
  };
}

function metricJson(m: MetricRec): PyJson {
  return { key: m.key, value: m.isNan ? "NaN" : new PyFloat(m.value), timestamp: m.timestamp, step: m.step };
}

function runInfoJson(run: RunRec): PyJson {
  return {
    run_uuid: run.id,
    experiment_id: run.experimentId,
    run_name: run.name,
    user_id: run.userId,
    status: run.status,
    start_time: run.startTime,
    end_time: run.endTime,
    artifact_uri: run.artifactUri,
    lifecycle_stage: run.lifecycleStage,
    run_id: run.id,
  };
}

function runDataJson(run: RunRec): PyJson {
  const pairs = (m: Map<string, string>): PyJson | undefined => (m.size > 0 ? [...m].map(([key, value]) => ({ key, value })) : undefined);
  return {
    metrics: run.latest.size > 0 ? [...run.latest.values()].map(metricJson) : undefined,
    params: pairs(run.params),
    tags: pairs(run.tags),
  };
}

function fullRunJson(run: RunRec): PyJson {
  // Transcripts 60 and 62: `inputs` is always there, `dataset_inputs` only once something was logged.
  const inputs = run.inputs.length > 0 ? { dataset_inputs: run.inputs } : {};
  return { info: runInfoJson(run), data: runDataJson(run), inputs, outputs: {} };
}

function queryDict(url: URL): RawObject {
  const raw: RawObject = Object.create(null) as RawObject;
  for (const [rawKey, value] of url.searchParams) {
    const arrayKey = /^(.*)\[\d*\]$/.exec(rawKey)?.[1];
    const key = arrayKey ?? rawKey;
    const existing = raw[key];
    if (Array.isArray(existing)) existing.push(value);
    else if (existing !== undefined) raw[key] = [existing, value];
    else raw[key] = arrayKey !== undefined ? [value] : value;
  }
  return raw;
}

/** Flask `get_json(force=True, silent=True)` after MLflow's Content-Type check; bad JSON reads as `{}`. */
async function readJsonBody(request: Request): Promise<RawObject> {
  if (request.method === "POST" || request.method === "PUT") {
    const contentType = request.headers.get("content-type");
    if (contentType === null) throw invalid("Bad Request. Content-Type header is missing.");
    if (contentType.split(";")[0] !== "application/json") {
      throw invalid("Bad Request. Content-Type must be one of ['application/json'].");
    }
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(await request.arrayBuffer());
  } catch {
    return Object.create(null) as RawObject;
  }
  let parsed = parsePythonJson(text);
  // Old clients double-encode the body as a JSON string; the server decodes twice.
  if (typeof parsed === "string") parsed = parsePythonJson(parsed);
  return isRawObject(parsed) ? parsed : (Object.create(null) as RawObject);
}
