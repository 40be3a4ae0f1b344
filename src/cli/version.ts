/**
 * The version `flox-mlflow --version` prints; a test keeps it equal to
 * package.json's.
 *
 * @module
 */

/** The package version. */
export const VERSION = "0.1.0";
