/**
 * Random architectures for a random-search control: uniform draws among the choices a genotype
 * can make, from a small seeded generator (src/data/rng.ts), so that a seed names one
 * architecture on every platform.
 */
import { Rng } from '../data/rng';
import { CellGenotype, keptPerNode, predecessors } from './genotype';
import { ZERO_OP } from './ops';

/**
 * `k` distinct indices drawn uniformly among 0..n-1 (every k-subset equally likely), ascending.
 *
 * @example
 * uniformSubset(new Rng(1), 5, 2); // e.g. [1, 4]
 */
export function uniformSubset(rng: Rng, n: number, k: number): number[] {
  if (!Number.isInteger(k) || k < 0 || k > n) throw new RangeError(`uniformSubset: cannot draw ${k} of ${n}`);
  return rng
    .permutation(n)
    .slice(0, k)
    .sort((a, b) => a - b);
}

/**
 * A random cell gene of the kind {@link decodeCell} gives: for each node, its {@link keptPerNode}
 * inputs a uniform subset of its predecessors (in ascending order), and on each kept edge an
 * operation drawn uniformly among `ops` other than `none`.
 *
 * @example
 * randomCellGene(new Rng(3), [...DARTS_PRIMITIVES], 2, 4); // 8 [op, input] pairs, never 'none'
 */
export function randomCellGene(rng: Rng, ops: string[], numInputs: number, nodes: number): CellGenotype {
  const usable = ops.filter((o) => o !== ZERO_OP);
  if (usable.length === 0) throw new Error(`randomCellGene: no operation other than '${ZERO_OP}' among [${ops.join(', ')}]`);
  const gene: CellGenotype = [];
  for (let i = 0; i < nodes; i++) {
    for (const j of uniformSubset(rng, predecessors(numInputs, i), keptPerNode(numInputs, i))) gene.push([usable[rng.int(usable.length)], j]);
  }
  return gene;
}
