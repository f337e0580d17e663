/**
 * The multi-scale segmentation lattice space, Auto-DeepLab style (Liu et al., "Auto-DeepLab:
 * Hierarchical Neural Architecture Search for Semantic Image Segmentation", CVPR 2019) with
 * "non-dense with short connections", and a dense variant (DCNAS-like: Zhang et al., "DCNAS:
 * Densely Connected Neural Architecture Search for Semantic Image Segmentation", CVPR 2021) from
 * the same code. Cells share `alphas.cell`; the network-level weights are `betas` (one row per
 * node plus `output`).
 */
import { Rng } from '../data/rng';
import { nn, tensor, Tensor } from '../torch';
import { Cell, cellSelections, discreteCellParts, inheritedCellParts, searchCellParts } from './cell';
import { PartialChannels } from './partial';
import { InputChoice } from './choices';
import type { MacProfile } from './cost';
import { CellGenotype, cellByNode, decodeCell, Genotype, GenotypeError, validateGenotype } from './genotype';
import { ASPPLite, LatticeNetwork, LatticeNode, LatticeNodeLike, PathInput, Resample, ResampleMode, TwoInputNode } from './lattice';
import { Connectivity, LatticeGrid, LatticeKept, LatticePos } from './lattice-grid';
import { DARTS_PRIMITIVES, ReLUConvBN } from './ops';
import { randomCellGene, uniformSubset } from './random';
import { RelaxationKind } from './relaxation';
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
  /**
   * The training input size [H, W] the ASPP-lite rates are fitted to ({@link asppRateAt}), or null
   * for the fixed rates 12, 6, 3, 1 ({@link asppRate}). Default null, so genotypes decoded before
   * this setting existed build as they did.
   */
  inputSize: [number, number] | null;
  /** Partial-channel connections in the cells (partial.ts): each edge's operation sees 1/k of the channels. Default 1 (all). */
  partialChannels: number;
  /**
   * 1: each node mixes its resampled inputs, then runs one one-input cell (`lattice`,
   * `lattice-dense`). 2: the two-input form of Auto-DeepLab's cell level (`lattice-adl`, short
   * connectivity only): one two-input cell per candidate input, their outputs weighted by betas,
   * an ASPP-lite head per scale summed ({@link TwoInputNode}). Default 1.
   */
  cellInputs: 1 | 2;
  /** Edge normalisation (PC-DARTS): each cell node weights its edges by `edges.cell`. Default false. */
  edgeNorm: boolean;
}

/** Defaults of {@link LatticeSettings}. */
export const LATTICE_DEFAULTS: LatticeSettings = {
  layers: 12,
  C: 8,
  nodes: 5,
  scales: 4,
  inChannels: 3,
  numClasses: 19,
  connectivity: 'short',
  denseInputs: 2,
  ops: [...DARTS_PRIMITIVES],
  initScale: 1e-3,
  inputSize: null,
  partialChannels: 1,
  cellInputs: 1,
  edgeNorm: false,
};

/** Dilation of the ASPP-lite 3x3 branch at scale s: 12, 6, 3, 1 (Auto-DeepLab's 96/stride, scaled down). */
export const asppRate = (s: number): number => Math.max(1, 12 >> s);

/**
 * The feature-map size [H, W] of scale s for an input of `inputSize`: the stem's two stride-2
 * 3x3 convolutions (padding 1) give ceil(ceil(H / 2) / 2), and each coarser scale halves with ceil,
 * as {@link LatticeNetwork} computes them.
 *
 * @example
 * latticeFeatureSize(0, [97, 131]); // [25, 33]
 * latticeFeatureSize(3, [97, 131]); // [4, 5]
 */
export function latticeFeatureSize(s: number, inputSize: [number, number]): [number, number] {
  checkInputSize(inputSize, 'latticeFeatureSize');
  if (!Number.isInteger(s) || s < 0) throw new RangeError(`latticeFeatureSize: scale must be a non-negative integer, got ${s}`);
  const half = (v: number) => Math.ceil(v / 2);
  let [h, w] = [half(half(inputSize[0])), half(half(inputSize[1]))];
  for (let k = 0; k < s; k++) [h, w] = [half(h), half(w)];
  return [h, w];
}

/**
 * Dilation of the ASPP-lite 3x3 branch at scale s for input size `inputSize`: {@link asppRate}(s),
 * capped so that the dilated taps still fall inside the feature map: max(1, min(12 >> s,
 * floor((side - 1) / 2))), side the smaller side of the scale's feature map
 * ({@link latticeFeatureSize}). With `inputSize` null: {@link asppRate}(s).
 *
 * @example
 * [0, 1, 2, 3].map((s) => asppRateAt(s, [64, 64]));   // [7, 3, 1, 1] (feature maps 16, 8, 4, 2)
 * [0, 1, 2, 3].map((s) => asppRateAt(s, [256, 512])); // [12, 6, 3, 1]
 */
export function asppRateAt(s: number, inputSize: [number, number] | null): number {
  if (inputSize === null) return asppRate(s);
  const [h, w] = latticeFeatureSize(s, inputSize);
  return Math.max(1, Math.min(12 >> s, Math.floor((Math.min(h, w) - 1) / 2)));
}

function checkInputSize(v: unknown, where: string): asserts v is [number, number] {
  if (!Array.isArray(v) || v.length !== 2 || !v.every((x) => Number.isInteger(x) && x >= 1)) {
    throw new RangeError(`${where}: inputSize must be [H, W] with positive integers, got ${JSON.stringify(v)}`);
  }
}

/** How a node's output at scale `from` reaches scale `to`: one step down or up, the same scale, or resized over two or more steps (fusion). */
const modeOf = (from: number, to: number): ResampleMode => (from === to ? 'same' : Math.abs(from - to) > 1 ? 'resize' : from < to ? 'down' : 'up');

/** The forms of the lattice by space name (docs/spaces.md, "Four forms of the lattice"). */
export const LATTICE_FORMS: Record<string, Pick<LatticeSettings, 'connectivity' | 'cellInputs'>> = {
  lattice: { connectivity: 'short', cellInputs: 1 },
  'lattice-dense': { connectivity: 'dense', cellInputs: 1 },
  'lattice-fusion': { connectivity: 'fusion', cellInputs: 1 },
  'lattice-adl': { connectivity: 'short', cellInputs: 2 },
};

/** The space name of lattice settings: `lattice`, `lattice-dense`, `lattice-fusion` or `lattice-adl` (two-input cells). */
export function latticeSpaceName(s: Pick<LatticeSettings, 'connectivity' | 'cellInputs'>): string {
  return Object.keys(LATTICE_FORMS).find((n) => LATTICE_FORMS[n].connectivity === s.connectivity && LATTICE_FORMS[n].cellInputs === s.cellInputs)!;
}

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
    const s: LatticeSettings = { ...LATTICE_DEFAULTS, ...settings, ops: [...(settings.ops ?? LATTICE_DEFAULTS.ops)], inputSize: settings.inputSize ?? null };
    if (s.inputSize !== null) {
      checkInputSize(s.inputSize, 'LatticeSpace');
      s.inputSize = [s.inputSize[0], s.inputSize[1]];
    }
    for (const k of ['layers', 'C', 'nodes', 'scales', 'inChannels', 'numClasses', 'denseInputs', 'partialChannels'] as const) {
      if (!Number.isInteger(s[k]) || s[k] < 1) throw new RangeError(`LatticeSpace: ${k} must be a positive integer, got ${s[k]}`);
    }
    if (s.C % s.partialChannels !== 0) throw new RangeError(`LatticeSpace: partialChannels ${s.partialChannels} must divide C (${s.C})`);
    if (s.scales > 4) throw new RangeError(`LatticeSpace: scales must be at most 4 (1/4 ... 1/32), got ${s.scales}`);
    if (!['short', 'dense', 'fusion'].includes(s.connectivity))
      throw new RangeError(`LatticeSpace: connectivity must be 'short', 'dense' or 'fusion', got '${s.connectivity as string}'`);
    if (s.cellInputs !== 1 && s.cellInputs !== 2) throw new RangeError(`LatticeSpace: cellInputs must be 1 or 2, got ${s.cellInputs as number}`);
    if (s.cellInputs === 2 && s.connectivity !== 'short') throw new RangeError("LatticeSpace: two-input cells (cellInputs 2) need connectivity 'short'");
    const grid = new LatticeGrid(s.layers, s.scales, s.connectivity);
    super(latticeSpaceName(s), LatticeSpace.network(s, grid, null), s.initScale);
    this.settings = s;
    this.grid = grid;
  }

  /** Channels of the output of node (l, s) (the stem counts as (0, 0)). */
  private static channels(s: LatticeSettings, scale: number): number {
    return s.nodes * s.C * 2 ** scale;
  }

  /**
   * A supernet (kept null) or a fresh discrete network (kept and cell gene given). Both have the
   * search BN form (BN without affine parameters in cells and resamplers, BN after pooling).
   */
  private static network(s: LatticeSettings, grid: LatticeGrid, kept: LatticeKept | null, gene?: CellGenotype[]): LatticeNetwork {
    if (s.cellInputs === 2) return LatticeSpace.twoInputNetwork(s, grid, kept, gene);
    const stem = LatticeSpace.stem(s); // modules are made in the order stem, nodes, heads (the order of the random draws)
    const positions = kept ? [...kept.inputs.keys()].map((k) => k.slice(1).split('s').map(Number) as LatticePos) : grid.nodes();
    const nodes = positions.map(([l, sc]) => {
      const sources = kept ? kept.inputs.get(grid.label(l, sc))! : grid.sources(l, sc);
      const C = s.C * 2 ** sc;
      const spec = { C, stride: 1, numInputs: 1, nodes: s.nodes, preprocess: [], partial: s.partialChannels, edgeNorm: s.edgeNorm };
      const cell = new Cell(gene ? discreteCellParts({ ...spec, gene }) : searchCellParts({ ...spec, label: 'cell', ops: s.ops }));
      const resample = sources.map(([, from]) => new Resample(LatticeSpace.channels(s, from), C, modeOf(from, sc), false));
      const fuse = s.connectivity === 'fusion' ? new ReLUConvBN(C, C, 1, 1, 0, false) : null;
      const choice = kept
        ? null
        : new InputChoice(sources.length, {
            label: grid.label(l, sc),
            group: 'betas',
            nChosen: s.connectivity === 'short' ? 1 : s.denseInputs,
            names: sources.map(([a, b]) => grid.label(a, b)),
          });
      return new LatticeNode(l, sc, sources, { cell, resample, choice, fuse });
    });
    const outScales = kept ? [kept.output] : grid.scalesAt(s.layers);
    const heads = LatticeSpace.heads(s, outScales);
    const output = kept ? null : new InputChoice(outScales.length, { label: 'output', group: 'betas', nChosen: 1, names: outScales.map((x) => `s${x}`) });
    return new LatticeNetwork(s.layers, { stem, nodes, heads, output });
  }

  private static stem(s: LatticeSettings): nn.Sequential {
    const stemC = 2 * s.C;
    return new nn.Sequential(
      new nn.Conv2d(s.inChannels, stemC, 3, { stride: 2, padding: 1, bias: false }),
      new nn.BatchNorm2d(stemC),
      new nn.ReLU(),
      new nn.Conv2d(stemC, LatticeSpace.channels(s, 0), 3, { stride: 2, padding: 1, bias: false }),
      new nn.BatchNorm2d(LatticeSpace.channels(s, 0)),
    );
  }

  private static heads(s: LatticeSettings, scales: number[]): [number, nn.Module][] {
    return scales.map((sc) => [sc, new ASPPLite(LatticeSpace.channels(s, sc), s.C * 2 ** sc, s.numClasses, asppRateAt(sc, s.inputSize))]);
  }

  /**
   * The two-input lattice (`cellInputs` 2): node (l, s) runs one two-input cell per candidate
   * input (l-1, t), on (the state two layers back along that input's path, the output of (l-1, t)
   * resampled to s); betas weight the cells' outputs; every last-layer scale has a head, summed.
   * With `kept` (a path) each node keeps the cell of its path input, and the network the head of
   * the path's last scale: the supernet under `fix` computes exactly this network.
   */
  private static twoInputNetwork(s: LatticeSettings, grid: LatticeGrid, kept: LatticeKept | null, gene?: CellGenotype[]): LatticeNetwork {
    const stem = LatticeSpace.stem(s);
    const positions = kept ? [...kept.inputs.keys()].map((k) => k.slice(1).split('s').map(Number) as LatticePos) : grid.nodes();
    /** The sources node (l, s) takes from layer l-1 (kept: its path input). */
    const sourcesOf = (l: number, sc: number): LatticePos[] => (kept ? kept.inputs.get(grid.label(l, sc))! : grid.sources(l, sc));
    const nodes = positions.map(([l, sc]) => {
      const C = s.C * 2 ** sc;
      const sources = sourcesOf(l, sc);
      const spec = { C, stride: 1, numInputs: 2, nodes: s.nodes, preprocess: [], partial: s.partialChannels, edgeNorm: s.edgeNorm };
      const cells = sources.map(() => new Cell(gene ? discreteCellParts({ ...spec, gene }) : searchCellParts({ ...spec, label: 'cell', ops: s.ops })));
      const resample = sources.map(([, from]) => new Resample(LatticeSpace.channels(s, from), C, modeOf(from, sc), false));
      const prev = sources.map(([pl, ps]) => {
        const back: LatticePos[] = pl === 0 ? [[0, 0]] : sourcesOf(pl, ps);
        const choice =
          kept || pl === 0
            ? null
            : new InputChoice(back.length, { label: grid.label(pl, ps), group: 'betas', nChosen: 1, names: back.map(([a, b]) => grid.label(a, b)) });
        return new PathInput(back, {
          resample: back.map(([, from]) => new Resample(LatticeSpace.channels(s, from), C, from === sc ? 'same' : 'resize', false)),
          choice,
        });
      });
      const choice = kept
        ? null
        : new InputChoice(sources.length, { label: grid.label(l, sc), group: 'betas', nChosen: 1, names: sources.map(([a, b]) => grid.label(a, b)) });
      return new TwoInputNode(l, sc, sources, { cells, resample, prev, choice });
    });
    const heads = LatticeSpace.heads(s, kept ? [kept.output] : grid.scalesAt(s.layers));
    return new LatticeNetwork<LatticeNodeLike>(s.layers, { stem, nodes, heads, output: null });
  }

  /** softmax(betas) per node label, as plain numbers over that node's candidate inputs. */
  private betaProbs(): (label: string) => number[] {
    const { group } = this.rowOf(this.grid.label(1, 0));
    const p = group.probabilities().detach();
    const v = p.toArray();
    p.dispose();
    return (label) => {
      const { row } = this.rowOf(label);
      return v.slice(row * group.width, row * group.width + group.counts[row]);
    };
  }

  /**
   * Cell DARTS rule on alphas.cell, then Viterbi (short) or strongest inputs (dense) on betas. The
   * two-input lattice has no output choice (its heads are summed): its Viterbi scores every output
   * scale alike, so the path's own betas pick it.
   */
  decode(): Genotype {
    const { group } = this.rowOf('cell.n0.i0');
    const p = group.probabilities().detach();
    const v = p.toArray();
    p.dispose();
    const rows = Array.from({ length: group.rows }, (_, r) => v.slice(r * group.width, (r + 1) * group.width));
    const ni = this.settings.cellInputs;
    const cell = decodeCell(rows, this.settings.ops, ni, this.settings.nodes, this.cellEdgeWeights('cell', ni, this.settings.nodes));
    const bp = this.betaProbs();
    const probs = (l: number, s: number) => bp(this.grid.label(l, s));
    const g = this.genotypeOf(cell);
    if (this.settings.connectivity === 'short') {
      const outScales = this.grid.scalesAt(this.settings.layers);
      g.path = this.grid.viterbi(probs, this.settings.cellInputs === 2 ? outScales.map(() => 1 / outScales.length) : bp('output'));
    } else {
      const kept = this.grid.strongest(probs, bp('output'), this.settings.denseInputs);
      g.output = kept.output;
      g.inputs = Object.fromEntries(kept.inputs);
    }
    return g;
  }

  /** A genotype of this space with `cell` and the settings (no network level yet). */
  private genotypeOf(cell: CellGenotype): Genotype {
    const { initScale: _i, cellInputs: _c, partialChannels, edgeNorm, ...settings } = this.settings; // the space name says cellInputs
    return {
      version: 1,
      space: this.name,
      settings: {
        ...settings,
        ops: [...settings.ops],
        inputSize: settings.inputSize && [...settings.inputSize],
        ...(partialChannels > 1 ? { partialChannels } : {}),
        ...(edgeNorm ? { edgeNorm } : {}),
      },
      cells: { cell },
    };
  }

  /**
   * A random architecture of this space, for a random-search control: the cell gene is drawn
   * uniformly among the genes decoding can give ({@link randomCellGene}: each node's kept inputs a
   * uniform subset, each kept operation uniform among the non-`none` ones); the short lattice's
   * path uniformly among all valid paths (each layer's scale drawn among the allowed successors,
   * weighted by how many paths continue from it); the dense lattice's output scale uniformly,
   * then each used node's `denseInputs` inputs (fewer where it has fewer) as a uniform subset.
   * Deterministic for a seed.
   *
   * @example
   * const g = space.randomGenotype(7); // same JSON for seed 7 every time; space.build(g) accepts it
   */
  override randomGenotype(seed: number): Genotype {
    const rng = new Rng(seed);
    const g = this.genotypeOf(randomCellGene(rng, this.settings.ops, this.settings.cellInputs, this.settings.nodes));
    const grid = this.grid;
    const L = this.settings.layers;
    if (this.settings.connectivity === 'short') {
      const path: number[] = [];
      let prev = 0;
      for (let l = 1; l <= L; l++) {
        const next = [prev - 1, prev, prev + 1].filter((t) => grid.exists(l, t));
        const weights = next.map((t) => grid.completions(l, t));
        let r = rng.int(weights.reduce((a, b) => a + b, 0));
        let k = 0;
        while (r >= weights[k]) r -= weights[k++];
        path.push(next[k]);
        prev = next[k];
      }
      g.path = path;
      return g;
    }
    const outScales = grid.scalesAt(L);
    const output = outScales[rng.int(outScales.length)];
    const inputs: Record<string, LatticePos[]> = {};
    const todo: LatticePos[] = [[L, output]];
    while (todo.length) {
      const [l, s] = todo.shift()!;
      const label = grid.label(l, s);
      if (inputs[label]) continue;
      const src = grid.sources(l, s);
      const kept = uniformSubset(rng, src.length, Math.min(this.settings.denseInputs, src.length)).map((i) => src[i]);
      inputs[label] = kept;
      for (const [pl, ps] of kept) if (pl >= 1) todo.push([pl, ps]);
    }
    g.output = output;
    g.inputs = Object.fromEntries(grid.fromInputs(output, inputs).inputs);
    return g;
  }

  /** The cell gene and the kept network-level structure of a genotype, checked against this space. */
  private parse(genotype: GenotypeLike, nodes: number | null): { gene: CellGenotype[]; kept: LatticeKept } {
    const g = this.checkGenotype(genotype);
    const cell = g.cells?.cell;
    if (!cell) throw new GenotypeError('genotype.cells.cell: missing');
    const ni = this.settings.cellInputs;
    const n = nodes ?? Array.from({ length: 64 }, (_, i) => i + 1).find((k) => 2 * k - (ni === 1 ? 1 : 0) === cell.length);
    if (n === undefined)
      throw new GenotypeError(
        `genotype.cells.cell: ${cell.length} entries does not fit a ${ni === 1 ? 'one-input cell (1 + 2 (nodes - 1))' : 'two-input cell (2 entries per node)'}`,
      );
    const gene = cellByNode('cell', cell, ni, n);
    if (this.settings.connectivity === 'short') {
      if (!g.path) throw new GenotypeError('genotype.path: missing (the short lattice needs a scale per layer)');
      return { gene, kept: this.grid.fromPath(g.path) };
    }
    if (g.output === undefined || !g.inputs) throw new GenotypeError('genotype: the dense lattice needs `output` and `inputs`');
    return { gene, kept: this.grid.fromInputs(g.output, g.inputs) };
  }

  fix(genotype: GenotypeLike): void {
    const { gene, kept } = this.parse(genotype, this.settings.nodes);
    const sel = new Map<string, number[] | null>(cellSelections('cell', gene, this.settings.ops, this.settings.cellInputs, this.settings.edgeNorm));
    for (const [l, s] of this.grid.nodes()) {
      const ins = kept.inputs.get(this.grid.label(l, s));
      const src = this.grid.sources(l, s);
      sel.set(this.grid.label(l, s), ins ? ins.map(([a, b]) => src.findIndex(([x, y]) => x === a && y === b)) : null);
    }
    if (this.module.output) sel.set('output', [this.grid.scalesAt(this.settings.layers).indexOf(kept.output)]);
    // The two-input lattice sums its heads: its fixed network runs the path's last head alone,
    // kept with the selections (set again whenever the relaxation comes back to `fixed`).
    if (!this.module.output) this.fixedHead = kept.output;
    this.fixLabels(sel);
  }

  /** The head `fix` chose for the two-input lattice (null: none fixed; `fixed` then sums every head, as argmax leaves them). */
  private fixedHead: number | null = null;

  override unfix(): void {
    super.unfix();
    this.fixedHead = null;
    this.module.onlyHead = null;
  }

  /** The two-input lattice runs its fixed head alone under `fixed`, and every head otherwise. */
  override setRelaxation(kind: RelaxationKind, temperature?: number): void {
    super.setRelaxation(kind, temperature);
    // The base constructor sets no relaxation, so `module` exists whenever this runs.
    this.module.onlyHead = kind === 'fixed' ? (this.fixedHead ?? null) : null;
  }

  derive(genotype: GenotypeLike, opts: DeriveOptions): LatticeNetwork {
    const { gene, kept } = this.parse(genotype, this.settings.nodes);
    const sup = this.module;
    if (this.settings.cellInputs === 2) return this.deriveTwoInput(gene, kept, opts);
    const nodes = [...kept.inputs].map(([label, ins]) => {
      const node = sup.nodes.get(label)! as LatticeNode;
      const idx = ins.map(([a, b]) => node.sources.findIndex(([x, y]) => x === a && y === b));
      const cell = new Cell(inheritedCellParts(node.cell, gene));
      return new LatticeNode(node.layer, node.scale, ins, { cell, resample: idx.map((i) => node.resample.at(i)), choice: null, fuse: node.fuse });
    });
    const net = new LatticeNetwork(this.settings.layers, { stem: sup.stem, nodes, heads: [[kept.output, sup.heads.get(`s${kept.output}`)!]], output: null });
    net.train(sup.training);
    if (opts.release) releaseExcept(sup, net);
    return net;
  }

  /** {@link derive} of the two-input lattice: each path node keeps the cell, resampler and second input of its path input. */
  private deriveTwoInput(gene: CellGenotype[], kept: LatticeKept, opts: DeriveOptions): LatticeNetwork {
    const sup = this.module;
    const same = (a: LatticePos) => (b: LatticePos) => a[0] === b[0] && a[1] === b[1];
    const nodes = [...kept.inputs].map(([label, ins]) => {
      const node = sup.nodes.get(label)! as TwoInputNode;
      const k = node.sources.findIndex(same(ins[0]));
      const [pl, ps] = ins[0];
      const back: LatticePos = pl === 0 ? [0, 0] : kept.inputs.get(this.grid.label(pl, ps))![0];
      const prev = node.prev.at(k);
      const j = prev.sources.findIndex(same(back));
      return new TwoInputNode(node.layer, node.scale, ins, {
        cells: [new Cell(inheritedCellParts(node.cells.at(k), gene))],
        resample: [node.resample.at(k)],
        prev: [new PathInput([back], { resample: [prev.resample.at(j)], choice: null })],
        choice: null,
      });
    });
    const net = new LatticeNetwork(this.settings.layers, { stem: sup.stem, nodes, heads: [[kept.output, sup.heads.get(`s${kept.output}`)!]], output: null });
    net.train(sup.training);
    if (opts.release) releaseExcept(sup, net);
    return net;
  }

  /**
   * A fresh discrete network of `genotype`, in the same BN form as {@link derive}'s network (BN
   * without affine parameters in cells and resamplers, BN after pooling; the stem and the head
   * as in the supernet): the same modules and state-dict keys, freshly initialised. The node
   * count comes from the genotype, and so do the ASPP rates: a genotype with `settings` uses its
   * `settings.inputSize` (absent: null, the fixed rates, as before the setting existed); one
   * without `settings` uses this space's.
   *
   * @example
   * const fresh = space.build(space.decode()); // stateDict keys equal space.derive(g, ...)'s
   */
  build(genotype: GenotypeLike): LatticeNetwork {
    const { gene, kept } = this.parse(genotype, null);
    const settings = validateGenotype(genotype).settings;
    let inputSize = this.settings.inputSize;
    if (settings) {
      const v = settings.inputSize ?? null;
      if (v !== null && !(Array.isArray(v) && v.length === 2 && v.every((x) => Number.isInteger(x) && x >= 1))) {
        throw new GenotypeError(`genotype.settings.inputSize: expected [H, W] with positive integers or null, got ${JSON.stringify(v)}`);
      }
      inputSize = v as [number, number] | null;
    }
    return LatticeSpace.network({ ...this.settings, nodes: gene.length, inputSize }, this.grid, kept, gene);
  }

  /**
   * Expected MACs with the network level included: each node's cost (its cell under alphas, its
   * resamplers under its betas) is weighted by the probability that the output uses the node,
   * propagated backwards from the output choice (exact for the short lattice; an expected use
   * count for the dense one). The two-input lattice has no output choice: each output scale
   * counts 1/n (its decoded network keeps the head of the path's last scale, which the betas
   * along the path pick); a node counts each cell with its beta, plus the cell's second input
   * under the betas of the node it extends.
   */
  override expectedCost(profile: MacProfile): Tensor {
    const sup = this.module;
    const betas = this.rowOf(this.grid.label(1, 0)).group.probabilities();
    const rowP = (label: string) => betas.select(0, this.rowOf(label).row).split(1);
    const cellGroup = this.rowOf('cell.n0.i0').group;
    const alphas = cellGroup.probabilities();
    const cellCost = (cell: Cell): Tensor => {
      const table = new Float32Array(cellGroup.rows * cellGroup.width);
      let fixed = profile.of(cell);
      cell.links().forEach(({ module: edge }, e) => {
        const module = edge instanceof PartialChannels ? edge.op : edge;
        for (const [name, m] of module.namedChildren()) {
          const c = profile.of(m);
          table[e * cellGroup.width + this.settings.ops.indexOf(name)] += c;
          fixed -= c;
        }
      });
      return alphas
        .mul(tensor(table, { shape: [cellGroup.rows, cellGroup.width], device: alphas.device }))
        .sum()
        .add(fixed);
    };
    const use = new Map<string, Tensor>();
    const addUse = (label: string, u: Tensor) => use.set(label, use.has(label) ? use.get(label)!.add(u) : u);
    let total = tensor([profile.of(sup.stem)], { device: betas.device }).sum();
    const out = sup.output ? rowP('output') : sup.outputScales.map(() => tensor([1 / sup.outputScales.length], { device: betas.device }).sum());
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
      let cost: Tensor;
      if (node instanceof TwoInputNode) {
        cost = tensor([0], { device: betas.device }).sum();
        node.sources.forEach(([a, b], k) => {
          const prev = node.prev.at(k);
          const q = prev.choice ? rowP(prev.choice.label) : [tensor([1], { device: betas.device }).sum()];
          let c = cellCost(node.cells.at(k)).add(profile.of(node.resample.at(k)));
          prev.sources.forEach((_, j) => (c = c.add(q[j].mul(profile.of(prev.resample.at(j))))));
          cost = cost.add(p[k].mul(c));
          if (a >= 1) addUse(this.grid.label(a, b), u.mul(p[k]));
        });
      } else {
        const one = node as LatticeNode;
        cost = cellCost(one.cell);
        if (one.fuse) cost = cost.add(profile.of(one.fuse));
        one.sources.forEach(([a, b], i) => {
          cost = cost.add(p[i].mul(profile.of(one.resample.at(i))));
          if (a >= 1) addUse(this.grid.label(a, b), u.mul(p[i]));
        });
      }
      total = total.add(u.mul(cost));
    }
    return total;
  }
}
