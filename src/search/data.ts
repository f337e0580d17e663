/**
 * The trainer's view of the data (TaskData) over src/data: data sets from the registry, the
 * worker-thread loader with seeded order and augmentation, and the search splits.
 */
import { DataLoader, Dataset, getDataset, searchSplit, toTensors } from '../data';
import { SearchConfig } from './config';
import { Batch, TaskData } from './types';
import type { Split } from './trainer';

function open(cfg: SearchConfig, split: 'train' | 'val', limit: number | null): Dataset {
  const opts: Record<string, unknown> = { split, skipBad: cfg.skipBad };
  if (cfg.dataRoot) opts.root = cfg.dataRoot;
  if (limit !== null) opts.limit = limit;
  if (cfg.size) opts.size = cfg.size;
  return getDataset(cfg.dataset, opts as never);
}

/** Opens the training and validation sets of `cfg` and wraps them for the trainer. */
export async function buildTaskData(cfg: SearchConfig): Promise<TaskData> {
  const train = open(cfg, 'train', cfg.trainSubset);
  const val = open(cfg, 'val', cfg.valSubset);
  if (train.length === 0) throw new Error(`data set '${cfg.dataset}' has no training samples`);
  if (val.length === 0) throw new Error(`data set '${cfg.dataset}' has no validation samples`);
  const seg = train.task === 'segmentation';
  // The size the network trains at (the lattice scales its ASPP rates to it); an unreadable first
  // sample is reported later by the loader, with its file name.
  let inputSize: [number, number] | undefined = cfg.crop ?? undefined;
  if (!inputSize) {
    try {
      const first = train.get(0);
      inputSize = [first.height, first.width];
    } catch { /* left unknown */ }
  }
  const augment = seg
    ? { flip: true, ...(cfg.crop ? { scale: [0.75, 1.25] as [number, number], crop: cfg.crop } : {}) }
    : {};
  // One loader per role keeps its worker alive across epochs; indices change per call.
  const trainLoader = new DataLoader({ dataset: train, batchSize: cfg.batchSize, seed: cfg.seed, augment, workers: 1, skipBad: cfg.skipBad });
  const valLoader = new DataLoader({ dataset: val, batchSize: cfg.batchSize, shuffle: false, workers: 1, skipBad: cfg.skipBad });
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
    inputSize,
    trainBatches: (indices, batchSize, epoch, from = 0) => tensors(trainLoader.epoch(epoch, indices, from)),
    valBatches: () => tensors(valLoader.epoch(0)),
    close: async () => { await trainLoader.close(); await valLoader.close(); },
  };
}

/** The weight/architecture split of each epoch, as the config asks. */
export function makeSplit(cfg: SearchConfig, data: TaskData): Split {
  return (epoch, frozen) => {
    const s = searchSplit({ strategy: cfg.split, n: data.trainSize, fraction: cfg.archFraction, seed: cfg.seed, epoch, frozen });
    return { weight: s.weightIndices, arch: s.archIndices };
  };
}
