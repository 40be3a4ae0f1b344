/**
 * Databricks keeps experiments in workspace folders: an experiment name must
 * be an absolute workspace path such as `/Users/<user name>/<name>` or
 * `/Shared/<name>` (the server answers `INVALID_PARAMETER_VALUE ... must be an
 * absolute path within the Databricks workspace` otherwise; mlflow/mlflow#8269).
 * Names are stored without a leading `/Workspace`, so a lookup with it misses
 * (mlflow/mlflow#11077): it is stripped, and `//` collapsed, before any request.
 *
 * @module
 */
import { MlflowValidationError } from "../errors.ts";

/**
 * The workspace path Databricks stores an experiment name under.
 *
 * @param name The experiment name as given.
 * @param field The option or variable it came from, for errors.
 * @returns The normalised path.
 * @throws {MlflowValidationError} For a name that is not an absolute path, showing the forms to use.
 * @example A path copied from the workspace browser
 * ```ts
 * import { workspaceExperimentPath } from "./experiment_path.ts";
 * if (workspaceExperimentPath("/Workspace/Users/me@x.com//bt", "experiment") !== "/Users/me@x.com/bt") throw new Error();
 * ```
 */
export function workspaceExperimentPath(name: string, field: string): string {
  let path = name.trim().replace(/\/{2,}/g, "/");
  if (/^\/Workspace(\/|$)/.test(path)) path = path.slice("/Workspace".length);
  path = path.replace(/(.)\/+$/, "$1");
  if (!path.startsWith("/") || path === "/") {
    const leaf = name.trim().replace(/^\/+|\/+$/g, "") || "my-experiment";
    throw new MlflowValidationError(
      field,
      `'${name}' is not a workspace path; Databricks keeps experiments in workspace folders, so name it ` +
        `'/Users/<your user name>/${leaf}' or '/Shared/${leaf}'`,
    );
  }
  return path;
}

/**
 * The folder an experiment path lives in.
 *
 * @param path A normalised workspace path.
 * @returns Its parent folder (`/` for a top-level path).
 * @example The parent folder
 * ```ts
 * import { parentFolder } from "./experiment_path.ts";
 * if (parentFolder("/Shared/team/bt") !== "/Shared/team") throw new Error();
 * ```
 */
export function parentFolder(path: string): string {
  return path.slice(0, path.lastIndexOf("/")) || "/";
}
