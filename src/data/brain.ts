/**
 * `brain-mri`: axial slices of the real Colin27 ("ch2") T1 brain MRI of the Debian package
 * mricron-data, labelled with the AAL atlas (aal.nii.gz + aal.nii.txt) grouped into lobes and the
 * brain mask of ch2bet.nii.gz:
 *
 *   0 background           outside the brain (air, skull, scalp)
 *   1 other brain          inside the brain mask but without an AAL label (mostly white matter, ventricles)
 *   2 frontal              AAL codes 2xxx (precentral, frontal gyri, SMA, olfactory, rectus, ...)
 *   3 insula/limbic        3xxx and 4xxx (insula, cingulum, hippocampus, parahippocampal, amygdala)
 *   4 occipital            5xxx (calcarine, cuneus, lingual, occipital gyri, fusiform)
 *   5 parietal             6xxx (postcentral, parietal, supramarginal, angular, precuneus, paracentral)
 *   6 deep grey nuclei     7xxx (caudate, putamen, pallidum, thalamus)
 *   7 temporal             8xxx (Heschl, temporal gyri and poles)
 *   8 cerebellum           9xxx (cerebellar hemispheres and vermis)
 *
 * The group is the thousands digit of the region code in the third column of aal.nii.txt. The
 * atlas and mask are resampled (nearest neighbour, world coordinates) onto the MRI's grid when
 * their grids differ; for the Debian files they coincide (181 x 217 x 181, 1 mm).
 *
 * Slices: the axial slices (k) in which the brain covers at least `minBrain` of the slice. Counting
 * from the first of them, slices fall into blocks of `block`; every `valEvery`-th block is
 * validation and the `gap` slices on either side of a validation block belong to neither split,
 * so train and val share no slice and no direct neighbour. Image rows run anterior (top) to
 * posterior, columns along the volume's i axis (the subject's left to right for these files).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataError } from './errors';
import { DEBIAN_SOURCES, requireDebianData } from './debian';
import { NiftiVolume, readNifti, resampleNearest, sameGrid } from './nifti';
import { checkIndex, IGNORE_INDEX, RGB, SegmentationDataset, SegmentationSample } from './types';

/** Class names of brain-mri. */
export const BRAIN_CLASSES: readonly string[] = [
  'background',
  'other brain',
  'frontal',
  'insula/limbic',
  'occipital',
  'parietal',
  'deep grey nuclei',
  'temporal',
  'cerebellum',
];

/** Visualisation colours of brain-mri's classes. */
export const BRAIN_PALETTE: readonly RGB[] = [
  [0, 0, 0],
  [200, 200, 200],
  [230, 25, 75],
  [245, 130, 48],
  [60, 180, 75],
  [0, 130, 200],
  [145, 30, 180],
  [255, 225, 25],
  [70, 240, 240],
];

/** AAL region code (third column of aal.nii.txt) -> brain-mri class. */
export function aalGroup(code: number): number {
  const g = Math.floor(code / 1000);
  switch (g) {
    case 2:
      return 2;
    case 3:
    case 4:
      return 3;
    case 5:
      return 4;
    case 6:
      return 5;
    case 7:
      return 6;
    case 8:
      return 7;
    case 9:
      return 8;
    default:
      return -1;
  }
}

/** The prepared volume: labels per voxel on the MRI grid, plus the slice split. */
export interface BrainVolume {
  dims: [number, number, number];
  /** MRI intensities scaled to [0, 1] (divided by the volume's maximum). */
  image: Float32Array;
  /** Class per voxel (0-8). */
  labels: Uint8Array;
  /** Axial slice indices k of each split. */
  slices: { train: number[]; val: number[] };
  /** Whether the atlas had to be resampled onto the image grid. */
  resampled: boolean;
}

/** Options of {@link brainMri}. */
export interface BrainMriOptions {
  /** 'train' or 'val'. */
  split: string;
  /** Folder of ch2.nii.gz, ch2bet.nii.gz, aal.nii.gz, aal.nii.txt (default: the Debian package's). */
  root?: string;
  /** 1 (default) or 3 (grey repeated). */
  channels?: 1 | 3;
  /** Slice split parameters (defaults 8, 4, 1) and the brain share a slice needs (default 0.05). */
  block?: number;
  valEvery?: number;
  gap?: number;
  minBrain?: number;
}

const volumes = new Map<string, BrainVolume>();

function readAalCodes(file: string): Map<number, number> {
  if (!fs.existsSync(file)) throw new DataError(file, 'file does not exist (AAL region names and codes)');
  const m = new Map<number, number>();
  for (const line of fs.readFileSync(file, 'utf8').split(/\r?\n/)) {
    const p = line.trim().split(/\s+/);
    if (p.length >= 3 && /^\d+$/.test(p[0]) && /^\d+$/.test(p[2])) m.set(Number(p[0]), Number(p[2]));
  }
  if (m.size === 0) throw new DataError(file, 'no "index name code" lines');
  return m;
}

/** Loads and prepares the brain volume and its slice split (cached per process and settings). */
export function loadBrainVolume(opts: Omit<BrainMriOptions, 'split' | 'channels'> = {}): BrainVolume {
  const dir = opts.root ?? DEBIAN_SOURCES['brain-mri'].dir;
  const block = opts.block ?? 8,
    valEvery = opts.valEvery ?? 4,
    gap = opts.gap ?? 1,
    minBrain = opts.minBrain ?? 0.05;
  if (!(Number.isInteger(block) && block >= 1 && Number.isInteger(valEvery) && valEvery >= 2 && Number.isInteger(gap) && gap >= 0)) {
    throw new RangeError(`brain-mri: block >= 1, valEvery >= 2 and gap >= 0 must be integers (got ${block}, ${valEvery}, ${gap})`);
  }
  const key = `${dir}|${block}|${valEvery}|${gap}|${minBrain}`;
  const hit = volumes.get(key);
  if (hit) return hit;
  requireDebianData('brain-mri', opts.root);
  const mri = readNifti(path.join(dir, 'ch2.nii.gz'));
  const aal = readNifti(path.join(dir, 'aal.nii.gz'));
  const bet = readNifti(path.join(dir, 'ch2bet.nii.gz'));
  const codes = readAalCodes(path.join(dir, 'aal.nii.txt'));
  const onGrid = (v: NiftiVolume) => (sameGrid(v, mri) ? v.data : resampleNearest(v, mri));
  const resampled = !sameGrid(aal, mri) || !sameGrid(bet, mri);
  const atlas = onGrid(aal);
  const mask = onGrid(bet);
  const [nx, ny, nz] = mri.dims;
  const n = nx * ny * nz;
  const lut = new Map<number, number>();
  for (const [idx, code] of codes) lut.set(idx, aalGroup(code));
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const a = Math.round(atlas[i]);
    if (a > 0) {
      const g = lut.get(a);
      if (g === undefined || g < 0) throw new DataError(path.join(dir, 'aal.nii.gz'), `atlas value ${a} at voxel ${i} has no region in aal.nii.txt`);
      labels[i] = g;
    } else if (mask[i] > 0) {
      labels[i] = 1;
    }
  }
  let max = 0;
  for (let i = 0; i < n; i++) if (mri.data[i] > max) max = mri.data[i];
  const image = new Float32Array(n);
  for (let i = 0; i < n; i++) image[i] = Math.max(0, mri.data[i]) / (max || 1);
  const usable: number[] = [];
  for (let k = 0; k < nz; k++) {
    let brain = 0;
    for (let i = k * nx * ny; i < (k + 1) * nx * ny; i++) if (labels[i] > 0) brain++;
    if (brain >= minBrain * nx * ny) usable.push(k);
  }
  if (usable.length === 0) throw new DataError(path.join(dir, 'ch2.nii.gz'), 'no axial slice has enough brain');
  const k0 = usable[0];
  const isVal = (k: number) => Math.floor((k - k0) / block) % valEvery === valEvery - 1;
  const val = usable.filter(isVal);
  const near = (k: number) => {
    for (let d = 1; d <= gap; d++) if (isVal(k - d) || isVal(k + d)) return true;
    return false;
  };
  const train = usable.filter((k) => !isVal(k) && !near(k));
  const vol: BrainVolume = { dims: [nx, ny, nz], image, labels, slices: { train, val }, resampled };
  volumes.set(key, vol);
  return vol;
}

/** The brain-mri segmentation data set of one split: 9 classes, slices of 217 x 181 pixels. */
export function brainMri(opts: BrainMriOptions): SegmentationDataset {
  if (opts.split !== 'train' && opts.split !== 'val') throw new RangeError(`brain-mri: unknown split '${opts.split}' (expected 'train' or 'val')`);
  const vol = loadBrainVolume(opts);
  const slices = vol.slices[opts.split];
  const [nx, ny] = vol.dims;
  const C = opts.channels ?? 1;
  const H = ny,
    W = nx;
  // Mean/std of the training slices' pixels.
  let sum = 0,
    sq = 0,
    cnt = 0;
  for (const k of vol.slices.train)
    for (let i = k * nx * ny; i < (k + 1) * nx * ny; i++) {
      sum += vol.image[i];
      sq += vol.image[i] ** 2;
      cnt++;
    }
  const mean = sum / cnt,
    std = Math.sqrt(Math.max(1e-12, sq / cnt - mean * mean));
  return {
    name: 'brain-mri',
    split: opts.split,
    task: 'segmentation',
    length: slices.length,
    numClasses: BRAIN_CLASSES.length,
    classNames: [...BRAIN_CLASSES],
    ignoreIndex: IGNORE_INDEX,
    palette: BRAIN_PALETTE.map((c) => [...c] as RGB),
    channels: C,
    stats: { mean: new Array(C).fill(mean), std: new Array(C).fill(std) },
    skipped: [],
    get(i: number): SegmentationSample {
      checkIndex(i, slices.length, 'brain-mri.get');
      const k = slices[i];
      const image = new Float32Array(C * H * W);
      const mask = new Uint8Array(H * W);
      const base = k * nx * ny;
      for (let r = 0; r < H; r++) {
        const j = ny - 1 - r; // anterior (high j) at the top
        for (let x = 0; x < W; x++) {
          const v = base + j * nx + x;
          mask[r * W + x] = vol.labels[v];
          for (let c = 0; c < C; c++) image[c * H * W + r * W + x] = vol.image[v];
        }
      }
      return { image, mask, height: H, width: W, channels: C, id: `brain-mri-z${k}` };
    },
  };
}
