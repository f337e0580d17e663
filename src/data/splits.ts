/**
 * How the training set is shared between the weight step and the architecture step of a search.
 *
 * - 'darts': one fixed random partition (per seed): `fraction` of the samples for the
 *   architecture, the rest for the weights (DARTS uses half and half).
 * - 'resample': a new disjoint random partition of the same sizes every epoch.
 * - 'full': both steps see all samples.
 * - `frozen: true` (after a single-stage freeze, when there is no architecture left to learn):
 *   every sample goes to the weights, none to the architecture, whatever the strategy.
 */
import { hashSeed, Rng } from './rng';

/** A split strategy for search. */
export type SplitStrategy = 'darts' | 'resample' | 'full';

/** The split strategies, for option checking. */
export const SPLIT_STRATEGIES: readonly SplitStrategy[] = ['darts', 'resample', 'full'];

/** Arguments of {@link searchSplit}. */
export interface SearchSplitOptions {
  strategy: SplitStrategy;
  /** Number of training samples; indices are 0..n-1. */
  n: number;
  /** Share of the samples for the architecture step, in (0, 1) (default 0.5). Ignored by 'full'. */
  fraction?: number;
  /** Default 0. */
  seed?: number;
  /** Only 'resample' depends on it. Default 0. */
  epoch?: number;
  /** All samples to the weights, none to the architecture. */
  frozen?: boolean;
}

/** Sample indices of the two steps, each sorted ascending. */
export interface SearchSplit {
  weightIndices: number[];
  archIndices: number[];
}

/**
 * The weight/architecture partition of 0..n-1 for a strategy, seed and epoch. Reproducible: the
 * same arguments give the same partition. For 'darts' and 'resample' the two parts are disjoint,
 * cover every index, and the architecture part has round(n * fraction) samples (at least 1 and at
 * most n - 1 when n >= 2).
 *
 * @example
 * const { weightIndices, archIndices } = searchSplit({ strategy: 'resample', n: 1000, fraction: 0.5, seed: 1, epoch: 3 });
 */
export function searchSplit(o: SearchSplitOptions): SearchSplit {
  const { strategy, n } = o;
  if (!SPLIT_STRATEGIES.includes(strategy)) throw new RangeError(`searchSplit: unknown strategy '${strategy}' (expected ${SPLIT_STRATEGIES.join(', ')})`);
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`searchSplit: n must be a non-negative integer, got ${n}`);
  const fraction = o.fraction ?? 0.5;
  if (!(fraction > 0 && fraction < 1)) throw new RangeError(`searchSplit: fraction must be in (0, 1), got ${fraction}`);
  const all = Array.from({ length: n }, (_, i) => i);
  if (o.frozen) return { weightIndices: all, archIndices: [] };
  if (strategy === 'full') return { weightIndices: all, archIndices: all.slice() };
  const seed = o.seed ?? 0;
  const perm = new Rng(strategy === 'darts' ? hashSeed(seed, 0xda27) : hashSeed(seed, 0x7e5a, o.epoch ?? 0)).permutation(n);
  let k = Math.round(n * fraction);
  if (n >= 2) k = Math.min(n - 1, Math.max(1, k));
  const arch = perm.slice(0, k).sort((a, b) => a - b);
  const weight = perm.slice(k).sort((a, b) => a - b);
  return { weightIndices: weight, archIndices: arch };
}
