/**
 * Vega expressions without code generation (workerd forbids `eval` and
 * `new Function`): each expression tree is turned into nested closures once
 * per view, not walked per datum as `vega-interpreter` does, which allocates
 * on every call and made Vega the slowest step of a render.
 *
 * @module
 */

type VegaModule = typeof import("vega");

/** The `expr` hooks a Vega `View` takes to evaluate expressions without code generation. */
export interface ExpressionHooks {
  operator(ctx: ExprContext, expr: ParsedExpr): (params: Params) => unknown;
  parameter(ctx: ExprContext, expr: ParsedExpr): (datum: unknown, params: Params) => unknown;
  event(ctx: ExprContext, expr: ParsedExpr): unknown;
  handler(ctx: ExprContext, expr: ParsedExpr): unknown;
  encode(ctx: ExprContext, encode: EncodeSpec): (item: Item, params: Params) => number;
}

type Params = Record<string, unknown>;
type Item = Record<string, unknown> & { datum?: unknown };
type Fn = (...args: unknown[]) => unknown;
type Functions = Record<string, Fn | undefined>;

interface ExprContext {
  functions: Functions;
}

interface ParsedExpr {
  ast: Node;
}

interface EncodeSpec {
  marktype: string;
  channels: Record<string, ParsedExpr>;
}

interface Node {
  type: string;
  [key: string]: unknown;
}

/** An expression compiled to a closure over (params, datum, item). */
type Eval = (p: Params, d: unknown, i: Item | undefined) => unknown;

const CONSTANTS: Record<string, number> = {
  NaN: NaN,
  E: Math.E,
  LN2: Math.LN2,
  LN10: Math.LN10,
  LOG2E: Math.LOG2E,
  LOG10E: Math.LOG10E,
  PI: Math.PI,
  SQRT1_2: Math.SQRT1_2,
  SQRT2: Math.SQRT2,
  MIN_VALUE: Number.MIN_VALUE,
  MAX_VALUE: Number.MAX_VALUE,
};

const BINARY: Record<string, (a: any, b: any) => unknown> = {
  "*": (a, b) => a * b,
  "+": (a, b) => a + b,
  "-": (a, b) => a - b,
  "/": (a, b) => a / b,
  "%": (a, b) => a % b,
  ">": (a, b) => a > b,
  "<": (a, b) => a < b,
  "<=": (a, b) => a <= b,
  ">=": (a, b) => a >= b,
  "==": (a, b) => a == b,
  "!=": (a, b) => a != b,
  "===": (a, b) => a === b,
  "!==": (a, b) => a !== b,
  "&": (a, b) => a & b,
  "|": (a, b) => a | b,
  "^": (a, b) => a ^ b,
  "<<": (a, b) => a << b,
  ">>": (a, b) => a >> b,
  ">>>": (a, b) => a >>> b,
};

const UNARY: Record<string, (a: any) => unknown> = {
  "+": (a) => +a,
  "-": (a) => -a,
  "~": (a) => ~a,
  "!": (a) => !a,
};

const apply = (method: string, args: unknown[], cast?: (v: unknown) => unknown): unknown => {
  const target = (cast ? cast(args[0]) : args[0]) as Record<string, Fn>;
  return target[method]!.apply(target, args.slice(1));
};

/** The functions vega-interpreter provides itself (the rest come from Vega's function context), less `sort`. */
const BUILTINS: Record<string, Fn> = {
  isNaN: Number.isNaN as Fn,
  isFinite: Number.isFinite as Fn,
  abs: Math.abs as Fn,
  acos: Math.acos as Fn,
  asin: Math.asin as Fn,
  atan: Math.atan as Fn,
  atan2: Math.atan2 as Fn,
  ceil: Math.ceil as Fn,
  cos: Math.cos as Fn,
  exp: Math.exp as Fn,
  floor: Math.floor as Fn,
  hypot: Math.hypot as Fn,
  log: Math.log as Fn,
  max: Math.max as Fn,
  min: Math.min as Fn,
  pow: Math.pow as Fn,
  random: Math.random as Fn,
  round: Math.round as Fn,
  sin: Math.sin as Fn,
  sqrt: Math.sqrt as Fn,
  tan: Math.tan as Fn,
  clamp: ((a: number, b: number, c: number) => Math.max(b, Math.min(c, a))) as Fn,
  now: Date.now as Fn,
  utc: Date.UTC as Fn,
  datetime: ((y: string | number, ...rest: number[]) => {
    const [m = 0, d = 1, h = 0, min = 0, s = 0, ms = 0] = rest;
    return typeof y === "string" ? new Date(y) : new Date(y, m, d, h, min, s, ms);
  }) as Fn,
  date: ((d: number) => new Date(d).getDate()) as Fn,
  day: ((d: number) => new Date(d).getDay()) as Fn,
  year: ((d: number) => new Date(d).getFullYear()) as Fn,
  month: ((d: number) => new Date(d).getMonth()) as Fn,
  hours: ((d: number) => new Date(d).getHours()) as Fn,
  minutes: ((d: number) => new Date(d).getMinutes()) as Fn,
  seconds: ((d: number) => new Date(d).getSeconds()) as Fn,
  milliseconds: ((d: number) => new Date(d).getMilliseconds()) as Fn,
  time: ((d: number) => new Date(d).getTime()) as Fn,
  timezoneoffset: ((d: number) => new Date(d).getTimezoneOffset()) as Fn,
  utcdate: ((d: number) => new Date(d).getUTCDate()) as Fn,
  utcday: ((d: number) => new Date(d).getUTCDay()) as Fn,
  utcyear: ((d: number) => new Date(d).getUTCFullYear()) as Fn,
  utcmonth: ((d: number) => new Date(d).getUTCMonth()) as Fn,
  utchours: ((d: number) => new Date(d).getUTCHours()) as Fn,
  utcminutes: ((d: number) => new Date(d).getUTCMinutes()) as Fn,
  utcseconds: ((d: number) => new Date(d).getUTCSeconds()) as Fn,
  utcmilliseconds: ((d: number) => new Date(d).getUTCMilliseconds()) as Fn,
  length: ((x: { length: number }) => x.length) as Fn,
  join: (...args) => apply("join", args),
  indexof: (...args) => apply("indexOf", args),
  lastindexof: (...args) => apply("lastIndexOf", args),
  slice: (...args) => apply("slice", args),
  reverse: ((x: unknown[]) => x.slice().reverse()) as Fn,
  parseFloat: parseFloat as Fn,
  parseInt: parseInt as Fn,
  upper: (x) => String(x).toUpperCase(),
  lower: (x) => String(x).toLowerCase(),
  substring: (...args) => apply("substring", args, String),
  split: (...args) => apply("split", args, String),
  replace: (...args) => apply("replace", args, String),
  trim: (x) => String(x).trim(),
  btoa: (x) => btoa(String(x)),
  atob: (x) => atob(String(x)),
  encodeURIComponent: (x) => encodeURIComponent(String(x)),
  regexp: ((pattern: string, flags?: string) => new RegExp(pattern, flags)) as Fn,
  test: ((r: string | RegExp, t: string) => new RegExp(r).test(t)) as Fn,
};

// Members and keys that would reach code evaluation, as vega-interpreter refuses them.
const FORBIDDEN_VALUES = new Set<unknown>([Function, eval, setTimeout, setInterval]);
const FORBIDDEN_KEYS = new Set<string>([
  ...Object.getOwnPropertyNames(Object.prototype).filter(
    (name) => typeof (Object.prototype as Record<string, unknown>)[name] === "function",
  ),
  "__proto__",
  "then",
]);

const safe = (value: unknown): unknown => (typeof value === "function" && FORBIDDEN_VALUES.has(value) ? undefined : value);

function compile(node: Node, fns: Functions, builtins: Record<string, Fn>): Eval {
  switch (node.type) {
    case "Literal": {
      const value = node.value;
      const regex = node.regex as { pattern: string; flags: string } | undefined;
      // Global and sticky regexps carry lastIndex between calls: hand out a fresh one each time.
      if (regex && value instanceof RegExp && (value.global || value.sticky)) {
        return () => new RegExp(regex.pattern, regex.flags);
      }
      return () => value;
    }
    case "Identifier": {
      const name = node.name as string;
      if (name === "datum") return (_p, d) => d;
      if (name === "item") return (_p, _d, i) => i;
      if (name === "event") return () => undefined;
      if (name in CONSTANTS) {
        const value = CONSTANTS[name];
        return () => value;
      }
      const key = "$" + name;
      return (p) => p[key];
    }
    case "MemberExpression": {
      const object = compile(node.object as Node, fns, builtins);
      const property = node.property as Node;
      if (!node.computed || property.type === "Literal") {
        const key = (node.computed ? property.value : property.name) as string;
        return (p, d, i) => safe((object(p, d, i) as Record<string, unknown>)[key]);
      }
      const computed = compile(property, fns, builtins);
      return (p, d, i) => safe((object(p, d, i) as Record<string, unknown>)[computed(p, d, i) as string]);
    }
    case "CallExpression": {
      const name = ((node.callee as Node).name as string).replace(/^_/, "");
      const args = (node.arguments as Node[]).map((arg) => compile(arg, fns, builtins));
      if (name === "if") {
        const [test, yes, no] = args as [Eval, Eval, Eval];
        return (p, d, i) => (test(p, d, i) ? yes(p, d, i) : no(p, d, i));
      }
      const fn = fns[name] ?? builtins[name];
      if (!fn) return () => {
        throw new TypeError(`unknown expression function ${name}`);
      };
      switch (args.length) {
        case 0:
          return () => fn.call(fns);
        case 1: {
          const [a] = args as [Eval];
          return (p, d, i) => fn.call(fns, a(p, d, i));
        }
        case 2: {
          const [a, b] = args as [Eval, Eval];
          return (p, d, i) => fn.call(fns, a(p, d, i), b(p, d, i));
        }
        case 3: {
          const [a, b, c] = args as [Eval, Eval, Eval];
          return (p, d, i) => fn.call(fns, a(p, d, i), b(p, d, i), c(p, d, i));
        }
        default:
          return (p, d, i) => fn.apply(fns, args.map((arg) => arg(p, d, i)));
      }
    }
    case "ArrayExpression": {
      const elements = (node.elements as Node[]).map((e) => compile(e, fns, builtins));
      return (p, d, i) => elements.map((e) => e(p, d, i));
    }
    case "BinaryExpression": {
      const op = BINARY[node.operator as string];
      if (!op) throw new TypeError(`unsupported operator ${String(node.operator)}`);
      const left = compile(node.left as Node, fns, builtins);
      const right = compile(node.right as Node, fns, builtins);
      return (p, d, i) => op(left(p, d, i), right(p, d, i));
    }
    case "UnaryExpression": {
      const op = UNARY[node.operator as string];
      if (!op) throw new TypeError(`unsupported operator ${String(node.operator)}`);
      const arg = compile(node.argument as Node, fns, builtins);
      return (p, d, i) => op(arg(p, d, i));
    }
    case "ConditionalExpression": {
      const test = compile(node.test as Node, fns, builtins);
      const yes = compile(node.consequent as Node, fns, builtins);
      const no = compile(node.alternate as Node, fns, builtins);
      return (p, d, i) => (test(p, d, i) ? yes(p, d, i) : no(p, d, i));
    }
    case "LogicalExpression": {
      const left = compile(node.left as Node, fns, builtins);
      const right = compile(node.right as Node, fns, builtins);
      return node.operator === "||"
        ? (p, d, i) => left(p, d, i) || right(p, d, i)
        : (p, d, i) => left(p, d, i) && right(p, d, i);
    }
    case "ObjectExpression": {
      const props = (node.properties as Node[])
        .map((prop) => {
          const key = prop.key as Node;
          return [String(key.type === "Identifier" ? key.name : key.value), compile(prop.value as Node, fns, builtins)] as const;
        })
        .filter(([key]) => !FORBIDDEN_KEYS.has(key));
      return (p, d, i) => {
        const out: Record<string, unknown> = {};
        for (const [key, value] of props) {
          const v = value(p, d, i);
          if (!(typeof v === "function" && FORBIDDEN_VALUES.has(v))) out[key] = v;
        }
        return out;
      };
    }
    default:
      throw new TypeError(`unsupported expression node ${node.type}`);
  }
}

/** Mirrors vega-interpreter's handling of x2/xc and y2/yc after an encode. */
function adjustSpatial(item: Record<string, any>, channels: Record<string, unknown>, swap: boolean): void {
  adjustAxis(item, channels, swap, "x", "x2", "xc", "width");
  adjustAxis(item, channels, swap, "y", "y2", "yc", "height");
}

function adjustAxis(
  item: Record<string, any>,
  channels: Record<string, unknown>,
  swap: boolean,
  start: "x" | "y",
  end: "x2" | "y2",
  center: "xc" | "yc",
  size: "width" | "height",
): void {
  if (channels[end]) {
    if (channels[start]) {
      if (swap && item[start] > item[end]) [item[start], item[end]] = [item[end], item[start]];
      item[size] = item[end] - item[start];
    } else {
      item[start] = item[end] - (item[size] || 0);
    }
  }
  if (channels[center]) item[start] = item[center] - (item[size] || 0) / 2;
}

/**
 * Builds Vega's expression hooks from closures. Event and handler
 * expressions, which a static chart never runs, stay with the interpreter.
 *
 * @param vega The `vega` module, for its expression functions and codegen tables.
 * @param interpreter `vega-interpreter`'s `expressionInterpreter`.
 * @returns Hooks to pass as `new vega.View(runtime, { expr })`.
 * @example Hooks for a Vega view
 * ```ts
 * import * as vega from "vega";
 * import { expressionInterpreter } from "vega-interpreter";
 * import { closureExpressions } from "./vega_expressions.ts";
 * const expr = closureExpressions(vega, expressionInterpreter as never);
 * if (typeof expr.encode !== "function") throw new Error();
 * ```
 */
export function closureExpressions(vega: VegaModule, interpreter: { event: Fn; handler: Fn }): ExpressionHooks {
  const builtins: Record<string, Fn> = {
    ...BUILTINS,
    sort: ((x: Parameters<typeof vega.ascending>[0][]) => x.slice().sort(vega.ascending)) as Fn,
  };
  return {
    operator(ctx, expr) {
      const run = compile(expr.ast, ctx.functions, builtins);
      return (params) => run(params, undefined, undefined);
    },
    parameter(ctx, expr) {
      const run = compile(expr.ast, ctx.functions, builtins);
      return (datum, params) => run(params, datum, undefined);
    },
    // Event streams never fire in a headless render; the stock interpreter is fine for them.
    event: (ctx, expr) => interpreter.event(ctx, expr),
    handler: (ctx, expr) => interpreter.handler(ctx, expr),
    encode(ctx, encode) {
      const { marktype, channels } = encode;
      const swap = marktype === "group" || marktype === "image" || marktype === "rect";
      const entries = Object.keys(channels).map((name) => [name, compile(channels[name]!.ast, ctx.functions, builtins)] as const);
      return (item, params) => {
        const datum = item.datum;
        let changed = 0;
        for (const [name, run] of entries) {
          const value = run(params, datum, item);
          if (item[name] !== value) {
            item[name] = value;
            changed = 1;
          }
        }
        if (marktype !== "rule") adjustSpatial(item, channels, swap);
        return changed;
      };
    },
  };
}
