/**
 * The `aws` connection option and its check, apart from the code that reads
 * credentials (`credentials.ts`), which is loaded only for a run that signs
 * an AWS request.
 *
 * @module
 */
import { MlflowValidationError } from "../errors.ts";
import { checkOptionKeys } from "../option_keys.ts";

/** AWS credentials and region given as an option instead of environment variables. */
export interface AwsOptions {
  /** Takes the place of `AWS_ACCESS_KEY_ID`. */
  accessKeyId?: string;
  /** Takes the place of `AWS_SECRET_ACCESS_KEY`. Never printed. */
  secretAccessKey?: string;
  /** Takes the place of `AWS_SESSION_TOKEN`. Never printed. */
  sessionToken?: string;
  /** Takes the place of `AWS_REGION` / `AWS_DEFAULT_REGION` (S3 only: SageMaker's region is the ARN's). */
  region?: string;
}

/** Keys of {@link AwsOptions}. */
export const AWS_OPTION_KEYS = ["accessKeyId", "secretAccessKey", "sessionToken", "region"] as const;

/**
 * Checks the `aws` option's keys and value types, naming the key and never a value.
 *
 * @param value The option as the caller passed it.
 * @throws {MlflowValidationError} On an unknown key, a value that is not a non-empty string, or only half a key pair.
 * @example A Python spelling
 * ```ts
 * import { checkAwsOptions } from "./options.ts";
 * try {
 *   checkAwsOptions({ aws_access_key_id: "AKID" });
 *   throw new Error("accepted");
 * } catch (err) {
 *   if (!String(err).includes("did you mean 'accessKeyId'")) throw err;
 * }
 * ```
 */
export function checkAwsOptions(value: unknown): void {
  const options = checkOptionKeys(value, AWS_OPTION_KEYS, "aws") as Record<string, unknown>;
  for (const key of AWS_OPTION_KEYS) {
    const item = options[key];
    if (item !== undefined && (typeof item !== "string" || item.trim() === "")) {
      throw new MlflowValidationError(`aws.${key}`, `must be a non-empty string, got ${typeof item === "string" ? "an empty one" : typeof item}`);
    }
  }
  if ((options.accessKeyId === undefined) !== (options.secretAccessKey === undefined)) {
    const missing = options.accessKeyId === undefined ? "accessKeyId" : "secretAccessKey";
    throw new MlflowValidationError(`aws.${missing}`, "is missing; pass accessKeyId and secretAccessKey together");
  }
}
