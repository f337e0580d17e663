/**
 * Mean and spread of a handful of numbers (one per seed). The spread is reported three ways:
 * the sample standard deviation (n - 1), and the smallest and largest value, because with three
 * seeds the extremes say more than a standard deviation does.
 */

export interface Stat {
  mean: number;
  /** Sample standard deviation (0 for a single value). */
  std: number;
  min: number;
  max: number;
  n: number;
  values: number[];
}

/** Mean, sample standard deviation, min and max of `values` (NaN-free; empty gives NaNs). */
export function stat(values: number[]): Stat {
  const n = values.length;
  if (n === 0) return { mean: NaN, std: NaN, min: NaN, max: NaN, n: 0, values: [] };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const ss = values.reduce((a, b) => a + (b - mean) ** 2, 0);
  return { mean, std: n > 1 ? Math.sqrt(ss / (n - 1)) : 0, min: Math.min(...values), max: Math.max(...values), n, values: [...values] };
}

/** "41.23 ± 1.05 [40.1, 42.3]" for fractions shown as percentages (digits after the point: 2). */
export function pct(s: Stat, digits = 2): string {
  if (!s.n) return '-';
  const f = (v: number) => (100 * v).toFixed(digits);
  return s.n > 1 ? `${f(s.mean)} ± ${f(s.std)} [${f(s.min)}, ${f(s.max)}]` : f(s.mean);
}

/** The same for plain numbers. */
export function num(s: Stat, digits = 3): string {
  if (!s.n) return '-';
  const f = (v: number) => v.toFixed(digits);
  return s.n > 1 ? `${f(s.mean)} ± ${f(s.std)} [${f(s.min)}, ${f(s.max)}]` : f(s.mean);
}
