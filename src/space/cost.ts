/**
 * Cost of a network: parameter count, multiply-accumulates (counted analytically from the shapes
 * a forward pass produces), measured latency, and the differentiable expected cost of a space.
 */
import { nn, noGrad, Tensor, tidy, zeros } from '../torch';
import { SearchSpace } from './space';

/**
 * Multiply-accumulates of one pass on a single image, per leaf module (convolutions and linear
 * layers; everything else counts 0).
 */
export interface MacProfile {
  /** MACs of the whole pass. */
  total: number;
  /** MACs per convolution / linear module (summed over its calls). */
  perModule: Map<nn.Module, number>;
  /** MACs of `m` and its descendants. */
  of(m: nn.Module): number;
}

type Target = SearchSpace | nn.Module;
const moduleOf = (t: Target): nn.Module => (t instanceof SearchSpace ? t.module : t);
const batchOf = (shape: number[]): number[] => (shape.length === 3 ? [1, ...shape] : shape);
const deviceOf = (t: Target): string => moduleOf(t).parameters()[0]?.device ?? 'cpu';

/** Runs `fn` in eval mode without grad, restoring each module's mode after. */
function inEval<T>(m: nn.Module, fn: () => T): T {
  const modes = m.modules().map((x) => [x, x.training] as const);
  m.eval();
  try {
    return noGrad(fn);
  } finally {
    for (const [x, t] of modes) x.training = t;
  }
}

/**
 * MACs of one pass of `target` on an input of `inputShape` ([C, H, W], or [N, C, H, W] of which
 * one image is counted). A conv counts Cout * Hout * Wout * (Cin / groups) * kH * kW, a linear
 * layer in * out per row. A SearchSpace is profiled under the softmax relaxation, so every
 * candidate runs and each has its cost (see {@link SearchSpace.expectedCost}).
 *
 * @example
 * const p = profileMacs(net, [3, 32, 32]);
 * console.log(p.total / 1e6, 'MMACs');
 */
export function profileMacs(target: Target, inputShape: number[]): MacProfile {
  const shape = batchOf(inputShape);
  const [n] = shape;
  const perModule = new Map<nn.Module, number>();
  const add = (m: nn.Module, v: number) => perModule.set(m, (perModule.get(m) ?? 0) + v);
  const convFwd = nn.Conv2d.prototype.forward;
  const linFwd = nn.Linear.prototype.forward;
  nn.Conv2d.prototype.forward = function (this: nn.Conv2d, x: Tensor): Tensor {
    const y = convFwd.call(this, x);
    const [, cinG, kh, kw] = this.weight.shape;
    add(this, (y.numel / n) * cinG * kh * kw);
    return y;
  };
  nn.Linear.prototype.forward = function (this: nn.Linear, x: Tensor): Tensor {
    const y = linFwd.call(this, x);
    add(this, (y.numel / n) * this.inFeatures);
    return y;
  };
  const space = target instanceof SearchSpace ? target : null;
  const kind = space?.relaxation.kind;
  try {
    if (space) space.setRelaxation('softmax');
    inEval(moduleOf(target), () =>
      tidy(() => {
        const x = zeros(shape, { device: deviceOf(target) });
        if (space) space.forward(x);
        else moduleOf(target).forward(x);
      }),
    );
  } finally {
    nn.Conv2d.prototype.forward = convFwd;
    nn.Linear.prototype.forward = linFwd;
    if (space && kind) space.setRelaxation(kind);
  }
  let total = 0;
  for (const v of perModule.values()) total += v;
  return {
    total,
    perModule,
    of: (m) => m.modules().reduce((a, x) => a + (perModule.get(x) ?? 0), 0),
  };
}

/**
 * MACs of one pass on one image of `inputShape` ([C, H, W] or [N, C, H, W]).
 *
 * @example
 * countMacs(derived, [3, 32, 32]); // e.g. 5.2e6
 */
export function countMacs(target: Target, inputShape: number[]): number {
  return profileMacs(target, inputShape).total;
}

/**
 * Number of trainable elements: of a module, of a space's weights (never its architecture
 * parameters), or of a list of tensors. Shared tensors count once.
 *
 * @example
 * countParameters(space); // supernet weights
 */
export function countParameters(target: Target | Tensor[]): number {
  const ps = Array.isArray(target) ? target : target instanceof SearchSpace ? target.weightParameters() : target.parameters();
  const seen = new Set<number>();
  let n = 0;
  for (const p of ps)
    if (!seen.has(p.handle)) {
      seen.add(p.handle);
      n += p.numel;
    }
  return n;
}

/** Latency statistics in milliseconds. */
export interface Latency {
  medianMs: number;
  meanMs: number;
  minMs: number;
  iters: number;
}

/**
 * Measured wall-clock time of a forward pass (eval mode, no grad) on zeros of `inputShape`
 * ([N, C, H, W]), after `warmup` untimed passes.
 *
 * @example
 * measureLatency(net, [1, 3, 64, 64], { iters: 20 }).medianMs;
 */
export function measureLatency(target: Target, inputShape: number[], opts: { warmup?: number; iters?: number } = {}): Latency {
  const warmup = opts.warmup ?? 2;
  const iters = opts.iters ?? 10;
  if (!(iters >= 1)) throw new RangeError(`measureLatency: iters must be >= 1, got ${iters}`);
  const shape = batchOf(inputShape);
  const times: number[] = [];
  inEval(moduleOf(target), () => {
    const x = zeros(shape, { device: deviceOf(target) });
    try {
      for (let i = 0; i < warmup + iters; i++) {
        const t0 = process.hrtime.bigint();
        tidy(() => {
          const y = target instanceof SearchSpace ? target.forward(x) : (target.forward(x) as Tensor);
          y.sum().item(); // wait for the result (asynchronous devices)
        });
        if (i >= warmup) times.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    } finally {
      x.dispose();
    }
  });
  const sorted = [...times].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return {
    medianMs: sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2,
    meanMs: times.reduce((a, b) => a + b, 0) / times.length,
    minMs: sorted[0],
    iters,
  };
}

/**
 * The differentiable expected cost of `space` (MACs) under its architecture distribution; add
 * `lambda * expectedCost(...)` to the architecture loss to trade accuracy for cost.
 *
 * @example
 * const profile = profileMacs(space, [3, 64, 64]); // once
 * const loss = task.add(expectedCost(space, profile).div(1e6).mul(0.01));
 */
export function expectedCost(space: SearchSpace, profile: MacProfile): Tensor {
  return space.expectedCost(profile);
}
