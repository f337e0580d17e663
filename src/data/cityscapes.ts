/**
 * Cityscapes (Cordts et al., CVPR 2016), fine annotations:
 *
 *   {root}/leftImg8bit/{split}/{city}/{name}_leftImg8bit.png
 *   {root}/gtFine/{split}/{city}/{name}_gtFine_labelIds.png
 *
 * labelIds (0-33) are mapped to the 19 training classes; every other id becomes 255 (ignore).
 * The table is the one of cityscapesScripts' labels.py (id, name, trainId, colour).
 */
import * as path from 'node:path';
import { BadSample, DataError } from './errors';
import { IMAGENET_STATS, RGB } from './types';
import { exists, listDir, lutMapper, PairedFileDataset, PairEntry, reject } from './files';

/** One row of the Cityscapes label table. */
export interface CityscapesLabel {
  /** The value stored in *_labelIds.png. */
  id: number;
  name: string;
  /** Training class (0-18), or 255 for labels ignored in training and evaluation. */
  trainId: number;
  /** Colour of the official colour images. */
  color: RGB;
}

/** The 34 Cityscapes labels (ids 0-33), as cityscapesScripts defines them. */
export const CITYSCAPES_LABELS: readonly CityscapesLabel[] = [
  { id: 0, name: 'unlabeled', trainId: 255, color: [0, 0, 0] },
  { id: 1, name: 'ego vehicle', trainId: 255, color: [0, 0, 0] },
  { id: 2, name: 'rectification border', trainId: 255, color: [0, 0, 0] },
  { id: 3, name: 'out of roi', trainId: 255, color: [0, 0, 0] },
  { id: 4, name: 'static', trainId: 255, color: [0, 0, 0] },
  { id: 5, name: 'dynamic', trainId: 255, color: [111, 74, 0] },
  { id: 6, name: 'ground', trainId: 255, color: [81, 0, 81] },
  { id: 7, name: 'road', trainId: 0, color: [128, 64, 128] },
  { id: 8, name: 'sidewalk', trainId: 1, color: [244, 35, 232] },
  { id: 9, name: 'parking', trainId: 255, color: [250, 170, 160] },
  { id: 10, name: 'rail track', trainId: 255, color: [230, 150, 140] },
  { id: 11, name: 'building', trainId: 2, color: [70, 70, 70] },
  { id: 12, name: 'wall', trainId: 3, color: [102, 102, 156] },
  { id: 13, name: 'fence', trainId: 4, color: [190, 153, 153] },
  { id: 14, name: 'guard rail', trainId: 255, color: [180, 165, 180] },
  { id: 15, name: 'bridge', trainId: 255, color: [150, 100, 100] },
  { id: 16, name: 'tunnel', trainId: 255, color: [150, 120, 90] },
  { id: 17, name: 'pole', trainId: 5, color: [153, 153, 153] },
  { id: 18, name: 'polegroup', trainId: 255, color: [153, 153, 153] },
  { id: 19, name: 'traffic light', trainId: 6, color: [250, 170, 30] },
  { id: 20, name: 'traffic sign', trainId: 7, color: [220, 220, 0] },
  { id: 21, name: 'vegetation', trainId: 8, color: [107, 142, 35] },
  { id: 22, name: 'terrain', trainId: 9, color: [152, 251, 152] },
  { id: 23, name: 'sky', trainId: 10, color: [70, 130, 180] },
  { id: 24, name: 'person', trainId: 11, color: [220, 20, 60] },
  { id: 25, name: 'rider', trainId: 12, color: [255, 0, 0] },
  { id: 26, name: 'car', trainId: 13, color: [0, 0, 142] },
  { id: 27, name: 'truck', trainId: 14, color: [0, 0, 70] },
  { id: 28, name: 'bus', trainId: 15, color: [0, 60, 100] },
  { id: 29, name: 'caravan', trainId: 255, color: [0, 0, 90] },
  { id: 30, name: 'trailer', trainId: 255, color: [0, 0, 110] },
  { id: 31, name: 'train', trainId: 16, color: [0, 80, 100] },
  { id: 32, name: 'motorcycle', trainId: 17, color: [0, 0, 230] },
  { id: 33, name: 'bicycle', trainId: 18, color: [119, 11, 32] },
];

/** The 19 training classes in trainId order. */
export const CITYSCAPES_CLASSES: readonly string[] = CITYSCAPES_LABELS.filter((l) => l.trainId !== 255)
  .sort((a, b) => a.trainId - b.trainId)
  .map((l) => l.name);

/** Colours of the 19 training classes in trainId order. */
export const CITYSCAPES_PALETTE: readonly RGB[] = CITYSCAPES_LABELS.filter((l) => l.trainId !== 255)
  .sort((a, b) => a.trainId - b.trainId)
  .map((l) => l.color);

/** labelId -> trainId for all 256 byte values: 255 for ignored labels, -1 for values that are no Cityscapes id. */
export function cityscapesLut(): Int16Array {
  const lut = new Int16Array(256).fill(-1);
  for (const l of CITYSCAPES_LABELS) lut[l.id] = l.trainId;
  return lut;
}

/** Options of {@link cityscapes}. */
export interface CityscapesOptions {
  /** The folder holding leftImg8bit/ and gtFine/. */
  root: string;
  /** 'train', 'val' or 'test'. */
  split: string;
  /** Skip (and record in `skipped`) images without a label file and empty city folders instead of throwing. */
  skipBad?: boolean;
}

/**
 * The Cityscapes fine-annotation data set of one split. Images are checked lazily: a corrupt or
 * truncated file, a size mismatch or a labelId above 33 throws a DataError from `get(i)`.
 */
export function cityscapes(opts: CityscapesOptions): PairedFileDataset {
  const { root, split } = opts;
  const skipBad = opts.skipBad ?? false;
  const imgRoot = path.join(root, 'leftImg8bit', split);
  const gtRoot = path.join(root, 'gtFine', split);
  const skipped: BadSample[] = [];
  const entries: PairEntry[] = [];
  const cities = listDir(imgRoot, 'expected the Cityscapes layout leftImg8bit/{split}/{city}/*_leftImg8bit.png').filter((d) => d.isDirectory());
  if (!exists(gtRoot)) throw new DataError(gtRoot, 'folder does not exist (expected gtFine/{split}/{city}/*_gtFine_labelIds.png next to leftImg8bit/)');
  for (const c of cities) {
    const dir = path.join(imgRoot, c.name);
    const imgs = listDir(dir, 'city folder').filter((f) => f.isFile() && f.name.endsWith('_leftImg8bit.png'));
    if (imgs.length === 0) {
      reject(skipBad, skipped, dir, 'empty folder: no *_leftImg8bit.png images');
      continue;
    }
    for (const f of imgs) {
      const base = f.name.slice(0, -'_leftImg8bit.png'.length);
      const mask = path.join(gtRoot, c.name, `${base}_gtFine_labelIds.png`);
      const image = path.join(dir, f.name);
      if (!exists(mask)) {
        reject(skipBad, skipped, mask, `label file missing for image ${image}`);
        continue;
      }
      entries.push({ id: base, image, mask });
    }
  }
  if (entries.length === 0) {
    throw new DataError(imgRoot, cities.length === 0 ? 'empty folder: no city folders' : 'no usable images (all were skipped)');
  }
  return new PairedFileDataset(
    { name: 'cityscapes', split, classNames: [...CITYSCAPES_CLASSES], palette: CITYSCAPES_PALETTE.map((c) => [...c] as RGB), stats: IMAGENET_STATS },
    entries,
    lutMapper(cityscapesLut(), 'Cityscapes (labelIds 0-33)'),
    skipped,
  );
}
