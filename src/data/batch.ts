/**
 * Assembling a batch from sample indices: read, augment, stack. Runs in loader workers and, with
 * `workers: 0`, in the calling thread. Nothing here loads libtorch.
 */
import { BadSample, isDataError } from './errors';
import { hashSeed, Rng } from './rng';
import { AugmentOptions, transformSample } from './transforms';
import { Dataset, Sample } from './types';

/** A stacked batch, ready for {@link toTensors} (src/data/tensors.ts). */
export interface Batch {
  /** N*C*H*W floats, NCHW. */
  images: Float32Array;
  /** Segmentation: N*H*W class indices (255 = ignore). */
  masks?: Uint8Array;
  /** Classification: N labels. */
  labels?: Int32Array;
  /** [N, C, H, W]. */
  shape: [number, number, number, number];
  /** Data set indices of the N samples, in batch order. */
  indices: number[];
  /** Their ids. */
  ids: string[];
  /** Samples of this batch left out because they were bad (only with skipBad). */
  skipped: BadSample[];
}

/** The augmentation rng of one sample: depends only on (seed, epoch, index), not on workers. */
export function sampleRng(seed: number, epoch: number, index: number): Rng {
  return new Rng(hashSeed(seed, epoch, index, 0x5a3e));
}

/**
 * Reads, transforms and stacks samples `indices` of `ds`. Samples of different sizes are padded
 * at the bottom and right to the largest (image 0, mask 255). With `skipBad`, samples whose
 * files are bad are left out and listed in `skipped`; otherwise their DataError is thrown.
 */
export function makeBatch(ds: Dataset, indices: number[], epoch: number, seed: number, augment: AugmentOptions, skipBad: boolean): Batch {
  const samples: Sample[] = [];
  const used: number[] = [];
  const skipped: BadSample[] = [];
  for (const i of indices) {
    let s: Sample;
    try {
      s = ds.get(i);
    } catch (e) {
      if (skipBad && isDataError(e)) {
        skipped.push({ file: e.file, reason: e.reason, index: i });
        continue;
      }
      throw e;
    }
    samples.push(transformSample(s, sampleRng(seed, epoch, i), augment));
    used.push(i);
  }
  const N = samples.length;
  const C = N ? samples[0].channels : ds.channels;
  let H = 0,
    W = 0;
  for (const s of samples) {
    H = Math.max(H, s.height);
    W = Math.max(W, s.width);
  }
  const images = new Float32Array(N * C * H * W);
  const seg = ds.task === 'segmentation';
  const masks = seg ? new Uint8Array(N * H * W).fill(255) : undefined;
  const labels = seg ? undefined : new Int32Array(N);
  samples.forEach((s, n) => {
    const { height: h, width: w } = s;
    if (h === H && w === W) {
      images.set(s.image, n * C * H * W);
      if ('mask' in s) masks!.set(s.mask, n * H * W);
    } else {
      for (let c = 0; c < C; c++) for (let y = 0; y < h; y++) images.set(s.image.subarray((c * h + y) * w, (c * h + y + 1) * w), ((n * C + c) * H + y) * W);
      if ('mask' in s) for (let y = 0; y < h; y++) masks!.set(s.mask.subarray(y * w, (y + 1) * w), (n * H + y) * W);
    }
    if ('label' in s) labels![n] = s.label;
  });
  return { images, masks, labels, shape: [N, C, H, W], indices: used, ids: samples.map((s) => s.id), skipped };
}
