/**
 * The `pictures` option of sweeps: which pictures a parent run gets and how
 * they look, checked before any request.
 *
 * @module
 */
import type { VegaLiteSpec } from "./chart_spec.ts";
import { MlflowValidationError } from "./errors.ts";
import { checkOptionKeys } from "./option_keys.ts";
import { checkBoolean, checkCallback, describeValue } from "./validation.ts";

/** How one picture looks. */
export interface PictureStyle {
  /** Width of the plot area in CSS pixels (default: from the data). */
  width?: number;
  /** Height of the plot area in CSS pixels (default: from the data). */
  height?: number;
  /** The title (default: the parent run's name). */
  title?: string;
  /** A Vega colour scheme name, e.g. `viridis` (default `redyellowgreen` for the heatmap, `tableau10` for lines and bars). */
  scheme?: string;
  /** Last word on the Vega-Lite spec: gets the built spec, returns the one to render. */
  restyle?: (spec: VegaLiteSpec) => VegaLiteSpec;
}

/** Style of the overlay of the best cells' equity curves. */
export interface OverlayStyle extends PictureStyle {
  /** How many of the best cells to overlay; default 5. */
  top?: number;
}

/** Which pictures a sweep's parent gets and how they look. */
export interface SweepPicturesOptions {
  /** `sweep_heatmap.png` (grids): the metric over two axes; false leaves it out. */
  heatmap?: boolean | PictureStyle;
  /** `best_cells_equity.png` (grids whose cells carry equity curves): the best cells' curves; false leaves it out. */
  overlay?: boolean | OverlayStyle;
  /** `walk_forward.png` (walk-forward): train against test per fold; false leaves it out. */
  walkForward?: boolean | PictureStyle;
  /** `grid_results.csv` / `walk_forward_results.csv`; false leaves it out. */
  csv?: boolean;
  /** The stat pictured (heatmap colour, overlay ranking, walk-forward panel); default the sweep's pick metric, for walk-forward up to 4 stats both windows have. */
  metric?: string;
  /** The heatmap's two axes (x, y); default the first two of the sweep's axes (or of the cells' params). Other axes are held at the best cell's values. */
  axes?: readonly string[];
  /** PNG pixels per CSS pixel; default 1. */
  scale?: number;
}

/**
 * The `pictures` option: `false` turns every picture and results CSV off;
 * `true` or an object always makes them; left out, they are made when they
 * cost at most a tenth of the sweep's time (see {@link PictureSetting.auto}).
 */
export type SweepPictures = boolean | SweepPicturesOptions;

/** A checked `pictures` option. */
export interface PictureSetting {
  /** What to draw and how. */
  options: SweepPicturesOptions;
  /**
   * The option was left out: the pictures and CSV are made only when their
   * expected cost (the last measured in this process, else an estimate) is at
   * most 10% of the time the sweep took.
   */
  auto: boolean;
}

const PICTURE_KEYS = ["heatmap", "overlay", "walkForward", "csv", "metric", "axes", "scale"] as const satisfies readonly (keyof SweepPicturesOptions)[];
const STYLE_KEYS = ["width", "height", "title", "scheme", "restyle"] as const satisfies readonly (keyof PictureStyle)[];
const OVERLAY_KEYS = [...STYLE_KEYS, "top"] as const satisfies readonly (keyof OverlayStyle)[];

/**
 * Checks a sweep's `pictures` option (and unknown keys) and fills its defaults.
 *
 * @param value What the caller passed.
 * @returns The options and whether they were left to the default, or `undefined` when pictures are off.
 * @throws {MlflowValidationError} Naming the field, e.g. `pictures.heatmap.width`.
 * @example Restyle the heatmap, drop the overlay
 * ```ts
 * import { checkSweepPictures } from "./sweep_pictures_options.ts";
 * const setting = checkSweepPictures({ heatmap: { scheme: "viridis" }, overlay: false });
 * if (setting?.options.overlay !== false || setting.auto) throw new Error();
 * ```
 */
export function checkSweepPictures(value: unknown): PictureSetting | undefined {
  if (value === undefined) return { options: {}, auto: true };
  if (value === true) return { options: {}, auto: false };
  if (value === false) return undefined;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new MlflowValidationError("pictures", `is ${describeValue(value)}; pass false, true or an object such as { heatmap: { scheme: "viridis" } }`);
  }
  const options = value as SweepPicturesOptions;
  checkOptionKeys(options, PICTURE_KEYS, "pictures");
  checkStyle(options.heatmap, "pictures.heatmap", STYLE_KEYS);
  checkStyle(options.overlay, "pictures.overlay", OVERLAY_KEYS);
  checkStyle(options.walkForward, "pictures.walkForward", STYLE_KEYS);
  checkBoolean(options.csv, "pictures.csv");
  if (typeof options.overlay === "object" && options.overlay.top !== undefined) {
    const top = options.overlay.top;
    if (!Number.isInteger(top) || top < 1 || top > 20) {
      throw new MlflowValidationError("pictures.overlay.top", `is ${describeValue(top)}; pass a whole number from 1 to 20`);
    }
  }
  if (options.metric !== undefined && (typeof options.metric !== "string" || options.metric === "")) {
    throw new MlflowValidationError("pictures.metric", "must be the name of a stat, e.g. \"sharpeRatio\"");
  }
  if (options.axes !== undefined) {
    const axes = options.axes;
    if (!Array.isArray(axes) || axes.length !== 2 || axes.some((a) => typeof a !== "string" || a === "") || axes[0] === axes[1]) {
      throw new MlflowValidationError("pictures.axes", "must be two different param names, e.g. [\"fast\", \"slow\"] (x, then y)");
    }
  }
  if (options.scale !== undefined && (typeof options.scale !== "number" || !(options.scale >= 0.25 && options.scale <= 4))) {
    throw new MlflowValidationError("pictures.scale", `is ${describeValue(options.scale)}; pass a number from 0.25 to 4`);
  }
  return { options, auto: false };
}

function checkStyle(style: unknown, field: string, keys: readonly string[]): void {
  if (style === undefined || typeof style === "boolean") return;
  if (typeof style !== "object" || style === null || Array.isArray(style)) {
    throw new MlflowValidationError(field, `is ${describeValue(style)}; pass true, false or an object of ${keys.join(", ")}`);
  }
  checkOptionKeys(style, keys, field);
  const s = style as PictureStyle;
  for (const key of ["width", "height"] as const) {
    const size = s[key];
    if (size !== undefined && (typeof size !== "number" || !Number.isInteger(size) || size < 50 || size > 4000)) {
      throw new MlflowValidationError(`${field}.${key}`, `is ${describeValue(size)}; pass a whole number of pixels from 50 to 4000`);
    }
  }
  for (const key of ["title", "scheme"] as const) {
    if (s[key] !== undefined && typeof s[key] !== "string") {
      throw new MlflowValidationError(`${field}.${key}`, `is ${describeValue(s[key])}; pass a string`);
    }
  }
  checkCallback(s.restyle, `${field}.restyle`, "(spec) => spec");
}

/**
 * The style of one picture, or `undefined` when it is off.
 *
 * @param setting The picture's option.
 * @returns The style.
 */
export function pictureStyle<T extends PictureStyle>(setting: boolean | T | undefined): T | undefined {
  if (setting === false) return undefined;
  return setting === undefined || setting === true ? ({} as T) : setting;
}
