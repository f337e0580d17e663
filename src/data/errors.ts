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
