/**
 * Builds what is published, into `dist/` (or another folder):
 *
 * - `node/`: ESM for Node 20, Bun and Deno's `npm:` imports (the `node`
 *   variants of the `#…` aliases).
 * - `workerd/`: ESM for Cloudflare Workers (the `workerd` variants): no
 *   `node:` import, no file-system code, resvg's `.wasm` imported for the
 *   Worker's bundler to keep as a module.
 * - `edge/`: the same for other runtimes without a file system (workers,
 *   browsers, edge-light), where the chart's module comes from `initChart`.
 * - `vendor/`: the third-party modules those three import (Vega, Vega-Lite,
 *   csv-stringify), bundled and minified once; only resvg stays an npm
 *   dependency.
 * - `types/`: `.d.ts` files from `tsc` (declaration emit), only those the
 *   public entries reach.
 * - `mod.js` + `mod.d.ts`: one self-contained, minified ESM file for
 *   `import … from "https://…/dist/mod.js"` in Deno without `deno.json`,
 *   import map or `node_modules`, with resvg's WebAssembly inside (so Deno
 *   caches it with the module), and one declaration file its
 *   `@ts-self-types` comment names.
 * - `cli.js`: the command line for `deno run https://…/dist/cli.js`: only
 *   its own code, a few tens of KB, importing the library from the `mod.js`
 *   beside it (Vega and resvg stay in `mod.js`, shipped once).
 *
 * The npm entries (`mod`, `chart`) share one chunk, so `initChart` from
 * `flox-mlflow/chart` prepares the renderer `logBacktest` uses.
 *
 * Run: `npm run build` (`node --import tsx scripts/build.ts [outDir]`).
 *
 * @module
 */
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import * as esbuild from "esbuild";

/** A part of the build. */
export type BuildPart = "node" | "workerd" | "edge" | "types" | "deno";

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

/** The declarations of the self-contained `mod.js`, one file beside it. */
const DENO_TYPES_NAME = "mod.d.ts";

const ALL_PARTS: readonly BuildPart[] = ["node", "workerd", "edge", "types", "deno"];

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
  const vendored = new Set<string>();
  const npmBuilds: Promise<string[]>[] = [];
  for (const flavour of ["node", "workerd", "edge"] as const) {
    if (parts.has(flavour)) npmBuilds.push(buildNpm(join(outDir, flavour), flavour, vendored));
  }
  steps.push(Promise.all(npmBuilds).then(async (inputs) => [...inputs.flat(), ...await buildVendor(join(outDir, "vendor"), vendored)]));
  // The self-contained file's one declaration file is made from the npm declarations (built aside when not asked for).
  const typesDir = parts.has("types") ? join(outDir, "types") : await mkdtemp(join(tmpdir(), "flox-types-"));
  if (parts.has("types") || parts.has("deno")) {
    const types = buildTypes(typesDir);
    steps.push(types.then(() => []));
    if (parts.has("deno")) {
      steps.push(buildDeno(outDir));
      steps.push(buildDenoCli(outDir));
      steps.push(types.then(() => bundleDeclarations(typesDir, join(outDir, DENO_TYPES_NAME))).then(() => []));
    }
  }
  try {
    const bundled = (await Promise.all(steps)).flat();
    await writeNotices(outDir, bundled);
  } finally {
    if (!parts.has("types")) await rm(typesDir, { recursive: true, force: true });
  }
  return { outDir, files: await listFiles(outDir) };
}

/**
 * The npm build for one family of runtimes: this package's own code, with
 * every third-party import but the package's runtime `dependencies` (resvg,
 * whose WebAssembly is read from or imported out of the installed package)
 * pointed at `dist/vendor/`, which {@link buildVendor} fills once for all
 * three. The workerd build (Cloudflare Workers) imports resvg's `.wasm`
 * itself, which the Worker's bundler (wrangler) keeps as a compiled module;
 * the edge build (other workers, browsers, edge-light) leaves the module to
 * `initChart({ wasm })`.
 *
 * @param vendored Collects the vendored import specifiers this build used.
 */
async function buildNpm(outDir: string, flavour: "node" | "workerd" | "edge", vendored: Set<string>): Promise<string[]> {
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    // The command line (bin/flox-mlflow.mjs imports dist/node/cli.js) reads files and stdin: Node, Bun and Deno only.
    entryPoints: flavour === "node" ? { ...ENTRIES, cli: "src/cli/process.ts" } : ENTRIES,
    outdir: outDir,
    bundle: true,
    splitting: true,
    format: "esm",
    target: "es2022",
    // Node, Bun and Deno pick the file-system variants of #fs, #env, #context and #wasm; edge runtimes the others.
    platform: flavour === "node" ? "node" : "neutral",
    conditions: { node: ["node"], workerd: ["workerd", "worker", "browser"], edge: ["worker", "browser"] }[flavour],
    chunkNames: "shared-[hash]",
    legalComments: "none",
    metafile: true,
    logLevel: "silent",
    plugins: [await vendorPlugin(vendored)],
  });
  if (flavour !== "node") {
    for (const [file, output] of Object.entries(result.metafile.outputs)) {
      const builtin = output.imports.find((i) => i.path.startsWith("node:") || i.kind === "require-call");
      if (builtin) throw new Error(`${flavour} build: ${file} imports ${builtin.path}; workerd would refuse it without nodejs_compat`);
    }
  }
  // The node build imports them with the module (`#clouds`: src/runtime/clouds_eager.ts says why).
  if (flavour !== "node") checkLoadedOnUse(flavour, result.metafile);
  return Object.keys(result.metafile.inputs);
}

/**
 * Sources the edge and workerd builds load with `import()` only
 * (`#clouds`): every artifact store and the clouds' sign-in and signing
 * code, each in chunks of its own, so a runtime parses a cloud's code only
 * for a run that uses that cloud.
 */
const LOADED_ON_USE = [
  "src/artifact_stores/proxy.ts",
  "src/artifact_stores/s3.ts",
  "src/artifact_stores/azure.ts",
  "src/artifact_stores/gcs.ts",
  "src/artifact_stores/databricks.ts",
  "src/databricks/settings.ts",
  "src/databricks/auth.ts",
  "src/aws/credentials.ts",
  "src/aws/sigv4.ts",
  "src/gcp/service_account.ts",
];

/** @throws Error when the static imports of an entry's output reach code of {@link LOADED_ON_USE}. */
function checkLoadedOnUse(flavour: string, metafile: esbuild.Metafile): void {
  const { inputs, outputs } = metafile;
  // A module loaded with import() is an entry of the metafile too; only the build's own entries are checked.
  const loaded = new Set(Object.values(inputs).flatMap((input) => input.imports.filter((i) => i.kind === "dynamic-import").map((i) => i.path)));
  for (const [entry, { entryPoint }] of Object.entries(outputs)) {
    if (entryPoint === undefined || loaded.has(entryPoint)) continue;
    const reached = new Set<string>();
    for (let queue = [entry], file = queue.pop(); file !== undefined; file = queue.pop()) {
      const output = outputs[file];
      if (output === undefined || reached.has(file)) continue;
      reached.add(file);
      const source = LOADED_ON_USE.find((path) => (output.inputs[path]?.bytesInOutput ?? 0) > 0);
      if (source) throw new Error(`${flavour} build: ${entry} reaches ${source} by static imports (in ${file}); load it with import()`);
      for (const imported of output.imports) if (imported.kind === "import-statement") queue.push(imported.path);
    }
  }
}

/** The file in `dist/vendor/` that holds a vendored import specifier. */
const vendorFile = (specifier: string): string => specifier.replace(/^@/, "").replace(/[^A-Za-z0-9._-]+/g, "__");

/**
 * Leaves `node:` imports and the package's `dependencies` as they are and
 * sends every other bare import to `../vendor/<name>.js`.
 */
async function vendorPlugin(vendored: Set<string>): Promise<esbuild.Plugin> {
  const manifest = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as { dependencies?: Record<string, string> };
  const dependencies = Object.keys(manifest.dependencies ?? {});
  return {
    name: "vendor",
    setup(build) {
      build.onResolve({ filter: /^[^./#]/ }, (args) => {
        if (args.path.startsWith("node:") || args.importer.includes("node_modules")) return undefined;
        if (dependencies.some((name) => args.path === name || args.path.startsWith(`${name}/`))) return { path: args.path, external: true };
        vendored.add(args.path);
        return { path: `../vendor/${vendorFile(args.path)}.js`, external: true };
      });
    },
  };
}

/**
 * `dist/vendor/`: the third-party modules the npm builds import (Vega,
 * Vega-Lite, csv-stringify, ...), bundled and minified once for Node, workerd
 * and the other edge runtimes alike (their browser builds, which need no
 * `node:` module and no native canvas), so the tarball carries them once and
 * npm installs nothing for them.
 */
async function buildVendor(outDir: string, specifiers: ReadonlySet<string>): Promise<string[]> {
  if (specifiers.size === 0) return [];
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: Object.fromEntries([...specifiers].map((specifier) => [vendorFile(specifier), specifier])),
    outdir: outDir,
    bundle: true,
    splitting: true,
    format: "esm",
    target: "es2022",
    platform: "neutral",
    conditions: ["worker", "browser"],
    mainFields: ["module", "main"],
    chunkNames: "shared-[hash]",
    minify: true,
    legalComments: "none",
    metafile: true,
    logLevel: "silent",
  });
  for (const [file, output] of Object.entries(result.metafile.outputs)) {
    const outside = output.imports.find((i) => i.external === true || i.kind === "require-call");
    if (outside) throw new Error(`vendor build: ${file} imports ${outside.path}; it must be self-contained`);
  }
  return Object.keys(result.metafile.inputs);
}

/**
 * The `#wasm` of the self-contained file: resvg's WebAssembly travels inside
 * the module (gzip, base64), so Deno caches it with the module and needs no
 * permission beyond importing it. It is unpacked on the first chart only.
 */
function embeddedWasmModule(gzipBase64: string): string {
  return `
const GZIP_BASE64 = ${JSON.stringify(gzipBase64)};

function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const native = (Uint8Array as unknown as { fromBase64?: (text: string) => Uint8Array<ArrayBuffer> }).fromBase64;
  if (native !== undefined) return native(text);
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

export async function resvgWasm(): Promise<Uint8Array<ArrayBuffer>> {
  const stream = new Blob([decodeBase64(GZIP_BASE64)]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
`;
}

/** What the two files for URL imports share: each one minified ES module for Deno, which has the `node:` modules. */
const DENO_ESM: esbuild.BuildOptions & { metafile: true } = {
  absWorkingDir: ROOT,
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
};

/**
 * One minified ES module with every dependency and resvg's WebAssembly
 * inside, for URL imports in Deno; its first line points Deno at the
 * declarations written beside it (`mod.d.ts`).
 */
async function buildDeno(outDir: string): Promise<string[]> {
  const wasm = await readFile(fileURLToPath(import.meta.resolve("@resvg/resvg-wasm/index_bg.wasm")));
  const wasmModule = embeddedWasmModule(gzipSync(wasm, { level: 9 }).toString("base64"));
  const result = await esbuild.build({
    ...DENO_ESM,
    entryPoints: { mod: ENTRIES.mod },
    outdir: outDir,
    banner: { js: `// @ts-self-types="./${DENO_TYPES_NAME}"` },
    plugins: [{
      name: "embedded-wasm",
      setup(build) {
        build.onResolve({ filter: /^#wasm$/ }, () => ({ path: "embedded_wasm.ts", namespace: "flox-wasm" }));
        build.onLoad({ filter: /.*/, namespace: "flox-wasm" }, () => ({ contents: wasmModule, loader: "ts" }));
      },
    }],
  });
  return [...Object.keys(result.metafile.inputs), "node_modules/@resvg/resvg-wasm/index_bg.wasm"];
}

/** The command line beside `mod.js`: its entry, the import it takes the library from, and the most it may weigh. */
const DENO_CLI = { entry: "src/cli/main.ts", library: "./mod.js", maxBytes: 150 * 1024 } as const;

/**
 * `cli.js`, the command line for `deno run https://…/dist/cli.js`: the CLI's
 * own code, with every library module `mod.ts` exports values from replaced
 * by those values imported from the `mod.js` beside it (relative, so a URL
 * import fetches it from the same place). Vega, resvg and the rest of the
 * library stay in `mod.js`, once; the error classes are `mod.js`'s own, so
 * the exit codes' `instanceof` checks see what the library throws. The few
 * library helpers that are not public (`nearestKey`) are bundled.
 *
 * @throws Error when the CLI imports a value `mod.ts` does not export from a
 *   module it does export from, destructures a dynamic `import()` in a way
 *   this build cannot check, bundles third-party or chart code, or the file
 *   grows beyond {@link DENO_CLI}'s `maxBytes`.
 */
async function buildDenoCli(outDir: string): Promise<string[]> {
  const publicValues = await modValues();
  const result = await esbuild.build({
    ...DENO_ESM,
    entryPoints: { cli: DENO_CLI.entry },
    outdir: outDir,
    plugins: [{
      name: "library-from-mod-js",
      setup(build) {
        build.onResolve({ filter: /^\.{1,2}\// }, async (args) => {
          const path = resolve(args.resolveDir, args.path);
          const names = publicValues.get(path);
          if (names === undefined) return undefined;
          if (args.kind === "dynamic-import") await checkDynamicImport(args.importer, args.path, names);
          return { path, namespace: "flox-mod-js" };
        });
        build.onLoad({ filter: /.*/, namespace: "flox-mod-js" }, (args) => ({
          contents: `export { ${publicValues.get(args.path)!.join(", ")} } from "${DENO_CLI.library}";`,
          loader: "ts",
          resolveDir: ROOT,
        }));
        build.onResolve({ filter: /^\.\/mod\.js$/ }, (args) => args.namespace === "flox-mod-js" ? { path: args.path, external: true } : undefined);
      },
    }],
  });
  const [file, output] = Object.entries(result.metafile.outputs)[0]!;
  // Bundled: the CLI's files and small library helpers; never third-party, runtime-variant or chart code.
  const bundled = Object.keys(output.inputs).filter((input) => !input.startsWith("flox-mod-js:"));
  const heavy = bundled.find((input) => !/^src\/(cli\/)?[a-z_]+\.ts$/.test(input) || /chart|png|font|vega|resvg/.test(input));
  if (heavy) throw new Error(`deno build: ${file} bundles ${heavy}; the command line takes the library from ${DENO_CLI.library}`);
  const outside = output.imports.find((i) => i.path !== DENO_CLI.library && !i.path.startsWith("node:"));
  if (outside) throw new Error(`deno build: ${file} imports ${outside.path}; only ${DENO_CLI.library} and node: modules are allowed`);
  if (!output.imports.some((i) => i.path === DENO_CLI.library)) throw new Error(`deno build: ${file} does not import ${DENO_CLI.library}`);
  if (output.bytes > DENO_CLI.maxBytes) {
    throw new Error(`deno build: ${file} is ${output.bytes} bytes, over ${DENO_CLI.maxBytes}; it should hold only the command line's own code`);
  }
  return bundled;
}

/** What `mod.ts` exports as values (not types), by source file: `export { a, type B } from "./src/x.ts"`. */
async function modValues(): Promise<Map<string, string[]>> {
  const text = await readFile(join(ROOT, ENTRIES.mod), "utf8");
  const values = new Map<string, string[]>();
  for (const [, typeOnly, list, from] of text.matchAll(/^export (type )?\{([^}]*)\} from "(\.\/[^"]+)";/gm)) {
    if (typeOnly) continue;
    const names = list!.split(",").map((name) => name.trim()).filter((name) => name !== "" && !name.startsWith("type "));
    if (names.some((name) => !/^[A-Za-z_$][\w$]*$/.test(name))) throw new Error(`${ENTRIES.mod}: cannot read the export list from ${from}`);
    if (names.length > 0) values.set(join(ROOT, from!), names);
  }
  return values;
}

/**
 * A dynamic `import()` of a library module becomes an import of `mod.js`,
 * where a name `mod.ts` does not export would be `undefined` at run time
 * rather than a build error: such imports must be destructured where they
 * are made (`const { a } = await import("../x.ts")`), with public names.
 */
async function checkDynamicImport(importer: string, specifier: string, names: readonly string[]): Promise<void> {
  const source = await readFile(importer, "utf8");
  const quoted = specifier.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const uses = [...source.matchAll(new RegExp(`import\\(\\s*["']${quoted}["']\\s*\\)`, "g"))].length;
  const destructured = [...source.matchAll(new RegExp(`\\b(?:const|let)\\s*\\{([^{}]*)\\}\\s*=\\s*await\\s+import\\(\\s*["']${quoted}["']\\s*\\)`, "g"))];
  if (destructured.length !== uses) {
    throw new Error(`deno build: ${relative(ROOT, importer)} imports ${specifier} dynamically without destructuring it as const { ... } = await import(...)`);
  }
  for (const [, list] of destructured) {
    const missing = list!.split(",").map((name) => name.trim().split(/\s*:/)[0]!).filter((name) => name !== "" && !names.includes(name));
    if (missing.length > 0) {
      throw new Error(`deno build: ${relative(ROOT, importer)} imports ${missing.join(", ")} from ${specifier}, which ${ENTRIES.mod} does not export`);
    }
  }
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

/**
 * What `AsyncDisposable` and `Symbol.asyncDispose` are, for consumers whose
 * `lib` lacks `esnext.disposable` (e.g. `["es2023", "dom"]`): the same
 * declarations as TypeScript's lib and @types/node, which merge with them.
 */
const ASYNC_DISPOSABLE = `
declare global {
    interface SymbolConstructor {
        readonly asyncDispose: unique symbol;
    }
    interface AsyncDisposable {
        [Symbol.asyncDispose](): PromiseLike<void>;
    }
}
`;

/**
 * `WebAssembly.Module` for consumers without the DOM lib (a Node project with
 * `@tsconfig/node20`: its lib and @types/node have no `WebAssembly`); an empty
 * interface merges with the DOM lib's where that is present.
 */
const WEBASSEMBLY_MODULE = `
declare global {
    namespace WebAssembly {
        interface Module {
        }
    }
}
`;

const RELATIVE_IMPORT = /(from\s+|import\s*\(\s*)(["'])(\.{1,2}\/[^"']+?)\.ts\2/g;

/**
 * tsc keeps `.ts` in declaration import paths; `.js` is what every
 * `moduleResolution` maps to the `.d.ts`. Files the entries do not reach
 * (runtime variants, the embedded font) are removed. A file that names
 * `AsyncDisposable` or `WebAssembly.Module` declares it (see
 * {@link ASYNC_DISPOSABLE}, {@link WEBASSEMBLY_MODULE}), so the
 * declarations need neither `esnext.disposable` nor the DOM lib.
 */
async function pruneDeclarations(outDir: string, entries: string[]): Promise<void> {
  const reached = new Set<string>();
  const queue = entries.map((entry) => join(outDir, entry));
  for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
    if (reached.has(file)) continue;
    reached.add(file);
    const text = await readFile(file, "utf8");
    let rewritten = text.replace(RELATIVE_IMPORT, (_all, head: string, quote: string, path: string) => {
      queue.push(join(dirname(file), `${path}.d.ts`));
      return `${head}${quote}${path}.js${quote}`;
    });
    if (/\bAsyncDisposable\b|Symbol\.asyncDispose\b/.test(rewritten)) rewritten += ASYNC_DISPOSABLE;
    if (/\bWebAssembly\.Module\b/.test(rewritten)) rewritten += WEBASSEMBLY_MODULE;
    if (rewritten !== text) await writeFile(file, rewritten);
  }
  for (const file of Object.keys(await listFiles(outDir))) {
    const path = join(outDir, file);
    if (!reached.has(path)) await rm(path);
  }
  await removeEmptyFolders(outDir);
}

/** A relative import or re-export statement of a declaration file (tsc writes each on one line or spanning `{ ... }`). */
const RELATIVE_STATEMENT = /^(?:import|export)\b[^;]*?\bfrom\s+["'](\.{1,2}\/[^"']+)\.js["'];[ \t]*\n?/gm;
const TOP_LEVEL_NAME = /^(?:declare\s+)?(?:abstract\s+)?(?:function|class|interface|type|const|let|var|enum|namespace)\s+([A-Za-z_$][\w$]*)/gm;

/**
 * One declaration file for the self-contained `mod.js`: the declaration
 * files `mod.d.ts` reaches, dependencies first, without their relative
 * imports and exports, and at the end the export list of `mod.d.ts`. Deno
 * reads the types of a URL import from one `@ts-self-types` file; the npm
 * declarations' `./x.js` paths would not lead it to `./x.d.ts`.
 *
 * @throws Error when two files declare the same top-level name, or a
 *   statement is left that this bundling does not handle.
 */
async function bundleDeclarations(typesDir: string, outFile: string): Promise<void> {
  const texts = new Map<string, string>();
  const order: string[] = [];
  const visit = async (file: string): Promise<void> => {
    if (texts.has(file)) return;
    const text = await readFile(file, "utf8");
    texts.set(file, text);
    for (const match of text.matchAll(RELATIVE_STATEMENT)) await visit(join(dirname(file), `${match[1]}.d.ts`));
    order.push(file);
  };
  const entry = join(typesDir, "mod.d.ts");
  await visit(entry);
  const owners = new Map<string, string>();
  const bodies: string[] = [];
  for (const file of order) {
    const name = relative(typesDir, file);
    let text = texts.get(file)!.replace(RELATIVE_STATEMENT, "").replace(/^export \{\};[ \t]*\n?/gm, "");
    text = text.replace(/^export (?=(?:declare|interface|type|abstract|enum)\s)/gm, "");
    const left = /^(?:export|import)\b.*$|import\(\s*["']\./m.exec(text);
    if (left) throw new Error(`declaration bundle: ${name} has a statement it cannot take apart: ${left[0]}`);
    for (const [, declared] of text.matchAll(TOP_LEVEL_NAME)) {
      const owner = owners.get(declared!);
      if (owner !== undefined && owner !== name) throw new Error(`declaration bundle: ${declared} is declared in ${owner} and ${name}`);
      owners.set(declared!, name);
    }
    if (file !== entry) bodies.push(`// ${name.replace(/\.d\.ts$/, ".ts")}\n${text.trim()}`);
  }
  const entryText = texts.get(entry)!;
  const values: string[] = [];
  const types: string[] = [];
  for (const match of entryText.matchAll(/^export (type )?\{([^}]*)\}\s*from\s*["'][^"']+["'];/gm)) {
    for (const raw of match[2]!.split(",").map((item) => item.trim()).filter((item) => item !== "")) {
      const item = raw.replace(/^type\s+/, "");
      (match[1] !== undefined || raw.startsWith("type ") ? types : values).push(item);
    }
  }
  const moduleDoc = /^\/\*\*[\s\S]*?@module[\s\S]*?\*\//.exec(entryText.trimStart())?.[0] ?? "";
  await writeFile(
    outFile,
    `${moduleDoc}\n\n${bodies.join("\n\n")}\n\nexport { ${values.join(", ")} };\nexport type { ${types.join(", ")} };\n`,
  );
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
