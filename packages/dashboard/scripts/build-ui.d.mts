/** Options of `buildUi`. */
export interface BuildUiOptions {
  /** Where to write `index.html` and `assets/`. @defaultValue `<package>/dist/ui` */
  readonly outDir?: string;
  /** Minify the bundle. @defaultValue true */
  readonly minify?: boolean;
}
/** Builds the dashboard's browser app into `outDir` (replacing it); answers the absolute directory. */
export function buildUi(options?: BuildUiOptions): Promise<string>;
