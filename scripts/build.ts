/**
 * Builds what is published, into `dist/` (or another folder):
 *
 * - `node/`: ESM for Node 20, Bun and Deno's `npm:` imports (the `node`
 *   variants of the `#…` aliases), dependencies left as imports.
 * - `edge/`: ESM for workerd and other runtimes without a file system (the
 *   `workerd` variants): no `node:` import, no file-system code.
 * - `types/`: `.d.ts` files from `tsc` (declaration emit), only those the
 *   public entries reach.
 * - `mod.js` + `resvg.wasm`: one self-contained, minified ESM file for
 *   `import … from "https://…/dist/mod.js"` in Deno without `deno.json`,
 *   import map or `node_modules`; it fetches `resvg.wasm` relative to its
 *   own URL.
 *
 * The npm entries (`mod`, `chart`) share one chunk, so `initChart` from
 * `flox-mlflow/chart` prepares the renderer `logBacktest` uses.
 *
 * Run: `npm run build` (`node --import tsx scripts/build.ts [outDir]`).
 *
 * @module
 */
import { execFile } from "node:child_process";
import { copyFile, mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import * as esbuild from "esbuild";

/** A part of the build. */
export type BuildPart = "node" | "edge" | "types" | "deno";

/** Options of {@link build}. */
export interface BuildOptions {
  /** Output folder; default `dist/` beside `package.json`. Emptied first. */
  outDir?: string;
  /** Which parts to build; default all of them. */
  parts?: readonly BuildPart[];
}

/** What {@link build} wrote. */
export interface BuildReport {
  /** The absolute output folder. */
  outDir: string;
  /** Every file written, as a path relative to `outDir` (with `/`), mapped to its size in bytes. */
  files: Record<string, number>;
}

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** Public entry points: output name (also the `exports` subpath) to source file. */
const ENTRIES = { mod: "mod.ts", chart: "src/chart.ts" } as const;

/** Name of resvg's WebAssembly beside the self-contained `mod.js`. */
const DENO_WASM_NAME = "resvg.wasm";

const ALL_PARTS: readonly BuildPart[] = ["node", "edge", "types", "deno"];

const run = promisify(execFile);

/**
 * Builds the package's `dist/`.
 *
 * @param options Output folder and parts.
 * @returns The output folder and the files written with their sizes.
 * @throws Error when esbuild or tsc reports an error, or a build for workerd
 *   would import a `node:` module.
 * @example Build only the self-contained Deno file into a temporary folder
 * ```ts
 * import { build } from "./build.ts";
 * const report = await build({ outDir: "/tmp/flox-dist", parts: ["deno"] });
 * if (!("mod.js" in report.files)) throw new Error("expected dist/mod.js");
 * ```
 */
export async function build(options: BuildOptions = {}): Promise<BuildReport> {
  const outDir = resolve(options.outDir ?? join(ROOT, "dist"));
  const parts = new Set(options.parts ?? ALL_PARTS);
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const steps: Promise<string[]>[] = [];
  if (parts.has("node")) steps.push(buildNpm(join(outDir, "node"), "node"));
  if (parts.has("edge")) steps.push(buildNpm(join(outDir, "edge"), "edge"));
  if (parts.has("deno")) steps.push(buildDeno(outDir));
  if (parts.has("types")) steps.push(buildTypes(join(outDir, "types")).then(() => []));
  const bundled = (await Promise.all(steps)).flat();
  await writeNotices(outDir, bundled);
  return { outDir, files: await listFiles(outDir) };
}

/**
 * The npm build for one family of runtimes. For Node, Bun and Deno the pure-JS
 * dependencies (Vega, Vega-Lite, csv-stringify) are bundled in: loading Vega's
 * hundreds of modules one by one costs Node ~250 ms more at start-up than one
 * file. resvg stays an import, resolved where the package is installed, since
 * its WebAssembly is read from there. Edge builds keep every dependency an
 * import for the Worker's own bundler.
 */
async function buildNpm(outDir: string, flavour: "node" | "edge"): Promise<string[]> {
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: ENTRIES,
    outdir: outDir,
    bundle: true,
    splitting: true,
    format: "esm",
    target: "es2022",
    // Node, Bun and Deno pick the file-system variants of #fs, #env, #context and #wasm; edge runtimes the others.
    platform: flavour === "node" ? "node" : "neutral",
    conditions: flavour === "node" ? ["node"] : ["workerd", "worker", "browser"],
    ...(flavour === "node" ? { external: ["@resvg/resvg-wasm", "canvas"] } : { packages: "external" as const }),
    chunkNames: "shared-[hash]",
    legalComments: "none",
    metafile: true,
    logLevel: "silent",
  });
  if (flavour === "edge") {
    for (const [file, output] of Object.entries(result.metafile.outputs)) {
      const builtin = output.imports.find((i) => i.path.startsWith("node:") || i.kind === "require-call");
      if (builtin) throw new Error(`edge build: ${file} imports ${builtin.path}; workerd would refuse it without nodejs_compat`);
    }
  }
  return Object.keys(result.metafile.inputs);
}

/**
 * The `#wasm` of the self-contained file: resvg's WebAssembly is fetched from
 * beside the bundle (an `http(s):` or `file:` URL), which needs neither an
 * import map nor `node_modules`.
 */
const WASM_BESIDE_BUNDLE = `
import { MlflowError } from "../errors.ts";

export async function resvgWasm() {
  const url = new URL("./${DENO_WASM_NAME}", import.meta.url);
  try {
    const response = await fetch(url);
    if (!response.ok) throw new Error("HTTP " + response.status);
    return new Uint8Array(await response.arrayBuffer());
  } catch (cause) {
    throw new MlflowError(
      "equity chart: cannot load resvg's WebAssembly from " + url.href + " (" + (cause instanceof Error ? cause.message : String(cause)) +
        "); serve ${DENO_WASM_NAME} beside mod.js, allow the fetch (--allow-net or --allow-read), or log with chart: false",
      { errorCode: "CHART_WASM_UNAVAILABLE", cause },
    );
  }
}
`;

/** One minified file with every dependency inside, for URL imports in Deno. */
async function buildDeno(outDir: string): Promise<string[]> {
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: { mod: ENTRIES.mod },
    outdir: outDir,
    bundle: true,
    format: "esm",
    target: "es2022",
    platform: "neutral",
    // Deno has node:fs and AsyncLocalStorage: the file store and nested-run context work as from source.
    conditions: ["deno", "import", "module"],
    mainFields: ["module", "main"],
    external: ["node:*"],
    minify: true,
    legalComments: "eof",
    metafile: true,
    logLevel: "silent",
    plugins: [{
      name: "wasm-beside-bundle",
      setup(build) {
        build.onResolve({ filter: /^#wasm$/ }, () => ({ path: "wasm_beside_bundle.ts", namespace: "flox-wasm" }));
        build.onLoad({ filter: /.*/, namespace: "flox-wasm" }, () => ({
          contents: WASM_BESIDE_BUNDLE,
          loader: "ts",
          resolveDir: join(ROOT, "src", "runtime"),
        }));
      },
    }],
  });
  const wasm = fileURLToPath(import.meta.resolve("@resvg/resvg-wasm/index_bg.wasm"));
  await copyFile(wasm, join(outDir, DENO_WASM_NAME));
  return Object.keys(result.metafile.inputs);
}

/** Packages whose work ships inside `dist/` without being an esbuild input: the font `src/font_data.ts` embeds. */
const EMBEDDED_PACKAGES = ["@fontsource/inter"];

const LICENSE_FILES = /^(licen[cs]e|copying|ofl)(\.(md|txt))?$/i;

/**
 * `THIRD_PARTY_NOTICES.md` for what the build bundled or embedded: each
 * package's name, version, licence and licence text, so a copy of `dist/`
 * carries the notices its licences ask for.
 */
async function writeNotices(outDir: string, inputs: readonly string[]): Promise<void> {
  const packages = new Set(EMBEDDED_PACKAGES.map((name) => join("node_modules", name)));
  for (const input of inputs) {
    const match = /(?:^|\/)(node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input.replaceAll("\\", "/"));
    if (match) packages.add(match[1]!);
  }
  const sections: string[] = [];
  for (const dir of [...packages].sort()) {
    const manifest = JSON.parse(await readFile(join(ROOT, dir, "package.json"), "utf8")) as {
      name: string;
      version: string;
      license?: string;
      repository?: string | { url?: string };
    };
    const repository = typeof manifest.repository === "string" ? manifest.repository : manifest.repository?.url;
    const licenceFile = (await readdir(join(ROOT, dir))).find((name) => LICENSE_FILES.test(name));
    const text = licenceFile ? (await readFile(join(ROOT, dir, licenceFile), "utf8")).trim() : `Licence: ${manifest.license ?? "unknown"}`;
    const source = repository ? `Source: ${repository}\n\n` : "";
    sections.push(`## ${manifest.name}@${manifest.version} (${manifest.license ?? "see below"})\n\n${source}\`\`\`\n${text}\n\`\`\``);
  }
  await writeFile(
    join(outDir, "THIRD_PARTY_NOTICES.md"),
    "# Third-party notices\n\nThe files in this folder include code or data from these packages, under their own licences.\n\n" +
      sections.join("\n\n") + "\n",
  );
}

/** Declarations through tsc, with `.js` import paths, pruned to what the entries reach. */
async function buildTypes(outDir: string): Promise<void> {
  const tsc = join(ROOT, "node_modules", "typescript", "bin", "tsc");
  const args = [
    tsc,
    "--ignoreConfig",
    ...Object.values(ENTRIES),
    "--rootDir", ".",
    "--outDir", outDir,
    "--declaration",
    "--emitDeclarationOnly",
    "--allowImportingTsExtensions",
    "--rewriteRelativeImportExtensions",
    "--target", "ES2022",
    "--module", "NodeNext",
    "--moduleResolution", "NodeNext",
    "--lib", "ES2023,DOM,DOM.Iterable,ESNext.Disposable",
    "--types", "node",
    "--customConditions", "node",
    "--strict",
    "--skipLibCheck",
    "--verbatimModuleSyntax",
    "--pretty", "false",
  ];
  try {
    await run(process.execPath, args, { cwd: ROOT });
  } catch (error) {
    const { stdout = "", stderr = "" } = error as { stdout?: string; stderr?: string };
    throw new Error(`tsc declaration emit failed:\n${stdout}${stderr}`, { cause: error });
  }
  await pruneDeclarations(outDir, Object.values(ENTRIES).map((entry) => entry.replace(/\.ts$/, ".d.ts")));
}

const RELATIVE_IMPORT = /(from\s+|import\s*\(\s*)(["'])(\.{1,2}\/[^"']+?)\.ts\2/g;

/**
 * tsc keeps `.ts` in declaration import paths; `.js` is what every
 * `moduleResolution` maps to the `.d.ts`. Files the entries do not reach
 * (runtime variants, the embedded font) are removed.
 */
async function pruneDeclarations(outDir: string, entries: string[]): Promise<void> {
  const reached = new Set<string>();
  const queue = entries.map((entry) => join(outDir, entry));
  for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
    if (reached.has(file)) continue;
    reached.add(file);
    const text = await readFile(file, "utf8");
    const rewritten = text.replace(RELATIVE_IMPORT, (_all, head: string, quote: string, path: string) => {
      queue.push(join(dirname(file), `${path}.d.ts`));
      return `${head}${quote}${path}.js${quote}`;
    });
    if (rewritten !== text) await writeFile(file, rewritten);
  }
  for (const file of Object.keys(await listFiles(outDir))) {
    const path = join(outDir, file);
    if (!reached.has(path)) await rm(path);
  }
  await removeEmptyFolders(outDir);
}

async function removeEmptyFolders(dir: string): Promise<boolean> {
  let empty = true;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isDirectory() && await removeEmptyFolders(join(dir, entry.name))) continue;
    empty = false;
  }
  if (empty) await rm(dir, { recursive: true });
  return empty;
}

async function listFiles(dir: string): Promise<Record<string, number>> {
  const files: Record<string, number> = {};
  const walk = async (folder: string): Promise<void> => {
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) await walk(path);
      else files[relative(dir, path).split("\\").join("/")] = (await stat(path)).size;
    }
  };
  await walk(dir);
  return files;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const report = await build(process.argv[2] === undefined ? {} : { outDir: process.argv[2] });
  const total = Object.values(report.files).reduce((sum, size) => sum + size, 0);
  console.log(`built ${Object.keys(report.files).length} files (${(total / 1024).toFixed(0)} KiB) into ${relative(process.cwd(), report.outDir) || "."}`);
}
