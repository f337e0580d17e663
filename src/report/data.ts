/**
 * What a report shows, read from a run directory into plain JSON: per-epoch curves (metrics.jsonl),
 * the relaxation weights of every choice over the searching epochs (arch.jsonl) with readable row
 * labels and the kept options marked, the genotype and the summary. No tensors here: the network
 * costs come from cost.ts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runTask, STRATEGY_ALIASES } from '../search/config';
import { readJsonl } from '../search/rundir';
import { scaleName } from './graph';

/** One epoch of metrics.jsonl, with the names of older and newer runs unified. */
export interface EpochPoint {
  epoch: number;
  phase: string;
  trainLoss: number | null;
  valLoss: number | null;
  lr: number | null;
  /** Validation score of the network being trained (the supernet while searching). */
  score: number | null;
  pixelAccuracy: number | null;
  /** While searching: the derived network (same weights), and the same after BN recalibration. */
  derived: number | null;
  derivedRecal: number | null;
  gap: number | null;
  gapRecal: number | null;
  entropy: number | null;
  temperature: number | null;
  /** While searching: mean over choice rows of the largest relaxation weight, and of 1/(options in the row) (what uniform weights give). */
  archMaxWeight: number | null;
  archUniform: number | null;
  /** Mean over choice rows of largest − second largest weight. */
  archMargin: number | null;
  /** Choices of the decoded genotype that changed since the previous epoch (null at the first). */
  archChanged: number | null;
  /** Mean score of a few random genotypes with the same supernet weights (BN re-estimated), the individual scores, and score − control. */
  control: number | null;
  controlScores: number[] | null;
  gapControl: number | null;
  /** A cost-aware search: the cost of the network the run would end with, and the expected cost under the relaxation. */
  costNetwork: number | null;
  costExpected: number | null;
  costTarget: number | null;
  /** 'MMACs', 'M parameters' or 'ms' (text from the run's files). */
  costUnit: string | null;
}

/** One row of a heat map: one choice (an edge, or a node's inputs), its options over epochs. */
export interface HeatRow {
  /** The choice label in the space (`normal.n2.i0`, `l3s1`). */
  label: string;
  /** Readable name (`n2 ← c_{k-2}`, `L3 1/8`). */
  title: string;
  /** Option names (operations, or input nodes). */
  options: string[];
  /** Indices of the options the final genotype keeps (empty when unknown). */
  kept: number[];
  /** values[epochIndex][option]: probabilities. */
  values: number[][];
}

/** The relaxation weights of one architecture parameter group over the logged epochs. */
export interface HeatGroup {
  /** Parameter group name (`alphas.normal`, `betas`). */
  name: string;
  title: string;
  rows: HeatRow[];
  /** Rows left out because they have a single option (nothing to choose). */
  fixedRows: number;
}

/** Row labels and option names of a space's architecture parameters (from the rebuilt supernet). */
export interface ChoiceInfo {
  /** Group name → one choice label per row. */
  rowLabels: Record<string, string[]>;
  /** Choice label → option names. */
  options: Record<string, string[]>;
}

export interface ArchSeries {
  epochs: number[];
  phases: string[];
  entropy: (number | null)[];
  temperature: (number | null)[];
  groups: HeatGroup[];
}

export type Genotype = Record<string, unknown> & {
  space?: string;
  settings?: Record<string, unknown>;
  cells?: Record<string, [string, number][]>;
  concat?: Record<string, number[]>;
  path?: number[];
  output?: number;
  inputs?: Record<string, [number, number][]>;
  choices?: Record<string, string | number[]>;
};

/** Everything read from the run directory. */
export interface RunRecords {
  dir: string;
  config: Record<string, unknown>;
  summary: Record<string, unknown> | null;
  metrics: EpochPoint[];
  /** Raw last metrics line (per-class IoU and the like). */
  last: Record<string, unknown> | null;
  archLines: Record<string, unknown>[];
  /** The genotype the run ended with or froze (genotype.json, summary, last arch line). */
  genotype: Genotype | null;
  genotypeSource: string | null;
  metric: 'miou' | 'accuracy';
  frozenAt: number | null;
  /** Why the architecture was frozen, in words (summary.json; null for older runs or no freeze). */
  freezeReason: string | null;
  /**
   * Search algorithm and protocol ('darts', 'single-stage'): from summary.json, else config.json,
   * else the older `strategy` setting they replace; null when none says.
   */
  algorithm: string | null;
  protocol: string | null;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const first = (...vs: unknown[]): number | null => {
  for (const v of vs) {
    const n = num(v);
    if (n !== null) return n;
  }
  return null;
};

/** Normalises one metrics.jsonl line (older runs: `miou`, `derivedMiou`; newer: `score`, `derivedScore`). */
export function epochPoint(m: Record<string, unknown>): EpochPoint {
  return {
    epoch: num(m.epoch) ?? 0,
    phase: typeof m.phase === 'string' ? m.phase : 'search',
    trainLoss: num(m.trainLoss),
    valLoss: num(m.valLoss),
    lr: num(m.lr),
    score: first(m.score, m.miou, m.accuracy),
    pixelAccuracy: m.metric === 'accuracy' ? null : num(m.pixelAccuracy),
    derived: first(m.derivedScore, m.derivedMiou),
    derivedRecal: first(m.derivedRecalScore, m.derivedRecalMiou),
    gap: num(m.gap),
    gapRecal: num(m.gapRecal),
    entropy: num(m.entropy),
    temperature: num(m.temperature),
    archMaxWeight: num(m.archMaxWeight),
    archUniform: num(m.archUniform),
    archMargin: num(m.archMargin),
    archChanged: num(m.archChanged),
    control: num(m.controlScore),
    controlScores: Array.isArray(m.controlScores) ? m.controlScores.filter((v): v is number => num(v) !== null) : null,
    gapControl: num(m.gapControl),
    costNetwork: num(m.costNetwork),
    costExpected: num(m.costExpected),
    costTarget: num(m.costTarget),
    costUnit: typeof m.costUnit === 'string' ? m.costUnit.slice(0, 32) : null,
  };
}

const str = (v: unknown): string | null => (typeof v === 'string' && v.length ? v : null);

/** Fills the convergence numbers a metrics line lacks from the arch.jsonl line of the same epoch. */
function withArchLine(p: EpochPoint, a: Record<string, unknown> | undefined): EpochPoint {
  if (!a) return p;
  return {
    ...p,
    archMaxWeight: p.archMaxWeight ?? num(a.archMaxWeight),
    archUniform: p.archUniform ?? num(a.archUniform),
    archMargin: p.archMargin ?? num(a.archMargin),
    archChanged: p.archChanged ?? num(a.archChanged),
  };
}

function readJson(file: string): Record<string, unknown> | null {
  if (!fs.existsSync(file)) return null;
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`cannot read ${file}: ${(e as Error).message}`);
  }
}

/** Reads a run directory (config.json must exist; every other file may be missing). */
export function readRun(runDir: string): RunRecords {
  const dir = path.resolve(runDir);
  const config = readJson(path.join(dir, 'config.json'));
  if (!config) throw new Error(`${runDir}: not a run directory (no config.json)`);
  const summary = readJson(path.join(dir, 'summary.json'));
  const raw = readJsonl(path.join(dir, 'metrics.jsonl'));
  const archLines = readJsonl(path.join(dir, 'arch.jsonl'));
  let genotype: Genotype | null = null,
    genotypeSource: string | null = null;
  const gfile = readJson(path.join(dir, 'genotype.json'));
  if (gfile) {
    genotype = gfile as Genotype;
    genotypeSource = 'genotype.json';
  } else if (summary && typeof summary.genotype === 'object' && summary.genotype) {
    genotype = summary.genotype as Genotype;
    genotypeSource = 'summary.json';
  } else if (archLines.length && archLines[archLines.length - 1].genotype) {
    genotype = archLines[archLines.length - 1].genotype as Genotype;
    genotypeSource = `decoded at epoch ${archLines[archLines.length - 1].epoch} (arch.jsonl)`;
  }
  const last = raw.length ? raw[raw.length - 1] : null;
  const named =
    raw.find((m) => m.metric)?.metric ??
    summary?.metric ??
    (runTask({ space: String(config.space), dataset: String(config.dataset) }) === 'classification' ? 'accuracy' : 'miou');
  const metric = named === 'accuracy' ? 'accuracy' : 'miou';
  // The freeze: summary.frozenAt, else the last search epoch followed by a frozen/retrain epoch.
  let frozenAt = num(summary?.frozenAt);
  if (frozenAt === null) {
    const k = raw.findIndex((m) => m.phase === 'frozen' || m.phase === 'retrain');
    if (k >= 0) frozenAt = k === 0 ? 0 : num(raw[k - 1].epoch);
  }
  // Older configs name a strategy, an alias of an (algorithm, protocol) pair.
  const alias = Object.prototype.hasOwnProperty.call(STRATEGY_ALIASES, String(config.strategy))
    ? STRATEGY_ALIASES[config.strategy as keyof typeof STRATEGY_ALIASES]
    : null;
  const archAt = new Map(archLines.map((a) => [num(a.epoch), a] as [number | null, Record<string, unknown>]));
  const metrics = raw.map((m) => {
    const p = epochPoint(m);
    return withArchLine(p, archAt.get(p.epoch));
  });
  return {
    dir,
    config,
    summary,
    metrics,
    last,
    archLines,
    genotype,
    genotypeSource,
    metric,
    frozenAt,
    freezeReason: str(summary?.freezeReason),
    algorithm: str(summary?.algorithm) ?? str(config.algorithm) ?? alias?.algorithm ?? null,
    protocol: str(summary?.protocol) ?? str(config.protocol) ?? alias?.protocol ?? null,
  };
}

/** Readable name of a state of a cell with `numInputs` inputs. */
function stateName(state: number, numInputs: number): string {
  if (state >= numInputs) return `n${state - numInputs}`;
  if (numInputs === 1) return 'in';
  if (numInputs === 2) return state === 0 ? 'c_{k-2}' : 'c_{k-1}';
  return `in${state}`;
}

/** Readable name of a lattice node label (`l3s1` → `L3 1/8`, `l0s0` → `stem`). */
export function latticeNodeName(label: string): string {
  const m = /^l(\d+)s(\d+)$/.exec(label);
  if (m) return +m[1] === 0 ? 'stem' : `L${m[1]} ${scaleName(+m[2])}`;
  const o = /^s(\d+)$/.exec(label);
  if (o) return scaleName(+o[1]);
  return label;
}

/** Number of inputs of the cells of a genotype's space: DARTS and two-input lattice cells take two, the other lattice cells one. */
export function cellInputs(space: string | undefined): number {
  return space === 'darts' || space === 'lattice-adl' ? 2 : 1;
}

/** A readable title for a choice label. */
export function choiceTitle(label: string, numInputs: number): string {
  const e = /^(.+)\.n(\d+)\.i(\d+)$/.exec(label);
  if (e) return `n${e[2]} ← ${stateName(+e[3], numInputs)}`;
  const n = /^(.+)\.n(\d+)$/.exec(label);
  if (n) return `n${n[2]}: edges from states 0..${numInputs + +n[2] - 1}`;
  if (/^l\d+s\d+$/.test(label)) return latticeNodeName(label);
  if (label === 'output') return 'output';
  return label;
}

/**
 * The option each choice label keeps in a genotype: cell edges (`normal.n1.i0` → its operation),
 * lattice nodes (`l3s1` → kept input node labels), `output` (→ `s<scale>`), user choices.
 */
export function keptChoices(g: Genotype | null): Map<string, string[]> {
  const kept = new Map<string, string[]>();
  if (!g) return kept;
  const numInputs = cellInputs(g.space);
  for (const [cell, gene] of Object.entries(g.cells ?? {})) {
    let at = 0,
      node = 0;
    while (at < gene.length) {
      const k = Math.min(2, numInputs + node);
      for (const [op, input] of gene.slice(at, at + k)) kept.set(`${cell}.n${node}.i${input}`, [op]);
      kept.set(`${cell}.n${node}`, [...new Set(gene.slice(at, at + k).map(([, input]) => String(input)))]); // edge normalisation rows
      at += k;
      node++;
    }
  }
  if (Array.isArray(g.path)) {
    let prev = 'l0s0';
    g.path.forEach((s, i) => {
      const label = `l${i + 1}s${s}`;
      kept.set(label, [prev]);
      prev = label;
    });
    kept.set('output', [`s${g.path[g.path.length - 1]}`]);
  }
  if (g.inputs)
    for (const [label, ins] of Object.entries(g.inputs))
      kept.set(
        label,
        ins.map(([a, b]) => `l${a}s${b}`),
      );
  if (typeof g.output === 'number') kept.set('output', [`s${g.output}`]);
  for (const [label, c] of Object.entries(g.choices ?? {})) kept.set(label, typeof c === 'string' ? [c] : c.map(String));
  return kept;
}

const GROUP_TITLES: Record<string, string> = {
  'alphas.normal': 'normal cell: operation weights per edge',
  'alphas.reduce': 'reduction cell: operation weights per edge',
  'alphas.cell': 'cell: operation weights per edge',
  betas: 'lattice: input weights per node',
  'edges.normal': 'normal cell: edge weights per node (edge normalisation)',
  'edges.reduce': 'reduction cell: edge weights per node (edge normalisation)',
  'edges.cell': 'cell: edge weights per node (edge normalisation)',
};

/**
 * The heat-map data of arch.jsonl: for each parameter group, one row per choice with its options'
 * probabilities at every logged epoch. `info` (from the rebuilt supernet) names rows and options;
 * without it rows are numbered and operation columns take the genotype's settings.ops.
 */
export function archSeries(rec: RunRecords, info: ChoiceInfo | null): ArchSeries {
  const lines = rec.archLines;
  const epochs = lines.map((l) => num(l.epoch) ?? 0);
  const groupNames: string[] = [];
  for (const l of lines) for (const k of Object.keys((l.weights as object) ?? {})) if (!groupNames.includes(k)) groupNames.push(k);
  const g = rec.genotype;
  const numInputs = cellInputs(g?.space ?? (rec.config.space as string));
  const kept = keptChoices(g);
  const ops = (g?.settings?.ops as string[] | undefined) ?? null;
  const groups: HeatGroup[] = groupNames.map((name) => {
    const nRows = Math.max(0, ...lines.map((l) => ((l.weights as Record<string, number[][]>)?.[name] ?? []).length));
    const labels = info?.rowLabels[name];
    const rows: HeatRow[] = [];
    let fixedRows = 0;
    for (let r = 0; r < nRows; r++) {
      const label = labels?.[r] ?? `${name}[${r}]`;
      const width = Math.max(0, ...lines.map((l) => ((l.weights as Record<string, number[][]>)?.[name]?.[r] ?? []).length));
      let options = info?.options[label];
      if (!options) {
        options = name.startsWith('alphas.') && ops && ops.length === width ? ops : Array.from({ length: width }, (_, k) => `option ${k}`);
      }
      if (options.length <= 1) {
        fixedRows++;
        continue;
      }
      const values = lines.map((l) => {
        const row = (l.weights as Record<string, number[][]>)?.[name]?.[r];
        return options!.map((_, k) => (row && typeof row[k] === 'number' ? row[k] : NaN));
      });
      const keptNames = kept.get(label) ?? [];
      const optionTitles = options.map((o) => (/^(l\d+s\d+|s\d+)$/.test(o) ? latticeNodeName(o) : o));
      rows.push({
        label,
        title: labels ? choiceTitle(label, numInputs) : `row ${r}`,
        options: optionTitles,
        kept: keptNames.map((k) => options!.indexOf(k)).filter((i) => i >= 0),
        values,
      });
    }
    return { name, title: GROUP_TITLES[name] ?? name, rows, fixedRows };
  });
  return {
    epochs,
    phases: lines.map((l) => String(l.phase ?? '')),
    entropy: lines.map((l) => num(l.entropy)),
    temperature: lines.map((l) => num(l.temperature)),
    groups,
  };
}
