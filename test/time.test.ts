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

describe("nanosToMillisColumn", () => {
  test("agrees with nanosToMillis on every value, negative and extreme ones included", async () => {
    const { nanosToMillisColumn } = await import("../src/equity.ts");
    const values = [0n, 1n, -1n, 999_999n, 1_000_000n, -1_000_000n, -1_000_001n, 1704067200123456789n,
      9223372036854775807n, -9223372036854775808n, 4294967296n * 1_000_000n - 1n];
    let seed = 7;
    for (let i = 0; i < 20_000; i++) {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      values.push(BigInt(seed) * BigInt(seed) * BigInt(seed % 977) * (i % 2 ? 1n : -1n));
    }
    const column = nanosToMillisColumn(BigInt64Array.from(values));
    values.forEach((ns, i) => {
      const expected = nanosToMillis(BigInt.asIntN(64, ns));
      assert.equal(column[i], expected, `ns ${ns}`);
    });
  });
});
