/**
 * Writing flat YAML mappings as MLflow writes its `meta.yaml` files:
 * `yaml.dump(..., Dumper=CSafeDumper, default_flow_style=False,
 * allow_unicode=True, sort_keys=True)` on a flat dict, so strings are plain,
 * single- or double-quoted and folded at 80 columns exactly as libyaml's
 * emitter does. `flat_yaml.ts` reads them back.
 *
 * @module
 */
import type { YamlValue } from "./flat_yaml.ts";

const IMPLICIT_NON_STRINGS: RegExp[] = [
  /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/,
  /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/,
  /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/,
  /^(?:<<)$/,
  /^(?:~|null|Null|NULL|)$/,
  /^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$/,
  /^(?:=)$/,
  /^(?:!|&|\*)$/,
];

/** Whether PyYAML's resolver would read the plain text back as something other than a string. */
function resolvesToNonString(text: string): boolean {
  // Python's `$` also matches before one final newline.
  const candidates = text.endsWith("\n") ? [text, text.slice(0, -1)] : [text];
  return candidates.some((c) => IMPLICIT_NON_STRINGS.some((re) => re.test(c)));
}

const isBreak = (c: number | undefined): boolean =>
  c === 0x0a || c === 0x0d || c === 0x85 || c === 0x2028 || c === 0x2029;
const isBlankOrEnd = (c: number | undefined): boolean =>
  c === undefined || c === 0x20 || c === 0x09 || c === 0x00 || isBreak(c);
/** libyaml's IS_PRINTABLE: astral code points and C1 controls count as special. */
const isPrintable = (c: number): boolean =>
  c === 0x0a || (c >= 0x20 && c <= 0x7e) || (c >= 0xa0 && c <= 0xd7ff) ||
  (c >= 0xe000 && c <= 0xfffd && c !== 0xfeff);

interface ScalarAnalysis {
  plainAllowed: boolean;
  singleQuotedAllowed: boolean;
}

function analyzeScalar(cps: number[]): ScalarAnalysis {
  if (cps.length === 0) return { plainAllowed: true, singleQuotedAllowed: true };
  let blockIndicators = false;
  let lineBreaks = false;
  let special = false;
  let leadingSpace = false;
  let leadingBreak = false;
  let trailingSpace = false;
  let trailingBreak = false;
  let breakSpace = false;
  let spaceBreak = false;
  let previousSpace = false;
  let previousBreak = false;
  const text = String.fromCodePoint(...cps.slice(0, 3));
  if (text === "---" || text === "...") blockIndicators = true;
  let precededByWhitespace = true;
  for (let i = 0; i < cps.length; i++) {
    const c = cps[i]!;
    const followedByWhitespace = isBlankOrEnd(cps[i + 1]);
    const ch = String.fromCodePoint(c);
    if (i === 0) {
      if ("#,[]{}&*!|>'\"%@`".includes(ch)) blockIndicators = true;
      if ((ch === "?" || ch === ":") && followedByWhitespace) blockIndicators = true;
      if (ch === "-" && followedByWhitespace) blockIndicators = true;
    } else {
      if (ch === ":" && followedByWhitespace) blockIndicators = true;
      if (ch === "#" && precededByWhitespace) blockIndicators = true;
    }
    if (!isPrintable(c)) special = true;
    if (isBreak(c)) lineBreaks = true;
    if (c === 0x20) {
      if (i === 0) leadingSpace = true;
      if (i === cps.length - 1) trailingSpace = true;
      if (previousBreak) breakSpace = true;
      previousSpace = true;
      previousBreak = false;
    } else if (isBreak(c)) {
      if (i === 0) leadingBreak = true;
      if (i === cps.length - 1) trailingBreak = true;
      if (previousSpace) spaceBreak = true;
      previousSpace = false;
      previousBreak = true;
    } else {
      previousSpace = false;
      previousBreak = false;
    }
    precededByWhitespace = isBlankOrEnd(c);
  }
  let plainAllowed = !(leadingSpace || leadingBreak || trailingSpace || trailingBreak);
  let singleQuotedAllowed = true;
  if (breakSpace) plainAllowed = singleQuotedAllowed = false;
  if (spaceBreak || special) plainAllowed = singleQuotedAllowed = false;
  if (lineBreaks || blockIndicators) plainAllowed = false;
  return { plainAllowed, singleQuotedAllowed };
}

const ESCAPES: Record<number, string> = {
  0x00: "0", 0x07: "a", 0x08: "b", 0x09: "t", 0x0a: "n", 0x0b: "v", 0x0c: "f", 0x0d: "r", 0x1b: "e",
  0x22: "\"", 0x5c: "\\", 0x85: "N", 0xa0: "_", 0x2028: "L", 0x2029: "P",
};

/** Writes one scalar as a block-mapping value, following libyaml's emitter state machine. */
class ScalarWriter {
  out = "";
  private column: number;
  private whitespace = false;
  private indention = false;
  private static readonly WIDTH = 80;

  /** `indent` is where continuation lines start: 2 under a top-level key, 4 under a nested one. */
  constructor(startColumn: number, private readonly indent = 2) {
    this.column = startColumn;
  }

  private put(text: string): void {
    this.out += text;
    this.column += 1;
  }

  private putBreak(): void {
    this.out += "\n";
    this.column = 0;
  }

  private writeIndent(): void {
    const indent = this.indent;
    if (!this.indention || this.column > indent || (this.column === indent && !this.whitespace)) this.putBreak();
    while (this.column < indent) this.put(" ");
    this.whitespace = true;
    this.indention = true;
  }

  private indicator(text: string, needWhitespace: boolean): void {
    if (needWhitespace && !this.whitespace) this.put(" ");
    for (const ch of text) this.put(ch);
    this.whitespace = false;
    this.indention = false;
  }

  plain(cps: number[]): void {
    if (!this.whitespace && cps.length > 0) this.put(" ");
    let spaces = false;
    for (let i = 0; i < cps.length; i++) {
      const c = cps[i]!;
      if (c === 0x20) {
        if (!spaces && this.column > ScalarWriter.WIDTH && cps[i + 1] !== 0x20) this.writeIndent();
        else this.put(" ");
        spaces = true;
      } else {
        this.put(String.fromCodePoint(c));
        this.indention = false;
        spaces = false;
      }
    }
    this.whitespace = false;
    this.indention = false;
  }

  singleQuoted(cps: number[]): void {
    this.indicator("'", true);
    let spaces = false;
    let breaks = false;
    for (let i = 0; i < cps.length; i++) {
      const c = cps[i]!;
      if (c === 0x20) {
        if (
          !spaces && this.column > ScalarWriter.WIDTH && i !== 0 && i !== cps.length - 1 &&
          cps[i + 1] !== 0x20
        ) this.writeIndent();
        else this.put(" ");
        spaces = true;
      } else if (isBreak(c)) {
        if (!breaks && c === 0x0a) this.putBreak();
        if (c === 0x0a) this.putBreak();
        else {
          this.out += String.fromCodePoint(c);
          this.column = 0;
        }
        this.indention = true;
        breaks = true;
      } else {
        if (breaks) this.writeIndent();
        if (c === 0x27) this.put("'");
        this.put(String.fromCodePoint(c));
        this.indention = false;
        spaces = false;
        breaks = false;
      }
    }
    if (breaks) this.writeIndent();
    this.indicator("'", false);
  }

  doubleQuoted(cps: number[]): void {
    this.indicator("\"", true);
    let spaces = false;
    for (let i = 0; i < cps.length; i++) {
      const c = cps[i]!;
      if (!isPrintable(c) || c === 0xfeff || isBreak(c) || c === 0x22 || c === 0x5c) {
        this.put("\\");
        const named = ESCAPES[c];
        const escape = named ??
          (c <= 0xff
            ? `x${c.toString(16).toUpperCase().padStart(2, "0")}`
            : c <= 0xffff
            ? `u${c.toString(16).toUpperCase().padStart(4, "0")}`
            : `U${c.toString(16).toUpperCase().padStart(8, "0")}`);
        for (const ch of escape) this.put(ch);
        spaces = false;
      } else if (c === 0x20) {
        if (!spaces && this.column > ScalarWriter.WIDTH && i !== 0 && i !== cps.length - 1) {
          this.writeIndent();
          if (cps[i + 1] === 0x20) this.put("\\");
        } else this.put(" ");
        spaces = true;
      } else {
        this.put(String.fromCodePoint(c));
        spaces = false;
      }
    }
    this.indicator("\"", false);
  }
}

/** Code points of a string, with lone surrogates replaced as UTF-8 encoding would. */
function codePoints(text: string): number[] {
  return Array.from(text, (ch) => {
    const c = ch.codePointAt(0)!;
    return c >= 0xd800 && c <= 0xdfff ? 0xfffd : c;
  });
}

/**
 * A string as the value of `key` in a block mapping, from just after the
 * key's colon: plain when libyaml would write it plain, else single- or
 * double-quoted, folded where libyaml folds.
 *
 * @param key The mapping key it follows (its length sets the first line's column).
 * @param value The string.
 * @param depth Nesting level of the mapping (0 top level, 1 under a top-level key).
 * @returns The text after `key:`, starting with its space.
 * @example A string YAML would read as a boolean is quoted
 * ```ts
 * import { yamlStringValue } from "./flat_yaml_dump.ts";
 * if (yamlStringValue("name", "sma") !== " sma" || yamlStringValue("name", "yes") !== " 'yes'") throw new Error();
 * ```
 */
export function yamlStringValue(key: string, value: string, depth = 0): string {
  const cps = codePoints(value);
  const writer = new ScalarWriter(2 * depth + codePoints(key).length + 1, 2 * depth + 2);
  const analysis = analyzeScalar(cps);
  if (cps.length > 0 && analysis.plainAllowed && !resolvesToNonString(value)) writer.plain(cps);
  else if (analysis.singleQuotedAllowed) writer.singleQuoted(cps);
  else writer.doubleQuoted(cps);
  return writer.out;
}

/**
 * Serialises a flat mapping with sorted keys, as MLflow's `write_yaml` does.
 *
 * @param record Keys and their scalar values.
 * @returns The YAML text, one `key: value` line per key (folded strings take more).
 * @example A run's name and status
 * ```ts
 * import { dumpYaml } from "./flat_yaml_dump.ts";
 * const text = dumpYaml(new Map<string, string | number | null>([["status", 1], ["run_name", "sma: 10/30"], ["end_time", null]]));
 * if (text !== "end_time: null\nrun_name: 'sma: 10/30'\nstatus: 1\n") throw new Error(text);
 * ```
 */
export function dumpYaml(record: ReadonlyMap<string, YamlValue>): string {
  const keys = [...record.keys()].sort();
  let out = "";
  for (const key of keys) {
    const value = record.get(key)!;
    out += `${key}:`;
    if (value === null) out += " null";
    else if (typeof value === "number") out += ` ${String(value)}`;
    else if (Array.isArray(value)) out += " []";
    else out += yamlStringValue(key, value as string);
    out += "\n";
  }
  return out;
}

/**
 * Whether a key can be written as a plain YAML scalar that reads back as the
 * same string (MLflow writes a run input's tag keys that way).
 *
 * @param key The key.
 * @returns `false` for an empty key, one that needs quotes, or one YAML would read as another type.
 * @example Plain and not
 * ```ts
 * import { isPlainYamlKey } from "./flat_yaml_dump.ts";
 * if (!isPlainYamlKey("mlflow.data.context") || isPlainYamlKey("true") || isPlainYamlKey("a: b")) throw new Error();
 * ```
 */
export function isPlainYamlKey(key: string): boolean {
  const cps = codePoints(key);
  return cps.length > 0 && analyzeScalar(cps).plainAllowed && !resolvesToNonString(key);
}
