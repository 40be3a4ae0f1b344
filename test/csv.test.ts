import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { csvBytes, csvStream, equityTable, type Table } from "../src/csv.ts";
import { sizedBody } from "../src/artifact_body.ts";
import { normalizeEquity } from "../src/equity.ts";
import { tradesTable } from "../src/trades.ts";
import { MlflowValidationError } from "../src/errors.ts";

const text = (open: () => ReadableStream<Uint8Array>) => new Response(open()).text();

describe("CSV artifacts", () => {
  test("equity rows write FLOX's header with exact nanosecond times", async () => {
    const curve = normalizeEquity([
      { timestamp_ns: 1704067200000000001n, equity: 10000, drawdown_pct: 0 },
      { timestamp_ns: 1704067260000000002n, equity: 9950.5, drawdown_pct: 0.495 },
    ]);
    assert.equal(
      await text(csvStream(equityTable(curve))),
      "timestamp_ns,equity,drawdown_pct\n1704067200000000001,10000,0\n1704067260000000002,9950.5,0.495\n",
    );
  });

  test("equity rows written by the typed-column fast path are what String writes for every cell: extremes, exponents, negative zero, int64 bounds", async () => {
    const equity = [5e-324, -1.7976931348623157e308, 1e21, 1.5e-7, -0, 123456789.12345679, 0.1 + 0.2, 1e-300, -2.5e-10];
    const timestampNs = [-9223372036854775808n, 9223372036854775807n, 0n, -1n, 1n, 1704067200000000001n, 10n ** 18n, -(10n ** 17n), 42n];
    const drawdownPct = [0, 100, 1e-7, 99.99999999999999, 33.333333333333336, 5e-324, 12.5, 1e-21, 0.30000000000000004];
    const curve = normalizeEquity({ timestampNs: BigInt64Array.from(timestampNs), equity, drawdownPct });
    const expected = "timestamp_ns,equity,drawdown_pct\n" +
      timestampNs.map((t, i) => `${String(t)},${String(equity[i])},${String(drawdownPct[i])}\n`).join("");
    assert.equal(await text(csvStream(equityTable(curve))), expected);
    // The generic writer, from the table's rows, agrees byte for byte.
    const { lines: _, ...rowsOnly } = equityTable(curve);
    assert.equal(await text(csvStream(rowsOnly)), expected);
  });

  test("equity rows given as objects or as a BigInt array keep every nanosecond digit out to the 64-bit bounds", async () => {
    const timestampNs = [-(2n ** 63n), 2n ** 63n - 1n, -1n, 0n, 1704067200000000001n];
    const expected = "timestamp_ns,equity,drawdown_pct\n" + timestampNs.map((t) => `${t},1,0\n`).join("");
    const rows = normalizeEquity(timestampNs.map((t) => ({ timestamp_ns: t, equity: 1, drawdown_pct: 0 })));
    const columns = normalizeEquity({ timestampNs, equity: timestampNs.map(() => 1), drawdownPct: timestampNs.map(() => 0) });
    assert.equal(await text(csvStream(equityTable(rows))), expected);
    assert.equal(await text(csvStream(equityTable(columns))), expected);
    // One past either bound is refused, naming the row, rather than wrapped around.
    for (const outside of [-(2n ** 63n) - 1n, 2n ** 63n]) {
      assert.throws(() => normalizeEquity([{ timestamp_ns: 0n, equity: 1 }, { timestamp_ns: outside, equity: 1 }]), (e: unknown) => e instanceof MlflowValidationError && e.field === "equityCurve[1].timestamp_ns");
      assert.throws(() => normalizeEquity({ timestampNs: [0n, outside], equity: [1, 1] }), (e: unknown) => e instanceof MlflowValidationError && e.field === "equityCurve.timestampNs[1]");
    }
  });

  test("trade columns are the union of keys in first-seen order, with quoting", async () => {
    const table = tradesTable([{ symbol: "BTC", pnl: 1.5 }, { side: "short", symbol: 'a,"b"', pnl: -2 }]);
    assert.equal(await text(csvStream(table)), 'symbol,pnl,side\nBTC,1.5,\n"a,""b""",-2,short\n');
  });

  test("a stream yields many chunks for a large table, and each call starts afresh", async () => {
    const table = { columns: ["i"], length: 12_001, row: (i: number) => [i] };
    const open = csvStream(table);
    let chunks = 0;
    const reader = open().getReader();
    for (;;) {
      const { done } = await reader.read();
      if (done) break;
      chunks++;
    }
    assert.ok(chunks >= 4, `expected several chunks, got ${chunks}`);
    const again = await text(open);
    assert.equal(again.split("\n").length, 12_003);
  });

  test("FLOX Node trade columns read side codes and symbol names", async () => {
    const table = tradesTable({
      symbol: Uint32Array.of(0, 1),
      side: Uint8Array.of(0, 1),
      pnl: Float64Array.of(1, -1),
      entryTimeNs: BigInt64Array.of(1704067200000000001n, 2n),
    }, { symbolNames: ["BTCUSDT", "ETHUSDT"] });
    assert.equal(
      await text(csvStream(table)),
      "symbol,side,pnl,entryTimeNs\nBTCUSDT,long,1,1704067200000000001\nETHUSDT,short,-1,2\n",
    );
  });

  test("columns of unequal length are an error naming the column", () => {
    assert.throws(() => tradesTable({ pnl: Float64Array.of(1, 2), fee: Float64Array.of(1) }), (err: unknown) =>
      err instanceof MlflowValidationError && err.field === "trades.fee");
    assert.throws(() =>
      normalizeEquity({ timestampNs: BigInt64Array.of(1n, 2n), equity: Float64Array.of(1) }), /equityCurve.timestampNs/);
  });
});

describe("numeric chunks", () => {
  test("all-number rows come out byte for byte as csv-stringify writes them", async () => {
    const { stringify } = await import("csv-stringify/browser/esm/sync");
    const values = [0, -0, 1.5, -2.25e-7, 1e21, 123456789.123, NaN, Infinity, -Infinity, 2n ** 63n - 1n, -5n];
    const rows = values.map((v, i) => [v, i, values[(i + 3) % values.length]!]);
    const expected = stringify(rows as unknown[][], {
      cast: { number: (v: number) => String(v), bigint: (v: bigint) => v.toString() },
    });
    const text = await new Response(csvStream({ columns: ["a", "b", "c"], length: rows.length, row: (i) => rows[i]! })()).text();
    assert.equal(text, "a,b,c\n" + expected);
  });
});

describe("plain chunks", () => {
  test("numbers, booleans, blanks and strings without quotes come out as csv-stringify writes them, and others still get quoted", async () => {
    const { stringify } = await import("csv-stringify/browser/esm/sync");
    const cells = [1.25, -3n, true, false, null, undefined, "", "long", "BTC/USDT", " spaced ", "é", "=1+1", "-x"];
    const quoted = ['a,b', 'say "hi"', "two\nlines", "cr\rhere"];
    const plainRows = cells.map((v, i) => [v, cells[(i + 5) % cells.length], i]);
    const mixedRows = [...plainRows, ...quoted.map((q, i) => [q, i, true])];
    const cast = {
      boolean: (v: boolean) => (v ? "true" : "false"),
      number: (v: number) => String(v),
      bigint: (v: bigint) => v.toString(),
    };
    for (const rows of [plainRows, mixedRows]) {
      const expected = stringify(rows as unknown[][], { cast });
      const written = await new Response(csvStream({ columns: ["a", "b", "c"], length: rows.length, row: (i) => rows[i]! })()).text();
      assert.equal(written, "a,b,c\n" + expected);
    }
  });
});

describe("one-array CSV (csvBytes)", () => {
  const streamed = async (table: Table): Promise<Uint8Array> => new Uint8Array(await new Response(csvStream(table)()).arrayBuffer());

  test("holds the bytes the stream writes: typed equity rows over many chunks, quoted trade cells, non-ASCII text, an empty table", async () => {
    const curve = Array.from({ length: 4_321 }, (_, i) => ({ timestamp_ns: 1_700_000_000_000_000_000n + BigInt(i), equity: 1e4 + i / 7, drawdown_pct: i % 13 / 3 }));
    const trades = tradesTable(Array.from({ length: 2_500 }, (_, i) => ({ symbol: i % 3 ? "BTC" : 'a,"b"', note: "é€😀", pnl: i - 1250.5 })));
    const empty = { columns: ["a"], length: 0, row: () => [] };
    for (const table of [equityTable(normalizeEquity(curve)), trades, empty]) {
      assert.deepEqual(await csvBytes(table, 2 ** 30), await streamed(table));
    }
  });

  test("grows past the size the first rows suggest when later rows are longer", async () => {
    // The first chunk's rows are one character; the rest a thousand: the projection falls far short.
    const table = { columns: ["s"], length: 3_000, row: (i: number) => [i < 1_000 ? "x" : "y".repeat(1_000)] };
    const bytes = await csvBytes(table, 2 ** 30);
    assert.deepEqual(bytes, await streamed(table));
  });

  test("is undefined over the limit, whether the first rows show it or later ones", async () => {
    const even = { columns: ["i"], length: 50_000, row: (i: number) => [i] };
    const size = (await streamed(even)).length;
    assert.equal(await csvBytes(even, size - 1_000), undefined);
    assert.equal((await csvBytes(even, size))?.length, size);
    const longTail = { columns: ["s"], length: 3_000, row: (i: number) => [i < 1_000 ? "x" : "y".repeat(1_000)] };
    assert.equal(await csvBytes(longTail, 100_000), undefined);
  });

  test("stops when the check before a chunk throws", async () => {
    const table = { columns: ["i"], length: 10_000, row: (i: number) => [i] };
    let chunks = 0;
    await assert.rejects(
      csvBytes(table, 2 ** 30, () => {
        if (++chunks === 3) throw new Error("aborted");
      }),
      /aborted/,
    );
    assert.equal(chunks, 3);
  });

  test("a CSV artifact is staged with the stream's bytes whichever way this runtime holds it", async () => {
    const table = equityTable(normalizeEquity(Array.from({ length: 3_000 }, (_, i) => ({ timestamp_ns: BigInt(i), equity: i * 1.5, drawdown_pct: 0 }))));
    const sized = await sizedBody(csvStream(table), "equity_curve.csv");
    const held = sized.open();
    const bytes = held instanceof Uint8Array ? held : new Uint8Array(await held.arrayBuffer());
    assert.equal(sized.size, bytes.length);
    assert.deepEqual(bytes, await streamed(table));
    await sized.release();
  });
});

describe("CSV writers share the event loop", () => {
  // Every 1,000th row takes 20 ms, so each chunk outlasts a frame whatever the machine's speed.
  const slowTable = { columns: ["i"], length: 5_000, row: (i: number) => {
    if (i % 1_000 === 0) for (const start = performance.now(); performance.now() - start < 20;);
    return [i];
  } };
  async function timerTicksDuring(work: () => Promise<unknown>): Promise<number> {
    let ticks = 0;
    let running = true;
    const tick = (): void => {
      if (!running) return;
      ticks++;
      setTimeout(tick, 0);
    };
    setTimeout(tick, 0);
    await work();
    running = false;
    return ticks;
  }

  test("timers run while a table is written into one array and while its stream is read as fast as it comes", async () => {
    assert.ok(await timerTicksDuring(() => csvBytes(slowTable, 2 ** 30)) >= 3);
    assert.ok(await timerTicksDuring(() => new Response(csvStream(slowTable)()).arrayBuffer()) >= 3);
  });
});
