/**
 * The multi-scale segmentation lattice space, Auto-DeepLab style (Liu et al., "Auto-DeepLab:
 * Hierarchical Neural Architecture Search for Semantic Image Segmentation", CVPR 2019) with
 * "non-dense with short connections", and a dense variant (DCNAS-like: Zhang et al., "DCNAS:
 * Densely Connected Neural Architecture Search for Semantic Image Segmentation", CVPR 2021) from
 * the same code. Cells share `alphas.cell`; the network-level weights are `betas` (one row per
 * node plus `output`).
 */
import { nn, tensor, Tensor } from '../torch';
import { Cell, cellSelections, discreteCellParts, inheritedCellParts, searchCellParts } from './cell';
import { InputChoice } from './choices';
import type { MacProfile } from './cost';
import { CellGenotype, cellByNode, decodeCell, Genotype, GenotypeError } from './genotype';
import { ASPPLite, LatticeNetwork, LatticeNode, Resample, ResampleMode } from './lattice';
import { Connectivity, LatticeGrid, LatticeKept, LatticePos } from './lattice-grid';
import { DARTS_PRIMITIVES } from './ops';
import { DeriveOptions, GenotypeLike, releaseExcept, SearchSpace } from './space';

/** Settings of the lattice space. */
export interface LatticeSettings {
  /** Searched layers L (Auto-DeepLab: 12). */
  layers: number;
  /** Base channels: a cell at scale s has C * 2^s channels per node (Auto-DeepLab F = 8). */
  C: number;
  /** Intermediate nodes per cell (Auto-DeepLab B = 5). */
  nodes: number;
  /** Number of scales, from 1/4 (max 4: 1/4 ... 1/32). */
  scales: number;
  inChannels: number;
  numClasses: number;
  connectivity: Connectivity;
  /** Dense: inputs kept per node when decoding. */
  denseInputs: number;
  ops: string[];
  initScale: number;
}

/** Defaults of {@link LatticeSettings}. */
export const LATTICE_DEFAULTS: LatticeSettings = {
  layers: 12, C: 8, nodes: 5, scales: 4, inChannels: 3, numClasses: 19, connectivity: 'short', denseInputs: 2, ops: [...DARTS_PRIMITIVES], initScale: 1e-3,
};

/** Dilation of the ASPP-lite 3x3 branch at scale s: 12, 6, 3, 1 (Auto-DeepLab's 96/stride, scaled down). */
export const asppRate = (s: number): number => Math.max(1, 12 >> s);

const modeOf = (from: number, to: number): ResampleMode => (from < to ? 'down' : from > to ? 'up' : 'same');

/**
 * The lattice search space.
 *
 * @example
 * const space = new LatticeSpace({ layers: 4, C: 4, nodes: 2, numClasses: 3 });
 * const logits = space.forward(torch.randn([1, 3, 97, 131])); // [1, 3, 97, 131]
 * const g = space.decode(); // { ..., cells: { cell: [...] }, path: [0, 1, 1, 2] }
 */
export class LatticeSpace extends SearchSpace {
  readonly settings: LatticeSettings;
  readonly grid: LatticeGrid;
  declare readonly module: LatticeNetwork;

  constructor(settings: Partial<LatticeSettings> = {}) {
    const s: LatticeSettings = { ...LATTICE_DEFAULTS, ...settings, ops: [...(settings.ops ?? LATTICE_DEFAULTS.ops)] };
    for (const k of ['layers', 'C', 'nodes', 'scales', 'inChannels', 'numClasses', 'denseInputs'] as const) {
      if (!Number.isInteger(s[k]) || s[k] < 1) throw new RangeError(`LatticeSpace: ${k} must be a positive integer, got ${s[k]}`);
    }
    if (s.scales > 4) throw new RangeError(`LatticeSpace: scales must be at most 4 (1/4 ... 1/32), got ${s.scales}`);
    if (s.connectivity !== 'short' && s.connectivity !== 'dense') throw new RangeError(`LatticeSpace: connectivity must be 'short' or 'dense', got '${s.connectivity as string}'`);
    const grid = new LatticeGrid(s.layers, s.scales, s.connectivity);
    super(s.connectivity === 'short' ? 'lattice' : 'lattice-dense', LatticeSpace.network(s, grid, null, false), s.initScale);
    this.settings = s;
    this.grid = grid;
  }

  /** Channels of the output of node (l, s) (the stem counts as (0, 0)). */
  private static channels(s: LatticeSettings, scale: number): number { return s.nodes * s.C * 2 ** scale; }

  /** A supernet (kept null) or a fresh discrete network (kept and cell gene given). */
  private static network(s: LatticeSettings, grid: LatticeGrid, kept: LatticeKept | null, affine: boolean, gene?: CellGenotype[]): LatticeNetwork {
    const stemC = 2 * s.C;
    const stem = new nn.Sequential(
      new nn.Conv2d(s.inChannels, stemC, 3, { stride: 2, padding: 1, bias: false }), new nn.BatchNorm2d(stemC), new nn.ReLU(),
      new nn.Conv2d(stemC, LatticeSpace.channels(s, 0), 3, { stride: 2, padding: 1, bias: false }), new nn.BatchNorm2d(LatticeSpace.channels(s, 0)));
    const positions = kept ? [...kept.inputs.keys()].map((k) => k.slice(1).split('s').map(Number) as LatticePos) : grid.nodes();
    const nodes = positions.map(([l, sc]) => {
      const sources = kept ? kept.inputs.get(grid.label(l, sc))! : grid.sources(l, sc);
      const C = s.C * 2 ** sc;
      const spec = { C, stride: 1, numInputs: 1, nodes: s.nodes, preprocess: [] };
      const cell = new Cell(gene ? discreteCellParts({ ...spec, gene, affine }) : searchCellParts({ ...spec, label: 'cell', ops: s.ops }));
      const resample = sources.map(([, from]) => new Resample(LatticeSpace.channels(s, from), C, modeOf(from, sc), affine));
      const choice = kept ? null : new InputChoice(sources.length, {
        label: grid.label(l, sc), group: 'betas', nChosen: s.connectivity === 'short' ? 1 : s.denseInputs, names: sources.map(([a, b]) => grid.label(a, b)),
      });
      return new LatticeNode(l, sc, sources, { cell, resample, choice });
    });
    const outScales = kept ? [kept.output] : grid.scalesAt(s.layers);
    const heads = outScales.map((sc): [number, nn.Module] => [sc, new ASPPLite(LatticeSpace.channels(s, sc), s.C * 2 ** sc, s.numClasses, asppRate(sc))]);
    const output = kept ? null : new InputChoice(outScales.length, { label: 'output', group: 'betas', nChosen: 1, names: outScales.map((x) => `s${x}`) });
    return new LatticeNetwork(s.layers, { stem, nodes, heads, output });
  }

  /** softmax(betas) per node label, as plain numbers over that node's candidate inputs. */
  private betaProbs(): (label: string) => number[] {
    const { group } = this.rowOf('output');
    const p = group.probabilities().detach();
    const v = p.toArray();
    p.dispose();
    return (label) => {
      const { row } = this.rowOf(label);
      return v.slice(row * group.width, row * group.width + group.counts[row]);
    };
  }

  /** Cell DARTS rule on alphas.cell, then Viterbi (short) or strongest inputs (dense) on betas. */
  decode(): Genotype {
    const { group } = this.rowOf('cell.n0.i0');
    const p = group.probabilities().detach();
    const v = p.toArray();
    p.dispose();
    const rows = Array.from({ length: group.rows }, (_, r) => v.slice(r * group.width, (r + 1) * group.width));
    const cell = decodeCell(rows, this.settings.ops, 1, this.settings.nodes);
    const bp = this.betaProbs();
    const probs = (l: number, s: number) => bp(this.grid.label(l, s));
    const { initScale: _i, ...settings } = this.settings;
    const g: Genotype = { version: 1, space: this.name, settings: { ...settings }, cells: { cell } };
    if (this.settings.connectivity === 'short') {
      g.path = this.grid.viterbi(probs, bp('output'));
    } else {
      const kept = this.grid.strongest(probs, bp('output'), this.settings.denseInputs);
      g.output = kept.output;
      g.inputs = Object.fromEntries(kept.inputs);
    }
    return g;
  }

  /** The cell gene and the kept network-level structure of a genotype, checked against this space. */
  private parse(genotype: GenotypeLike, nodes: number | null): { gene: CellGenotype[]; kept: LatticeKept } {
    const g = this.checkGenotype(genotype);
    const cell = g.cells?.cell;
    if (!cell) throw new GenotypeError('genotype.cells.cell: missing');
    const n = nodes ?? Array.from({ length: 64 }, (_, i) => i + 1).find((k) => 2 * k - 1 === cell.length);
    if (n === undefined) throw new GenotypeError(`genotype.cells.cell: ${cell.length} entries does not fit a one-input cell (1 + 2 (nodes - 1))`);
    const gene = cellByNode('cell', cell, 1, n);
    if (this.settings.connectivity === 'short') {
      if (!g.path) throw new GenotypeError('genotype.path: missing (the short lattice needs a scale per layer)');
      return { gene, kept: this.grid.fromPath(g.path) };
    }
    if (g.output === undefined || !g.inputs) throw new GenotypeError('genotype: the dense lattice needs `output` and `inputs`');
    return { gene, kept: this.grid.fromInputs(g.output, g.inputs) };
  }

  fix(genotype: GenotypeLike): void {
    const { gene, kept } = this.parse(genotype, this.settings.nodes);
    const sel = new Map<string, number[] | null>(cellSelections('cell', gene, this.settings.ops, 1));
    for (const [l, s] of this.grid.nodes()) {
      const ins = kept.inputs.get(this.grid.label(l, s));
      const src = this.grid.sources(l, s);
      sel.set(this.grid.label(l, s), ins ? ins.map(([a, b]) => src.findIndex(([x, y]) => x === a && y === b)) : null);
    }
    sel.set('output', [this.grid.scalesAt(this.settings.layers).indexOf(kept.output)]);
    this.fixLabels(sel);
  }

  derive(genotype: GenotypeLike, opts: DeriveOptions): LatticeNetwork {
    const { gene, kept } = this.parse(genotype, this.settings.nodes);
    const sup = this.module;
    const nodes = [...kept.inputs].map(([label, ins]) => {
      const node = sup.nodes.get(label)!;
      const idx = ins.map(([a, b]) => node.sources.findIndex(([x, y]) => x === a && y === b));
      const cell = new Cell(inheritedCellParts(node.cell, gene));
      return new LatticeNode(node.layer, node.scale, ins, { cell, resample: idx.map((i) => node.resample.at(i)), choice: null });
    });
    const net = new LatticeNetwork(this.settings.layers, { stem: sup.stem, nodes, heads: [[kept.output, sup.heads.get(`s${kept.output}`)!]], output: null });
    net.train(sup.training);
    if (opts.release) releaseExcept(sup, net);
    return net;
  }

  /** A fresh discrete network of `genotype` (BN affine everywhere); the node count comes from the genotype. */
  build(genotype: GenotypeLike): LatticeNetwork {
    const { gene, kept } = this.parse(genotype, null);
    return LatticeSpace.network({ ...this.settings, nodes: gene.length }, this.grid, kept, true, gene);
  }

  /**
   * Expected MACs with the network level included: each node's cost (its cell under alphas, its
   * resamplers under its betas) is weighted by the probability that the output uses the node,
   * propagated backwards from the output choice (exact for the short lattice; an expected use
   * count for the dense one).
   */
  override expectedCost(profile: MacProfile): Tensor {
    const sup = this.module;
    const betas = this.rowOf('output').group.probabilities();
    const rowP = (label: string) => betas.select(0, this.rowOf(label).row).split(1);
    const cellGroup = this.rowOf('cell.n0.i0').group;
    const alphas = cellGroup.probabilities();
    const cellCost = (cell: Cell): Tensor => {
      const table = new Float32Array(cellGroup.rows * cellGroup.width);
      let fixed = profile.of(cell);
      cell.links().forEach(({ module }, e) => {
        for (const [name, m] of module.namedChildren()) {
          const c = profile.of(m);
          table[e * cellGroup.width + this.settings.ops.indexOf(name)] += c;
          fixed -= c;
        }
      });
      return alphas.mul(tensor(table, { shape: [cellGroup.rows, cellGroup.width], device: alphas.device })).sum().add(fixed);
    };
    const use = new Map<string, Tensor>();
    const addUse = (label: string, u: Tensor) => use.set(label, use.has(label) ? use.get(label)!.add(u) : u);
    let total = tensor([profile.of(sup.stem)], { device: betas.device }).sum();
    const out = rowP('output');
    sup.outputScales.forEach((s, i) => {
      total = total.add(out[i].mul(profile.of(sup.heads.get(`s${s}`)!)));
      addUse(this.grid.label(this.settings.layers, s), out[i]);
    });
    for (const [l, s] of [...this.grid.nodes()].reverse()) {
      const label = this.grid.label(l, s);
      const u = use.get(label);
      if (!u) continue;
      const node = sup.nodes.get(label)!;
      const p = rowP(label);
      let cost = cellCost(node.cell);
      node.sources.forEach(([a, b], i) => {
        cost = cost.add(p[i].mul(profile.of(node.resample.at(i))));
        if (a >= 1) addUse(this.grid.label(a, b), u.mul(p[i]));
      });
      total = total.add(u.mul(cost));
    }
    return total;
  }
}
