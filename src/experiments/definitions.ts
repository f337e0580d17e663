/**
 * The four experiments of docs/experiments.md, each a list of runs (settings x seeds) and a
 * summary of their logs into tables, plots and numbers. The settings are dnas's own CPU-sized
 * choices, not the paper's (its method beyond the abstract is unknown here); the sizes were chosen
 * so that each experiment's default size finishes within about 45 minutes on 2 cores.
 *
 * A verdict needs searches that converged: every table gives, per variant, how far the
 * architecture weights moved from uniform by the end of the search and since which epoch the
 * decoded architecture has not changed, and how many seeds converged by dnas's own rule (the
 * automatic freeze's: unchanged for 2 search epochs and a mean margin of at least 0.1).
 */
import { SearchConfig } from '../search/config';
import { RunResult, RunSpec } from './runner';
import { barChart, lineChart, LineSeries } from './plots';
import { num, pct, Stat, stat } from './stats';

/**
 * The settings an experiment runs at: `default` (brain-mri 96x80), `fashion-scenes` (the same
 * experiment on the bundled fashion-scenes task at 48x48) and `quick` (tiny, for the test).
 */
export type Size = 'default' | 'fashion-scenes' | 'quick';
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

export const SEEDS: Record<Size, number[]> = { default: [0, 1, 2], 'fashion-scenes': [0, 1, 2], quick: [0, 1] };

// ---- shared settings -------------------------------------------------------------------------

/**
 * The lattice supernet and the data of every experiment: the demo's (brain-mri at 96x80, where the
 * networks learn: about 60% mIoU), one libtorch thread per run. Everything else is dnas's default
 * (first-order DARTS, architecture Adam lr 0.1, softmax annealed 1 -> 0.1 over the search,
 * normalised mixtures, SGD lr 0.05 cosine).
 */
const TASK: Record<Size, Cfg> = {
  default: { dataset: 'brain-mri', size: [96, 80], batchSize: 4, space: 'lattice', layers: 4, channels: 8, nodes: 2, scales: 3, threads: 1 },
  // 48x48 and 1024/256 scenes: chosen from pilot runs (docs/experiments.md), before any experiment ran here.
  'fashion-scenes': {
    dataset: 'fashion-scenes',
    size: [48, 48],
    trainSubset: 1024,
    valSubset: 256,
    batchSize: 8,
    space: 'lattice',
    layers: 4,
    channels: 8,
    nodes: 2,
    scales: 3,
    threads: 1,
  },
  quick: {
    dataset: 'brain-mri',
    size: [48, 40],
    trainSubset: 16,
    valSubset: 8,
    batchSize: 4,
    space: 'lattice',
    layers: 2,
    channels: 4,
    nodes: 1,
    scales: 2,
    threads: 1,
  },
};

/**
 * The temperature of every search here: softmax(alpha / tau) with tau going 1 -> 0.1 from the end
 * of the warm-up to `toEpoch`, then held at 0.1, so that the last epochs of each search show
 * whether its decoded architecture has settled (dnas's default anneals to the very last search
 * epoch, where the argmax may still flip; see docs/experiments.md).
 */
const anneal = (warmupEpochs: number, toEpoch: number): Cfg => ({
  temperature: { kind: 'exponential', start: 1, end: 0.1, fromEpoch: warmupEpochs, toEpoch },
});

/** Search-only runs (gap, entropy): warm-up then search to the end, never frozen. */
const SEARCH: Record<Size, Cfg> = {
  default: { algorithm: 'darts', protocol: 'none', epochs: 16, warmupEpochs: 2, ...anneal(2, 9) },
  // 40 epochs (temperature at 0.1 from epoch 24): chosen after 16-epoch searches here stayed at the
  // background level (6.6-8.6% mIoU, docs/experiments.md).
  'fashion-scenes': { algorithm: 'darts', protocol: 'none', epochs: 40, warmupEpochs: 2, ...anneal(2, 24) },
  quick: { algorithm: 'darts', protocol: 'none', epochs: 4, warmupEpochs: 1, ...anneal(1, 3) },
};

/**
 * single-vs-two: the schedule (E epochs), the fixed freeze epoch F (also the latest automatic
 * freeze), the epoch the temperature reaches its end, and the retraining budgets of two-stage
 * (multiples of E - F).
 */
const SVT: Record<Size, { epochs: number; warmupEpochs: number; freeze: number; annealTo: number; retrain: number[] }> = {
  default: { epochs: 40, warmupEpochs: 2, freeze: 12, annealTo: 9, retrain: [1, 2, 3] },
  'fashion-scenes': { epochs: 40, warmupEpochs: 2, freeze: 12, annealTo: 9, retrain: [1, 2, 3] },
  quick: { epochs: 4, warmupEpochs: 1, freeze: 2, annealTo: 2, retrain: [1, 2] },
};

/** split: search epochs (temperature at its end from `annealTo`), then the decoded network trained from scratch for `retrain` epochs. */
const SPLIT: Record<Size, { search: number; warmupEpochs: number; annealTo: number; retrain: number }> = {
  default: { search: 16, warmupEpochs: 2, annealTo: 9, retrain: 20 },
  'fashion-scenes': { search: 16, warmupEpochs: 2, annealTo: 9, retrain: 20 },
  quick: { search: 3, warmupEpochs: 1, annealTo: 2, retrain: 2 },
};

export const ENTROPY_VARIANTS: { label: string; weight: SearchConfig['entropyWeight'] }[] = [
  { label: '0', weight: 0 },
  { label: '0.01', weight: 0.01 },
  { label: '0.1', weight: 0.1 },
  { label: '1', weight: 1 },
  { label: 'annealed 0 -> 1', weight: { kind: 'linear', start: 0, end: 1 } },
];

/** The operations with no parameters: what a collapsed DARTS cell is made of. */
export const PARAMETER_FREE = ['none', 'skip_connect', 'max_pool_3x3', 'avg_pool_3x3'];

// ---- helpers over run logs ---------------------------------------------------------------------

const n = (v: unknown): number => (typeof v === 'number' ? v : NaN);

/** Runs of one variant (seeds in order). */
function select(results: RunResult[], variant: string): RunResult[] {
  return results.filter((r) => r.spec.variant === variant);
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
const sec = (s: Stat) => (s.n ? `${s.mean.toFixed(0)} [${s.min.toFixed(0)}, ${s.max.toFixed(0)}]` : '-');

function describe(cfg: Cfg): string {
  return Object.entries(cfg)
    .filter(([k]) => k !== 'threads')
    .map(([k, v]) => `${k} ${Array.isArray(v) ? v.join('x') : typeof v === 'object' && v !== null ? JSON.stringify(v) : v}`)
    .join(', ');
}

/** Core-seconds of a run's epochs (all of them, or those up to `until`): CPU time of the process, training steps only or with the evaluations. */
export function coreSeconds(r: RunResult, o: { until?: number; trainOnly?: boolean } = {}): number {
  const field = o.trainOnly ? 'trainCpuSeconds' : 'cpuSeconds';
  return r.metrics.filter((m) => o.until === undefined || (m.epoch as number) <= o.until).reduce((a, m) => a + n(m[field]), 0);
}

/** How a run's search ended: the convergence of its architecture weights and of its decoded architecture. */
export interface Convergence {
  /** Last search epoch (the freeze epoch, or the run's last under protocol none). */
  lastSearch: number;
  /** Mean over choice rows of the largest relaxation weight at that epoch, and its uniform value. */
  maxWeight: number;
  uniform: number;
  /** Mean margin between the two strongest options of each row. */
  margin: number;
  /** First epoch since which the decoded architecture has stayed the same up to lastSearch. */
  stableSince: number;
  /** dnas's rule (the automatic freeze's): unchanged for at least 2 search epochs, mean margin at least 0.1. */
  converged: boolean;
}

export function convergenceOf(r: RunResult): Convergence | null {
  const search = r.arch.filter((a) => a.phase === 'search');
  const lastArch = search[search.length - 1];
  if (!lastArch) return null;
  const lastSearch = lastArch.epoch as number;
  const m = r.metrics.find((x) => x.epoch === lastSearch) ?? {};
  const key = (a: Record<string, unknown>) => JSON.stringify(a.genotype);
  let since = search.length - 1;
  while (since > 0 && key(search[since - 1]) === key(lastArch)) since--;
  const stableSince = search[since].epoch as number;
  const margin = n(m.archMargin);
  return {
    lastSearch,
    maxWeight: n(m.archMaxWeight),
    uniform: n(m.archUniform),
    margin,
    stableSince,
    converged: lastSearch - stableSince >= 2 && margin >= 0.1,
  };
}

/** The convergence columns of a variant's row: largest weight, margin, stable since, converged seeds. */
function convergenceCells(runs: RunResult[]): string[] {
  const c = runs.map(convergenceOf).filter((x): x is Convergence => x !== null);
  if (!c.length) return ['-', '-', '-', '-'];
  const uniform = stat(c.map((x) => x.uniform)).mean;
  return [
    `${num(stat(c.map((x) => x.maxWeight)), 2)} (uniform ${uniform.toFixed(2)})`,
    num(stat(c.map((x) => x.margin)), 2),
    c.map((x) => (x.lastSearch - x.stableSince >= 1 ? String(x.stableSince) : `${x.stableSince} (changed)`)).join(', '),
    `${c.filter((x) => x.converged).length}/${c.length}`,
  ];
}
const CONVERGENCE_HEADER = [
  'largest weight per choice at the end of the search',
  'mean margin',
  'decoded network unchanged since epoch (per seed)',
  'converged seeds',
];

/** Share of parameter-free operations among the cell edges of a genotype (every cell of the genotype). */
export function parameterFreeShare(record: Record<string, unknown>): number {
  const g = record.genotype as { cells?: Record<string, [string, number][]> } | undefined;
  const edges = Object.values(g?.cells ?? {}).flat();
  if (!edges.length) return NaN;
  return edges.filter(([op]) => PARAMETER_FREE.includes(op)).length / edges.length;
}

/** Share of skip_connect among the cell edges of a genotype. */
export function skipShare(record: Record<string, unknown>): number {
  const g = record.genotype as { cells?: Record<string, [string, number][]> } | undefined;
  const edges = Object.values(g?.cells ?? {}).flat();
  if (!edges.length) return NaN;
  return edges.filter(([op]) => op === 'skip_connect').length / edges.length;
}

/** The epochs (1-based) halfway through a run's temperature anneal and at its end (its last search epoch without one). */
function annealOf(r: RunResult | undefined): { middle: number; end: number } {
  const t = r?.cfg.temperature as { fromEpoch?: number; toEpoch?: number } | null | undefined;
  const last = r ? Math.max(...r.metrics.filter((m) => m.phase === 'search').map((m) => m.epoch as number)) : 0;
  const from = t?.fromEpoch ?? r?.cfg.warmupEpochs ?? 0;
  const to = t?.toEpoch ?? last;
  return { middle: Math.round((from + to) / 2) + 1, end: to };
}

/** Mean curve over runs of the largest relaxation weight per choice (search epochs). */
function weightCurve(runs: RunResult[]): { x: number; y: Stat }[] {
  return curve(
    runs.map((r) => ({ ...r, metrics: r.metrics.filter((m) => m.phase === 'search') })),
    'archMaxWeight',
  );
}

// ---- 1. gap ------------------------------------------------------------------------------------

const gap: Experiment = {
  name: 'gap',
  claim: 'an unregularized supernet suffers a large discretization error: the decoded network does much worse than the supernet with the same weights',
  design: (size) =>
    `first-order DARTS search of the lattice, never frozen (${describe({ ...TASK[size], ...SEARCH[size] })}; the temperature is held at 0.1 for the last epochs), no entropy penalty; seeds ${SEEDS[size].join(', ')}. ` +
    'After every epoch the validation split scores the supernet, the decoded (argmax) network made of the same weights, that network after BatchNorm re-estimation on 4 training batches, and 2 random genotypes with the same weights (also re-estimated: the control).',
  runs: (size) => SEEDS[size].map((seed) => ({ variant: 'entropy 0', config: { ...TASK[size], ...SEARCH[size], entropyWeight: 0, seed } })),
  summarize(results) {
    const runs = select(results, 'entropy 0');
    const metric = scoreName(runs);
    const fields = ['score', 'derivedScore', 'derivedRecalScore', 'controlScore', 'gap', 'gapRecal', 'archMaxWeight', 'archMargin'] as const;
    const curves = Object.fromEntries(fields.map((f) => [f, curve(runs, f)]));
    const search = curves.score.filter((p) => runs[0].metrics.find((m) => m.epoch === p.x)?.phase === 'search').map((p) => p.x);
    const a = annealOf(runs[0]);
    const points: [string, number][] = search.length
      ? [
          ['early (first search epoch)', search[0]],
          ['middle of the temperature anneal', a.middle],
          ['end of the anneal (temperature 0.1 from here)', a.end],
          ['end of the search', search[search.length - 1]],
        ]
      : [];
    const row = (e: number) => [
      num(at(runs, 'archMaxWeight', e), 2),
      pct(at(runs, 'score', e)),
      pct(at(runs, 'derivedScore', e)),
      pct(at(runs, 'derivedRecalScore', e)),
      pct(at(runs, 'controlScore', e)),
      pct(at(runs, 'gap', e)),
      pct(at(runs, 'gapRecal', e)),
      pct(
        stat(
          runs
            .map((r) => r.metrics.find((m) => m.epoch === e))
            .map((m) => n(m?.derivedRecalScore) - n(m?.controlScore))
            .filter((v) => !Number.isNaN(v)),
        ),
      ),
    ];
    const tables: Table[] = [
      {
        title: `${metric} (%) at four points of the search, mean ± std [min, max] over ${runs.length} seeds`,
        header: [
          'point',
          'epoch',
          'largest weight per choice',
          'supernet',
          'derived',
          'derived, BN re-estimated',
          'random genotypes, BN re-estimated (control)',
          'gap',
          'gap after BN re-estimation',
          'derived (re-estimated) minus control',
        ],
        rows: points.map(([label, e]) => [label, String(e), ...row(e)]),
      },
      {
        title: 'Convergence of the search (dnas rule: unchanged for 2 search epochs, mean margin >= 0.1)',
        header: ['variant', ...CONVERGENCE_HEADER],
        rows: [['no penalty', ...convergenceCells(runs)]],
      },
      {
        title: `${metric} (%) per epoch, mean ± std [min, max] over ${runs.length} seeds`,
        header: [
          'epoch',
          'phase',
          'supernet',
          'derived',
          'derived, BN re-estimated',
          'control',
          'gap',
          'gap after BN re-estimation',
          'largest weight',
          'margin',
        ],
        rows: curves.score.map((p, i) => [
          String(p.x),
          String(runs[0].metrics.find((m) => m.epoch === p.x)?.phase ?? ''),
          pct(p.y),
          pct(curves.derivedScore[i]?.y ?? stat([])),
          pct(curves.derivedRecalScore[i]?.y ?? stat([])),
          pct(curves.controlScore[i]?.y ?? stat([])),
          pct(curves.gap[i]?.y ?? stat([])),
          pct(curves.gapRecal[i]?.y ?? stat([])),
          num(curves.archMaxWeight[i]?.y ?? stat([]), 2),
          num(curves.archMargin[i]?.y ?? stat([]), 2),
        ]),
      },
    ];
    const plots: Plot[] = [
      {
        name: 'gap-scores',
        title: 'supernet, derived network with the same weights, and the random-genotype control, per epoch',
        svg: lineChart({
          title: `supernet vs derived network (same weights) vs random genotypes`,
          xName: 'epoch',
          yName: `${metric} (%)`,
          percent: true,
          series: [
            { name: 'supernet', points: curves.score },
            { name: 'derived', points: curves.derivedScore },
            { name: 'derived, BN re-estimated', points: curves.derivedRecalScore },
            { name: 'random genotypes (control)', points: curves.controlScore },
          ] as LineSeries[],
        }),
      },
      {
        name: 'gap-convergence',
        title: 'the largest architecture weight per choice (mean over choices) per search epoch',
        svg: lineChart({
          title: 'convergence of the architecture weights',
          xName: 'epoch',
          yName: 'largest weight per choice',
          series: [{ name: 'no penalty', points: weightCurve(runs) }],
        }),
      },
    ];
    return { tables, plots, data: { curves, points, convergence: runs.map(convergenceOf) } };
  },
};

// ---- 2. entropy --------------------------------------------------------------------------------

const entropy: Experiment = {
  name: 'entropy',
  claim: "penalizing high entropy of the architecture distribution narrows the gap but hinders the supernet's own performance",
  design: (size) =>
    `as gap, with the entropy penalty (weight x mean entropy of every relaxation row, added to the architecture loss) at the weights ${ENTROPY_VARIANTS.map((v) => v.label).join(', ')} ` +
    `(annealed: linear from 0 at the first epoch to 1 at the last); seeds ${SEEDS[size].join(', ')}. The weight-0 runs are the gap experiment's.`,
  runs: (size) =>
    ENTROPY_VARIANTS.flatMap((v) =>
      SEEDS[size].map((seed) => ({ variant: `entropy ${v.label}`, config: { ...TASK[size], ...SEARCH[size], entropyWeight: v.weight, seed } })),
    ),
  summarize(results) {
    const rows: string[][] = [];
    const conv: string[][] = [];
    const per: Record<string, Record<string, Stat>> = {};
    const weights: LineSeries[] = [];
    for (const v of ENTROPY_VARIANTS) {
      const runs = select(results, `entropy ${v.label}`);
      const s = {
        supernet: at(runs, 'score'),
        derived: at(runs, 'derivedScore'),
        derivedRecal: at(runs, 'derivedRecalScore'),
        control: at(runs, 'controlScore'),
        gap: at(runs, 'gap'),
        gapRecal: at(runs, 'gapRecal'),
        entropy: at(runs, 'entropy'),
      };
      per[v.label] = s;
      rows.push([v.label, pct(s.supernet), pct(s.derived), pct(s.derivedRecal), pct(s.control), pct(s.gap), pct(s.gapRecal), num(s.entropy)]);
      conv.push([v.label, ...convergenceCells(runs)]);
      weights.push({ name: `weight ${v.label}`, points: weightCurve(runs) });
    }
    const metric = scoreName(select(results, 'entropy 0'));
    // The middle of the temperature anneal: the penalty has had time to act, the temperature has not yet sharpened every choice.
    const mid = annealOf(select(results, 'entropy 0')[0]).middle;
    const middle: string[][] = ENTROPY_VARIANTS.map((v) => {
      const runs = select(results, `entropy ${v.label}`);
      return [
        v.label,
        num(at(runs, 'archMaxWeight', mid), 2),
        pct(at(runs, 'score', mid)),
        pct(at(runs, 'derivedRecalScore', mid)),
        pct(at(runs, 'gapRecal', mid)),
      ];
    });
    const tables: Table[] = [
      {
        title: `In the middle of the temperature anneal (epoch ${mid}), ${metric} (%), mean ± std [min, max] over seeds`,
        header: ['entropy weight', 'largest weight per choice', 'supernet', 'derived, BN re-estimated', 'gap after BN re-estimation'],
        rows: middle,
      },
      {
        title: `After the last epoch, ${metric} (%), mean ± std [min, max] over seeds`,
        header: [
          'entropy weight',
          'supernet',
          'derived',
          'derived, BN re-estimated',
          'random genotypes (control)',
          'gap',
          'gap after BN re-estimation',
          'final mean entropy',
        ],
        rows,
      },
      {
        title: 'Convergence of the search per penalty (dnas rule: unchanged for 2 search epochs, mean margin >= 0.1)',
        header: ['entropy weight', ...CONVERGENCE_HEADER],
        rows: conv,
      },
    ];
    const cats = ENTROPY_VARIANTS.map((v) => v.label);
    const plots: Plot[] = [
      {
        name: 'entropy-scores',
        title: `final supernet and derived ${metric} against the entropy weight`,
        svg: barChart({
          title: `final ${metric} by entropy weight`,
          categories: cats,
          yName: `${metric} (%)`,
          percent: true,
          series: [
            { name: 'supernet', values: cats.map((c) => per[c].supernet) },
            { name: 'derived', values: cats.map((c) => per[c].derived) },
            { name: 'derived, BN re-estimated', values: cats.map((c) => per[c].derivedRecal) },
          ],
        }),
      },
      {
        name: 'entropy-convergence',
        title: 'the largest architecture weight per choice per search epoch, for each penalty',
        svg: lineChart({ title: 'convergence of the architecture weights', xName: 'epoch', yName: 'largest weight per choice', series: weights }),
      },
    ];
    return { tables, plots, data: per };
  },
};

// ---- 3. single-vs-two --------------------------------------------------------------------------

const SINGLE_AUTO = 'single-stage, automatic freeze';
const SINGLE_FIXED = 'single-stage, freeze after epoch F';
const twoStage = (k: number) => `two-stage: retrain ${k}x (E - F) epochs`;

const singleVsTwo: Experiment = {
  name: 'single-vs-two',
  claim:
    'the single-stage protocol (freeze, keep training the derived network with its weights) reaches at least the accuracy of decode-and-retrain at a fraction of its compute',
  design: (size) => {
    const s = SVT[size];
    return (
      `lattice (${describe(TASK[size])}), first-order DARTS, ${s.epochs} epochs (E) with ${s.warmupEpochs} warm-up epochs, softmax temperature 1 -> 0.1 until epoch ${s.annealTo}, then 0.1; seeds ${SEEDS[size].join(', ')}. ` +
      `Single-stage: the automatic freeze (dnas's rule: decoded network unchanged for 2 search epochs and mean margin >= 0.1, at the latest after epoch ${s.freeze}), and a fixed freeze after epoch F = ${s.freeze}; the derived network then trains with its inherited weights and optimizer state to epoch E. ` +
      `Two-stage: the genotype the fixed-freeze run decoded at epoch F (the search part is that run's, unchanged) is trained from scratch by an independent run (dnas train: a fresh network, its own cosine schedule) for ${s.retrain.map((k) => `${k}x`).join(', ')} (E - F) epochs. ` +
      'Both end with networks of the same BatchNorm form (affine-free cell BatchNorm, as derived and built networks of the lattice have). ' +
      "Compute is measured: the CPU time of each run's process per epoch (core-seconds, one libtorch thread); two-stage counts its search part (the fixed-freeze run's epochs 1..F) plus its retraining run. " +
      'The random-genotype control is off in these runs (it is measurement, not protocol).'
    );
  },
  runs(size) {
    const s = SVT[size];
    const base = { ...TASK[size], epochs: s.epochs, warmupEpochs: s.warmupEpochs, controlGenotypes: 0, ...anneal(s.warmupEpochs, s.annealTo) };
    const specs: RunSpec[] = [];
    for (const seed of SEEDS[size]) {
      const fixed: Cfg = { ...base, algorithm: 'darts', protocol: 'single-stage', freezeEpoch: s.freeze, seed };
      specs.push({
        variant: SINGLE_AUTO,
        config: { ...base, algorithm: 'darts', protocol: 'single-stage', freezeEpoch: null, freezeMaxEpoch: s.freeze, seed },
      });
      specs.push({ variant: SINGLE_FIXED, config: fixed });
      for (const k of s.retrain) {
        specs.push({
          variant: twoStage(k),
          config: { ...TASK[size], epochs: k * (s.epochs - s.freeze), warmupEpochs: 0, protocol: 'none', controlGenotypes: 0, seed },
          genotypeFrom: fixed,
        });
      }
    }
    return specs;
  },
  summarize(results, size) {
    const s = SVT[size];
    const variants = [SINGLE_AUTO, SINGLE_FIXED, ...s.retrain.map(twoStage)];
    const per: Record<string, Record<string, unknown>> = {};
    const rows: string[][] = [];
    const series: LineSeries[] = [];
    const compute = (r: RunResult, trainOnly: boolean) =>
      r.source ? coreSeconds(r.source, { until: s.freeze, trainOnly }) + coreSeconds(r, { trainOnly }) : coreSeconds(r, { trainOnly });
    const ref = select(results, twoStage(1));
    const refCompute = stat(ref.map((r) => compute(r, false))).mean;
    for (const v of variants) {
      const runs = select(results, v);
      const two = v.startsWith('two-stage');
      const after = (r: RunResult) => r.metrics.filter((m) => two || m.phase === 'frozen');
      const c = {
        final: at(runs, 'score'),
        best: stat(runs.map((r) => Math.max(...after(r).map((m) => n(m.score))))),
        frozenAt: stat(runs.map((r) => (two ? s.freeze : (r.summary.frozenAt ?? NaN)))),
        trainCore: stat(runs.map((r) => compute(r, true))),
        core: stat(runs.map((r) => compute(r, false))),
        sameGenotype: two ? runs.filter((r) => JSON.stringify(r.summary.genotype) === JSON.stringify(r.source?.summary.genotype)).length : NaN,
        epochs: runs[0]?.cfg.epochs ?? NaN,
      };
      per[v] = c;
      rows.push([
        v,
        two ? `${s.freeze} + ${c.epochs}` : String(c.epochs),
        c.frozenAt.n ? c.frozenAt.values.join(', ') : '-',
        pct(c.final),
        pct(c.best),
        sec(c.trainCore),
        sec(c.core),
        Number.isFinite(refCompute) ? (c.core.mean / refCompute).toFixed(2) : '-',
      ]);
      series.push({ name: v, points: curve(runs, 'score') });
    }
    const conv = [SINGLE_AUTO, SINGLE_FIXED].map((v) => [v, ...convergenceCells(select(results, v))]);
    const metric = scoreName(select(results, SINGLE_FIXED));
    const tables: Table[] = [
      {
        title: `${metric} (%) of the final network, mean ± std [min, max] over seeds; compute in core-seconds, mean [min, max]`,
        header: [
          'variant',
          'epochs',
          'frozen after epoch (per seed)',
          `final ${metric}`,
          `best ${metric} after the freeze`,
          'core-s, training steps',
          'core-s, with evaluation',
          'compute / two-stage 1x',
        ],
        rows,
      },
      {
        title: 'Convergence of the search at the freeze (dnas rule: unchanged for 2 search epochs, mean margin >= 0.1)',
        header: ['variant', ...CONVERGENCE_HEADER],
        rows: conv,
      },
    ];
    const plots: Plot[] = [
      {
        name: 'single-vs-two-scores',
        title: `validation ${metric} per epoch of each variant (single-stage: supernet until the freeze, then the derived network; two-stage: the retraining run, epochs counted from its start)`,
        svg: lineChart({ title: `${metric} per epoch`, xName: 'epoch', yName: `${metric} (%)`, percent: true, series }),
      },
    ];
    return { tables, plots, data: per };
  },
};

// ---- 4. split ----------------------------------------------------------------------------------

const SPLIT_VARIANTS: { label: string; cfg: Cfg }[] = [
  { label: 'darts 0.5 (plain DARTS)', cfg: { split: 'darts', archFraction: 0.5 } },
  { label: 'darts 0.25', cfg: { split: 'darts', archFraction: 0.25 } },
  { label: 'darts 0.75', cfg: { split: 'darts', archFraction: 0.75 } },
  { label: 'resample 0.5', cfg: { split: 'resample', archFraction: 0.5 } },
  { label: 'full', cfg: { split: 'full' } },
];

const split: Experiment = {
  name: 'split',
  claim: 'a different train/architecture data split prevents DARTS from degenerating into cells of skip connections (parameter-free operations)',
  design: (size) => {
    const s = SPLIT[size];
    return (
      `first-order DARTS search of the lattice (${describe(TASK[size])}) for ${s.search} epochs (${s.warmupEpochs} warm-up; softmax temperature 1 -> 0.1 until epoch ${s.annealTo}, then 0.1), never frozen; the genotype decoded at the end is then trained from scratch by an independent run for ${s.retrain} epochs. ` +
      `Splits of the training data between weight and architecture steps: ${SPLIT_VARIANTS.map((v) => v.label).join(', ')} ('darts': one fixed partition with that architecture share, as DARTS; 'resample': a new partition every epoch; 'full': both steps see every sample). ` +
      `The decoded cell's share of parameter-free operations (${PARAMETER_FREE.join(', ')}) is followed per epoch; seeds ${SEEDS[size].join(', ')}.`
    );
  },
  runs(size) {
    const s = SPLIT[size];
    return SPLIT_VARIANTS.flatMap((v) =>
      SEEDS[size].map((seed) => ({
        variant: v.label,
        config: { ...TASK[size], epochs: s.retrain, warmupEpochs: 0, protocol: 'none' as const, seed },
        genotypeFrom: {
          ...TASK[size],
          ...v.cfg,
          algorithm: 'darts' as const,
          protocol: 'none' as const,
          epochs: s.search,
          warmupEpochs: s.warmupEpochs,
          controlGenotypes: 0,
          seed,
        },
      })),
    );
  },
  summarize(results) {
    const per: Record<string, Record<string, unknown>> = {};
    const rows: string[][] = [];
    const shareSeries: LineSeries[] = [];
    const conv: string[][] = [];
    for (const v of SPLIT_VARIANTS) {
      const runs = select(results, v.label);
      const searches = runs.map((r) => r.source!).filter(Boolean);
      const epochs = [...new Set(searches.flatMap((r) => r.arch.map((a) => a.epoch as number)))].sort((a, b) => a - b);
      const share = epochs.map((e) => ({
        x: e,
        y: stat(searches.map((r) => parameterFreeShare(r.arch.find((a) => a.epoch === e) ?? {})).filter((x) => !Number.isNaN(x))),
      }));
      const last = (r: RunResult) => r.arch[r.arch.length - 1] ?? {};
      const c = {
        parameterFree: stat(searches.map((r) => parameterFreeShare(last(r))).filter((x) => !Number.isNaN(x))),
        skip: stat(searches.map((r) => skipShare(last(r))).filter((x) => !Number.isNaN(x))),
        supernet: at(searches, 'score'),
        derivedRecal: at(searches, 'derivedRecalScore'),
        retrained: at(runs, 'score'),
        share,
        genotypes: searches.map((r) => r.summary.genotype),
      };
      per[v.label] = c;
      shareSeries.push({ name: v.label, points: share });
      rows.push([v.label, pct(c.parameterFree, 1), pct(c.skip, 1), pct(c.supernet), pct(c.derivedRecal), pct(c.retrained)]);
      conv.push([v.label, ...convergenceCells(searches)]);
    }
    const metric = scoreName(select(results, SPLIT_VARIANTS[0].label));
    const tables: Table[] = [
      {
        title: `The decoded cell at the end of the search and its network trained from scratch, mean ± std [min, max] over seeds (%)`,
        header: [
          'split',
          'parameter-free share of the cell',
          'skip_connect share',
          `supernet ${metric}`,
          'derived, BN re-estimated',
          `decoded network trained from scratch, ${metric}`,
        ],
        rows,
      },
      {
        title: 'Convergence of the search (dnas rule: unchanged for 2 search epochs, mean margin >= 0.1)',
        header: ['split', ...CONVERGENCE_HEADER],
        rows: conv,
      },
      {
        title: 'Parameter-free share (%) of the decoded cell per epoch, mean over seeds',
        header: ['epoch', ...SPLIT_VARIANTS.map((v) => v.label)],
        rows: (shareSeries[0]?.points ?? []).map((p, i) => [
          String(p.x),
          ...shareSeries.map((s) => (s.points[i] ? (100 * s.points[i].y.mean).toFixed(1) : '-')),
        ]),
      },
    ];
    const cats = SPLIT_VARIANTS.map((v) => v.label);
    const plots: Plot[] = [
      {
        name: 'split-parameter-free',
        title: 'share of parameter-free operations in the decoded cell per epoch',
        svg: lineChart({ title: 'parameter-free share of the decoded cell', xName: 'epoch', yName: 'share (%)', percent: true, series: shareSeries }),
      },
      {
        name: 'split-scores',
        title: `${metric} of the supernet at the end of the search and of the decoded network trained from scratch`,
        svg: barChart({
          title: `${metric} by split`,
          categories: cats,
          yName: `${metric} (%)`,
          percent: true,
          series: [
            { name: 'supernet (end of search)', values: cats.map((c) => per[c].supernet as Stat) },
            { name: 'decoded, trained from scratch', values: cats.map((c) => per[c].retrained as Stat) },
          ],
        }),
      },
    ];
    return { tables, plots, data: per };
  },
};

export const EXPERIMENTS: Record<string, Experiment> = { gap, entropy, 'single-vs-two': singleVsTwo, split };
