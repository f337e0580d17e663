/**
 * Checks the zip container of a torch.save file before libtorch reads it: every record must lie
 * inside the file, and its bytes must match the CRC-32 and size its central directory entry
 * states. A file someone hands you may be truncated or crafted; libtorch 1.13's reader checks
 * neither, and reads what a damaged record points at.
 */
import * as zlib from 'node:zlib';

/** One record of the zip's central directory. */
export interface ZipRecord {
  name: string;
  /** 0 stored, 8 deflated. */
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  /** Offset of the record's bytes (after its local header). */
  dataStart: number;
}

const SIG_EOCD = 0x06054b50,
  SIG_ZIP64_LOCATOR = 0x07064b50,
  SIG_ZIP64_EOCD = 0x06064b50;
const SIG_CENTRAL = 0x02014b50,
  SIG_LOCAL = 0x04034b50;

/** A 64-bit little-endian value that must fit a JavaScript number (any real file does). */
function u64(b: Buffer, at: number, what: string): number {
  const v = b.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${what} is out of range`);
  return Number(v);
}

/**
 * Parses the central directory of `bytes` and checks every record; returns the records.
 *
 * @throws Error naming `source` and the first problem found.
 * @example
 * checkZip(fs.readFileSync('model.pt'), "'model.pt'"); // [{ name: 'archive/data.pkl', ... }, ...]
 */
export function checkZip(bytes: Buffer, source = 'buffer'): ZipRecord[] {
  const fail = (why: string): never => {
    throw new Error(`load: cannot read ${source} as a torch.save file: ${why}`);
  };
  const n = bytes.length;
  if (n < 22) fail(`${n} bytes is too short for a zip archive`);
  // End of central directory: the last signature within the final 64 KiB + 22 bytes.
  let eocd = -1;
  for (let i = n - 22; i >= Math.max(0, n - 22 - 0xffff); i--) {
    if (bytes.readUInt32LE(i) === SIG_EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) fail('no end-of-archive record (truncated, or not a zip file)');
  let count = bytes.readUInt16LE(eocd + 10);
  let dirSize = bytes.readUInt32LE(eocd + 12);
  let dirStart = bytes.readUInt32LE(eocd + 16);
  if (count === 0xffff || dirSize === 0xffffffff || dirStart === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || bytes.readUInt32LE(loc) !== SIG_ZIP64_LOCATOR) fail('a zip64 archive without its locator');
    const z = u64(bytes, loc + 8, 'the zip64 directory offset');
    if (z + 56 > n || bytes.readUInt32LE(z) !== SIG_ZIP64_EOCD) fail('the zip64 end-of-archive record lies outside the file');
    count = u64(bytes, z + 32, 'the record count');
    dirSize = u64(bytes, z + 40, 'the directory size');
    dirStart = u64(bytes, z + 48, 'the directory offset');
  }
  if (dirStart + dirSize > n) fail('the central directory lies outside the file');
  const records: ZipRecord[] = [];
  let at = dirStart;
  for (let k = 0; k < count; k++) {
    if (at + 46 > n || bytes.readUInt32LE(at) !== SIG_CENTRAL) fail(`directory entry ${k} is damaged`);
    const method = bytes.readUInt16LE(at + 10);
    const crc = bytes.readUInt32LE(at + 16);
    let compressedSize = bytes.readUInt32LE(at + 20);
    let size = bytes.readUInt32LE(at + 24);
    const nameLen = bytes.readUInt16LE(at + 28),
      extraLen = bytes.readUInt16LE(at + 30),
      commentLen = bytes.readUInt16LE(at + 32);
    let local = bytes.readUInt32LE(at + 42);
    if (at + 46 + nameLen + extraLen + commentLen > n) fail(`directory entry ${k} runs past the end of the file`);
    const name = bytes.toString('utf8', at + 46, at + 46 + nameLen);
    // zip64 extra field: the 64-bit values of the fields that read 0xffffffff, in this order.
    let e = at + 46 + nameLen;
    const extraEnd = e + extraLen;
    while (e + 4 <= extraEnd) {
      const id = bytes.readUInt16LE(e),
        len = bytes.readUInt16LE(e + 2);
      if (id === 0x0001) {
        let p = e + 4;
        const take = () => {
          if (p + 8 > e + 4 + len) fail(`the zip64 field of '${name}' is short`);
          const v = u64(bytes, p, `a size of '${name}'`);
          p += 8;
          return v;
        };
        if (size === 0xffffffff) size = take();
        if (compressedSize === 0xffffffff) compressedSize = take();
        if (local === 0xffffffff) local = take();
      }
      e += 4 + len;
    }
    if (local + 30 > n || bytes.readUInt32LE(local) !== SIG_LOCAL) fail(`the local header of '${name}' lies outside the file or is damaged`);
    const dataStart = local + 30 + bytes.readUInt16LE(local + 26) + bytes.readUInt16LE(local + 28);
    if (dataStart + compressedSize > n) fail(`record '${name}' runs past the end of the file`);
    const raw = bytes.subarray(dataStart, dataStart + compressedSize);
    let data: Buffer;
    if (method === 0) {
      if (compressedSize !== size) fail(`stored record '${name}' has two sizes (${compressedSize} and ${size})`);
      data = raw;
    } else if (method === 8) {
      try {
        data = zlib.inflateRawSync(raw, { maxOutputLength: Math.max(1, size) });
      } catch {
        return fail(`record '${name}' does not inflate`);
      }
      if (data.length !== size) fail(`record '${name}' inflates to ${data.length} bytes, not ${size}`);
    } else {
      return fail(`record '${name}' uses compression method ${method}`);
    }
    if (zlib.crc32(data) >>> 0 !== crc) fail(`record '${name}' fails its checksum (damaged or altered)`);
    records.push({ name, method, crc, compressedSize, size, dataStart });
    at += 46 + nameLen + extraLen + commentLen;
  }
  return records;
}
