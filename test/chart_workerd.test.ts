/**
 * The equity chart on workerd: a worker bundled like wrangler would (esbuild,
 * `workerd` condition, resvg's `.wasm` imported as a compiled module, no
 * `nodejs_compat`) renders the same curve to the same PNG and SVG bytes as
 * this process does, with or without `initChart`. Bundled for other workers
 * (no `workerd` condition), the PNG needs the module passed to `initChart`.
 *
 * Node only: miniflare drives the workerd binary from Node. Run it with
 * `node --import tsx --test test/chart_workerd.test.ts`; under Deno or Bun the
 * file registers no tests.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { renderEquityChart } from "../src/chart.ts";
import type { RunningWorker } from "./support/workerd.ts";
import { onNode } from "./support/node.ts";

// The worker reads the curve from the request body (timestamps then equity, raw
// little-endian bytes) so both sides render exactly the same typed arrays.
const WORKER_SOURCE = `
import wasm from "@resvg/resvg-wasm/index_bg.wasm";
import { initChart, renderEquityChart } from "../src/chart.ts";
import { MlflowError } from "../src/errors.ts";

const hex = async (bytes: Uint8Array) =>
  [...new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))].map((b) => b.toString(16).padStart(2, "0")).join("");

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const body = await request.arrayBuffer();
    const n = body.byteLength / 16;
    const curve = { timestampNs: new BigInt64Array(body, 0, n), equity: new Float64Array(body, n * 8, n) };
    const title = url.searchParams.get("title") ?? "";
    try {
      if (url.pathname === "/no-init") {
        const svgOnly = await renderEquityChart(curve, { title, png: false });
        const withPng = await renderEquityChart(curve, { title }).then(
          async (chart) => ({ png: await hex(chart.png!) }),
          (err) => ({ pngError: err instanceof MlflowError ? String(err.errorCode) : "other: " + String(err) }),
        );
        return Response.json({ svg: await hex(new TextEncoder().encode(svgOnly.svg)), ...withPng });
      }
      await initChart({ wasm });
      const chart = await renderEquityChart(curve, { title });
      return Response.json({
        png: await hex(chart.png!),
        svg: await hex(new TextEncoder().encode(chart.svg)),
        points: chart.points,
      });
    } catch (err) {
      return new Response(String((err as Error).stack ?? err), { status: 500 });
    }
  },
};
`;

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array(bytes)));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** A 20,000-bar random walk (fixed seed), 5-minute bars, so downsampling runs too. */
function walk(): { timestampNs: BigInt64Array; equity: Float64Array } {
  const n = 20_000;
  const timestampNs = new BigInt64Array(n);
  const equity = new Float64Array(n);
  let seed = 42;
  let value = 50_000;
  for (let i = 0; i < n; i++) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    value *= 1 + (seed / 2 ** 32 - 0.5) * 0.004;
    timestampNs[i] = 1_717_200_000_000_000_000n + BigInt(i) * 300_000_000_000n;
    equity[i] = value;
  }
  return { timestampNs, equity };
}

function requestBody(curve: { timestampNs: BigInt64Array; equity: Float64Array }): Uint8Array<ArrayBuffer> {
  const body = new Uint8Array(curve.equity.length * 16);
  body.set(new Uint8Array(curve.timestampNs.buffer), 0);
  body.set(new Uint8Array(curve.equity.buffer), curve.equity.length * 8);
  return body;
}

if (onNode) {
  describe("equity chart on workerd", () => {
    const curve = walk();
    const title = "workerd run · sma 10/50";
    let worker: RunningWorker;
    let otherWorker: RunningWorker;

    before(async () => {
      // Imported here, not at the top: esbuild and miniflare load only under Node.
      const { bundleWorker, startWorker } = await import("./support/workerd.ts");
      const resolveDir = new URL(".", import.meta.url).pathname;
      worker = await startWorker(await bundleWorker({ source: WORKER_SOURCE, resolveDir }));
      // As a bundler for other workers or browsers resolves the package: the edge variant without the .wasm import.
      otherWorker = await startWorker(await bundleWorker({ source: WORKER_SOURCE, resolveDir, conditions: ["worker", "browser"] }));
    });

    after(async () => {
      await worker?.dispose();
      await otherWorker?.dispose();
    });

    const call = async (path: string, on: RunningWorker = worker): Promise<Record<string, unknown>> => {
      const res = await on.fetch(`${path}?title=${encodeURIComponent(title)}`, { method: "POST", body: requestBody(curve) });
      const text = await res.text();
      assert.equal(res.status, 200, text);
      return JSON.parse(text) as Record<string, unknown>;
    };

    test("without initChart, workerd imports resvg's module itself and renders the same PNG and SVG bytes as Node", async () => {
      const local = await renderEquityChart(curve, { title });
      const remote = await call("/no-init");
      assert.equal(remote.pngError, undefined);
      assert.equal(remote.svg, await sha256(new TextEncoder().encode(local.svg)));
      assert.equal(remote.png, await sha256(local.png!));
    });

    test("bundled for other workers (no workerd condition), a render without initChart gives the SVG and refuses the PNG with CHART_WASM_UNAVAILABLE", async () => {
      const local = await renderEquityChart(curve, { title, png: false });
      const remote = await call("/no-init", otherWorker);
      assert.equal(remote.pngError, "CHART_WASM_UNAVAILABLE");
      assert.equal(remote.svg, await sha256(new TextEncoder().encode(local.svg)));
    });

    test("bundled for other workers, initChart with the imported module renders the same PNG as Node", async () => {
      const local = await renderEquityChart(curve, { title });
      const remote = await call("/", otherWorker);
      assert.equal(remote.png, await sha256(local.png!));
    });

    test("workerd renders the same PNG and SVG bytes as Node once initChart has the imported module", async () => {
      const local = await renderEquityChart(curve, { title });
      const remote = await call("/");
      assert.equal(remote.points, local.points);
      assert.ok(local.points < curve.equity.length, "the curve was downsampled");
      assert.equal(remote.svg, await sha256(new TextEncoder().encode(local.svg)));
      assert.equal(remote.png, await sha256(local.png!));
    });
  });
}
