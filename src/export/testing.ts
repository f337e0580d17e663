/**
 * Test support for src/export: run directories made by hand in the trainer's layout (config.json,
 * genotype.json, checkpoints/last.pt with epoch, phase, genotype and model), so that rebuilding
 * and export are tested without training or data files.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildSearchable } from '../search/adapter';
import { writeRunCheckpoint } from '../search/checkpoint';
import { RunDir } from '../search/rundir';
import { resolveConfig, runTask, SearchConfig } from '../search/config';
import { Genotype, TaskData } from '../search/types';
import * as torch from '../torch';
import { nn } from '../torch';

/** BatchNorm scale, shift and running statistics away from their initial 1/0 values. */
export function randomizeBatchNorm(net: nn.Module): void {
  torch.noGrad(() => {
    for (const m of net.modules()) {
      if (!(m instanceof nn.BatchNorm2d)) continue;
      m.weight?.uniform_(0.5, 1.5);
      m.bias?.uniform_(-0.2, 0.2);
      m.runningMean?.uniform_(-0.2, 0.2);
      m.runningVar?.uniform_(0.5, 1.5);
    }
  });
}

/** What a hand-made run holds. */
export interface HandMadeRun {
  dir: string;
  config: SearchConfig;
  genotype: Genotype;
  /** The network the checkpoint describes (eval mode): the reference for the rebuilt one. */
  network: nn.Module;
}

/**
 * Writes a run directory whose last checkpoint is in `phase`: 'frozen' (derived network),
 * 'retrain' (fresh network) or 'search' (supernet weights; the genotype is derived from them).
 */
export function handMadeRun(
  dir: string,
  o: {
    config: Record<string, unknown>;
    numClasses: number;
    inChannels: number;
    phase: 'frozen' | 'retrain' | 'search';
    genotype: Genotype;
    epoch?: number;
    /** The input size the search saw (the lattice fits its ASPP rates to it). */
    inputSize?: [number, number];
  },
): HandMadeRun {
  const config = resolveConfig({ ...o.config, out: dir });
  fs.mkdirSync(path.join(dir, 'checkpoints'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...config, versions: { dnas: 'test', libtorch: 'test', node: process.version } }, null, 2));
  const data = { kind: runTask(config), numClasses: o.numClasses, inChannels: o.inChannels, ...(o.inputSize ? { inputSize: o.inputSize } : {}) } as TaskData;
  const space = buildSearchable(config, data);
  randomizeBatchNorm(space.module);
  let network: nn.Module;
  let model: Record<string, torch.Tensor>;
  if (o.phase === 'frozen') {
    network = space.derive(o.genotype, { release: true });
    model = network.stateDict();
  } else if (o.phase === 'retrain') {
    network = space.build(o.genotype);
    randomizeBatchNorm(network);
    model = network.stateDict();
  } else {
    model = space.module.stateDict();
    network = space.derive(o.genotype, { release: false });
  }
  const run = new RunDir(dir);
  writeRunCheckpoint(run, run.lastCheckpoint, {
    runId: null,
    epoch: o.epoch ?? 3,
    phase: o.phase,
    frozenAt: o.phase === 'search' ? null : 2,
    freezeReason: null,
    retrainStart: o.phase === 'retrain' ? 2 : 0,
    genotype: o.genotype,
    history: [],
    lastDecoded: null,
    best: null,
    model,
    arch: {},
    weightOpt: {},
    archOpt: null,
  });
  fs.writeFileSync(path.join(dir, 'genotype.json'), JSON.stringify(o.genotype, null, 2));
  network.eval();
  return { dir, config, genotype: o.genotype, network };
}

/** A small lattice genotype (3 cell edges, a 2-layer path) for hand-made runs. */
export const LATTICE_G: Genotype = {
  version: 1,
  space: 'lattice',
  cells: {
    cell: [
      ['sep_conv_3x3', 0],
      ['skip_connect', 0],
      ['dil_conv_3x3', 1],
    ],
  },
  path: [1, 0],
};

/** A retrained DARTS classifier of Fashion-MNIST (10 classes, 1 channel): the run predict and samples refuse. */
export const DARTS_CLASSIFIER_RUN = {
  phase: 'retrain' as const,
  numClasses: 10,
  inChannels: 1,
  config: { dataset: 'fashion-mnist', space: 'darts', layers: 3, channels: 4, nodes: 2, strategy: 'two-stage' },
  genotype: {
    version: 1,
    space: 'darts',
    cells: {
      normal: [
        ['skip_connect', 0],
        ['skip_connect', 1],
        ['max_pool_3x3', 2],
        ['skip_connect', 0],
      ],
      reduce: [
        ['skip_connect', 0],
        ['avg_pool_3x3', 1],
        ['skip_connect', 2],
        ['skip_connect', 1],
      ],
    },
  } as Genotype,
};

/** A run of a few seconds on real data (a 2-layer, 2-scale lattice; 8 training and 4 validation samples; frozen after epoch 2 of 3). */
export const TINY_RUN = {
  trainSubset: 8,
  valSubset: 4,
  epochs: 3,
  warmupEpochs: 1,
  freezeEpoch: 2,
  batchSize: 4,
  bnRecalibBatches: 1,
  layers: 2,
  channels: 4,
  nodes: 2,
  scales: 2,
};
