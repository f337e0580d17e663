import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { aalGroup, BRAIN_CLASSES, loadBrainVolume } from './brain';
import { DEBIAN_SOURCES, missingDebianData } from './debian';
import { DataError } from './errors';
import { loadFashionMnist, renderFashionScene } from './fashion';
import { decodeIdx, readIdx } from './idx';
import { getDataset } from './registry';

const noFashion = missingDebianData('fashion-mnist');
const noBrain = missingDebianData('brain-mri');

test('missing Debian data is reported with the apt-get fix', () => {
  const why = missingDebianData('brain-mri', '/nonexistent');
  assert.match(why!, /\/nonexistent\/ch2\.nii\.gz/);
  assert.match(why!, /apt-get install mricron-data/);
  assert.match(missingDebianData('fashion-scenes', '/nonexistent')!, /apt-get install dataset-fashion-mnist/);
  assert.throws(() => getDataset('fashion-mnist', { split: 'train', root: '/nonexistent' }), /apt-get install dataset-fashion-mnist/);
  assert.throws(() => getDataset('nope', { split: 'train' }), /unknown data set 'nope'/);
  assert.throws(() => getDataset('cityscapes', { split: 'train' }), /option root/);
});

test('IDX reader: Fashion-MNIST headers and labels match an independent reading', (t) => {
  if (noFashion) return t.skip(noFashion);
  const dir = DEBIAN_SOURCES['fashion-mnist'].dir;
  const img = readIdx(path.join(dir, 'train-images-idx3-ubyte.gz'));
  assert.deepEqual(img.dims, [60000, 28, 28]);
  let sum = 0;
  for (let i = 0; i < 784; i++) sum += img.data[i];
  assert.equal(sum, 76247); // values from python3 gzip + struct
  assert.equal(img.data[14 * 28 + 14], 217);
  const tr = loadFashionMnist('train');
  assert.deepEqual(Array.from(tr.labels.subarray(0, 20)), [9, 0, 0, 3, 0, 2, 7, 2, 5, 5, 0, 9, 5, 5, 7, 9, 1, 0, 6, 4]);
  const te = loadFashionMnist('test');
  assert.equal(te.n, 10000);
  assert.deepEqual(Array.from(te.labels.subarray(0, 20)), [9, 2, 1, 1, 6, 1, 4, 6, 5, 7, 4, 5, 7, 3, 4, 1, 2, 4, 8, 0]);
  assert.throws(
    () => decodeIdx(Buffer.from([0, 0, 8, 1, 0, 0, 0, 9, 1, 2]), 'x.idx'),
    (e: unknown) => e instanceof DataError && /truncated IDX data: 2 bytes, 9 needed/.test(e.reason),
  );
  const cls = getDataset('fashion-mnist', { split: 'val' });
  assert.equal(cls.task, 'classification');
  assert.equal(cls.length, 10000);
  const s = cls.get(0);
  assert.ok('label' in s && s.label === 9);
  assert.deepEqual([s.channels, s.height, s.width], [1, 28, 28]);
});

test('fashion-scenes: deterministic, labels = class + 1 under real items, train/val from different sources', (t) => {
  if (noFashion) return t.skip(noFashion);
  const a = getDataset('fashion-scenes', { split: 'train' });
  const b = getDataset('fashion-scenes', { split: 'train' });
  assert.equal(a.numClasses, 11);
  assert.equal(a.classNames[10], 'Ankle boot');
  assert.equal(a.length, 4000);
  const s1 = a.get(17),
    s2 = b.get(17);
  if (!('mask' in s1) || !('mask' in s2)) throw new Error('segmentation expected');
  assert.deepEqual(s1.image, s2.image);
  assert.deepEqual(s1.mask, s2.mask);
  assert.deepEqual([s1.channels, s1.height, s1.width], [3, 64, 64]);
  assert.ok(s1.image.every((v) => v >= 0 && v <= 1));
  const src = loadFashionMnist('train');
  const o = { seed: 0, splitCode: 1, items: [2, 4] as [number, number], scale: [0.35, 0.7] as [number, number], threshold: 0.25 };
  for (let i = 0; i < 50; i++) {
    const r = renderFashionScene(src, i, 64, 64, o);
    assert.ok(r.items.length >= 2 && r.items.length <= 4);
    const labels = new Set(r.items.map((it) => it.label + 1));
    for (let p = 0; p < r.mask.length; p++) {
      const m = r.mask[p];
      if (m === 0) continue;
      assert.ok(labels.has(m), `scene ${i}: label ${m} without such an item`);
      const x = p % 64,
        y = Math.floor(p / 64);
      assert.ok(r.items.some((it) => it.label + 1 === m && x >= it.left && x < it.left + it.side && y >= it.top && y < it.top + it.side));
    }
    // the last item is on top: its labelled pixels carry its class
    const last = r.items[r.items.length - 1];
    let own = 0;
    for (let y = last.top; y < last.top + last.side; y++)
      for (let x = last.left; x < last.left + last.side; x++) if (r.mask[y * 64 + x] === last.label + 1) own++;
    assert.ok(own > 0.05 * last.side * last.side, `scene ${i}: last item labelled`);
  }
  const seeded = getDataset('fashion-scenes', { split: 'train', seed: 5 }).get(17);
  assert.notDeepEqual(seeded.image, s1.image);
  const val = getDataset('fashion-scenes', { split: 'val', size: [48, 80], length: 10 });
  assert.equal(val.length, 10);
  assert.deepEqual([val.get(0).height, val.get(0).width], [48, 80]);
});

test('brain-mri: atlas aligned, classes grouped, train and val slices disjoint with a gap', (t) => {
  if (noBrain) return t.skip(noBrain);
  const v = loadBrainVolume();
  assert.deepEqual(v.dims, [181, 217, 181]);
  assert.equal(v.resampled, false);
  const { train, val } = v.slices;
  assert.equal(train.length + val.length > 100, true);
  const tr = new Set(train);
  for (const k of val) {
    assert.ok(!tr.has(k), `slice ${k} in both`);
    assert.ok(!tr.has(k - 1) && !tr.has(k + 1), `slice ${k} has a training neighbour`);
  }
  assert.ok(val.length >= 0.2 * (train.length + val.length) && val.length <= 0.35 * (train.length + val.length));
  const ds = getDataset('brain-mri', { split: 'train' });
  const dv = getDataset('brain-mri', { split: 'val' });
  assert.equal(ds.length, train.length);
  assert.equal(dv.length, val.length);
  assert.equal(ds.numClasses, 9);
  assert.deepEqual(ds.classNames, [...BRAIN_CLASSES]);
  // every class occurs in the training slices
  const counts = new Array(9).fill(0);
  for (let i = 0; i < ds.length; i += 3) {
    const s = ds.get(i);
    if ('mask' in s) for (const m of s.mask) counts[m]++;
  }
  assert.ok(
    counts.every((c) => c > 0),
    `class counts ${counts}`,
  );
  const s = dv.get(0);
  assert.deepEqual([s.channels, s.height, s.width], [1, 217, 181]);
  assert.equal(s.id, `brain-mri-z${val[0]}`);
  // grouping of AAL codes
  assert.equal(aalGroup(2001), 2); // Precentral_L: frontal
  assert.equal(aalGroup(4101), 3); // Hippocampus_L: limbic
  assert.equal(aalGroup(7101), 6); // Thalamus_L: deep grey
  assert.equal(aalGroup(9170), 8); // Vermis_10: cerebellum
  const three = getDataset('brain-mri', { split: 'val', channels: 3, size: [112, 96] }).get(0);
  assert.deepEqual([three.channels, three.height, three.width], [3, 112, 96]);
});
