/**
 * Which code a benchmark's figures belong to: a digest of the sources under
 * test and the git state, so figures taken while the sources changed can be
 * told apart.
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * A digest of the code under test (mod.ts, src/, package.json, deno.json).
 *
 * @param repo The repository root.
 * @returns The first 16 hex digits of a SHA-256 over the files.
 */
export async function codeDigest(repo: string): Promise<string> {
  const hash = createHash("sha256");
  const src = (await readdir(join(repo, "src"), { recursive: true })).filter((f) => f.endsWith(".ts")).map((f) => join("src", f));
  for (const file of ["mod.ts", "package.json", "deno.json", ...src.sort()]) {
    hash.update(`${file}\0`).update(await readFile(join(repo, file)));
  }
  return hash.digest("hex").slice(0, 16);
}

/**
 * The commit and how many source files differ from it.
 *
 * @param repo The repository root.
 * @returns e.g. `4b2f23d` or `4b2f23d with 2 changed or new files in …`, or `not a git checkout`.
 */
export function gitState(repo: string): string {
  try {
    const git = (...args: string[]) => execFileSync("git", args, { cwd: repo, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    const dirty = git("status", "--porcelain", "--", "mod.ts", "src", "package.json", "deno.json").split("\n").filter(Boolean).length;
    return `${git("rev-parse", "--short", "HEAD")}${dirty ? ` with ${dirty} changed or new files in mod.ts/src/package.json/deno.json` : ""}`;
  } catch {
    return "not a git checkout";
  }
}
