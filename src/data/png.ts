/**
 * A PNG decoder and encoder over node:zlib. The decoder keeps palette *indices* (what label masks
 * store) instead of expanding them to RGB, checks every chunk's CRC and reports truncated or
 * corrupt files as a {@link DataError} naming the file. All colour types, bit depths 1-16 and
 * Adam7 interlacing are read; the encoder writes 8-bit grey, grey+alpha, RGB, RGBA and palette
 * images (optionally interlaced), which is what the tests and fixtures need.
 */
import * as zlib from 'node:zlib';
import { checkPixelCount, DataError } from './errors';

/** A decoded PNG, samples unexpanded. */
export interface DecodedPng {
  width: number;
  height: number;
  /** Bits per sample as stored: 1, 2, 4, 8 or 16. */
  bitDepth: number;
  /** PNG colour type: 0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA. */
  colorType: number;
  /** Samples per pixel in `data`: 1 (grey or palette index), 2, 3 or 4. */
  channels: number;
  /** Row-major interleaved samples, one per array element (sub-byte depths unpacked, not rescaled). */
  data: Uint8Array | Uint16Array;
  /** For colour type 3: RGB triples (length 3 * entries). */
  palette?: Uint8Array;
  /** Whether the image was Adam7-interlaced. */
  interlaced: boolean;
}

const SIGNATURE = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const DEPTHS: Record<number, number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };
// Adam7 passes: x start, y start, x step, y step.
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
];

const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/** CRC-32 as PNG (and zlib) define it. */
export function crc32(buf: Uint8Array, start = 0, end = buf.length): number {
  let c = -1;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

/** Whether `buf` starts with the PNG signature. */
export function isPng(buf: Uint8Array): boolean {
  return buf.length >= 8 && SIGNATURE.equals(Buffer.from(buf.buffer, buf.byteOffset, 8));
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Reverses the per-row filters of one (sub)image in place; returns the offset after it. */
function unfilter(raw: Buffer, off: number, rowBytes: number, rows: number, bpp: number, file: string): number {
  let prev = -1; // offset of the previous unfiltered row, -1 for none
  for (let y = 0; y < rows; y++) {
    const ft = raw[off];
    const row = off + 1;
    switch (ft) {
      case 0:
        break;
      case 1:
        for (let i = bpp; i < rowBytes; i++) raw[row + i] = (raw[row + i] + raw[row + i - bpp]) & 0xff;
        break;
      case 2:
        if (prev >= 0) for (let i = 0; i < rowBytes; i++) raw[row + i] = (raw[row + i] + raw[prev + i]) & 0xff;
        break;
      case 3:
        for (let i = 0; i < rowBytes; i++) {
          const left = i >= bpp ? raw[row + i - bpp] : 0;
          const up = prev >= 0 ? raw[prev + i] : 0;
          raw[row + i] = (raw[row + i] + ((left + up) >> 1)) & 0xff;
        }
        break;
      case 4:
        for (let i = 0; i < rowBytes; i++) {
          const left = i >= bpp ? raw[row + i - bpp] : 0;
          const up = prev >= 0 ? raw[prev + i] : 0;
          const ul = prev >= 0 && i >= bpp ? raw[prev + i - bpp] : 0;
          raw[row + i] = (raw[row + i] + paeth(left, up, ul)) & 0xff;
        }
        break;
      default:
        throw new DataError(file, `corrupt PNG: unknown filter type ${ft} in row ${y}`);
    }
    prev = row;
    off = row + rowBytes;
  }
  return off;
}

/** Unpacks filtered-away rows of a (sub)image into samples; calls put(x, y, sampleIndex, value). */
function unpackRows(
  raw: Buffer,
  off: number,
  w: number,
  h: number,
  spp: number,
  depth: number,
  put: (x: number, y: number, s: number, v: number) => void,
): void {
  const rowBytes = Math.ceil((w * spp * depth) / 8);
  for (let y = 0; y < h; y++) {
    const row = off + y * (rowBytes + 1) + 1;
    if (depth === 8) {
      for (let x = 0, i = row; x < w; x++) for (let s = 0; s < spp; s++) put(x, y, s, raw[i++]);
    } else if (depth === 16) {
      for (let x = 0, i = row; x < w; x++) for (let s = 0; s < spp; s++, i += 2) put(x, y, s, (raw[i] << 8) | raw[i + 1]);
    } else {
      const perByte = 8 / depth;
      const mask = (1 << depth) - 1;
      for (let x = 0; x < w; x++) {
        const byte = raw[row + Math.floor(x / perByte)];
        const shift = 8 - depth * ((x % perByte) + 1);
        put(x, y, 0, (byte >> shift) & mask);
      }
    }
  }
}

/**
 * Decodes a PNG. Palette images give indices in `data` and the colours in `palette`.
 *
 * @param file Named in errors.
 * @throws DataError when the file is not a PNG, is truncated, or is corrupt (bad CRC, bad zlib
 *   stream, wrong amount of image data, unknown filter).
 */
export function decodePng(buf: Uint8Array, file = '<buffer>'): DecodedPng {
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length === 0) throw new DataError(file, 'empty file (0 bytes)');
  if (!isPng(b)) throw new DataError(file, 'not a PNG file (bad signature)');
  let off = 8;
  let width = 0,
    height = 0,
    bitDepth = 0,
    colorType = -1,
    interlace = 0;
  let palette: Uint8Array | undefined;
  const idat: Buffer[] = [];
  let sawEnd = false;
  let first = true;
  while (off < b.length) {
    if (off + 8 > b.length) throw new DataError(file, `truncated PNG: chunk header at byte ${off} is cut off`);
    const len = b.readUInt32BE(off);
    const type = b.toString('latin1', off + 4, off + 8);
    if (off + 12 + len > b.length)
      throw new DataError(file, `truncated PNG: chunk ${type} (${len} bytes at byte ${off}) extends past the end of the file (${b.length} bytes)`);
    const crc = b.readUInt32BE(off + 8 + len);
    if (crc32(b, off + 4, off + 8 + len) !== crc) throw new DataError(file, `corrupt PNG: CRC mismatch in chunk ${type} at byte ${off}`);
    const data = b.subarray(off + 8, off + 8 + len);
    if (first && type !== 'IHDR') throw new DataError(file, `corrupt PNG: first chunk is ${type}, not IHDR`);
    first = false;
    if (type === 'IHDR') {
      if (len !== 13) throw new DataError(file, `corrupt PNG: IHDR has ${len} bytes, not 13`);
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      bitDepth = data[8];
      colorType = data[9];
      interlace = data[12];
      if (width === 0 || height === 0) throw new DataError(file, `corrupt PNG: size ${width}x${height}`);
      checkPixelCount(width, height, file);
      if (!(colorType in CHANNELS)) throw new DataError(file, `corrupt PNG: unknown colour type ${colorType}`);
      if (!DEPTHS[colorType].includes(bitDepth)) throw new DataError(file, `corrupt PNG: bit depth ${bitDepth} is invalid for colour type ${colorType}`);
      if (data[10] !== 0 || data[11] !== 0) throw new DataError(file, 'corrupt PNG: unknown compression or filter method');
      if (interlace > 1) throw new DataError(file, `corrupt PNG: unknown interlace method ${interlace}`);
    } else if (type === 'PLTE') {
      if (len % 3 !== 0 || len === 0 || len > 768) throw new DataError(file, `corrupt PNG: PLTE has ${len} bytes`);
      palette = new Uint8Array(data);
    } else if (type === 'IDAT') {
      idat.push(data);
    } else if (type === 'IEND') {
      sawEnd = true;
      break;
    }
    off += 12 + len;
  }
  if (!sawEnd) throw new DataError(file, 'truncated PNG: no IEND chunk (the file ends early)');
  if (idat.length === 0) throw new DataError(file, 'corrupt PNG: no image data (IDAT)');
  if (colorType === 3 && !palette) throw new DataError(file, 'corrupt PNG: palette image without a PLTE chunk');
  let raw: Buffer;
  try {
    raw = zlib.inflateSync(Buffer.concat(idat));
  } catch (e) {
    throw new DataError(file, `corrupt PNG: the compressed image data does not inflate (${(e as Error).message})`);
  }
  const spp = CHANNELS[colorType];
  const bitsPP = spp * bitDepth;
  const bpp = Math.max(1, bitsPP >> 3);
  const n = width * height * spp;
  const out = bitDepth === 16 ? new Uint16Array(n) : new Uint8Array(n);
  const passes = interlace ? ADAM7 : [[0, 0, 1, 1]];
  let expected = 0;
  const dims = passes.map(([x0, y0, dx, dy]) => {
    const w = Math.max(0, Math.ceil((width - x0) / dx));
    const h = Math.max(0, Math.ceil((height - y0) / dy));
    if (w > 0 && h > 0) expected += h * (Math.ceil((w * bitsPP) / 8) + 1);
    return [w, h];
  });
  if (raw.length < expected) throw new DataError(file, `truncated PNG: ${raw.length} bytes of image data, ${expected} needed for ${width}x${height}`);
  let p = 0;
  passes.forEach(([x0, y0, dx, dy], k) => {
    const [w, h] = dims[k];
    if (w === 0 || h === 0) return;
    const rowBytes = Math.ceil((w * bitsPP) / 8);
    const start = p;
    p = unfilter(raw, p, rowBytes, h, bpp, file);
    if (!interlace && bitDepth === 8) {
      for (let y = 0; y < h; y++) (out as Uint8Array).set(raw.subarray(start + y * (rowBytes + 1) + 1, start + (y + 1) * (rowBytes + 1)), y * rowBytes);
      return;
    }
    unpackRows(raw, start, w, h, spp, bitDepth, (x, y, s, v) => {
      out[((y0 + y * dy) * width + (x0 + x * dx)) * spp + s] = v;
    });
  });
  if (colorType === 3 && palette) {
    const entries = palette.length / 3;
    for (let i = 0; i < out.length; i++) {
      if (out[i] >= entries) throw new DataError(file, `corrupt PNG: pixel ${i} uses palette index ${out[i]} but the palette has ${entries} entries`);
    }
  }
  return { width, height, bitDepth, colorType, channels: spp, data: out, palette, interlaced: interlace === 1 };
}

/** Reads only a PNG's size and format from its header (cheap; no decompression). */
export function pngInfo(buf: Uint8Array, file = '<buffer>'): { width: number; height: number; bitDepth: number; colorType: number } {
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (!isPng(b)) throw new DataError(file, b.length === 0 ? 'empty file (0 bytes)' : 'not a PNG file (bad signature)');
  if (b.length < 33 || b.toString('latin1', 12, 16) !== 'IHDR') throw new DataError(file, 'truncated PNG: no complete IHDR chunk');
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20), bitDepth: b[24], colorType: b[25] };
}

/** What {@link encodePng} writes. */
export interface PngImage {
  width: number;
  height: number;
  /** 1 grey (or palette index when `palette` is given), 2 grey+alpha, 3 RGB, 4 RGBA. */
  channels: 1 | 2 | 3 | 4;
  /** Interleaved 8-bit samples, row-major. */
  data: Uint8Array;
  /** RGB triples; makes a palette (colour type 3) image whose `data` holds indices. */
  palette?: Uint8Array | number[][];
}

/** Filter choice for {@link encodePng}: a fixed PNG filter type, or per-row minimum-sum heuristic. */
export type PngFilter = 0 | 1 | 2 | 3 | 4 | 'adaptive';

function filterRow(ft: number, cur: Uint8Array, prev: Uint8Array | null, bpp: number, out: Uint8Array, o: number): void {
  out[o] = ft;
  for (let i = 0; i < cur.length; i++) {
    const left = i >= bpp ? cur[i - bpp] : 0;
    const up = prev ? prev[i] : 0;
    const ul = prev && i >= bpp ? prev[i - bpp] : 0;
    const pred = ft === 0 ? 0 : ft === 1 ? left : ft === 2 ? up : ft === 3 ? (left + up) >> 1 : paeth(left, up, ul);
    out[o + 1 + i] = (cur[i] - pred) & 0xff;
  }
}

/**
 * Encodes 8-bit samples as a PNG.
 *
 * @example
 * const png = encodePng({ width: 2, height: 1, channels: 1, data: new Uint8Array([0, 3]), palette: [[0, 0, 0], [1, 2, 3], [4, 5, 6], [7, 8, 9]] });
 */
export function encodePng(img: PngImage, opts: { filter?: PngFilter; interlace?: boolean; level?: number } = {}): Buffer {
  const { width, height, channels, data } = img;
  if (data.length !== width * height * channels) throw new RangeError(`encodePng: ${data.length} samples for ${width}x${height}x${channels}`);
  let colorType = channels === 1 ? 0 : channels === 2 ? 4 : channels === 3 ? 2 : 6;
  let plte: Buffer | null = null;
  if (img.palette) {
    if (channels !== 1) throw new RangeError('encodePng: a palette image has 1 channel (indices)');
    colorType = 3;
    const flat = Array.isArray(img.palette) ? Uint8Array.from((img.palette as number[][]).flat()) : img.palette;
    plte = Buffer.from(flat);
  }
  const filter = opts.filter ?? 'adaptive';
  const passes = opts.interlace ? ADAM7 : [[0, 0, 1, 1]];
  const parts: Uint8Array[] = [];
  for (const [x0, y0, dx, dy] of passes) {
    const w = Math.max(0, Math.ceil((width - x0) / dx));
    const h = Math.max(0, Math.ceil((height - y0) / dy));
    if (w === 0 || h === 0) continue;
    const rowBytes = w * channels;
    const buf = new Uint8Array(h * (rowBytes + 1));
    let prev: Uint8Array | null = null;
    const trial = new Uint8Array(rowBytes + 1);
    for (let y = 0; y < h; y++) {
      const cur = new Uint8Array(rowBytes);
      for (let x = 0; x < w; x++) {
        const src = ((y0 + y * dy) * width + (x0 + x * dx)) * channels;
        for (let s = 0; s < channels; s++) cur[x * channels + s] = data[src + s];
      }
      const o = y * (rowBytes + 1);
      if (filter === 'adaptive') {
        let best = 0,
          bestSum = Infinity;
        for (let ft = 0; ft < 5; ft++) {
          filterRow(ft, cur, prev, channels, trial, 0);
          let sum = 0;
          for (let i = 1; i < trial.length; i++) sum += trial[i] < 128 ? trial[i] : 256 - trial[i];
          if (sum < bestSum) {
            bestSum = sum;
            best = ft;
          }
        }
        filterRow(best, cur, prev, channels, buf, o);
      } else {
        filterRow(filter, cur, prev, channels, buf, o);
      }
      prev = cur;
    }
    parts.push(buf);
  }
  const chunk = (type: string, body: Uint8Array): Buffer => {
    const c = Buffer.alloc(12 + body.length);
    c.writeUInt32BE(body.length, 0);
    c.write(type, 4, 'latin1');
    Buffer.from(body.buffer, body.byteOffset, body.byteLength).copy(c, 8);
    c.writeUInt32BE(crc32(c, 4, 8 + body.length), 8 + body.length);
    return c;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = colorType;
  ihdr[12] = opts.interlace ? 1 : 0;
  const z = zlib.deflateSync(Buffer.concat(parts), { level: opts.level ?? 6 });
  return Buffer.concat([SIGNATURE, chunk('IHDR', ihdr), ...(plte ? [chunk('PLTE', plte)] : []), chunk('IDAT', z), chunk('IEND', new Uint8Array(0))]);
}
