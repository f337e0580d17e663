/**
 * The four experiments of docs/experiments.md, each a list of runs (settings x seeds) and a
 * summary of their logs into tables, plots and numbers. The settings are dnas's own CPU-sized
 * choices, not the paper's (its method beyond the abstract is unknown here); the sizes were chosen
 * so that each experiment's default size finishes within about 45 minutes on 2 cores.
 */
import { SearchConfig } from '../search/config';
import { RunResult, RunSpec } from './runner';
import { barChart, lineChart, LineSeries } from './plots';
import { num, pct, Stat, stat } from './stats';

export type Size = 'default' | 'quick';
type Cfg = Partial<SearchConfig>;

export interface Table {
  title: string;
  header: string[];
  rows: string[][];
}
export interface Plot {
  name: string;
  title: string;
  svg: string;
}
export interface Summary {
  tables: Table[];
  plots: Plot[];
  data: Record<string, unknown>;
}

export interface Experiment {
  name: string;
  /** The claim of the paper it tests, in the paper's terms. */
  claim: string;
  /** What is run, in words. */
  design(size: Size): string;
  runs(size: Size): RunSpec[];
  summarize(results: RunResult[], size: Size): Summary;
}

export const SEEDS: Record<Size, number[]> = { default: [0, 1, 2], quick: [0, 1] };

// ---- shared settings -------------------------------------------------------------------------

/** The lattice supernet of experiments gap, entropy and single-vs-two. */
const LATTICE: Cfg = { space: 'lattice', layers: 4, channels: 8, nodes: 2, scales: 3, lr: 0.1, relaxation: 'softmax', entropyWeight: 0, threads: 1 };

/** The two segmentation data sets and their sizes; `freeze` is the single/two-stage freeze epoch. */
const SEGMENTATION: Record<Size, { label: string; cfg: Cfg; freeze: number }[]> = {
  default: [
    {
      label: 'fashion-scenes',
      cfg: { dataset: 'fashion-scenes', size: [32, 32], trainSubset: 1024, valSubset: 256, batchSize: 8, epochs: 10, warmupEpochs: 2 },
      freeze: 5,
    },
    { label: 'brain-mri', cfg: { dataset: 'brain-mri', size: [96, 80], batchSize: 4, epochs: 16, warmupEpochs: 2 }, freeze: 8 },
  ],
  quick: [
    {
      label: 'fashion-scenes',
      cfg: { dataset: 'fashion-scenes', size: [32, 32], trainSubset: 32, valSubset: 16, batchSize: 8, epochs: 3, warmupEpochs: 1 },
      freeze: 2,
    },
    { label: 'brain-mri', cfg: { dataset: 'brain-mri', size: [48, 40], trainSubset: 16, valSubset: 8, batchSize: 4, epochs: 3, warmupEpochs: 1 }, freeze: 2 },
  ],
};

/** The DARTS cell space on Fashion-MNIST of experiment split (searched for `freeze` epochs, then the decoded network trained from scratch). */
const DARTS: Record<Size, { cfg: Cfg; freeze: number }> = {
  default: {
    cfg: {
      dataset: 'fashion-mnist',
      size: [16, 16],
      trainSubset: 1024,
      valSubset: 512,
      space: 'darts',
      channels: 8,
      layers: 5,
      nodes: 4,
      batchSize: 32,
      strategy: 'two-stage',
      warmupEpochs: 0,
      freezeEpoch: 8,
      epochs: 12,
      threads: 1,
    },
    freeze: 8,
  },
  quick: {
    cfg: {
      dataset: 'fashion-mnist',
      size: [16, 16],
      trainSubset: 64,
      valSubset: 32,
      space: 'darts',
      channels: 4,
      layers: 3,
      nodes: 2,
      batchSize: 16,
      strategy: 'two-stage',
      warmupEpochs: 0,
      freezeEpoch: 2,
      epochs: 3,
      threads: 1,
    },
    freeze: 2,
  },
};

export const ENTROPY_WEIGHTS = [0, 1e-3, 1e-2, 1e-1, 1];

// ---- helpers over run logs ---------------------------------------------------------------------

const n = (v: unknown): number => (typeof v === 'number' ? v : NaN);

/** Runs of one variant on one data set (seeds in order). */
function select(results: RunResult[], variant: string, dataset?: string): RunResult[] {
  return results.filter((r) => r.spec.variant === variant && (!dataset || r.cfg.dataset === dataset));
}

/** Stat over runs of `field` of the metrics record at `epoch` (default: the last). */
function at(runs: RunResult[], field: string, epoch?: number): Stat {
  return stat(
    runs
      .map((r) => {
        const m = epoch === undefined ? r.metrics[r.metrics.length - 1] : r.metrics.find((x) => x.epoch === epoch);
        return n(m?.[field]);
      })
      .filter((v) => !Number.isNaN(v)),
  );
}

/** Per-epoch mean/spread of a metrics field, for the epochs that have it. */
function curve(runs: RunResult[], field: string): { x: number; y: Stat }[] {
  const epochs = [...new Set(runs.flatMap((r) => r.metrics.filter((m) => typeof m[field] === 'number').map((m) => m.epoch as number)))].sort((a, b) => a - b);
  return epochs.map((e) => ({ x: e, y: at(runs, field, e) }));
}

const scoreName = (r: RunResult[]) => (r[0]?.summary.metric === 'accuracy' ? 'top-1 accuracy' : 'mIoU');
const wall = (runs: RunResult[]) => stat(runs.map((r) => r.summary.wallSeconds));
const sec = (s: Stat) => (s.n ? `${s.mean.toFixed(0)} [${s.min.toFixed(0)}, ${s.max.toFixed(0)}]` : '-');

function describe(cfg: Cfg): string {
  return Object.entries(cfg)
    .filter(([k]) => k !== 'threads')
    .map(([k, v]) => `${k} ${Array.isArray(v) ? v.join('x') : v}`)
    .join(', ');
}

/**
 * How far the operation weights moved from uniform: the largest weight of each operation row
 * (groups named alphas.*: one row per edge), averaged over rows, in the last arch.jsonl record.
 * Uniform over k operations gives 1/k; a one-hot row gives 1.
 */
export function topOpWeight(arch: Record<string, unknown>[]): number {
  const w = arch[arch.length - 1]?.weights as Record<string, number[][]> | undefined;
  const rows = Object.entries(w ?? {})
    .filter(([k]) => k.startsWith('alphas'))
    .flatMap(([, r]) => r);
  return rows.length ? rows.reduce((a, r) => a + Math.max(...r), 0) / rows.length : NaN;
}

const topOp = (runs: RunResult[]) => stat(runs.map((r) => topOpWeight(r.arch)).filter((v) => !Number.isNaN(v)));

// ---- 1. gap ------------------------------------------------------------------------------------

function searchRuns(size: Size, weights: number[]): RunSpec[] {
  const specs: RunSpec[] = [];
  for (const d of SEGMENTATION[size]) {
    for (const w of weights) {
      for (const seed of SEEDS[size]) {
        specs.push({ variant: `entropy ${w}`, config: { ...LATTICE, ...d.cfg, strategy: 'darts', freezeEpoch: null, entropyWeight: w, seed } });
      }
    }
  }
  return specs;
}

const gap: Experiment = {
  name: 'gap',
  claim: 'an unregularized supernet suffers a large discretization error: the decoded network does much worse than the supernet with the same weights',
  design: (size) =>
    `DARTS first-order search (never frozen) of the lattice space (${describe(LATTICE)}), no entropy penalty, on each data set: ` +
    SEGMENTATION[size].map((d) => `${d.label} (${describe(d.cfg)})`).join('; ') +
    `; seeds ${SEEDS[size].join(', ')}. After every epoch the supernet, the decoded (argmax) network with the same weights, and the decoded network after BatchNorm re-estimation on 4 training batches are evaluated on the validation split.`,
  runs: (size) => searchRuns(size, [0]),
  summarize(results, size) {
    const tables: Table[] = [],
      plots: Plot[] = [];
    const data: Record<string, unknown> = {};
    const final: string[][] = [];
    for (const d of SEGMENTATION[size]) {
      const runs = select(results, 'entropy 0', d.label);
      const fields = ['score', 'derivedScore', 'derivedRecalScore', 'gap', 'gapRecal'] as const;
      const curves = Object.fromEntries(fields.map((f) => [f, curve(runs, f)]));
      const entropy = curve(runs, 'entropy');
      data[d.label] = { curves, entropy };
      tables.push({
        title: `${d.label}: ${scoreName(runs)} (%) per epoch, mean ± std [min, max] over ${runs.length} seeds`,
        header: ['epoch', 'phase', 'supernet', 'derived', 'derived, BN re-estimated', 'gap', 'gap after BN re-estimation', 'mean entropy'],
        rows: curves.score.map((p, i) => [
          String(p.x),
          String(runs[0].metrics.find((m) => m.epoch === p.x)?.phase ?? ''),
          pct(p.y),
          pct(curves.derivedScore[i]?.y ?? stat([])),
          pct(curves.derivedRecalScore[i]?.y ?? stat([])),
          pct(curves.gap[i]?.y ?? stat([])),
          pct(curves.gapRecal[i]?.y ?? stat([])),
          num(entropy[i]?.y ?? stat([])),
        ]),
      });
      final.push([
        d.label,
        pct(at(runs, 'score')),
        pct(at(runs, 'derivedScore')),
        pct(at(runs, 'derivedRecalScore')),
        pct(at(runs, 'gap')),
        pct(at(runs, 'gapRecal')),
        num(topOp(runs)),
      ]);
      plots.push({
        name: `gap-${d.label}`,
        title: `${d.label}: supernet vs derived network with the same weights`,
        svg: lineChart({
          title: `${d.label}: supernet vs derived network (same weights)`,
          xName: 'epoch',
          yName: `${scoreName(runs)} (%)`,
          percent: true,
          series: [
            { name: 'supernet', points: curves.score },
            { name: 'derived', points: curves.derivedScore },
            { name: 'derived, BN re-estimated', points: curves.derivedRecalScore },
          ] as LineSeries[],
        }),
      });
    }
    tables.unshift({
      title: 'After the last epoch (%), mean ± std [min, max] over seeds',
      header: [
        'data set',
        'supernet',
        'derived',
        'derived, BN re-estimated',
        'gap',
        'gap after BN re-estimation',
        'largest operation weight per edge (uniform: 0.125)',
      ],
      rows: final,
    });
    return { tables, plots, data };
  },
};

// ---- 2. entropy --------------------------------------------------------------------------------

const entropy: Experiment = {
  name: 'entropy',
  claim: "penalizing high entropy of the architecture distribution narrows the gap but hinders the supernet's own performance",
  design: (size) =>
    `as gap, with the entropy penalty weight (on the mean entropy of all relaxation rows, added to the architecture loss) set to ${ENTROPY_WEIGHTS.join(', ')}; seeds ${SEEDS[size].join(', ')}. The weight-0 runs are the gap experiment's.`,
  runs: (size) => searchRuns(size, ENTROPY_WEIGHTS),
  summarize(results, size) {
    const tables: Table[] = [],
      plots: Plot[] = [];
    const data: Record<string, unknown> = {};
    for (const d of SEGMENTATION[size]) {
      const rows: string[][] = [];
      const per: Record<string, Record<string, Stat>> = {};
      for (const w of ENTROPY_WEIGHTS) {
        const runs = select(results, `entropy ${w}`, d.label);
        const s = {
          supernet: at(runs, 'score'),
          derived: at(runs, 'derivedScore'),
          derivedRecal: at(runs, 'derivedRecalScore'),
          gap: at(runs, 'gap'),
          gapRecal: at(runs, 'gapRecal'),
          entropy: at(runs, 'entropy'),
          topOpWeight: topOp(runs),
        };
        per[String(w)] = s;
        rows.push([String(w), pct(s.supernet), pct(s.derived), pct(s.derivedRecal), pct(s.gap), pct(s.gapRecal), num(s.entropy), num(s.topOpWeight)]);
      }
      data[d.label] = per;
      const metric = scoreName(select(results, 'entropy 0', d.label));
      tables.push({
        title: `${d.label}: after the last epoch, ${metric} (%), mean ± std [min, max] over seeds`,
        header: [
          'entropy weight',
          'supernet',
          'derived',
          'derived, BN re-estimated',
          'gap',
          'gap after BN re-estimation',
          'final mean entropy',
          'largest operation weight per edge (uniform: 0.125)',
        ],
        rows,
      });
      const cats = ENTROPY_WEIGHTS.map(String);
      plots.push({
        name: `entropy-${d.label}`,
        title: `${d.label}: final supernet and derived ${metric} against the entropy weight`,
        svg: barChart({
          title: `${d.label}: final ${metric} by entropy weight`,
          categories: cats,
          yName: `${metric} (%)`,
          percent: true,
          series: [
            { name: 'supernet', values: cats.map((c) => per[c].supernet) },
            { name: 'derived', values: cats.map((c) => per[c].derived) },
            { name: 'derived, BN re-estimated', values: cats.map((c) => per[c].derivedRecal) },
          ],
        }),
      });
      plots.push({
        name: `entropy-${d.label}-entropy`,
        title: `${d.label}: final mean entropy of the relaxation weights against the entropy weight`,
        svg: barChart({
          title: `${d.label}: final mean entropy`,
          categories: cats,
          yName: 'entropy (nats)',
          series: [{ name: 'mean entropy', values: cats.map((c) => per[c].entropy) }],
        }),
      });
    }
    return { tables, plots, data };
  },
};

// ---- 3. single-vs-two --------------------------------------------------------------------------

const SVT_VARIANTS = ['single-stage (softmax)', 'single-stage (gumbel-hard)', 'two-stage (equal epochs)', 'two-stage (2x retrain epochs)'];

const singleVsTwo: Experiment = {
  name: 'single-vs-two',
  claim: 'the single-stage protocol (freeze, keep training the derived network with its weights) beats decode-and-retrain',
  design: (size) =>
    `lattice space (${describe(LATTICE)}), DARTS first-order architecture steps, ` +
    SEGMENTATION[size].map((d) => `${d.label} (${describe(d.cfg)}, frozen after epoch ${d.freeze})`).join('; ') +
    `. Variants: single-stage with the softmax relaxation; single-stage with gumbel-hard (temperature 5 to 0.5, exponential); two-stage (decode at the same epoch, train a fresh network of the genotype with its own cosine schedule for the remaining epochs); two-stage with twice the retraining epochs. Seeds ${SEEDS[size].join(', ')}. Wall time is each run's own (one thread; ${'`'}--jobs${'`'} runs share the machine).`,
  runs(size) {
    const specs: RunSpec[] = [];
    for (const d of SEGMENTATION[size]) {
      const E = d.cfg.epochs as number,
        F = d.freeze;
      const variants: [string, Cfg][] = [
        [SVT_VARIANTS[0], { strategy: 'single-stage' }],
        [SVT_VARIANTS[1], { strategy: 'single-stage', relaxation: 'gumbel-hard' }],
        [SVT_VARIANTS[2], { strategy: 'two-stage' }],
        [SVT_VARIANTS[3], { strategy: 'two-stage', epochs: F + 2 * (E - F) }],
      ];
      for (const [variant, extra] of variants) {
        for (const seed of SEEDS[size]) specs.push({ variant, config: { ...LATTICE, ...d.cfg, freezeEpoch: F, ...extra, seed } });
      }
    }
    return specs;
  },
  summarize(results, size) {
    const tables: Table[] = [],
      plots: Plot[] = [];
    const data: Record<string, unknown> = {};
    for (const d of SEGMENTATION[size]) {
      const per: Record<string, Record<string, Stat | number>> = {};
      const rows: string[][] = [];
      const series: LineSeries[] = [];
      for (const v of SVT_VARIANTS) {
        const runs = select(results, v, d.label);
        const s = {
          final: at(runs, 'score'),
          best: stat(runs.map((r) => Math.max(...r.metrics.filter((m) => m.phase === 'frozen' || m.phase === 'retrain').map((m) => n(m.score))))),
          atFreeze: at(runs, 'score', d.freeze),
          derivedAtFreeze: at(runs, 'derivedScore', d.freeze),
          afterFreeze: at(runs, 'score', d.freeze + 1),
          wall: wall(runs),
          epochs: runs[0]?.cfg.epochs ?? NaN,
        };
        per[v] = s;
        rows.push([v, String(s.epochs), pct(s.final), pct(s.best), pct(s.atFreeze), pct(s.derivedAtFreeze), pct(s.afterFreeze), sec(s.wall)]);
        series.push({ name: v, points: curve(runs, 'score') });
      }
      data[d.label] = per;
      const metric = scoreName(select(results, SVT_VARIANTS[0], d.label));
      tables.push({
        title: `${d.label}: ${metric} (%), mean ± std [min, max] over seeds; wall seconds mean [min, max]`,
        header: [
          'variant',
          'epochs',
          `final ${metric}`,
          `best ${metric} after the freeze`,
          `supernet ${metric} at the freeze (epoch ${d.freeze})`,
          'derived network at the freeze, same weights',
          `network after one more epoch (epoch ${d.freeze + 1})`,
          'wall s',
        ],
        rows,
      });
      plots.push({
        name: `single-vs-two-${d.label}`,
        title: `${d.label}: validation ${metric} per epoch of each variant`,
        svg: lineChart({
          title: `${d.label}: ${metric} per epoch (supernet until the freeze, then the final network)`,
          xName: 'epoch',
          yName: `${metric} (%)`,
          percent: true,
          series,
        }),
      });
    }
    return { tables, plots, data };
  },
};

// ---- 4. split ----------------------------------------------------------------------------------

const SPLIT_VARIANTS: { label: string; cfg: Cfg }[] = [
  { label: 'darts 0.5', cfg: { split: 'darts', archFraction: 0.5 } },
  { label: 'darts 0.25', cfg: { split: 'darts', archFraction: 0.25 } },
  { label: 'darts 0.75', cfg: { split: 'darts', archFraction: 0.75 } },
  { label: 'resample 0.5', cfg: { split: 'resample', archFraction: 0.5 } },
  { label: 'full', cfg: { split: 'full' } },
];

/** Share of skip_connect among the edges of the decoded normal cell of an arch.jsonl record. */
export function skipShare(record: Record<string, unknown>): number {
  const g = record.genotype as { cells?: Record<string, [string, number][]> } | undefined;
  const normal = g?.cells?.normal;
  if (!normal?.length) return NaN;
  return normal.filter(([op]) => op === 'skip_connect').length / normal.length;
}

const split: Experiment = {
  name: 'split',
  claim: 'a different train/architecture data split prevents DARTS from degenerating into skip-connection-dominated cells',
  design: (size) =>
    `DARTS first-order search on the DARTS cell space (${describe(DARTS[size].cfg)}): searched for ${DARTS[size].freeze} epochs, then the decoded network is trained from scratch for the remaining epochs (two-stage, its own cosine schedule). Splits of the training subset between weight and architecture steps: ` +
    `${SPLIT_VARIANTS.map((v) => v.label).join(', ')} ('darts': one fixed partition with that architecture share; 'resample': a new partition every epoch; 'full': both steps see every sample); seeds ${SEEDS[size].join(', ')}.`,
  runs(size) {
    return SPLIT_VARIANTS.flatMap((v) => SEEDS[size].map((seed) => ({ variant: v.label, config: { ...DARTS[size].cfg, ...v.cfg, seed } })));
  },
  summarize(results, size) {
    const F = DARTS[size].freeze;
    const per: Record<string, Record<string, unknown>> = {};
    const rows: string[][] = [];
    const skipSeries: LineSeries[] = [];
    for (const v of SPLIT_VARIANTS) {
      const runs = select(results, v.label);
      const epochs = [...new Set(runs.flatMap((r) => r.arch.map((a) => a.epoch as number)))].sort((a, b) => a - b);
      const skip = epochs.map((e) => ({ x: e, y: stat(runs.map((r) => skipShare(r.arch.find((a) => a.epoch === e) ?? {})).filter((x) => !Number.isNaN(x))) }));
      const s = {
        skipFinal: stat(runs.map((r) => skipShare(r.arch[r.arch.length - 1] ?? {})).filter((x) => !Number.isNaN(x))),
        supernet: at(runs, 'score', F),
        derived: at(runs, 'derivedScore', F),
        derivedRecal: at(runs, 'derivedRecalScore', F),
        retrained: at(runs, 'score'),
        wall: wall(runs),
        skipPerEpoch: skip,
        topOpWeight: topOp(runs),
        genotypes: runs.map((r) => r.summary.genotype),
      };
      per[v.label] = s;
      skipSeries.push({ name: v.label, points: skip });
      rows.push([v.label, pct(s.skipFinal, 1), num(s.topOpWeight), pct(s.supernet), pct(s.derived), pct(s.derivedRecal), pct(s.retrained), sec(s.wall)]);
    }
    const tables: Table[] = [
      {
        title: `Fashion-MNIST, top-1 accuracy (%) and skip share (%), mean ± std [min, max] over seeds`,
        header: [
          'split',
          `skip_connect share of the decoded normal cell (epoch ${F})`,
          'largest operation weight per edge (uniform: 0.125)',
          `supernet accuracy (epoch ${F})`,
          'derived, same weights',
          'derived, BN re-estimated',
          'decoded network trained from scratch (final)',
          'wall s',
        ],
        rows,
      },
    ];
    const skipTable: Table = {
      title: 'skip_connect share (%) of the decoded normal cell per search epoch, mean over seeds',
      header: ['epoch', ...SPLIT_VARIANTS.map((v) => v.label)],
      rows: (skipSeries[0]?.points ?? []).map((p, i) => [String(p.x), ...skipSeries.map((s) => (s.points[i] ? (100 * s.points[i].y.mean).toFixed(1) : '-'))]),
    };
    tables.push(skipTable);
    const cats = SPLIT_VARIANTS.map((v) => v.label);
    const plots: Plot[] = [
      {
        name: 'split-skip',
        title: 'skip_connect share of the decoded normal cell per search epoch',
        svg: lineChart({
          title: 'skip_connect share of the decoded normal cell',
          xName: 'search epoch',
          yName: 'skip share (%)',
          percent: true,
          series: skipSeries,
        }),
      },
      {
        name: 'split-accuracy',
        title: 'accuracy of the decoded network after training it from scratch, and of the supernet at the end of the search',
        svg: barChart({
          title: 'Fashion-MNIST top-1 accuracy by split',
          categories: cats,
          yName: 'accuracy (%)',
          percent: true,
          series: [
            { name: `supernet (epoch ${F})`, values: cats.map((c) => per[c].supernet as Stat) },
            { name: 'decoded, trained from scratch', values: cats.map((c) => per[c].retrained as Stat) },
          ],
        }),
      },
    ];
    return { tables, plots, data: per };
  },
};

export const EXPERIMENTS: Record<string, Experiment> = { gap, entropy, 'single-vs-two': singleVsTwo, split };
