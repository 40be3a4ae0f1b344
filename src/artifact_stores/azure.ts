/**
 * Runs whose artifacts live straight in Azure Blob storage: `wasbs://` run
 * URIs, which a server started with `--no-serve-artifacts
 * --default-artifact-root wasbs://<container>@<account>.blob.core.windows.net/<path>`
 * hands out. Each file is one sized Put Blob (`x-ms-blob-type: BlockBlob`)
 * named `<run URI path>/<artifact path>`, as MLflow's
 * `AzureBlobArtifactRepository` writes it; a file over the single-put size
 * goes as Put Block + Put Block List; the uploads are checked with List
 * Blobs. Credentials as in `azure/connection.ts`. `abfss://` (ADLS Gen2) is
 * refused with a message saying so.
 *
 * @module
 */
import { sizedBody, type SizedBody } from "../artifact_body.ts";
import { type ArtifactRepository, type ArtifactRepositoryContext, type ArtifactStoreKind, listingPrefix, sendStored } from "../artifact_repository.ts";
import { xmlBlocks, xmlElement } from "../aws/xml.ts";
import { azureBlobFetch } from "../azure/blob_fetch.ts";
import { azureBlobLocation } from "../azure/connection.ts";
import { blockId } from "../databricks/azure_blocks.ts";
import { HttpClient } from "../http.ts";
import type { Artifact, CallOptions, StoredArtifact } from "../store.ts";
import { isAzureUri } from "./uris.ts";

/** Options of {@link azureArtifacts}. */
export interface AzureArtifactOptions {
  /** Files larger than this go as blocks; default 64 MiB (azure-storage-blob's `max_single_put_size`). */
  maxSinglePutSize?: number;
  /** Bytes per block; default 4 MiB (azure-storage-blob's `max_block_size`). */
  blockSize?: number;
  /** Largest List Blobs page asked for (`maxresults`); default Azure's 5000. */
  listPageSize?: number;
}

const MIB = 1024 * 1024;

const encodePath = (path: string): string => path.split("/").map(encodeURIComponent).join("/");

const slice = (body: SizedBody, start: number, end: number): BodyInit => {
  const whole = body.open();
  return whole instanceof Uint8Array ? whole.subarray(start, end) : whole.slice(start, end);
};

/**
 * Runs with `wasbs://` (and, to refuse them clearly, `abfss://`) artifact URIs.
 *
 * @param options Block and page sizes.
 * @returns The artifact store kind.
 * @example The kind takes Azure Blob URIs
 * ```ts
 * import { azureArtifacts } from "./azure.ts";
 * const azure = azureArtifacts();
 * if (!azure.accepts("wasbs://c@acct.blob.core.windows.net/1/r/artifacts") || azure.accepts("s3://b/p")) throw new Error();
 * ```
 */
export function azureArtifacts(options: AzureArtifactOptions = {}): ArtifactStoreKind {
  return {
    name: "azure",
    accepts: isAzureUri,
    open: ({ run, fetch, env, retry }: ArtifactRepositoryContext): ArtifactRepository => {
      const { containerUrl, root, auth } = azureBlobLocation(run.artifactUri, env);
      const signing = azureBlobFetch(fetch, auth);
      const origin = new URL(containerUrl).origin;
      const http = new HttpClient({ baseUrl: origin, fetch: signing, retry });
      const nameOf = (artifactPath: string): string => (root === "" ? artifactPath : `${root}/${artifactPath}`);
      const maxSingle = options.maxSinglePutSize ?? 64 * MIB;
      const blockSize = options.blockSize ?? 4 * MIB;

      const putBlocks = async (url: string, endpoint: string, body: SizedBody, contentType: string, call: CallOptions): Promise<void> => {
        // Put Block, then Put Block List in order (doc: learn.microsoft.com/rest/api/storageservices/put-block, put-block-list).
        const ids: string[] = [];
        for (let start = 0; start < body.size; start += blockSize) {
          const end = Math.min(body.size, start + blockSize);
          const id = blockId();
          ids.push(id);
          await http.send("PUT", `${url}?comp=block&blockid=${encodeURIComponent(id)}`, `${endpoint} (block ${ids.length})`, () => slice(body, start, end),
            "application/octet-stream", () => undefined, { ...call, upload: true });
        }
        const list = `<?xml version="1.0" encoding="utf-8"?><BlockList>${ids.map((id) => `<Latest>${id}</Latest>`).join("")}</BlockList>`;
        await http.send("PUT", `${url}?comp=blocklist`, `${endpoint} (block list)`, () => list, "application/xml", () => undefined, {
          ...call,
          headers: { "x-ms-blob-content-type": contentType },
        });
      };

      return {
        async upload(artifact: Artifact, call: CallOptions): Promise<StoredArtifact> {
          const body = await sizedBody(artifact.body, artifact.path, call.signal);
          const url = `${containerUrl}/${encodePath(nameOf(artifact.path))}`;
          const endpoint = `PUT ${new URL(url).pathname}`;
          const put = body.size > maxSingle
            ? () => putBlocks(url, endpoint, body, artifact.contentType, call)
            : () =>
              http.send("PUT", url, endpoint, () => body.open(), artifact.contentType, () => undefined, {
                ...call,
                upload: true,
                // Azure answers 400 MissingRequiredHeader without it (doc: put-blob).
                headers: { "x-ms-blob-type": "BlockBlob" },
              });
          return await sendStored(artifact.path, body, put);
        },

        async sizes(dir: string, call: CallOptions): Promise<Map<string, number>> {
          // List Blobs (doc: learn.microsoft.com/rest/api/storageservices/list-blobs): NextMarker pages.
          const prefix = listingPrefix(root, dir);
          const sizes = new Map<string, number>();
          let marker: string | undefined;
          do {
            const query = [
              "restype=container",
              "comp=list",
              `prefix=${encodeURIComponent(prefix)}`,
              "delimiter=%2F",
              ...(options.listPageSize !== undefined ? [`maxresults=${options.listPageSize}`] : []),
              ...(marker ? [`marker=${encodeURIComponent(marker)}`] : []),
            ].join("&");
            const url = `${containerUrl}?${query}`;
            const page = await http.send("GET", url, `GET ${new URL(url).pathname} (List Blobs)`, () => undefined, "", (text) => text, call);
            for (const blob of xmlBlocks(page, "Blob")) {
              const name = xmlElement(blob, "Name") ?? "";
              if (name.startsWith(prefix)) sizes.set(name.slice(prefix.length), Number(xmlElement(blob, "Content-Length") ?? 0));
            }
            marker = xmlElement(page, "NextMarker") || undefined;
          } while (marker);
          return sizes;
        },
      };
    },
  };
}
