/**
 * Time values as backtesters hand them over (nanosecond BigInts, millisecond
 * numbers, ISO strings, Dates), turned into exact nanoseconds.
 *
 * @module
 */
import { MlflowValidationError } from "./errors.ts";
import { describeValue, isDate } from "./validation.ts";

/** Any value the module accepts where a time is expected. */
export type TimeInput = bigint | number | string | Date;

const NS_PER_MS = 1_000_000n;
// Bar times are int64 nanoseconds in FLOX, pandas and the equity CSV: 1677-09-21 to 2262-04-11.
const MIN_NS = -(2n ** 63n);
const MAX_NS = 2n ** 63n - 1n;

/**
 * Whether a value is already what {@link toNanoseconds} returns: a BigInt a
 * 64-bit nanosecond count holds. Lets a loop over many times skip building
 * each one's field name for errors.
 *
 * @param value Any value.
 * @returns `true` for a BigInt from -2^63 to 2^63 - 1.
 * @example The bounds
 * ```ts
 * import { isNanosecondCount } from "./time.ts";
 * if (!isNanosecondCount(2n ** 63n - 1n) || isNanosecondCount(2n ** 63n) || isNanosecondCount(1)) throw new Error();
 * ```
 */
export function isNanosecondCount(value: unknown): value is bigint {
  return typeof value === "bigint" && value >= MIN_NS && value <= MAX_NS;
}

function inRange(ns: bigint, value: unknown, field: string): bigint {
  if (!isNanosecondCount(ns)) {
    throw new MlflowValidationError(
      field,
      `${describeValue(value)} is outside the times a 64-bit nanosecond count holds (1677-09-21 to 2262-04-11 UTC); check its unit`,
    );
  }
  return ns;
}

/**
 * Converts a time to nanoseconds since the epoch. BigInts are nanoseconds;
 * numbers are milliseconds unless `unit` says nanoseconds; strings are ISO-8601
 * or integer strings in `unit`. Times must fit a signed 64-bit count of
 * nanoseconds (1677-09-21 to 2262-04-11 UTC), as FLOX and pandas keep them.
 *
 * @param value The time.
 * @param field The field name, for the error message.
 * @param unit How to read plain numbers and integer strings.
 * @returns Nanoseconds since the epoch.
 * @throws {MlflowValidationError} When the value is not a time, is an invalid Date or is out of range.
 * @example A millisecond number and an ISO string
 * ```ts
 * import { toNanoseconds } from "./time.ts";
 * if (toNanoseconds(1700000000000, "t") !== 1700000000000000000n) throw new Error();
 * if (toNanoseconds("2023-11-14T22:13:20Z", "t") !== 1700000000000000000n) throw new Error();
 * ```
 */
export function toNanoseconds(value: unknown, field: string, unit: "ms" | "ns" = "ms"): bigint {
  if (typeof value === "bigint") return inRange(value, value, field);
  if (typeof value === "number") {
    if (!Number.isFinite(value)) {
      throw new MlflowValidationError(field, `time ${value} is not finite; pass a nanosecond BigInt, millisecond number, ISO string or Date`);
    }
    if (unit === "ns") return inRange(BigInt(Math.round(value)), value, field);
    // Scaling the whole number by 1e6 in floating point would lose the last digits.
    const whole = Math.trunc(value);
    return inRange(BigInt(whole) * NS_PER_MS + BigInt(Math.round((value - whole) * 1e6)), value, field);
  }
  if (isDate(value)) {
    const ms = value.getTime();
    if (Number.isNaN(ms)) throw new MlflowValidationError(field, "is an invalid Date; pass a valid Date or time");
    return inRange(BigInt(ms) * NS_PER_MS, value, field);
  }
  if (typeof value === "string") {
    const text = value.trim();
    if (/^-?\d+$/.test(text)) return inRange(unit === "ns" ? BigInt(text) : BigInt(text) * NS_PER_MS, value, field);
    const ms = Date.parse(text);
    if (!Number.isNaN(ms)) {
      // Date.parse drops digits below the millisecond; keep them for ISO strings that carry them.
      const frac = /\.(\d{4,9})(?:Z|[+-]\d\d:?\d\d)?$/i.exec(text)?.[1];
      const extra = frac ? BigInt(frac.padEnd(9, "0").slice(3)) : 0n;
      return inRange(BigInt(ms) * NS_PER_MS + extra, value, field);
    }
  }
  throw new MlflowValidationError(
    field,
    `cannot read ${describeValue(value)} as a time; pass a nanosecond BigInt, millisecond number, ISO-8601 string or Date`,
  );
}

/**
 * Nanoseconds to whole milliseconds (floor), as MLflow metric timestamps want.
 *
 * @param ns Nanoseconds since the epoch.
 * @returns Milliseconds since the epoch.
 * @example Nanoseconds to milliseconds
 * ```ts
 * import { nanosToMillis } from "./time.ts";
 * if (nanosToMillis(1700000000123456789n) !== 1700000000123) throw new Error();
 * ```
 */
export function nanosToMillis(ns: bigint): number {
  const q = ns / NS_PER_MS;
  return Number(ns < 0n && q * NS_PER_MS !== ns ? q - 1n : q);
}

/**
 * Formats nanoseconds as ISO-8601 UTC with nanosecond digits when present.
 *
 * @param ns Nanoseconds since the epoch.
 * @returns e.g. `2023-11-14T22:13:20.123456789Z`.
 * @example A whole second prints without fraction
 * ```ts
 * import { nanosToIso } from "./time.ts";
 * if (nanosToIso(1700000000000000000n) !== "2023-11-14T22:13:20Z") throw new Error();
 * ```
 */
export function nanosToIso(ns: bigint): string {
  const ms = nanosToMillis(ns);
  const sub = ns - BigInt(ms) * NS_PER_MS;
  const base = new Date(ms).toISOString();
  if (sub === 0n) return base.endsWith(".000Z") ? base.slice(0, -5) + "Z" : base;
  return base.slice(0, -1) + sub.toString().padStart(6, "0") + "Z";
}
