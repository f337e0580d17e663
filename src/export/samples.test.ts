/**
 * writeSamplePredictions: the first validation samples of a run's data set as image, truth and
 * prediction PNGs (decoded with pngjs, an independent decoder) whose colours are the labels'
 * palette colours, a prediction equal to the network's own argmax on the input normalised by hand,
 * samples.json, links refused, and the report embedding the images.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { PNG } from 'pngjs';
import { encodePng, FASHION_SCENE_PALETTE, FASHION_SCENE_STATS, getDataset, missingDebianData, readLabelMap, SegmentationDataset } from '../data';
import { buildReport } from '../report';
import * as torch from '../torch';
import { Tensor } from '../torch';
import { tempDir } from '../../test/helpers';
import { loadRunModel, SamplesFile, writeSamplePredictions } from '.';
import { DARTS_CLASSIFIER_RUN, handMadeRun, LATTICE_G } from './testing';

torch.setNumThreads(1);

const SIZE: [number, number] = [32, 48]; // [height, width]: not square, so that a swap shows

/** RGBA pixels of a PNG file, and its size. */
function decode(file: string): { width: number; height: number; data: Buffer } {
  const p = PNG.sync.read(fs.readFileSync(file));
  return { width: p.width, height: p.height, data: p.data };
}

const rgbAt = (png: { data: Buffer }, i: number): number[] => [png.data[4 * i], png.data[4 * i + 1], png.data[4 * i + 2]];

/** The network's class per pixel, computed here: (x - mean) / std by hand, forward, argmax. */
function argmaxByHand(net: torch.nn.Module, image: Float32Array, C: number, H: number, W: number, mean: number[], std: number[]): number[] {
  const x = new Float32Array(image.length);
  for (let c = 0; c < C; c++) for (let i = 0; i < H * W; i++) x[c * H * W + i] = (image[c * H * W + i] - mean[c]) / std[c];
  return torch.tidy(() =>
    torch.noGrad(() => {
      const logits = net.forward(torch.tensor(x, { shape: [1, C, H, W] })) as Tensor;
      assert.deepEqual(logits.shape.slice(2), [H, W], 'the network gives logits at the input size');
      return [...(logits.argmax(1).flatten().to({ dtype: 'int32' }).data() as Int32Array)];
    }),
  );
}

test('classification runs get no samples and no samples/ folder', () => {
  const run = handMadeRun(path.join(tempDir('dnas-samples-'), 'run'), DARTS_CLASSIFIER_RUN);
  assert.deepEqual(writeSamplePredictions(run.dir), []);
  assert.equal(fs.existsSync(path.join(run.dir, 'samples')), false);
  assert.throws(() => writeSamplePredictions(run.dir, { count: 0 }), /count must be a positive integer/);
});

test('a folder data set: classes.txt colours, ignore-index pixels black, pixel accuracy over labelled pixels', () => {
  torch.manualSeed(31);
  const root = tempDir('dnas-samples-');
  const data = path.join(root, 'data');
  const H = 12,
    W = 20;
  const palette = [
    [10, 20, 30],
    [200, 0, 0],
    [0, 200, 0],
  ];
  fs.mkdirSync(path.join(data, 'images', 'val'), { recursive: true });
  fs.mkdirSync(path.join(data, 'masks', 'val'), { recursive: true });
  fs.writeFileSync(path.join(data, 'classes.txt'), ['background', 'red', 'green'].map((n, i) => `${n} ${palette[i].join(' ')}`).join('\n'));
  const masks: Uint8Array[] = [];
  for (const k of [0, 1]) {
    const rgb = new Uint8Array(H * W * 3).map((_, i) => (i * 13 + k * 71) % 256);
    const mask = new Uint8Array(H * W).map((_, i) => (i % 7 === 0 ? 255 : (i + k) % 3));
    masks.push(mask);
    fs.writeFileSync(path.join(data, 'images', 'val', `s${k}.png`), encodePng({ width: W, height: H, channels: 3, data: rgb }));
    fs.writeFileSync(path.join(data, 'masks', 'val', `s${k}.png`), encodePng({ width: W, height: H, channels: 1, data: mask }));
  }
  const run = handMadeRun(path.join(root, 'run'), {
    phase: 'frozen',
    genotype: LATTICE_G,
    numClasses: 3,
    inChannels: 3,
    config: { dataset: 'folder', dataRoot: data, space: 'lattice', layers: 2, channels: 4, nodes: 2, scales: 2 },
  });
  // Neither loading a frozen run's network nor writing its samples leaves a tensor alive.
  let before = torch.memory().numTensors;
  loadRunModel(run.dir).dispose();
  assert.equal(torch.memory().numTensors - before, 0, 'loadRunModel releases what it loaded');
  before = torch.memory().numTensors;
  const recs = writeSamplePredictions(run.dir); // default 4, but the split has 2
  assert.equal(torch.memory().numTensors - before, 0, 'no tensor leaks');
  assert.equal(recs.length, 2);
  recs.forEach((r, k) => {
    const truth = decode(path.join(run.dir, 'samples', r.truth));
    assert.deepEqual([truth.width, truth.height], [W, H]);
    for (let i = 0; i < H * W; i++) assert.deepEqual(rgbAt(truth, i), masks[k][i] === 255 ? [0, 0, 0] : palette[masks[k][i]], `truth pixel ${i}`);
    const pred = readLabelMap(path.join(run.dir, 'samples', r.pred)).values;
    let right = 0,
      labelled = 0;
    for (let i = 0; i < H * W; i++)
      if (masks[k][i] !== 255) {
        labelled++;
        if (pred[i] === masks[k][i]) right++;
      }
    assert.equal(r.pixelAccuracy, right / labelled);
    const predPng = decode(path.join(run.dir, 'samples', r.pred));
    for (let i = 0; i < H * W; i++) assert.deepEqual(rgbAt(predPng, i), palette[pred[i]]);
  });
});

const noData = missingDebianData('fashion-scenes') ?? false;

test('fashion-scenes run: image, truth and prediction PNGs, samples.json, the report embeds them', { skip: noData }, () => {
  torch.manualSeed(32);
  const root = tempDir('dnas-samples-');
  const run = handMadeRun(path.join(root, 'run'), {
    phase: 'frozen',
    genotype: LATTICE_G,
    numClasses: 11,
    inChannels: 3,
    config: { dataset: 'fashion-scenes', space: 'lattice', layers: 2, channels: 4, nodes: 2, scales: 2, size: SIZE, valSubset: 3 },
  });
  const recs = writeSamplePredictions(run.dir, { count: 3 }); // spread over the 3 validation samples: all of them
  const [H, W] = SIZE;
  const val = getDataset('fashion-scenes', { split: 'val', size: SIZE, limit: 3 }) as SegmentationDataset;
  assert.deepEqual(
    recs.map((r) => [r.image, r.truth, r.pred, r.id]),
    [0, 1, 2].map((k) => [`${k}-image.png`, `${k}-truth.png`, `${k}-pred.png`, val.get(k).id]),
  );
  const listing = JSON.parse(fs.readFileSync(path.join(run.dir, 'samples', 'samples.json'), 'utf8')) as SamplesFile;
  assert.deepEqual(listing.samples, recs);
  assert.equal(listing.dataset, 'fashion-scenes');
  assert.deepEqual(
    listing.palette,
    FASHION_SCENE_PALETTE.map((c) => [...c]),
  );
  recs.forEach((r, k) => {
    const s = val.get(k);
    const hw = H * W;
    const image = decode(path.join(run.dir, 'samples', r.image));
    assert.deepEqual([image.width, image.height], [W, H]);
    for (let i = 0; i < hw; i++)
      assert.deepEqual(
        rgbAt(image, i),
        [0, 1, 2].map((c) => Math.round(s.image[c * hw + i] * 255)),
        `image pixel ${i}`,
      );
    const truth = decode(path.join(run.dir, 'samples', r.truth));
    assert.deepEqual([truth.width, truth.height], [W, H]);
    for (let i = 0; i < hw; i++) assert.deepEqual(rgbAt(truth, i), s.mask[i] === 255 ? [0, 0, 0] : [...FASHION_SCENE_PALETTE[s.mask[i]]], `truth pixel ${i}`);
    // The prediction: the network's argmax on the input normalised as the loader normalises (the data set's stats).
    const want = argmaxByHand(run.network, s.image, 3, H, W, [...FASHION_SCENE_STATS.mean], [...FASHION_SCENE_STATS.std]);
    const pred = readLabelMap(path.join(run.dir, 'samples', r.pred));
    assert.deepEqual([...pred.values], want);
    const predPng = decode(path.join(run.dir, 'samples', r.pred));
    assert.deepEqual([predPng.width, predPng.height], [W, H]);
    for (let i = 0; i < hw; i++) assert.deepEqual(rgbAt(predPng, i), [...FASHION_SCENE_PALETTE[want[i]]]);
    const labelled = [...s.mask].filter((v) => v !== 255).length;
    const right = want.filter((v, i) => s.mask[i] !== 255 && v === s.mask[i]).length;
    assert.ok(Math.abs(r.pixelAccuracy! - right / labelled) < 1e-12);
  });
  // The report: one row per sample, each image as a data: URI of the file.
  const { html } = buildReport(run.dir, { cost: false });
  assert.ok(html.includes('<section id="samples">'));
  for (const r of recs) {
    for (const f of [r.image, r.truth, r.pred]) {
      const uri = `data:image/png;base64,${fs.readFileSync(path.join(run.dir, 'samples', f)).toString('base64')}`;
      assert.ok(html.includes(`src="${uri}"`), `the report embeds ${f}`);
    }
  }
  assert.equal((html.match(/<tr data-sample=/g) ?? []).length, 3);
  // A shorter listing removes the files of the longer one.
  assert.equal(writeSamplePredictions(run.dir, { count: 1 }).length, 1);
  assert.deepEqual(fs.readdirSync(path.join(run.dir, 'samples')).sort(), ['0-image.png', '0-pred.png', '0-truth.png', 'samples.json']);
});

test('links are never written through: a linked samples/ folder or a linked target file is refused', { skip: noData }, () => {
  const root = tempDir('dnas-samples-');
  const run = handMadeRun(path.join(root, 'run'), {
    phase: 'frozen',
    genotype: LATTICE_G,
    numClasses: 11,
    inChannels: 3,
    config: { dataset: 'fashion-scenes', space: 'lattice', layers: 2, channels: 4, nodes: 2, scales: 2, size: [16, 16] },
  });
  const elsewhere = path.join(root, 'elsewhere');
  fs.mkdirSync(elsewhere);
  fs.symlinkSync(elsewhere, path.join(run.dir, 'samples'));
  assert.throws(() => writeSamplePredictions(run.dir, { count: 1 }), /samples is a symbolic link/);
  assert.deepEqual(fs.readdirSync(elsewhere), []);
  fs.rmSync(path.join(run.dir, 'samples'));
  fs.mkdirSync(path.join(run.dir, 'samples'));
  const victim = path.join(root, 'victim.txt');
  fs.writeFileSync(victim, 'keep me');
  fs.symlinkSync(victim, path.join(run.dir, 'samples', '0-truth.png'));
  assert.throws(() => writeSamplePredictions(run.dir, { count: 1 }), /0-truth\.png is a symbolic link/);
  assert.equal(fs.readFileSync(victim, 'utf8'), 'keep me');
  assert.ok(fs.lstatSync(path.join(run.dir, 'samples', '0-truth.png')).isSymbolicLink());
  assert.ok(!fs.readdirSync(path.join(run.dir, 'samples')).some((f) => f.includes('.tmp-')), 'no temporary file left behind');
});
