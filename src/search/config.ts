/**
 * Every setting of a search run, its default, and its validation, in one table (tsup-style: one
 * typed options object, one place for defaults). The CLI flags, config files (JSON or YAML) and
 * the JSON Schema in docs/config.schema.json are all derived from {@link FIELDS}.
 */
import * as os from 'node:os';
import { ScheduleSpec } from './schedules';
import type { Placement } from '../torch';

export const DATASETS = ['fashion-scenes', 'brain-mri', 'cityscapes', 'voc', 'folder', 'fashion-mnist'] as const;
export const PRECISIONS = ['fp32', 'bf16'] as const;
/** How the network's 4-D weights are laid out (see {@link placement}). */
export const MEMORY_FORMATS = ['auto', 'channels-last', 'contiguous'] as const;
export const SPACES = ['lattice', 'lattice-dense', 'lattice-fusion', 'lattice-adl', 'darts'] as const;

/**
 * What a run's network computes: per-image logits in the DARTS space, per-pixel logits in the
 * lattices; a space module's follows its data set (fashion-mnist classifies, the others segment).
 */
export function runTask(cfg: { space: string; dataset: string }): 'segmentation' | 'classification' {
  if (cfg.space === 'darts') return 'classification';
  if (!isModuleSpace(cfg.space)) return 'segmentation';
  return cfg.dataset === 'fashion-mnist' ? 'classification' : 'segmentation';
}

/** Whether a `space` setting names a space module file (src/search/user-space.ts) rather than a built-in space. */
export function isModuleSpace(space: string): boolean {
  return !(SPACES as readonly string[]).includes(space);
}
/** How the architecture parameters are updated (the search algorithm). */
export const ALGORITHMS = ['darts', 'darts2', 'gdas'] as const;
/** What happens to the decoded architecture: kept training in place, retrained from scratch, or nothing. */
export const PROTOCOLS = ['single-stage', 'two-stage', 'none'] as const;
/** The older single setting, kept as an alias: each value names an algorithm and a protocol. */
export const STRATEGIES = ['single-stage', 'darts', 'darts2', 'gdas', 'two-stage'] as const;
export const STRATEGY_ALIASES: Record<(typeof STRATEGIES)[number], { algorithm: (typeof ALGORITHMS)[number]; protocol: (typeof PROTOCOLS)[number] }> = {
  'single-stage': { algorithm: 'darts', protocol: 'single-stage' },
  'two-stage': { algorithm: 'darts', protocol: 'two-stage' },
  darts: { algorithm: 'darts', protocol: 'none' },
  darts2: { algorithm: 'darts2', protocol: 'none' },
  gdas: { algorithm: 'gdas', protocol: 'none' },
};
export const RELAXATIONS = ['softmax', 'gumbel', 'gumbel-hard'] as const;
export const SPLITS = ['darts', 'resample', 'full'] as const;
export const COSTS = ['none', 'macs', 'params', 'latency'] as const;
export const LR_SCHEDULES = ['poly', 'cosine'] as const;

export interface SearchConfig {
  dataset: (typeof DATASETS)[number];
  dataRoot: string | null;
  /** Folder for TensorBoard event files (null: none). */
  tensorboard: string | null;
  /** Use only the first N training / validation samples (null: all). */
  trainSubset: number | null;
  valSubset: number | null;
  /** Resize every sample to [height, width] (fashion-scenes: the canvas size; null: as stored). */
  size: [number, number] | null;
  /** A built-in space (SPACES) or the path of a space module (.js or .cjs, src/search/user-space.ts). */
  space: string;
  /** Lattice: layers, channels, cell nodes, scales. DARTS: layers, channels, nodes. */
  layers: number;
  channels: number;
  nodes: number;
  scales: number;
  /** Partial-channel connections (PC-DARTS): each edge's operation sees 1/K of the channels (1: all). */
  partialChannels: number;
  /** Edge normalisation (PC-DARTS): each cell node weights its incoming edges by a softmax of its own, multiplied in when decoding. */
  edgeNorm: boolean;
  /** Search algorithm: how the architecture parameters learn. */
  algorithm: (typeof ALGORITHMS)[number];
  /** Protocol: what follows the search (freeze and train on, decode and retrain, or nothing). */
  protocol: (typeof PROTOCOLS)[number];
  /** Alias of an (algorithm, protocol) pair (older configs); resolved away (null) by resolveConfig. */
  strategy: (typeof STRATEGIES)[number] | null;
  /** Relaxation of the choices (null: the algorithm's own, softmax for DARTS, gumbel-hard for GDAS). */
  relaxation: (typeof RELAXATIONS)[number] | null;
  epochs: number;
  /** Epochs at the start that train only the weights. */
  warmupEpochs: number;
  /** Single-stage/two-stage: freeze (decode) after this epoch; null: automatic (see freezePatience). */
  freezeEpoch: number | null;
  /** Automatic freeze: the decoded architecture has not changed for this many epochs ... */
  freezePatience: number;
  /** ... and the mean margin between the two strongest options of each choice is at least this ... */
  freezeMargin: number;
  /** ... and the mean entropy of the relaxation weights is below this (null: no entropy condition); */
  freezeEntropy: number | null;
  /** the latest epoch of an automatic freeze, whatever the weights (null: warmupEpochs + a tenth of the epochs, at least 2). */
  freezeMaxEpoch: number | null;
  /** Re-estimate the derived network's BatchNorm statistics at the freeze. */
  freezeBnRecal: boolean;
  /** Weight of the entropy penalty (a number or a schedule). */
  entropyWeight: number | ScheduleSpec;
  /** Cost-aware search: what the architecture step also minimises (docs/search.md). */
  cost: (typeof COSTS)[number];
  /** The budget, in the cost's unit (MMACs, M parameters, ms); null: the supernet's expected cost at the start. */
  costTarget: number | null;
  costWeight: number;
  /** Path sampling: options per choice run in each search step under softmax (0: all). */
  samplePaths: number;
  /** Relaxation temperature (a number or a schedule; null: the algorithm's default, see FIELDS). */
  temperature: number | ScheduleSpec | null;
  split: (typeof SPLITS)[number];
  /** Share of the training data given to the architecture step (darts / resample splits). */
  archFraction: number;
  batchSize: number;
  /** Training crop [height, width] (null: whole images). */
  crop: [number, number] | null;
  lr: number;
  minLr: number;
  momentum: number;
  weightDecay: number;
  lrSchedule: (typeof LR_SCHEDULES)[number];
  archLr: number;
  /** Divide every soft mixture by the L2 norm of its weights (scale-preserving mixtures). */
  mixNorm: boolean;
  archBetas: [number, number];
  archWeightDecay: number;
  gradClip: number;
  /** Batches used to re-estimate BatchNorm statistics of the derived network when measuring the gap. */
  bnRecalibBatches: number;
  /** Random genotypes evaluated with the supernet's weights at each search epoch: the gap's control. */
  controlGenotypes: number;
  seed: number;
  threads: number;
  device: string;
  /** fp32, or bf16: forward passes under autocast in bfloat16, loss and updates in float32. */
  precision: (typeof PRECISIONS)[number];
  /** NHWC ('channels-last') or NCHW ('contiguous') weights and activations; 'auto': NHWC for float32 on the CPU. */
  memoryFormat: (typeof MEMORY_FORMATS)[number];
  out: string;
  skipBad: boolean;
}

type Check = (v: unknown) => string | null; // null: valid; otherwise what was expected

interface Field {
  doc: string;
  default: unknown;
  check: Check;
  schema: Record<string, unknown>;
}

const oneOf = (values: readonly string[], nullable = false): Pick<Field, 'check' | 'schema'> => ({
  check: (v) => ((nullable && v === null) || (typeof v === 'string' && values.includes(v)) ? null : `one of ${values.join(', ')}${nullable ? ' or null' : ''}`),
  schema: { enum: nullable ? [...values, null] : [...values] },
});
const int = (min: number, nullable = false): Pick<Field, 'check' | 'schema'> => ({
  check: (v) => ((nullable && v === null) || (Number.isInteger(v) && (v as number) >= min) ? null : `an integer >= ${min}${nullable ? ' or null' : ''}`),
  schema: nullable ? { type: ['integer', 'null'], minimum: min } : { type: 'integer', minimum: min },
});
const num = (min: number, max = Infinity, nullable = false): Pick<Field, 'check' | 'schema'> => ({
  check: (v) =>
    (nullable && v === null) || (typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max)
      ? null
      : `a number in [${min}, ${max}]${nullable ? ' or null' : ''}`,
  schema: { type: nullable ? ['number', 'null'] : 'number', minimum: min, ...(max < Infinity ? { maximum: max } : {}) },
});
const str = (nullable = false): Pick<Field, 'check' | 'schema'> => ({
  check: (v) => ((typeof v === 'string' && v.length > 0) || (nullable && v === null) ? null : `a non-empty string${nullable ? ' or null' : ''}`),
  schema: { type: nullable ? ['string', 'null'] : 'string' },
});
const bool: Pick<Field, 'check' | 'schema'> = { check: (v) => (typeof v === 'boolean' ? null : 'true or false'), schema: { type: 'boolean' } };
const pairOf = (min: number, nullable: boolean, integer: boolean): Pick<Field, 'check' | 'schema'> => ({
  check: (v) =>
    (nullable && v === null) || (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number' && x >= min && (!integer || Number.isInteger(x))))
      ? null
      : `a pair [a, b] of ${integer ? 'integers' : 'numbers'} >= ${min}${nullable ? ' or null' : ''}`,
  schema: { type: nullable ? ['array', 'null'] : 'array', items: { type: integer ? 'integer' : 'number', minimum: min }, minItems: 2, maxItems: 2 },
});
const schedule = (nullable = false): Pick<Field, 'check' | 'schema'> => ({
  check: (v) => {
    if (nullable && v === null) return null;
    if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return null;
    const s = v as { kind?: string; start?: unknown; end?: unknown; value?: unknown };
    if (s && typeof s === 'object' && (s.kind === 'linear' || s.kind === 'exponential') && typeof s.start === 'number' && typeof s.end === 'number')
      return null;
    if (s && typeof s === 'object' && s.kind === 'constant' && typeof s.value === 'number') return null;
    return `a number >= 0${nullable ? ', null' : ''} or a schedule {kind: 'constant'|'linear'|'exponential', start, end}`;
  },
  schema: { oneOf: [{ type: 'number', minimum: 0 }, { type: 'object', required: ['kind'] }, ...(nullable ? [{ type: 'null' }] : [])] },
});

/** More threads than this only add contention (and 1000 threads start 1000 OS threads). */
const MAX_THREADS = Math.max(4, 4 * os.cpus().length);

/** The settings: documentation, default and check of each. */
export const FIELDS: Record<keyof SearchConfig, Field> = {
  dataset: { doc: 'data set', default: 'fashion-scenes', ...oneOf(DATASETS) },
  dataRoot: { doc: 'root folder of the data set (cityscapes, voc, folder)', default: null, ...str(true) },
  trainSubset: { doc: 'use only the first N training samples', default: null, ...int(1, true) },
  valSubset: { doc: 'use only the first N validation samples', default: null, ...int(1, true) },
  size: { doc: 'resize every sample to [height, width] (null: as stored)', default: null, ...pairOf(4, true, true) },
  space: {
    doc: `search space: ${SPACES.join(', ')}, or the path of a space module (.js or .cjs, docs/spaces.md)`,
    default: 'lattice',
    check: (v) =>
      typeof v === 'string' && ((SPACES as readonly string[]).includes(v) || /\.c?js$/.test(v))
        ? null
        : `one of ${SPACES.join(', ')}, or the path of a space module (.js or .cjs)`,
    schema: { anyOf: [{ enum: [...SPACES] }, { type: 'string', pattern: '\\.c?js$' }] },
  },
  layers: { doc: 'layers of the supernet', default: 4, ...int(1) },
  channels: { doc: 'base channels', default: 8, ...int(1) },
  nodes: { doc: 'intermediate nodes per cell', default: 3, ...int(1) },
  scales: { doc: 'scales of the lattice (1/4 ... 1/32)', default: 3, ...int(1) },
  partialChannels: {
    doc: "partial-channel connections (PC-DARTS): each edge's operation sees 1/K of the channels, the rest bypass it (1: all; must divide --channels)",
    default: 1,
    ...int(1),
  },
  edgeNorm: {
    doc: 'edge normalisation (PC-DARTS): each cell node with more incoming edges than it keeps weights them by a softmax of its own (group edges.<cell>); decoding ranks edges by edge weight times operation weight (not with gdas/gumbel-hard or samplePaths)',
    default: false,
    ...bool,
  },
  algorithm: {
    doc: 'search algorithm: darts (first order), darts2 (second order), gdas (gumbel-hard, annealed temperature)',
    default: 'darts',
    ...oneOf(ALGORITHMS),
  },
  protocol: {
    doc: 'after the search: single-stage (freeze, train on with inherited weights), two-stage (retrain from scratch), none',
    default: 'single-stage',
    ...oneOf(PROTOCOLS),
  },
  strategy: {
    doc: 'older alias of an algorithm and a protocol: single-stage, two-stage (darts + that protocol), darts, darts2, gdas (protocol none)',
    default: null,
    ...oneOf(STRATEGIES, true),
  },
  relaxation: { doc: 'relaxation of the choices (null: softmax for darts/darts2, gumbel-hard for gdas)', default: null, ...oneOf(RELAXATIONS, true) },
  epochs: { doc: 'epochs of the whole run (one schedule)', default: 12, ...int(1) },
  warmupEpochs: { doc: 'weight-only epochs at the start', default: 2, ...int(0) },
  freezeEpoch: { doc: 'freeze the architecture after this epoch (null: automatic)', default: null, ...int(1, true) },
  freezePatience: { doc: 'automatic freeze: epochs without a change of the decoded architecture', default: 2, ...int(1) },
  freezeMargin: { doc: 'automatic freeze: mean margin between the two strongest options per choice must reach this', default: 0.1, ...num(0, 1) },
  freezeEntropy: { doc: 'automatic freeze: mean entropy must also be below this', default: null, ...num(0, Infinity, true) },
  freezeMaxEpoch: {
    doc: 'automatic freeze: latest epoch, converged or not (null: warmupEpochs + a tenth of the epochs, at least 2)',
    default: null,
    ...int(1, true),
  },
  freezeBnRecal: { doc: "re-estimate the derived network's BatchNorm statistics at the freeze", default: true, ...bool },
  entropyWeight: { doc: 'entropy penalty weight (number or schedule)', default: 0, ...schedule() },
  cost: {
    doc: 'cost-aware search: none, macs, params, or latency (per-operation table measured on this machine, cached)',
    default: 'none',
    ...oneOf(COSTS),
  },
  costTarget: {
    doc: "cost budget in the cost's unit (MMACs, M parameters, ms); the architecture loss gains costWeight * max(0, log(expected cost / target)) (null: the supernet's expected cost at the start)",
    default: null,
    ...num(0, Infinity, true),
  },
  costWeight: { doc: 'weight of the cost penalty', default: 0.1, ...num(0) },
  samplePaths: {
    doc: 'path sampling under softmax: options per choice that run in each search step, drawn from the relaxation weights (0: all; memory and time grow with it)',
    default: 0,
    ...int(0),
  },
  temperature: {
    doc: 'relaxation temperature, number or schedule (null: exponential over the search, softmax 1 -> 0.1, gdas 10 -> 0.1, gumbel 5 -> 0.5)',
    default: null,
    ...schedule(true),
  },
  split: { doc: 'how training data is split between weight and architecture steps', default: 'darts', ...oneOf(SPLITS) },
  archFraction: { doc: 'share of training data for the architecture step', default: 0.5, ...num(0.05, 0.95) },
  batchSize: { doc: 'batch size', default: 8, ...int(1) },
  crop: { doc: 'training crop [height, width] (null: whole images)', default: null, ...pairOf(8, true, true) },
  lr: { doc: 'weight learning rate', default: 0.05, ...num(0) },
  minLr: { doc: 'final weight learning rate (cosine)', default: 0.001, ...num(0) },
  momentum: { doc: 'SGD momentum', default: 0.9, ...num(0, 1) },
  weightDecay: { doc: 'SGD weight decay', default: 3e-4, ...num(0) },
  lrSchedule: { doc: 'weight learning-rate schedule', default: 'cosine', ...oneOf(LR_SCHEDULES) },
  archLr: { doc: 'architecture Adam learning rate', default: 0.1, ...num(0) },
  mixNorm: { doc: 'divide each soft mixture by the L2 norm of its weights, so the mixture and the chosen option have the same scale', default: true, ...bool },
  archBetas: {
    doc: 'architecture Adam betas, each in [0, 1)',
    default: [0.5, 0.999],
    ...pairOf(0, false, false),
    check: (v) =>
      Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number' && x >= 0 && x < 1) ? null : 'a pair [b1, b2] of numbers in [0, 1)',
  },
  archWeightDecay: { doc: 'architecture Adam weight decay', default: 1e-3, ...num(0) },
  gradClip: { doc: 'clip the weight gradient norm (0: off)', default: 5, ...num(0) },
  bnRecalibBatches: { doc: 'batches for BatchNorm re-estimation of the derived network', default: 4, ...int(0) },
  controlGenotypes: { doc: 'random genotypes evaluated with the supernet weights each search epoch (the gap control; 0: off)', default: 2, ...int(0) },
  seed: { doc: 'random seed', default: 0, ...int(0) },
  threads: {
    doc: `libtorch threads (at most ${MAX_THREADS}: 4 per core)`,
    default: 1,
    ...int(1),
    check: (v) => (Number.isInteger(v) && (v as number) >= 1 && (v as number) <= MAX_THREADS ? null : `an integer in [1, ${MAX_THREADS}] (4 per core)`),
  },
  device: { doc: "device ('cpu', 'cuda')", default: 'cpu', ...str() },
  precision: {
    doc: 'fp32, or bf16: forward passes in mixed precision (autocast to bfloat16 on the device; parameters, loss and updates stay float32)',
    default: 'fp32',
    ...oneOf(PRECISIONS),
  },
  memoryFormat: {
    doc: "auto, channels-last or contiguous: how weights and activations are laid out (auto: channels-last for float32 on the CPU, where libtorch's convolutions run faster so; contiguous otherwise)",
    default: 'auto',
    ...oneOf(MEMORY_FORMATS),
  },
  out: { doc: 'run directory', default: 'runs/search', ...str() },
  tensorboard: { doc: 'also write TensorBoard scalar event files into this folder (null: off)', default: null, ...str(true) },
  skipBad: { doc: 'skip unreadable samples instead of stopping', default: false, ...bool },
};

/** The defaults, as a fresh object. */
export function defaultConfig(): SearchConfig {
  const c: Record<string, unknown> = {};
  for (const [k, f] of Object.entries(FIELDS)) c[k] = structuredClone(f.default);
  return c as unknown as SearchConfig;
}

/**
 * Defaults overlaid with `partial`, validated. Unknown keys and invalid values throw one error
 * naming every bad field, its value and the allowed values. `source` names the origin in the message.
 */
export function resolveConfig(partial: Record<string, unknown>, source = 'config'): SearchConfig {
  if (partial === null || typeof partial !== 'object' || Array.isArray(partial)) {
    throw new Error(
      `invalid ${source}: the settings must be an object of fields (got ${partial === null ? 'null' : Array.isArray(partial) ? 'an array' : typeof partial})`,
    );
  }
  const problems: string[] = [];
  for (const k of Object.keys(partial)) {
    if (!Object.prototype.hasOwnProperty.call(FIELDS, k)) problems.push(`unknown field '${k}' (known: ${Object.keys(FIELDS).join(', ')})`);
  }
  const c = { ...defaultConfig(), ...partial } as Record<string, unknown>;
  for (const [k, f] of Object.entries(FIELDS)) {
    const expected = f.check(c[k]);
    if (expected) problems.push(`'${k}' is ${JSON.stringify(c[k])}; expected ${expected}`);
  }
  const cfg = c as unknown as SearchConfig;
  if (!problems.length && cfg.strategy !== null) {
    // The alias names both settings; an explicit algorithm or protocol must agree with it.
    const alias = STRATEGY_ALIASES[cfg.strategy];
    for (const k of ['algorithm', 'protocol'] as const) {
      if (partial[k] !== undefined && partial[k] !== alias[k]) {
        problems.push(`'strategy' ${cfg.strategy} means ${k} '${alias[k]}', but '${k}' is '${String(partial[k])}'; give one or the other`);
      }
    }
    Object.assign(cfg, alias, { strategy: null });
  }
  if (!problems.length) {
    if (cfg.warmupEpochs >= cfg.epochs) problems.push(`'warmupEpochs' (${cfg.warmupEpochs}) must be below 'epochs' (${cfg.epochs})`);
    if (cfg.algorithm === 'gdas' && cfg.relaxation !== null && cfg.relaxation !== 'gumbel-hard') {
      problems.push(`algorithm 'gdas' samples one operation per choice ('gumbel-hard'); 'relaxation' ${cfg.relaxation} belongs to darts/darts2`);
    }
    // Freeze settings apply to the protocols that freeze; without one they are ignored.
    const protocol = cfg.protocol !== 'none';
    for (const k of ['freezeEpoch', 'freezeMaxEpoch'] as const) {
      const v = cfg[k];
      if (protocol && v !== null && (v <= cfg.warmupEpochs || v >= cfg.epochs)) {
        problems.push(`'${k}' (${v}) must be after warmupEpochs (${cfg.warmupEpochs}) and before epochs (${cfg.epochs})`);
      }
    }
    if (protocol && cfg.epochs < cfg.warmupEpochs + 2) {
      problems.push(
        `protocol '${cfg.protocol}' needs at least one search epoch and one epoch after the freeze: 'epochs' (${cfg.epochs}) must be at least warmupEpochs + 2 (${cfg.warmupEpochs + 2})`,
      );
    }
    if (cfg.samplePaths > 0 && cfg.relaxation !== null && cfg.relaxation !== 'softmax')
      problems.push(`'samplePaths' samples under the softmax relaxation; '${cfg.relaxation}' samples (or not) by itself`);
    if (cfg.samplePaths > 0 && cfg.algorithm === 'darts2')
      problems.push(`'samplePaths' draws new paths in every pass; algorithm 'darts2' needs the same network in its four passes of a step (use darts)`);
    if (cfg.samplePaths > 0 && cfg.algorithm === 'gdas') problems.push(`'samplePaths' samples under softmax; algorithm 'gdas' already runs one sampled option`);
    if (cfg.partialChannels > 1 && cfg.channels % cfg.partialChannels !== 0)
      problems.push(`'partialChannels' (${cfg.partialChannels}) must divide 'channels' (${cfg.channels})`);
    if (cfg.partialChannels > 1 && isModuleSpace(cfg.space))
      problems.push(`'partialChannels' applies to the built-in spaces; a space module builds its own connections`);
    if (cfg.edgeNorm && isModuleSpace(cfg.space)) problems.push(`'edgeNorm' applies to the built-in spaces; a space module declares its own choices`);
    // Edge weights choose two edges per node; a relaxation that runs one option per choice would
    // train one edge per node where the derived cell keeps two.
    if (cfg.edgeNorm && (cfg.algorithm === 'gdas' || cfg.relaxation === 'gumbel-hard'))
      problems.push(
        `'edgeNorm' weights each node's edges softly (PC-DARTS); 'gumbel-hard' (gdas) would run one edge per node where the derived cell keeps two`,
      );
    if (cfg.edgeNorm && cfg.samplePaths > 0)
      problems.push(`'edgeNorm' with 'samplePaths' would run ${cfg.samplePaths} edge(s) per node where the derived cell keeps two; use one of them`);
    if (cfg.costTarget !== null && !(cfg.costTarget > 0)) problems.push(`'costTarget' must be above 0 (got ${cfg.costTarget})`);
    if (cfg.space === 'darts' && cfg.dataset !== 'fashion-mnist')
      problems.push(`space 'darts' classifies images; use dataset 'fashion-mnist' (got '${cfg.dataset}')`);
    if (cfg.space.startsWith('lattice') && !isModuleSpace(cfg.space) && cfg.dataset === 'fashion-mnist')
      problems.push(`dataset 'fashion-mnist' is classification; use space 'darts' (got '${cfg.space}')`);
  }
  if (problems.length) throw new Error(`invalid ${source}:\n  - ${problems.join('\n  - ')}`);
  // Settings left to the algorithm become concrete, so config.json says what ran.
  if (cfg.relaxation === null) cfg.relaxation = cfg.algorithm === 'gdas' ? 'gumbel-hard' : 'softmax';
  if (cfg.temperature === null) {
    // softmax: 1 -> 0.1 sharpens the mixture towards the decoded network before the freeze.
    const [start, end] = cfg.algorithm === 'gdas' ? [10, 0.1] : cfg.relaxation === 'softmax' ? [1, 0.1] : [5, 0.5];
    cfg.temperature = { kind: 'exponential', start, end, fromEpoch: cfg.warmupEpochs, toEpoch: searchEnd(cfg) };
  }
  return cfg;
}

/**
 * The epoch by which the search ends at the latest: the fixed freeze epoch, the automatic
 * freeze's cap (freezeMaxEpoch, or warmupEpochs plus a tenth of the epochs, at least 2), or the last epoch without a protocol.
 */
export function searchEnd(cfg: Pick<SearchConfig, 'protocol' | 'freezeEpoch' | 'freezeMaxEpoch' | 'epochs' | 'warmupEpochs'>): number {
  if (cfg.protocol === 'none') return cfg.epochs;
  if (cfg.freezeEpoch !== null) return cfg.freezeEpoch;
  if (cfg.freezeMaxEpoch !== null) return cfg.freezeMaxEpoch;
  // The search is short: the derived network gains more from epochs of its own (docs/search.md).
  return Math.min(cfg.epochs - 1, cfg.warmupEpochs + Math.max(2, Math.round(cfg.epochs / 10)));
}

/** A JSON Schema (draft-07) of the config file. */
export function configSchema(): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  for (const [k, f] of Object.entries(FIELDS)) properties[k] = { description: f.doc, default: f.default, ...f.schema };
  return { $schema: 'http://json-schema.org/draft-07/schema#', title: 'dnas search config', type: 'object', additionalProperties: false, properties };
}

/**
 * Where a run's networks go: its device, and the memory format `memoryFormat` resolves to there.
 * `auto` is channels-last for float32 on the CPU (oneDNN's convolutions, depthwise ones most, run
 * faster on NHWC; docs/benchmarks.md, "Fast kernels and channels-last") and contiguous otherwise:
 * with bf16 the losses of a channels-last run drifted further from float32 than a contiguous
 * run's (test/tiny-task.ts's task, 3 epochs: epoch-3 loss 0.946 channels-last, 0.861 contiguous,
 * 0.869 in float32), and other devices have not been measured.
 */
export function placement(cfg: Pick<SearchConfig, 'device' | 'memoryFormat' | 'precision'>): Placement {
  const auto = cfg.device === 'cpu' && cfg.precision === 'fp32';
  const cl = cfg.memoryFormat === 'channels-last' || (cfg.memoryFormat === 'auto' && auto);
  return { device: cfg.device, memoryFormat: cl ? 'channelsLast' : 'contiguous' };
}
