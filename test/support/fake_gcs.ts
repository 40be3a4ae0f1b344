/**
 * Test support: a small Google Cloud Storage with its OAuth token endpoint.
 * The token endpoint checks each service-account JWT with the PUBLIC half of a
 * key pair the test generates, using node:crypto's `createVerify` (never the
 * module under test), and the storage checks the Bearer token of every
 * request.
 *
 * Sources for each behaviour:
 * - Token endpoint (developers.google.com/identity/protocols/oauth2/service-account,
 *   "Making the access token request" and "Handling the response"): a form
 *   `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>`;
 *   the JWT's header `{"alg":"RS256","typ":"JWT"}`, claims `iss`, `scope`,
 *   `aud` (the token URL), `iat`, `exp` at most an hour after `iat`; the answer
 *   `{access_token, expires_in, token_type: "Bearer"}`; a bad signature or
 *   unknown issuer → 400 `{"error": "invalid_grant", "error_description": …}`
 *   (the page's "Error codes" table: `invalid_grant` "Invalid JWT Signature.",
 *   "Invalid JWT: Token must be a short-lived token (60 minutes) and in a
 *   reasonable timeframe. Check your iat and exp values").
 * - Media upload (cloud.google.com/storage/docs/json_api/v1/objects/insert,
 *   "uploadType=media"): `POST /upload/storage/v1/b/<bucket>/o?uploadType=media&name=<name>`,
 *   the body's `Content-Type` kept as the object's; 200 with the object
 *   resource (`size` as a string). No `Content-Length` → 411 (guessed: GCS
 *   documents that media uploads need the length).
 * - Objects list (cloud.google.com/storage/docs/json_api/v1/objects/list):
 *   `prefix`, `delimiter`, `maxResults` (default 1000), `pageToken`; `items`
 *   with `name` and `size`, `prefixes`, `nextPageToken`; names in
 *   lexicographic order.
 * - Errors (cloud.google.com/storage/docs/json_api/v1/status-codes): a
 *   missing, unknown or expired token → 401 `{"error": {"code": 401, "message":
 *   "Invalid Credentials", "errors": [{"reason": "authError", …}]}}`; a
 *   missing bucket → 404 "The specified bucket does not exist.".
 *
 * @module
 */
import { createVerify } from "node:crypto";
import { createFaultProxy, type FaultProxy } from "./fault_proxy.ts";

/** Options of {@link createFakeGcs}. */
export interface FakeGcsOptions {
  /** The service account's email, and the public key (PEM, SPKI) its JWTs must verify with. */
  account: { clientEmail: string; publicKeyPem: string };
  buckets: string[];
  /** Lifetime of an issued token, in seconds; default 3599. */
  tokenLifetimeSeconds?: number;
  /** The fake's clock minus the real one (its time checks and `Date` headers follow it). */
  clockOffsetMs?: number;
  /** Where the token endpoint is reached (the JWT's `aud` must be this). */
  tokenUrl(): string;
}

/** The fake returned by {@link createFakeGcs}. */
export interface FakeGcs extends FaultProxy {
  /** Objects by `bucket/name`. */
  readonly objects: Map<string, { bytes: Uint8Array; contentType: string }>;
  /** Tokens issued, in order. */
  readonly issued: string[];
  /** Why JWTs or tokens were refused, in order (cleared by `reset`). */
  readonly refusals: string[];
  /** Makes every token issued so far expire now. */
  expireTokens(): void;
}

const base64urlJson = (part: string): Record<string, unknown> => JSON.parse(Buffer.from(part, "base64url").toString("utf8")) as Record<string, unknown>;

/**
 * Creates the fake (token endpoint at `POST /token`, storage at `/upload/storage/v1` and `/storage/v1`).
 *
 * @param options The account, buckets and token lifetime.
 * @returns The fake: serve `handler` with `serve()`.
 * @example A request without a token is refused
 * ```ts
 * import { createFakeGcs } from "./fake_gcs.ts";
 * const gcs = createFakeGcs({ account: { clientEmail: "a@p", publicKeyPem: "" }, buckets: ["b"], tokenUrl: () => "http://gcs.test/token" });
 * const res = await gcs.handler(new Request("http://gcs.test/storage/v1/b/b/o"));
 * console.log(res.status); // 401
 * ```
 */
export function createFakeGcs(options: FakeGcsOptions): FakeGcs {
  const objects = new Map<string, { bytes: Uint8Array; contentType: string }>();
  const tokens = new Map<string, number>();
  const issued: string[] = [];
  const refusals: string[] = [];
  let counter = 0;

  const now = (): number => Date.now() + (options.clockOffsetMs ?? 0);
  // Every answer carries its Date (RFC 9110 §6.6.1), which a client may use to correct its clock.
  const json = (status: number, body: unknown): Response =>
    new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json; charset=UTF-8", date: new Date(now()).toUTCString() } });
  const grantError = (description: string): Response => {
    refusals.push(`invalid_grant: ${description}`);
    return json(400, { error: "invalid_grant", error_description: description });
  };
  const apiError = (code: number, message: string, reason: string): Response => {
    refusals.push(`${code} ${reason}`);
    return json(code, { error: { code, message, errors: [{ message, domain: "global", reason }] } });
  };

  const token = async (request: Request): Promise<Response> => {
    const form = new URLSearchParams(await request.text());
    if (form.get("grant_type") !== "urn:ietf:params:oauth:grant-type:jwt-bearer") {
      return json(400, { error: "unsupported_grant_type", error_description: "Invalid grant_type" });
    }
    const [header = "", claims = "", signature = ""] = (form.get("assertion") ?? "").split(".");
    let head: Record<string, unknown>;
    let body: Record<string, unknown>;
    try {
      head = base64urlJson(header);
      body = base64urlJson(claims);
    } catch {
      return grantError("Invalid JWT: could not parse");
    }
    if (head.alg !== "RS256") return grantError("Invalid JWT: alg must be RS256");
    const verifier = createVerify("RSA-SHA256");
    verifier.update(`${header}.${claims}`);
    if (!verifier.verify(options.account.publicKeyPem, Buffer.from(signature, "base64url"))) return grantError("Invalid JWT Signature.");
    if (body.iss !== options.account.clientEmail) return grantError("Invalid JWT: unknown issuer");
    if (body.aud !== options.tokenUrl()) return grantError("Invalid JWT: aud must be the token URL");
    const scopes = String(body.scope ?? "").split(" ");
    if (!scopes.some((s) => s.endsWith("/devstorage.read_write") || s.endsWith("/devstorage.full_control") || s.endsWith("/cloud-platform"))) {
      return grantError("Invalid JWT: no storage scope");
    }
    const seconds = now() / 1000;
    const iat = Number(body.iat);
    const exp = Number(body.exp);
    if (!(exp - iat <= 3600 && iat <= seconds + 60 && exp > seconds)) {
      return grantError("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.");
    }
    const lifetime = options.tokenLifetimeSeconds ?? 3599;
    const value = `ya29.fake-${++counter}`;
    tokens.set(value, now() + lifetime * 1000);
    issued.push(value);
    return json(200, { access_token: value, expires_in: lifetime, token_type: "Bearer" });
  };

  const storage = async (request: Request, url: URL): Promise<Response> => {
    const bearer = /^Bearer (.+)$/.exec(request.headers.get("authorization") ?? "")?.[1];
    const expires = bearer === undefined ? undefined : tokens.get(bearer);
    if (expires === undefined || now() >= expires) {
      await request.body?.cancel();
      return apiError(401, "Invalid Credentials", "authError");
    }
    const upload = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(url.pathname);
    const list = /^\/storage\/v1\/b\/([^/]+)\/o$/.exec(url.pathname);
    const bucket = decodeURIComponent((upload ?? list)?.[1] ?? "");
    if (!options.buckets.includes(bucket)) return apiError(404, "The specified bucket does not exist.", "notFound");
    if (upload !== null && request.method === "POST" && url.searchParams.get("uploadType") === "media") {
      if (request.headers.get("content-length") === null) return apiError(411, "Length Required", "required");
      const name = url.searchParams.get("name") ?? "";
      const bytes = new Uint8Array(await request.arrayBuffer());
      const contentType = request.headers.get("content-type") ?? "application/octet-stream";
      objects.set(`${bucket}/${name}`, { bytes, contentType });
      return json(200, { kind: "storage#object", bucket, name, size: String(bytes.length), contentType });
    }
    if (list !== null && request.method === "GET") {
      const prefix = url.searchParams.get("prefix") ?? "";
      const delimiter = url.searchParams.get("delimiter") ?? "";
      const max = Math.min(1000, Number(url.searchParams.get("maxResults") ?? 1000));
      const after = url.searchParams.get("pageToken") ?? "";
      const entries: { name: string; prefix: boolean }[] = [];
      for (const key of [...objects.keys()].filter((k) => k.startsWith(`${bucket}/${prefix}`)).sort()) {
        const name = key.slice(bucket.length + 1);
        const cut = delimiter === "" ? -1 : name.slice(prefix.length).indexOf(delimiter);
        if (cut >= 0) {
          const common = name.slice(0, prefix.length + cut + delimiter.length);
          if (!entries.some((e) => e.prefix && e.name === common)) entries.push({ name: common, prefix: true });
        } else {
          entries.push({ name, prefix: false });
        }
      }
      const start = after === "" ? 0 : entries.findIndex((e) => e.name > after);
      const page = start < 0 ? [] : entries.slice(start, start + max);
      const more = start >= 0 && start + max < entries.length;
      return json(200, {
        kind: "storage#objects",
        ...(page.some((e) => e.prefix) ? { prefixes: page.filter((e) => e.prefix).map((e) => e.name) } : {}),
        ...(page.some((e) => !e.prefix)
          ? { items: page.filter((e) => !e.prefix).map((e) => ({ kind: "storage#object", name: e.name, bucket, size: String(objects.get(`${bucket}/${e.name}`)!.bytes.length) })) }
          : {}),
        ...(more ? { nextPageToken: page[page.length - 1]!.name } : {}),
      });
    }
    return apiError(405, "Method not allowed", "methodNotAllowed");
  };

  const proxy = createFaultProxy(async (request) => {
    const url = new URL(request.url);
    if (url.pathname === "/token" && request.method === "POST") return await token(request);
    return await storage(request, url);
  });
  return {
    ...proxy,
    objects,
    issued,
    refusals,
    reset() {
      proxy.reset();
      refusals.length = 0;
    },
    expireTokens() {
      for (const key of tokens.keys()) tokens.set(key, 0);
    },
  };
}
