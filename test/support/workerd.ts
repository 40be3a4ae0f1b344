/**
 * Test support: bundle a worker entry the way wrangler would for workerd
 * (esbuild, `workerd` export condition, `.wasm` imports kept as compiled
 * WebAssembly modules) and run it in workerd through miniflare, without the
 * `nodejs_compat` flag, so a test sees what a deployed worker would.
 *
 * Runs under Node only (miniflare starts the workerd binary from Node).
 *
 * @module
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { Miniflare } from "miniflare";

/** A bundled worker: one ES module plus the WebAssembly modules it imports. */
export interface WorkerBundle {
  /** The bundled ES module. */
  script: string;
  /** WebAssembly modules the script imports, by the relative name it imports them with. */
  wasm: Record<string, Uint8Array>;
}

/** A worker running in workerd. */
export interface RunningWorker {
  /** Sends a request to the worker (the host part of the URL is ignored). */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** Stops workerd. */
  dispose(): Promise<void>;
}

/** What to bundle: worker source code (TypeScript) and the folder its relative imports start from. */
export interface WorkerEntry {
  /** The worker's source; its default export is the worker (`{ fetch(request) }`). */
  source: string;
  /** Folder that relative imports in `source` resolve from. */
  resolveDir: string;
  /** Export conditions; default wrangler's: `workerd`, `worker`, `browser`. */
  conditions?: string[];
}

/**
 * Bundles a worker for workerd: the `workerd` export condition picks the
 * edge variants of this package's `#...` aliases and of dependencies, and
 * every `.wasm` import stays an import of a module the runtime compiles.
 *
 * @param entry The worker source and the folder its imports resolve from.
 * @returns The script and its WebAssembly modules.
 * @throws Error when esbuild fails.
 * @example Bundle a worker that renders a chart
 * ```ts
 * import { bundleWorker } from "./workerd.ts";
 * const bundle = await bundleWorker({
 *   source: 'import wasm from "@resvg/resvg-wasm/index_bg.wasm"; export default { fetch: () => new Response(String(wasm)) };',
 *   resolveDir: new URL(".", import.meta.url).pathname,
 * });
 * if (Object.keys(bundle.wasm).length !== 1) throw new Error("the .wasm import is kept as a module");
 * ```
 */
export async function bundleWorker(entry: WorkerEntry): Promise<WorkerBundle> {
  const wasmFiles = new Map<string, string>();
  const result = await esbuild.build({
    stdin: { contents: entry.source, resolveDir: entry.resolveDir, loader: "ts", sourcefile: "worker.ts" },
    bundle: true,
    write: false,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    conditions: entry.conditions ?? ["workerd", "worker", "browser"],
    mainFields: ["module", "main"],
    logLevel: "silent",
    plugins: [{
      name: "compiled-wasm",
      setup(build) {
        build.onResolve({ filter: /\.wasm$/ }, (args) => {
          // Resolve like Node would, then import it by file name: the module list names it so.
          const path = createRequire(join(args.resolveDir, "worker.ts")).resolve(args.path);
          const name = basename(path);
          wasmFiles.set(name, path);
          return { path: `./${name}`, external: true };
        });
      },
    }],
  });
  const wasm: Record<string, Uint8Array> = {};
  for (const [name, path] of wasmFiles) wasm[name] = new Uint8Array(await readFile(path));
  return { script: result.outputFiles[0]!.text, wasm };
}

/**
 * Starts a bundled worker in workerd (no `nodejs_compat`).
 *
 * @param bundle The output of {@link bundleWorker} (or a bundle wrangler wrote).
 * @param bindings Text bindings the worker gets as `env`, as wrangler.jsonc `vars` give them.
 * @returns A handle to send requests and to stop the worker.
 * @throws Error when workerd refuses the script (for example a `node:` import without `nodejs_compat`).
 * @example Start, call and stop
 * ```ts
 * import { bundleWorker, startWorker } from "./workerd.ts";
 * const worker = await startWorker(await bundleWorker({
 *   source: "export default { fetch: () => new Response('hi') };",
 *   resolveDir: ".",
 * }));
 * try {
 *   if ((await (await worker.fetch("/")).text()) !== "hi") throw new Error();
 * } finally {
 *   await worker.dispose();
 * }
 * ```
 */
export async function startWorker(bundle: WorkerBundle, bindings: Record<string, string> = {}): Promise<RunningWorker> {
  // Module paths are names inside this root (nothing is written there); the script imports its
  // WebAssembly as "./<name>", so both sit side by side.
  const root = dirname(fileURLToPath(import.meta.url));
  const mf = new Miniflare({
    compatibilityDate: "2026-04-01",
    bindings,
    modulesRoot: root,
    modules: [
      { type: "ESModule", path: join(root, "worker.mjs"), contents: bundle.script },
      ...Object.entries(bundle.wasm).map(([name, contents]) => ({
        type: "CompiledWasm" as const,
        path: join(root, name),
        contents,
      })),
    ],
  });
  try {
    await mf.ready;
  } catch (err) {
    // A failed start leaves miniflare's own servers open, which would keep the test process alive.
    await mf.dispose().catch(() => {});
    throw err;
  }
  return {
    fetch: async (path, init) => (await mf.dispatchFetch(new URL(path, "http://worker.test").href, init as never)) as unknown as Response,
    dispose: () => mf.dispose(),
  };
}
