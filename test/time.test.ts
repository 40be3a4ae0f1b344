import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { nanosToIso, nanosToMillis, toNanoseconds } from "../src/time.ts";

describe("times", () => {
  test("every accepted form reads to the same nanoseconds", () => {
    const ns = 1704067200123000000n;
    assert.equal(toNanoseconds(ns, "t"), ns);
    assert.equal(toNanoseconds(1704067200123, "t"), ns);
    assert.equal(toNanoseconds("2024-01-01T00:00:00.123Z", "t"), ns);
    assert.equal(toNanoseconds(new Date(1704067200123), "t"), ns);
    assert.equal(toNanoseconds("1704067200123000000", "t", "ns"), ns);
  });

  test("ISO strings keep sub-millisecond digits", () => {
    assert.equal(toNanoseconds("2024-01-01T00:00:00.123456789Z", "t"), 1704067200123456789n);
    assert.equal(nanosToIso(1704067200123456789n), "2024-01-01T00:00:00.123456789Z");
  });

  test("milliseconds are floored, also before 1970", () => {
    assert.equal(nanosToMillis(1999999n), 1);
    assert.equal(nanosToMillis(-1n), -1);
  });

  test("an unreadable time names its field", () => {
    assert.throws(() => toNanoseconds("yesterday", "equityCurve[3].timestamp"), /equityCurve\[3\]\.timestamp/);
  });
});
