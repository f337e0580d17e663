/**
 * Reading images (PNG, JPEG) into CHW float arrays and label maps (PNG) into byte arrays.
 */
import * as fs from 'node:fs';
import * as jpeg from 'jpeg-js';
import { DataError, maxImagePixels } from './errors';
import { decodePng, isPng } from './png';

/** An image as planes: `data[c * height * width + y * width + x]`, values in [0, 1]. */
export interface ImageCHW {
  width: number;
  height: number;
  channels: number;
  data: Float32Array;
}

/** A decoded label map before any id mapping. */
export interface LabelMap {
  width: number;
  height: number;
  /** One value per pixel: palette index, grey value, or 0 when `rgb` is set. */
  values: Uint8Array;
  /** How the file stores labels. */
  kind: 'palette' | 'grey' | 'rgb';
  /** For kind 'rgb': interleaved RGB of each pixel. */
  rgb?: Uint8Array;
  /** For kind 'palette': the file's palette (RGB triples). */
  palette?: Uint8Array;
}

/** Whether `buf` starts like a JPEG. */
export function isJpeg(buf: Uint8Array): boolean {
  return buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff;
}

function readFile(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DataError(file, code === 'ENOENT' ? 'file does not exist' : `cannot be read (${code ?? (e as Error).message})`);
  }
}

function decodeJpeg(buf: Buffer, file: string): { width: number; height: number; rgb: Uint8Array } {
  // A complete JPEG ends with the EOI marker (FF D9), possibly followed by a little padding.
  let eoi = false;
  for (let i = buf.length - 2; i >= Math.max(2, buf.length - 64); i--) {
    if (buf[i] === 0xff && buf[i + 1] === 0xd9) {
      eoi = true;
      break;
    }
  }
  if (!eoi) throw new DataError(file, 'truncated JPEG: no end-of-image marker (the file ends early)');
  try {
    const d = jpeg.decode(buf, {
      useTArray: true,
      formatAsRGBA: false,
      tolerantDecoding: false,
      maxMemoryUsageInMB: 2048,
      maxResolutionInMP: maxImagePixels() / 1e6,
    });
    if (!d.width || !d.height || d.data.length !== d.width * d.height * 3) throw new Error('decoder returned no pixels');
    return { width: d.width, height: d.height, rgb: d.data };
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(file, `corrupt JPEG (${(e as Error).message ?? String(e)})`);
  }
}

/**
 * Decodes PNG or JPEG bytes into a CHW float image in [0, 1]. Grey images are repeated into
 * 3 channels when `channels` is 3; colour images are averaged (ITU-R BT.601 luma) when it is 1.
 * Alpha is dropped.
 */
export function decodeImage(buf: Buffer, file = '<buffer>', channels: 1 | 3 = 3): ImageCHW {
  let width: number, height: number, src: ArrayLike<number>, spp: number, scale: number;
  if (isPng(buf)) {
    const p = decodePng(buf, file);
    width = p.width;
    height = p.height;
    if (p.colorType === 3) {
      const pal = p.palette!;
      const rgb = new Uint8Array(width * height * 3);
      for (let i = 0; i < width * height; i++) {
        const k = p.data[i] * 3;
        rgb[i * 3] = pal[k];
        rgb[i * 3 + 1] = pal[k + 1];
        rgb[i * 3 + 2] = pal[k + 2];
      }
      src = rgb;
      spp = 3;
      scale = 1 / 255;
    } else {
      src = p.data;
      spp = p.channels;
      scale = 1 / ((1 << p.bitDepth) - 1);
    }
  } else if (isJpeg(buf)) {
    const j = decodeJpeg(buf, file);
    width = j.width;
    height = j.height;
    src = j.rgb;
    spp = 3;
    scale = 1 / 255;
  } else {
    throw new DataError(file, buf.length === 0 ? 'empty file (0 bytes)' : 'not a PNG or JPEG image (unknown signature)');
  }
  const hw = width * height;
  const out = new Float32Array(hw * channels);
  const colour = spp >= 3;
  for (let i = 0; i < hw; i++) {
    const o = i * spp;
    if (channels === 3) {
      if (colour) {
        out[i] = src[o] * scale;
        out[hw + i] = src[o + 1] * scale;
        out[2 * hw + i] = src[o + 2] * scale;
      } else {
        const g = src[o] * scale;
        out[i] = g;
        out[hw + i] = g;
        out[2 * hw + i] = g;
      }
    } else {
      out[i] = colour ? (0.299 * src[o] + 0.587 * src[o + 1] + 0.114 * src[o + 2]) * scale : src[o] * scale;
    }
  }
  return { width, height, channels, data: out };
}

/** Reads an image file (PNG or JPEG) into CHW floats in [0, 1]; errors name the file. */
export function readImage(file: string, channels: 1 | 3 = 3): ImageCHW {
  return decodeImage(readFile(file), file, channels);
}

/**
 * Decodes a PNG label map. Palette PNGs give their palette *indices* (never the colours), grey
 * PNGs their values; RGB(A) PNGs give kind 'rgb' for colour-keyed masks. JPEG is refused (lossy).
 */
export function decodeLabelMap(buf: Buffer, file = '<buffer>'): LabelMap {
  if (isJpeg(buf)) throw new DataError(file, 'label masks must be PNG; JPEG compression changes label values');
  if (!isPng(buf)) throw new DataError(file, buf.length === 0 ? 'empty file (0 bytes)' : 'not a PNG label mask (unknown signature)');
  const p = decodePng(buf, file);
  const { width, height } = p;
  const hw = width * height;
  if (p.colorType === 3) return { width, height, values: p.data as Uint8Array, kind: 'palette', palette: p.palette };
  if (p.colorType === 0 || p.colorType === 4) {
    const values = new Uint8Array(hw);
    for (let i = 0; i < hw; i++) {
      const v = p.data[i * p.channels];
      if (v > 255) throw new DataError(file, `label value ${v} at (x=${i % width}, y=${Math.floor(i / width)}) does not fit in 8 bits`);
      values[i] = v;
    }
    return { width, height, values, kind: 'grey' };
  }
  const rgb = new Uint8Array(hw * 3);
  const shift = p.bitDepth === 16 ? 8 : 0;
  for (let i = 0; i < hw; i++) for (let s = 0; s < 3; s++) rgb[i * 3 + s] = p.data[i * p.channels + s] >> shift;
  return { width, height, values: new Uint8Array(hw), kind: 'rgb', rgb };
}

/** Reads a PNG label map from a file; see {@link decodeLabelMap}. */
export function readLabelMap(file: string): LabelMap {
  return decodeLabelMap(readFile(file), file);
}
