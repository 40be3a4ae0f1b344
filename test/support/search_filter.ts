/**
 * Test support: MLflow's search language, simplified from
 * mlflow/utils/search_utils.py: `filter` strings (`a = 'x' and metrics.m > 1`),
 * `order_by` clauses with SQL-store ordering (missing values last), and the
 * offset page tokens both searches and metric histories use.
 *
 * @module
 */

import { invalid } from "./mlflow_errors.ts";
import { own } from "./proto.ts";
import { isRawObject, parsePythonJson, pyDumps, PyNum } from "./python_json.ts";

/** What a filter or order_by key names: `metrics.x`, `params.x`, `tags.x`, or an attribute. */
export type EntityType = "metric" | "param" | "tag" | "attribute";
/** One `key comparator value` of a filter; clauses are joined by AND. */
export interface Clause {
  type: EntityType;
  key: string;
  comparator: string;
  value: string | number | string[] | undefined;
}

const ENTITY_TYPES: Record<string, EntityType> = {
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
const NUMERIC_COMPARATORS = ["=", "!=", ">", ">=", "<", "<="];
const STRING_COMPARATORS = ["=", "!=", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL"];

class FilterCursor {
  pos = 0;
  constructor(readonly text: string) {}

  done(): boolean {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos] as string)) this.pos++;
    return this.pos >= this.text.length;
  }

  take(re: RegExp): RegExpExecArray | undefined {
    this.done();
    const m = re.exec(this.text.slice(this.pos));
    if (m === null) return undefined;
    this.pos += m[0].length;
    return m;
  }
}

function readIdentifier(c: FilterCursor, fail: () => never): { type: EntityType; key: string } {
  const head = c.take(/^[A-Za-z_][A-Za-z0-9_]*/)?.[0] ?? fail();
  if (c.text[c.pos] !== ".") return { type: "attribute", key: head };
  c.pos++;
  const quoted = /^`([^`]*)`/.exec(c.text.slice(c.pos)) ?? /^"([^"]*)"/.exec(c.text.slice(c.pos));
  const bare = quoted === null ? /^[^\s=!<>()'"`]+/.exec(c.text.slice(c.pos)) : null;
  const match = quoted ?? bare ?? fail();
  c.pos += match[0].length;
  const type = own(ENTITY_TYPES, head) ?? fail();
  return { type, key: quoted !== null ? (quoted[1] as string) : match[0] };
}

function readQuoted(c: FilterCursor): string | undefined {
  const m = c.take(/^'((?:[^']|'')*)'/) ?? c.take(/^"((?:[^"]|"")*)"/);
  if (m === undefined) return undefined;
  const quote = m[0][0] as string;
  return (m[1] as string).replaceAll(quote + quote, quote);
}

/**
 * Parses `a and b and …`.
 *
 * @param filter The filter string; empty for no clauses.
 * @param attributes The valid attribute keys and which are numeric.
 * @param allowed The entity types the search takes.
 * @throws ApiError `INVALID_PARAMETER_VALUE` with MLflow's wording for a filter it cannot parse.
 */
export function parseFilter(filter: string, attributes: Record<string, "number" | "string">, allowed: EntityType[]): Clause[] {
  const c = new FilterCursor(filter);
  const fail = (): never => {
    throw invalid(`Error on parsing filter '${filter}'`);
  };
  const clauses: Clause[] = [];
  if (c.done()) return clauses;
  for (;;) {
    const { type, key } = readIdentifier(c, fail);
    if (!allowed.includes(type)) throw invalid(`Invalid entity type '${type}' in filter '${filter}'`);
    if (type === "attribute" && own(attributes, key) === undefined) {
      throw invalid(`Invalid attribute key '${key}' specified. Valid keys are '${Object.keys(attributes).join("', '")}'`);
    }
    const rawComparator =
      c.take(/^(?:!=|>=|<=|=|<|>)/)?.[0] ?? c.take(/^(?:NOT\s+IN|IN|ILIKE|LIKE|IS\s+NOT\s+NULL|IS\s+NULL)(?![\w])/i)?.[0] ?? fail();
    const comparator = rawComparator.toUpperCase().replace(/\s+/g, " ");
    const numeric = type === "metric" || (type === "attribute" && attributes[key] === "number");
    let value: Clause["value"];
    if (comparator === "IN" || comparator === "NOT IN") {
      if (numeric || type !== "attribute") throw invalid(`Invalid comparator '${comparator}' for '${key}' in filter '${filter}'`);
      if (c.take(/^\(/) === undefined) fail();
      const items: string[] = [];
      do items.push(readQuoted(c) ?? fail());
      while (c.take(/^,/) !== undefined);
      if (c.take(/^\)/) === undefined) fail();
      value = items;
    } else if (!comparator.startsWith("IS ")) {
      const quoted = readQuoted(c);
      if (quoted !== undefined) {
        if (numeric) throw invalid(`Expected numeric value type for ${type} '${key}'. Found '${quoted}'`);
        value = quoted;
      } else {
        const n = c.take(/^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?(?![\w.])/)?.[0] ?? fail();
        if (!numeric) {
          throw invalid(
            `${type === "tag" ? "Tag" : type === "param" ? "Parameter" : "Attribute"} value is either not quoted or unidentified quote types used for string value ${n}. Use either single or double quotes.`,
          );
        }
        value = Number(n);
      }
    }
    const valid = numeric ? NUMERIC_COMPARATORS : type === "attribute" ? [...STRING_COMPARATORS, "IN", "NOT IN"] : STRING_COMPARATORS;
    if (!valid.includes(comparator)) {
      throw invalid(`Invalid comparator '${comparator}' not one of '${JSON.stringify(valid)}' for '${key}'`);
    }
    clauses.push({ type, key, comparator, value });
    if (c.done()) return clauses;
    if (c.take(/^and(?=\s)/i) === undefined || c.done()) fail();
  }
}

function likeMatches(value: string, pattern: string, insensitive: boolean): boolean {
  const source = Array.from(pattern)
    .map((ch) => (ch === "%" ? ".*" : ch === "_" ? "." : ch.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
    .join("");
  return new RegExp(`^${source}$`, insensitive ? "isu" : "su").test(value);
}

/** Whether a run's (or experiment's) value satisfies a clause; a missing value only matches IS NULL. */
export function clauseMatches(clause: Clause, actual: string | number | undefined): boolean {
  const { comparator, value } = clause;
  if (comparator === "IS NULL") return actual === undefined;
  if (comparator === "IS NOT NULL") return actual !== undefined;
  if (actual === undefined) return false;
  if (Array.isArray(value)) return value.includes(String(actual)) === (comparator === "IN");
  if (comparator === "LIKE" || comparator === "ILIKE") {
    return likeMatches(String(actual), String(value), comparator === "ILIKE");
  }
  const a = actual;
  const b = value as string | number;
  switch (comparator) {
    case "=":
      return a === b;
    case "!=":
      return a !== b;
    case ">":
      return a > b;
    case ">=":
      return a >= b;
    case "<":
      return a < b;
    default:
      return a <= b;
  }
}

/** One parsed `order_by` clause. */
export interface OrderKey {
  type: EntityType;
  key: string;
  ascending: boolean;
}

/** Parses one `order_by` clause such as `attributes.run_name ASC` (ascending when no direction is given). */
export function parseOrderBy(clause: string, attributes: Record<string, "number" | "string">): OrderKey {
  const c = new FilterCursor(clause);
  const fail = (): never => {
    throw invalid(`Invalid order_by clause '${clause}'. Could not be parsed.`);
  };
  const { type, key } = readIdentifier(c, fail);
  if (type === "attribute" && own(attributes, key) === undefined) {
    throw invalid(`Invalid attribute key '${key}' specified. Valid keys are '${Object.keys(attributes).join("', '")}'`);
  }
  const direction = c.take(/^(?:ASC|DESC)\b/i)?.[0]?.toUpperCase();
  if (!c.done()) fail();
  return { type, key, ascending: direction !== "DESC" };
}

/** Sort value comparison with SQL-store semantics: missing values always last. */
export function compareSortValues(a: string | number | undefined, b: string | number | undefined, ascending: boolean): number {
  if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? 1 : -1;
  const order = a < b ? -1 : a > b ? 1 : 0;
  return ascending ? order : -order;
}

/** The offset in a page token: base64 of Python's `json.dumps({"offset": n})`; 0 for no token. */
export function decodePageToken(token: string | undefined): number {
  if (token === undefined || token === "") return 0;
  let decoded: string;
  try {
    decoded = atob(token);
  } catch {
    throw invalid("Invalid page token, could not base64-decode");
  }
  const parsed = parsePythonJson(decoded);
  const offset = isRawObject(parsed) ? parsed.offset : undefined;
  if (!(offset instanceof PyNum) || !Number.isInteger(offset.value)) {
    throw invalid(`Invalid page token, parsed value=${decoded}. Expected a dict with an 'offset' key`);
  }
  return offset.value;
}

/** The page token of an offset, byte for byte as the server writes it (`eyJvZmZzZXQiOiAxfQ==` for 1, transcript 63). */
export function encodePageToken(offset: number): string {
  return btoa(pyDumps({ offset }));
}


/**
 * One page of search results and the token of the next, as the SQL store pages
 * `runs/search` and `experiments/search`: it asks for one row more than the page
 * holds and gives a token only when that row exists, so a full last page has
 * none (transcripts 63 and 64; `compute_next_token` of `_search_experiments` in
 * mlflow/store/tracking/sqlalchemy_store.py).
 *
 * @param found Every match, in order.
 * @param pageToken The request's `page_token`.
 * @param maxResults The request's `max_results`.
 * @returns The page and, when more follow, the next page's token.
 */
export function searchPage<T>(found: T[], pageToken: string | undefined, maxResults: number): { page: T[]; nextPageToken?: string } {
  const offset = decodePageToken(pageToken);
  const end = offset + maxResults;
  return { page: found.slice(offset, end), ...(found.length > end ? { nextPageToken: encodePageToken(end) } : {}) };
}
