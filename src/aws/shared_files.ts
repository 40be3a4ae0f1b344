/**
 * The AWS shared credentials and config files, where the runtime has a file
 * system: `AWS_SHARED_CREDENTIALS_FILE` (default `~/.aws/credentials`,
 * sections `[name]`) and `AWS_CONFIG_FILE` (default `~/.aws/config`,
 * sections `[default]` and `[profile name]`), profile `AWS_PROFILE` or
 * `default` (doc: docs.aws.amazon.com/sdkref/latest/guide/file-format.html).
 * Static keys (`aws_access_key_id`, `aws_secret_access_key`,
 * `aws_session_token`) and `region` are read; role assumption, SSO and
 * `credential_process` are not.
 *
 * @module
 */
import { hasFileSystem } from "#env";
import { fileSystem } from "#fs";
import { MlflowValidationError } from "../errors.ts";
import type { AwsCredentials } from "./sigv4.ts";

/** One profile's settings, lower-case keys. */
export type AwsProfile = Record<string, string>;

/**
 * Reads an AWS shared file: `[section]` headers and `key = value` lines;
 * `#` and `;` start comments; indented lines (nested settings such as `s3 =`
 * blocks) are skipped.
 *
 * @param text The file's text.
 * @returns Sections by name, each a map of lower-case keys to values.
 * @example A credentials file with two profiles
 * ```ts
 * import { parseAwsIni } from "./shared_files.ts";
 * const ini = parseAwsIni("[default]\naws_access_key_id = A\n# note\n[quant]\nAWS_Secret_Access_Key=s\n");
 * if (ini.get("default")?.aws_access_key_id !== "A" || ini.get("quant")?.aws_secret_access_key !== "s") throw new Error();
 * ```
 */
export function parseAwsIni(text: string): Map<string, AwsProfile> {
  const sections = new Map<string, AwsProfile>();
  let current: AwsProfile | undefined;
  for (const raw of text.split(/\r?\n/)) {
    if (/^\s/.test(raw) && current !== undefined) continue;
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[\s*([^\]]+?)\s*\]$/.exec(line);
    if (header) {
      const name = header[1] ?? "";
      current = sections.get(name) ?? {};
      sections.set(name, current);
      continue;
    }
    const eq = line.indexOf("=");
    if (eq > 0 && current !== undefined) current[line.slice(0, eq).trim().toLowerCase()] = line.slice(eq + 1).trim();
  }
  return sections;
}

function envText(env: Record<string, unknown>, name: string): string | undefined {
  const value = env[name];
  return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
}

function homePath(env: Record<string, unknown>, file: string): string | undefined {
  const home = envText(env, "HOME") ?? envText(env, "USERPROFILE");
  return home === undefined ? undefined : `${home.replace(/[\\/]+$/, "")}/.aws/${file}`;
}

/** Where the shared files are, as `env` says (`undefined`: no file system, or no home folder known). */
function sharedPaths(env: Record<string, unknown>): { credentials?: string; config?: string } {
  if (!hasFileSystem) return {};
  const credentials = envText(env, "AWS_SHARED_CREDENTIALS_FILE") ?? homePath(env, "credentials");
  const config = envText(env, "AWS_CONFIG_FILE") ?? homePath(env, "config");
  return { ...(credentials !== undefined ? { credentials } : {}), ...(config !== undefined ? { config } : {}) };
}

/**
 * The profile named by `AWS_PROFILE` (or `default`) from the shared
 * credentials file, over the same profile of the config file.
 *
 * @param env The connection's environment (`AWS_PROFILE`, the file variables, `HOME`).
 * @returns The profile's settings and where they came from, or `undefined` when neither file has it.
 * @throws {MlflowValidationError} When `AWS_PROFILE` names a profile neither file has.
 * @example No file system, or no files: nothing
 * ```ts
 * import { readAwsProfile } from "./shared_files.ts";
 * if (await readAwsProfile({ HOME: "/nonexistent-home" }) !== undefined) throw new Error();
 * ```
 */
export async function readAwsProfile(env: Record<string, unknown>): Promise<{ profile: AwsProfile; name: string; file: string } | undefined> {
  const paths = sharedPaths(env);
  const name = envText(env, "AWS_PROFILE") ?? "default";
  const credentialsText = paths.credentials === undefined ? undefined : await fileSystem.readText(paths.credentials);
  const configText = paths.config === undefined ? undefined : await fileSystem.readText(paths.config);
  const fromCredentials = credentialsText === undefined ? undefined : parseAwsIni(credentialsText).get(name);
  const config = configText === undefined ? undefined : parseAwsIni(configText);
  const fromConfig = config?.get(name === "default" ? "default" : `profile ${name}`);
  if (fromCredentials === undefined && fromConfig === undefined) {
    if (envText(env, "AWS_PROFILE") !== undefined) {
      throw new MlflowValidationError(
        "AWS_PROFILE",
        `names profile '${name}', which neither ${paths.credentials ?? "~/.aws/credentials"} nor ${paths.config ?? "~/.aws/config"} has`,
      );
    }
    return undefined;
  }
  const file = fromCredentials !== undefined ? paths.credentials! : paths.config!;
  return { profile: { ...fromConfig, ...fromCredentials }, name, file };
}

/**
 * The static keys of the shared files' profile.
 *
 * @param env The connection's environment.
 * @returns The credentials, or `undefined` when there is no profile to read.
 * @throws {MlflowValidationError} When the profile has no static keys (naming what it has instead), or
 *   `AWS_PROFILE` names a missing profile.
 * @example Without files, nothing
 * ```ts
 * import { profileCredentials } from "./shared_files.ts";
 * if (await profileCredentials({ HOME: "/nonexistent-home" }) !== undefined) throw new Error();
 * ```
 */
export async function profileCredentials(env: Record<string, unknown>): Promise<AwsCredentials | undefined> {
  const found = await readAwsProfile(env);
  if (found === undefined) return undefined;
  const { profile, name, file } = found;
  const accessKeyId = profile.aws_access_key_id;
  const secretAccessKey = profile.aws_secret_access_key;
  if (!accessKeyId || !secretAccessKey) {
    const other = ["role_arn", "credential_process", "sso_session", "sso_start_url", "web_identity_token_file"].filter((k) => profile[k]);
    throw new MlflowValidationError(
      "AWS_PROFILE",
      `profile '${name}' in ${file} has no aws_access_key_id and aws_secret_access_key` +
        (other.length > 0 ? ` (it uses ${other.join(", ")}, which this module does not support yet)` : "") +
        "; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY instead",
    );
  }
  const sessionToken = profile.aws_session_token;
  return sessionToken ? { accessKeyId, secretAccessKey, sessionToken } : { accessKeyId, secretAccessKey };
}

/**
 * The `region` of the shared files' profile.
 *
 * @param env The connection's environment.
 * @returns The region, or `undefined`.
 * @example Without files, none
 * ```ts
 * import { profileRegion } from "./shared_files.ts";
 * if (await profileRegion({ HOME: "/nonexistent-home" }) !== undefined) throw new Error();
 * ```
 */
export async function profileRegion(env: Record<string, unknown>): Promise<string | undefined> {
  return (await readAwsProfile(env))?.profile.region || undefined;
}
