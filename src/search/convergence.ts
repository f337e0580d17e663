/**
 * How far the architecture has converged, in three numbers a reader can check by hand:
 *
 * - `maxWeight`: the mean, over choice rows, of the largest relaxation weight (softmax(alpha)).
 *   Uniform weights give `uniform`, the mean of 1/n; one-hot weights give 1.
 * - `margin`: the mean gap between the two largest weights of a row. Decoding keeps the largest,
 *   so a small margin means a decision that a few noisy steps can flip.
 * - `changed`: how many decisions of the decoded genotype differ from the previous epoch's.
 *
 * Rows with a single option (a lattice node with one candidate input) decide nothing and are left
 * out; the options of a row are its non-zero weights (masked options are exactly 0), so the
 * weights must be exact: a weight rounded to 0 would be taken for a masked option.
 */

/** Convergence figures of one set of relaxation weights. */
export interface Convergence {
  /** Mean largest weight per row. */
  maxWeight: number;
  /** Mean of 1/n per row: what maxWeight would be with uniform weights. */
  uniform: number;
  /** Mean difference between the largest and second largest weight per row. */
  margin: number;
  /** Rows counted (choices with at least two options). */
  rows: number;
}

/**
 * Convergence of the relaxation weights `groups`: each a list of rows of probabilities.
 *
 * @example
 * convergence([[[0.7, 0.2, 0.1], [0.5, 0.5, 0]]]);
 * // rows 2, maxWeight (0.7 + 0.5) / 2 = 0.6, uniform (1/3 + 1/2) / 2, margin (0.5 + 0) / 2 = 0.25
 */
export function convergence(groups: number[][][]): Convergence {
  let rows = 0,
    maxWeight = 0,
    uniform = 0,
    margin = 0;
  for (const g of groups) {
    for (const row of g) {
      const opts = row.filter((p) => p > 0).sort((a, b) => b - a);
      if (opts.length < 2) continue;
      rows++;
      maxWeight += opts[0];
      uniform += 1 / opts.length;
      margin += opts[0] - opts[1];
    }
  }
  if (rows === 0) return { maxWeight: 1, uniform: 1, margin: 1, rows: 0 };
  return { maxWeight: maxWeight / rows, uniform: uniform / rows, margin: margin / rows, rows };
}

/** Genotype keys that describe the space rather than decisions. */
const NOT_DECISIONS = new Set(['version', 'space', 'settings']);

/**
 * The number of decisions (leaf values: an operation name, an input index, a scale) in which two
 * genotypes differ; a leaf present in one only counts once.
 *
 * @example
 * genotypeChanges({ cells: { cell: [['skip_connect', 0]] }, path: [0, 1] },
 *                 { cells: { cell: [['sep_conv_3x3', 0]] }, path: [0, 0] }); // 2
 */
export function genotypeChanges(a: Record<string, unknown>, b: Record<string, unknown>): number {
  const leaves = (g: Record<string, unknown>): Map<string, unknown> => {
    const out = new Map<string, unknown>();
    const walk = (v: unknown, key: string) => {
      if (v !== null && typeof v === 'object') {
        for (const [k, x] of Object.entries(v as Record<string, unknown>)) walk(x, `${key}/${k}`);
      } else {
        out.set(key, v);
      }
    };
    for (const [k, v] of Object.entries(g)) if (!NOT_DECISIONS.has(k)) walk(v, k);
    return out;
  };
  const la = leaves(a),
    lb = leaves(b);
  let n = 0;
  for (const [k, v] of la) if (!lb.has(k) || lb.get(k) !== v) n++;
  for (const k of lb.keys()) if (!la.has(k)) n++;
  return n;
}
