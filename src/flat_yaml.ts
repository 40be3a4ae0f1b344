/**
 * Reading the flat `key: scalar` YAML of MLflow's `meta.yaml` files, as
 * MLflow (PyYAML) and the file store write them: plain, single- and
 * double-quoted scalars, folded over lines, integers, nulls and `[]`.
 *
 * @module
 */

/** The values a flat MLflow `meta.yaml` holds. */
export type YamlValue = string | number | null | readonly never[];

const ESCAPE_VALUES: Record<string, string> = {
  "0": "\0", a: "\x07", b: "\b", t: "\t", "\t": "\t", n: "\n", v: "\v", f: "\f", r: "\r", e: "\x1b",
  " ": " ", "\"": "\"", "/": "/", "\\": "\\", N: "\x85", _: "\xa0", L: "\u2028", P: "\u2029",
};
const HEX_LENGTHS: Record<string, number> = { x: 2, u: 4, U: 8 };

/**
 * Reads a flow scalar (plain, single- or double-quoted) that may span lines,
 * folding line breaks the YAML way: one break is a space, each blank line a
 * newline; indentation and trailing blanks around breaks are dropped.
 */
function readFlowScalar(text: string, style: "plain" | "'" | "\""): string {
  let out = "";
  let pendingBlanks = "";
  let i = style === "plain" ? 0 : 1;
  while (i < text.length) {
    const ch = text[i]!;
    if (style !== "plain" && ch === style) {
      if (style === "'" && text[i + 1] === "'") {
        out += pendingBlanks + "'";
        pendingBlanks = "";
        i += 2;
        continue;
      }
      return out + pendingBlanks;
    }
    if (ch === "\n" || ch === "\u2028" || ch === "\u2029") {
      // libyaml folds a "\n" break to a space unless blank lines follow; the
      // Unicode line and paragraph separators are kept as written.
      pendingBlanks = "";
      let trailing = "";
      i += 1;
      for (;;) {
        while (text[i] === " " || text[i] === "\t") i += 1;
        const next = text[i];
        if (next !== "\n" && next !== "\u2028" && next !== "\u2029") break;
        trailing += next;
        i += 1;
      }
      out += ch === "\n" ? (trailing === "" ? " " : trailing) : ch + trailing;
      continue;
    }
    if (ch === " " || ch === "\t") {
      pendingBlanks += ch;
      i += 1;
      continue;
    }
    out += pendingBlanks;
    pendingBlanks = "";
    if (style === "\"" && ch === "\\") {
      const next = text[i + 1] ?? "";
      if (next === "\n") {
        i += 2;
        while (text[i] === " " || text[i] === "\t") i += 1;
        continue;
      }
      const hexLength = HEX_LENGTHS[next];
      if (hexLength !== undefined) {
        out += String.fromCodePoint(Number.parseInt(text.slice(i + 2, i + 2 + hexLength), 16));
        i += 2 + hexLength;
        continue;
      }
      out += ESCAPE_VALUES[next] ?? next;
      i += 2;
      continue;
    }
    out += ch;
    i += 1;
  }
  return style === "plain" ? out + pendingBlanks : out;
}

/**
 * Parses a flat `key: scalar` mapping. Unknown shapes are kept as strings.
 *
 * @param text The file's text.
 * @returns The values by key.
 * @example Read a run's meta.yaml
 * ```ts
 * import { parseFlatYaml } from "./flat_yaml.ts";
 * const meta = parseFlatYaml("run_id: abc\nstatus: 3\nend_time: null\n");
 * if (meta.get("status") !== 3 || meta.get("end_time") !== null) throw new Error();
 * ```
 */
export function parseFlatYaml(text: string): Map<string, YamlValue> {
  const entries: [string, string[]][] = [];
  for (const line of text.replace(/\r\n?/g, "\n").split("\n")) {
    // Continuation lines are indented or start with a line separator, so they never look like keys.
    const match = /^([A-Za-z_][\w.-]*):(?:[ \t]+(.*))?$/s.exec(line);
    if (match) entries.push([match[1]!, [match[2] ?? ""]]);
    else entries[entries.length - 1]?.[1].push(line);
  }
  const result = new Map<string, YamlValue>();
  for (const [key, parts] of entries) {
    while (parts.length > 1 && /^[ \t]*$/.test(parts[parts.length - 1]!)) parts.pop();
    // Only YAML blanks are trimmed: JavaScript's trim() would also eat U+00A0 and U+2028.
    const raw = parts.join("\n").replace(/[ \t]+$/, "");
    if (raw.startsWith("'")) result.set(key, readFlowScalar(raw, "'"));
    else if (raw.startsWith("\"")) result.set(key, readFlowScalar(raw, "\""));
    else if (raw === "[]") result.set(key, []);
    else {
      const plain = readFlowScalar(raw, "plain").replace(/^[ \t]+|[ \t]+$/g, "");
      if (/^(?:~|null|Null|NULL|)$/.test(plain)) result.set(key, null);
      else if (/^[-+]?(?:0|[1-9][0-9]*)$/.test(plain) && Number.isSafeInteger(Number(plain))) {
        result.set(key, Number(plain));
      } else result.set(key, plain);
    }
  }
  return result;
}

/**
 * A value of a parsed `meta.yaml` as text: strings as they are, integers printed.
 *
 * @param meta What {@link parseFlatYaml} returned.
 * @param key The key.
 * @returns The text, or `undefined` when the key is absent, null or a list.
 * @example An experiment id written as an integer
 * ```ts
 * import { parseFlatYaml, yamlString } from "./flat_yaml.ts";
 * if (yamlString(parseFlatYaml("experiment_id: 12\n"), "experiment_id") !== "12") throw new Error();
 * ```
 */
export function yamlString(meta: ReadonlyMap<string, YamlValue>, key: string): string | undefined {
  const value = meta.get(key);
  if (typeof value === "string") return value;
  if (typeof value === "number") return String(value);
  return undefined;
}
