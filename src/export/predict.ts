/**
 * Segmentation of image files with a run's final network: per image, a colour-coded mask (a
 * palette PNG: its colours are the data set's class colours, its pixel values the class indices)
 * and an overlay of those colours on the image, both at the input image's size.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodePng, normalize, readImage, resizeBilinear, RGB } from '../data';
import { nn, noGrad, tensor, Tensor, tidy } from '../torch';
import { ensureDirNoFollow, writeFileAtomic } from '../search/rundir';
import { loadRunModel, LoadRunOptions, RunModel } from './from-run';

/** Options of {@link predictImages}. */
export interface PredictOptions extends LoadRunOptions {
  /** Run the network at this [height, width] (the logits are resized back to each image's size); default: the run's `size` setting if it has one, else the image's own size. */
  size?: [number, number];
  /** Weight of the class colour in the overlay, in [0, 1] (default 0.5). */
  alpha?: number;
  /** Called after each image. */
  onImage?: (r: PredictedImage, index: number, total: number) => void;
}

/** The files written for one image. */
export interface PredictedImage {
  input: string;
  mask: string;
  overlay: string;
  width: number;
  height: number;
  /** Class indices present in the mask, ascending. */
  classes: number[];
}

/**
 * Class index per pixel ([H * W], row-major) of one CHW image in [0, 1], as the network sees it
 * after the data set's normalisation.
 */
export function segmentImage(
  network: nn.Module,
  image: Float32Array,
  channels: number,
  height: number,
  width: number,
  o: { mean: number[]; std: number[]; size?: [number, number]; device?: string },
): Uint8Array | Int32Array {
  const [H, W] = o.size ?? [height, width];
  const input = H === height && W === width ? image.slice() : resizeBilinear(image, channels, height, width, H, W);
  normalize(input, channels, H * W, o.mean, o.std);
  return tidy(() =>
    noGrad(() => {
      const x = tensor(input, { shape: [1, channels, H, W], device: o.device });
      let logits = network.forward(x) as Tensor;
      if (logits.ndim !== 4) throw new Error(`predict: the network gives [${logits.shape}], not per-pixel logits [N, classes, H, W]`);
      if (logits.shape[2] !== height || logits.shape[3] !== width) {
        logits = nn.functional.interpolate(logits, [height, width], { mode: 'bilinear', alignCorners: false });
      }
      const idx = logits.argmax(1).flatten().to({ dtype: 'int32', device: 'cpu' }).data() as Int32Array;
      return logits.shape[1] <= 256 ? Uint8Array.from(idx) : idx;
    }),
  );
}

/** The colour-coded mask (palette PNG, or RGB beyond 256 classes). */
export function maskPng(mask: Uint8Array | Int32Array, width: number, height: number, palette: RGB[]): Buffer {
  if (palette.length <= 256 && mask instanceof Uint8Array) {
    return encodePng({ width, height, channels: 1, data: mask, palette: palette.map((c) => [...c]) });
  }
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < mask.length; i++) rgb.set(palette[mask[i]], i * 3);
  return encodePng({ width, height, channels: 3, data: rgb });
}

/** The image (CHW in [0, 1]; 1 or 3 channels) with class colours blended in with weight `alpha`. */
export function overlayPng(image: Float32Array, channels: number, mask: ArrayLike<number>, width: number, height: number, palette: RGB[], alpha = 0.5): Buffer {
  const hw = width * height;
  const rgb = new Uint8Array(hw * 3);
  for (let i = 0; i < hw; i++) {
    const col = palette[mask[i]];
    for (let c = 0; c < 3; c++) {
      const v = image[(channels === 1 ? 0 : c) * hw + i];
      rgb[i * 3 + c] = Math.round(Math.min(1, Math.max(0, v)) * 255 * (1 - alpha) + col[c] * alpha);
    }
  }
  return encodePng({ width, height, channels: 3, data: rgb });
}

function outputNames(files: string[]): string[] {
  const used = new Map<string, number>();
  return files.map((f) => {
    const stem = path.basename(f, path.extname(f));
    const n = (used.get(stem) ?? 0) + 1;
    used.set(stem, n);
    return n === 1 ? stem : `${stem}_${n}`;
  });
}

/**
 * Segments `imagePaths` (PNG or JPEG) with the final network of `runDir` and writes, per image,
 * `<name>_mask.png` and `<name>_overlay.png` into `outDir`, at the image's size. Colours are the
 * data set's palette (Cityscapes runs: the Cityscapes palette).
 *
 * @example
 * predictImages('runs/cs', ['frankfurt_000000_000294_leftImg8bit.png'], 'pred/');
 */
export function predictImages(runDir: string, imagePaths: string[], outDir: string, opts: PredictOptions = {}): PredictedImage[] {
  const alpha = opts.alpha ?? 0.5;
  if (!(alpha >= 0 && alpha <= 1)) throw new RangeError(`predictImages: alpha must be in [0, 1], got ${alpha}`);
  if (opts.size && !(opts.size.length === 2 && opts.size.every((v) => Number.isInteger(v) && v >= 1))) {
    throw new RangeError(`predictImages: size must be [height, width] of positive integers, got ${JSON.stringify(opts.size)}`);
  }
  for (const f of imagePaths) if (!fs.existsSync(f)) throw new Error(`image ${f} does not exist`);
  const m: RunModel = loadRunModel(runDir, opts);
  try {
    if (m.task !== 'segmentation')
      throw new Error(`run ${m.dir} classifies images (data set '${m.config.dataset}'); predict writes segmentation masks, use dnas eval`);
    if (!m.meta) throw new Error(`cannot colour the masks of run ${m.dir}: ${m.metaProblem}`);
    const meta = m.meta;
    if (m.inChannels !== 1 && m.inChannels !== 3) throw new Error(`the network of run ${m.dir} takes ${m.inChannels} channels; image files give 1 or 3`);
    ensureDirNoFollow(outDir, 'predictImages');
    const names = outputNames(imagePaths);
    const out: PredictedImage[] = [];
    imagePaths.forEach((file, i) => {
      const img = readImage(file, m.inChannels as 1 | 3);
      // A run trained on resized samples (config `size`) sees images at that size by default.
      const size = opts.size ?? m.config.size ?? undefined;
      const mask = segmentImage(m.network, img.data, img.channels, img.height, img.width, { mean: meta.mean, std: meta.std, size, device: opts.device });
      const r: PredictedImage = {
        input: file,
        mask: path.join(outDir, `${names[i]}_mask.png`),
        overlay: path.join(outDir, `${names[i]}_overlay.png`),
        width: img.width,
        height: img.height,
        classes: [...new Set(mask)].sort((a, b) => a - b),
      };
      writeFileAtomic(r.mask, maskPng(mask, img.width, img.height, meta.palette));
      writeFileAtomic(r.overlay, overlayPng(img.data, img.channels, mask, img.width, img.height, meta.palette, alpha));
      out.push(r);
      opts.onImage?.(r, i, imagePaths.length);
    });
    return out;
  } finally {
    m.dispose();
  }
}
