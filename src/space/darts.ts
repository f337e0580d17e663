/**
 * The DARTS cell space for classification (Liu et al., "DARTS: Differentiable Architecture
 * Search", ICLR 2019): a stem, `layers` cells (reduction cells at 1/3 and 2/3 of the depth), each
 * taking the outputs of the two previous cells, global average pooling and a linear classifier.
 * Normal cells share `alphas.normal`, reduction cells `alphas.reduce`.
 */
import { Rng } from '../data/rng';
import { nn, Tensor } from '../torch';
import { Cell, cellSelections, discreteCellParts, inheritedCellParts, searchCellParts } from './cell';
import { CellGenotype, cellByNode, decodeCell, Genotype, GenotypeError } from './genotype';
import { DARTS_PRIMITIVES, FactorizedReduce, ReLUConvBN } from './ops';
import { randomCellGene } from './random';
import { DeriveOptions, GenotypeLike, releaseExcept, SearchSpace } from './space';

/** Settings of the DARTS space. */
export interface DartsSettings {
  /** Channels of the first cells (doubled at each reduction). Default 16. */
  C: number;
  /** Number of cells. Default 8. */
  layers: number;
  /** Intermediate nodes per cell. Default 4. */
  nodes: number;
  inChannels: number;
  numClasses: number;
  /** Stem channels = stemMultiplier * C. Default 3. */
  stemMultiplier: number;
  /** Candidate operations (registry names). Default: the eight DARTS primitives. */
  ops: string[];
  /** Alphas start at initScale * N(0, 1). Default 1e-3. */
  initScale: number;
  /** Partial-channel connections (partial.ts): each edge's operation sees 1/k of the channels. Default 1 (all). */
  partialChannels: number;
  /** Edge normalisation (PC-DARTS): each node weights its edges by `edges.normal` / `edges.reduce`. Default false. */
  edgeNorm: boolean;
}

/** Defaults of {@link DartsSettings}. */
export const DARTS_DEFAULTS: DartsSettings = {
  C: 16,
  layers: 8,
  nodes: 4,
  inChannels: 3,
  numClasses: 10,
  stemMultiplier: 3,
  ops: [...DARTS_PRIMITIVES],
  initScale: 1e-3,
  partialChannels: 1,
  edgeNorm: false,
};

/** The settings a genotype records: all but initScale, and partialChannels and edgeNorm only when they are used. */
function recordedSettings(s: DartsSettings): Record<string, unknown> {
  const { initScale: _i, partialChannels, edgeNorm, ...rest } = s;
  return { ...rest, ops: [...rest.ops], ...(partialChannels > 1 ? { partialChannels } : {}), ...(edgeNorm ? { edgeNorm } : {}) };
}

/** Indices of the reduction cells: floor(layers/3) and floor(2 layers/3). */
export function reductionLayers(layers: number): number[] {
  return [Math.floor(layers / 3), Math.floor((2 * layers) / 3)];
}

interface CellPlan {
  reduction: boolean;
  reductionPrev: boolean;
  cPrevPrev: number;
  cPrev: number;
  C: number;
}

/** The cell labels a network of `layers` cells uses ('normal' and/or 'reduce'). */
function cellLabels(layers: number): string[] {
  const red = reductionLayers(layers);
  const labels = new Set<string>(Array.from({ length: layers }, (_, i) => (red.includes(i) ? 'reduce' : 'normal')));
  return ['normal', 'reduce'].filter((l) => labels.has(l));
}

/** Channel plan of every cell; `mult(reduction)` is the number of states a cell concatenates. */
function plan(s: DartsSettings, mult: (reduction: boolean) => number): { cells: CellPlan[]; cOut: number } {
  const cells: CellPlan[] = [];
  let C = s.C;
  let [cPrevPrev, cPrev] = [s.stemMultiplier * s.C, s.stemMultiplier * s.C];
  let reductionPrev = false;
  const red = reductionLayers(s.layers);
  for (let i = 0; i < s.layers; i++) {
    const reduction = red.includes(i);
    if (reduction) C *= 2;
    cells.push({ reduction, reductionPrev, cPrevPrev, cPrev, C });
    [cPrevPrev, cPrev] = [cPrev, mult(reduction) * C];
    reductionPrev = reduction;
  }
  return { cells, cOut: cPrev };
}

function preprocess(p: CellPlan, affine: boolean): nn.Module[] {
  return [
    p.reductionPrev ? new FactorizedReduce(p.cPrevPrev, p.C, affine) : new ReLUConvBN(p.cPrevPrev, p.C, 1, 1, 0, affine),
    new ReLUConvBN(p.cPrev, p.C, 1, 1, 0, affine),
  ];
}

/**
 * The DARTS network (supernet or discrete). State-dict names: `stem.0`, `stem.1`, `cells.<i>.*`,
 * `classifier`.
 */
export class DartsNetwork extends nn.Module {
  readonly stem: nn.Module;
  readonly cells: nn.ModuleList<Cell>;
  readonly classifier: nn.Module;
  private readonly pool = new nn.AdaptiveAvgPool2d(1);
  constructor(parts: { stem: nn.Module; cells: Cell[]; classifier: nn.Module }) {
    super();
    this.stem = this.registerModule('stem', parts.stem);
    this.cells = this.registerModule('cells', new nn.ModuleList(parts.cells));
    this.registerModule('global_pooling', this.pool);
    this.classifier = this.registerModule('classifier', parts.classifier);
  }
  forward(x: Tensor): Tensor {
    let s0 = this.stem.forward(x) as Tensor;
    let s1 = s0;
    for (const cell of this.cells) [s0, s1] = [s1, cell.forward(s0, s1)];
    return this.classifier.forward(this.pool.forward(s1).flatten(1)) as Tensor;
  }
}

function stemOf(s: DartsSettings): nn.Module {
  const c = s.stemMultiplier * s.C;
  return new nn.Sequential(new nn.Conv2d(s.inChannels, c, 3, { padding: 1, bias: false }), new nn.BatchNorm2d(c));
}

function supernet(s: DartsSettings): DartsNetwork {
  const p = plan(s, () => s.nodes);
  const cells = p.cells.map(
    (c) =>
      new Cell(
        searchCellParts({
          C: c.C,
          stride: c.reduction ? 2 : 1,
          numInputs: 2,
          nodes: s.nodes,
          preprocess: preprocess(c, false),
          label: c.reduction ? 'reduce' : 'normal',
          ops: s.ops,
          partial: s.partialChannels,
          edgeNorm: s.edgeNorm,
        }),
      ),
  );
  return new DartsNetwork({ stem: stemOf(s), cells, classifier: new nn.Linear(p.cOut, s.numClasses) });
}

/**
 * The DARTS search space.
 *
 * @example
 * const space = new DartsSpace({ C: 16, layers: 8, numClasses: 10 });
 * const logits = space.forward(torch.randn([2, 3, 32, 32])); // [2, 10]
 * const g = space.decode(); // { version: 1, space: 'darts', cells: { normal: [...], reduce: [...] } }
 * const net = space.derive(g, { release: true }); // the supernet's own weights
 */
export class DartsSpace extends SearchSpace {
  readonly settings: DartsSettings;
  declare readonly module: DartsNetwork;

  constructor(settings: Partial<DartsSettings> = {}) {
    const s = { ...DARTS_DEFAULTS, ...settings, ops: [...(settings.ops ?? DARTS_DEFAULTS.ops)] };
    for (const k of ['C', 'layers', 'nodes', 'inChannels', 'numClasses', 'stemMultiplier', 'partialChannels'] as const) {
      if (!Number.isInteger(s[k]) || s[k] < 1) throw new RangeError(`DartsSpace: ${k} must be a positive integer, got ${s[k]}`);
    }
    if (s.C % s.partialChannels !== 0) throw new RangeError(`DartsSpace: partialChannels ${s.partialChannels} must divide C (${s.C})`);
    super('darts', supernet(s), s.initScale);
    this.settings = s;
  }

  /** The DARTS rule on softmax(alpha) of each cell type (times the edge weights under edge normalisation). */
  decode(): Genotype {
    const cells: Record<string, CellGenotype> = {};
    for (const label of cellLabels(this.settings.layers)) {
      const g = this.archGroups().find(([n]) => n === `alphas.${label}`)?.[1];
      if (!g) continue;
      const p = g.probabilities().detach();
      const v = p.toArray();
      p.dispose();
      const rows = Array.from({ length: g.rows }, (_, r) => v.slice(r * g.width, (r + 1) * g.width));
      cells[label] = decodeCell(rows, this.settings.ops, 2, this.settings.nodes, this.cellEdgeWeights(label, 2, this.settings.nodes));
    }
    return { version: 1, space: 'darts', settings: recordedSettings(this.settings), cells };
  }

  /**
   * A random architecture of this space, for a random-search control: each cell type the network
   * uses (`normal`, `reduce`) gets an independent {@link randomCellGene} (each node's two inputs a
   * uniform subset of its predecessors, each operation uniform among the non-`none` ones).
   * Deterministic for a seed.
   *
   * @example
   * const g = space.randomGenotype(7); // { version: 1, space: 'darts', settings, cells: { normal, reduce } }
   */
  override randomGenotype(seed: number): Genotype {
    const rng = new Rng(seed);
    const cells: Record<string, CellGenotype> = {};
    for (const label of cellLabels(this.settings.layers)) cells[label] = randomCellGene(rng, this.settings.ops, 2, this.settings.nodes);
    return { version: 1, space: 'darts', settings: recordedSettings(this.settings), cells };
  }

  /** The cells `layers` cells need, grouped by node, checked against `nodes` (null: any node count). */
  private genes(genotype: GenotypeLike, nodes: number | null, layers = this.settings.layers): { g: Genotype; genes: Record<string, CellGenotype[]> } {
    const g = this.checkGenotype(genotype);
    const genes: Record<string, CellGenotype[]> = {};
    for (const label of cellLabels(layers)) {
      const cell = g.cells?.[label];
      if (!cell) throw new GenotypeError(`genotype.cells.${label}: missing`);
      const n = nodes ?? cell.length / 2;
      if (!Number.isInteger(n) || n < 1) throw new GenotypeError(`genotype.cells.${label}: ${cell.length} entries is not 2 per node`);
      genes[label] = cellByNode(label, cell, 2, n);
      const concat = g.concat?.[label];
      if (concat && concat.some((i) => i >= 2 + n)) throw new GenotypeError(`genotype.concat.${label}: states are 0..${n + 1}`);
    }
    return { g, genes };
  }

  /** Checks that a genotype's concat is every node (the supernet concatenates every node). */
  private checkFullConcat(g: Genotype): void {
    for (const [label, c] of Object.entries(g.concat ?? {})) {
      const all = Array.from({ length: this.settings.nodes }, (_, i) => 2 + i);
      if (c.join() !== all.join()) throw new GenotypeError(`genotype.concat.${label}: the supernet concatenates [${all}], got [${c}]`);
    }
  }

  fix(genotype: GenotypeLike): void {
    const { g, genes } = this.genes(genotype, this.settings.nodes);
    this.checkFullConcat(g);
    const sel = new Map<string, number[]>();
    for (const [label, gene] of Object.entries(genes)) {
      for (const [k, v] of cellSelections(label, gene, this.settings.ops, 2, this.settings.edgeNorm)) sel.set(k, v);
    }
    this.fixLabels(sel);
  }

  derive(genotype: GenotypeLike, opts: DeriveOptions): DartsNetwork {
    const { g, genes } = this.genes(genotype, this.settings.nodes);
    this.checkFullConcat(g);
    const sup = this.module;
    const cells = [...sup.cells].map((c) => new Cell(inheritedCellParts(c, genes[c.stride === 2 ? 'reduce' : 'normal'])));
    const net = new DartsNetwork({ stem: sup.stem, cells, classifier: sup.classifier });
    net.train(sup.training);
    if (opts.release) releaseExcept(sup, net);
    return net;
  }

  /**
   * A fresh discrete network of `genotype`, in the same BN form as {@link derive}'s network
   * (preprocessing and operations with BN without affine parameters, BN after pooling; stem and
   * classifier as in the supernet), so that with this space's settings it has the derived
   * network's modules and state-dict keys, freshly initialised. C, layers and classes are this
   * space's; `overrides` change them (e.g. C 36, layers 20 for the CIFAR-10 evaluation). The node
   * count comes from the genotype.
   *
   * @example
   * const fresh = space.build(space.decode()); // stateDict keys equal space.derive(g, ...)'s
   */
  build(genotype: GenotypeLike, overrides: Partial<Pick<DartsSettings, 'C' | 'layers' | 'inChannels' | 'numClasses' | 'stemMultiplier'>> = {}): DartsNetwork {
    const s = { ...this.settings, ...overrides };
    const { g, genes } = this.genes(genotype, null, s.layers);
    const concat = (label: string) => g.concat?.[label] ?? Array.from({ length: genes[label].length }, (_, i) => 2 + i);
    const p = plan(s, (r) => concat(r ? 'reduce' : 'normal').length);
    const cells = p.cells.map((c) => {
      const label = c.reduction ? 'reduce' : 'normal';
      return new Cell(
        discreteCellParts({
          C: c.C,
          stride: c.reduction ? 2 : 1,
          numInputs: 2,
          nodes: genes[label].length,
          preprocess: preprocess(c, false),
          gene: genes[label],
          concat: concat(label),
          partial: s.partialChannels,
        }),
      );
    });
    return new DartsNetwork({ stem: stemOf(s), cells, classifier: new nn.Linear(p.cOut, s.numClasses) });
  }
}
