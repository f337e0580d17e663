/**
 * Data parallelism for the trainer (dnas's own design, like PyTorch's DistributedDataParallel
 * without SyncBatchNorm): every rank holds the whole supernet and reads its slice of each global
 * batch (`--batch-size` is the global batch); after each backward pass the gradients are combined
 * so that every rank takes the identical step a single process would take on the global batch.
 *
 * - Gradients: each rank's gradient of its mean loss is weighted by its share of the batch's
 *   samples and summed over ranks, in one message with the loss and the stop flag. For losses that
 *   are means over samples this is the gradient of the global batch's mean loss; a segmentation
 *   loss that ignores pixels is a mean over pixels, so there it is the sample-weighted mean.
 * - BatchNorm: batch statistics are each rank's own during training; running statistics are
 *   averaged over ranks before every evaluation (and so in every checkpoint).
 * - Evaluation: each rank scores every N-th validation sample; the confusion matrices, loss sums
 *   and sample counts are summed, so every rank gets the score of the whole set.
 * - Architecture: every rank applies the same combined step, so the architecture parameters and
 *   the decoded network are identical everywhere; `checkSame` verifies it after every search epoch
 *   and at the freeze, and stops the run if any rank differs.
 * - A stop request (Ctrl-C) on any rank stops all ranks after the same step.
 *
 * A strategy or space never sees any of this: the trainer hands strategies a `reduce` function.
 */
import { createHash } from 'node:crypto';
import { distributed as dist, noGrad, nn, Tensor, tensor, tidy } from '../torch';

export interface Parallel {
  readonly rank: number;
  readonly world: number;
  /**
   * Combines the gradients of one step over ranks, in place: `grads` (null entries skipped) of the
   * mean loss `loss` over this rank's `count` samples. Returns the global mean loss and whether any
   * rank asked to stop.
   */
  reduce(grads: (Tensor | null | undefined)[], count: number, loss: number, stop?: boolean): { loss: number; stop: boolean };
  /** Averages the floating-point buffers (BatchNorm running statistics) of `module` over ranks. */
  averageBuffers(module: nn.Module): void;
  /** The element-wise sum of `values` over ranks (float64: counts stay exact). */
  sum(values: number[]): number[];
  /** Copies rank 0's `tensors` into every rank's, in place. */
  broadcast(tensors: Tensor[]): void;
  /** Waits for every rank (so that what rank 0 wrote is there for the others, and all end together). */
  barrier(): void;
  /** Throws unless every rank holds the same `tensors` and `key` (`what` names them in the error). */
  checkSame(what: string, tensors: Tensor[], key: string): void;
}

/** One process: nothing to combine. */
export const SINGLE: Parallel = {
  rank: 0,
  world: 1,
  reduce: (_g, _n, loss, stop = false) => ({ loss, stop }),
  averageBuffers: () => undefined,
  broadcast: () => undefined,
  barrier: () => undefined,
  sum: (values) => values,
  checkSame: () => undefined,
};

/** The trainer's data parallelism over the process group this process has joined. */
export function dataParallel(): Parallel {
  if (!dist.isInitialized() || dist.getWorldSize() === 1) return SINGLE;
  const rank = dist.getRank();
  const world = dist.getWorldSize();
  return {
    rank,
    world,
    reduce(grads, count, loss, stop = false) {
      const list = grads.filter((g): g is Tensor => g instanceof Tensor);
      return tidy(() => {
        // float32 gradients with [count, loss * count, stop] appended: one message per step
        const extra = tensor([count, loss * count, stop ? 1 : 0]);
        noGrad(() => list.forEach((g) => g.mul_(count)));
        dist.allReduce([...list, extra]);
        const [total, lossSum, stops] = extra.toArray();
        if (!(total > 0)) throw new Error(`a data-parallel step had no samples on any of the ${world} ranks`);
        noGrad(() => list.forEach((g) => g.mul_(1 / total)));
        return { loss: lossSum / total, stop: stops > 0 };
      });
    },
    averageBuffers(module) {
      const bufs = module
        .namedBuffers()
        .map(([, b]) => b)
        .filter((b) => b.dtype === 'float32');
      if (bufs.length === 0) return;
      noGrad(() => {
        dist.allReduce(bufs);
        bufs.forEach((b) => b.mul_(1 / world));
      });
    },
    sum(values) {
      return tidy(() => {
        const t = tensor(values, { dtype: 'float64' });
        dist.allReduce(t);
        return t.toArray();
      });
    },
    barrier() {
      dist.barrier();
    },
    broadcast(tensors) {
      const byType = new Map<string, Tensor[]>();
      for (const t of tensors) byType.set(t.dtype, [...(byType.get(t.dtype) ?? []), t]);
      noGrad(() => [...byType.values()].forEach((ts) => dist.broadcast(ts, 0)));
    },
    checkSame(what, tensors, key) {
      // 4 x 32 bits of the SHA-256 of `key`, then the tensors themselves: the same max and min on every rank.
      const digest = createHash('sha256').update(key).digest();
      const words = [0, 4, 8, 12].map((o) => digest.readUInt32BE(o));
      const same = tidy(() => {
        const flat = [tensor(words, { dtype: 'float64' }), ...tensors.map((t) => t.detach().reshape([-1]).to('float64'))];
        const hi = flat.map((t) => t.clone());
        const lo = flat.map((t) => t.clone());
        dist.allReduce(hi, 'max');
        dist.allReduce(lo, 'min');
        return hi.every((h, i) => {
          const a = h.toArray(),
            b = lo[i].toArray();
          return a.every((v, k) => v === b[k]);
        });
      });
      if (!same)
        throw new Error(
          `the ${what} differs between the ${world} ranks (rank ${rank} checked it): a data-parallel run must hold the identical architecture everywhere. ` +
            'The run stopped; its last good checkpoint is kept. Resume it, and report this if it happens again',
        );
    },
  };
}
