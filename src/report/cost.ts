/**
 * The networks of a run rebuilt from its directory, for the report: the final network (from the
 * checkpoint, through src/export/from-run.ts; without a checkpoint, a fresh network of the
 * genotype) and the supernet of config.json. Gives their cost (parameters, multiply-accumulates
 * at the training input size, measured latency) and the supernet's choice labels, which name the
 * rows of the relaxation-weight heat maps.
 */
import { getDataset } from '../data';
import { datasetMeta, loadRunModel } from '../export';
import { buildSearchable } from '../search/adapter';
import { runTask, SearchConfig } from '../search/config';
import { RunDir } from '../search/rundir';
import { savedConfig } from '../search/saved';
import { TaskData } from '../search/types';
import { countMacs, countParameters, Latency, measureLatency, SearchSpace } from '../space';
import { getNumThreads, nn } from '../torch';
import { ChoiceInfo, Genotype, RunRecords } from './data';

/** Options of the cost measurement. */
export interface CostOptions {
  /** Measure costs at all (default true). Without, only the choice labels are read. */
  cost?: boolean;
  /** Measure latency (default true). */
  latency?: boolean;
  /** Timed passes per network (default 10; the supernet gets half). */
  latencyIters?: number;
  /** Input [height, width] (default: the training crop, else a training image's size). */
  inputSize?: [number, number];
  /** Include the supernet (default true). */
  supernet?: boolean;
  /** Checkpoint of the final network: 'last' (default), 'best' or a file. */
  checkpoint?: string;
  /** The space module of a run searched in one (`--space FILE`): without it such a run is not rebuilt. */
  space?: string;
}

/** One network's cost. */
export interface CostRow {
  network: string;
  /** How it was rebuilt. */
  detail: string;
  parameters: number;
  /** Multiply-accumulates of one image at the input size (null when it could not be counted). */
  macs: number | null;
  latency: Latency | null;
}

/** The cost table. */
export interface CostTable {
  /** [channels, height, width] of the image the MACs and latency are for. */
  input: [number, number, number];
  inputSource: string;
  threads: number;
  device: string;
  rows: CostRow[];
}

/** What rebuilding the run's networks gave. */
export interface Rebuilt {
  info: ChoiceInfo | null;
  cost: CostTable | null;
  /** Things that could not be done, in words (shown in the report). */
  problems: string[];
}

/** Row labels and option names of a space's choices. */
export function choiceInfo(space: SearchSpace): ChoiceInfo {
  const rowLabels: Record<string, string[]> = {};
  for (const [name, g] of space.archGroups()) rowLabels[name] = [...g.rowLabels];
  const options: Record<string, string[]> = {};
  for (const c of space.choices()) options[c.label] ??= c.optionNames;
  return { rowLabels, options };
}

function inputSize(cfg: SearchConfig, opts: CostOptions): { hw: [number, number]; source: string } | string {
  if (opts.inputSize) return { hw: opts.inputSize, source: 'given' };
  if (cfg.crop) return { hw: [cfg.crop[0], cfg.crop[1]], source: 'the training crop (--crop)' };
  try {
    const o: Record<string, unknown> = { split: 'train', limit: 1 };
    if (cfg.dataRoot) o.root = cfg.dataRoot;
    const s = getDataset(cfg.dataset, o as never).get(0);
    return { hw: [s.height, s.width], source: `a training image of ${cfg.dataset}` };
  } catch (e) {
    return `the training input size is unknown (no --crop, and ${cfg.dataset} could not be read: ${(e as Error).message})`;
  }
}

function measure(
  network: string,
  detail: string,
  target: nn.Module | SearchSpace,
  shape: [number, number, number],
  o: CostOptions,
  iters: number,
  problems: string[],
): CostRow {
  const row: CostRow = { network, detail, parameters: countParameters(target), macs: null, latency: null };
  try {
    row.macs = countMacs(target, shape);
  } catch (e) {
    problems.push(`${network}: multiply-accumulates could not be counted: ${(e as Error).message}`);
  }
  if (o.latency !== false) {
    try {
      row.latency = measureLatency(target, [1, ...shape], { warmup: 2, iters });
    } catch (e) {
      problems.push(`${network}: latency could not be measured: ${(e as Error).message}`);
    }
  }
  return row;
}

const phaseDetail: Record<string, string> = {
  frozen: 'derived network, weights inherited from the supernet and trained on (single-stage)',
  retrain: 'network of the genotype trained from scratch (two-stage / dnas train)',
};

/**
 * Rebuilds the run's networks (CPU) and measures them. Never throws for a missing or unreadable
 * checkpoint or data set: what failed is listed in `problems`.
 */
export function rebuildRun(rec: RunRecords, opts: CostOptions = {}): Rebuilt {
  const problems: string[] = [];
  let cfg: SearchConfig;
  try {
    cfg = savedConfig(new RunDir(rec.dir), { space: opts.space, warn: (m) => problems.push(m) });
  } catch (e) {
    problems.push(`the networks were not rebuilt: ${(e as Error).message}`);
    return { info: null, cost: null, problems };
  }
  const task = runTask(cfg);
  const wantCost = opts.cost !== false;
  let final: { module: nn.Module; name: string; detail: string; dispose: () => void } | null = null;
  let inChannels: number | null = null,
    numClasses: number | null = null;
  if (wantCost) {
    try {
      const m = loadRunModel(rec.dir, { checkpoint: opts.checkpoint, space: opts.space, warn: () => undefined });
      inChannels = m.inChannels;
      numClasses = m.numClasses;
      const detail = phaseDetail[m.phase] ?? `derived from the supernet of checkpoint epoch ${m.epoch} (${m.phase}; the run did not freeze)`;
      final = {
        module: m.network,
        name: 'final network',
        detail: `${detail}; ${m.checkpoint.split(/[\\/]/).slice(-2).join('/')}, epoch ${m.epoch}`,
        dispose: () => m.dispose(),
      };
    } catch (e) {
      problems.push(`the final network could not be loaded from its checkpoint: ${(e as Error).message}`);
    }
  }
  if (inChannels === null || numClasses === null) {
    try {
      const meta = datasetMeta(cfg);
      inChannels = meta.inChannels;
      numClasses = meta.numClasses;
    } catch (e) {
      problems.push(`data set metadata: ${(e as Error).message}`);
    }
  }
  let space: SearchSpace | null = null;
  try {
    const data = { kind: task, numClasses: numClasses ?? 2, inChannels: inChannels ?? 3 } as TaskData;
    space = buildSearchable(cfg, data) as unknown as SearchSpace;
  } catch (e) {
    problems.push(`the supernet could not be rebuilt from config.json: ${(e as Error).message}`);
  }
  const info = space ? choiceInfo(space) : null;
  let cost: CostTable | null = null;
  try {
    if (wantCost && space && !final && rec.genotype && inChannels !== null && numClasses !== null) {
      try {
        const net = (space as unknown as { build(g: Genotype): nn.Module }).build(rec.genotype);
        final = {
          module: net,
          name: 'network of the genotype',
          detail: `freshly built from ${rec.genotypeSource} (no checkpoint)`,
          dispose: () => net.dispose(),
        };
      } catch (e) {
        problems.push(`the network of the genotype could not be built: ${(e as Error).message}`);
      }
    }
    if (wantCost && inChannels !== null && (final || space)) {
      const size = inputSize(cfg, opts);
      if (typeof size === 'string') {
        problems.push(size);
      } else {
        const shape: [number, number, number] = [inChannels, size.hw[0], size.hw[1]];
        const iters = Math.max(1, opts.latencyIters ?? 10);
        const rows: CostRow[] = [];
        if (final) rows.push(measure(final.name, final.detail, final.module, shape, opts, iters, problems));
        if (space && opts.supernet !== false) {
          rows.push(
            measure(
              'supernet',
              `every candidate under the softmax relaxation (${cfg.space}, ${cfg.layers} layers, ${cfg.channels} channels, ${cfg.nodes} nodes)`,
              space,
              shape,
              opts,
              Math.max(1, Math.ceil(iters / 2)),
              problems,
            ),
          );
        }
        cost = { input: shape, inputSource: size.source, threads: getNumThreads(), device: 'cpu', rows };
      }
    }
  } finally {
    final?.dispose();
    space?.dispose();
  }
  return { info, cost, problems };
}
