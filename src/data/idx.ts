/**
 * The IDX format of (Fashion-)MNIST: a magic number giving the element type and rank, the
 * dimensions as big-endian int32, then the data. Gzipped files are inflated with node:zlib.
 */
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { DataError } from './errors';

/** A decoded IDX array of unsigned bytes. */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/** Decodes IDX bytes (gzipped or not). Only unsigned-byte data (type 0x08) is accepted. */
export function decodeIdx(input: Buffer, file = '<buffer>'): IdxArray {
  let buf = input;
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      buf = zlib.gunzipSync(buf);
    } catch (e) {
      throw new DataError(file, `corrupt or truncated gzip data (${(e as Error).message})`);
    }
  }
  if (buf.length < 4 || buf[0] !== 0 || buf[1] !== 0) throw new DataError(file, 'not an IDX file (bad magic number)');
  if (buf[2] !== 0x08) throw new DataError(file, `IDX element type 0x${buf[2].toString(16)} is not supported (only unsigned bytes, 0x08)`);
  const rank = buf[3];
  if (buf.length < 4 + 4 * rank) throw new DataError(file, 'truncated IDX header');
  const dims = Array.from({ length: rank }, (_, k) => buf.readInt32BE(4 + 4 * k));
  const n = dims.reduce((a, b) => a * b, 1);
  const off = 4 + 4 * rank;
  if (buf.length < off + n) throw new DataError(file, `truncated IDX data: ${buf.length - off} bytes, ${n} needed for [${dims.join(', ')}]`);
  return { dims, data: new Uint8Array(buf.buffer, buf.byteOffset + off, n) };
}

/** Reads an IDX file; errors name it. */
export function readIdx(file: string): IdxArray {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw new DataError(file, (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file does not exist' : `cannot be read (${(e as Error).message})`);
  }
  return decodeIdx(buf, file);
}
