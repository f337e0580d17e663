import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { DataError } from './errors';
import { encodePng } from './png';
import { getDataset } from './registry';
import { LABELME, put, readNpy, tempDir } from './testing';
import { vocColormap } from './voc';

test("PASCAL VOC layout from labelme's VOC export: palette indices, 255 ignore, split lists", (t) => {
  const src = path.join(LABELME, 'semantic_segmentation', 'data_dataset_voc');
  if (!fs.existsSync(src)) return t.skip(`labelme examples not installed (${src}); apt-get install labelme-examples`);
  const root = tempDir('voc');
  const voc = path.join(root, 'VOCdevkit', 'VOC2012');
  const ids = fs
    .readdirSync(path.join(src, 'JPEGImages'))
    .map((f) => f.replace('.jpg', ''))
    .sort();
  for (const id of ids) {
    put(path.join(voc, 'JPEGImages', `${id}.jpg`), fs.readFileSync(path.join(src, 'JPEGImages', `${id}.jpg`)));
    put(path.join(voc, 'SegmentationClass', `${id}.png`), fs.readFileSync(path.join(src, 'SegmentationClassPNG', `${id}.png`)));
  }
  put(path.join(voc, 'ImageSets', 'Segmentation', 'train.txt'), ids.slice(0, 2).join('\n') + '\n');
  put(path.join(voc, 'ImageSets', 'Segmentation', 'val.txt'), ids[2] + '\n');
  const train = getDataset('voc', { root, split: 'train' });
  const val = getDataset('voc', { root, split: 'val' });
  assert.equal(train.length, 2);
  assert.equal(val.length, 1);
  assert.equal(train.numClasses, 21);
  assert.equal(train.classNames[15], 'person');
  assert.deepEqual(train.palette![15], [192, 128, 128]);
  for (const [ds, k, id] of [
    [train, 0, ids[0]],
    [train, 1, ids[1]],
    [val, 0, ids[2]],
  ] as const) {
    const s = ds.get(k);
    if (!('mask' in s)) throw new Error('segmentation sample expected');
    assert.equal(s.id, id);
    const npy = readNpy(path.join(src, 'SegmentationClass', `${id}.npy`));
    assert.deepEqual(npy.shape, [s.height, s.width]);
    for (let i = 0; i < npy.data.length; i++) {
      const want = npy.data[i] < 0 ? 255 : npy.data[i];
      if (s.mask[i] !== want) assert.fail(`${id} pixel ${i}: ${s.mask[i]} vs npy ${npy.data[i]}`);
    }
    assert.equal(s.image.length, 3 * s.height * s.width);
  }
  assert.throws(() => getDataset('voc', { root, split: 'trainval' }), /trainval\.txt: split list does not exist/);
  // an index outside 0-20 and not 255
  const bad = path.join(voc, 'SegmentationClass', `${ids[2]}.png`);
  const w = val.get(0).width,
    h = val.get(0).height;
  const idx = new Uint8Array(w * h);
  idx[5] = 30;
  fs.writeFileSync(bad, encodePng({ width: w, height: h, channels: 1, data: idx, palette: vocColormap(256) }));
  assert.throws(
    () => val.get(0),
    (e: unknown) => e instanceof DataError && e.file === bad && /label 30 at \(x=5, y=0\) is outside the PASCAL VOC/.test(e.reason),
  );
});

function writeFolder(root: string, classes: string): void {
  put(path.join(root, 'classes.txt'), classes);
}

test('generic folder: split sub-folders, classes.txt, grey and RGB (colour-keyed) masks', () => {
  const root = tempDir('folder');
  writeFolder(root, '# comment\nbackground 0 0 0\nleaf 0 200 0\nsky blue 0 0 255\n');
  const [w, h] = [6, 4];
  const grey = Uint8Array.from({ length: w * h }, (_, i) => (i % 5 === 4 ? 255 : i % 3));
  for (const split of ['train', 'val']) {
    put(path.join(root, 'images', split, 'sub', 'x1.png'), encodePng({ width: w, height: h, channels: 3, data: new Uint8Array(w * h * 3).fill(10) }));
    put(path.join(root, 'masks', split, 'sub', 'x1.png'), encodePng({ width: w, height: h, channels: 1, data: grey }));
  }
  const colours = [
    [0, 0, 0],
    [0, 200, 0],
    [0, 0, 255],
  ];
  const rgb = new Uint8Array(w * h * 3);
  grey.forEach((g, i) => rgb.set(colours[g === 255 ? 0 : g], i * 3));
  put(path.join(root, 'images', 'train', 'x2.png'), encodePng({ width: w, height: h, channels: 1, data: new Uint8Array(w * h).fill(128) }));
  put(path.join(root, 'masks', 'train', 'x2.png'), encodePng({ width: w, height: h, channels: 3, data: rgb }));
  const train = getDataset('folder', { root, split: 'train' });
  assert.deepEqual(train.classNames, ['background', 'leaf', 'sky blue']);
  assert.deepEqual(train.palette, colours);
  assert.equal(train.length, 2);
  const s0 = train.get(0),
    s1 = train.get(1);
  if (!('mask' in s0) || !('mask' in s1)) throw new Error('segmentation samples expected');
  assert.equal(s0.id, 'sub/x1');
  assert.deepEqual(Array.from(s0.mask), Array.from(grey));
  assert.equal(s1.id, 'x2');
  assert.deepEqual(
    Array.from(s1.mask),
    Array.from(grey, (g) => (g === 255 ? 0 : g)),
  );
  assert.ok(Math.abs(s1.image[2 * w * h] - 128 / 255) < 1e-6); // grey image repeated into 3 channels
  assert.equal(getDataset('folder', { root, split: 'val' }).length, 1);
  assert.throws(() => getDataset('folder', { root, split: 'test' }), /no split 'test': expected the folder images\/test\/ or the list splits\/test\.txt/);
  assert.equal(getDataset('folder', { root, split: 'all' }).length, 3);

  // bad data in the folder layout
  put(path.join(root, 'masks', 'train', 'x2.png'), encodePng({ width: w, height: h, channels: 3, data: new Uint8Array(w * h * 3).fill(7) }));
  assert.throws(() => train.get(1), /x2\.png: colour \(7, 7, 7\) at \(x=0, y=0\) is not a class \(0-2, 255 = ignore\) class colour/);
  put(path.join(root, 'masks', 'train', 'sub', 'x1.png'), encodePng({ width: w, height: h, channels: 1, data: new Uint8Array(w * h).fill(3) }));
  assert.throws(() => train.get(0), /x1\.png: label 3 at \(x=0, y=0\) is outside the class \(0-2, 255 = ignore\) label map/);
  fs.mkdirSync(path.join(root, 'images', 'empty'));
  assert.throws(
    () => getDataset('folder', { root, split: 'empty' }),
    (e: unknown) => e instanceof DataError && e.file === path.join(root, 'images', 'empty') && /^empty folder/.test(e.reason),
  );
  assert.throws(() => getDataset('folder', { root: path.join(root, 'nothing'), split: 'train' }), /classes\.txt: class file does not exist/);
});

test('folder: split lists in splits/ and skipBad for images without masks', () => {
  const root = tempDir('folder2');
  writeFolder(root, 'a\nb\n');
  for (const n of ['p', 'q', 'r']) put(path.join(root, 'images', `${n}.png`), encodePng({ width: 2, height: 2, channels: 3, data: new Uint8Array(12) }));
  for (const n of ['p', 'q']) put(path.join(root, 'masks', `${n}.png`), encodePng({ width: 2, height: 2, channels: 1, data: new Uint8Array([0, 1, 1, 255]) }));
  put(path.join(root, 'splits', 'train.txt'), 'p\nr\n');
  put(path.join(root, 'splits', 'val.txt'), 'q\n');
  assert.equal(getDataset('folder', { root, split: 'val' }).length, 1);
  assert.throws(
    () => getDataset('folder', { root, split: 'train' }),
    (e: unknown) => e instanceof DataError && e.file === path.join(root, 'masks', 'r.png') && /label file missing/.test(e.reason),
  );
  const ds = getDataset('folder', { root, split: 'train', skipBad: true });
  assert.equal(ds.length, 1);
  assert.equal(ds.skipped.length, 1);
  assert.equal(ds.palette, undefined);
});
