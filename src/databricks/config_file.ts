/**
 * The Databricks configuration file (`~/.databrickscfg`): an INI file whose
 * sections are profiles, read the way the Databricks SDK reads it
 * (`_known_file_config_loader`, databricks/sdk/config.py): keys in lower case,
 * `[DEFAULT]` when no profile is named unless `[__settings__]` names a
 * `default_profile`, a named profile that is missing is an error, and the
 * keys of `[DEFAULT]` are not merged into other profiles.
 *
 * @module
 */
import { MlflowValidationError } from "../errors.ts";

/** A parsed INI file: sections by name, keys in lower case. */
export type IniSections = Map<string, Map<string, string>>;

/**
 * Parses INI text as Python's `configparser` does for this file: `key = value`
 * or `key: value`, `#` and `;` comment lines, section names as written,
 * keys lower-cased, values trimmed; an indented line continues the value
 * before it.
 *
 * @param text The file's text.
 * @returns The sections.
 * @example A profile
 * ```ts
 * import { parseIni } from "./config_file.ts";
 * const sections = parseIni("[prod]\nHost = https://x.cloud.databricks.com\n");
 * if (sections.get("prod")?.get("host") !== "https://x.cloud.databricks.com") throw new Error();
 * ```
 */
export function parseIni(text: string): IniSections {
  const sections: IniSections = new Map();
  let current: Map<string, string> | undefined;
  let lastKey: string | undefined;
  for (const raw of text.replace(/^\uFEFF/, "").split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) {
      lastKey = undefined;
      continue;
    }
    const section = /^\[([^\]]+)\]$/.exec(line);
    if (section) {
      const name = section[1]!;
      current = sections.get(name) ?? new Map();
      sections.set(name, current);
      lastKey = undefined;
      continue;
    }
    if (current !== undefined && lastKey !== undefined && /^\s/.test(raw)) {
      current.set(lastKey, `${current.get(lastKey) ?? ""}\n${line}`);
      continue;
    }
    const eq = line.search(/[=:]/);
    if (current === undefined || eq <= 0) continue;
    lastKey = line.slice(0, eq).trim().toLowerCase();
    current.set(lastKey, line.slice(eq + 1).trim());
  }
  return sections;
}

/**
 * The keys of the profile to use from a parsed file, or `undefined` when no
 * profile was named and the file has no default one.
 *
 * @param sections The parsed file.
 * @param profile The profile named by the URI or `DATABRICKS_CONFIG_PROFILE`.
 * @param path The file's path, for errors.
 * @returns The profile's name and keys.
 * @throws {MlflowValidationError} When a named profile is not in the file.
 * @example The default profile set in __settings__
 * ```ts
 * import { parseIni, selectProfile } from "./config_file.ts";
 * const file = parseIni("[__settings__]\ndefault_profile = dev\n[dev]\nhost = h\n");
 * if (selectProfile(file, undefined, "~/.databrickscfg")?.name !== "dev") throw new Error();
 * ```
 */
export function selectProfile(
  sections: IniSections,
  profile: string | undefined,
  path: string,
): { name: string; keys: Map<string, string> } | undefined {
  const name = profile ?? (sections.get("__settings__")?.get("default_profile") || "DEFAULT");
  const keys = sections.get(name);
  if (keys !== undefined) return { name, keys };
  if (profile === undefined && name === "DEFAULT") return undefined;
  const known = [...sections.keys()].filter((s) => s !== "__settings__");
  throw new MlflowValidationError(
    profile !== undefined ? "profile" : "default_profile",
    `${path} has no '${name}' profile configured` +
      (known.length > 0 ? `; it has ${known.map((k) => `'${k}'`).join(", ")}` : "") +
      "; add the section or name another profile (databricks://<profile> or DATABRICKS_CONFIG_PROFILE)",
  );
}
