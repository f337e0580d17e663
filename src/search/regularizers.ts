/**
 * The entropy penalty: lambda * mean entropy of the relaxation weights, averaged over every
 * choice row (each edge's operation weights, each node's input weights). Minimising it pushes the
 * architecture distribution towards one-hot, which narrows the discretization gap at the price of
 * the supernet's own accuracy (the trade-off `dnas experiment entropy` measures).
 */
import { cat, Tensor } from '../torch';

/** Mean over rows of -sum p log p, for probability tensors of shape [rows, options]. */
export function meanEntropy(weights: Tensor[]): Tensor {
  if (weights.length === 0) throw new Error('meanEntropy: no relaxation weights (the space has no choices?)');
  // Each tensor is [rows, options] with its own option count: sum entropies per row, then average.
  const perRow = weights.map((p) => p.mul(p.clampMin(1e-12).log()).sum(-1).neg().reshape([-1]));
  return cat(perRow).mean();
}

/** lambda * meanEntropy, or null when lambda is 0 (no graph is built). */
export function entropyPenalty(weights: Tensor[], lambda: number): Tensor | null {
  if (lambda === 0) return null;
  return meanEntropy(weights).mul(lambda);
}
