/**
 * predictImages: masks and overlays at each input's size, every mask colour from the data set's
 * palette (decoded with pngjs, an independent PNG decoder), mask indices readable as class ids.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { PNG } from 'pngjs';
import { runSearch } from '../cli/search';
import { CITYSCAPES_PALETTE, encodePng, FASHION_SCENE_PALETTE, getDataset, missingDebianData, readLabelMap } from '../data';
import { resolveConfig } from '../search/config';
import * as torch from '../torch';
import { tempDir } from '../../test/helpers';
import { predictImages } from '.';
import { DARTS_CLASSIFIER_RUN, handMadeRun, LATTICE_G, TINY_RUN } from './testing';

torch.setNumThreads(1);

function writeImage(file: string, width: number, height: number, channels: 1 | 3, seed: number): void {
  const data = new Uint8Array(width * height * channels);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37 + seed * 101 + ((i / width) | 0) * 11) % 256;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, encodePng({ width, height, channels, data }));
}

/** Checks one prediction's files; returns the class indices of its mask. */
function checkOutputs(r: { mask: string; overlay: string; width: number; height: number; classes: number[] }, palette: number[][]): void {
  const colours = new Set(palette.map((c) => c.join()));
  const mask = PNG.sync.read(fs.readFileSync(r.mask));
  assert.deepEqual([mask.width, mask.height], [r.width, r.height]);
  for (let i = 0; i < mask.width * mask.height; i++) {
    const c = [mask.data[4 * i], mask.data[4 * i + 1], mask.data[4 * i + 2]].join();
    assert.ok(colours.has(c), `mask pixel ${i} has colour ${c}, not in the palette`);
  }
  // The palette PNG's values are the class indices.
  const labels = readLabelMap(r.mask);
  assert.equal(labels.kind, 'palette');
  assert.deepEqual(
    [...new Set(labels.values)].sort((a, b) => a - b),
    r.classes,
  );
  assert.ok(r.classes.every((k) => k < palette.length));
  const overlay = PNG.sync.read(fs.readFileSync(r.overlay));
  assert.deepEqual([overlay.width, overlay.height], [r.width, r.height]);
}

test('predictImages (Cityscapes run): sizes of the inputs, Cityscapes colours, duplicate names kept apart', () => {
  torch.manualSeed(21);
  const root = tempDir('dnas-predict-');
  const run = handMadeRun(path.join(root, 'run'), {
    phase: 'frozen',
    genotype: LATTICE_G,
    numClasses: 19,
    inChannels: 3,
    config: { dataset: 'cityscapes', space: 'lattice', layers: 2, channels: 4, nodes: 2, scales: 2 },
  });
  const images = [path.join(root, 'in', 'a.png'), path.join(root, 'in', 'b.png'), path.join(root, 'in', 'other', 'a.png')];
  writeImage(images[0], 53, 37, 3, 1);
  writeImage(images[1], 30, 24, 1, 2); // grey: repeated into 3 channels
  writeImage(images[2], 16, 20, 3, 3);
  const seen: number[] = [];
  const out = predictImages(run.dir, images, path.join(root, 'out'), { onImage: (_r, i) => seen.push(i) });
  assert.deepEqual(seen, [0, 1, 2]);
  assert.deepEqual(
    out.map((r) => [path.basename(r.mask), path.basename(r.overlay), r.width, r.height]),
    [
      ['a_mask.png', 'a_overlay.png', 53, 37],
      ['b_mask.png', 'b_overlay.png', 30, 24],
      ['a_2_mask.png', 'a_2_overlay.png', 16, 20],
    ],
  );
  const palette = CITYSCAPES_PALETTE.map((c) => [...c]);
  for (const r of out) checkOutputs(r, palette);
  // The network at a fixed size, logits resized back to the image.
  const fixed = predictImages(run.dir, [images[0]], path.join(root, 'fixed'), { size: [32, 32], alpha: 1 });
  checkOutputs(fixed[0], palette);
  // alpha 1: the overlay is the mask's colours.
  const overlay = PNG.sync.read(fs.readFileSync(fixed[0].overlay));
  const mask = PNG.sync.read(fs.readFileSync(fixed[0].mask));
  for (let i = 0; i < overlay.data.length; i += 4) assert.deepEqual([...overlay.data.subarray(i, i + 3)], [...mask.data.subarray(i, i + 3)]);
  assert.throws(() => predictImages(run.dir, [path.join(root, 'missing.png')], root), /missing\.png does not exist/);
  assert.throws(() => predictImages(run.dir, images, root, { alpha: 2 }), /alpha/);
  // A link planted at an output path is refused, and its target keeps its contents.
  const victim = path.join(root, 'victim.txt');
  fs.writeFileSync(victim, 'keep me');
  const linked = path.join(root, 'linked');
  fs.mkdirSync(linked);
  const [first] = predictImages(run.dir, [images[0]], linked);
  fs.rmSync(first.mask);
  fs.symlinkSync(victim, first.mask);
  assert.throws(() => predictImages(run.dir, [images[0]], linked), /_mask\.png is a symbolic link; refusing to write through it/);
  assert.equal(fs.readFileSync(victim, 'utf8'), 'keep me');
  const elsewhere = path.join(root, 'elsewhere');
  fs.mkdirSync(elsewhere);
  fs.symlinkSync(elsewhere, path.join(root, 'outlink'));
  assert.throws(() => predictImages(run.dir, [images[0]], path.join(root, 'outlink')), /outlink is a symbolic link/);
  assert.deepEqual(fs.readdirSync(elsewhere), []);
});

test('predictImages refuses classification runs', () => {
  const run = handMadeRun(path.join(tempDir('dnas-predict-'), 'run'), DARTS_CLASSIFIER_RUN);
  const img = path.join(run.dir, 'x.png');
  writeImage(img, 28, 28, 1, 4);
  assert.throws(() => predictImages(run.dir, [img], run.dir), /classifies images \(data set 'fashion-mnist'\); predict writes segmentation masks/);
});

test('predictImages on a real fashion-scenes run: data set palette', { skip: missingDebianData('fashion-scenes') ?? false }, async () => {
  const root = tempDir('dnas-predict-');
  const cfg = resolveConfig({
    dataset: 'fashion-scenes',
    space: 'lattice',
    strategy: 'single-stage',
    ...TINY_RUN,
    out: path.join(root, 'run'),
  });
  await runSearch(cfg, { quiet: true });
  // A validation scene as an image file.
  const s = getDataset('fashion-scenes', { split: 'val', limit: 1 }).get(0);
  const hw = s.height * s.width;
  const rgb = new Uint8Array(hw * 3);
  for (let i = 0; i < hw; i++) for (let c = 0; c < 3; c++) rgb[i * 3 + c] = Math.round(s.image[c * hw + i] * 255);
  const img = path.join(root, 'scene.png');
  fs.writeFileSync(img, encodePng({ width: s.width, height: s.height, channels: 3, data: rgb }));
  const [r] = predictImages(cfg.out, [img], path.join(root, 'out'));
  assert.deepEqual([r.width, r.height], [s.width, s.height]);
  checkOutputs(
    r,
    FASHION_SCENE_PALETTE.map((c) => [...c]),
  );
});
