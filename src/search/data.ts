/**
 * The trainer's view of the data (TaskData) over src/data: data sets from the registry, the
 * worker-thread loader with seeded order and augmentation, and the search splits.
 */
import { DataLoader, Dataset, getDataset, searchSplit, toTensors } from '../data';
import { SearchConfig } from './config';
import { Batch, TaskData } from './types';
import type { Split } from './types';

function open(cfg: SearchConfig, split: 'train' | 'val', limit: number | null): Dataset {
  const opts: Record<string, unknown> = { split, skipBad: cfg.skipBad };
  if (cfg.dataRoot) opts.root = cfg.dataRoot;
  if (limit !== null) opts.limit = limit;
  if (cfg.size) opts.size = cfg.size;
  return getDataset(cfg.dataset, opts as never);
}

/**
 * Opens the training and validation sets of `cfg` and wraps them for the trainer. With `shard`
 * (a rank of a multi-process run) each training batch holds only this rank's slice of the global
 * batch, and validation reads every `world`-th sample from the rank's own (the trainer sums the
 * ranks' counts).
 */
export async function buildTaskData(cfg: SearchConfig, shard?: { rank: number; world: number }): Promise<TaskData> {
  const train = open(cfg, 'train', cfg.trainSubset);
  const val = open(cfg, 'val', cfg.valSubset);
  for (const [name, ds] of [
    ['training', train],
    ['validation', val],
  ] as const) {
    const bad = ds.skipped.length;
    if (ds.length === 0)
      throw new Error(
        `data set '${cfg.dataset}' has no ${name} samples${bad ? ` (${bad} skipped as unreadable, first: ${ds.skipped[0].file}: ${ds.skipped[0].reason})` : ''}`,
      );
    if (bad > ds.length) throw new Error(tooFewMessage(name, ds.length, ds.length + bad, ds.skipped));
  }
  const seg = train.task === 'segmentation';
  // The size the network trains at (the lattice scales its ASPP rates to it); an unreadable first
  // sample is reported later by the loader, with its file name.
  let inputSize: [number, number] | undefined = cfg.crop ?? undefined;
  if (!inputSize) {
    try {
      const first = train.get(0);
      inputSize = [first.height, first.width];
    } catch {
      /* left unknown */
    }
  }
  const augment = seg ? { flip: true, ...(cfg.crop ? { scale: [0.75, 1.25] as [number, number], crop: cfg.crop } : {}) } : {};
  // One loader per role keeps its worker alive across epochs; indices change per call.
  const trainLoader = new DataLoader({
    dataset: train,
    batchSize: cfg.batchSize,
    seed: cfg.seed,
    augment,
    workers: 1,
    skipBad: cfg.skipBad,
    ...(shard ? { shard } : {}),
  });
  const valLoader = new DataLoader({ dataset: val, batchSize: cfg.batchSize, shuffle: false, workers: 1, skipBad: cfg.skipBad });
  // A rank's part of the validation set: samples rank, rank + world, ...
  const valShard = shard
    ? Array.from({ length: Math.ceil(Math.max(0, val.length - shard.rank) / shard.world) }, (_, k) => shard.rank + k * shard.world)
    : undefined;
  async function* tensors(it: AsyncIterable<import('../data').Batch>): AsyncGenerator<Batch> {
    for await (const b of it) yield toTensors(b, { device: cfg.device });
  }
  return {
    kind: train.task,
    numClasses: train.numClasses,
    ignoreIndex: train.ignoreIndex,
    classNames: train.classNames,
    inChannels: train.channels,
    trainSize: train.length,
    valSize: val.length,
    inputSize,
    trainBatches: (indices, batchSize, epoch, from = 0) => tensors(trainLoader.epoch(epoch, indices, from)),
    trainSteps: (indices) => trainLoader.numSteps(indices),
    valBatches: () => tensors(valLoader.epoch(0, valShard)),
    skipped: () => [
      ...trainLoader.skipped.map((s) => ({ split: 'train' as const, file: s.file, reason: s.reason })),
      ...valLoader.skipped.map((s) => ({ split: 'val' as const, file: s.file, reason: s.reason })),
    ],
    close: async () => {
      await trainLoader.close();
      await valLoader.close();
    },
  };
}

/**
 * The most of a split `--skip-bad` may leave out: it is meant for a few broken files, and a run
 * whose data is mostly unreadable stops with the list instead of reporting a score of nothing.
 */
export const MAX_SKIPPED_FRACTION = 0.5;

/** The error of a split of which too little could be read. */
export function tooFewMessage(name: string, used: number, wanted: number, bad: { file: string; reason: string }[]): string {
  const first = bad
    .slice(0, 3)
    .map((b) => `${b.file}: ${b.reason}`)
    .join('; ');
  return (
    `only ${used} of ${wanted} ${name} samples could be read; --skip-bad leaves out at most ${100 * MAX_SKIPPED_FRACTION}% of a split` +
    `${bad.length ? ` (${bad.length} unreadable, first: ${first})` : ''}. Repair or remove the files and start again`
  );
}

/**
 * Refuses a split the run cannot train on, before anything is written: the weight split of the
 * search epochs, the architecture split when there are search epochs, and the data after a freeze
 * must each hold a sample.
 */
export function checkSplits(cfg: SearchConfig, split: Split, trainSize: number, searches: boolean): void {
  const s = split(0, false);
  const size = `${trainSize} training sample${trainSize === 1 ? '' : 's'}`;
  const fix = cfg.trainSubset !== null ? `raise --train-subset (${cfg.trainSubset})` : 'add training data';
  if (trainSize === 0) throw new Error(`no training samples: ${fix}`);
  if (!searches) return;
  if (s.weight.length === 0)
    throw new Error(`the weight split is empty (${size}, --split ${cfg.split}, --arch-fraction ${cfg.archFraction}): ${fix} or lower --arch-fraction`);
  if (cfg.warmupEpochs < cfg.epochs) {
    if (s.arch.length === 0)
      throw new Error(`the architecture split is empty (${size}, --split ${cfg.split}, --arch-fraction ${cfg.archFraction}): ${fix} or raise --arch-fraction`);
  }
}

/** The weight/architecture split of each epoch, as the config asks. */
export function makeSplit(cfg: SearchConfig, data: TaskData): Split {
  return (epoch, frozen) => {
    const s = searchSplit({ strategy: cfg.split, n: data.trainSize, fraction: cfg.archFraction, seed: cfg.seed, epoch, frozen });
    return { weight: s.weightIndices, arch: s.archIndices };
  };
}
