/**
 * Test support: service SAS tokens for a container of Azurite's development
 * account, signed with node:crypto (never with the module under test), in the
 * string-to-sign of version 2019-12-12
 * (learn.microsoft.com/rest/api/storageservices/create-service-sas, "Version
 * 2018-11-09 and later"), as `fake_databricks_azurite.ts` mints blob SAS URLs.
 * Azurite checks each signature and its expiry.
 *
 * @module
 */
import { createHmac } from "node:crypto";

/** Azurite's development account (github.com/Azure/Azurite README, "Default Storage Account"). */
export const AZURITE_ACCOUNT = "devstoreaccount1";
/** Its published key. */
export const AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

const isoSeconds = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

/**
 * A container SAS query (no leading `?`).
 *
 * @param container The container.
 * @param permissions e.g. `racwl`.
 * @param expiryMs When it runs out (ms since the epoch).
 * @returns The query.
 * @example A SAS that ran out an hour ago
 * ```ts
 * import { containerSas } from "./azure_sas.ts";
 * console.log(containerSas("mlflow", "rcwl", Date.now() - 3_600_000));
 * ```
 */
export function containerSas(container: string, permissions: string, expiryMs: number): string {
  const version = "2019-12-12";
  const start = isoSeconds(expiryMs - 7_200_000);
  const expiry = isoSeconds(expiryMs);
  const toSign = [permissions, start, expiry, `/blob/${AZURITE_ACCOUNT}/${container}`, "", "", "", version, "c", "", "", "", "", "", ""].join("\n");
  const sig = createHmac("sha256", Buffer.from(AZURITE_KEY, "base64")).update(toSign, "utf8").digest("base64");
  return new URLSearchParams({ sv: version, st: start, se: expiry, sr: "c", sp: permissions, sig }).toString();
}
