/**
 * Test support: Azure Blob storage behind a fake Databricks workspace,
 * played by Azurite 3.35 (Microsoft's emulator; the last release that runs on
 * Node 20, managed-mlflow.md §5) in a child process. The workspace mints
 * service SAS URLs for single blobs; Azurite checks every SAS signature and
 * expiry itself (a tampered or expired SAS → 403 `AuthorizationFailure`), so
 * the code under test never checks its own requests. Azurite also refuses a
 * Put Blob without `x-ms-blob-type` (400, §5).
 *
 * The SAS string-to-sign is the service SAS of version 2019-12-12
 * (learn.microsoft.com/rest/api/storageservices/create-service-sas, "Version
 * 2018-11-09 and later"); the account is Azurite's well-known
 * `devstoreaccount1` with its published key.
 *
 * @module
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/** A running Azurite blob service with one container. */
export interface Azurite {
  /** e.g. `http://127.0.0.1:41234/devstoreaccount1`. */
  accountUrl: string;
  container: string;
  /**
   * A SAS URL for one blob.
   *
   * @param blob The blob name inside the container.
   * @param permissions `cw` to write, `r` to read.
   * @param expired Whether the SAS ran out an hour ago.
   * @returns The URL.
   */
  blobSas(blob: string, permissions: string, expired?: boolean): Promise<string>;
  /**
   * Blob names and sizes under a prefix, read with a container SAS.
   *
   * @param prefix The name prefix.
   * @returns Sizes by blob name.
   */
  list(prefix: string): Promise<Map<string, number>>;
  /** Stops Azurite. */
  close(): Promise<void>;
}

const ACCOUNT = "devstoreaccount1";
// Azurite's documented development key (github.com/Azure/Azurite README, "Default Storage Account").
const ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const VERSION = "2019-12-12";

const isoSeconds = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

async function hmacBase64(keyBase64: string, text: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    Uint8Array.from(atob(keyBase64), (c) => c.charCodeAt(0)),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(text)));
  return btoa(String.fromCharCode(...mac));
}

async function serviceSas(resource: "b" | "c", path: string, permissions: string, expiryMs: number): Promise<string> {
  const start = isoSeconds(expiryMs - 3_600_000 - 900_000);
  const expiry = isoSeconds(expiryMs);
  const canonical = `/blob/${ACCOUNT}/${path}`;
  const toSign = [permissions, start, expiry, canonical, "", "", "", VERSION, resource, "", "", "", "", "", ""].join("\n");
  const query = new URLSearchParams({ sv: VERSION, st: start, se: expiry, sr: resource, sp: permissions, sig: await hmacBase64(ACCOUNT_KEY, toSign) });
  return query.toString();
}

async function sharedKeyCreateContainer(accountUrl: string, container: string): Promise<void> {
  // Create Container needs SharedKey (or an account SAS); Azurite checks it.
  const date = new Date().toUTCString();
  const toSign = ["PUT", "", "", "", "", "", "", "", "", "", "", "", `x-ms-date:${date}\nx-ms-version:${VERSION}`, `/${ACCOUNT}/${ACCOUNT}/${container}\nrestype:container`].join("\n");
  const res = await fetch(`${accountUrl}/${container}?restype=container`, {
    method: "PUT",
    headers: { "x-ms-date": date, "x-ms-version": VERSION, authorization: `SharedKey ${ACCOUNT}:${await hmacBase64(ACCOUNT_KEY, toSign)}` },
  });
  if (res.status !== 201) throw new Error(`Azurite refused Create Container: ${res.status} ${await res.text()}`);
}

/**
 * Starts Azurite's blob service in memory on a free port and creates a container.
 *
 * @returns The running service.
 * @throws Error when Azurite does not start within 30 s.
 * @example Write and read a blob with SAS URLs
 * ```ts
 * import { startAzurite } from "./fake_databricks_azurite.ts";
 * const azurite = await startAzurite();
 * const put = await fetch(await azurite.blobSas("a.txt", "cw"), { method: "PUT", headers: { "x-ms-blob-type": "BlockBlob" }, body: "hi" });
 * console.log(put.status); // 201
 * await azurite.close();
 * ```
 */
export async function startAzurite(): Promise<Azurite> {
  const main = join(dirname(createRequire(import.meta.url).resolve("azurite/package.json")), "dist", "src", "blob", "main.js");
  const child: ChildProcess = spawn(
    "node",
    [main, "--blobHost", "127.0.0.1", "--blobPort", "0", "--inMemoryPersistence", "--disableTelemetry", "--skipApiVersionCheck"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const port = await new Promise<string>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`Azurite did not start: ${out}`)), 30_000);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const match = /successfully listens on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", () => reject(new Error(`Azurite exited: ${out}`)));
  });
  const accountUrl = `http://127.0.0.1:${port}/${ACCOUNT}`;
  const container = "mlflow";
  const close = async (): Promise<void> => {
    child.kill();
    await exited;
  };
  try {
    await sharedKeyCreateContainer(accountUrl, container);
  } catch (err) {
    await close();
    throw err;
  }
  return {
    accountUrl,
    container,
    async blobSas(blob, permissions, expired = false) {
      const path = `${container}/${blob}`;
      const sas = await serviceSas("b", path, permissions, Date.now() + (expired ? -3_600_000 : 900_000));
      return `${accountUrl}/${container}/${blob.split("/").map(encodeURIComponent).join("/")}?${sas}`;
    },
    async list(prefix) {
      const sas = await serviceSas("c", container, "l", Date.now() + 900_000);
      const res = await fetch(`${accountUrl}/${container}?restype=container&comp=list&prefix=${encodeURIComponent(prefix)}&${sas}`);
      const xml = await res.text();
      if (!res.ok) throw new Error(`Azurite refused List Blobs: ${res.status} ${xml}`);
      const sizes = new Map<string, number>();
      for (const [, body] of xml.matchAll(/<Blob>([\s\S]*?)<\/Blob>/g)) {
        const name = /<Name>([^<]*)<\/Name>/.exec(body!)?.[1];
        const size = /<Content-Length>(\d+)<\/Content-Length>/.exec(body!)?.[1];
        if (name !== undefined) sizes.set(name, Number(size ?? 0));
      }
      return sizes;
    },
    close,
  };
}
