/**
 * Test support: reads an object back from an S3 endpoint (path-style) the way
 * a user's S3 client would, with a `GET` signed by the official signer
 * (`@smithy/signature-v4`), independent of the module under test.
 *
 * @module
 */

import { Sha256 } from "@aws-crypto/sha256-js";
import { SignatureV4 } from "@smithy/signature-v4";
import type { FakeAwsCredential } from "./sigv4_check.ts";

/**
 * `GET <endpoint>/<bucket>/<key>`, signed.
 *
 * @param endpoint The S3 endpoint, e.g. `http://127.0.0.1:9000`.
 * @param bucket The bucket.
 * @param key The object key.
 * @param credential The key pair to sign with.
 * @param region The region; default `us-east-1`.
 * @returns The object's bytes.
 * @throws Error with S3's answer on any status but 200.
 * @example Read an object
 * ```ts
 * import { readS3Object } from "./s3_reader.ts";
 * const bytes = await readS3Object("http://127.0.0.1:9000", "bucket", "a/b.csv", { accessKeyId: "AKID", secretAccessKey: "s" })
 *   .catch((err) => err);
 * console.log(bytes);
 * ```
 */
export async function readS3Object(
  endpoint: string,
  bucket: string,
  key: string,
  credential: FakeAwsCredential,
  region = "us-east-1",
): Promise<Uint8Array> {
  const url = new URL(`${endpoint}/${bucket}/${key.split("/").map(encodeURIComponent).join("/")}`);
  const signer = new SignatureV4({
    credentials: credential,
    region,
    service: "s3",
    sha256: Sha256,
    uriEscapePath: false,
  });
  const signed = await signer.sign({
    method: "GET",
    protocol: url.protocol,
    hostname: url.hostname,
    ...(url.port ? { port: Number(url.port) } : {}),
    path: url.pathname,
    query: {},
    headers: { host: url.host, "x-amz-content-sha256": "UNSIGNED-PAYLOAD" },
  });
  const response = await fetch(url, { headers: signed.headers as Record<string, string> });
  if (response.status !== 200) throw new Error(`GET ${url.pathname} answered ${response.status}: ${await response.text()}`);
  return new Uint8Array(await response.arrayBuffer());
}
