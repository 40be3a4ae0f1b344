/**
 * Durations as Python backtesters hand them over in text (backtesting.py and
 * vectorbt stats through pandas, backtrader through `datetime.timedelta`),
 * read as seconds so they can be metrics.
 *
 * @module
 */

// Years and months have no fixed length, so ISO durations using them are not read.
const ISO_DURATION =
  /^([+-])?P(?=\d|T\d)(?:(\d+(?:[.,]\d+)?)W)?(?:(\d+(?:[.,]\d+)?)D)?(?:T(?=\d)(?:(\d+(?:[.,]\d+)?)H)?(?:(\d+(?:[.,]\d+)?)M)?(?:(\d+(?:[.,]\d+)?)S)?)?$/i;

// pandas: "1 days 02:00:00", "-1 days +23:00:00.500000"; Python: "1 day, 2:00:00", "-1 day, 23:00:00".
const DAYS_CLOCK = /^([+-]?\d+) days?(?:,| (?=[+-]?\d))\s*([+-])?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?$/;

const num = (text: string | undefined): number => (text === undefined ? 0 : Number(text.replace(",", ".")));

/**
 * Reads a duration written as text and returns it in seconds. Three forms
 * are read: ISO-8601 durations with weeks, days, hours, minutes and seconds
 * (`P1DT2H`, `PT90M`, `-PT0.5S`; `pandas.Timedelta.isoformat()` gives these),
 * pandas `Timedelta` strings (`1 days 02:00:00`, `-1 days +23:00:00`,
 * fractions down to nanoseconds) and Python `timedelta` strings
 * (`1 day, 2:00:00`). Anything else, including ISO durations with years or
 * months (no fixed length) and bare clock times such as `02:00:00`
 * (indistinguishable from a time of day), is not a duration.
 *
 * @param text The text.
 * @returns Seconds (negative for negative durations), or `undefined` when the text is not a duration.
 * @example The forms backtesters print
 * ```ts
 * import { durationSeconds } from "./duration.ts";
 * if (durationSeconds("P1DT2H") !== 93600) throw new Error();
 * if (durationSeconds("1 days 02:00:00") !== 93600) throw new Error();
 * if (durationSeconds("-1 days +23:00:00") !== -3600) throw new Error();
 * if (durationSeconds("1 day, 2:00:00") !== 93600) throw new Error();
 * if (durationSeconds("BTCUSDT") !== undefined) throw new Error();
 * ```
 */
export function durationSeconds(text: string): number | undefined {
  const value = text.trim();
  const iso = ISO_DURATION.exec(value);
  if (iso) {
    const [, sign, weeks, days, hours, minutes, seconds] = iso;
    const total = num(weeks) * 604800 + num(days) * 86400 + num(hours) * 3600 + num(minutes) * 60 + num(seconds);
    return sign === "-" ? -total : total;
  }
  const clock = DAYS_CLOCK.exec(value);
  if (clock) {
    const [, days, sign, hours, minutes, seconds, fraction] = clock;
    const time = num(hours) * 3600 + num(minutes) * 60 + num(seconds) + (fraction ? Number(`0.${fraction}`) : 0);
    return num(days) * 86400 + (sign === "-" ? -time : time);
  }
  return undefined;
}
