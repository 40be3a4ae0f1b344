/**
 * Test support for running the URL build as a Deno user does: the built
 * `dist/` served over HTTP on 127.0.0.1, and the `deno` binary from
 * `node_modules/.bin` run in a child process with a fresh `DENO_DIR`, an
 * environment without npm's or MLflow's variables, and Deno's permission
 * audit log (`DENO_AUDIT_PERMISSIONS`) read back as `<permission> <value>`
 * lines.
 *
 * @module
 */
import { execFile } from "node:child_process";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { serve, type ServedHandler } from "./serve.ts";

const REPO = fileURLToPath(new URL("../..", import.meta.url));

/** The `deno` binary the repository installs. */
export const DENO = join(REPO, "node_modules", ".bin", "deno");

/** How a command ended. */
export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** A run of `deno` with the permissions it was checked for. */
export interface DenoRan extends Ran {
  /** Every permission check, as `<permission> <value>` (e.g. `net 127.0.0.1:4000`, `env MLFLOW_TRACKING_URI`). */
  audit: string[];
}

/**
 * Runs a command to completion; a non-zero exit is a result, not an exception.
 *
 * @param file The program.
 * @param args Its arguments.
 * @param options Working folder and environment.
 * @returns Exit code and output.
 */
export function runCommand(file: string, args: string[], options: { cwd: string; env: Record<string, string | undefined> }): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(file, args, { ...options, maxBuffer: 16 * 1024 * 1024, timeout: 120_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * The environment of a fresh shell: nothing from the npm script that started the tests.
 *
 * @param extra Variables to add.
 * @returns The environment.
 */
export function cleanEnv(extra: Record<string, string>): Record<string, string | undefined> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(npm_|MLFLOW_|DENO_)/i.test(key)));
  return { ...env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", ...extra };
}

/**
 * Runs `deno <args>` with its own `DENO_DIR` and a permission audit log.
 *
 * @param args The arguments after `deno`.
 * @param options Working folder, `DENO_DIR` (also where the audit log is written) and extra environment.
 * @returns Exit code, output and the permissions checked.
 */
export async function runDeno(args: string[], options: { cwd: string; denoDir: string; env?: Record<string, string> }): Promise<DenoRan> {
  const auditFile = join(options.denoDir, `audit-${Date.now()}-${Math.random().toString(16).slice(2)}.jsonl`);
  const ran = await runCommand(DENO, args, {
    cwd: options.cwd,
    env: cleanEnv({ DENO_DIR: options.denoDir, DENO_AUDIT_PERMISSIONS: auditFile, ...options.env }),
  });
  const audit = (await readFile(auditFile, "utf8").catch(() => "")).split("\n").filter((line) => line !== "").map((line) => {
    const entry = JSON.parse(line) as { permission: string; value: string | null };
    return `${entry.permission} ${entry.value}`;
  });
  await rm(auditFile, { force: true });
  return { ...ran, audit };
}

/** A build served over HTTP. */
export interface ServedBuild extends ServedHandler {
  /** The files fetched so far, in order, as paths relative to the build folder. */
  served: string[];
}

/**
 * Serves the files of a build folder under `prefix` with the content types a
 * CDN sends (Deno takes a remote module's kind from it: `.d.ts` as
 * TypeScript); anything else is a 404.
 *
 * @param dir The build folder.
 * @param files The files to serve, as paths relative to `dir`.
 * @param prefix The URL path they sit under, e.g. `/dist`; default the root.
 * @returns The server and the list of files fetched.
 */
export async function serveBuild(dir: string, files: readonly string[], prefix = ""): Promise<ServedBuild> {
  const served: string[] = [];
  const server = await serve(async (request) => {
    const path = new URL(request.url).pathname;
    const name = path.startsWith(`${prefix}/`) ? path.slice(prefix.length + 1) : "";
    if (!files.includes(name)) return new Response("not found", { status: 404 });
    served.push(name);
    const type = name.endsWith(".ts") ? "application/typescript; charset=utf-8" : "text/javascript; charset=utf-8";
    return new Response(new Uint8Array(await readFile(join(dir, name))), { headers: { "content-type": type } });
  });
  return { url: server.url, close: () => server.close(), served };
}
