/**
 * The run's precision as a wrapper of a forward pass (`--precision`, docs/search.md "Mixed
 * precision"). The trainer and the benchmarks use the same one.
 */
import { autocast, Tensor } from '../torch';
import type { PRECISIONS } from './config';

/**
 * `forward` in `precision`: fp32 as it is; bf16 under autocast (bfloat16 on `device`'s type) with
 * the logits cast to float32, so the loss, the backward from it and the scores stay float32, as
 * PyTorch's autocast recipe has it.
 *
 * @example
 * const f = inPrecision((x) => net.forward(x), 'bf16', 'cpu');
 * F.crossEntropy(f(x), y).backward(); // bf16 convolutions, float32 loss
 */
export function inPrecision(forward: (x: Tensor) => Tensor, precision: (typeof PRECISIONS)[number], device: string): (x: Tensor) => Tensor {
  if (precision !== 'bf16') return forward;
  const type = device.startsWith('cuda') ? 'cuda' : 'cpu';
  return (x) => autocast(type, () => forward(x), { dtype: 'bfloat16' }).to('float32');
}
