/**
 * Runs on data with unreadable files: --skip-bad reports what it left out and refuses a run that
 * would train or validate on too little; splits too small to train on are refused up front.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { runSearch } from '../src/cli/search';
import { encodePng } from '../src/data/png';
import { resolveConfig } from '../src/search/config';
import { RunDir } from '../src/search/rundir';
import * as torch from '../src/torch';
import { tempDir } from './helpers';

torch.setNumThreads(1);

/** A folder data set of 16x16 RGB images: `train` and `val` samples, the listed ones corrupt. */
function folderData(train: number, val: number, corrupt: string[]): string {
  const root = tempDir('dnas-baddata-');
  fs.writeFileSync(path.join(root, 'classes.txt'), 'background\nsquare\n');
  for (const d of ['images', 'masks', 'splits']) fs.mkdirSync(path.join(root, d));
  const ids: Record<string, string[]> = { train: [], val: [] };
  for (const [split, n] of [
    ['train', train],
    ['val', val],
  ] as const) {
    for (let i = 0; i < n; i++) {
      const id = `${split}${i}`;
      ids[split].push(id);
      const image = new Uint8Array(16 * 16 * 3),
        mask = new Uint8Array(16 * 16);
      for (let p = 0; p < 256; p++) {
        const inside = p % 16 >= 4 + (i % 4) && p % 16 < 10 + (i % 4) && p >> 4 >= 5 && p >> 4 < 11;
        mask[p] = inside ? 1 : 0;
        image.fill(inside ? 220 : 30 + ((p * 7 + i) % 40), 3 * p, 3 * p + 3);
      }
      const png = encodePng({ width: 16, height: 16, channels: 3, data: image });
      // a corrupt file: the PNG cut in half
      fs.writeFileSync(path.join(root, 'images', `${id}.png`), corrupt.includes(id) ? png.subarray(0, png.length >> 1) : png);
      fs.writeFileSync(path.join(root, 'masks', `${id}.png`), encodePng({ width: 16, height: 16, channels: 1, data: mask }));
    }
    fs.writeFileSync(path.join(root, 'splits', `${split}.txt`), ids[split].join('\n') + '\n');
  }
  return root;
}

const base = (dataRoot: string, over: Record<string, unknown> = {}) =>
  resolveConfig({
    dataset: 'folder',
    dataRoot,
    batchSize: 2,
    epochs: 3,
    warmupEpochs: 1,
    layers: 2,
    channels: 4,
    nodes: 1,
    scales: 2,
    controlGenotypes: 0,
    bnRecalibBatches: 1,
    skipBad: true,
    out: path.join(tempDir('dnas-baddata-run-'), 'run'),
    ...over,
  });

test('--skip-bad: a few unreadable files are left out and listed in the progress, metrics.jsonl and summary.json', async () => {
  const root = folderData(8, 4, ['train3', 'val1']);
  const cfg = base(root);
  const { summary, run } = await runSearch(cfg, { quiet: true });
  const skipped = summary.skipped ?? [];
  assert.deepEqual(skipped.map((s) => [s.split, path.basename(s.file)]).sort(), [
    ['train', 'train3.png'],
    ['val', 'val1.png'],
  ]);
  for (const s of skipped) assert.match(s.reason, /PNG|truncated|data/i);
  const written = new RunDir(run.dir).readJson<{ skipped: unknown[] }>(run.summaryFile);
  assert.equal(written.skipped.length, 2);
  assert.ok(run.readMetrics().every((m) => m.skipped === 2));
  const { formatInfo } = require('../src/cli/info') as typeof import('../src/cli/info');
  assert.match(formatInfo(run), /skipped 2 unreadable files \(--skip-bad; listed in summary\.json\)/);
});

test('--skip-bad refuses to train or validate on what is left when most files are unreadable', async () => {
  const mostTrain = folderData(8, 4, ['train0', 'train1', 'train2', 'train3', 'train4', 'train6']);
  await assert.rejects(
    runSearch(base(mostTrain), { quiet: true }),
    /epoch 1: only \d of \d training samples could be read; --skip-bad leaves out at most 50% of a split \(\d unreadable, first: .*train\d\.png: /,
  );
  const allVal = folderData(8, 2, ['val0', 'val1']);
  await assert.rejects(runSearch(base(allVal), { quiet: true }), /epoch 1: only 0 of 2 validation samples could be read/);
  // without --skip-bad the first bad file stops the run, named
  await assert.rejects(runSearch(base(allVal, { skipBad: false }), { quiet: true }), /val0\.png/);
});

test('splits too small to train on are refused before the run folder is made', async () => {
  const root = folderData(4, 2, []);
  const cfg = base(root, { trainSubset: 1 });
  await assert.rejects(
    runSearch(cfg, { quiet: true }),
    /the weight split is empty \(1 training sample, --split darts, --arch-fraction 0\.5\): raise --train-subset \(1\) or lower --arch-fraction/,
  );
  assert.ok(!fs.existsSync(cfg.out));
  // after a freeze every sample trains the weights: a two-sample set is enough
  const { summary } = await runSearch(base(root, { trainSubset: 2 }), { quiet: true });
  assert.equal(summary.epochs, 3);
});
