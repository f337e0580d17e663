/**
 * Free functions mirroring `torch.*` (most delegate to the Tensor methods).
 */
import { native } from '../native/binding';
import { tidy } from './memory';
import { handleOf, Tensor, wrap } from './tensor';

const listOf = (ts: Tensor[], what: string) => {
  if (!Array.isArray(ts) || ts.length === 0) throw new TypeError(`${what}: expected a non-empty array of tensors`);
  return ts.map((t, i) => handleOf(t, `${what}: element ${i}`));
};

/** Concatenates along an existing dimension. */
export function cat(tensors: Tensor[], dim = 0): Tensor {
  return wrap(native.cat(listOf(tensors, 'cat'), dim));
}
/** Stacks along a new dimension. */
export function stack(tensors: Tensor[], dim = 0): Tensor {
  return wrap(native.stack(listOf(tensors, 'stack'), dim));
}
/** Elements of `a` where `condition`, else of `b`. */
export function where(condition: Tensor, a: Tensor, b: Tensor): Tensor {
  return wrap(native.where(handleOf(condition, 'where: condition'), handleOf(a, 'where: input'), handleOf(b, 'where: other')));
}
export const add = (a: Tensor, b: Tensor | number, alpha = 1) => a.add(b, alpha);
export const sub = (a: Tensor, b: Tensor | number) => a.sub(b);
export const mul = (a: Tensor, b: Tensor | number) => a.mul(b);
export const div = (a: Tensor, b: Tensor | number) => a.div(b);
export const pow = (a: Tensor, b: Tensor | number) => a.pow(b);
export const matmul = (a: Tensor, b: Tensor) => a.matmul(b);
export const maximum = (a: Tensor, b: Tensor) => a.maximum(b);
export const minimum = (a: Tensor, b: Tensor) => a.minimum(b);
export const exp = (a: Tensor) => a.exp();
export const log = (a: Tensor) => a.log();
export const sqrt = (a: Tensor) => a.sqrt();
export const abs = (a: Tensor) => a.abs();
export const neg = (a: Tensor) => a.neg();
export const sigmoid = (a: Tensor) => a.sigmoid();
export const tanh = (a: Tensor) => a.tanh();
export const relu = (a: Tensor) => a.relu();
export const clamp = (a: Tensor, min: number | null, max: number | null = null) => a.clamp(min, max);
export const sum = (a: Tensor, dim?: number | number[], keepdim = false) => a.sum(dim, keepdim);
export const mean = (a: Tensor, dim?: number | number[], keepdim = false) => a.mean(dim, keepdim);
export const argmax = (a: Tensor, dim: number | null = null, keepdim = false) => a.argmax(dim, keepdim);
export const topk = (a: Tensor, k: number, dim = -1, largest = true, sorted = true) => a.topk(k, dim, largest, sorted);
export const softmax = (a: Tensor, dim: number) => a.softmax(dim);
export const logSoftmax = (a: Tensor, dim: number) => a.logSoftmax(dim);
export const reshape = (a: Tensor, shape: number[]) => a.reshape(shape);
export const flatten = (a: Tensor, startDim = 0, endDim = -1) => a.flatten(startDim, endDim);
export const split = (a: Tensor, sizes: number | number[], dim = 0) => a.split(sizes, dim);
export const narrow = (a: Tensor, dim: number, start: number, length: number) => a.narrow(dim, start, length);
export const indexSelect = (a: Tensor, dim: number, index: Tensor) => a.indexSelect(dim, index);
export const permute = (a: Tensor, dims: number[]) => a.permute(dims);

/** Whether two tensors share memory (same storage), e.g. after weight inheritance. */
export function sameStorage(a: Tensor, b: Tensor): boolean {
  return native.sameStorage(handleOf(a, 'sameStorage: a'), handleOf(b, 'sameStorage: b'));
}

/** max |a - b| as a number (a test helper that PyTorch users expect next to allclose). */
export function maxAbsDiff(a: Tensor, b: Tensor): number {
  return tidy(() => a.sub(b).abs().amax().item());
}

/** torch.allclose: |a - b| <= atol + rtol * |b| everywhere. */
export function allclose(a: Tensor, b: Tensor, rtol = 1e-5, atol = 1e-8): boolean {
  return tidy(() => a.sub(b).abs().le(b.abs().mul(rtol).add(atol)).all().item() === 1);
}

/** torch.autograd. */
export const autograd = {
  /**
   * Gradients of `outputs` with respect to `inputs`, without touching `.grad` (torch.autograd.grad).
   * Unused inputs give null when `allowUnused`.
   */
  grad(
    outputs: Tensor | Tensor[],
    inputs: Tensor[],
    opts: { gradOutputs?: Tensor[]; retainGraph?: boolean; createGraph?: boolean; allowUnused?: boolean } = {},
  ): (Tensor | null)[] {
    const outs = Array.isArray(outputs) ? outputs : [outputs];
    const r = native.autogradGrad(
      listOf(outs, 'autograd.grad outputs'),
      listOf(inputs, 'autograd.grad inputs'),
      opts.gradOutputs ? listOf(opts.gradOutputs, 'autograd.grad gradOutputs') : null,
      opts.retainGraph ?? opts.createGraph ?? false,
      opts.createGraph ?? false,
      opts.allowUnused ?? false,
    );
    return r.map((h) => (h === null ? null : wrap(h)));
  },
};
