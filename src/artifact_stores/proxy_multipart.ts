/**
 * MLflow's proxied multipart upload (`/api/2.0/mlflow-artifacts/mpu/*`, since
 * MLflow 2.9): for a large file the tracking server creates an upload in its
 * artifact destination and hands out one URL per part; each part is a sized
 * `PUT` straight to that URL with the headers given for it and no MLflow
 * auth; the server then joins the parts. A destination without multipart
 * (a local directory) answers 501 `NOT_IMPLEMENTED` (recorded exchange 57),
 * and the file then goes as one sized `PUT`, as MLflow's client does
 * (mlflow/store/artifact/http_artifact_repo.py `_try_multipart_upload`; the
 * shapes: mlflow/server/handlers.py `_create_multipart_upload_artifact` and
 * its siblings, mlflow/protos/mlflow_artifacts.proto).
 *
 * @module
 */
import type { SizedBody } from "../artifact_body.ts";
import { MlflowError } from "../errors.ts";
import { HttpClient, type RetryOptions, type SendOptions } from "../http.ts";
import type { CallOptions } from "../store.ts";

export type { SizedBody } from "../artifact_body.ts";

/** The start of the message of a server whose destination has no multipart upload (exchange 57). */
export const MULTIPART_UNSUPPORTED = "Multipart upload is not supported for the current artifact repository";

/** Parts sent at once. */
const PART_CONCURRENCY = 4;

interface Credential {
  url: string;
  part_number: number | string;
  headers?: Record<string, string>;
}

interface CreateAnswer {
  upload_id?: string;
  credentials?: Credential[];
}

/** What {@link proxyMultipartUpload} needs. */
export interface ProxyMultipartRequest {
  /** The tracking server's client (MLflow auth, retries). */
  readonly http: HttpClient;
  /** The file's proxied URL (`…/api/2.0/mlflow-artifacts/artifacts/<root>/<path>`). */
  readonly fileUrl: string;
  /** The body, sliced per part. */
  readonly body: SizedBody;
  /** Bytes per part (the last may be smaller). */
  readonly chunkSize: number;
  /** The `fetch` for the part URLs (no MLflow auth). */
  readonly fetch: typeof fetch;
  /** Retry settings for the part `PUT`s. */
  readonly retry: Required<RetryOptions>;
}

const ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts/";

/**
 * The three multipart URLs of a proxied file: its directory under
 * `mlflow-artifacts/mpu/{create,complete,abort}/`, and the file name the
 * requests carry as `path` (MLflow's `_construct_mpu_uri_and_path`).
 *
 * @param fileUrl The file's proxied URL.
 * @returns The directory URL of each step and the file name, or `undefined` for a URL that is not proxied.
 * @example A CSV in a run's root
 * ```ts
 * import { multipartUrls } from "./proxy_multipart.ts";
 * const urls = multipartUrls("http://h:5000/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/big.csv");
 * if (urls?.create !== "http://h:5000/api/2.0/mlflow-artifacts/mpu/create/1/r/artifacts" || urls.name !== "big.csv") throw new Error();
 * ```
 */
export function multipartUrls(fileUrl: string): { create: string; complete: string; abort: string; name: string } | undefined {
  const at = fileUrl.indexOf(ARTIFACTS);
  if (at < 0) return undefined;
  const rest = fileUrl.slice(at + ARTIFACTS.length);
  const cut = rest.lastIndexOf("/");
  if (cut < 0) return undefined;
  const dir = rest.slice(0, cut);
  const name = decodeURIComponent(rest.slice(cut + 1));
  const step = (s: string) => `${fileUrl.slice(0, at)}/api/2.0/mlflow-artifacts/mpu/${s}/${dir}`;
  return { create: step("create"), complete: step("complete"), abort: step("abort"), name };
}

const slice = (body: SizedBody, start: number, end: number): BodyInit => {
  const whole = body.open();
  return whole instanceof Uint8Array ? whole.subarray(start, end) : whole.slice(start, end);
};

// A destination without multipart answers 501 with this message (exchange 57; MLflow's client matches
// its start). A server older than 2.9 has no such route: Flask's HTML 404, read as ENDPOINT_NOT_FOUND
// (mlflow-spec.md §1.3); the file then goes as one PUT, as it did before the route existed.
// A part URL's query is its credential (a presigned signature, a session token, a SAS); some runtimes
// quote the URL in a network error (Deno: "error sending request for url (…)"), so it is cut out there.
const withoutQueryInErrors = (fetcher: typeof fetch, query: string): typeof fetch => async (input, init) => {
  try {
    return await fetcher(input, init);
  } catch (err) {
    if (query === "" || !(err instanceof Error) || !err.message.includes(query)) throw err;
    const clean = new Error(err.message.split(query).join("?<signed>"));
    clean.name = err.name;
    throw clean;
  }
};

const isUnsupported = (err: unknown, endpoint: string): boolean =>
  err instanceof MlflowError && (
    (err.status === 501 && err.message.startsWith(`${endpoint} failed with 501 NOT_IMPLEMENTED: ${MULTIPART_UNSUPPORTED}`)) ||
    (err.status === 404 && err.errorCode === "ENDPOINT_NOT_FOUND")
  );

/**
 * Uploads one file through the server's multipart endpoints.
 *
 * @param request The file's URL, body, part size and how to reach the part URLs.
 * @param call A signal that stops the upload (which is then aborted).
 * @returns `true` when the server joined the parts; `false` when the server
 *   has no multipart upload for its destination, or no multipart route at all
 *   (nothing was stored: send the file as one `PUT`).
 * @throws {MlflowError} Any other failure, after the upload is aborted.
 * @example A server whose destination is a local directory
 * ```ts
 * import { proxyMultipartUpload, MULTIPART_UNSUPPORTED } from "./proxy_multipart.ts";
 * import { DEFAULT_RETRY, HttpClient } from "../http.ts";
 * const local: typeof fetch = async () =>
 *   new Response(JSON.stringify({ error_code: "NOT_IMPLEMENTED", message: MULTIPART_UNSUPPORTED }),
 *     { status: 501, headers: { "content-type": "application/json" } });
 * const http = new HttpClient({ baseUrl: "http://h:5000", fetch: local, retry: DEFAULT_RETRY });
 * const bytes = new Uint8Array(8);
 * const joined = await proxyMultipartUpload({ http, fetch: local, retry: DEFAULT_RETRY, chunkSize: 4,
 *   fileUrl: "http://h:5000/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/big.bin",
 *   body: { size: 8, open: () => bytes, release: () => Promise.resolve() } }, {});
 * if (joined) throw new Error("expected the fallback");
 * ```
 */
export async function proxyMultipartUpload(request: ProxyMultipartRequest, call: CallOptions): Promise<boolean> {
  const { http, body, chunkSize } = request;
  const urls = multipartUrls(request.fileUrl);
  if (urls === undefined) return false;
  const numParts = Math.max(1, Math.ceil(body.size / chunkSize));
  const createEndpoint = `POST ${new URL(urls.create).pathname}`;
  const post = <T>(url: string, payload: Record<string, unknown>, options: SendOptions<T>) =>
    http.send<T>("POST", url, `POST ${new URL(url).pathname}`, () => JSON.stringify(payload), "application/json", (text) => (text ? JSON.parse(text) : {}) as T, options);
  let created: CreateAnswer;
  try {
    created = await post<CreateAnswer>(urls.create, { path: urls.name, num_parts: numParts }, call);
  } catch (err) {
    // Only this answer means "no multipart here"; MLflow's client matches its message the same way.
    if (isUnsupported(err, createEndpoint)) return false;
    throw err;
  }
  const uploadId = created.upload_id;
  const identity = { path: urls.name, ...(uploadId !== undefined && uploadId !== "" ? { upload_id: uploadId } : {}) };
  try {
    const credentials = [...(created.credentials ?? [])].sort((a, b) => Number(a.part_number) - Number(b.part_number));
    if (credentials.length !== numParts) {
      throw new MlflowError(`${createEndpoint} gave ${credentials.length} part URLs for the ${numParts} parts of '${urls.name}'`, {
        errorCode: "BAD_RESPONSE",
        endpoint: createEndpoint,
      });
    }
    const etags = new Array<string>(numParts);
    const sendPart = async (index: number): Promise<void> => {
      const credential = credentials[index]!;
      const start = index * chunkSize;
      const end = Math.min(body.size, start + chunkSize);
      const target = new URL(credential.url);
      const endpoint = `PUT ${target.origin}${target.pathname} (part ${index + 1})`;
      // A part URL carries its own authority (a presigned URL or a SAS): the tracking server's auth must not go there.
      const client = new HttpClient({ baseUrl: target.origin, fetch: withoutQueryInErrors(request.fetch, target.search), retry: request.retry });
      await client.send("PUT", credential.url, endpoint, () => slice(body, start, end), "application/octet-stream", () => undefined, {
        ...call,
        upload: true,
        headers: credential.headers ?? {},
        onHeaders: (headers) => (etags[index] = headers.get("etag") ?? ""),
      });
    };
    let next = 0;
    let failed = false;
    await Promise.all(Array.from({ length: Math.min(PART_CONCURRENCY, numParts) }, async () => {
      try {
        while (next < numParts && !failed) await sendPart(next++);
      } catch (err) {
        failed = true;
        throw err;
      }
    }));
    await post(urls.complete, {
      ...identity,
      // The url goes back too: an Azure destination derives each block id from it (azure_blob_artifact_repo.py).
      parts: credentials.map((c, i) => ({ part_number: Number(c.part_number), etag: etags[i] ?? "", url: c.url })),
    }, call);
    return true;
  } catch (err) {
    // Best effort with a short budget of its own: the upload already failed, and its error is the one to report.
    await post(urls.abort, identity, { deadline: Date.now() + 10_000 }).catch(() => undefined);
    throw err;
  }
}
