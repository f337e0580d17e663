/**
 * Checking a whole data set up front.
 */
import { BadSample, isDataError } from './errors';
import { Dataset } from './types';

/**
 * Reads every sample of `ds` (or of `indices`) once. Without `skipBad` the first bad sample's
 * DataError is thrown; with it, bad samples are collected. Returns the good indices and the bad
 * samples (including those skipped while the data set was scanned).
 */
export function validate(ds: Dataset, o: { skipBad?: boolean; indices?: number[] } = {}): { good: number[]; bad: BadSample[] } {
  const good: number[] = [];
  const bad: BadSample[] = [...ds.skipped];
  const idx = o.indices ?? Array.from({ length: ds.length }, (_, i) => i);
  for (const i of idx) {
    try {
      ds.get(i);
      good.push(i);
    } catch (e) {
      if (!o.skipBad || !isDataError(e)) throw e;
      bad.push({ file: e.file, reason: e.reason, index: i });
    }
  }
  return { good, bad };
}
