import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { Batch } from './batch';
import { missingDebianData } from './debian';
import { DataError } from './errors';
import { DataLoader, measureThroughput } from './loader';
import { encodePng } from './png';
import { getDataset } from './registry';
import { toTensors } from './tensors';
import { put, tempDir } from './testing';

const noFashion = missingDebianData('fashion-scenes');

async function collect(l: DataLoader, epoch: number, indices?: number[]): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of l.epoch(epoch, indices)) out.push(b);
  return out;
}

test('same seed and epoch give the same batches with 0, 1 or 2 workers; epochs differ', async (t) => {
  if (noFashion) return t.skip(noFashion);
  const ds = getDataset('fashion-scenes', { split: 'train', limit: 40 });
  const augment = { scale: [0.75, 1.25] as [number, number], crop: [48, 48] as [number, number], flip: true };
  const runs: Batch[][] = [];
  for (const workers of [0, 1, 2]) {
    const l = new DataLoader({ dataset: ds, batchSize: 8, seed: 11, augment, workers });
    runs.push(await collect(l, 3));
    if (workers === 2) {
      const again = await collect(l, 3);
      assert.deepEqual(
        again.map((b) => b.indices),
        runs[2].map((b) => b.indices),
      );
      const e4 = await collect(l, 4);
      assert.notDeepEqual(
        e4.map((b) => b.indices),
        runs[2].map((b) => b.indices),
      );
      assert.deepEqual(
        e4.flatMap((b) => b.indices).sort((a, b) => a - b),
        Array.from({ length: 40 }, (_, i) => i),
      );
    }
    await l.close();
  }
  assert.equal(runs[0].length, 5);
  for (const r of runs.slice(1)) {
    assert.equal(r.length, 5);
    r.forEach((b, k) => {
      assert.deepEqual(b.indices, runs[0][k].indices);
      assert.deepEqual(b.shape, [8, 3, 48, 48]);
      assert.deepEqual(Array.from(b.masks!), Array.from(runs[0][k].masks!));
      assert.deepEqual(Array.from(b.images), Array.from(runs[0][k].images));
    });
  }
  // the default normalisation (the data set's stats) was applied
  const mean = runs[0][0].images.reduce((a, v) => a + v, 0) / runs[0][0].images.length;
  assert.ok(Math.abs(mean) < 0.5, `normalised mean ${mean}`);
});

test('epoch(e, indices) iterates exactly those indices; no shuffle keeps order; dropLast', async (t) => {
  if (noFashion) return t.skip(noFashion);
  const ds = getDataset('fashion-mnist', { split: 'val' });
  const l = new DataLoader({ dataset: ds, batchSize: 4, seed: 2, workers: 1 });
  const idx = [5, 9, 100, 7, 3, 42, 8000];
  const bs = await collect(l, 0, idx);
  assert.deepEqual(
    bs.map((b) => b.shape[0]),
    [4, 3],
  );
  assert.deepEqual(
    bs.flatMap((b) => b.indices).sort((a, b) => a - b),
    [3, 5, 7, 9, 42, 100, 8000],
  );
  assert.equal(bs[0].labels!.length, 4);
  assert.deepEqual(bs[0].shape.slice(1), [1, 28, 28]);
  await assert.rejects(async () => {
    for await (const _ of l.epoch(0, [10001])) void _;
  }, /index 10001 is out of range/);
  await l.close();
  const seq = new DataLoader({ dataset: ds, batchSize: 3, shuffle: false, dropLast: true, indices: [0, 1, 2, 3, 4, 5, 6], workers: 0 });
  const sb = await collect(seq, 9);
  assert.deepEqual(
    sb.map((b) => b.indices),
    [
      [0, 1, 2],
      [3, 4, 5],
    ],
  );
  assert.deepEqual(Array.from(sb[0].labels!), [9, 2, 1]);
});

test('toTensors: float32 [N,C,H,W] images and int64 [N,H,W] targets with the batch values', async (t) => {
  if (noFashion) return t.skip(noFashion);
  const ds = getDataset('fashion-scenes', { split: 'val', limit: 6 });
  const l = new DataLoader({ dataset: ds, batchSize: 3, shuffle: false, workers: 0, augment: { normalize: null } });
  const [b] = await collect(l, 0);
  const { x, y } = toTensors(b);
  assert.deepEqual(x.shape, [3, 3, 64, 64]);
  assert.equal(x.dtype, 'float32');
  assert.deepEqual(y.shape, [3, 64, 64]);
  assert.equal(y.dtype, 'int64');
  assert.deepEqual(Array.from(x.data() as Float32Array), Array.from(b.images));
  assert.deepEqual(y.toArray(), Array.from(b.masks!));
  const s = ds.get(1);
  assert.deepEqual(Array.from(b.images.subarray(3 * 64 * 64, 6 * 64 * 64)), Array.from(s.image));
  x.dispose();
  y.dispose();
  const cls = new DataLoader({ dataset: getDataset('fashion-mnist', { split: 'val', limit: 5 }), batchSize: 5, shuffle: false, workers: 0 });
  const [cb] = await collect(cls, 0);
  const ct = toTensors(cb);
  assert.deepEqual(ct.y.shape, [5]);
  assert.deepEqual(ct.y.toArray(), [9, 2, 1, 1, 6]);
  ct.x.dispose();
  ct.y.dispose();
});

test('worker loader: bad files are a DataError naming the file, or skipped and counted with skipBad', async () => {
  const root = tempDir('loader-bad');
  put(path.join(root, 'classes.txt'), 'a\nb\n');
  for (let i = 0; i < 6; i++) {
    put(path.join(root, 'images', 'train', `i${i}.png`), encodePng({ width: 8, height: 6, channels: 3, data: new Uint8Array(144).fill(i * 10) }));
    put(path.join(root, 'masks', 'train', `i${i}.png`), encodePng({ width: 8, height: 6, channels: 1, data: new Uint8Array(48).fill(i % 2) }));
  }
  const bad = path.join(root, 'images', 'train', 'i2.png');
  fs.writeFileSync(bad, fs.readFileSync(bad).subarray(0, 50));
  const badMask = put(path.join(root, 'masks', 'train', 'i4.png'), encodePng({ width: 8, height: 6, channels: 1, data: new Uint8Array(48).fill(9) }));
  const ds = getDataset('folder', { root, split: 'train' });
  const strict = new DataLoader({ dataset: ds, batchSize: 2, shuffle: false, workers: 1 });
  await assert.rejects(collect(strict, 0), (e: unknown) => e instanceof DataError && e.file === bad && /truncated PNG/.test(e.reason));
  await strict.close();
  const lenient = new DataLoader({ dataset: ds, batchSize: 2, shuffle: false, workers: 1, skipBad: true });
  const bs = await collect(lenient, 0);
  assert.deepEqual(
    bs.map((b) => b.indices),
    [[0, 1], [3], [5]],
  );
  assert.deepEqual(
    bs[1].skipped.map((s) => s.file),
    [bad],
  );
  assert.equal(lenient.skipped.length, 2);
  assert.deepEqual(
    lenient.skipped.map((s) => s.file),
    [bad, badMask],
  );
  await collect(lenient, 1);
  assert.equal(lenient.skipped.length, 2, 'counted once across epochs');
  await lenient.close();
});

test('loader throughput is measured (fashion-scenes, batch 16, 1 worker)', async (t) => {
  if (noFashion) return t.skip(noFashion);
  const ds = getDataset('fashion-scenes', { split: 'train', limit: 320 });
  const l = new DataLoader({ dataset: ds, batchSize: 16, seed: 0, workers: 1, augment: { scale: [0.75, 1.25], crop: [64, 64], flip: true } });
  const r = await measureThroughput(l);
  await l.close();
  assert.equal(r.batches, 19);
  assert.equal(r.images, 304);
  assert.ok(r.imagesPerSecond > 50, `${r.imagesPerSecond.toFixed(0)} images/s`);
  t.diagnostic(`fashion-scenes loader: ${r.imagesPerSecond.toFixed(0)} images/s (batch 16, 1 worker)`);
});

test('an error thrown while batches are in flight is reported after close(), never a silent exit 0', { skip: missingDebianData('brain-mri') ?? false }, () => {
  // A child process: worker threads loading brain-mri slices, libtorch busy in the main thread, an
  // exception inside the batch loop, then close(). The process used to leave the event loop empty
  // while terminate() was pending and exit with code 0 before the error could be reported.
  const { spawnSync } = require('node:child_process') as typeof import('node:child_process');
  const script = `
    const { DataLoader } = require(${JSON.stringify(path.join(__dirname, 'loader'))});
    const { getDataset } = require(${JSON.stringify(path.join(__dirname, 'registry'))});
    const torch = require(${JSON.stringify(path.join(__dirname, '..', 'torch'))});
    (async () => {
      const l = new DataLoader({ dataset: getDataset('brain-mri', { split: 'train', size: [48, 40] }), batchSize: 4, seed: 0, workers: 1 });
      await l.epoch(0)[Symbol.asyncIterator]().next(); // an abandoned epoch, batches still requested
      try {
        for await (const b of l.epoch(1)) {
          torch.tidy(() => torch.randn([1000, 1000]).matmul(torch.randn([1000, 1000])).sum().item());
          throw new Error('boom');
        }
      } catch (e) {
        await l.close();
        console.error('reported: ' + e.message);
        process.exitCode = 3;
      }
    })();`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000 });
  assert.match(r.stderr, /reported: boom/);
  assert.equal(r.status, 3);
});
