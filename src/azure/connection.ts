/**
 * Where a `wasbs://` run's artifacts are and what signs the requests, read as
 * MLflow's `AzureBlobArtifactRepository` reads them
 * (mlflow/store/artifact/azure_blob_artifact_repo.py:60-117,
 * managed-mlflow.md §3.4): `wasbs://<container>@<account>.blob.core.windows.net/<path>`
 * (or the China and US Government clouds); `AZURE_STORAGE_CONNECTION_STRING`
 * wins (its `BlobEndpoint`, else `DefaultEndpointsProtocol`, `AccountName`,
 * `EndpointSuffix`; its `AccountKey` or `SharedAccessSignature`), then
 * `AZURE_STORAGE_ACCESS_KEY` (SharedKey for the URI's account), then a SAS
 * token in `AZURE_STORAGE_SAS_TOKEN` (the variable MLflow's ADLS repository reads).
 *
 * @module
 */
import { MlflowValidationError } from "../errors.ts";

/** How requests are authorised. */
export type AzureAuth =
  | { readonly kind: "sharedKey"; readonly account: string; readonly key: Uint8Array; readonly variable: string }
  | { readonly kind: "sas"; readonly query: string; readonly variable: string };

/** A run's container, path and credentials. */
export interface AzureBlobLocation {
  /** The container's URL, e.g. `https://acct.blob.core.windows.net/mlflow` or Azurite's `http://127.0.0.1:10000/devstoreaccount1/mlflow`. */
  readonly containerUrl: string;
  /** The run's folder inside the container, without slashes at either end. */
  readonly root: string;
  readonly auth: AzureAuth;
}

const WASBS = /^wasbs:\/\/([^@/]+)@([a-z0-9]+)\.(blob\.core\.(?:windows\.net|chinacloudapi\.cn|usgovcloudapi\.net))(\/.*)?$/;

// Azurite's documented development account and key (github.com/Azure/Azurite README, "Default Storage Account").
const DEV_ACCOUNT = "devstoreaccount1";
const DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/**
 * Whether a URI is an Azure Blob (`wasbs://`) URI this module can write.
 *
 * @param uri A run's `artifact_uri`.
 * @returns `true` for `wasbs://` URIs.
 * @example
 * ```ts
 * import { isWasbsUri } from "./connection.ts";
 * if (!isWasbsUri("wasbs://c@acct.blob.core.windows.net/p") || isWasbsUri("s3://b/p")) throw new Error();
 * ```
 */
export function isWasbsUri(uri: string): boolean {
  return uri.startsWith("wasbs://");
}

const env1 = (env: Record<string, unknown>, name: string): string | undefined => {
  const value = env[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw new MlflowValidationError(name, `must be a string, got ${typeof value}`);
  return value.trim() === "" ? undefined : value.trim();
};

function decodeKey(key: string, variable: string): Uint8Array {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(key) || key.length % 4 !== 0) {
    throw new MlflowValidationError(variable, "holds an account key that is not base64; copy the storage account's key1 or key2 as it is shown");
  }
  return Uint8Array.from(atob(key), (c) => c.charCodeAt(0));
}

/**
 * The fields of an Azure Storage connection string (`Name=value;…`; a value
 * may hold `=`, names are case-insensitive).
 *
 * @param text The connection string.
 * @returns The fields by lower-case name.
 * @example
 * ```ts
 * import { parseConnectionString } from "./connection.ts";
 * const fields = parseConnectionString("AccountName=a;AccountKey=k==;EndpointSuffix=core.windows.net");
 * if (fields.get("accountkey") !== "k==") throw new Error();
 * ```
 */
export function parseConnectionString(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const part of text.split(";")) {
    const at = part.indexOf("=");
    if (at > 0) fields.set(part.slice(0, at).trim().toLowerCase(), part.slice(at + 1).trim());
  }
  return fields;
}

/**
 * The container URL, run folder and credentials of a `wasbs://` run URI.
 *
 * @param uri The run's `artifact_uri`.
 * @param env The connection's environment.
 * @returns Where to write and how to sign.
 * @throws {MlflowValidationError} For an `abfss://` URI, a URI of another host, a
 *   connection string without an endpoint or key, a key that is not base64, or
 *   no credentials at all, naming the variable to set (never its value).
 * @example SharedKey from AZURE_STORAGE_ACCESS_KEY
 * ```ts
 * import { azureBlobLocation } from "./connection.ts";
 * const where = azureBlobLocation("wasbs://mlflow@acct.blob.core.windows.net/runs/1/r/artifacts", { AZURE_STORAGE_ACCESS_KEY: "a2V5" });
 * if (where.containerUrl !== "https://acct.blob.core.windows.net/mlflow" || where.root !== "runs/1/r/artifacts") throw new Error();
 * ```
 */
export function azureBlobLocation(uri: string, env: Record<string, unknown>): AzureBlobLocation {
  if (uri.startsWith("abfss://")) {
    throw new MlflowValidationError(
      "artifact_uri",
      `'${uri}' is an ADLS Gen2 (abfss://) location, which this module cannot write yet; start the MLflow server with a wasbs:// ` +
        "--default-artifact-root, or with artifact serving (mlflow-artifacts:)",
    );
  }
  const m = WASBS.exec(uri);
  if (m === null) {
    throw new MlflowValidationError(
      "artifact_uri",
      `'${uri}' is not wasbs://<container>@<account>.blob.core.windows.net/<path> (or .blob.core.chinacloudapi.cn, .blob.core.usgovcloudapi.net)`,
    );
  }
  const [, container = "", account = "", suffix = "", path = ""] = m;
  const root = path.replace(/^\/+|\/+$/g, "");
  const encodedContainer = encodeURIComponent(container);
  const connection = env1(env, "AZURE_STORAGE_CONNECTION_STRING");
  if (connection !== undefined) {
    const variable = "AZURE_STORAGE_CONNECTION_STRING";
    const fields = parseConnectionString(connection);
    const dev = fields.get("usedevelopmentstorage")?.toLowerCase() === "true";
    const name = fields.get("accountname") ?? (dev ? DEV_ACCOUNT : undefined);
    let endpoint = fields.get("blobendpoint") ?? (dev ? `http://127.0.0.1:10000/${DEV_ACCOUNT}` : undefined);
    if (endpoint === undefined && name !== undefined) {
      endpoint = `${fields.get("defaultendpointsprotocol") ?? "https"}://${name}.blob.${fields.get("endpointsuffix") ?? "core.windows.net"}`;
    }
    if (endpoint === undefined || !/^https?:\/\//.test(endpoint)) {
      throw new MlflowValidationError(variable, "has neither BlobEndpoint=<http(s) URL> nor AccountName=<account>; copy the storage account's connection string");
    }
    const containerUrl = `${endpoint.replace(/\/+$/, "")}/${encodedContainer}`;
    const sas = fields.get("sharedaccesssignature");
    if (sas !== undefined) return { containerUrl, root, auth: { kind: "sas", query: sas.replace(/^\?/, ""), variable } };
    const key = fields.get("accountkey") ?? (dev ? DEV_KEY : undefined);
    if (key === undefined || name === undefined) {
      throw new MlflowValidationError(variable, "has no AccountName and AccountKey (or SharedAccessSignature); copy the storage account's connection string");
    }
    return { containerUrl, root, auth: { kind: "sharedKey", account: name, key: decodeKey(key, variable), variable } };
  }
  const containerUrl = `https://${account}.${suffix}/${encodedContainer}`;
  const accessKey = env1(env, "AZURE_STORAGE_ACCESS_KEY");
  if (accessKey !== undefined) {
    return { containerUrl, root, auth: { kind: "sharedKey", account, key: decodeKey(accessKey, "AZURE_STORAGE_ACCESS_KEY"), variable: "AZURE_STORAGE_ACCESS_KEY" } };
  }
  const sas = env1(env, "AZURE_STORAGE_SAS_TOKEN");
  if (sas !== undefined) return { containerUrl, root, auth: { kind: "sas", query: sas.replace(/^\?/, ""), variable: "AZURE_STORAGE_SAS_TOKEN" } };
  throw new MlflowValidationError(
    "AZURE_STORAGE_CONNECTION_STRING",
    `is not set, nor AZURE_STORAGE_ACCESS_KEY or AZURE_STORAGE_SAS_TOKEN: set one of them to write ${uri} ` +
      "(Entra ID / DefaultAzureCredential sign-in is not supported)",
  );
}
