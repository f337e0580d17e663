/**
 * Transforms on typed arrays: CHW Float32Array images and HW Uint8Array masks. Images are
 * resampled bilinearly, masks always by nearest neighbour (labels are never blended), both with
 * half-pixel centres (PyTorch's align_corners=false / 'nearest-exact').
 */
import { Rng } from './rng';
import { IGNORE_INDEX, Sample } from './types';

/** Resizes a CHW image to H x W, bilinear with half-pixel centres. */
export function resizeBilinear(src: Float32Array, c: number, h: number, w: number, H: number, W: number): Float32Array {
  const out = new Float32Array(c * H * W);
  if (h === H && w === W) {
    out.set(src);
    return out;
  }
  const sy = h / H,
    sx = w / W;
  const x0s = new Int32Array(W),
    x1s = new Int32Array(W),
    fxs = new Float32Array(W);
  for (let x = 0; x < W; x++) {
    let fx = (x + 0.5) * sx - 0.5;
    if (fx < 0) fx = 0;
    const x0 = Math.min(w - 1, Math.floor(fx));
    x0s[x] = x0;
    x1s[x] = Math.min(w - 1, x0 + 1);
    fxs[x] = fx - x0;
  }
  for (let y = 0; y < H; y++) {
    let fy = (y + 0.5) * sy - 0.5;
    if (fy < 0) fy = 0;
    const y0 = Math.min(h - 1, Math.floor(fy));
    const y1 = Math.min(h - 1, y0 + 1);
    const wy = fy - y0;
    for (let ch = 0; ch < c; ch++) {
      const r0 = ch * h * w + y0 * w,
        r1 = ch * h * w + y1 * w,
        o = ch * H * W + y * W;
      for (let x = 0; x < W; x++) {
        const wx = fxs[x];
        const a = src[r0 + x0s[x]] * (1 - wx) + src[r0 + x1s[x]] * wx;
        const b = src[r1 + x0s[x]] * (1 - wx) + src[r1 + x1s[x]] * wx;
        out[o + x] = a * (1 - wy) + b * wy;
      }
    }
  }
  return out;
}

/** Resizes an HW label mask to H x W by nearest neighbour (half-pixel centres); no new values appear. */
export function resizeNearest(src: Uint8Array, h: number, w: number, H: number, W: number): Uint8Array {
  const out = new Uint8Array(H * W);
  const xs = new Int32Array(W);
  for (let x = 0; x < W; x++) xs[x] = Math.min(w - 1, Math.floor(((x + 0.5) * w) / W));
  for (let y = 0; y < H; y++) {
    const sy = Math.min(h - 1, Math.floor(((y + 0.5) * h) / H));
    for (let x = 0; x < W; x++) out[y * W + x] = src[sy * w + xs[x]];
  }
  return out;
}

/** Mirrors a CHW image left-right (new array). */
export function hflipImage(src: Float32Array, c: number, h: number, w: number): Float32Array {
  const out = new Float32Array(src.length);
  for (let r = 0; r < c * h; r++) for (let x = 0; x < w; x++) out[r * w + x] = src[r * w + w - 1 - x];
  return out;
}

/** Mirrors an HW mask left-right (new array). */
export function hflipMask(src: Uint8Array, h: number, w: number): Uint8Array {
  const out = new Uint8Array(src.length);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[y * w + x] = src[y * w + w - 1 - x];
  return out;
}

/**
 * Cuts an H x W window whose top-left corner is (top, left) out of a CHW image; parts of the
 * window outside the image are filled with `fill`. Offsets may be negative (the image then sits
 * inside the window).
 */
export function cropImage(src: Float32Array, c: number, h: number, w: number, top: number, left: number, H: number, W: number, fill = 0): Float32Array {
  const out = new Float32Array(c * H * W).fill(fill);
  const y0 = Math.max(0, -top),
    y1 = Math.min(H, h - top);
  const x0 = Math.max(0, -left),
    x1 = Math.min(W, w - left);
  if (x1 <= x0) return out;
  for (let ch = 0; ch < c; ch++) {
    for (let y = y0; y < y1; y++) {
      const s = ch * h * w + (y + top) * w + left;
      out.set(src.subarray(s + x0, s + x1), ch * H * W + y * W + x0);
    }
  }
  return out;
}

/** Like {@link cropImage} for an HW mask; outside pixels get `fill` (default 255, ignore). */
export function cropMask(src: Uint8Array, h: number, w: number, top: number, left: number, H: number, W: number, fill = IGNORE_INDEX): Uint8Array {
  const out = new Uint8Array(H * W).fill(fill);
  const y0 = Math.max(0, -top),
    y1 = Math.min(H, h - top);
  const x0 = Math.max(0, -left),
    x1 = Math.min(W, w - left);
  if (x1 <= x0) return out;
  for (let y = y0; y < y1; y++) {
    const s = (y + top) * w + left;
    out.set(src.subarray(s + x0, s + x1), y * W + x0);
  }
  return out;
}

/** (x - mean[c]) / std[c] in place on a CHW image. */
export function normalize(img: Float32Array, c: number, hw: number, mean: number[], std: number[]): Float32Array {
  if (mean.length !== c || std.length !== c) throw new RangeError(`normalize: ${c} channels but mean/std have ${mean.length}/${std.length} values`);
  for (let ch = 0; ch < c; ch++) {
    const m = mean[ch],
      s = 1 / std[ch];
    for (let i = ch * hw, e = (ch + 1) * hw; i < e; i++) img[i] = (img[i] - m) * s;
  }
  return img;
}

/** What {@link transformSample} does, in order: resize, random scale, pad + random crop, flip, normalise. */
export interface AugmentOptions {
  /** Resize every sample to [height, width] first (bilinear image, nearest mask). */
  resize?: [number, number];
  /** Random rescale by a factor uniform in [min, max] (e.g. [0.5, 2]). */
  scale?: [number, number];
  /** Pixels of padding on each side before cropping (image 0, mask 255). */
  pad?: number;
  /** Random crop to [height, width]; smaller images are padded (image 0, mask 255) at a random offset. */
  crop?: [number, number];
  /** Centre crop instead of random (evaluation). */
  centerCrop?: boolean;
  /** Random horizontal flip with probability 0.5. */
  flip?: boolean;
  /** Per-channel normalisation after the geometry; null leaves [0, 1] values. */
  normalize?: { mean: number[]; std: number[] } | null;
}

/**
 * Applies {@link AugmentOptions} to a sample with the random draws of `rng` (the same rng state
 * gives the same result). Returns a new sample; the input is not changed.
 */
export function transformSample<S extends Sample>(s: S, rng: Rng, o: AugmentOptions): S {
  const C = s.channels;
  let image = s.image;
  let mask = 'mask' in s ? s.mask : null;
  let h = s.height,
    w = s.width;
  const resize = (H: number, W: number) => {
    if (H === h && W === w) return;
    image = resizeBilinear(image, C, h, w, H, W);
    if (mask) mask = resizeNearest(mask, h, w, H, W);
    h = H;
    w = W;
  };
  if (o.resize) resize(o.resize[0], o.resize[1]);
  if (o.scale) {
    const f = rng.uniform(o.scale[0], o.scale[1]);
    resize(Math.max(1, Math.round(h * f)), Math.max(1, Math.round(w * f)));
  }
  if (o.pad && o.pad > 0) {
    const p = o.pad;
    image = cropImage(image, C, h, w, -p, -p, h + 2 * p, w + 2 * p);
    if (mask) mask = cropMask(mask, h, w, -p, -p, h + 2 * p, w + 2 * p);
    h += 2 * p;
    w += 2 * p;
  }
  if (o.crop) {
    const [H, W] = o.crop;
    const off = (n: number, N: number) => (o.centerCrop ? Math.floor((n - N) / 2) : n >= N ? rng.int(n - N + 1) : -rng.int(N - n + 1));
    const top = off(h, H),
      left = off(w, W);
    if (top !== 0 || left !== 0 || H !== h || W !== w) {
      image = cropImage(image, C, h, w, top, left, H, W);
      if (mask) mask = cropMask(mask, h, w, top, left, H, W);
      h = H;
      w = W;
    }
  }
  if (o.flip && rng.bernoulli(0.5)) {
    image = hflipImage(image, C, h, w);
    if (mask) mask = hflipMask(mask, h, w);
  }
  if (image === s.image) image = image.slice();
  if (o.normalize) normalize(image, C, h * w, o.normalize.mean, o.normalize.std);
  return (mask ? { ...s, image, mask, height: h, width: w } : { ...s, image, height: h, width: w }) as S;
}
