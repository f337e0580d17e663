/**
 * Helpers for the data tests (temp folders, .npy reading). Not part of the public API.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** A fresh temp folder, removed when the process exits. */
export function tempDir(tag: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `dnas-${tag}-`));
  process.on('exit', () => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

/** Writes a file, creating its folders. */
export function put(file: string, data: Buffer | string): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, data);
  return file;
}

/** Reads a little-endian int32/uint8 C-order .npy (what labelme writes) into numbers. */
export function readNpy(file: string): { shape: number[]; data: Int32Array } {
  const b = fs.readFileSync(file);
  if (b.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(`${file}: not a .npy`);
  const major = b[6];
  const hlen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const off = (major === 1 ? 10 : 12) + hlen;
  const header = b.toString('latin1', major === 1 ? 10 : 12, off);
  const descr = /'descr':\s*'([^']+)'/.exec(header)![1];
  const shape = /'shape':\s*\(([^)]*)\)/
    .exec(header)![1]
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${file}: Fortran order`);
  const n = shape.reduce((a, c) => a * c, 1);
  const data = new Int32Array(n);
  if (descr === '<i4') for (let i = 0; i < n; i++) data[i] = b.readInt32LE(off + 4 * i);
  else if (descr === '|u1' || descr === '|i1') for (let i = 0; i < n; i++) data[i] = descr === '|u1' ? b[off + i] : b.readInt8(off + i);
  else throw new Error(`${file}: dtype ${descr}`);
  return { shape, data };
}

/** The labelme examples folder when the Debian package labelme-examples is installed, else null. */
export const LABELME = '/usr/share/doc/labelme-examples/examples';
