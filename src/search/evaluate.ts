/**
 * Evaluation and the discretization gap.
 *
 * The gap is measured as dnas defines it: at an evaluation, the supernet (continuous relaxation)
 * and the discrete network derived from the current decoded architecture — made of the *same*
 * modules and weights — are both evaluated on the validation set. The derived network is
 * evaluated twice: with the BatchNorm statistics it inherits (collected while the mixture trained)
 * and with statistics re-estimated on a few training batches through the discrete path alone.
 * The supernet's own statistics are restored afterwards.
 */
import { ConfusionMatrix } from '../metrics';
import { nn, noGrad, Tensor, tidy } from '../torch';
import { Batch } from './types';

export interface EvalResult {
  miou: number;
  pixelAccuracy: number;
  loss: number;
  perClassIoU: Record<string, number | null>;
  /** Samples evaluated. */
  samples: number;
}

/** Evaluates `forward` in eval mode over `batches`. */
export async function evaluate(
  module: nn.Module,
  forward: (x: Tensor) => Tensor,
  batches: AsyncIterable<Batch>,
  o: {
    numClasses: number;
    ignoreIndex: number;
    classNames?: string[];
    loss: (logits: Tensor, y: Tensor) => Tensor;
    /** Several ranks, each over its part of the set: sums a vector over them (the counts, loss sum and samples). */
    sum?: (values: number[]) => number[];
  },
): Promise<EvalResult> {
  const wasTraining = module.training;
  module.eval();
  const cm = new ConfusionMatrix(o.numClasses, o.ignoreIndex);
  let lossSum = 0;
  let n = 0;
  try {
    for await (const b of batches) {
      tidy(() =>
        noGrad(() => {
          const logits = forward(b.x);
          lossSum += o.loss(logits, b.y).item() * b.x.size(0);
          n += b.x.size(0);
          cm.add(logits, b.y);
        }),
      );
      b.x.dispose();
      b.y.dispose();
      await new Promise((r) => setImmediate(r));
    }
  } finally {
    module.train(wasTraining);
  }
  if (o.sum) {
    const k = cm.counts.length;
    const v = o.sum([...cm.counts, lossSum, n]);
    cm.counts.set(v.slice(0, k));
    [lossSum, n] = [v[k], v[k + 1]];
  }
  const s = cm.summary(o.classNames);
  return { miou: s.miou, pixelAccuracy: s.pixelAccuracy, loss: n ? lossSum / n : NaN, perClassIoU: s.perClassIoU, samples: n };
}

function batchNorms(m: nn.Module): nn.BatchNorm2d[] {
  return m.modules().filter((x): x is nn.BatchNorm2d => x instanceof nn.BatchNorm2d && x.trackRunningStats);
}

/**
 * Re-estimates the BatchNorm statistics of `module` on at most `maxBatches` of `batches`
 * (cumulative average, as PyTorch with momentum=None), for good: the single-stage freeze keeps
 * them. Returns the number of batches used.
 */
export async function recalibrateBatchNorm(
  module: nn.Module,
  forward: (x: Tensor) => Tensor,
  batches: AsyncIterable<Batch>,
  maxBatches: number,
): Promise<number> {
  const bns = batchNorms(module);
  const momenta = bns.map((bn) => bn.momentum);
  const wasTraining = module.training;
  let k = 0;
  try {
    bns.forEach((bn) => {
      bn.resetRunningStats();
      bn.momentum = null; // cumulative average over the re-estimation batches
    });
    module.train();
    if (maxBatches > 0) {
      for await (const b of batches) {
        k++;
        tidy(() => noGrad(() => forward(b.x)));
        b.x.dispose();
        b.y.dispose();
        if (k >= maxBatches) break; // stops the loader: the rest of the split is never read
      }
    }
  } finally {
    bns.forEach((bn, i) => {
      bn.momentum = momenta[i];
    });
    module.train(wasTraining);
  }
  return k;
}

/**
 * Re-estimates the BatchNorm statistics of `module` on `batches` (see
 * {@link recalibrateBatchNorm}), runs `fn`, then restores the statistics that were there before.
 */
export async function withRecalibratedBatchNorm<T>(
  module: nn.Module,
  forward: (x: Tensor) => Tensor,
  batches: AsyncIterable<Batch>,
  maxBatches: number,
  fn: () => Promise<T>,
): Promise<T> {
  const bns = batchNorms(module);
  const saved = noGrad(() => bns.map((bn) => bn.namedBuffers().map(([, b]) => b.clone())));
  try {
    await recalibrateBatchNorm(module, forward, batches, maxBatches);
    return await fn();
  } finally {
    bns.forEach((bn, i) => {
      bn.namedBuffers().forEach(([, b], j) => b.copy_(saved[i][j]));
      saved[i].forEach((t) => t.dispose());
    });
  }
}
