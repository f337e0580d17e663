/**
 * Batches as torch tensors. Kept apart from the rest of src/data so that worker threads never
 * load libtorch.
 */
import { tensor } from '../torch';
import type { Tensor } from '../torch';
import { Batch } from './batch';

/**
 * The tensors of a batch: `x` float32 [N, C, H, W]; `y` int64 [N, H, W] class indices
 * (255 = ignore) for segmentation or int64 [N] for classification. Copies the arrays.
 *
 * @example
 * for await (const b of loader.epoch(e)) {
 *   const { x, y } = toTensors(b);
 *   ...
 *   x.dispose(); y.dispose();
 * }
 */
export function toTensors(batch: Batch, opts: { device?: string } = {}): { x: Tensor; y: Tensor } {
  const [N, C, H, W] = batch.shape;
  const x = tensor(batch.images, { shape: [N, C, H, W], dtype: 'float32', device: opts.device });
  const y = batch.masks
    ? tensor(batch.masks, { shape: [N, H, W], dtype: 'int64', device: opts.device })
    : tensor(batch.labels!, { shape: [N], dtype: 'int64', device: opts.device });
  return { x, y };
}
