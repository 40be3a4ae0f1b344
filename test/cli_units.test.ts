/**
 * The command line's readers and pieces, in-process: JSON with NaN and
 * 19-digit integers, CSV as Python's csv module writes it, argument parsing,
 * exit codes, the progress bar. The whole tool runs as a subprocess in
 * cli.test.ts.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, test } from "node:test";
import { MlflowError, MlflowValidationError } from "../mod.ts";
import { parseArgs } from "../src/cli/args.ts";
import { parseCsv } from "../src/cli/csv_input.ts";
import { EXIT, exitCodeOf } from "../src/cli/exit_codes.ts";
import { readEquity, readStats } from "../src/cli/inputs.ts";
import { parseBacktestJson } from "../src/cli/json_input.ts";
import { createProgress } from "../src/cli/progress.ts";
import { readGridInput } from "../src/cli/sweep_inputs.ts";
import { VERSION } from "../src/cli/version.ts";

const fixture = (path: string): Promise<string> => readFile(new URL(`./fixtures/cli/${path}`, import.meta.url), "utf8");

function refusal(fn: () => unknown): MlflowValidationError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof MlflowValidationError, String(err));
    return err;
  }
  assert.fail("expected an MlflowValidationError");
}

describe("reading backtest JSON", () => {
  test("Python's json.dumps stats: NaN and ±Infinity are numbers, 19-digit integers BigInts with every digit, the rest numbers", async () => {
    const stats = readStats(await fixture("python/stats.json"), "--stats") as Record<string, unknown>;
    assert.ok(Number.isNaN(stats.sharpe_ratio));
    assert.equal(stats.profit_factor, Infinity);
    assert.equal(stats.sortino_ratio, -Infinity);
    assert.equal(stats.start_time_ns, 1704067200000000001n);
    assert.equal(stats.end_time_ns, 1704153599999999999n);
    assert.equal(stats.avg_trade_duration_ns, 3_600_000_000_000);
    assert.equal(stats.initial_capital, 10000);
  });

  test("2^53 is the first integer kept as a BigInt; floats never are", () => {
    const values = parseBacktestJson("[9007199254740991, 9007199254740992, -9007199254740993, 1.7e18, 12345678901234567890123]", "x");
    assert.deepEqual(values, [9007199254740991, 9007199254740992n, -9007199254740993n, 1.7e18, 12345678901234567890123n]);
  });

  test("strings with escapes and keys such as __proto__ are data", () => {
    const value = parseBacktestJson('{"__proto__": {"a": 1}, "s": "tab\\there \\u00e9 \\"q\\""}', "x") as Record<string, unknown>;
    assert.deepEqual(Object.keys(value), ["__proto__", "s"]);
    assert.equal(value.s, 'tab\there é "q"');
    assert.equal(Object.getPrototypeOf(value), null);
  });

  test("text that is not JSON is refused naming the field, line and column", () => {
    assert.equal(refusal(() => parseBacktestJson('{"a": 1,\n  "b": }', "--stats")).message, '--stats: is not valid JSON: line 2, column 8: expected a value, found "}"');
    assert.match(refusal(() => parseBacktestJson('{"a": 1} x', "--stats")).message, /expected the end of the input/);
    assert.match(refusal(() => parseBacktestJson("[".repeat(600), "--stats")).message, /nesting at most 512 levels/);
    assert.match(refusal(() => readStats("[1, 2]", "--stats")).message, /must hold a JSON object of stat names to values, got an array/);
  });
});

describe("reading CSV", () => {
  test("Python's csv module output: CRLF line ends, quoted cells with commas, quotes and line breaks", () => {
    const table = parseCsv('symbol,note\r\nBTCUSDT,"stop, then ""exit"""\r\nETHUSDT,"two\r\nlines"\r\n', "--trades");
    assert.deepEqual(table, { header: ["symbol", "note"], records: [["BTCUSDT", 'stop, then "exit"'], ["ETHUSDT", "two\r\nlines"]] });
  });

  test("a record with the wrong number of cells or an unclosed quote is refused naming the line", () => {
    assert.match(refusal(() => parseCsv("a,b\n1,2\n3\n", "--equity")).message, /line 3 has 1 cells but the header has 2/);
    assert.match(refusal(() => parseCsv('a,b\n1,"2\n', "--equity")).message, /the quote opened on line 2 is never closed/);
    assert.match(refusal(() => parseCsv("\n", "--equity")).message, /empty CSV file/);
  });

  test("an equity CSV keeps nanosecond times as text and reads Python's nan and inf", () => {
    const rows = readEquity("-", "timestampNs,equity,drawdownPct\n1704067200000000001,nan,inf\n", "--equity");
    assert.deepEqual(JSON.stringify(rows), JSON.stringify([{ timestamp_ns: "1704067200000000001", equity: NaN, drawdown_pct: Infinity }]));
    assert.match(refusal(() => readEquity("e.csv", "time,value\n1,2\n", "--equity")).message, /needs a time column/);
  });
});

describe("command-line pieces", () => {
  test("--flag=value, repeated flags, switches and - as an argument", () => {
    const specs = [
      { name: "param", value: "K=V", repeat: true, help: "" },
      { name: "json", help: "" },
      { name: "stats", value: "FILE", help: "" },
    ];
    const args = parseArgs(["-", "--param=a=1", "--param", "b=2", "--json", "--stats", "s.json", "--", "--json"], specs, "x");
    assert.deepEqual(args.positionals, ["-", "--json"]);
    assert.deepEqual(args.flags.get("param"), ["a=1", "b=2"]);
    assert.equal(args.flags.get("json"), true);
    assert.match(refusal(() => parseArgs(["--stats"], specs, "x")).message, /--stats: needs a value: --stats FILE/);
    assert.match(refusal(() => parseArgs(["--stats", "a", "--stats", "b"], specs, "x")).message, /is given twice/);
    assert.match(refusal(() => parseArgs(["--json=1"], specs, "x")).message, /takes no value/);
    assert.match(refusal(() => parseArgs(["-j"], specs, "x")).message, /two dashes/);
  });

  test("exit codes by error kind", () => {
    assert.equal(exitCodeOf(new MlflowValidationError("f", "bad")), EXIT.badInput);
    assert.equal(exitCodeOf(new MlflowError("refused", { status: 400, errorCode: "INVALID_PARAMETER_VALUE" })), EXIT.badInput);
    assert.equal(exitCodeOf(new MlflowError("who", { status: 401 })), EXIT.auth);
    assert.equal(exitCodeOf(new MlflowError("no", { status: 403, errorCode: "PERMISSION_DENIED" })), EXIT.auth);
    assert.equal(exitCodeOf(new MlflowError("busy", { status: 503 })), EXIT.server);
    assert.equal(exitCodeOf(new MlflowError("slow", { status: 429 })), EXIT.server);
    assert.equal(exitCodeOf(new MlflowError("down", { errorCode: "NETWORK_ERROR" })), EXIT.server);
    assert.equal(exitCodeOf(new MlflowError("gone", { status: 404 })), EXIT.other);
    assert.equal(exitCodeOf(new MlflowError("stop", { errorCode: "ABORTED" })), EXIT.other);
    assert.equal(exitCodeOf(new TypeError("bug")), EXIT.other);
  });

  test("on a terminal the progress bar is redrawn in place and its line ended once", () => {
    let out = "";
    const progress = createProgress({ write: (t) => (out += t), isTTY: true }, "flox-mlflow grid", "cells");
    progress.update(1, 4);
    progress.update(4, 4);
    progress.finish();
    assert.equal(
      out,
      `\rflox-mlflow grid [${"#".repeat(8)}${"-".repeat(22)}] 1/4 cells\rflox-mlflow grid [${"#".repeat(30)}] 4/4 cells\n`,
    );
  });

  test("off a terminal, a 1000-cell sweep writes one progress line per 5%", () => {
    let out = "";
    const progress = createProgress({ write: (t) => (out += t), isTTY: false }, "g", "cells");
    for (let i = 1; i <= 1000; i++) progress.update(i, 1000);
    const lines = out.trimEnd().split("\n");
    assert.equal(lines.length, 20);
    assert.equal(lines[0], "g: 50/1000 cells");
    assert.equal(lines.at(-1), "g: 1000/1000 cells");
  });

  test("a grid file's axes and cells; equity_curve is read as equityCurve", () => {
    const grid = readGridInput('{"axes": ["fast"], "results": [{"params": [5], "stats": {}, "equity_curve": []}]}', "results");
    assert.deepEqual(grid.axes, ["fast"]);
    assert.deepEqual(Object.keys(grid.results[0]!), ["params", "stats", "equityCurve"]);
    assert.match(refusal(() => readGridInput('{"result": []}', "results")).message, /must hold a JSON array, or an object with 'results'/);
    assert.match(refusal(() => readGridInput('{"results": [], "axis": []}', "results")).message, /results\.axis: .*did you mean 'axes'\?/);
  });

  test("the version printed is package.json's", async () => {
    const pkg = JSON.parse(await readFile(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
    assert.equal(VERSION, pkg.version);
  });
});
