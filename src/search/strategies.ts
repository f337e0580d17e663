/**
 * Architecture steps. A strategy only says how the architecture parameters are updated from one
 * architecture batch; the trainer owns the loop, the data, the weight step and the checkpoints.
 *
 * - DARTS first order (Liu et al., "DARTS: Differentiable Architecture Search", ICLR 2019):
 *   grad_alpha L_arch(w, alpha), the weights taken as they are.
 * - DARTS second order (same paper, eq. 7-8): the gradient at the one-step unrolled weights
 *   w' = w - xi grad_w L_train(w, alpha), with the Hessian-vector product approximated by finite
 *   differences: (grad_alpha L_train(w+) - grad_alpha L_train(w-)) / (2 eps), w+- = w +- eps v,
 *   v = grad_w' L_arch(w', alpha), eps = 0.01 / ||v||.
 * - GDAS (Dong & Yang, "Searching for a Robust Neural Architecture in Four GPU Hours", CVPR 2019):
 *   the first-order step with the gumbel-hard relaxation and an annealed temperature; the
 *   difference lives in the relaxation, so GDAS is first order here (NNI does the same).
 */
import { autograd, noGrad, Tensor, tidy } from '../torch';
import { Adam } from '../torch/optim';
import { entropyPenalty } from './regularizers';
import { Batch, Searchable } from './types';

export type { Batch };

export interface ArchStepContext {
  net: Searchable;
  /** The supernet's forward in the run's precision (default: net.forward). */
  forward?: (x: Tensor) => Tensor;
  archOpt: Adam;
  loss: (logits: Tensor, y: Tensor) => Tensor;
  /** Entropy penalty weight now. */
  entropyWeight: number;
  /** Learning rate and weight decay of the weight optimizer now (the unrolled step uses them). */
  weightLr: number;
  weightDecay: number;
  /**
   * Several data-parallel ranks: combines gradients of this rank's `count` samples over the ranks,
   * in place (null entries skipped), and returns the global mean of `loss`. Absent on one process.
   */
  combine?: (grads: (Tensor | null)[], count: number, loss: number) => number;
  /** A cost-aware search: the cost penalty under the current relaxation (differentiable), added to the architecture loss. */
  costPenalty?: () => Tensor;
}

export interface ArchStep {
  (ctx: ArchStepContext, archBatch: Batch, weightBatch: Batch): number;
}

const forwardOf = (ctx: ArchStepContext) => ctx.forward ?? ((x: Tensor) => ctx.net.forward(x));

function archLoss(ctx: ArchStepContext, b: Batch): Tensor {
  const l = ctx.loss(forwardOf(ctx)(b.x), b.y);
  const pen = entropyPenalty(
    ctx.net.relaxationWeights().map(([, w]) => w),
    ctx.entropyWeight,
  );
  const withEntropy = pen ? l.add(pen) : l;
  return ctx.costPenalty ? withEntropy.add(ctx.costPenalty()) : withEntropy;
}

/** First-order DARTS (and GDAS): one Adam step on grad_alpha of the architecture loss. Returns the loss. */
export const firstOrder: ArchStep = (ctx, archBatch) => {
  const alphas = ctx.net.namedArchParameters().map(([, a]) => a);
  const value = tidy(() => {
    ctx.archOpt.zeroGrad();
    const l = archLoss(ctx, archBatch);
    const grads = autograd.grad(l, alphas, { allowUnused: true });
    const value = ctx.combine ? ctx.combine(grads, archBatch.x.size(0), l.item()) : l.item();
    grads.forEach((g, i) => (alphas[i].grad = g));
    return value;
  });
  ctx.archOpt.step();
  return value;
};

/** Second-order (unrolled) DARTS. Returns the architecture loss at the unrolled weights. */
export const secondOrder: ArchStep = (ctx, archBatch, weightBatch) => {
  const alphas = ctx.net.namedArchParameters().map(([, a]) => a);
  const weights = ctx.net.weightParameters();
  const xi = ctx.weightLr;
  const value = tidy(() => {
    ctx.archOpt.zeroGrad();
    const saved = noGrad(() => weights.map((w) => w.clone()));
    // w' = w - xi (grad_w L_train + wd w)
    const gTrain = autograd.grad(ctx.loss(forwardOf(ctx)(weightBatch.x), weightBatch.y), weights, { allowUnused: true });
    ctx.combine?.(gTrain, weightBatch.x.size(0), 0);
    noGrad(() =>
      weights.forEach((w, i) => {
        const g = gTrain[i];
        if (g) w.addScaled_(g, -xi);
        if (ctx.weightDecay) w.addScaled_(saved[i], -xi * ctx.weightDecay);
      }),
    );
    // grad_alpha and grad_w' of the architecture loss at w'
    const lArch = archLoss(ctx, archBatch);
    const g = autograd.grad(lArch, [...alphas, ...weights], { allowUnused: true });
    const lArchValue = ctx.combine ? ctx.combine(g, archBatch.x.size(0), lArch.item()) : lArch.item();
    const dAlpha = g.slice(0, alphas.length);
    const v = g.slice(alphas.length);
    noGrad(() => weights.forEach((w, i) => w.copy_(saved[i])));
    // finite-difference Hessian-vector product
    let sq = 0;
    for (const t of v) if (t) sq += t.square().sum().item();
    const eps = 0.01 / Math.max(Math.sqrt(sq), 1e-12);
    const shift = (scale: number) =>
      noGrad(() =>
        weights.forEach((w, i) => {
          const t = v[i];
          if (t) w.addScaled_(t, scale);
        }),
      );
    const gradAlphaTrain = () => {
      const ga = autograd.grad(ctx.loss(forwardOf(ctx)(weightBatch.x), weightBatch.y), alphas, { allowUnused: true });
      ctx.combine?.(ga, weightBatch.x.size(0), 0);
      return ga;
    };
    shift(eps);
    const gPlus = gradAlphaTrain();
    shift(-2 * eps);
    const gMinus = gradAlphaTrain();
    noGrad(() => weights.forEach((w, i) => w.copy_(saved[i])));
    alphas.forEach((a, i) => {
      const d = dAlpha[i];
      if (!d) return;
      const gp = gPlus[i],
        gm = gMinus[i];
      a.grad = gp && gm ? d.sub(gp.sub(gm).mul(xi / (2 * eps))) : d;
    });
    return lArchValue;
  });
  ctx.archOpt.step();
  return value;
};

/** The architecture step of each search algorithm. */
export const ARCH_STEPS = { darts: firstOrder, darts2: secondOrder, gdas: firstOrder } as const;
