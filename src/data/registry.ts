/**
 * One entry point for every data set: `getDataset(name, { split, root, ... })`.
 */
import { brainMri } from './brain';
import { cityscapes } from './cityscapes';
import { fashionMnist, fashionScenes } from './fashion';
import { folder } from './folder';
import { voc } from './voc';
import { Dataset } from './types';
import { resized, subset } from './wrappers';

/** The registered data set names. */
export const DATASET_NAMES = ['cityscapes', 'voc', 'folder', 'fashion-scenes', 'brain-mri', 'fashion-mnist'] as const;

/** A registered data set name. */
export type DatasetName = (typeof DATASET_NAMES)[number];

/**
 * Options of {@link getDataset}. Besides these, each data set takes its own (see its options
 * type: CityscapesOptions, FashionScenesOptions, BrainMriOptions, ...); all values must be plain
 * data so that loader workers can rebuild the data set.
 */
export interface GetDatasetOptions {
  /** 'train' or 'val' (Cityscapes also 'test'; VOC any list; folder also 'all'). */
  split: string;
  /** Data folder: required for cityscapes, voc and folder; overrides the Debian folder otherwise. */
  root?: string;
  /** Skip bad files found while scanning (recorded in `skipped`) instead of throwing. */
  skipBad?: boolean;
  /** Resize every sample to [height, width] (fashion-scenes: the canvas size). */
  size?: [number, number];
  /** Keep only the first `limit` samples. */
  limit?: number;
  [option: string]: unknown;
}

/**
 * A data set by name.
 *
 * @example
 * const train = getDataset('fashion-scenes', { split: 'train' });
 * const s = train.get(0); // { image: Float32Array(3*64*64), mask: Uint8Array(64*64), height: 64, width: 64, ... }
 * const city = getDataset('cityscapes', { root: '/data/cityscapes', split: 'val', size: [256, 512] });
 */
export function getDataset(name: DatasetName | string, opts: GetDatasetOptions): Dataset {
  const { size, limit, ...rest } = opts;
  const need = (): string => {
    if (typeof opts.root !== 'string' || opts.root.length === 0) throw new Error(`getDataset('${name}'): option root (the data folder) is required`);
    return opts.root;
  };
  let ds: Dataset;
  switch (name) {
    case 'cityscapes':
      ds = cityscapes({ ...rest, root: need(), split: opts.split });
      break;
    case 'voc':
      ds = voc({ ...rest, root: need(), split: opts.split });
      break;
    case 'folder':
      ds = folder({ ...rest, root: need(), split: opts.split });
      break;
    case 'fashion-scenes':
      ds = fashionScenes({ ...rest, split: opts.split, size });
      break;
    case 'brain-mri':
      ds = brainMri({ ...rest, split: opts.split });
      break;
    case 'fashion-mnist':
      ds = fashionMnist({ ...rest, split: opts.split });
      break;
    default:
      throw new RangeError(`unknown data set '${name}' (expected one of ${DATASET_NAMES.join(', ')})`);
  }
  if (size && name !== 'fashion-scenes') ds = resized(ds, size);
  if (limit !== undefined && limit !== null) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`getDataset: limit must be a positive integer, got ${limit}`);
    if (limit < ds.length)
      ds = subset(
        ds,
        Array.from({ length: limit }, (_, i) => i),
      );
  }
  ds.spec = { name, options: { ...opts } };
  return ds;
}
