import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { PNG } from 'pngjs';
import { DataError } from './errors';
import { decodeImage, decodeLabelMap } from './image';
import { crc32, decodePng, encodePng, PngFilter } from './png';
import { Rng } from './rng';
import { LABELME, readNpy } from './testing';
import { vocColormap } from './voc';

function randomBytes(n: number, seed: number): Uint8Array {
  const r = new Rng(seed);
  return Uint8Array.from({ length: n }, () => r.int(256));
}

test('crc32 matches the standard check value', () => {
  assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
});

test('encode/decode round trip: every channel count, filter and interlacing, odd sizes', () => {
  for (const channels of [1, 2, 3, 4] as const) {
    for (const filter of [0, 1, 2, 3, 4, 'adaptive'] as PngFilter[]) {
      for (const interlace of [false, true]) {
        const [w, h] = [13, 7];
        const data = randomBytes(w * h * channels, channels * 100 + (typeof filter === 'number' ? filter : 9));
        const dec = decodePng(encodePng({ width: w, height: h, channels, data }, { filter, interlace }));
        assert.equal(dec.width, w);
        assert.equal(dec.height, h);
        assert.equal(dec.channels, channels);
        assert.equal(dec.interlaced, interlace);
        assert.deepEqual(Array.from(dec.data), Array.from(data), `channels ${channels} filter ${filter} interlace ${interlace}`);
      }
    }
  }
});

test('palette PNGs give indices, not colours; pngjs (independent) sees the same colours', () => {
  const pal = vocColormap(256);
  const [w, h] = [9, 5];
  const idx = Uint8Array.from({ length: w * h }, (_, i) => (i % 7 === 0 ? 255 : i % 21));
  const buf = encodePng({ width: w, height: h, channels: 1, data: idx, palette: pal });
  const dec = decodePng(buf);
  assert.equal(dec.colorType, 3);
  assert.deepEqual(Array.from(dec.data), Array.from(idx));
  const lm = decodeLabelMap(buf);
  assert.equal(lm.kind, 'palette');
  assert.deepEqual(Array.from(lm.values), Array.from(idx));
  const ref = PNG.sync.read(buf);
  for (let i = 0; i < w * h; i++) {
    assert.deepEqual([ref.data[i * 4], ref.data[i * 4 + 1], ref.data[i * 4 + 2]], pal[idx[i]]);
  }
  // VOC border colour of index 255
  assert.deepEqual(pal[255], [224, 224, 192]);
  assert.deepEqual(pal[1], [128, 0, 0]);
  assert.deepEqual(pal[15], [192, 128, 128]);
});

test('PNGs written by pngjs (adaptive filters, RGBA and grey 16-bit) decode to the same pixels', () => {
  const [w, h] = [17, 11];
  const src = new PNG({ width: w, height: h });
  const rgba = randomBytes(w * h * 4, 5);
  src.data.set(rgba);
  const dec = decodePng(PNG.sync.write(src));
  assert.equal(dec.channels, 4);
  assert.deepEqual(Array.from(dec.data), Array.from(rgba));
  const grey16 = PNG.sync.write(src, { colorType: 0, inputColorType: 6, bitDepth: 16 } as never);
  const g = decodePng(grey16);
  assert.equal(g.bitDepth, 16);
  assert.equal(g.channels, 1);
  const img = decodeImage(grey16, 'g16.png', 3);
  assert.equal(img.channels, 3);
  assert.ok(Math.abs(img.data[0] - g.data[0] / 65535) < 1e-6);
});

test('labelme palette PNG masks: indices equal the .npy label arrays pixel by pixel', (t) => {
  const dir = path.join(LABELME, 'semantic_segmentation', 'data_dataset_voc');
  if (!fs.existsSync(dir)) return t.skip(`labelme examples not installed (${dir}); apt-get install labelme-examples`);
  let checked = 0;
  for (const sub of ['semantic_segmentation', 'video_annotation']) {
    const d = path.join(LABELME, sub, 'data_dataset_voc');
    for (const f of fs.readdirSync(path.join(d, 'SegmentationClassPNG'))) {
      const file = path.join(d, 'SegmentationClassPNG', f);
      const lm = decodeLabelMap(fs.readFileSync(file), file);
      const npy = readNpy(path.join(d, 'SegmentationClass', f.replace('.png', '.npy')));
      assert.deepEqual(npy.shape, [lm.height, lm.width]);
      assert.equal(lm.kind, 'palette');
      for (let i = 0; i < npy.data.length; i++) {
        const want = npy.data[i] < 0 ? 255 : npy.data[i]; // labelme stores ignore (-1) as 255
        if (lm.values[i] !== want) assert.fail(`${file} pixel ${i}: index ${lm.values[i]}, npy ${npy.data[i]}`);
      }
      // and the palette colours agree with pngjs's RGBA expansion
      const ref = PNG.sync.read(fs.readFileSync(file));
      for (let i = 0; i < lm.values.length; i += 97) {
        const k = lm.values[i] * 3;
        assert.deepEqual([ref.data[i * 4], ref.data[i * 4 + 1], ref.data[i * 4 + 2]], Array.from(lm.palette!.subarray(k, k + 3)));
      }
      checked++;
    }
  }
  assert.equal(checked, 8);
});

test('corrupt and truncated PNG/JPEG files raise DataErrors that name the file and the fault', () => {
  const good = encodePng({ width: 8, height: 8, channels: 3, data: randomBytes(192, 1) });
  const cases: [string, Buffer, RegExp][] = [
    ['empty.png', Buffer.alloc(0), /empty file/],
    ['text.png', Buffer.from('hello, not an image'), /not a PNG or JPEG/],
    ['cut.png', good.subarray(0, good.length - 20), /truncated PNG/],
    ['header-only.png', good.subarray(0, 20), /truncated PNG/],
  ];
  const flipped = Buffer.from(good);
  flipped[good.length - 16] ^= 0xff; // inside the IDAT data
  cases.push(['flipped.png', flipped, /CRC mismatch/]);
  const jpg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 1, 2, 3]);
  cases.push(['cut.jpg', jpg, /truncated JPEG/]);
  const garbageJpg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xdb, 0x00, 0x03, 0x00]), Buffer.from([0xff, 0xd9])]);
  cases.push(['bad.jpg', garbageJpg, /corrupt JPEG/]);
  for (const [name, buf, re] of cases) {
    assert.throws(
      () => decodeImage(buf, `/data/${name}`),
      (e: unknown) => {
        assert.ok(e instanceof DataError, `${name}: ${e}`);
        assert.equal(e.file, `/data/${name}`);
        assert.match(e.message, new RegExp(`^/data/${name.replace('.', '\\.')}: `));
        assert.match(e.reason, re, `${name}: ${e.reason}`);
        return true;
      },
    );
  }
  assert.throws(() => decodeLabelMap(Buffer.from([0xff, 0xd8, 0xff, 0xe0]), 'm.jpg'), /m\.jpg: label masks must be PNG/);
});

test('an image declaring more pixels than the limit is refused from its header', () => {
  const zlib = require('node:zlib') as typeof import('node:zlib') & { crc32(b: Buffer): number };
  const png = Buffer.from(encodePng({ width: 1, height: 1, channels: 1, data: new Uint8Array([7]) }));
  // IHDR: length at 8, type at 12, width at 16, height at 20, CRC over type and data at 29
  png.writeUInt32BE(12000, 16);
  png.writeUInt32BE(12000, 20);
  png.writeUInt32BE(zlib.crc32(png.subarray(12, 29)) >>> 0, 29);
  assert.throws(
    () => decodePng(png, 'huge.png'),
    /huge\.png: the image declares 12000x12000 = 144000000 pixels, more than the limit of 50000000 \(set DNAS_MAX_PIXELS to raise it\)/,
  );
  const before = process.env.DNAS_MAX_PIXELS;
  process.env.DNAS_MAX_PIXELS = '0.5';
  try {
    assert.throws(
      () => decodePng(Buffer.from(encodePng({ width: 1, height: 1, channels: 1, data: new Uint8Array([7]) })), 'one.png'),
      /more than the limit of 0\.5/,
    );
  } finally {
    if (before === undefined) delete process.env.DNAS_MAX_PIXELS;
    else process.env.DNAS_MAX_PIXELS = before;
  }
});
