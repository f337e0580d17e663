/**
 * Every setting of a search run, its default, and its validation, in one table (tsup-style: one
 * typed options object, one place for defaults). The CLI flags, config files (JSON or YAML) and
 * the JSON Schema in docs/config.schema.json are all derived from {@link FIELDS}.
 */
import { ScheduleSpec } from './schedules';

export const DATASETS = ['fashion-scenes', 'brain-mri', 'cityscapes', 'voc', 'folder', 'fashion-mnist'] as const;
export const SPACES = ['lattice', 'lattice-dense', 'darts'] as const;
export const STRATEGIES = ['single-stage', 'darts', 'darts2', 'gdas', 'two-stage'] as const;
export const RELAXATIONS = ['softmax', 'gumbel', 'gumbel-hard'] as const;
export const SPLITS = ['darts', 'resample', 'full'] as const;
export const LR_SCHEDULES = ['poly', 'cosine'] as const;

export interface SearchConfig {
  dataset: (typeof DATASETS)[number];
  dataRoot: string | null;
  /** Use only the first N training / validation samples (null: all). */
  trainSubset: number | null;
  valSubset: number | null;
  /** Resize every sample to [height, width] (fashion-scenes: the canvas size; null: as stored). */
  size: [number, number] | null;
  space: (typeof SPACES)[number];
  /** Lattice: layers, channels, cell nodes, scales. DARTS: layers, channels, nodes. */
  layers: number;
  channels: number;
  nodes: number;
  scales: number;
  strategy: (typeof STRATEGIES)[number];
  relaxation: (typeof RELAXATIONS)[number];
  epochs: number;
  /** Epochs at the start that train only the weights. */
  warmupEpochs: number;
  /** Single-stage/two-stage: freeze (decode) after this epoch; null: automatic (see freezePatience). */
  freezeEpoch: number | null;
  /** Automatic freeze: the decoded architecture has not changed for this many epochs ... */
  freezePatience: number;
  /** ... and the mean entropy of the relaxation weights is below this (null: no entropy condition). */
  freezeEntropy: number | null;
  /** Weight of the entropy penalty (a number or a schedule). */
  entropyWeight: number | ScheduleSpec;
  /** Gumbel temperature (a number or a schedule). */
  temperature: number | ScheduleSpec;
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
  archBetas: [number, number];
  archWeightDecay: number;
  gradClip: number;
  /** Batches used to re-estimate BatchNorm statistics of the derived network when measuring the gap. */
  bnRecalibBatches: number;
  seed: number;
  threads: number;
  device: string;
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

const oneOf = (values: readonly string[]): Pick<Field, 'check' | 'schema'> => ({
  check: (v) => (typeof v === 'string' && values.includes(v) ? null : `one of ${values.join(', ')}`),
  schema: { enum: [...values] },
});
const int = (min: number, nullable = false): Pick<Field, 'check' | 'schema'> => ({
  check: (v) => ((nullable && v === null) || (Number.isInteger(v) && (v as number) >= min) ? null : `an integer >= ${min}${nullable ? ' or null' : ''}`),
  schema: nullable ? { type: ['integer', 'null'], minimum: min } : { type: 'integer', minimum: min },
});
const num = (min: number, max = Infinity, nullable = false): Pick<Field, 'check' | 'schema'> => ({
  check: (v) => ((nullable && v === null) || (typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max)
    ? null : `a number in [${min}, ${max}]${nullable ? ' or null' : ''}`),
  schema: { type: nullable ? ['number', 'null'] : 'number', minimum: min, ...(max < Infinity ? { maximum: max } : {}) },
});
const str = (nullable = false): Pick<Field, 'check' | 'schema'> => ({
  check: (v) => (typeof v === 'string' && v.length > 0) || (nullable && v === null) ? null : `a non-empty string${nullable ? ' or null' : ''}`,
  schema: { type: nullable ? ['string', 'null'] : 'string' },
});
const bool: Pick<Field, 'check' | 'schema'> = { check: (v) => (typeof v === 'boolean' ? null : 'true or false'), schema: { type: 'boolean' } };
const pairOf = (min: number, nullable: boolean, integer: boolean): Pick<Field, 'check' | 'schema'> => ({
  check: (v) => (nullable && v === null) || (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number' && x >= min && (!integer || Number.isInteger(x))))
    ? null : `a pair [a, b] of ${integer ? 'integers' : 'numbers'} >= ${min}${nullable ? ' or null' : ''}`,
  schema: { type: nullable ? ['array', 'null'] : 'array', items: { type: integer ? 'integer' : 'number', minimum: min }, minItems: 2, maxItems: 2 },
});
const schedule: Pick<Field, 'check' | 'schema'> = {
  check: (v) => {
    if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return null;
    const s = v as { kind?: string; start?: unknown; end?: unknown; value?: unknown };
    if (s && typeof s === 'object' && (s.kind === 'linear' || s.kind === 'exponential') && typeof s.start === 'number' && typeof s.end === 'number') return null;
    if (s && typeof s === 'object' && s.kind === 'constant' && typeof s.value === 'number') return null;
    return "a number >= 0 or a schedule {kind: 'constant'|'linear'|'exponential', start, end}";
  },
  schema: { oneOf: [{ type: 'number', minimum: 0 }, { type: 'object', required: ['kind'] }] },
};

/** The settings: documentation, default and check of each. */
export const FIELDS: Record<keyof SearchConfig, Field> = {
  dataset: { doc: 'data set', default: 'fashion-scenes', ...oneOf(DATASETS) },
  dataRoot: { doc: 'root folder of the data set (cityscapes, voc, folder)', default: null, ...str(true) },
  trainSubset: { doc: 'use only the first N training samples', default: null, ...int(1, true) },
  valSubset: { doc: 'use only the first N validation samples', default: null, ...int(1, true) },
  size: { doc: 'resize every sample to [height, width] (null: as stored)', default: null, ...pairOf(4, true, true) },
  space: { doc: 'search space', default: 'lattice', ...oneOf(SPACES) },
  layers: { doc: 'layers of the supernet', default: 4, ...int(1) },
  channels: { doc: 'base channels', default: 8, ...int(1) },
  nodes: { doc: 'intermediate nodes per cell', default: 3, ...int(1) },
  scales: { doc: 'scales of the lattice (1/4 ... 1/32)', default: 3, ...int(1) },
  strategy: { doc: 'search strategy / protocol', default: 'single-stage', ...oneOf(STRATEGIES) },
  relaxation: { doc: 'relaxation of the choices', default: 'softmax', ...oneOf(RELAXATIONS) },
  epochs: { doc: 'epochs of the whole run (one schedule)', default: 12, ...int(1) },
  warmupEpochs: { doc: 'weight-only epochs at the start', default: 2, ...int(0) },
  freezeEpoch: { doc: 'freeze the architecture after this epoch (null: automatic)', default: 6, ...int(1, true) },
  freezePatience: { doc: 'automatic freeze: epochs without a change of the decoded architecture', default: 3, ...int(1) },
  freezeEntropy: { doc: 'automatic freeze: mean entropy must also be below this', default: null, ...num(0, Infinity, true) },
  entropyWeight: { doc: 'entropy penalty weight (number or schedule)', default: 0, ...schedule },
  temperature: { doc: 'Gumbel temperature (number or schedule)', default: { kind: 'exponential', start: 5, end: 0.5 }, ...schedule },
  split: { doc: 'how training data is split between weight and architecture steps', default: 'darts', ...oneOf(SPLITS) },
  archFraction: { doc: 'share of training data for the architecture step', default: 0.5, ...num(0.05, 0.95) },
  batchSize: { doc: 'batch size', default: 8, ...int(1) },
  crop: { doc: 'training crop [height, width] (null: whole images)', default: null, ...pairOf(8, true, true) },
  lr: { doc: 'weight learning rate', default: 0.05, ...num(0) },
  minLr: { doc: 'final weight learning rate (cosine)', default: 0.001, ...num(0) },
  momentum: { doc: 'SGD momentum', default: 0.9, ...num(0, 1) },
  weightDecay: { doc: 'SGD weight decay', default: 3e-4, ...num(0) },
  lrSchedule: { doc: 'weight learning-rate schedule', default: 'cosine', ...oneOf(LR_SCHEDULES) },
  archLr: { doc: 'architecture Adam learning rate', default: 3e-3, ...num(0) },
  archBetas: { doc: 'architecture Adam betas', default: [0.5, 0.999], ...pairOf(0, false, false) },
  archWeightDecay: { doc: 'architecture Adam weight decay', default: 1e-3, ...num(0) },
  gradClip: { doc: 'clip the weight gradient norm (0: off)', default: 5, ...num(0) },
  bnRecalibBatches: { doc: 'batches for BatchNorm re-estimation of the derived network', default: 4, ...int(0) },
  seed: { doc: 'random seed', default: 0, ...int(0) },
  threads: { doc: 'libtorch threads', default: 1, ...int(1) },
  device: { doc: "device ('cpu', 'cuda')", default: 'cpu', ...str() },
  out: { doc: 'run directory', default: 'runs/search', ...str() },
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
  const problems: string[] = [];
  for (const k of Object.keys(partial)) {
    if (!(k in FIELDS)) problems.push(`unknown field '${k}' (known: ${Object.keys(FIELDS).join(', ')})`);
  }
  const c = { ...defaultConfig(), ...partial } as Record<string, unknown>;
  for (const [k, f] of Object.entries(FIELDS)) {
    const expected = f.check(c[k]);
    if (expected) problems.push(`'${k}' is ${JSON.stringify(c[k])}; expected ${expected}`);
  }
  const cfg = c as unknown as SearchConfig;
  if (!problems.length) {
    if (cfg.warmupEpochs >= cfg.epochs) problems.push(`'warmupEpochs' (${cfg.warmupEpochs}) must be below 'epochs' (${cfg.epochs})`);
    if (cfg.freezeEpoch !== null && (cfg.freezeEpoch <= cfg.warmupEpochs || cfg.freezeEpoch >= cfg.epochs)) {
      problems.push(`'freezeEpoch' (${cfg.freezeEpoch}) must be after warmupEpochs (${cfg.warmupEpochs}) and before epochs (${cfg.epochs})`);
    }
    if (cfg.strategy === 'two-stage' && cfg.freezeEpoch === null) problems.push("'freezeEpoch' must be set for strategy 'two-stage' (the search length)");
    if (cfg.space === 'darts' && cfg.dataset !== 'fashion-mnist') problems.push(`space 'darts' classifies images; use dataset 'fashion-mnist' (got '${cfg.dataset}')`);
    if (cfg.space !== 'darts' && cfg.dataset === 'fashion-mnist') problems.push(`dataset 'fashion-mnist' is classification; use space 'darts' (got '${cfg.space}')`);
  }
  if (problems.length) throw new Error(`invalid ${source}:\n  - ${problems.join('\n  - ')}`);
  return cfg;
}

/** A JSON Schema (draft-07) of the config file. */
export function configSchema(): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  for (const [k, f] of Object.entries(FIELDS)) properties[k] = { description: f.doc, default: f.default, ...f.schema };
  return { $schema: 'http://json-schema.org/draft-07/schema#', title: 'dnas search config', type: 'object', additionalProperties: false, properties };
}
