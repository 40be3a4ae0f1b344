/**
 * Test support: an Azure Blob artifact destination (Azurite) for the
 * in-memory MLflow server's proxied multipart upload, as
 * `mlflow server --artifacts-destination wasbs://…` has it. Each step follows
 * mlflow/store/artifact/azure_blob_artifact_repo.py (managed-mlflow.md §4):
 * - create: blob = directory + base name; one blob SAS (read and write, an
 *   hour) for the blob; part `i`'s URL is
 *   `<blob URL>?comp=block&blockid=<quote(base64("mlflow_block_<i>"))>&<SAS>`,
 *   headers `{}`, and no `upload_id`;
 * - complete: each block id is read back from its part's `url` (so the client
 *   must send the URLs), then the block list is committed;
 * - abort: nothing (uncommitted blocks are dropped by Azure after 7 days).
 *
 * Azurite checks every SAS signature; the SAS is minted by
 * `fake_databricks_azurite.ts` with Web Crypto HMAC, never by the code under test.
 *
 * @module
 */
import type { Azurite } from "./fake_databricks_azurite.ts";
import { DestinationError, type MultipartDestination } from "./mpu_s3_destination.ts";

/**
 * Creates the destination on a running Azurite.
 *
 * @param azurite The running Azurite and its container.
 * @param prefix The destination's folder in the container.
 * @returns The destination to pass as `multipartDestination` to `createMlflowServer`.
 * @example
 * ```ts
 * import { azureMultipartDestination } from "./mpu_azure_destination.ts";
 * console.log(typeof azureMultipartDestination);
 * ```
 */
export function azureMultipartDestination(azurite: Azurite, prefix: string): MultipartDestination {
  const minted: string[] = [];
  const blobOf = (dir: string, name: string): string => [prefix, dir, name.slice(name.lastIndexOf("/") + 1)].filter((p) => p !== "").join("/");
  const split = (url: string): [string, string] => {
    const at = url.indexOf("?");
    return [url.slice(0, at), url.slice(at + 1)];
  };
  return {
    minted,
    async create(dir, name, numParts) {
      const [blobUrl, sas] = split(await azurite.blobSas(blobOf(dir, name), "rw"));
      const credentials = [];
      for (let i = 1; i <= numParts; i++) {
        const url = `${blobUrl}?comp=block&blockid=${encodeURIComponent(btoa(`mlflow_block_${i}`))}&${sas}`;
        minted.push(url);
        credentials.push({ url, part_number: i, headers: {} });
      }
      return { credentials };
    },
    async complete(dir, name, _uploadId, parts) {
      const ids = parts.map((p) => {
        const id = new URL(p.url).searchParams.get("blockid");
        if (id === null) throw new DestinationError(`part ${p.part_number} came back without its url's blockid`);
        return id;
      });
      const [blobUrl, sas] = split(await azurite.blobSas(blobOf(dir, name), "rw"));
      const list = `<?xml version="1.0" encoding="utf-8"?><BlockList>${ids.map((id) => `<Latest>${id}</Latest>`).join("")}</BlockList>`;
      const committed = await fetch(`${blobUrl}?comp=blocklist&${sas}`, { method: "PUT", body: list });
      if (committed.status !== 201) throw new DestinationError(`Put Block List answered ${committed.status}: ${await committed.text()}`);
      const read = await fetch(await azurite.blobSas(blobOf(dir, name), "r"));
      if (read.status !== 200) throw new DestinationError(`reading the blob back answered ${read.status}`);
      return new Uint8Array(await read.arrayBuffer());
    },
    async abort() {},
  };
}
