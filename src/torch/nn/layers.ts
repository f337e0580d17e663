/**
 * Layers with PyTorch's structure, defaults, initialisation and state-dict names.
 */
import { noGrad } from '../memory';
import { zeros } from '../creation';
import { DType, Tensor } from '../tensor';
import * as F from './functional';
import { Module } from './module';

const empty = (shape: number[], dtype: DType = 'float32') => zeros(shape, { dtype });
const pair = (v: F.Pair): [number, number] => (typeof v === 'number' ? [v, v] : v);

/** U(-1/sqrt(fanIn), 1/sqrt(fanIn)): PyTorch's default for conv and linear weights and biases. */
function uniformFanIn(t: Tensor, fanIn: number): Tensor {
  const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  return t.uniform_(-bound, bound);
}

export interface Conv2dOptions {
  stride?: F.Pair;
  padding?: F.Pair;
  dilation?: F.Pair;
  groups?: number;
  bias?: boolean;
}

/**
 * 2-D convolution (torch.nn.Conv2d): `weight` [out, in/groups, kH, kW] and optional `bias` [out].
 *
 * @example
 * const conv = new nn.Conv2d(3, 16, 3, { padding: 1, bias: false });
 */
export class Conv2d extends Module {
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: F.Pair,
    o: Conv2dOptions = {},
  ) {
    super();
    const [kh, kw] = pair(kernelSize);
    this.stride = pair(o.stride ?? 1);
    this.padding = pair(o.padding ?? 0);
    this.dilation = pair(o.dilation ?? 1);
    this.groups = o.groups ?? 1;
    if (inChannels % this.groups || outChannels % this.groups) {
      throw new Error(`Conv2d: inChannels (${inChannels}) and outChannels (${outChannels}) must be divisible by groups (${this.groups})`);
    }
    const fanIn = (inChannels / this.groups) * kh * kw;
    this.registerParameter('weight', uniformFanIn(empty([outChannels, inChannels / this.groups, kh, kw]), fanIn));
    if (o.bias !== false) this.registerParameter('bias', uniformFanIn(empty([outChannels]), fanIn));
  }
  get weight(): Tensor {
    return this.getParameter('weight') as Tensor;
  }
  get bias(): Tensor | null {
    return this.getParameter('bias');
  }
  forward(x: Tensor): Tensor {
    return F.conv2d(x, this.weight, this.bias, {
      stride: this.stride,
      padding: this.padding,
      dilation: this.dilation,
      groups: this.groups,
    });
  }
}

/** Fully connected layer (torch.nn.Linear). */
export class Linear extends Module {
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    o: { bias?: boolean } = {},
  ) {
    super();
    this.registerParameter('weight', uniformFanIn(empty([outFeatures, inFeatures]), inFeatures));
    if (o.bias !== false) this.registerParameter('bias', uniformFanIn(empty([outFeatures]), inFeatures));
  }
  get weight(): Tensor {
    return this.getParameter('weight') as Tensor;
  }
  get bias(): Tensor | null {
    return this.getParameter('bias');
  }
  forward(x: Tensor): Tensor {
    return F.linear(x, this.weight, this.bias);
  }
}

export interface BatchNormOptions {
  eps?: number;
  /** Running-statistics update factor; null: cumulative average over the batches seen (PyTorch's momentum=None). */
  momentum?: number | null;
  /** Learnable scale and shift (default true; DARTS search cells use false). */
  affine?: boolean;
  trackRunningStats?: boolean;
}

/**
 * Batch normalisation over [N, C, H, W] (torch.nn.BatchNorm2d), with PyTorch's state-dict names:
 * weight, bias, running_mean, running_var, num_batches_tracked.
 */
export class BatchNorm2d extends Module {
  readonly eps: number;
  /** Settable, as in PyTorch (null: cumulative average). */
  momentum: number | null;
  readonly affine: boolean;
  readonly trackRunningStats: boolean;
  constructor(
    readonly numFeatures: number,
    o: BatchNormOptions = {},
  ) {
    super();
    this.eps = o.eps ?? 1e-5;
    this.momentum = o.momentum === undefined ? 0.1 : o.momentum;
    this.affine = o.affine ?? true;
    this.trackRunningStats = o.trackRunningStats ?? true;
    if (this.affine) {
      this.registerParameter('weight', empty([numFeatures]).fill_(1));
      this.registerParameter('bias', empty([numFeatures]).fill_(0));
    }
    if (this.trackRunningStats) {
      this.registerBuffer('running_mean', empty([numFeatures]).fill_(0));
      this.registerBuffer('running_var', empty([numFeatures]).fill_(1));
      this.registerBuffer('num_batches_tracked', empty([], 'int64').fill_(0));
    }
  }
  get weight(): Tensor | null {
    return this.getParameter('weight');
  }
  get bias(): Tensor | null {
    return this.getParameter('bias');
  }
  get runningMean(): Tensor | null {
    return this.getBuffer('running_mean');
  }
  get runningVar(): Tensor | null {
    return this.getBuffer('running_var');
  }
  /** Re-estimation helper: resets running statistics to mean 0, variance 1, count 0. */
  resetRunningStats(): void {
    this.runningMean?.fill_(0);
    this.runningVar?.fill_(1);
    this.getBuffer('num_batches_tracked')?.fill_(0);
  }
  forward(x: Tensor): Tensor {
    const useBatchStats = this.training || !this.trackRunningStats;
    let factor = this.momentum ?? 0;
    if (this.training && this.trackRunningStats) {
      const n = this.getBuffer('num_batches_tracked') as Tensor;
      const count = n.item() + 1;
      noGrad(() => n.fill_(count));
      if (this.momentum === null) factor = 1 / count;
    }
    return F.batchNorm(x, this.runningMean, this.runningVar, {
      weight: this.weight,
      bias: this.bias,
      training: useBatchStats,
      momentum: factor,
      eps: this.eps,
    });
  }
}

/** max(x, 0) */
export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return x.relu();
  }
}

/** Returns its input. */
export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}

export class MaxPool2d extends Module {
  constructor(
    readonly kernelSize: F.Pair,
    readonly o: { stride?: F.Pair; padding?: F.Pair; dilation?: F.Pair; ceilMode?: boolean } = {},
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.maxPool2d(x, this.kernelSize, this.o);
  }
}

export class AvgPool2d extends Module {
  constructor(
    readonly kernelSize: F.Pair,
    readonly o: { stride?: F.Pair; padding?: F.Pair; ceilMode?: boolean; countIncludePad?: boolean } = {},
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.avgPool2d(x, this.kernelSize, this.o);
  }
}

export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: F.Pair) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.adaptiveAvgPool2d(x, this.outputSize);
  }
}

export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.dropout(x, this.p, this.training);
  }
}

/** Calls its sub-modules in order; they are named '0', '1', ... as in PyTorch. */
export class Sequential extends Module {
  constructor(...modules: Module[]) {
    super();
    modules.forEach((m, i) => this.registerModule(String(i), m));
  }
  get length(): number {
    return this.children().length;
  }
  at(i: number): Module {
    return this.children()[i];
  }
  forward(x: Tensor): Tensor {
    let y = x;
    for (const m of this.children()) y = m.forward(y) as Tensor;
    return y;
  }
}

/** A list of sub-modules named '0', '1', ... (no forward of its own). */
export class ModuleList<M extends Module = Module> extends Module {
  private items: M[] = [];
  constructor(modules: M[] = []) {
    super();
    for (const m of modules) this.push(m);
  }
  push(m: M): void {
    this.registerModule(String(this.items.length), m);
    this.items.push(m);
  }
  get length(): number {
    return this.items.length;
  }
  at(i: number): M {
    return this.items[i];
  }
  [Symbol.iterator](): Iterator<M> {
    return this.items[Symbol.iterator]();
  }
  forward(): never {
    throw new Error('ModuleList has no forward(); call its items');
  }
}
