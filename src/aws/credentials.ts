/**
 * AWS credentials and region, read as MLflow's Python client (boto3) reads
 * them: the `aws` option, else `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
 * `AWS_SESSION_TOKEN`, `AWS_REGION` then `AWS_DEFAULT_REGION` (doc:
 * docs.aws.amazon.com/sdkref/latest/guide/feature-static-credentials.html),
 * else, where there is a file system, the `AWS_PROFILE` profile of the shared
 * credentials and config files (`shared_files.ts`). Runtimes without an
 * environment (edge workers) pass them in the `aws` option, or in `env` from
 * their bindings. Container and instance roles are not read.
 *
 * @module
 */
import { MlflowValidationError } from "../errors.ts";
import { headerProblem } from "../validation.ts";
import type { AwsOptions } from "./options.ts";
import { profileCredentials, profileRegion } from "./shared_files.ts";
import type { AwsCredentials } from "./sigv4.ts";

const FIELDS = {
  accessKeyId: "AWS_ACCESS_KEY_ID",
  secretAccessKey: "AWS_SECRET_ACCESS_KEY",
  sessionToken: "AWS_SESSION_TOKEN",
} as const;

const HOW_TO_SET = "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary credentials) " +
  "in the environment or in the env option, pass aws: { accessKeyId, secretAccessKey, sessionToken }, " +
  "or, where there is a file system, put them in a profile of ~/.aws/credentials (AWS_PROFILE names it); " +
  "instance and container roles are not read";

function envString(env: Record<string, unknown>, name: string): string | undefined {
  const value = env[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw new MlflowValidationError(name, `must be a string, got ${typeof value}`);
  const trimmed = value.trim();
  return trimmed === "" ? undefined : trimmed;
}

/**
 * The credentials to sign with: the `aws` option's key pair when given, else
 * the environment's.
 *
 * @param env The connection's environment.
 * @param options The `aws` option.
 * @param purpose What needs them, for the error, e.g. `writing s3://bucket/x`.
 * @returns The credentials.
 * @throws {MlflowValidationError} Naming the variable that is missing or unusable, never showing a value.
 * @example Credentials from the environment
 * ```ts
 * import { awsCredentials } from "./credentials.ts";
 * const creds = awsCredentials({ AWS_ACCESS_KEY_ID: "AKID", AWS_SECRET_ACCESS_KEY: "s" }, undefined, "a test");
 * if (creds.accessKeyId !== "AKID" || creds.sessionToken !== undefined) throw new Error();
 * ```
 */
export function awsCredentials(env: Record<string, unknown>, options: AwsOptions | undefined, purpose: string): AwsCredentials {
  const fromOption = options?.accessKeyId !== undefined;
  const read = (key: keyof typeof FIELDS): string | undefined =>
    fromOption ? options?.[key]?.trim() : envString(env, FIELDS[key]);
  const field = (key: keyof typeof FIELDS): string => (fromOption ? `aws.${key}` : FIELDS[key]);
  const accessKeyId = read("accessKeyId");
  const secretAccessKey = read("secretAccessKey");
  const sessionToken = read("sessionToken");
  if (accessKeyId === undefined && secretAccessKey === undefined) {
    throw new MlflowValidationError("AWS_ACCESS_KEY_ID", `is not set, and ${purpose} needs AWS credentials: ${HOW_TO_SET}`);
  }
  if (accessKeyId === undefined || secretAccessKey === undefined) {
    const missing = accessKeyId === undefined ? "accessKeyId" : "secretAccessKey";
    throw new MlflowValidationError(field(missing), `is not set, but ${field(missing === "accessKeyId" ? "secretAccessKey" : "accessKeyId")} is; ${purpose} needs both`);
  }
  if (!/^[\x21-\x7e]+$/.test(accessKeyId)) {
    throw new MlflowValidationError(field("accessKeyId"), "holds spaces or characters beyond ASCII, which no access key id has; check where it is read from");
  }
  if (sessionToken !== undefined) {
    const problem = headerProblem("X-Amz-Security-Token", sessionToken);
    if (problem !== undefined) throw new MlflowValidationError(field("sessionToken"), `${problem}; check where it is read from`);
  }
  return sessionToken === undefined ? { accessKeyId, secretAccessKey } : { accessKeyId, secretAccessKey, sessionToken };
}

/**
 * The region to sign S3 requests for: the `aws` option's, else `AWS_REGION`,
 * else `AWS_DEFAULT_REGION`.
 *
 * @param env The connection's environment.
 * @param options The `aws` option.
 * @returns The region, or `undefined` when none is set.
 * @example `AWS_REGION` wins over `AWS_DEFAULT_REGION`
 * ```ts
 * import { awsRegion } from "./credentials.ts";
 * if (awsRegion({ AWS_REGION: "eu-west-1", AWS_DEFAULT_REGION: "us-east-1" }, undefined) !== "eu-west-1") throw new Error();
 * ```
 */
export function awsRegion(env: Record<string, unknown>, options: AwsOptions | undefined): string | undefined {
  const region = options?.region?.trim() || envString(env, "AWS_REGION") || envString(env, "AWS_DEFAULT_REGION");
  if (region !== undefined && !/^[a-z0-9-]+$/.test(region)) {
    const field = options?.region ? "aws.region" : envString(env, "AWS_REGION") ? "AWS_REGION" : "AWS_DEFAULT_REGION";
    throw new MlflowValidationError(field, `is '${region}', which is not a region name such as us-east-1`);
  }
  return region;
}

/**
 * The credentials to sign with, from the `aws` option, the environment or,
 * when neither holds any, the shared credentials file's profile.
 *
 * @param env The connection's environment.
 * @param options The `aws` option.
 * @param purpose What needs them, for the error.
 * @returns The credentials.
 * @throws {MlflowValidationError} Naming the variable that is missing or unusable, never showing a value.
 * @example Keys from the environment win over any file
 * ```ts
 * import { loadAwsCredentials } from "./credentials.ts";
 * const creds = await loadAwsCredentials({ AWS_ACCESS_KEY_ID: "AKID", AWS_SECRET_ACCESS_KEY: "s", HOME: "/x" }, undefined, "a test");
 * if (creds.accessKeyId !== "AKID") throw new Error();
 * ```
 */
export async function loadAwsCredentials(
  env: Record<string, unknown>,
  options: AwsOptions | undefined,
  purpose: string,
): Promise<AwsCredentials> {
  const inEnv = (Object.values(FIELDS) as string[]).some((name) => envString(env, name) !== undefined);
  if (options?.accessKeyId === undefined && !inEnv) {
    const fromFile = await profileCredentials(env);
    if (fromFile !== undefined) return fromFile;
  }
  return awsCredentials(env, options, purpose);
}

/**
 * The region for S3: {@link awsRegion}, else the shared config file profile's `region`.
 *
 * @param env The connection's environment.
 * @param options The `aws` option.
 * @returns The region, or `undefined`.
 * @example From the environment
 * ```ts
 * import { loadAwsRegion } from "./credentials.ts";
 * if (await loadAwsRegion({ AWS_DEFAULT_REGION: "eu-west-1" }, undefined) !== "eu-west-1") throw new Error();
 * ```
 */
export async function loadAwsRegion(env: Record<string, unknown>, options: AwsOptions | undefined): Promise<string | undefined> {
  const region = awsRegion(env, options) ?? (await profileRegion(env));
  if (region !== undefined && !/^[a-z0-9-]+$/.test(region)) {
    throw new MlflowValidationError("AWS_PROFILE", `profile region '${region}' is not a region name such as us-east-1`);
  }
  return region;
}
