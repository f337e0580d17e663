/**
 * PASCAL VOC 2012 segmentation layout:
 *
 *   {root}/JPEGImages/{id}.jpg
 *   {root}/SegmentationClass/{id}.png        palette PNG; the palette *indices* are the classes
 *   {root}/ImageSets/Segmentation/{split}.txt one id per line
 *
 * Index 255 (the object borders) is ignored. `root` may also be the folder above VOC2012/ or
 * above VOCdevkit/.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BadSample, DataError } from './errors';
import { exists, IMAGE_EXT, lutMapper, PairedFileDataset, PairEntry, reject } from './files';
import { IMAGENET_STATS, RGB } from './types';

/** The 21 VOC classes (background first). */
export const VOC_CLASSES: readonly string[] = [
  'background',
  'aeroplane',
  'bicycle',
  'bird',
  'boat',
  'bottle',
  'bus',
  'car',
  'cat',
  'chair',
  'cow',
  'diningtable',
  'dog',
  'horse',
  'motorbike',
  'person',
  'pottedplant',
  'sheep',
  'sofa',
  'train',
  'tvmonitor',
];

/** The VOC colour map: entry i has the bits of i spread over R, G, B (256 entries; 255 is (224, 224, 192)). */
export function vocColormap(n = 256): RGB[] {
  const out: RGB[] = [];
  for (let i = 0; i < n; i++) {
    let r = 0,
      g = 0,
      b = 0,
      c = i;
    for (let j = 0; j < 8; j++) {
      r |= ((c >> 0) & 1) << (7 - j);
      g |= ((c >> 1) & 1) << (7 - j);
      b |= ((c >> 2) & 1) << (7 - j);
      c >>= 3;
    }
    out.push([r, g, b]);
  }
  return out;
}

/** Options of {@link voc}. */
export interface VocOptions {
  root: string;
  /** A list in ImageSets/Segmentation/: 'train', 'val', 'trainval'. */
  split: string;
  skipBad?: boolean;
}

function resolveRoot(root: string): string {
  for (const r of [root, path.join(root, 'VOC2012'), path.join(root, 'VOCdevkit', 'VOC2012')]) {
    if (exists(path.join(r, 'ImageSets', 'Segmentation'))) return r;
  }
  throw new DataError(
    path.join(root, 'ImageSets', 'Segmentation'),
    'folder does not exist (expected the PASCAL VOC layout JPEGImages/, SegmentationClass/, ImageSets/Segmentation/{split}.txt)',
  );
}

/** The PASCAL VOC segmentation data set of one split. */
export function voc(opts: VocOptions): PairedFileDataset {
  const root = resolveRoot(opts.root);
  const skipBad = opts.skipBad ?? false;
  const list = path.join(root, 'ImageSets', 'Segmentation', `${opts.split}.txt`);
  if (!exists(list)) throw new DataError(list, `split list does not exist (split '${opts.split}')`);
  const ids = fs
    .readFileSync(list, 'utf8')
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (ids.length === 0) throw new DataError(list, 'empty split list: no image ids');
  const skipped: BadSample[] = [];
  const entries: PairEntry[] = [];
  for (const id of ids) {
    const image = IMAGE_EXT.map((e) => path.join(root, 'JPEGImages', id + e)).find(exists);
    const mask = path.join(root, 'SegmentationClass', `${id}.png`);
    if (!image) {
      reject(skipBad, skipped, path.join(root, 'JPEGImages', `${id}.jpg`), `image listed in ${list} does not exist`);
      continue;
    }
    if (!exists(mask)) {
      reject(skipBad, skipped, mask, `label file missing for image ${image}`);
      continue;
    }
    entries.push({ id, image, mask });
  }
  if (entries.length === 0) throw new DataError(list, 'no usable images (all were skipped)');
  const lut = new Int16Array(256).fill(-1);
  for (let i = 0; i < VOC_CLASSES.length; i++) lut[i] = i;
  lut[255] = 255;
  const cmap = vocColormap();
  const colors = [...VOC_CLASSES.map((_, i) => ({ rgb: cmap[i], value: i })), { rgb: cmap[255], value: 255 }];
  return new PairedFileDataset(
    { name: 'voc', split: opts.split, classNames: [...VOC_CLASSES], palette: cmap.slice(0, VOC_CLASSES.length), stats: IMAGENET_STATS },
    entries,
    lutMapper(lut, 'PASCAL VOC (indices 0-20, 255)', colors),
    skipped,
  );
}
