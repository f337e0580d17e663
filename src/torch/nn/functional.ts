/**
 * torch.nn.functional in camelCase. Argument order and defaults follow PyTorch.
 */
import { native, op } from '../../native/binding';
import { tidy } from '../memory';
import { handleOf, Tensor, wrap } from '../tensor';

export type Pair = number | [number, number];
const pair = (v: Pair): [number, number] => (typeof v === 'number' ? [v, v] : v);
const opt = (t: Tensor | null | undefined, what: string) => (t ? handleOf(t, what) : null);

export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
}

/** 2-D convolution; `input` is [N, C, H, W], `weight` [Cout, Cin/groups, kH, kW]. */
export function conv2d(input: Tensor, weight: Tensor, bias: Tensor | null = null, o: Conv2dOptions = {}): Tensor {
  return wrap(
    native.conv2d(
      handleOf(input, 'conv2d: input'),
      handleOf(weight, 'conv2d: weight'),
      opt(bias, 'conv2d: bias'),
      pair(o.stride ?? 1),
      pair(o.padding ?? 0),
      pair(o.dilation ?? 1),
      o.groups ?? 1,
    ),
  );
}

/** y = x W^T + b */
export function linear(input: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  return wrap(native.linear(handleOf(input, 'linear: input'), handleOf(weight, 'linear: weight'), opt(bias, 'linear: bias')));
}

/**
 * Batch normalisation. In training mode batch statistics are used and the running ones (when
 * given) are updated in place with `momentum`; in eval mode the running ones are used.
 */
export function batchNorm(
  input: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  o: { weight?: Tensor | null; bias?: Tensor | null; training?: boolean; momentum?: number; eps?: number } = {},
): Tensor {
  return wrap(
    native.batchNorm(
      handleOf(input, 'batchNorm: input'),
      opt(o.weight, 'batchNorm: weight'),
      opt(o.bias, 'batchNorm: bias'),
      opt(runningMean, 'batchNorm: runningMean'),
      opt(runningVar, 'batchNorm: runningVar'),
      o.training ?? false,
      o.momentum ?? 0.1,
      o.eps ?? 1e-5,
    ),
  );
}

export function maxPool2d(input: Tensor, kernelSize: Pair, o: { stride?: Pair; padding?: Pair; dilation?: Pair; ceilMode?: boolean } = {}): Tensor {
  return wrap(
    native.maxPool2d(
      handleOf(input, 'maxPool2d: input'),
      pair(kernelSize),
      pair(o.stride ?? kernelSize),
      pair(o.padding ?? 0),
      pair(o.dilation ?? 1),
      o.ceilMode ?? false,
    ),
  );
}

export function avgPool2d(input: Tensor, kernelSize: Pair, o: { stride?: Pair; padding?: Pair; ceilMode?: boolean; countIncludePad?: boolean } = {}): Tensor {
  return wrap(
    native.avgPool2d(
      handleOf(input, 'avgPool2d: input'),
      pair(kernelSize),
      pair(o.stride ?? kernelSize),
      pair(o.padding ?? 0),
      o.ceilMode ?? false,
      o.countIncludePad ?? true,
    ),
  );
}

export function adaptiveAvgPool2d(input: Tensor, outputSize: Pair): Tensor {
  return wrap(native.adaptiveAvgPool2d(handleOf(input, 'adaptiveAvgPool2d: input'), pair(outputSize)));
}

/** Resizes [N, C, H, W] to `size` = [H', W'] ('bilinear' or 'nearest'; masks always 'nearest'). */
export function interpolate(input: Tensor, size: [number, number], o: { mode?: 'bilinear' | 'nearest'; alignCorners?: boolean } = {}): Tensor {
  return wrap(native.interpolate(handleOf(input, 'interpolate: input'), size, o.mode ?? 'nearest', o.alignCorners ?? false));
}

export const relu = (x: Tensor) => x.relu();
export const sigmoid = (x: Tensor) => x.sigmoid();
export const tanh = (x: Tensor) => x.tanh();
export const softmax = (x: Tensor, dim: number) => x.softmax(dim);
export const logSoftmax = (x: Tensor, dim: number) => x.logSoftmax(dim);
export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor {
  return wrap(native.scalar(LEAKY_RELU, handleOf(x, 'leakyRelu: input'), negativeSlope));
}
const LEAKY_RELU = op('scalar', 'leakyRelu');

export function dropout(x: Tensor, p = 0.5, training = true): Tensor {
  if (p < 0 || p > 1) throw new RangeError(`dropout: p must be in [0, 1], got ${p}`);
  return wrap(native.dropout(handleOf(x, 'dropout: input'), p, training));
}

export function pad(x: Tensor, widths: number[], value = 0): Tensor {
  return wrap(native.pad(handleOf(x, 'pad: input'), widths, value));
}

export function oneHot(x: Tensor, numClasses = -1): Tensor {
  return wrap(native.oneHot(handleOf(x, 'oneHot: input'), numClasses));
}

export type Reduction = 'mean' | 'sum' | 'none';

/**
 * Cross entropy between logits [N, C, ...] and int64 class targets [N, ...]; pixels equal to
 * `ignoreIndex` (default -100, 255 for Cityscapes) count neither in the loss nor in the mean.
 */
export function crossEntropy(
  input: Tensor,
  target: Tensor,
  o: { weight?: Tensor | null; ignoreIndex?: number; reduction?: Reduction; labelSmoothing?: number } = {},
): Tensor {
  return wrap(
    native.crossEntropy(
      handleOf(input, 'crossEntropy: input'),
      handleOf(target, 'crossEntropy: target'),
      opt(o.weight, 'crossEntropy: weight'),
      o.ignoreIndex ?? -100,
      o.reduction ?? 'mean',
      o.labelSmoothing ?? 0,
    ),
  );
}

export function nllLoss(input: Tensor, target: Tensor, o: { weight?: Tensor | null; ignoreIndex?: number; reduction?: Reduction } = {}): Tensor {
  return wrap(
    native.nllLoss(
      handleOf(input, 'nllLoss: input'),
      handleOf(target, 'nllLoss: target'),
      opt(o.weight, 'nllLoss: weight'),
      o.ignoreIndex ?? -100,
      o.reduction ?? 'mean',
    ),
  );
}

export function mseLoss(input: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  return wrap(native.mseLoss(handleOf(input, 'mseLoss: input'), handleOf(target, 'mseLoss: target'), reduction));
}

/**
 * Gumbel-softmax over `dim` (torch.nn.functional.gumbel_softmax): softmax((logits + g) / tau)
 * with g ~ Gumbel(0, 1) from the seeded generator. With `hard`, the forward value is one-hot at
 * the argmax and the gradient is the soft sample's (straight-through).
 */
export function gumbelSoftmax(logits: Tensor, o: { tau?: number; hard?: boolean; dim?: number } = {}): Tensor {
  const tau = o.tau ?? 1;
  const dim = o.dim ?? -1;
  const input = handleOf(logits, 'gumbelSoftmax: logits');
  return tidy(() => {
    const g = wrap(native.gumbelLike(input));
    const soft = logits.add(g).div(tau).softmax(dim);
    if (!o.hard) return soft;
    // One-hot at the argmax (ties have probability zero under continuous noise).
    const y = soft.ge(soft.amax(dim, true)).to(soft.dtype);
    // y - soft.detach() + soft: the value of y, the gradient of soft (straight-through).
    return y.sub(soft.detach()).add(soft);
  });
}
