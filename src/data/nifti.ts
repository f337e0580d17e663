/**
 * A NIfTI-1 reader: single-file .nii (magic "n+1") and .hdr/.img pairs ("ni1"), gzipped or not,
 * either byte order. Values are scaled by scl_slope/scl_inter when slope is non-zero. The
 * voxel-to-world affine comes from the sform when sform_code > 0, else from the qform quaternion
 * when qform_code > 0, else from pixdim alone (NIfTI-1 "method 1").
 */
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { DataError } from './errors';

/** NIfTI-1 datatype codes this reader understands, with their element size in bytes. */
export const NIFTI_DATATYPES: Record<number, { name: string; bytes: number }> = {
  2: { name: 'uint8', bytes: 1 },
  4: { name: 'int16', bytes: 2 },
  8: { name: 'int32', bytes: 4 },
  16: { name: 'float32', bytes: 4 },
  64: { name: 'float64', bytes: 8 },
  256: { name: 'int8', bytes: 1 },
  512: { name: 'uint16', bytes: 2 },
  768: { name: 'uint32', bytes: 4 },
  1024: { name: 'int64', bytes: 8 },
  1280: { name: 'uint64', bytes: 8 },
};

/** The fields of a NIfTI-1 header that matter for reading and placing the image. */
export interface NiftiHeader {
  littleEndian: boolean;
  /** dim[0..7]: dim[0] is the number of dimensions. */
  dim: number[];
  datatype: number;
  bitpix: number;
  /** pixdim[0..7]: pixdim[0] is qfac, pixdim[1..3] the voxel size. */
  pixdim: number[];
  voxOffset: number;
  sclSlope: number;
  sclInter: number;
  xyztUnits: number;
  calMax: number;
  calMin: number;
  descrip: string;
  qformCode: number;
  sformCode: number;
  /** quatern_b, quatern_c, quatern_d. */
  quatern: [number, number, number];
  /** qoffset_x, qoffset_y, qoffset_z. */
  qoffset: [number, number, number];
  /** srow_x, srow_y, srow_z (4 each). */
  srow: [number[], number[], number[]];
  intentCode: number;
  /** "n+1" (single file) or "ni1" (pair). */
  magic: string;
}

/** A loaded volume. */
export interface NiftiVolume {
  header: NiftiHeader;
  /** Spatial size [nx, ny, nz] (1 for missing dimensions). */
  dims: [number, number, number];
  /** Number of volumes (product of dim[4..]). */
  frames: number;
  /** Voxel size in mm [dx, dy, dz]. */
  spacing: [number, number, number];
  /** Voxel (i, j, k) -> world (x, y, z): 3 rows of 4. */
  affine: number[][];
  /** Scaled values, x fastest: data[i + nx * (j + ny * (k + nz * t))]. */
  data: Float32Array;
}

function text(b: Buffer, start: number, len: number): string {
  const s = b.subarray(start, start + len);
  const z = s.indexOf(0);
  return s.toString('latin1', 0, z < 0 ? len : z);
}

function maybeGunzip(buf: Buffer, file: string): Buffer {
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      return zlib.gunzipSync(buf);
    } catch (e) {
      throw new DataError(file, `corrupt or truncated gzip data (${(e as Error).message})`);
    }
  }
  return buf;
}

/**
 * Parses a NIfTI-1 header from the first 348 bytes of `buf` (already gunzipped).
 *
 * @throws DataError for short buffers, NIfTI-2 files and bad magic.
 */
export function parseNiftiHeader(buf: Buffer, file = '<buffer>'): NiftiHeader {
  if (buf.length < 348) throw new DataError(file, `truncated NIfTI header: ${buf.length} bytes, 348 needed`);
  let le = true;
  if (buf.readInt32LE(0) !== 348) {
    if (buf.readInt32BE(0) === 348) le = false;
    else if (buf.readInt32LE(0) === 540 || buf.readInt32BE(0) === 540) throw new DataError(file, 'NIfTI-2 files are not supported (sizeof_hdr 540)');
    else throw new DataError(file, `not a NIfTI-1 file (sizeof_hdr is ${buf.readInt32LE(0)}, not 348)`);
  }
  const i16 = (o: number) => (le ? buf.readInt16LE(o) : buf.readInt16BE(o));
  const f32 = (o: number) => (le ? buf.readFloatLE(o) : buf.readFloatBE(o));
  const magic = text(buf, 344, 4);
  if (magic !== 'n+1' && magic !== 'ni1') throw new DataError(file, `not a NIfTI-1 file (magic '${magic}', expected 'n+1' or 'ni1')`);
  const dim = Array.from({ length: 8 }, (_, k) => i16(40 + 2 * k));
  if (dim[0] < 1 || dim[0] > 7) throw new DataError(file, `bad NIfTI header: dim[0] is ${dim[0]}`);
  for (let k = 1; k <= dim[0]; k++) if (dim[k] < 1) throw new DataError(file, `bad NIfTI header: dim[${k}] is ${dim[k]}`);
  return {
    littleEndian: le,
    dim,
    intentCode: i16(68),
    datatype: i16(70),
    bitpix: i16(72),
    pixdim: Array.from({ length: 8 }, (_, k) => f32(76 + 4 * k)),
    voxOffset: f32(108),
    sclSlope: f32(112),
    sclInter: f32(116),
    xyztUnits: buf[123],
    calMax: f32(124),
    calMin: f32(128),
    descrip: text(buf, 148, 80),
    qformCode: i16(252),
    sformCode: i16(254),
    quatern: [f32(256), f32(260), f32(264)],
    qoffset: [f32(268), f32(272), f32(276)],
    srow: [0, 1, 2].map((r) => [0, 1, 2, 3].map((c) => f32(280 + 16 * r + 4 * c))) as [number[], number[], number[]],
    magic,
  };
}

/** The voxel-to-world affine of a header (3 rows of 4), by sform, qform or pixdim. */
export function niftiAffine(h: NiftiHeader): number[][] {
  if (h.sformCode > 0) return h.srow.map((r) => r.slice());
  const [dx, dy, dz] = [h.pixdim[1] || 1, h.pixdim[2] || 1, h.pixdim[3] || 1];
  if (h.qformCode > 0) {
    const [b, c, d] = h.quatern;
    const a = Math.sqrt(Math.max(0, 1 - (b * b + c * c + d * d)));
    const qfac = h.pixdim[0] < 0 ? -1 : 1;
    const R = [
      [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
      [2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)],
      [2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b],
    ];
    const s = [dx, dy, qfac * dz];
    return R.map((row, r) => [row[0] * s[0], row[1] * s[1], row[2] * s[2], h.qoffset[r]]);
  }
  return [
    [dx, 0, 0, 0],
    [0, dy, 0, 0],
    [0, 0, dz, 0],
  ];
}

/**
 * Decodes a whole NIfTI-1 file held in memory (gzipped or not; magic "n+1"). For "ni1" pairs use
 * {@link readNifti} on the .hdr file.
 */
export function decodeNifti(input: Buffer, file = '<buffer>', imageData?: Buffer): NiftiVolume {
  const buf = maybeGunzip(input, file);
  const h = parseNiftiHeader(buf, file);
  const dt = NIFTI_DATATYPES[h.datatype];
  if (!dt)
    throw new DataError(
      file,
      `unsupported NIfTI datatype ${h.datatype} (supported: ${Object.entries(NIFTI_DATATYPES)
        .map(([k, v]) => `${k} ${v.name}`)
        .join(', ')})`,
    );
  if (h.bitpix !== dt.bytes * 8) throw new DataError(file, `bad NIfTI header: bitpix ${h.bitpix} does not match datatype ${dt.name}`);
  const nd = h.dim[0];
  const dims: [number, number, number] = [h.dim[1], nd >= 2 ? h.dim[2] : 1, nd >= 3 ? h.dim[3] : 1];
  let frames = 1;
  for (let k = 4; k <= nd; k++) frames *= h.dim[k];
  const n = dims[0] * dims[1] * dims[2] * frames;
  let src: Buffer, off: number;
  if (!Number.isFinite(h.voxOffset)) throw new DataError(file, `bad NIfTI header: vox_offset is ${h.voxOffset}`);
  if (h.magic === 'n+1') {
    src = buf;
    off = Math.round(h.voxOffset);
    if (off < 348) throw new DataError(file, `bad NIfTI header: vox_offset ${h.voxOffset} is inside the header`);
  } else {
    if (!imageData) throw new DataError(file, "a NIfTI 'ni1' header needs its .img file; use readNifti on the .hdr");
    src = imageData;
    off = Math.max(0, Math.round(h.voxOffset));
  }
  const need = off + n * dt.bytes;
  if (src.length < need)
    throw new DataError(file, `truncated NIfTI data: ${src.length - off} bytes of voxels, ${n * dt.bytes} needed for ${dims.join('x')}x${frames} ${dt.name}`);
  const data = new Float32Array(n);
  const le = h.littleEndian;
  const B = dt.bytes;
  switch (h.datatype) {
    case 2:
      for (let i = 0; i < n; i++) data[i] = src[off + i];
      break;
    case 256:
      for (let i = 0; i < n; i++) data[i] = src.readInt8(off + i);
      break;
    case 4:
      for (let i = 0; i < n; i++) data[i] = le ? src.readInt16LE(off + i * B) : src.readInt16BE(off + i * B);
      break;
    case 512:
      for (let i = 0; i < n; i++) data[i] = le ? src.readUInt16LE(off + i * B) : src.readUInt16BE(off + i * B);
      break;
    case 8:
      for (let i = 0; i < n; i++) data[i] = le ? src.readInt32LE(off + i * B) : src.readInt32BE(off + i * B);
      break;
    case 768:
      for (let i = 0; i < n; i++) data[i] = le ? src.readUInt32LE(off + i * B) : src.readUInt32BE(off + i * B);
      break;
    case 16:
      for (let i = 0; i < n; i++) data[i] = le ? src.readFloatLE(off + i * B) : src.readFloatBE(off + i * B);
      break;
    case 64:
      for (let i = 0; i < n; i++) data[i] = le ? src.readDoubleLE(off + i * B) : src.readDoubleBE(off + i * B);
      break;
    case 1024:
      for (let i = 0; i < n; i++) data[i] = Number(le ? src.readBigInt64LE(off + i * B) : src.readBigInt64BE(off + i * B));
      break;
    case 1280:
      for (let i = 0; i < n; i++) data[i] = Number(le ? src.readBigUInt64LE(off + i * B) : src.readBigUInt64BE(off + i * B));
      break;
  }
  if (h.sclSlope !== 0 && Number.isFinite(h.sclSlope) && !(h.sclSlope === 1 && h.sclInter === 0)) {
    const s = h.sclSlope,
      t = Number.isFinite(h.sclInter) ? h.sclInter : 0;
    for (let i = 0; i < n; i++) data[i] = data[i] * s + t;
  }
  return {
    header: h,
    dims,
    frames,
    spacing: [Math.abs(h.pixdim[1]) || 1, Math.abs(h.pixdim[2]) || 1, Math.abs(h.pixdim[3]) || 1],
    affine: niftiAffine(h),
    data,
  };
}

/** Reads a NIfTI-1 file: .nii, .nii.gz, or the .hdr of a .hdr/.img(.gz) pair. Errors name the file. */
export function readNifti(file: string): NiftiVolume {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DataError(file, code === 'ENOENT' ? 'file does not exist' : `cannot be read (${code})`);
  }
  const head = maybeGunzip(buf, file);
  if (head.length >= 348 && text(head, 344, 4) === 'ni1') {
    const base = file.replace(/\.hdr(\.gz)?$/, '');
    const img = [`${base}.img`, `${base}.img.gz`].find((f) => fs.existsSync(f));
    if (!img) throw new DataError(file, `the image file ${base}.img of this 'ni1' header does not exist`);
    return decodeNifti(head, file, maybeGunzip(fs.readFileSync(img), img));
  }
  return decodeNifti(head, file);
}

function invertAffine(A: number[][]): number[][] {
  const [a, b, c] = A[0],
    [d, e, f] = A[1],
    [g, h, i] = A[2];
  const det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);
  if (Math.abs(det) < 1e-12) throw new RangeError('affine is singular');
  const inv = [
    [(e * i - f * h) / det, (c * h - b * i) / det, (b * f - c * e) / det],
    [(f * g - d * i) / det, (a * i - c * g) / det, (c * d - a * f) / det],
    [(d * h - e * g) / det, (b * g - a * h) / det, (a * e - b * d) / det],
  ];
  const t = [A[0][3], A[1][3], A[2][3]];
  return inv.map((r) => [r[0], r[1], r[2], -(r[0] * t[0] + r[1] * t[1] + r[2] * t[2])]);
}

/** Whether two volumes share the voxel grid (same dims and affine within `tol` mm). */
export function sameGrid(a: Pick<NiftiVolume, 'dims' | 'affine'>, b: Pick<NiftiVolume, 'dims' | 'affine'>, tol = 1e-3): boolean {
  return a.dims.every((d, k) => d === b.dims[k]) && a.affine.every((r, i) => r.every((v, j) => Math.abs(v - b.affine[i][j]) <= tol));
}

/**
 * Resamples `src` (first frame) onto the grid of `target` (dims + affine) by nearest neighbour in
 * world coordinates, the right choice for label volumes. Voxels that fall outside `src` get `fill`.
 */
export function resampleNearest(src: NiftiVolume, target: Pick<NiftiVolume, 'dims' | 'affine'>, fill = 0): Float32Array {
  const [nx, ny, nz] = target.dims;
  const [sx, sy, sz] = src.dims;
  const inv = invertAffine(src.affine);
  const T = target.affine;
  // M = inv(src) * target: voxel of target -> voxel of src
  const M = [0, 1, 2].map((r) => [0, 1, 2, 3].map((c) => inv[r][0] * T[0][c] + inv[r][1] * T[1][c] + inv[r][2] * T[2][c] + (c === 3 ? inv[r][3] : 0)));
  const out = new Float32Array(nx * ny * nz);
  let o = 0;
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++, o++) {
        const x = Math.round(M[0][0] * i + M[0][1] * j + M[0][2] * k + M[0][3]);
        const y = Math.round(M[1][0] * i + M[1][1] * j + M[1][2] * k + M[1][3]);
        const z = Math.round(M[2][0] * i + M[2][1] * j + M[2][2] * k + M[2][3]);
        out[o] = x >= 0 && y >= 0 && z >= 0 && x < sx && y < sy && z < sz ? src.data[x + sx * (y + sy * z)] : fill;
      }
  return out;
}

/** Encodes a volume as an uncompressed single-file NIfTI-1 (for tests and exports). */
export function encodeNifti(
  dims: number[],
  data: ArrayLike<number>,
  opts: { datatype?: 2 | 4 | 16; pixdim?: number[]; affine?: number[][]; sclSlope?: number; sclInter?: number; littleEndian?: boolean; descrip?: string } = {},
): Buffer {
  const datatype = opts.datatype ?? 16;
  const B = NIFTI_DATATYPES[datatype].bytes;
  const n = dims.reduce((a, b) => a * b, 1);
  if (data.length !== n) throw new RangeError(`encodeNifti: ${data.length} values for dims ${dims}`);
  const le = opts.littleEndian ?? true;
  const buf = Buffer.alloc(352 + n * B);
  const w16 = (v: number, o: number) => (le ? buf.writeInt16LE(v, o) : buf.writeInt16BE(v, o));
  const wf = (v: number, o: number) => (le ? buf.writeFloatLE(v, o) : buf.writeFloatBE(v, o));
  if (le) buf.writeInt32LE(348, 0);
  else buf.writeInt32BE(348, 0);
  w16(dims.length, 40);
  dims.forEach((d, k) => w16(d, 42 + 2 * k));
  for (let k = dims.length; k < 7; k++) w16(1, 42 + 2 * k);
  w16(datatype, 70);
  w16(B * 8, 72);
  const pd = opts.pixdim ?? [1, 1, 1];
  wf(1, 76);
  pd.forEach((p, k) => wf(p, 80 + 4 * k));
  wf(352, 108);
  wf(opts.sclSlope ?? 1, 112);
  wf(opts.sclInter ?? 0, 116);
  buf.write((opts.descrip ?? '').slice(0, 79), 148, 'latin1');
  if (opts.affine) {
    w16(2, 254);
    opts.affine.forEach((r, i) => r.forEach((v, j) => wf(v, 280 + 16 * i + 4 * j)));
  }
  buf.write('n+1\0', 344, 'latin1');
  for (let i = 0; i < n; i++) {
    const o = 352 + i * B;
    const v = data[i];
    if (datatype === 2) buf[o] = v;
    else if (datatype === 4) w16(v, o);
    else wf(v, o);
  }
  return buf;
}
