/**
 * An independent reader of MLflow's `./mlruns` layout for tests. It shares no
 * code with the file store, so a test that writes with the store and reads
 * with this module checks the layout, not the store against itself.
 *
 * @module
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";

/** A scalar of a flat `meta.yaml`: string, integer, `null`, or an empty list. */
export type MetaValue = string | number | null | string[];

/** One metric point as MLflow's reader would parse it. */
export interface MetricPoint {
  timestamp: number;
  value: number;
  step: number;
}

/** A run folder, read back. */
export interface RunRecord {
  id: string;
  dir: string;
  metaText: string;
  meta: Record<string, MetaValue>;
  /** Parsed metric history per key (nested keys joined with `/`). */
  metrics: Record<string, MetricPoint[]>;
  /** The raw text of each metric file. */
  metricText: Record<string, string>;
  params: Record<string, string>;
  tags: Record<string, string>;
  /** Artifact files, relative to `artifacts/`, `/`-separated, sorted. */
  artifacts: string[];
  /** `inputs/<input id>/meta.yaml` of each dataset input, by folder name, sorted. */
  inputs: InputRecord[];
}

/** One run input folder and the experiment dataset it points at (MLflow's `_get_run_inputs`). */
export interface InputRecord {
  /** The input folder's name. */
  id: string;
  metaText: string;
  /** The top-level keys (the `tags` block read separately). */
  meta: Record<string, MetaValue>;
  /** The nested `tags:` mapping. */
  tags: Record<string, string>;
  /** `<experiment>/datasets/<source_id>/meta.yaml`, as text and parsed; absent when missing. */
  datasetText?: string;
  dataset?: Record<string, MetaValue>;
}

/** An experiment folder, read back. */
export interface ExperimentRecord {
  id: string;
  dir: string;
  metaText: string;
  meta: Record<string, MetaValue>;
  runs: RunRecord[];
}

/** YAML line folding: a "\n" break becomes a space unless blank lines follow; U+2028/U+2029 stay. */
function fold(raw: string): string {
  return raw.replace(
    /[ \t]*([\n\u2028\u2029])((?:[ \t]*[\n\u2028\u2029])*)[ \t]*/g,
    (_match, lead: string, rest: string) => {
      const trailing = rest.replace(/[ \t]/g, "");
      return lead === "\n" ? (trailing === "" ? " " : trailing) : lead + trailing;
    },
  );
}

const trimBlanks = (text: string): string => text.replace(/^[ \t]+|[ \t]+$/g, "");

const SIMPLE_ESCAPES: Record<string, string> = {
  "0": "\0", a: "\x07", b: "\b", t: "\t", n: "\n", v: "\v", f: "\f", r: "\r", e: "\x1b", " ": " ",
  "\"": "\"", "/": "/", "\\": "\\", N: "\x85", _: "\xa0", L: "\u2028", P: "\u2029",
};

function unescapeDoubleQuoted(body: string): string {
  return body.replace(/\\(x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)/gs, (_, code: string) =>
    code.length > 1 ? String.fromCodePoint(parseInt(code.slice(1), 16)) : (SIMPLE_ESCAPES[code] ?? code));
}

function scalar(raw: string): MetaValue {
  const text = trimBlanks(raw.replace(/\n+$/, ""));
  if (text.startsWith("'")) return fold(text).slice(1, -1).replaceAll("''", "'");
  if (text.startsWith("\"")) {
    // An escaped line break (odd backslashes before it) joins lines without a space.
    const joined = text.replace(/(?<!\\)((?:\\\\)*)\\\n[ \t]*/g, "$1");
    return unescapeDoubleQuoted(fold(joined).slice(1, -1));
  }
  const plain = trimBlanks(fold(text));
  if (plain === "[]") return [];
  if (plain === "null" || plain === "~" || plain === "") return null;
  if (/^-?\d+$/.test(plain)) return Number(plain);
  return plain;
}

/**
 * Parses a flat `meta.yaml` (top-level `key: scalar` lines, with scalars
 * continued on indented lines) as PyYAML writes it.
 *
 * @param text The file's text.
 * @returns The keys and their values.
 * @example Quoted id and integer status
 * ```ts
 * import { parseMetaYaml } from "./mlruns_reader.ts";
 * const meta = parseMetaYaml("experiment_id: '0'\nstatus: 3\n");
 * if (meta.experiment_id !== "0" || meta.status !== 3) throw new Error();
 * ```
 */
export function parseMetaYaml(text: string): Record<string, MetaValue> {
  const out: Record<string, MetaValue> = {};
  let key: string | undefined;
  let lines: string[] = [];
  const flush = (): void => {
    if (key !== undefined) out[key] = scalar(lines.join("\n"));
  };
  for (const line of text.split("\n")) {
    const top = /^([A-Za-z_][\w.]*):(?: (.*))?$/s.exec(line);
    if (top) {
      flush();
      key = top[1]!;
      lines = [top[2] ?? ""];
    } else if (key !== undefined) lines.push(line);
  }
  flush();
  return out;
}

function parseMetricValue(text: string): number {
  if (text === "nan") return NaN;
  if (text === "inf") return Infinity;
  if (text === "-inf") return -Infinity;
  return Number(text);
}

/**
 * Lists every file under a folder, relative and `/`-separated, sorted.
 *
 * @param dir The folder.
 * @returns The relative file paths; `[]` when the folder is missing.
 * @example Artifact files
 * ```ts
 * import { listFiles } from "./mlruns_reader.ts";
 * const files = await listFiles("/tmp/mlruns/0/abc/artifacts");
 * ```
 */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (sub: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(join(dir, sub), { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const rel = sub === "" ? entry.name : `${sub}/${entry.name}`;
      if (entry.isDirectory()) await walk(rel);
      else out.push(rel);
    }
  };
  await walk("");
  return out.sort();
}

/**
 * Lists every file and folder under a root, relative and `/`-separated,
 * sorted, the way `find | sort` shows a tree.
 *
 * @param root The folder.
 * @returns Relative paths of all entries.
 * @example The whole store
 * ```ts
 * import { listTree } from "./mlruns_reader.ts";
 * const entries = await listTree("/tmp/mlruns");
 * ```
 */
export async function listTree(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (sub: string): Promise<void> => {
    const entries = await readdir(join(root, sub), { withFileTypes: true });
    for (const entry of entries) {
      const rel = sub === "" ? entry.name : `${sub}/${entry.name}`;
      out.push(rel);
      if (entry.isDirectory()) await walk(rel);
    }
  };
  await walk("");
  return out.sort();
}

async function readTextFiles(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const rel of await listFiles(dir)) out[rel] = await readFile(join(dir, rel), "utf8");
  return out;
}

// The nested block under `tags:` of an input's meta.yaml: `  key: scalar` lines.
function nestedTags(text: string): Record<string, string> {
  const lines = text.split("\n");
  const start = lines.findIndex((line) => /^tags:\s*$/.test(line));
  if (start === -1) return {};
  const block: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (!line.startsWith("  ")) break;
    block.push(line.slice(2));
  }
  return Object.fromEntries(Object.entries(parseMetaYaml(block.join("\n"))).map(([k, v]) => [k, String(v)]));
}

async function readInputs(runDir: string): Promise<InputRecord[]> {
  let names: string[];
  try {
    names = (await readdir(join(runDir, "inputs"), { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  } catch {
    return [];
  }
  const out: InputRecord[] = [];
  for (const id of names) {
    const metaText = await readFile(join(runDir, "inputs", id, "meta.yaml"), "utf8");
    const meta = parseMetaYaml(metaText);
    delete meta.tags;
    const record: InputRecord = { id, metaText, meta, tags: nestedTags(metaText) };
    const datasetText = await readFile(join(runDir, "..", "datasets", String(meta.source_id), "meta.yaml"), "utf8").catch(() => undefined);
    if (datasetText !== undefined) {
      record.datasetText = datasetText;
      record.dataset = parseMetaYaml(datasetText);
    }
    out.push(record);
  }
  return out;
}

async function readRun(dir: string, id: string): Promise<RunRecord> {
  const metaText = await readFile(join(dir, "meta.yaml"), "utf8");
  const metricText = await readTextFiles(join(dir, "metrics"));
  const metrics: Record<string, MetricPoint[]> = {};
  for (const [key, text] of Object.entries(metricText)) {
    metrics[key] = text.split("\n").filter((line) => line !== "").map((line) => {
      const [timestamp = "", value = "", step = "0"] = line.split(" ");
      return { timestamp: Number(timestamp), value: parseMetricValue(value), step: Number(step) };
    });
  }
  return {
    id,
    dir,
    metaText,
    meta: parseMetaYaml(metaText),
    metrics,
    metricText,
    params: await readTextFiles(join(dir, "params")),
    tags: await readTextFiles(join(dir, "tags")),
    artifacts: await listFiles(join(dir, "artifacts")),
    inputs: await readInputs(dir),
  };
}

/**
 * Reads every experiment folder of an `mlruns` root (`.trash` and files
 * skipped) with its runs (sub-folders holding a `meta.yaml`).
 *
 * @param root The `mlruns` folder.
 * @returns The experiments, sorted by id, each with its runs sorted by id.
 * @example Count runs
 * ```ts
 * import { readMlruns } from "./mlruns_reader.ts";
 * const experiments = await readMlruns("/tmp/mlruns");
 * const runs = experiments.flatMap((e) => e.runs).length;
 * ```
 */
export async function readMlruns(root: string): Promise<ExperimentRecord[]> {
  const experiments: ExperimentRecord[] = [];
  for (const entry of (await readdir(root, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    if (!entry.isDirectory() || entry.name === ".trash") continue;
    const dir = join(root, entry.name);
    const metaText = await readFile(join(dir, "meta.yaml"), "utf8");
    const runs: RunRecord[] = [];
    for (const sub of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      if (!sub.isDirectory()) continue;
      const runDir = join(dir, sub.name);
      const hasMeta = await stat(join(runDir, "meta.yaml")).then(() => true, () => false);
      if (hasMeta) runs.push(await readRun(runDir, sub.name));
    }
    experiments.push({ id: entry.name, dir, metaText, meta: parseMetaYaml(metaText), runs });
  }
  return experiments;
}
