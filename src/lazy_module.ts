/**
 * Code a run needs only for some tracking or artifact URIs (a cloud's
 * artifact store, a Databricks workspace's sign-in, SageMaker's signing) is
 * imported on first use, so a bundle that splits code carries it in chunks
 * of its own and a runtime parses it only when a run reaches it.
 *
 * @module
 */
import { MlflowError } from "./errors.ts";

/**
 * A loader that imports a module once, on its first call. A failed import is
 * reported as an {@link MlflowError} and tried again on the next call.
 *
 * @param what What the module does, for the error, e.g. `the s3 artifact store`.
 * @param load The dynamic `import()` (or anything built from it).
 * @returns The loader; every call gives the same module.
 * @throws {MlflowError} `INTERNAL_ERROR` from the loader's promise when the import fails (a broken install or bundle).
 * @example Load once, get the same module
 * ```ts
 * import { lazyModule } from "./lazy_module.ts";
 * const errors = lazyModule("the error classes", () => import("./errors.ts"));
 * if ((await errors()) !== (await errors())) throw new Error("loaded twice");
 * ```
 * @example A module that cannot be loaded
 * ```ts
 * import { lazyModule } from "./lazy_module.ts";
 * const missing = lazyModule("a missing module", () => Promise.reject(new Error("not found")));
 * const err = await missing().then(() => undefined, (e: unknown) => e as { errorCode?: string });
 * if (err?.errorCode !== "INTERNAL_ERROR") throw new Error("expected an MlflowError");
 * ```
 */
export function lazyModule<T>(what: string, load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined;
  return () =>
    loading ??= load().catch((cause: unknown) => {
      loading = undefined;
      throw new MlflowError(`cannot load ${what}: ${cause instanceof Error ? cause.message : String(cause)}; reinstall flox-mlflow`, {
        errorCode: "INTERNAL_ERROR",
        cause,
      });
    });
}
