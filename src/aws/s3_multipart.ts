/**
 * S3 multipart upload for one large sized body: `CreateMultipartUpload`,
 * one `UploadPart` per slice (each retried on its own), then
 * `CompleteMultipartUpload`; on failure `AbortMultipartUpload`, so no parts
 * are left billed (doc: docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html).
 * Parts are 5 MiB to 5 GiB, at most 10 000 of them; the last may be smaller.
 *
 * @module
 */
import { MlflowError } from "../errors.ts";
import { type CallLimits, HttpClient, type RetryOptions } from "../http.ts";
import type { SizedBody } from "../runtime/spill_shared.ts";
import type { CallOptions } from "../store.ts";
import { xmlElement } from "./xml.ts";

export type { SizedBody } from "../runtime/spill_shared.ts";

/** The smallest part S3 takes, except the last. */
export const S3_MIN_PART_BYTES = 5 * 1024 ** 2;
/** The largest part, and the largest single PUT (doc: docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html). */
export const S3_MAX_PART_BYTES = 5 * 1024 ** 3;
const MAX_PARTS = 10_000;
const MIB = 1024 ** 2;

/** What {@link s3MultipartUpload} needs. */
export interface S3MultipartRequest {
  /** The signing fetch (`s3SigningFetch`). */
  readonly fetch: typeof fetch;
  /** Retry settings of the connection. */
  readonly retry: Required<RetryOptions>;
  /** The object's URL. */
  readonly url: string;
  /** The body. */
  readonly body: SizedBody;
  /** Its MIME type. */
  readonly contentType: string;
  /** Headers for `CreateMultipartUpload` (encryption, storage class: what a single PUT would carry). */
  readonly createHeaders: Record<string, string>;
  /** Wanted part size; raised when the body would need more than 10 000 parts. */
  readonly partSize: number;
}

/**
 * The part size for a body: the wanted size, at least 5 MiB, raised to whole
 * MiB so the body fits in 10 000 parts.
 *
 * @param size The body's size.
 * @param wanted The wanted part size.
 * @returns The part size in bytes.
 * @example A 1 TiB body needs parts over 100 MiB
 * ```ts
 * import { s3PartSize } from "./s3_multipart.ts";
 * if (s3PartSize(1024 ** 4, 64 * 1024 ** 2) !== 105 * 1024 ** 2) throw new Error();
 * ```
 */
export function s3PartSize(size: number, wanted: number): number {
  const fitting = Math.ceil(size / MAX_PARTS / MIB) * MIB;
  return Math.max(S3_MIN_PART_BYTES, wanted, fitting);
}

const xmlEscape = (text: string): string => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/**
 * Uploads one body in parts.
 *
 * @param request The object's URL, the body and how to reach S3.
 * @param call The call's signal.
 * @returns When S3 has assembled the object.
 * @throws {MlflowError} When a step fails for good (after the upload is aborted).
 * @example Three parts to a fake endpoint
 * ```ts
 * import { s3MultipartUpload } from "./s3_multipart.ts";
 * import { DEFAULT_RETRY } from "../http.ts";
 * const steps: string[] = [];
 * const fake: typeof fetch = async (url, init) => {
 *   const u = new URL(String(url));
 *   steps.push(`${init?.method} ${u.search}`);
 *   if (u.search === "?uploads") return new Response("<InitiateMultipartUploadResult><UploadId>u1</UploadId></InitiateMultipartUploadResult>");
 *   if (init?.method === "PUT") return new Response("", { headers: { etag: `"e${u.searchParams.get("partNumber")}"` } });
 *   return new Response("<CompleteMultipartUploadResult><ETag>x</ETag></CompleteMultipartUploadResult>");
 * };
 * const bytes = new Uint8Array(11 * 1024 ** 2);
 * const body = { size: bytes.length, open: () => bytes, release: () => Promise.resolve() };
 * await s3MultipartUpload({ fetch: fake, retry: DEFAULT_RETRY, url: "http://s3.test/b/k", body, contentType: "text/csv",
 *   createHeaders: {}, partSize: 5 * 1024 ** 2 }, {});
 * if (steps.length !== 5) throw new Error(steps.join());
 * ```
 */
export async function s3MultipartUpload(request: S3MultipartRequest, call: CallOptions): Promise<void> {
  const { url, body, retry } = request;
  const path = new URL(url).pathname;
  const client = (fetcher: typeof fetch, headers: Record<string, string> = {}) =>
    new HttpClient({ baseUrl: new URL(url).origin, fetch: fetcher, retry, headers });
  const created = await client(request.fetch, request.createHeaders).send(
    "POST", `${url}?uploads`, `POST ${path}?uploads (CreateMultipartUpload)`, () => "", request.contentType, (text) => text, call,
  );
  const uploadId = xmlElement(created, "UploadId");
  if (!uploadId) {
    throw new MlflowError(`POST ${path}?uploads answered without an UploadId`, { errorCode: "BAD_RESPONSE", endpoint: `POST ${path}` });
  }
  const upload = `uploadId=${encodeURIComponent(uploadId)}`;
  try {
    const partSize = s3PartSize(body.size, request.partSize);
    const etags: string[] = [];
    for (let start = 0, part = 1; start < body.size; start += partSize, part++) {
      const end = Math.min(body.size, start + partSize);
      let etag: string | null = null;
      // The part's ETag is a response header, which the client's text answer does not carry.
      const capturing: typeof fetch = async (input, init) => {
        const response = await request.fetch(input, init);
        etag = response.headers.get("etag");
        return response;
      };
      await client(capturing).send(
        "PUT",
        `${url}?partNumber=${part}&${upload}`,
        `PUT ${path} (part ${part})`,
        () => {
          const whole = body.open();
          return whole instanceof Uint8Array ? whole.subarray(start, end) : whole.slice(start, end);
        },
        "application/octet-stream",
        () => undefined,
        { ...call, upload: true },
      );
      if (etag === null) {
        throw new MlflowError(`PUT ${path} (part ${part}) answered without an ETag`, { errorCode: "BAD_RESPONSE", endpoint: `PUT ${path}` });
      }
      etags.push(etag);
    }
    const parts = etags.map((etag, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${xmlEscape(etag)}</ETag></Part>`).join("");
    const completeXml = `<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${parts}</CompleteMultipartUpload>`;
    const answer = await client(request.fetch).send(
      "POST", `${url}?${upload}`, `POST ${path} (CompleteMultipartUpload)`, () => completeXml, "application/xml", (text) => text, call,
    );
    // S3 may answer 200 with an error in the body (doc: API_CompleteMultipartUpload.html).
    if (/<Error>/.test(answer)) {
      const code = xmlElement(answer, "Code") ?? "InternalError";
      throw new MlflowError(`POST ${path} (CompleteMultipartUpload) failed with ${code}: ${xmlElement(answer, "Message") ?? ""}`, {
        errorCode: code,
        endpoint: `POST ${path}`,
      });
    }
  } catch (err) {
    await abort(client(request.fetch), url, upload, path);
    throw err;
  }
}

// Best effort, with a short budget of its own: the upload already failed, and its error is the one to report.
async function abort(http: HttpClient, url: string, upload: string, path: string): Promise<void> {
  const limits: CallLimits = { deadline: Date.now() + 10_000 };
  await http.send("DELETE", `${url}?${upload}`, `DELETE ${path} (AbortMultipartUpload)`, () => undefined, "", () => undefined, limits)
    .catch(() => undefined);
}
