/** torch.nn.utils. */
import { native } from '../../native/binding';
import { handleOf, Tensor } from '../tensor';

/**
 * Scales the gradients of `params` so that their joint L2 norm is at most `maxNorm`
 * (torch.nn.utils.clip_grad_norm_); returns the norm before clipping. One native call.
 */
export function clipGradNorm(params: Tensor[], maxNorm: number): number {
  return native.clipGradNorm(
    params.map((p, i) => handleOf(p, `clipGradNorm: params[${i}]`)),
    maxNorm,
  );
}
