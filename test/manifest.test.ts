/**
 * package.json (npm) and deno.json (JSR) describe one package: the same name
 * (JSR's under the `@flox/` scope), the same version and the same export
 * subpaths, each npm subpath with types and a build for Node and workerd.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, test } from "node:test";

type Conditions = Record<string, string>;

interface PackageJson {
  name: string;
  version: string;
  main: string;
  types: string;
  files: string[];
  exports: Record<string, Conditions>;
  scripts: Record<string, string>;
}

interface DenoJson {
  name: string;
  version: string;
  exports: string | Record<string, string>;
  tasks: Record<string, string>;
}

const readJson = async <T>(name: string): Promise<T> =>
  JSON.parse(await readFile(new URL(`../${name}`, import.meta.url), "utf8")) as T;

const pkg = await readJson<PackageJson>("package.json");
const deno = await readJson<DenoJson>("deno.json");
const denoExports = typeof deno.exports === "string" ? { ".": deno.exports } : deno.exports;

describe("package manifests", () => {
  test("deno.json is named @flox/ plus the npm name, with the same version", () => {
    assert.equal(deno.name, `@flox/${pkg.name}`);
    assert.equal(deno.version, pkg.version);
    assert.match(pkg.version, /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/);
  });

  test("deno.json and package.json export the same subpaths", () => {
    assert.deepEqual(Object.keys(denoExports).sort(), Object.keys(pkg.exports).sort());
  });

  test("every deno.json export is a source file that exists", async () => {
    for (const [subpath, target] of Object.entries(denoExports)) {
      assert.match(target, /^\.\/.+\.ts$/, `deno.json exports ${subpath}`);
      await readFile(new URL(`../${target}`, import.meta.url));
    }
  });

  test("every npm export lists types first and picks the workerd build for workerd, the edge build by default, and the node build for Node, Bun and Deno", () => {
    for (const [subpath, conditions] of Object.entries(pkg.exports)) {
      const names = Object.keys(conditions);
      assert.equal(names[0], "types", `${subpath}: TypeScript reads the first matching condition`);
      assert.equal(names.at(-1), "default", `${subpath}: default must come last`);
      assert.match(conditions.types!, /^\.\/dist\/types\/.+\.d\.ts$/);
      assert.match(conditions.workerd!, /^\.\/dist\/workerd\/.+\.js$/);
      assert.match(conditions.default!, /^\.\/dist\/edge\/.+\.js$/);
      for (const runtime of ["node", "bun", "deno"]) {
        assert.match(conditions[runtime]!, /^\.\/dist\/node\/.+\.js$/, `${subpath}: ${runtime}`);
      }
      // Runtime-specific conditions must come before "node", which Bun and Deno also match.
      assert.ok(names.indexOf("workerd") < names.indexOf("node") && names.indexOf("bun") < names.indexOf("node"), subpath);
      for (const target of Object.values(conditions)) {
        assert.ok(pkg.files.some((folder) => target.startsWith(`./${folder.replace(/\/?$/, "/")}`)), `${target} is not packed`);
      }
    }
    assert.equal(pkg.main, pkg.exports["."]!.node);
    assert.equal(pkg.types, pkg.exports["."]!.types);
  });

  test("npm pack builds first and deno.json has the test and demo tasks", () => {
    assert.match(pkg.scripts.prepack ?? "", /\bbuild\b/);
    assert.match(pkg.scripts.build ?? "", /scripts\/build\.ts/);
    // Through `env`: Deno's task runner would run the npm package's native node_modules/.bin/deno as JavaScript.
    assert.match(deno.tasks.test ?? "", /^env deno test\b/);
    assert.match(deno.tasks.demo ?? "", /^env deno run\b.*examples\/demo\.ts$/);
  });
});
