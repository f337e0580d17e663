/**
 * The shared machinery of data sets made of image files paired with PNG label masks.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BadSample, DataError } from './errors';
import { LabelMap, readImage, readLabelMap } from './image';
import { checkIndex, DatasetSpec, IGNORE_INDEX, RGB, SegmentationDataset, SegmentationSample } from './types';

/** One image and its mask file. */
export interface PairEntry {
  id: string;
  image: string;
  mask: string;
}

/** Turns a decoded label map into class indices (255 = ignore); throws a DataError when a value has no class. */
export type LabelMapper = (map: LabelMap, file: string) => Uint8Array;

/**
 * A lookup-table mapper for single-channel masks (grey or palette): `lut[value]` is the class,
 * 255 ignore, and values marked invalid (-1) raise a DataError naming the first such pixel.
 * RGB masks are refused unless `colors` maps them (exact colours; others are an error).
 */
export function lutMapper(lut: Int16Array, what: string, colors?: { rgb: RGB; value: number }[]): LabelMapper {
  return (map, file) => {
    const n = map.width * map.height;
    const out = new Uint8Array(n);
    if (map.kind === 'rgb') {
      if (!colors) throw new DataError(file, `expected a single-channel label mask (grey or palette indices), got an RGB image`);
      const table = new Map<number, number>();
      for (const c of colors) table.set((c.rgb[0] << 16) | (c.rgb[1] << 8) | c.rgb[2], c.value);
      const rgb = map.rgb!;
      for (let i = 0; i < n; i++) {
        const key = (rgb[i * 3] << 16) | (rgb[i * 3 + 1] << 8) | rgb[i * 3 + 2];
        const v = table.get(key);
        if (v === undefined) {
          throw new DataError(
            file,
            `colour (${rgb[i * 3]}, ${rgb[i * 3 + 1]}, ${rgb[i * 3 + 2]}) at (x=${i % map.width}, y=${Math.floor(i / map.width)}) is not a ${what} class colour`,
          );
        }
        out[i] = v;
      }
      return out;
    }
    const v = map.values;
    for (let i = 0; i < n; i++) {
      const m = lut[v[i]];
      if (m < 0) throw new DataError(file, `label ${v[i]} at (x=${i % map.width}, y=${Math.floor(i / map.width)}) is outside the ${what} label map`);
      out[i] = m;
    }
    return out;
  };
}

/** Metadata of a paired-file data set. */
export interface PairMeta {
  name: string;
  split: string;
  classNames: string[];
  palette?: RGB[];
  stats: { mean: number[]; std: number[] };
}

/** A segmentation data set over image/mask file pairs; samples are read on demand. */
export class PairedFileDataset implements SegmentationDataset {
  readonly task = 'segmentation' as const;
  readonly name: string;
  readonly split: string;
  readonly classNames: string[];
  readonly numClasses: number;
  readonly ignoreIndex = IGNORE_INDEX;
  readonly palette?: RGB[];
  readonly channels = 3;
  readonly stats: { mean: number[]; std: number[] };
  readonly skipped: BadSample[];
  spec?: DatasetSpec;
  /** The file pairs, in order. */
  readonly entries: PairEntry[];
  private readonly mapper: LabelMapper;

  constructor(meta: PairMeta, entries: PairEntry[], mapper: LabelMapper, skipped: BadSample[] = []) {
    this.name = meta.name;
    this.split = meta.split;
    this.classNames = meta.classNames;
    this.numClasses = meta.classNames.length;
    this.palette = meta.palette;
    this.stats = meta.stats;
    this.entries = entries;
    this.mapper = mapper;
    this.skipped = skipped;
  }

  get length(): number {
    return this.entries.length;
  }

  /** Reads sample `i`; throws a DataError naming the file when the image or mask is bad. */
  get(i: number): SegmentationSample {
    checkIndex(i, this.entries.length, `${this.name}.get`);
    const e = this.entries[i];
    const img = readImage(e.image, 3);
    const map = readLabelMap(e.mask);
    if (map.width !== img.width || map.height !== img.height) {
      throw new DataError(e.mask, `mask is ${map.width}x${map.height} but its image ${e.image} is ${img.width}x${img.height}`);
    }
    const mask = this.mapper(map, e.mask);
    return { image: img.data, mask, height: img.height, width: img.width, channels: 3, id: e.id };
  }
}

/** Lists a directory's entries (sorted), or throws a DataError naming it. */
export function listDir(dir: string, what: string): fs.Dirent[] {
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    throw new DataError(dir, `folder does not exist (${what})`);
  }
  if (!st.isDirectory()) throw new DataError(dir, `is not a folder (${what})`);
  return fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Whether `p` exists. */
export function exists(p: string): boolean {
  return fs.existsSync(p);
}

/** Records a bad entry when `skipBad`, otherwise throws it. */
export function reject(skipBad: boolean, skipped: BadSample[], file: string, reason: string): void {
  if (!skipBad) throw new DataError(file, reason);
  skipped.push({ file, reason });
}

/** Image files this module reads. */
export const IMAGE_EXT = ['.png', '.jpg', '.jpeg'];

/** The file name without its last extension. */
export function stem(file: string): string {
  const b = path.basename(file);
  const k = b.lastIndexOf('.');
  return k > 0 ? b.slice(0, k) : b;
}
