import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { makeBatch } from './batch';
import { CITYSCAPES_CLASSES, CITYSCAPES_LABELS, CITYSCAPES_PALETTE, cityscapes } from './cityscapes';
import { DataError } from './errors';
import { readImage, readLabelMap } from './image';
import { encodePng } from './png';
import { getDataset } from './registry';
import { Rng } from './rng';
import { LABELME, put, tempDir } from './testing';
import { resizeBilinear, resizeNearest } from './transforms';
import { validate } from './validate';

// trainId of each labelId 0..33, written out here independently of cityscapes.ts's table.
const TRAIN_ID = [255, 255, 255, 255, 255, 255, 255, 0, 1, 255, 255, 2, 3, 4, 255, 255, 255, 5, 255, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 255, 255, 16, 17, 18];

interface Frame {
  name: string;
  rgb: Uint8Array;
  ids: Uint8Array;
  w: number;
  h: number;
}

/**
 * Street frames of labelme's video example (car / track annotations) turned into labelIds:
 * car -> 26 (car), track -> 27 (truck), background -> sky (23) in the top 40 %, road (7) below,
 * the bottom 3 rows ego vehicle (1), a band of parking (9) on the left, and row 0 cycling through
 * all 34 ids. Without labelme-examples, generated frames with random labelId blocks.
 */
function frames(): { frames: Frame[]; source: string } {
  const dir = path.join(LABELME, 'video_annotation', 'data_dataset_voc');
  const out: Frame[] = [];
  if (fs.existsSync(path.join(dir, 'JPEGImages'))) {
    for (const f of fs.readdirSync(path.join(dir, 'JPEGImages')).sort()) {
      const stem = f.replace('.jpg', '');
      const img = readImage(path.join(dir, 'JPEGImages', f));
      const cls = readLabelMap(path.join(dir, 'SegmentationClassPNG', `${stem}.png`));
      const w = Math.round(img.width / 4),
        h = Math.round(img.height / 4);
      const small = resizeBilinear(img.data, 3, img.height, img.width, h, w);
      const lab = resizeNearest(cls.values, cls.height, cls.width, h, w);
      const rgb = new Uint8Array(w * h * 3);
      for (let i = 0; i < w * h; i++) for (let c = 0; c < 3; c++) rgb[i * 3 + c] = Math.round(small[c * w * h + i] * 255);
      const ids = new Uint8Array(w * h);
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) {
          const i = y * w + x;
          let id = lab[i] === 1 ? 26 : lab[i] === 2 ? 27 : y < 0.4 * h ? 23 : 7;
          if (y >= h - 3) id = 1;
          if (x < 5 && y > h / 2) id = 9;
          if (y === 0) id = x % 34;
          ids[i] = id;
        }
      out.push({ name: stem, rgb, ids, w, h });
    }
    return { frames: out, source: 'labelme-examples street frames' };
  }
  const r = new Rng(7);
  for (let n = 0; n < 5; n++) {
    const [w, h] = [64, 40];
    const rgb = Uint8Array.from({ length: w * h * 3 }, () => r.int(256));
    const ids = new Uint8Array(w * h);
    for (let i = 0; i < w * h; i++) ids[i] = (Math.floor((i % w) / 8) * 7 + Math.floor(i / w / 8) * 3 + n) % 34;
    out.push({ name: `gen${n}`, rgb, ids, w, h });
  }
  return { frames: out, source: 'generated frames (labelme-examples not installed)' };
}

function writeCity(root: string, split: string, city: string, f: Frame): void {
  const base = `${city}_000000_${f.name}`;
  put(path.join(root, 'leftImg8bit', split, city, `${base}_leftImg8bit.png`), encodePng({ width: f.w, height: f.h, channels: 3, data: f.rgb }));
  put(path.join(root, 'gtFine', split, city, `${base}_gtFine_labelIds.png`), encodePng({ width: f.w, height: f.h, channels: 1, data: f.ids }));
}

test('the label table: 34 ids, 19 train classes, Cityscapes colours', () => {
  assert.equal(CITYSCAPES_LABELS.length, 34);
  assert.deepEqual(
    CITYSCAPES_LABELS.map((l) => l.trainId),
    TRAIN_ID,
  );
  assert.deepEqual(
    CITYSCAPES_LABELS.map((l) => l.id),
    Array.from({ length: 34 }, (_, i) => i),
  );
  assert.deepEqual(
    [...CITYSCAPES_CLASSES],
    [
      'road',
      'sidewalk',
      'building',
      'wall',
      'fence',
      'pole',
      'traffic light',
      'traffic sign',
      'vegetation',
      'terrain',
      'sky',
      'person',
      'rider',
      'car',
      'truck',
      'bus',
      'train',
      'motorcycle',
      'bicycle',
    ],
  );
  assert.deepEqual(CITYSCAPES_PALETTE[0], [128, 64, 128]);
  assert.deepEqual(CITYSCAPES_PALETTE[10], [70, 130, 180]);
  assert.deepEqual(CITYSCAPES_PALETTE[18], [119, 11, 32]);
});

test('Cityscapes layout: images, ids and every pixel of the label mapping', () => {
  const { frames: fr, source } = frames();
  const root = tempDir('cityscapes');
  fr.slice(0, 3).forEach((f) => writeCity(root, 'train', 'aachen', f));
  fr.slice(3).forEach((f) => writeCity(root, 'val', 'bremen', f));
  const train = getDataset('cityscapes', { root, split: 'train' });
  const val = getDataset('cityscapes', { root, split: 'val' });
  assert.equal(train.length, 3, source);
  assert.equal(val.length, fr.length - 3);
  assert.equal(train.numClasses, 19);
  assert.equal(train.ignoreIndex, 255);
  assert.deepEqual(train.palette![13], [0, 0, 142]);
  assert.equal(train.task, 'segmentation');
  const all = [...fr.slice(0, 3).map((f) => ['aachen', f] as const), ...fr.slice(3).map((f) => ['bremen', f] as const)];
  all.forEach(([city, f], n) => {
    const ds = n < 3 ? train : val;
    const s = ds.get(n < 3 ? n : n - 3);
    if (!('mask' in s)) throw new Error('segmentation sample expected');
    assert.equal(s.id, `${city}_000000_${f.name}`);
    assert.equal(s.width, f.w);
    assert.equal(s.height, f.h);
    const hw = f.w * f.h;
    for (let i = 0; i < hw; i++) {
      const want = TRAIN_ID[f.ids[i]];
      if (s.mask[i] !== want) assert.fail(`${s.id} pixel ${i}: labelId ${f.ids[i]} -> ${s.mask[i]}, expected ${want}`);
      for (let c = 0; c < 3; c++) if (Math.abs(s.image[c * hw + i] - f.rgb[i * 3 + c] / 255) > 1e-6) assert.fail(`${s.id} pixel ${i} channel ${c}`);
    }
    // every ignored labelId really is ignored, and the frame's classes are present
    const seen = new Set(s.mask);
    assert.ok(seen.has(255));
    if (source.startsWith('labelme')) for (const c of [0, 10, 13]) assert.ok(seen.has(c), `${s.id} has class ${c}`);
  });
});

function tinyPair(
  root: string,
  split: string,
  city: string,
  name: string,
  o: { w?: number; h?: number; mw?: number; mh?: number; id?: number } = {},
): { image: string; mask: string } {
  const [w, h] = [o.w ?? 12, o.h ?? 10];
  const [mw, mh] = [o.mw ?? w, o.mh ?? h];
  const image = put(
    path.join(root, 'leftImg8bit', split, city, `${name}_leftImg8bit.png`),
    encodePng({ width: w, height: h, channels: 3, data: new Uint8Array(w * h * 3).fill(90) }),
  );
  const ids = new Uint8Array(mw * mh).fill(7);
  if (o.id !== undefined) ids[mw * 2 + 3] = o.id;
  const mask = put(path.join(root, 'gtFine', split, city, `${name}_gtFine_labelIds.png`), encodePng({ width: mw, height: mh, channels: 1, data: ids }));
  return { image, mask };
}

test('bad data: each case is a DataError naming the file and the fault; skipBad skips and counts', () => {
  const root = tempDir('cs-bad');
  tinyPair(root, 'train', 'a', 'a_0_good');
  const corrupt = tinyPair(root, 'train', 'a', 'a_1_corrupt');
  fs.writeFileSync(corrupt.image, 'this is not a png');
  const truncated = tinyPair(root, 'train', 'a', 'a_2_truncated');
  fs.writeFileSync(truncated.image, fs.readFileSync(truncated.image).subarray(0, 60));
  const mismatch = tinyPair(root, 'train', 'a', 'a_3_size', { mw: 10, mh: 10 });
  const unmapped = tinyPair(root, 'train', 'a', 'a_4_label', { id: 40 });
  tinyPair(root, 'train', 'a', 'a_5_good');
  const orphan = put(
    path.join(root, 'leftImg8bit', 'train', 'a', 'a_6_nolabel_leftImg8bit.png'),
    encodePng({ width: 4, height: 4, channels: 1, data: new Uint8Array(16) }),
  );
  const emptyCity = path.join(root, 'leftImg8bit', 'train', '0empty');
  fs.mkdirSync(emptyCity, { recursive: true });

  // scanning: the empty city and the missing label file
  assert.throws(
    () => cityscapes({ root, split: 'train' }),
    (e: unknown) => e instanceof DataError && e.file === emptyCity && /empty folder/.test(e.reason),
  );
  fs.rmdirSync(emptyCity);
  const missingMask = path.join(root, 'gtFine', 'train', 'a', 'a_6_nolabel_gtFine_labelIds.png');
  assert.throws(
    () => cityscapes({ root, split: 'train' }),
    (e: unknown) => e instanceof DataError && e.file === missingMask && e.reason === `label file missing for image ${orphan}`,
  );
  fs.mkdirSync(emptyCity);
  const ds = cityscapes({ root, split: 'train', skipBad: true });
  assert.equal(ds.length, 6);
  assert.deepEqual(
    ds.skipped.map((s) => s.file),
    [emptyCity, missingMask],
  );

  // reading
  const expectBad = (i: number, file: string, re: RegExp) =>
    assert.throws(
      () => ds.get(i),
      (e: unknown) => {
        assert.ok(e instanceof DataError);
        assert.equal(e.file, file);
        assert.match(e.reason, re);
        assert.ok(e.message.startsWith(file + ': '));
        return true;
      },
    );
  expectBad(1, corrupt.image, /not a PNG or JPEG image/);
  expectBad(2, truncated.image, /truncated PNG/);
  expectBad(3, mismatch.mask, new RegExp(`mask is 10x10 but its image ${mismatch.image.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is 12x10`));
  expectBad(4, unmapped.mask, /label 40 at \(x=3, y=2\) is outside the Cityscapes \(labelIds 0-33\) label map/);
  assert.equal(ds.get(0).id, 'a_0_good');

  // skipBad in a batch: the four bad samples are left out and reported
  const b = makeBatch(ds, [0, 1, 2, 3, 4, 5], 0, 0, {}, true);
  assert.deepEqual(b.indices, [0, 5]);
  assert.equal(b.shape[0], 2);
  assert.deepEqual(
    b.skipped.map((s) => s.index),
    [1, 2, 3, 4],
  );
  assert.throws(() => makeBatch(ds, [0, 1], 0, 0, {}, false), DataError);
  const v = validate(ds, { skipBad: true });
  assert.deepEqual(v.good, [0, 5]);
  assert.equal(v.bad.length, 6); // 2 found while scanning + 4 while reading
  assert.throws(() => validate(ds), DataError);

  // an empty split is an error even with skipBad
  fs.mkdirSync(path.join(root, 'leftImg8bit', 'val'), { recursive: true });
  fs.mkdirSync(path.join(root, 'gtFine', 'val'), { recursive: true });
  assert.throws(
    () => cityscapes({ root, split: 'val', skipBad: true }),
    (e: unknown) => e instanceof DataError && /empty folder: no city folders/.test(e.reason),
  );
  assert.throws(() => cityscapes({ root, split: 'test' }), /leftImg8bit\/test: folder does not exist/);
});
