/**
 * The cloud code of the Node build (`#clouds` on Node), imported with the
 * module. Loaded apart, the clouds would split what every run imports into
 * more chunk files, and Node's module loader pays more for those files than
 * parsing the clouds' code costs (the build's import measured some 10%
 * slower).
 *
 * @module
 */
import * as azure from "../artifact_stores/azure.ts";
import * as databricks from "../artifact_stores/databricks.ts";
import * as gcs from "../artifact_stores/gcs.ts";
import * as proxy from "../artifact_stores/proxy.ts";
import * as s3 from "../artifact_stores/s3.ts";
import * as awsCredentials from "../aws/credentials.ts";
import * as sigV4 from "../aws/sigv4.ts";
import * as databricksAuth from "../databricks/auth.ts";
import * as databricksSettings from "../databricks/settings.ts";
import type { CloudCode } from "./clouds_lazy.ts";

export type { CloudCode } from "./clouds_lazy.ts";

/**
 * Each loader the module imported with this one.
 *
 * @example Load the S3 store
 * ```ts
 * import { cloudCode } from "./clouds_eager.ts";
 * const { s3Artifacts } = await cloudCode.s3Store();
 * if (!s3Artifacts().accepts("s3://bucket/1/r/artifacts")) throw new Error();
 * ```
 */
export const cloudCode: CloudCode = {
  proxyStore: () => Promise.resolve(proxy),
  databricksStore: () => Promise.resolve(databricks),
  s3Store: () => Promise.resolve(s3),
  azureStore: () => Promise.resolve(azure),
  gcsStore: () => Promise.resolve(gcs),
  databricksSettings: () => Promise.resolve(databricksSettings),
  databricksAuth: () => Promise.resolve(databricksAuth),
  sigV4: () => Promise.resolve(sigV4),
  awsCredentials: () => Promise.resolve(awsCredentials),
};
