/**
 * MLflow's run search language, for the file store and for checking a search
 * before any request: `filter` strings (`metrics.sharpe > 1 and
 * params.fast = '10'`), `order_by` clauses, and the offset page tokens. It
 * follows `SearchUtils` in MLflow's `mlflow/utils/search_utils.py`
 * (`parse_search_filter`, `_get_value_for_sort`, `sort`, `paginate`) for the
 * common cases: comparisons of `metrics.`, `params.`, `tags.` and attributes
 * joined by `AND`. `OR` and parentheses are refused, as MLflow refuses them.
 *
 * @module
 */
import { MlflowValidationError } from "./errors.ts";
import type { StoredRun } from "./store.ts";

/** What a filter or order key names. */
export type EntityType = "metric" | "param" | "tag" | "attribute";

/** One `key comparator value` of a filter. */
export interface FilterClause {
  /** `metric`, `param`, `tag` or `attribute`. */
  type: EntityType;
  /** The key, without its prefix or quotes. */
  key: string;
  /** `=`, `!=`, `>`, `>=`, `<`, `<=`, `LIKE`, `ILIKE`, `IN`, `NOT IN`, `IS NULL`, `IS NOT NULL`. */
  comparator: string;
  /** A number for metrics and time attributes, a string or a list of strings otherwise. */
  value: number | string | string[] | undefined;
}

/** One `order_by` clause. */
export interface OrderKey {
  /** What the key names. */
  type: EntityType;
  /** The key. */
  key: string;
  /** `ASC` (default) or `DESC`. */
  ascending: boolean;
}

// search_utils.py: the prefixes MLflow accepts for each entity type.
const ENTITY_PREFIXES: Record<string, EntityType> = {
  metric: "metric",
  metrics: "metric",
  param: "param",
  params: "param",
  parameter: "param",
  parameters: "param",
  tag: "tag",
  tags: "tag",
  attribute: "attribute",
  attributes: "attribute",
  attr: "attribute",
  run: "attribute",
};
// search_utils.py VALID_SEARCH_ATTRIBUTE_KEYS / NUMERIC_ATTRIBUTES, with the aliases it translates.
const ATTRIBUTE_ALIASES: Record<string, string> = { created: "start_time", Created: "start_time", "run name": "run_name", "Run name": "run_name", "Run Name": "run_name" };
const STRING_ATTRIBUTES = new Set(["run_id", "run_name", "status", "user_id", "artifact_uri", "lifecycle_stage"]);
const NUMERIC_ATTRIBUTES = new Set(["start_time", "end_time"]);
const NUMERIC_COMPARATORS = new Set(["=", "!=", ">", ">=", "<", "<="]);
const STRING_COMPARATORS = new Set(["=", "!=", "LIKE", "ILIKE"]);

const fail = (field: string, filter: string, why: string): never => {
  throw new MlflowValidationError(field, `${JSON.stringify(filter)} is not a filter MLflow accepts: ${why}`);
};

interface Cursor {
  text: string;
  pos: number;
}

function skipSpace(c: Cursor): void {
  while (c.pos < c.text.length && /\s/.test(c.text[c.pos]!)) c.pos++;
}

function take(c: Cursor, re: RegExp): RegExpExecArray | undefined {
  skipSpace(c);
  const m = re.exec(c.text.slice(c.pos));
  if (m === null) return undefined;
  c.pos += m[0].length;
  return m;
}

function readQuotedKey(c: Cursor): string | undefined {
  const m = /^`([^`]*)`/.exec(c.text.slice(c.pos)) ?? /^"([^"]*)"/.exec(c.text.slice(c.pos));
  if (m === null) return undefined;
  c.pos += m[0].length;
  return m[1]!;
}

function readIdentifier(c: Cursor, bad: (why: string) => never): { type: EntityType; key: string } {
  skipSpace(c);
  const quotedWhole = readQuotedKey(c);
  if (quotedWhole !== undefined) return attribute(quotedWhole, bad);
  const head = take(c, /^[A-Za-z_][A-Za-z0-9_]*/)?.[0] ?? bad(`expected a key such as metrics.sharpe at position ${c.pos}`);
  if (c.text[c.pos] !== ".") return attribute(head, bad);
  const type = (Object.hasOwn(ENTITY_PREFIXES, head) ? ENTITY_PREFIXES[head] : undefined) ?? bad(`'${head}' is not an entity type; use metrics., params., tags. or attributes.`);
  c.pos++;
  const quoted = readQuotedKey(c);
  if (quoted !== undefined) return type === "attribute" ? attribute(quoted, bad) : { type, key: quoted };
  const bare = /^[^\s=!<>()'"`,]+/.exec(c.text.slice(c.pos)) ?? bad(`a key is missing after '${head}.'`);
  c.pos += bare[0].length;
  return type === "attribute" ? attribute(bare[0], bad) : { type, key: bare[0] };
}

function attribute(name: string, bad: (why: string) => never): { type: EntityType; key: string } {
  const key = Object.hasOwn(ATTRIBUTE_ALIASES, name) ? ATTRIBUTE_ALIASES[name]! : name;
  if (!STRING_ATTRIBUTES.has(key) && !NUMERIC_ATTRIBUTES.has(key)) {
    bad(`'${name}' is not a run attribute (${[...STRING_ATTRIBUTES, ...NUMERIC_ATTRIBUTES].join(", ")}); prefix metrics., params. or tags. for those`);
  }
  return { type: "attribute", key };
}

function readString(c: Cursor): string | undefined {
  const m = take(c, /^'((?:[^']|'')*)'/) ?? take(c, /^"((?:[^"]|"")*)"/);
  if (m === undefined) return undefined;
  const quote = m[0][0]!;
  return m[1]!.replaceAll(quote + quote, quote);
}

/**
 * Parses a filter string into clauses, as MLflow's `SearchUtils.parse_search_filter`
 * reads it. An empty or blank filter has no clauses.
 *
 * @param filter The filter string.
 * @param field The option name, for errors.
 * @returns The clauses, all of which a run must match.
 * @throws {MlflowValidationError} On anything MLflow would refuse, naming the problem.
 * @example A metric and a tag with a dot in its key
 * ```ts
 * import { parseFilter } from "./file_store_filter.ts";
 * const [m, t] = parseFilter("metrics.sharpe > 1 and tags.mlflow.parentRunId = 'abc'", "filter");
 * if (m!.value !== 1 || t!.key !== "mlflow.parentRunId") throw new Error();
 * ```
 */
export function parseFilter(filter: unknown, field: string): FilterClause[] {
  if (filter === undefined) return [];
  if (typeof filter !== "string") {
    throw new MlflowValidationError(field, `must be an MLflow filter string such as "metrics.sharpe > 1", got ${typeof filter}`);
  }
  const bad = (why: string): never => fail(field, filter, why);
  const c: Cursor = { text: filter, pos: 0 };
  const clauses: FilterClause[] = [];
  skipSpace(c);
  if (c.pos >= c.text.length) return clauses;
  for (;;) {
    const { type, key } = readIdentifier(c, bad);
    const comparator = (take(c, /^(?:not\s+in|in|is\s+not\s+null|is\s+null|ilike|like)\b/i)?.[0] ?? take(c, /^(?:>=|<=|!=|=|>|<)/)?.[0] ??
      bad(`a comparator (=, !=, >, >=, <, <=, LIKE, ILIKE) is missing after '${key}'`)).toUpperCase().replace(/\s+/g, " ");
    let value: FilterClause["value"];
    const numeric = type === "metric" || (type === "attribute" && NUMERIC_ATTRIBUTES.has(key));
    if (comparator === "IN" || comparator === "NOT IN") {
      // search_utils.py: only the run_id attribute is compared with a list of quoted strings.
      if (!(type === "attribute" && key === "run_id")) bad(`${comparator} works only on attributes.run_id`);
      if (take(c, /^\(/) === undefined) bad(`${comparator} needs a list in parentheses, e.g. ('a', 'b')`);
      const items: string[] = [];
      do {
        items.push(readString(c) ?? bad("IN lists hold quoted strings"));
      } while (take(c, /^,/) !== undefined);
      if (take(c, /^\)/) === undefined) bad("the IN list is not closed with ')'");
      value = items;
    } else if (comparator === "IS NULL" || comparator === "IS NOT NULL") {
      if (type !== "param" && type !== "tag") bad(`${comparator} works only on params. and tags.`);
    } else if (numeric) {
      if (!NUMERIC_COMPARATORS.has(comparator)) bad(`'${key}' is a number; compare it with =, !=, >, >=, < or <=`);
      const number = take(c, /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?(?![\w.])/)?.[0];
      if (number === undefined) bad(`'${key}' is a number; compare it with a number, e.g. ${key} > 1`);
      value = Number(number);
    } else {
      if (!STRING_COMPARATORS.has(comparator)) bad(`'${key}' is text; compare it with =, !=, LIKE or ILIKE`);
      value = readString(c) ?? bad(`'${key}' is text; compare it with a quoted string, e.g. '${key}' = 'x'`);
    }
    clauses.push({ type, key, comparator, value });
    skipSpace(c);
    if (c.pos >= c.text.length) return clauses;
    if (take(c, /^and\b/i) === undefined) {
      if (/^or\b/i.test(c.text.slice(c.pos))) bad("OR is not supported; MLflow joins clauses with AND only");
      bad(`expected AND at position ${c.pos}`);
    }
  }
}

/**
 * Parses `order_by` clauses (`metrics.sharpe DESC`, `attributes.start_time`),
 * as `SearchUtils.parse_order_by_for_search_runs` reads them.
 *
 * @param orderBy The clauses.
 * @param field The option name, for errors.
 * @returns The keys, first one most significant.
 * @throws {MlflowValidationError} On a clause MLflow would refuse.
 * @example Descending Sharpe ratio
 * ```ts
 * import { parseOrderBy } from "./file_store_filter.ts";
 * const [key] = parseOrderBy(["metrics.sharpe DESC"], "orderBy");
 * if (key!.ascending || key!.key !== "sharpe") throw new Error();
 * ```
 */
export function parseOrderBy(orderBy: unknown, field: string): OrderKey[] {
  if (orderBy === undefined) return [];
  if (!Array.isArray(orderBy)) {
    throw new MlflowValidationError(field, `must be a list of clauses such as ["metrics.sharpe DESC"], got ${typeof orderBy}`);
  }
  return orderBy.map((clause, i) => {
    const name = `${field}[${i}]`;
    if (typeof clause !== "string") throw new MlflowValidationError(name, `must be a string such as "metrics.sharpe DESC"`);
    const bad = (why: string): never => {
      throw new MlflowValidationError(name, `${JSON.stringify(clause)} is not an order_by clause MLflow accepts: ${why}`);
    };
    const c: Cursor = { text: clause, pos: 0 };
    const { type, key } = readIdentifier(c, bad);
    const direction = take(c, /^(?:asc|desc)\b/i)?.[0]?.toUpperCase();
    skipSpace(c);
    if (c.pos < c.text.length) bad("expected ASC or DESC after the key");
    return { type, key, ascending: direction !== "DESC" };
  });
}

function attributeValue(run: StoredRun, key: string): string | number | undefined {
  switch (key) {
    case "run_id":
      return run.runId;
    case "run_name":
      return run.runName;
    case "status":
      return run.status;
    case "user_id":
      return run.tags["mlflow.user"];
    case "artifact_uri":
      return run.artifactUri;
    case "lifecycle_stage":
      return "active";
    case "start_time":
      return run.startTime;
    case "end_time":
      return run.endTime;
  }
  return undefined;
}

function valueOf(run: StoredRun, type: EntityType, key: string): string | number | undefined {
  if (type === "metric") return Object.hasOwn(run.metrics, key) ? run.metrics[key] : undefined;
  if (type === "param") return Object.hasOwn(run.params, key) ? run.params[key] : undefined;
  if (type === "tag") return Object.hasOwn(run.tags, key) ? run.tags[key] : undefined;
  return attributeValue(run, key);
}

// SQL LIKE: % is any run of characters, _ one character; the rest literal.
function likeMatches(text: string, pattern: string, ignoreCase: boolean): boolean {
  let source = "";
  for (const ch of pattern) source += ch === "%" ? "[\\s\\S]*" : ch === "_" ? "[\\s\\S]" : ch.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`^${source}$`, ignoreCase ? "iu" : "u").test(text);
}

function clauseMatches(run: StoredRun, clause: FilterClause): boolean {
  const actual = valueOf(run, clause.type, clause.key);
  const { comparator, value } = clause;
  if (comparator === "IS NULL") return actual === undefined;
  if (comparator === "IS NOT NULL") return actual !== undefined;
  // A run without the key never matches, as the SQL join MLflow filters with.
  if (actual === undefined) return false;
  if (comparator === "IN") return (value as string[]).includes(String(actual));
  if (comparator === "NOT IN") return !(value as string[]).includes(String(actual));
  if (typeof actual === "number") {
    const v = value as number;
    switch (comparator) {
      case "=":
        return actual === v;
      case "!=":
        return actual !== v;
      case ">":
        return actual > v;
      case ">=":
        return actual >= v;
      case "<":
        return actual < v;
      case "<=":
        return actual <= v;
    }
    return false;
  }
  const v = value as string;
  switch (comparator) {
    case "=":
      return actual === v;
    case "!=":
      return actual !== v;
    case "LIKE":
      return likeMatches(actual, v, false);
    case "ILIKE":
      return likeMatches(actual, v, true);
  }
  return false;
}

/**
 * Whether a run matches every clause.
 *
 * @param run The run.
 * @param clauses From {@link parseFilter}.
 * @returns `true` when all match.
 * @example A run without the metric does not match
 * ```ts
 * import { parseFilter, runMatches } from "./file_store_filter.ts";
 * const run = { runId: "r", experimentId: "0", runName: "a", status: "FINISHED" as const, startTime: 1, artifactUri: "", metrics: {}, params: { fast: "10" }, tags: {} };
 * if (!runMatches(run, parseFilter("params.fast = '10'", "filter"))) throw new Error();
 * if (runMatches(run, parseFilter("metrics.sharpe > 0", "filter"))) throw new Error();
 * ```
 */
export function runMatches(run: StoredRun, clauses: readonly FilterClause[]): boolean {
  return clauses.every((clause) => clauseMatches(run, clause));
}

// `_get_value_for_sort`: a missing or NaN value sorts last whichever the direction.
function compareBy(a: StoredRun, b: StoredRun, order: OrderKey): number {
  const x = valueOf(a, order.type, order.key);
  const y = valueOf(b, order.type, order.key);
  const xMissing = x === undefined || Number.isNaN(x);
  const yMissing = y === undefined || Number.isNaN(y);
  if (xMissing || yMissing) return xMissing === yMissing ? 0 : xMissing ? 1 : -1;
  const c = x! < y! ? -1 : x! > y! ? 1 : 0;
  return order.ascending ? c : -c;
}

/**
 * Sorts runs as MLflow's file store does: newest first, then by run id, then
 * by each order key (the first most significant), missing values last.
 *
 * @param runs The runs.
 * @param orderBy From {@link parseOrderBy}.
 * @returns A new, sorted array.
 * @example Highest Sharpe ratio first
 * ```ts
 * import { parseOrderBy, sortRuns } from "./file_store_filter.ts";
 * const run = (runId: string, sharpe?: number) => ({ runId, experimentId: "0", runName: runId, status: "FINISHED" as const, startTime: 1, artifactUri: "",
 *   metrics: sharpe === undefined ? {} : { sharpe }, params: {}, tags: {} });
 * const sorted = sortRuns([run("a", 1), run("b"), run("c", 2)], parseOrderBy(["metrics.sharpe DESC"], "orderBy"));
 * if (sorted.map((r) => r.runId).join() !== "c,a,b") throw new Error();
 * ```
 */
export function sortRuns(runs: readonly StoredRun[], orderBy: readonly OrderKey[]): StoredRun[] {
  return [...runs].sort((a, b) => {
    for (const order of orderBy) {
      const c = compareBy(a, b, order);
      if (c !== 0) return c;
    }
    return b.startTime - a.startTime || (a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : 0);
  });
}

/**
 * One page of sorted runs and the token of the next, as `SearchUtils.paginate`
 * makes them: the token is base64 of `{"offset": n}`, given only when more
 * runs follow.
 *
 * @param runs The sorted runs.
 * @param pageToken The token of this page, `undefined` for the first.
 * @param maxResults Runs per page.
 * @returns The page and the next token.
 * @throws {MlflowValidationError} On a token that is not one this store made.
 * @example Two pages
 * ```ts
 * import { paginate } from "./file_store_filter.ts";
 * const first = paginate([1, 2, 3], undefined, 2);
 * const second = paginate([1, 2, 3], first.nextPageToken, 2);
 * if (second.page.join() !== "3" || second.nextPageToken !== undefined) throw new Error();
 * ```
 */
export function paginate<T>(runs: readonly T[], pageToken: string | undefined, maxResults: number): { page: T[]; nextPageToken?: string } {
  let offset = 0;
  if (pageToken !== undefined && pageToken !== "") {
    try {
      offset = (JSON.parse(atob(pageToken)) as { offset: unknown }).offset as number;
    } catch {
      offset = -1;
    }
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new MlflowValidationError("pageToken", "is not a page token this store gave; pass the nextPageToken of the previous page");
    }
  }
  const end = offset + maxResults;
  const page = runs.slice(offset, end);
  return end < runs.length ? { page, nextPageToken: btoa(JSON.stringify({ offset: end })) } : { page };
}
