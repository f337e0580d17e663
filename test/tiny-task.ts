/**
 * A tiny synthetic segmentation task for trainer tests: 32x32 images holding one bright square
 * (class 1) or disc-like blob (class 2) on noise, labelled per pixel. Deterministic per index, so
 * runs are reproducible; small enough for a search epoch to take well under a second.
 */
import { placement, resolveConfig, SearchConfig } from '../src/search/config';
import { RunDir } from '../src/search/rundir';
import { Batch } from '../src/search/strategies';
import { Trainer } from '../src/search/trainer';
import { TaskData } from '../src/search/types';
import { LatticeSpace } from '../src/space';
import { tensor } from '../src/torch';
import { makeSplit } from '../src/search/data';

const S = 32;

function sample(i: number): { image: Float32Array; mask: Uint8Array } {
  let seed = (i + 1) * 2654435761;
  const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const image = new Float32Array(3 * S * S);
  const mask = new Uint8Array(S * S);
  const cls = 1 + (i % 2);
  const size = 8 + Math.floor(rnd() * 10);
  const y0 = Math.floor(rnd() * (S - size)),
    x0 = Math.floor(rnd() * (S - size));
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      const inside =
        y >= y0 && y < y0 + size && x >= x0 && x < x0 + size && (cls === 1 || (y - y0 - size / 2) ** 2 + (x - x0 - size / 2) ** 2 <= (size / 2) ** 2);
      if (inside) mask[y * S + x] = cls;
      for (let c = 0; c < 3; c++) image[c * S * S + y * S + x] = (rnd() - 0.5) * 0.5 + (inside ? (cls === 1 ? [1, -1, 0][c] : [-1, 1, 0.5][c]) : 0);
    }
  }
  return { image, mask };
}

function shuffled(indices: number[], seed: number): number[] {
  const a = indices.slice();
  let s = seed * 7919 + 17;
  for (let i = a.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) >>> 0;
    const j = s % (i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

async function* batches(indices: number[], batchSize: number): AsyncGenerator<Batch> {
  for (let k = 0; k < indices.length; k += batchSize) {
    const chunk = indices.slice(k, k + batchSize);
    const images = new Float32Array(chunk.length * 3 * S * S);
    const masks = new Uint8Array(chunk.length * S * S);
    chunk.forEach((idx, j) => {
      const s = sample(idx);
      images.set(s.image, j * 3 * S * S);
      masks.set(s.mask, j * S * S);
    });
    await new Promise((r) => setImmediate(r));
    yield { x: tensor(images, { shape: [chunk.length, 3, S, S] }), y: tensor(masks, { shape: [chunk.length, S, S], dtype: 'int64' }) };
  }
}

export function tinyTask(trainSize = 16, valSize = 8): TaskData {
  const val = Array.from({ length: valSize }, (_, i) => 10_000 + i);
  return {
    kind: 'segmentation',
    numClasses: 3,
    ignoreIndex: 255,
    classNames: ['bg', 'square', 'disc'],
    inChannels: 3,
    trainSize,
    trainBatches: (indices, bs, epoch, from = 0) => batches(shuffled(indices, epoch).slice(from * bs), bs),
    valBatches: (bs) => batches(val, bs),
    close: async () => undefined,
  };
}

/** Tiny settings: a 2-layer, 2-scale lattice, 4 channels, 1 node; `over` overrides. */
export function tinyConfig(out: string, over: Record<string, unknown> = {}): SearchConfig {
  return resolveConfig({
    layers: 2,
    channels: 4,
    nodes: 1,
    scales: 2,
    epochs: 4,
    warmupEpochs: 1,
    freezeEpoch: 2,
    batchSize: 4,
    lr: 0.05,
    bnRecalibBatches: 2,
    out,
    ...over,
  });
}

/** A trainer over the tiny task, with a space built from `cfg` (seeded). */
export function tinyTrainer(cfg: SearchConfig, events: Record<string, unknown>[] = []): { trainer: Trainer; space: LatticeSpace; run: RunDir } {
  const { manualSeed } = require('../src/torch') as typeof import('../src/torch');
  manualSeed(cfg.seed);
  const data = tinyTask();
  const space = new LatticeSpace({
    layers: cfg.layers,
    C: cfg.channels,
    nodes: cfg.nodes,
    scales: cfg.scales,
    inChannels: 3,
    numClasses: 3,
    connectivity: cfg.space === 'lattice-dense' ? 'dense' : 'short',
  });
  space.to(placement(cfg)); // as runSearch does
  const run = new RunDir(cfg.out);
  run.create();
  run.writeJson(run.configFile, cfg);
  const trainer = new Trainer(cfg, data, space, makeSplit(cfg, data), run, (e) => events.push(e));
  return { trainer, space, run };
}

/**
 * Tiny settings on real data (brain-mri at 32x32, 8 training and 4 validation slices, a 2-layer,
 * 2-scale lattice): a run of a few epochs takes seconds. Tests override what they vary.
 */
export const TINY_BRAIN = {
  dataset: 'brain-mri',
  size: [32, 32],
  trainSubset: 8,
  valSubset: 4,
  batchSize: 4,
  epochs: 4,
  warmupEpochs: 1,
  layers: 2,
  channels: 4,
  nodes: 1,
  scales: 2,
  controlGenotypes: 0,
};
