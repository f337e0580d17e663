/**
 * Data sets built from the real Fashion-MNIST images of the Debian package dataset-fashion-mnist
 * (/usr/share/datasets/fashion-mnist): the 28x28 classification task itself, and
 * `fashion-scenes`, a segmentation task whose canvases hold several real items pasted at random
 * scale and place over a textured, noisy background. Scenes are generated on demand from a seeded
 * generator, so sample i is the same everywhere; train scenes use the Fashion-MNIST training
 * images, val scenes the test images.
 */
import * as path from 'node:path';
import { DataError } from './errors';
import { requireDebianData, DEBIAN_SOURCES } from './debian';
import { readIdx } from './idx';
import { hashSeed, Rng } from './rng';
import { resizeBilinear } from './transforms';
import { checkIndex, ClassificationDataset, ClassificationSample, IGNORE_INDEX, RGB, SegmentationDataset, SegmentationSample } from './types';

/** The 10 Fashion-MNIST classes. */
export const FASHION_CLASSES: readonly string[] = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

/** The raw images (n x 28 x 28 bytes) and labels of one Fashion-MNIST file pair. */
export interface FashionMnistArrays {
  n: number;
  rows: number;
  cols: number;
  images: Uint8Array;
  labels: Uint8Array;
}

const cache = new Map<string, FashionMnistArrays>();

/**
 * Loads Fashion-MNIST 'train' (60000) or 'test' (10000) arrays, once per process.
 *
 * @throws Error with the apt-get fix when the Debian package is missing.
 */
export function loadFashionMnist(split: 'train' | 'test', root?: string): FashionMnistArrays {
  const dir = root ?? DEBIAN_SOURCES['fashion-mnist'].dir;
  const key = `${dir}|${split}`;
  const hit = cache.get(key);
  if (hit) return hit;
  requireDebianData('fashion-mnist', root);
  const prefix = split === 'train' ? 'train' : 't10k';
  const imgFile = path.join(dir, `${prefix}-images-idx3-ubyte.gz`);
  const lblFile = path.join(dir, `${prefix}-labels-idx1-ubyte.gz`);
  const img = readIdx(imgFile);
  const lbl = readIdx(lblFile);
  if (img.dims.length !== 3) throw new DataError(imgFile, `expected [n, rows, cols] images, got [${img.dims.join(', ')}]`);
  if (lbl.dims.length !== 1 || lbl.dims[0] !== img.dims[0]) throw new DataError(lblFile, `expected ${img.dims[0]} labels, got [${lbl.dims.join(', ')}]`);
  for (let i = 0; i < lbl.data.length; i++) if (lbl.data[i] > 9) throw new DataError(lblFile, `label ${lbl.data[i]} of item ${i} is outside 0-9`);
  const out = { n: img.dims[0], rows: img.dims[1], cols: img.dims[2], images: img.data, labels: lbl.data };
  cache.set(key, out);
  return out;
}

function splitSource(split: string): 'train' | 'test' {
  if (split === 'train') return 'train';
  if (split === 'val' || split === 'test') return 'test';
  throw new RangeError(`unknown split '${split}' (expected 'train' or 'val')`);
}

/** Options of {@link fashionMnist}. */
export interface FashionMnistOptions {
  /** 'train' (60000 images) or 'val' / 'test' (the 10000 test images). */
  split: string;
  /** Folder of the .gz files (default: the Debian package's). */
  root?: string;
  /** 1 (default) or 3 (grey repeated). */
  channels?: 1 | 3;
}

/** Fashion-MNIST classification (28x28 grey, 10 classes), for the DARTS cell space. */
export function fashionMnist(opts: FashionMnistOptions): ClassificationDataset {
  const src = loadFashionMnist(splitSource(opts.split), opts.root);
  const C = opts.channels ?? 1;
  const hw = src.rows * src.cols;
  return {
    name: 'fashion-mnist',
    split: opts.split,
    task: 'classification',
    length: src.n,
    numClasses: 10,
    classNames: [...FASHION_CLASSES],
    ignoreIndex: IGNORE_INDEX,
    channels: C,
    // Mean and standard deviation of the 60000 training images' pixels in [0, 1].
    stats: { mean: new Array(C).fill(FASHION_MNIST_STATS.mean), std: new Array(C).fill(FASHION_MNIST_STATS.std) },
    skipped: [],
    get(i: number): ClassificationSample {
      checkIndex(i, src.n, 'fashion-mnist.get');
      const image = new Float32Array(C * hw);
      for (let c = 0; c < C; c++) for (let p = 0; p < hw; p++) image[c * hw + p] = src.images[i * hw + p] / 255;
      return { image, label: src.labels[i], height: src.rows, width: src.cols, channels: C, id: `fashion-mnist-${opts.split}-${i}` };
    },
  };
}

/** Options of {@link fashionScenes}. */
export interface FashionScenesOptions {
  /** 'train' (items from the 60000 training images) or 'val' (from the 10000 test images). */
  split: string;
  root?: string;
  /** Canvas size: a side or [height, width] (default 64). */
  size?: number | [number, number];
  /** Number of scenes (default 4000 for train, 1000 for val). */
  length?: number;
  /** Generator seed; changing it gives a different (equally valid) task (default 0). */
  seed?: number;
  /** Items per scene, inclusive range (default [2, 4]). */
  items?: [number, number];
  /** Item side as a fraction of the canvas' shorter side (default [0.35, 0.7]). */
  scale?: [number, number];
  /** An item pixel is labelled (and opaque) where its intensity is above this, in [0, 1] (default 0.25). */
  threshold?: number;
}

/** Per-channel normalisation of fashion-scenes images (measured over the training scenes). */
export const FASHION_SCENE_STATS = { mean: [0.403, 0.405, 0.403], std: [0.193, 0.19, 0.196] } as const;

/** Normalisation of Fashion-MNIST images in [0, 1] (every channel alike). */
export const FASHION_MNIST_STATS = { mean: 0.286, std: 0.353 } as const;

/** Class names of fashion-scenes: background, then the Fashion-MNIST classes (label = class + 1). */
export const FASHION_SCENE_CLASSES: readonly string[] = ['background', ...FASHION_CLASSES];

/** Visualisation colours of fashion-scenes' classes. */
export const FASHION_SCENE_PALETTE: readonly RGB[] = [
  [0, 0, 0],
  [230, 25, 75],
  [60, 180, 75],
  [255, 225, 25],
  [0, 130, 200],
  [245, 130, 48],
  [145, 30, 180],
  [70, 240, 240],
  [240, 50, 230],
  [210, 245, 60],
  [250, 190, 212],
];

function hsv(h: number, s: number, v: number): RGB {
  const i = Math.floor(h * 6),
    f = h * 6 - i;
  const p = v * (1 - s),
    q = v * (1 - f * s),
    t = v * (1 - (1 - f) * s);
  const m = [
    [v, t, p],
    [q, v, p],
    [p, v, t],
    [p, q, v],
    [t, p, v],
    [v, p, q],
  ][i % 6];
  return [m[0], m[1], m[2]];
}

/**
 * Renders scene `index` of a fashion-scenes split. Exposed for tests and visualisation; the data
 * set's `get` calls it.
 */
export function renderFashionScene(
  src: FashionMnistArrays,
  index: number,
  H: number,
  W: number,
  o: { seed: number; splitCode: number; items: [number, number]; scale: [number, number]; threshold: number },
): { image: Float32Array; mask: Uint8Array; items: { source: number; label: number; top: number; left: number; side: number }[] } {
  const rng = new Rng(hashSeed(o.seed, o.splitCode, index));
  const hw = H * W;
  const image = new Float32Array(3 * hw);
  const mask = new Uint8Array(hw);
  // Background: a base colour, low-frequency value noise, oriented stripes and pixel noise.
  const base = hsv(rng.float(), rng.uniform(0.1, 0.6), rng.uniform(0.25, 0.75));
  const G = 4;
  const grid = new Float32Array(3 * (G + 1) * (G + 1));
  for (let i = 0; i < grid.length; i++) grid[i] = rng.uniform(-0.2, 0.2);
  const angle = rng.uniform(0, Math.PI);
  const freq = rng.uniform(2, 8) / Math.max(H, W);
  const phase = rng.uniform(0, 2 * Math.PI);
  const stripe = rng.uniform(0, 0.12);
  const noise = rng.uniform(0.01, 0.06);
  const ca = Math.cos(angle),
    sa = Math.sin(angle);
  for (let y = 0; y < H; y++) {
    const gy = (y / Math.max(1, H - 1)) * G;
    const y0 = Math.min(G - 1, Math.floor(gy)),
      fy = gy - y0;
    for (let x = 0; x < W; x++) {
      const gx = (x / Math.max(1, W - 1)) * G;
      const x0 = Math.min(G - 1, Math.floor(gx)),
        fx = gx - x0;
      const s = stripe * Math.sin(2 * Math.PI * freq * (ca * x + sa * y) + phase);
      for (let c = 0; c < 3; c++) {
        const g = c * (G + 1) * (G + 1);
        const v00 = grid[g + y0 * (G + 1) + x0],
          v01 = grid[g + y0 * (G + 1) + x0 + 1];
        const v10 = grid[g + (y0 + 1) * (G + 1) + x0],
          v11 = grid[g + (y0 + 1) * (G + 1) + x0 + 1];
        const vn = (v00 * (1 - fx) + v01 * fx) * (1 - fy) + (v10 * (1 - fx) + v11 * fx) * fy;
        image[c * hw + y * W + x] = base[c] + vn + s + noise * rng.normal();
      }
    }
  }
  // Items: real Fashion-MNIST images, resized, tinted, pasted; later ones occlude earlier ones.
  const count = o.items[0] + rng.int(o.items[1] - o.items[0] + 1);
  const short = Math.min(H, W);
  const items = [];
  const side28 = src.rows * src.cols;
  for (let k = 0; k < count; k++) {
    const source = rng.int(src.n);
    const label = src.labels[source];
    const side = Math.max(4, Math.round(short * rng.uniform(o.scale[0], o.scale[1])));
    const top = rng.int(H - side + 1);
    const left = rng.int(W - side + 1);
    const flip = rng.bernoulli(0.5);
    const color = hsv(rng.float(), rng.uniform(0.4, 1), rng.uniform(0.55, 1));
    const item = new Float32Array(side28);
    for (let p = 0; p < side28; p++) item[p] = src.images[source * side28 + p] / 255;
    const big = resizeBilinear(item, 1, src.rows, src.cols, side, side);
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        const t = big[y * side + (flip ? side - 1 - x : x)];
        if (t <= 0) continue;
        const alpha = Math.min(1, t / o.threshold);
        const p = (top + y) * W + left + x;
        for (let c = 0; c < 3; c++) {
          const v = color[c] * (0.45 + 0.55 * t);
          image[c * hw + p] = image[c * hw + p] * (1 - alpha) + v * alpha;
        }
        if (t > o.threshold) mask[p] = label + 1;
      }
    }
    items.push({ source, label, top, left, side });
  }
  for (let i = 0; i < image.length; i++) image[i] = image[i] < 0 ? 0 : image[i] > 1 ? 1 : image[i];
  return { image, mask, items };
}

/**
 * The fashion-scenes segmentation task (11 classes: background + 10 garments), the default task
 * of dnas. Deterministic for a given (seed, split, index).
 */
export function fashionScenes(opts: FashionScenesOptions): SegmentationDataset {
  const which = splitSource(opts.split);
  const src = loadFashionMnist(which, opts.root);
  const size = opts.size ?? 64;
  const [H, W] = typeof size === 'number' ? [size, size] : size;
  if (!(H >= 8 && W >= 8)) throw new RangeError(`fashion-scenes: size must be at least 8x8, got ${H}x${W}`);
  const length = opts.length ?? (which === 'train' ? 4000 : 1000);
  const o = {
    seed: opts.seed ?? 0,
    splitCode: which === 'train' ? 1 : 2,
    items: opts.items ?? ([2, 4] as [number, number]),
    scale: opts.scale ?? ([0.35, 0.7] as [number, number]),
    threshold: opts.threshold ?? 0.25,
  };
  if (!(o.items[0] >= 1 && o.items[1] >= o.items[0])) throw new RangeError(`fashion-scenes: items must be [min >= 1, max >= min], got [${o.items}]`);
  if (!(o.scale[0] > 0 && o.scale[1] >= o.scale[0] && o.scale[1] <= 1)) throw new RangeError(`fashion-scenes: scale must be within (0, 1], got [${o.scale}]`);
  return {
    name: 'fashion-scenes',
    split: opts.split,
    task: 'segmentation',
    length,
    numClasses: 11,
    classNames: [...FASHION_SCENE_CLASSES],
    ignoreIndex: IGNORE_INDEX,
    palette: FASHION_SCENE_PALETTE.map((c) => [...c] as RGB),
    channels: 3,
    // Measured over the first 1000 training scenes of the default settings.
    stats: { mean: [...FASHION_SCENE_STATS.mean], std: [...FASHION_SCENE_STATS.std] },
    skipped: [],
    get(i: number): SegmentationSample {
      checkIndex(i, length, 'fashion-scenes.get');
      const r = renderFashionScene(src, i, H, W, o);
      return { image: r.image, mask: r.mask, height: H, width: W, channels: 3, id: `fashion-scenes-${opts.split}-${i}` };
    },
  };
}
