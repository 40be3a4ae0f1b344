/**
 * Large artifacts of Databricks runs on Azure Blob storage, written in blocks
 * as MLflow's client writes them (`put_block` and `put_block_list`,
 * mlflow/azure/client.py; managed-mlflow.md §1.4.3): each chunk is a
 * Put Block (`&comp=block&blockid=<id>` added to the SAS URL, ids the base64
 * of a uuid4's hex, all the same length), then one Put Block List commits
 * them in order. A block whose SAS is refused with 401 or 403 gets fresh
 * credentials for the file and is sent once more, as in MLflow.
 *
 * @module
 */
import type { SizedBody } from "../artifact_body.ts";
import type { CallOptions } from "../store.ts";
import { type ArtifactCredential, isRefusal, type SignedRequest } from "./signed_url.ts";

/** What {@link uploadBlocks} needs. */
export interface BlockUpload {
  /** The file's SAS URL from `credentials-for-write`. */
  credential: ArtifactCredential;
  /** Fresh credentials for the same file. */
  refresh: () => Promise<ArtifactCredential>;
  /** The file's bytes, sliced per block. */
  body: SizedBody;
  /** Bytes per block. */
  chunkSize: number;
  /** Sends one signed-URL request. */
  send: (request: SignedRequest, call: CallOptions) => Promise<void>;
}

const withQuery = (credential: ArtifactCredential, query: string): ArtifactCredential => ({
  ...credential,
  signed_uri: `${credential.signed_uri}${credential.signed_uri.includes("?") ? "&" : "?"}${query}`,
});

/**
 * A block id: the base64 of a uuid4's 32 hex digits (44 characters), as MLflow makes them.
 *
 * @returns The id, not URL-encoded.
 * @example Ids have one length
 * ```ts
 * import { blockId } from "./azure_blocks.ts";
 * if (blockId().length !== 44) throw new Error();
 * ```
 */
export function blockId(): string {
  return btoa(crypto.randomUUID().replaceAll("-", ""));
}

/**
 * Uploads one file as blocks and commits them.
 *
 * @param upload The SAS URL, a way to refresh it, the body, the block size and the sender.
 * @param call A signal that stops the upload.
 * @returns When the block list is committed.
 * @throws {MlflowError} The first failure.
 */
export async function uploadBlocks(upload: BlockUpload, call: CallOptions): Promise<void> {
  const { body, chunkSize, send } = upload;
  let credential = upload.credential;
  const ids: string[] = [];
  for (let start = 0; start < body.size; start += chunkSize) {
    const end = Math.min(body.size, start + chunkSize);
    const id = blockId();
    ids.push(id);
    const put = (c: ArtifactCredential) =>
      send({
        method: "PUT",
        credential: withQuery(c, `comp=block&blockid=${encodeURIComponent(id)}`),
        body: () => {
          const whole = body.open();
          return whole instanceof Uint8Array ? whole.subarray(start, end) : whole.slice(start, end);
        },
      }, call);
    try {
      await put(credential);
    } catch (err) {
      if (!isRefusal(err)) throw err;
      credential = await upload.refresh();
      await put(credential);
    }
  }
  const list = `<?xml version="1.0" encoding="utf-8"?><BlockList>${ids.map((id) => `<Uncommitted>${id}</Uncommitted>`).join("")}</BlockList>`;
  await send({ method: "PUT", credential: withQuery(credential, "comp=blocklist"), body: () => list, contentType: "application/xml" }, call);
}
