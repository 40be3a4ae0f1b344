/**
 * Git source tags for a run, as MLflow's `GitRunContext` sets them
 * (`mlflow.source.git.commit`, `mlflow.source.git.branch`,
 * `mlflow.source.git.repoURL`), read from the checkout's files (`HEAD`,
 * `refs/`, `packed-refs`, `config`, and the `gitdir:` and `commondir`
 * links of worktrees and submodules) through `#fs`, without running git.
 * Nothing is read on runtimes without a file system. Credentials in a
 * remote URL are left out.
 *
 * @module
 */
import { hasFileSystem, mayRead, sourceName } from "#env";
import { fileSystem, resolvePath } from "#fs";
import type { KeyValue } from "./store.ts";

/** The tags MLflow's GitRunContext sets (mlflow/utils/mlflow_tags.py). */
export const GIT_TAGS = {
  commit: "mlflow.source.git.commit",
  branch: "mlflow.source.git.branch",
  repoURL: "mlflow.source.git.repoURL",
} as const;

const MAX_LEVELS = 64;
const SHA = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/;

const parentOf = (path: string): string | undefined => {
  const trimmed = path.replace(/[\\/]+$/, "");
  const at = Math.max(trimmed.lastIndexOf("/"), trimmed.lastIndexOf("\\"));
  if (at < 0) return undefined;
  const parent = trimmed.slice(0, at);
  return parent === "" || /^[A-Za-z]:$/.test(parent) ? `${parent}/` : parent;
};

const isAbsolute = (path: string): boolean => path.startsWith("/") || /^[A-Za-z]:[\\/]/.test(path) || path.startsWith("\\\\");

/** `.git` of the checkout holding `dir`, as a folder path: the folder itself, or where a `gitdir:` file points. */
async function findGitDir(dir: string): Promise<string | undefined> {
  let at: string | undefined = dir;
  for (let level = 0; at !== undefined && level < MAX_LEVELS; level++) {
    const dotGit = fileSystem.join(at, ".git");
    // Git tags are optional: a folder Deno was not allowed to read is not asked for.
    if (!mayRead(at) || !mayRead(dotGit)) return undefined;
    const info = await fileSystem.pathInfo(dotGit);
    if (info?.isDirectory) return dotGit;
    if (info !== undefined) {
      const link = /^gitdir:\s*(.+?)\s*$/m.exec((await fileSystem.readText(dotGit)) ?? "")?.[1];
      if (link !== undefined) return isAbsolute(link) ? link : fileSystem.join(at, link);
    }
    const up = parentOf(at);
    at = up === at ? undefined : up;
  }
  return undefined;
}

async function resolveRef(commonDir: string, gitDir: string, ref: string): Promise<string | undefined> {
  for (const dir of new Set([gitDir, commonDir])) {
    const loose = (await fileSystem.readText(fileSystem.join(dir, ...ref.split("/"))))?.trim();
    if (loose !== undefined && SHA.test(loose)) return loose;
  }
  for (const line of ((await fileSystem.readText(fileSystem.join(commonDir, "packed-refs"))) ?? "").split("\n")) {
    const [sha, name] = line.trim().split(" ");
    if (name === ref && sha !== undefined && SHA.test(sha)) return sha;
  }
  return undefined;
}

/** The first remote's URL in a git `config`, `origin` preferred, as GitPython's `repo.remote()` picks it. */
function remoteUrl(config: string): string | undefined {
  const urls = new Map<string, string>();
  let remote: string | undefined;
  for (const raw of config.split("\n")) {
    const line = raw.trim();
    const section = /^\[\s*([^\s\]"]+)(?:\s+"([^"]*)")?\s*\]$/.exec(line);
    if (section) {
      remote = section[1]!.toLowerCase() === "remote" ? section[2] : undefined;
      continue;
    }
    const url = remote === undefined ? null : /^url\s*=\s*(.+)$/i.exec(line);
    if (url && remote !== undefined && !urls.has(remote)) urls.set(remote, url[1]!.trim().replace(/^"(.*)"$/, "$1"));
  }
  return urls.get("origin") ?? urls.values().next().value;
}

/**
 * A remote URL without credentials: the user name and password of a URL
 * with a scheme (`https://user:token@host/…`) are dropped, as are a query
 * and a fragment. An scp-style address (`git@host:org/repo.git`) names a
 * user, not a secret, and is kept.
 *
 * @param url The remote URL from the git config.
 * @returns The URL safe to show in a tag.
 * @example A token in an HTTPS remote
 * ```ts
 * import { stripCredentials } from "./git_source.ts";
 * if (stripCredentials("https://me:ghp_secret@github.com/org/repo.git") !== "https://github.com/org/repo.git") throw new Error();
 * if (stripCredentials("git@github.com:org/repo.git") !== "git@github.com:org/repo.git") throw new Error();
 * ```
 */
export function stripCredentials(url: string): string {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^/?#]*)([\s\S]*)$/.exec(url);
  if (scheme === null) return url;
  const host = scheme[2]!.slice(scheme[2]!.lastIndexOf("@") + 1);
  return `${scheme[1]}${host}${scheme[3]!.replace(/[?#][\s\S]*$/, "")}`;
}

/**
 * Git source tags of the checkout holding `dir` (or a folder above it):
 * the commit `HEAD` names, its branch unless `HEAD` is detached, and the
 * remote's URL without credentials. Nothing when no checkout is found.
 *
 * @param dir Where to start looking.
 * @returns The tags, possibly none.
 * @example A folder outside any checkout
 * ```ts
 * import { gitSourceTags } from "./git_source.ts";
 * const tags = await gitSourceTags(await Deno.makeTempDir());
 * if (tags.some((t) => t.key === "mlflow.source.git.branch" && t.value === "")) throw new Error();
 * ```
 */
export async function gitSourceTags(dir: string): Promise<KeyValue[]> {
  if (!hasFileSystem) return [];
  try {
    const gitDir = await findGitDir(resolvePath(dir));
    if (gitDir === undefined) return [];
    const commonLink = (await fileSystem.readText(fileSystem.join(gitDir, "commondir")))?.trim();
    const commonDir = commonLink === undefined || commonLink === "" ? gitDir : isAbsolute(commonLink) ? commonLink : fileSystem.join(gitDir, commonLink);
    const head = (await fileSystem.readText(fileSystem.join(gitDir, "HEAD")))?.trim();
    if (head === undefined) return [];
    const symbolic = /^ref:\s*(\S+)$/.exec(head)?.[1];
    const commit = symbolic === undefined ? (SHA.test(head) ? head : undefined) : await resolveRef(commonDir, gitDir, symbolic);
    const tags: KeyValue[] = [];
    if (commit !== undefined) tags.push({ key: GIT_TAGS.commit, value: commit });
    if (symbolic?.startsWith("refs/heads/")) tags.push({ key: GIT_TAGS.branch, value: symbolic.slice("refs/heads/".length) });
    const url = remoteUrl((await fileSystem.readText(fileSystem.join(commonDir, "config"))) ?? "");
    if (url !== undefined && url !== "") tags.push({ key: GIT_TAGS.repoURL, value: stripCredentials(url) });
    return tags;
  } catch {
    // A checkout that cannot be read is no reason to fail a run: it is logged without git tags.
    return [];
  }
}

let processTags: Promise<KeyValue[]> | undefined;

/**
 * The git source tags of this process's script (its folder, else the
 * working directory), read once per process.
 *
 * @returns The tags; none on the edge or outside a checkout.
 * @example Read once, the same answer after
 * ```ts
 * import { processGitTags } from "./git_source.ts";
 * const first = await processGitTags();
 * if ((await processGitTags()) !== first) throw new Error();
 * ```
 */
export function processGitTags(): Promise<KeyValue[]> {
  processTags ??= (async () => {
    if (!hasFileSystem) return [];
    const script = sourceName();
    const scriptDir = script === undefined ? undefined : parentOf(resolvePath(script));
    const start = scriptDir !== undefined && (await fileSystem.pathInfo(scriptDir).catch(() => undefined))?.isDirectory ? scriptDir : resolvePath(".");
    return await gitSourceTags(start);
  })();
  return processTags;
}
