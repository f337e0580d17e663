/**
 * Errors for bad data: every one names the file and says what is wrong with it.
 */

/** A sample that could not be used: the file and what is wrong with it. */
export interface BadSample {
  /** The file at fault (image, mask, or folder). */
  file: string;
  /** What is wrong, in words. */
  reason: string;
  /** Index of the sample in its data set, when it has one. */
  index?: number;
}

/**
 * A problem with one input file (corrupt, truncated, mismatched, unmapped labels, empty folder).
 * The message reads "`file`: `reason`".
 */
export class DataError extends Error {
  /** The file (or folder) at fault. */
  readonly file: string;
  /** What is wrong, without the file name. */
  readonly reason: string;

  constructor(file: string, reason: string) {
    super(`${file}: ${reason}`);
    this.name = 'DataError';
    this.file = file;
    this.reason = reason;
  }
}

/** Whether `e` is a {@link DataError} (also across worker threads, where only the shape survives). */
export function isDataError(e: unknown): e is DataError {
  return e instanceof DataError || (typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'DataError');
}

/**
 * The largest image dnas decodes, in pixels (default 50 million; Cityscapes frames have 2.1
 * million): a file declaring more is refused from its header, before any memory is allocated for
 * it. DNAS_MAX_PIXELS overrides it.
 */
export function maxImagePixels(): number {
  const v = Number(process.env.DNAS_MAX_PIXELS);
  return Number.isFinite(v) && v > 0 ? v : 50_000_000;
}

/** Throws a DataError when a `width` x `height` image is above {@link maxImagePixels}. */
export function checkPixelCount(width: number, height: number, file: string): void {
  const limit = maxImagePixels();
  if (width * height > limit) {
    throw new DataError(
      file,
      `the image declares ${width}x${height} = ${width * height} pixels, more than the limit of ${limit} (set DNAS_MAX_PIXELS to raise it)`,
    );
  }
}
