/**
 * A Google service account's key, as MLflow's `GCSArtifactRepository` gets it
 * through Google's client (Application Default Credentials,
 * mlflow/store/artifact/gcs_artifact_repo.py:74-79; managed-mlflow.md §3.3):
 * the JSON file `GOOGLE_APPLICATION_CREDENTIALS` names, read through `#fs`,
 * or the JSON itself in the `gcp.serviceAccount` option for runtimes without
 * a file system. Its `private_key` (PKCS#8 PEM) is imported into Web Crypto
 * for RS256 and never kept as text.
 *
 * @module
 */
import { hasFileSystem } from "#env";
import { fileSystem } from "#fs";
import { MlflowValidationError } from "../errors.ts";
import type { GcpOptions } from "./options.ts";

/** A service account ready to sign. */
export interface ServiceAccount {
  /** `client_email`: the JWT's issuer. */
  readonly clientEmail: string;
  /** `private_key_id`, sent as the JWT's `kid`. */
  readonly privateKeyId?: string;
  /** The RS256 signing key (not extractable). */
  readonly privateKey: CryptoKey;
  /** `token_uri`; default `https://oauth2.googleapis.com/token`. */
  readonly tokenUri: string;
  /** Where it came from, to name in errors: `GOOGLE_APPLICATION_CREDENTIALS` or `gcp.serviceAccount`. */
  readonly source: string;
}

const pemToDer = (pem: string): Uint8Array<ArrayBuffer> | undefined => {
  const m = /-----BEGIN PRIVATE KEY-----([\s\S]+?)-----END PRIVATE KEY-----/.exec(pem);
  if (m === null) return undefined;
  try {
    return Uint8Array.from(atob((m[1] ?? "").replace(/\s+/g, "")), (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
};

/**
 * Reads the service account from the option or `GOOGLE_APPLICATION_CREDENTIALS`.
 *
 * @param env The connection's environment.
 * @param options The `gcp` option.
 * @param purpose What needs it, for the error, e.g. `writing gs://bucket/x`.
 * @returns The account.
 * @throws {MlflowValidationError} Naming the variable or option that is
 *   missing or unusable (a missing file, JSON that is not a service-account
 *   key, a key Web Crypto cannot import), never a key.
 * @example A key that is not a service account's
 * ```ts
 * import { loadServiceAccount } from "./service_account.ts";
 * const err = await loadServiceAccount({}, { serviceAccount: { type: "authorized_user" } }, "test").catch((e) => e);
 * if (!String(err).includes("gcp.serviceAccount")) throw new Error(String(err));
 * ```
 */
export async function loadServiceAccount(env: Record<string, unknown>, options: GcpOptions | undefined, purpose: string): Promise<ServiceAccount> {
  let raw: unknown = options?.serviceAccount;
  let source = "gcp.serviceAccount";
  if (raw === undefined) {
    source = "GOOGLE_APPLICATION_CREDENTIALS";
    const path = typeof env.GOOGLE_APPLICATION_CREDENTIALS === "string" ? env.GOOGLE_APPLICATION_CREDENTIALS.trim() : "";
    if (path === "") {
      throw new MlflowValidationError(
        source,
        `is not set: set it to the path of a service-account key file (or pass gcp.serviceAccount) for ${purpose}`,
      );
    }
    if (!hasFileSystem) {
      throw new MlflowValidationError(source, `names a file, but this runtime has no file system; pass the key's JSON as gcp.serviceAccount for ${purpose}`);
    }
    raw = await fileSystem.readText(path);
    if (raw === undefined) throw new MlflowValidationError(source, `names '${path}', which does not exist; set it to the service-account key file`);
  }
  let json: Record<string, unknown>;
  try {
    json = (typeof raw === "string" ? JSON.parse(raw) : raw) as Record<string, unknown>;
  } catch {
    throw new MlflowValidationError(source, "is not JSON; use the service-account key file Google Cloud gives out");
  }
  if (typeof json !== "object" || json === null || json.type !== "service_account") {
    throw new MlflowValidationError(
      source,
      `is not a service-account key (its "type" is ${JSON.stringify(typeof json === "object" && json !== null ? json.type ?? null : null)}); ` +
        "user credentials (gcloud auth application-default login) are not supported: create a key for a service account",
    );
  }
  const { client_email: clientEmail, private_key: pem, private_key_id: kid, token_uri: tokenUri } = json;
  if (typeof clientEmail !== "string" || clientEmail === "") throw new MlflowValidationError(source, "has no client_email; use the key file as Google Cloud gives it out");
  const der = typeof pem === "string" ? pemToDer(pem) : undefined;
  if (der === undefined) {
    throw new MlflowValidationError(source, "has no private_key in PEM (-----BEGIN PRIVATE KEY-----); use the key file as Google Cloud gives it out");
  }
  let privateKey: CryptoKey;
  try {
    privateKey = await crypto.subtle.importKey("pkcs8", der, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, false, ["sign"]);
  } catch {
    throw new MlflowValidationError(source, "has a private_key that is not an RSA key in PKCS#8; use the key file as Google Cloud gives it out");
  }
  return {
    clientEmail,
    ...(typeof kid === "string" && kid !== "" ? { privateKeyId: kid } : {}),
    privateKey,
    tokenUri: typeof tokenUri === "string" && tokenUri !== "" ? tokenUri : "https://oauth2.googleapis.com/token",
    source,
  };
}
