/**
 * Test support: a fake Databricks workspace. MLflow's REST API is the
 * in-memory MLflow server (same paths and JSON, managed-mlflow.md §1.3), with
 * what Databricks does differently in front of it:
 *
 * - Every `/api/` request needs `Authorization: Bearer <token>`: the
 *   workspace's personal access token or an unexpired token of its OAuth
 *   endpoint (`fake_databricks_oauth.ts`). A wrong token gets 403
 *   `{"error_code": 403, "message": "Invalid access token."}` (a numeric
 *   code: databricks/databricks-sdk-go#873, #917); an expired OAuth token gets
 *   401 (§6 "OAuth token near expiry → 401"; the body text is guessed).
 * - Experiment names must be absolute workspace paths: `experiments/create`
 *   answers 400 `INVALID_PARAMETER_VALUE` "Got an invalid experiment name …"
 *   (mlflow/mlflow#8269), `get-by-name` `RESOURCE_DOES_NOT_EXIST` with the same
 *   text (§1.3, seen only in a terraform-provider mock); the parent folder
 *   must exist (`RESOURCE_DOES_NOT_EXIST: Parent directory … does not exist`,
 *   databricks-demos/dbdemos#155) and `workspace/mkdirs` creates it, `/Users`
 *   itself being protected (`DIRECTORY_PROTECTED`, amesar/mlflow-export-import#24).
 * - Run artifact URIs are `dbfs:/databricks/mlflow-tracking/<exp>/<run>/artifacts`
 *   (§1.4); the OSS proxy `mlflow-artifacts/*` does not exist (404).
 *   `mlflow/artifacts/credentials-for-write` and `-for-read` take
 *   `{run_id, path: [...], page_token}` and answer `{credential_infos: [{run_id,
 *   path, signed_uri, type, headers}], next_page_token}` (§1.4.2,
 *   databricks_artifacts.proto), type `AWS_PRESIGNED_URL`, URLs of a fake
 *   bucket minted with the official AWS signer; the returned header
 *   `x-amz-server-side-encryption: AES256` is signed, so it must be sent.
 *   `mlflow/artifacts/list` lists what the bucket holds.
 * - S3 multipart (§1.4.4, databricks_artifacts.proto): `create-multipart-upload
 *   {run_id, path, num_parts}` → `{upload_id, upload_credential_infos,
 *   abort_credential_info}`, `GET get-presigned-upload-part-url {run_id, path,
 *   upload_id, part_number}` → `{upload_credential_info}`, and
 *   `complete-multipart-upload {run_id, path, upload_id, part_etags}` → `{}`,
 *   which joins the parts in the bucket (its error answer, 400
 *   `INVALID_PARAMETER_VALUE` with S3's message, is guessed).
 *   With `storage: "gcs"` the same URLs come typed `GCP_SIGNED_URL` (GCS
 *   accepts AWS4-HMAC-SHA256 signed URLs made with HMAC keys,
 *   cloud.google.com/storage/docs/authentication/signatures); with
 *   `storage: "azure"` they are `AZURE_SAS_URI` service SAS URLs of an Azurite
 *   container (`fake_databricks_azurite.ts`), which Azurite checks.
 * - Throttling (429 with `Retry-After`, §1.3) is injected by tests through
 *   the fault proxy in front of the workspace.
 *
 * Because Databricks is a differently configured server, the Databricks tests
 * always use this fake, also when `MLFLOW_TEST_TRACKING_URI` names an external
 * MLflow server: that server has none of the behaviour above.
 *
 * @module
 */
import { type Azurite, startAzurite } from "./fake_databricks_azurite.ts";
import { createFakeBucket, type FakeBucket } from "./fake_databricks_bucket.ts";
import { createFakeOAuth, type FakeOAuth } from "./fake_databricks_oauth.ts";
import { createFaultProxy, type FaultProxy } from "./fault_proxy.ts";
import { createMlflowServer, type MlflowTestServer } from "./mlflow_server.ts";
import { pyDumps } from "./python_json.ts";
import { serve, type ServedHandler } from "./serve.ts";

/** Options of {@link startFakeDatabricks}. */
export interface FakeDatabricksOptions {
  /** The workspace user the PAT belongs to; default `me@example.com`. */
  userName?: string;
  /** OAuth token lifetime in seconds; default 3600. */
  tokenTtlSeconds?: number;
  /** Credentials per `credentials-for-*` page; default 1000. */
  credentialsPageSize?: number;
  /**
   * Where run artifacts go: the S3 fake (default), the same typed as GCS
   * signed URLs, Azurite, or `adls`: credentials typed `AZURE_ADLS_GEN2_SAS_URI`
   * (the proto's fourth type) whose URLs are the S3 fake's, for a client that
   * must refuse the type before sending anything.
   */
  storage?: "s3" | "gcs" | "azure" | "adls";
}

/** A running fake workspace. */
export interface FakeDatabricks {
  /** The workspace URL, e.g. `http://127.0.0.1:41234`. */
  url: string;
  /** A valid personal access token. */
  pat: string;
  /** A service principal's OAuth client id and secret. */
  clientId: string;
  clientSecret: string;
  userName: string;
  /** The fault proxy in front of the workspace: request log and injected faults. */
  proxy: FaultProxy;
  /** The MLflow server behind it. */
  memory: MlflowTestServer;
  /**
   * Calls the workspace's REST API with the PAT, as a user reading runs back
   * would: GET fields go in the query, POST fields in a JSON body.
   */
  api<T>(method: "GET" | "POST", path: string, fields: Record<string, unknown>): Promise<T>;
  /** The S3 fake (holds the artifacts unless `storage` is `azure`). */
  bucket: FakeBucket;
  /** Azurite, when `storage` is `azure`. */
  azurite?: Azurite;
  /**
   * Artifact files of a run as the storage holds them: paths relative to the
   * run's artifact root, with sizes.
   */
  files(experimentId: string, runId: string): Promise<Map<string, number>>;
  oauth: FakeOAuth;
  /** The `path` lists of every `credentials-for-write` request. */
  credentialRequests: string[][];
  /** Makes the next `n` signed upload URLs come out already expired. */
  expireNextUploadUrls(n: number): void;
  /** Makes the next `n` multipart part URLs come out already expired. */
  expireNextPartUrls(n: number): void;
  /** Workspace folders that exist. */
  folders: Set<string>;
  /**
   * Reads an artifact as a user would: `credentials-for-read` with the PAT,
   * then a GET of the signed URL.
   */
  artifact(runId: string, path: string): Promise<Uint8Array>;
  close(): Promise<void>;
}

const json = (status: number, body: unknown): Response =>
  new Response(typeof body === "string" ? body : JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

const apiError = (status: number, errorCode: string, message: string): Response =>
  new Response(pyDumps({ error_code: errorCode, message }), { status, headers: { "content-type": "application/json" } });

const invalidName = (name: string): string =>
  `Got an invalid experiment name '${name}'. An experiment name must be an absolute path within the Databricks workspace, e.g. '/Users/<some-username>/my-experiment'.`;

const DBFS_ROOT = "dbfs:/databricks/mlflow-tracking/";

/**
 * Starts a fake workspace, its bucket and a plain view of its MLflow server.
 *
 * @param options User, token lifetime, credentials page size.
 * @returns The running workspace.
 * @example Sign in with the PAT and create an experiment
 * ```ts
 * import { startFakeDatabricks } from "./fake_databricks.ts";
 * const ws = await startFakeDatabricks();
 * const res = await fetch(`${ws.url}/api/2.0/mlflow/experiments/create`, {
 *   method: "POST",
 *   headers: { authorization: `Bearer ${ws.pat}`, "content-type": "application/json" },
 *   body: JSON.stringify({ name: `/Users/${ws.userName}/bt` }),
 * });
 * console.log(res.status); // 200
 * await ws.close();
 * ```
 */
export async function startFakeDatabricks(options: FakeDatabricksOptions = {}): Promise<FakeDatabricks> {
  const userName = options.userName ?? "me@example.com";
  const pat = `dapi${crypto.randomUUID().replaceAll("-", "")}`;
  const clientId = crypto.randomUUID();
  const clientSecret = `dose${crypto.randomUUID().replaceAll("-", "")}`;
  const pageSize = options.credentialsPageSize ?? 1000;
  const memory = createMlflowServer();
  const bucket = createFakeBucket();
  const oauth = createFakeOAuth({ clientId, clientSecret, ttlSeconds: options.tokenTtlSeconds ?? 3600 });
  const folders = new Set(["/", "/Users", `/Users/${userName}`, "/Shared"]);
  const credentialRequests: string[][] = [];
  let expireNext = 0;
  let expirePartsNext = 0;
  const servedBucket = await serve(bucket.handler);
  const storage = options.storage ?? "s3";
  const azurite = storage === "azure" ? await startAzurite() : undefined;

  // A signed URL for one object of the chosen storage, with the headers to send.
  const mint = async (key: string, method: "PUT" | "GET", expired: boolean): Promise<{ uri: string; type: string; headers: Record<string, string> }> => {
    if (azurite !== undefined) return { uri: await azurite.blobSas(key, method === "PUT" ? "cw" : "r", expired), type: "AZURE_SAS_URI", headers: {} };
    const headers: Record<string, string> = method === "PUT" ? { "x-amz-server-side-encryption": "AES256" } : {};
    const uri = await bucket.presign(servedBucket.url, method, key, { expired, headers });
    const type = storage === "gcs" ? "GCP_SIGNED_URL" : storage === "adls" ? "AZURE_ADLS_GEN2_SAS_URI" : "AWS_PRESIGNED_URL";
    return { uri, type, headers };
  };
  const stored = async (prefix: string): Promise<Map<string, number>> => {
    if (azurite !== undefined) return await azurite.list(prefix);
    return new Map([...bucket.objects].filter(([key]) => key.startsWith(prefix)).map(([key, o]) => [key, o.bytes.length]));
  };

  const upstream = async (path: string, init: RequestInit = {}): Promise<Response> =>
    await memory.handler(new Request(`http://mlflow.internal/api/2.0/${path}`, init));

  const runOf = async (runId: string): Promise<{ experiment_id: string } | undefined> => {
    const res = await upstream(`mlflow/runs/get?run_id=${encodeURIComponent(runId)}`);
    if (!res.ok) return undefined;
    return ((await res.json()) as { run: { info: { experiment_id: string } } }).run.info;
  };

  const credentials = async (request: Request, method: "PUT" | "GET"): Promise<Response> => {
    const body = (await request.json()) as { run_id?: string; path?: string[]; page_token?: string };
    const run = body.run_id === undefined ? undefined : await runOf(body.run_id);
    if (run === undefined) return apiError(404, "RESOURCE_DOES_NOT_EXIST", `Run '${body.run_id}' not found.`);
    const paths = body.path ?? [];
    if (method === "PUT") credentialRequests.push(paths);
    const start = Number(body.page_token ?? 0);
    const page = paths.slice(start, start + pageSize);
    const infos = [];
    for (const path of page) {
      const key = `${run.experiment_id}/${body.run_id}/artifacts/${path}`;
      const expired = method === "PUT" && expireNext > 0;
      if (expired) expireNext--;
      const { uri, type, headers } = await mint(key, method, expired);
      infos.push({
        run_id: body.run_id,
        path,
        signed_uri: uri,
        type,
        headers: Object.entries(headers).map(([name, value]) => ({ name, value })),
      });
    }
    const next = start + pageSize < paths.length ? String(start + pageSize) : undefined;
    return json(200, { credential_infos: infos, ...(next !== undefined ? { next_page_token: next } : {}) });
  };

  const partUrl = async (key: string, uploadId: string, partNumber: number): Promise<Record<string, unknown>> => {
    const expired = expirePartsNext > 0;
    if (expired) expirePartsNext--;
    const uri = await bucket.presign(servedBucket.url, "PUT", key, { expired, query: { partNumber: String(partNumber), uploadId } });
    return { path: key, signed_uri: uri, type: "AWS_PRESIGNED_URL", headers: [] };
  };

  const multipart = async (request: Request, url: URL, step: "create" | "part" | "complete"): Promise<Response> => {
    const body = (step === "part" ? Object.fromEntries(url.searchParams) : await request.json()) as {
      run_id?: string; path?: string; num_parts?: number; upload_id?: string; part_number?: string; part_etags?: { part_number: number; etag: string }[];
    };
    const run = body.run_id === undefined ? undefined : await runOf(body.run_id);
    if (run === undefined) return apiError(404, "RESOURCE_DOES_NOT_EXIST", `Run '${body.run_id}' not found.`);
    const key = `${run.experiment_id}/${body.run_id}/artifacts/${body.path}`;
    if (step === "create") {
      const uploadId = bucket.createUpload(key);
      const infos = [];
      for (let n = 1; n <= Number(body.num_parts); n++) infos.push(await partUrl(key, uploadId, n));
      const abort = await bucket.presign(servedBucket.url, "DELETE", key, { query: { uploadId } });
      return json(200, { upload_id: uploadId, upload_credential_infos: infos, abort_credential_info: { path: key, signed_uri: abort, type: "AWS_PRESIGNED_URL", headers: [] } });
    }
    if (step === "part") return json(200, { upload_credential_info: await partUrl(key, body.upload_id ?? "", Number(body.part_number)) });
    const failure = bucket.completeUpload(body.upload_id ?? "", body.part_etags ?? []);
    return failure === undefined ? json(200, {}) : apiError(400, "INVALID_PARAMETER_VALUE", `${failure.code}: ${failure.message}`);
  };

  const listArtifacts = async (url: URL): Promise<Response> => {
    const runId = url.searchParams.get("run_id") ?? "";
    const run = await runOf(runId);
    if (run === undefined) return apiError(404, "RESOURCE_DOES_NOT_EXIST", `Run '${runId}' not found.`);
    const dir = (url.searchParams.get("path") ?? "").replace(/^\/+|\/+$/g, "");
    const prefix = `${run.experiment_id}/${runId}/artifacts/${dir ? `${dir}/` : ""}`;
    const files = new Map<string, { path: string; is_dir: boolean; file_size?: number }>();
    for (const [key, size] of await stored(prefix)) {
      const rest = key.slice(prefix.length);
      const slash = rest.indexOf("/");
      const path = `${dir ? `${dir}/` : ""}${slash < 0 ? rest : rest.slice(0, slash)}`;
      files.set(path, slash < 0 ? { path, is_dir: false, file_size: size } : { path, is_dir: true });
    }
    return json(200, { root_uri: `${DBFS_ROOT}${run.experiment_id}/${runId}/artifacts`, ...(files.size ? { files: [...files.values()] } : {}) });
  };

  const mkdirs = async (request: Request): Promise<Response> => {
    const { path } = (await request.json()) as { path?: string };
    if (path === undefined || !path.startsWith("/")) return apiError(400, "INVALID_PARAMETER_VALUE", "Path must be absolute");
    if (path === "/Users") return apiError(400, "DIRECTORY_PROTECTED", "Folder Users is protected");
    const parts = path.split("/").filter((p) => p !== "");
    for (let i = 1; i <= parts.length; i++) folders.add(`/${parts.slice(0, i).join("/")}`);
    return json(200, {});
  };

  const workspace = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    if (url.pathname === "/oidc/v1/token") return await oauth.tokenEndpoint(request);
    if (!url.pathname.startsWith("/api/")) return new Response("Not Found", { status: 404 });
    const authorization = request.headers.get("authorization") ?? "";
    const token = /^Bearer (.+)$/.exec(authorization)?.[1];
    if (token === undefined) return apiError(401, "UNAUTHENTICATED", "Credential was not sent or was of an unsupported type for this API.");
    if (token !== pat && !oauth.valid(token)) {
      if (oauth.issued.includes(token)) return apiError(401, "UNAUTHENTICATED", "Token expired.");
      return json(403, '{"error_code": 403, "message": "Invalid access token."}');
    }
    const api = url.pathname.slice("/api/2.0/".length);
    if (api.startsWith("mlflow-artifacts/")) return new Response("<html><body>Not Found</body></html>", { status: 404, headers: { "content-type": "text/html" } });
    if (api === "workspace/mkdirs" && request.method === "POST") return await mkdirs(request);
    if (api === "preview/scim/v2/Me") return json(200, { userName });
    if (api === "mlflow/artifacts/credentials-for-write" && request.method === "POST") return await credentials(request, "PUT");
    if (api === "mlflow/artifacts/credentials-for-read" && request.method === "POST") return await credentials(request, "GET");
    if (api === "mlflow/artifacts/list" && request.method === "GET") return await listArtifacts(url);
    if (api === "mlflow/artifacts/create-multipart-upload" && request.method === "POST") return await multipart(request, url, "create");
    if (api === "mlflow/artifacts/get-presigned-upload-part-url" && request.method === "GET") return await multipart(request, url, "part");
    if (api === "mlflow/artifacts/complete-multipart-upload" && request.method === "POST") return await multipart(request, url, "complete");
    let forwarded: Request = request;
    if (api === "mlflow/experiments/create" && request.method === "POST") {
      const text = await request.text();
      const name = String((JSON.parse(text) as { name?: unknown }).name ?? "");
      if (!name.startsWith("/")) return apiError(400, "INVALID_PARAMETER_VALUE", invalidName(name));
      const parent = name.slice(0, name.lastIndexOf("/")) || "/";
      if (!folders.has(parent)) return apiError(404, "RESOURCE_DOES_NOT_EXIST", `Parent directory ${parent} does not exist.`);
      forwarded = new Request(request.url, { method: "POST", headers: request.headers, body: text });
    }
    if (api === "mlflow/experiments/get-by-name") {
      const name = url.searchParams.get("experiment_name") ?? "";
      if (!name.startsWith("/")) return apiError(404, "RESOURCE_DOES_NOT_EXIST", invalidName(name));
    }
    const answer = await memory.handler(forwarded);
    const type = answer.headers.get("content-type") ?? "";
    if (!type.includes("json")) return answer;
    // The in-memory server proxies artifacts; a workspace keeps them under dbfs:/databricks/mlflow-tracking/.
    const text = (await answer.text()).replaceAll('"mlflow-artifacts:/', `"${DBFS_ROOT}`);
    return new Response(text, { status: answer.status, headers: answer.headers });
  };

  const proxy = createFaultProxy(workspace);
  const served: ServedHandler = await serve(proxy.handler);

  return {
    url: served.url,
    pat,
    clientId,
    clientSecret,
    userName,
    proxy,
    memory,
    async api(method, path, fields) {
      const query = method === "GET" ? `?${new URLSearchParams(Object.entries(fields).map(([k, v]) => [k, String(v)]))}` : "";
      const res = await fetch(`${served.url}/api/2.0/${path}${query}`, {
        method,
        headers: { authorization: `Bearer ${pat}`, ...(method === "POST" ? { "content-type": "application/json" } : {}) },
        ...(method === "POST" ? { body: JSON.stringify(fields) } : {}),
      });
      if (!res.ok) throw new Error(`${path} answered ${res.status}: ${await res.text()}`);
      return (await res.json()) as never;
    },
    bucket,
    ...(azurite !== undefined ? { azurite } : {}),
    async files(experimentId, runId) {
      const prefix = `${experimentId}/${runId}/artifacts/`;
      return new Map([...await stored(prefix)].map(([key, size]) => [key.slice(prefix.length), size]));
    },
    oauth,
    credentialRequests,
    folders,
    expireNextUploadUrls(n) {
      expireNext = n;
    },
    expireNextPartUrls(n) {
      expirePartsNext = n;
    },
    async artifact(runId, path) {
      const res = await fetch(`${served.url}/api/2.0/mlflow/artifacts/credentials-for-read`, {
        method: "POST",
        headers: { authorization: `Bearer ${pat}`, "content-type": "application/json" },
        body: JSON.stringify({ run_id: runId, path: [path] }),
      });
      if (!res.ok) throw new Error(`credentials-for-read answered ${res.status}: ${await res.text()}`);
      const { credential_infos: [info] = [] } = (await res.json()) as { credential_infos?: { signed_uri: string }[] };
      if (info === undefined) throw new Error(`no read credentials for ${path}`);
      const object = await fetch(info.signed_uri);
      if (!object.ok) throw new Error(`GET ${path} answered ${object.status}: ${await object.text()}`);
      return new Uint8Array(await object.arrayBuffer());
    },
    async close() {
      await served.close();
      await servedBucket.close();
      await azurite?.close();
    },
  };
}
