/**
 * The text `MlflowRun.logDict` writes, as MLflow's `log_dict` writes it:
 * `json.dump(d, indent=2)`, or for a `.yaml`/`.yml` file PyYAML's
 * `yaml.dump(d, default_flow_style=False)` (block style, keys sorted, lists
 * under a key not indented).
 *
 * @module
 */
import { MlflowValidationError } from "./errors.ts";
import { describeValue, jsonText } from "./validation.ts";

type Plain = null | boolean | number | string | Plain[] | { [key: string]: Plain };

// YAML 1.1 words PyYAML reads as booleans or null, and anything that reads as a number.
const RESERVED = /^(?:y|n|yes|no|true|false|on|off|null|~)$/i;
const NUMBER_LIKE = /^[-+]?(?:\.?\d|\.(?:inf|nan))/i;
const PLAIN = /^[A-Za-z_/][A-Za-z0-9_ ./-]*$/;

function scalar(value: Exclude<Plain, Plain[] | { [key: string]: Plain }>): string {
  if (value === null) return "null";
  if (typeof value === "boolean") return String(value);
  if (typeof value === "number") {
    const text = String(value);
    // YAML 1.1 reads an exponent without a dot (1e-7) as a string.
    return /e/.test(text) && !text.includes(".") ? text.replace("e", ".0e") : text;
  }
  return PLAIN.test(value) && !value.endsWith(" ") && !RESERVED.test(value) && !NUMBER_LIKE.test(value) ? value : JSON.stringify(value);
}

const isContainer = (v: Plain): v is Plain[] | { [key: string]: Plain } => typeof v === "object" && v !== null;
const isEmpty = (v: Plain[] | { [key: string]: Plain }): boolean => (Array.isArray(v) ? v.length === 0 : Object.keys(v).length === 0);

function yamlLines(value: Plain, indent: string): string[] {
  if (!isContainer(value) || isEmpty(value)) return [`${indent}${isContainer(value) ? (Array.isArray(value) ? "[]" : "{}") : scalar(value)}`];
  const lines: string[] = [];
  if (Array.isArray(value)) {
    for (const item of value) {
      if (isContainer(item) && !isEmpty(item)) {
        const inner = yamlLines(item, `${indent}  `);
        lines.push(`${indent}- ${inner[0]!.slice(indent.length + 2)}`, ...inner.slice(1));
      } else lines.push(`${indent}- ${yamlLines(item, "")[0]}`);
    }
    return lines;
  }
  for (const key of Object.keys(value).sort()) {
    const item = value[key]!;
    if (isContainer(item) && !isEmpty(item)) {
      lines.push(`${indent}${scalar(key)}:`, ...yamlLines(item, Array.isArray(item) ? indent : `${indent}  `));
    } else lines.push(`${indent}${scalar(key)}: ${yamlLines(item, "")[0]}`);
  }
  return lines;
}

/**
 * The file text of an object: YAML for a `.yaml`/`.yml` path, JSON otherwise.
 * NaN and ±Infinity become `null`, as `JSON.stringify` writes them.
 *
 * @param value An object or array.
 * @param path The artifact path, whose extension picks the format.
 * @param field The option name, for errors.
 * @returns The text, ending in a newline for YAML as PyYAML writes it.
 * @throws {MlflowValidationError} On a value that is not an object, or holds what JSON cannot write.
 * @example YAML with sorted keys
 * ```ts
 * import { dictText } from "./dict_text.ts";
 * if (dictText({ slow: 30, fast: 10, symbols: ["BTC"] }, "c.yaml", "d") !== "fast: 10\nslow: 30\nsymbols:\n- BTC\n") throw new Error();
 * ```
 */
export function dictText(value: unknown, path: string, field: string): string {
  if (typeof value !== "object" || value === null) {
    throw new MlflowValidationError(field, `must be an object or an array, got ${describeValue(value)}`);
  }
  const tree = JSON.parse(jsonText(value, field)) as Plain;
  if (/\.ya?ml$/i.test(path)) return `${yamlLines(tree, "").join("\n")}\n`;
  return JSON.stringify(tree, null, 2);
}
