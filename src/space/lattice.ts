/**
 * Modules of the multi-scale segmentation lattice: resamplers between neighbouring scales, the
 * lattice node (input choice → cell), the ASPP-lite decoder head, and the network that runs the
 * nodes lazily from the output backwards (so a discrete choice computes only the nodes it uses).
 */
import { cat, nn, Tensor } from '../torch';
import { Cell } from './cell';
import { InputChoice, LazyInput } from './choices';
import { LatticePos } from './lattice-grid';
import { ReLUConvBN } from './ops';

const F = nn.functional;

/**
 * 'down': from the next finer scale; 'same'; 'up': from the next coarser scale; 'resize': from any
 * scale, by bilinear resizing (the two-input lattice's second inputs, up to two scales away).
 */
export type ResampleMode = 'down' | 'same' | 'up' | 'resize';

/**
 * Brings a node output to another scale and to the target cell's channels: a strided 3x3
 * ReLU-Conv-BN (finer → coarser), a 1x1 ReLU-Conv-BN (same scale), or bilinear resizing to the
 * target size then a 1x1 ReLU-Conv-BN (`up`: coarser → finer; `resize`: either way). State keys:
 * `op.op.1.weight`, ...
 *
 * @example
 * new Resample(40, 16, 'up', false).forward(x, [49, 66]);
 */
export class Resample extends nn.Module {
  readonly op: ReLUConvBN;
  constructor(
    cIn: number,
    cOut: number,
    readonly mode: ResampleMode,
    affine: boolean,
  ) {
    super();
    this.op = this.registerModule('op', mode === 'down' ? new ReLUConvBN(cIn, cOut, 3, 2, 1, affine) : new ReLUConvBN(cIn, cOut, 1, 1, 0, affine));
  }
  forward(x: Tensor, size: [number, number]): Tensor {
    const y = this.mode === 'up' || this.mode === 'resize' ? F.interpolate(x, size, { mode: 'bilinear', alignCorners: false }) : x;
    return this.op.forward(y);
  }
}

/**
 * ASPP-lite head for one scale: a 1x1 branch, a dilated 3x3 branch and an image-pooling branch,
 * concatenated, projected by a 1x1 Conv-BN-ReLU, then a 1x1 classifier (with bias).
 *
 * @example
 * const head = new ASPPLite(40, 16, 19, 6); // logits at the input's scale
 */
export class ASPPLite extends nn.Module {
  readonly branch1: nn.Sequential;
  readonly branch3: nn.Sequential;
  readonly pool: nn.Conv2d;
  readonly project: nn.Sequential;
  readonly classifier: nn.Conv2d;
  constructor(cIn: number, cMid: number, numClasses: number, rate: number) {
    super();
    const cbr = (cin: number, k: number, d: number) =>
      new nn.Sequential(new nn.Conv2d(cin, cMid, k, { padding: k === 1 ? 0 : d, dilation: d, bias: false }), new nn.BatchNorm2d(cMid), new nn.ReLU());
    this.branch1 = this.registerModule('branch1', cbr(cIn, 1, 1));
    this.branch3 = this.registerModule('branch3', cbr(cIn, 3, rate));
    this.pool = this.registerModule('pool', new nn.Conv2d(cIn, cMid, 1, { bias: false }));
    this.project = this.registerModule('project', cbr(3 * cMid, 1, 1));
    this.classifier = this.registerModule('classifier', new nn.Conv2d(cMid, numClasses, 1));
  }
  forward(x: Tensor): Tensor {
    const [n, , h, w] = x.shape;
    const g = this.pool.forward(F.adaptiveAvgPool2d(x, 1)).relu();
    const branches = [this.branch1.forward(x), this.branch3.forward(x), g.expand([n, g.shape[1], h, w])];
    return this.classifier.forward(this.project.forward(cat(branches, 1)));
  }
}

/** A module that only names its children (PyTorch's ModuleDict). */
export class ModuleDict<M extends nn.Module = nn.Module> extends nn.Module {
  private readonly items = new Map<string, M>();
  set(name: string, m: M): M {
    this.items.set(name, this.registerModule(name, m));
    return m;
  }
  get(name: string): M | undefined {
    return this.items.get(name);
  }
  entries(): [string, M][] {
    return [...this.items];
  }
  forward(): never {
    throw new Error('ModuleDict has no forward(); call its items');
  }
}

/** What {@link LatticeNetwork} needs of a node: its position, and its output from earlier nodes' outputs. */
export interface LatticeNodeLike extends nn.Module {
  readonly layer: number;
  readonly scale: number;
  forward(value: (l: number, s: number) => Tensor, size: [number, number]): Tensor;
}

/**
 * A lattice node: its inputs resampled to its scale, combined by an input choice (the
 * network-level `betas`; summed when discrete), then a one-input cell. The fusion lattice puts a
 * 1x1 ReLU-Conv-BN `fuse` between the combined inputs and the cell (its fusion module: resample,
 * weight, sum, fuse).
 */
export class LatticeNode extends nn.Module {
  readonly cell: Cell;
  readonly resample: nn.ModuleList<Resample>;
  readonly choice: InputChoice | null;
  readonly fuse: nn.Module | null;
  constructor(
    readonly layer: number,
    readonly scale: number,
    readonly sources: LatticePos[],
    parts: { cell: Cell; resample: Resample[]; choice: InputChoice | null; fuse?: nn.Module | null },
  ) {
    super();
    if (parts.resample.length !== sources.length)
      throw new Error(`LatticeNode l${layer}s${scale}: ${parts.resample.length} resamplers for ${sources.length} inputs`);
    this.cell = this.registerModule('cell', parts.cell);
    this.resample = this.registerModule('resample', new nn.ModuleList(parts.resample));
    this.choice = parts.choice ? this.registerModule('choice', parts.choice) : null;
    this.fuse = parts.fuse ? this.registerModule('fuse', parts.fuse) : null;
  }
  /** Runs the node; `value(l, s)` gives (lazily) the output of an earlier node. */
  forward(value: (l: number, s: number) => Tensor, size: [number, number]): Tensor {
    const mixed = mixInputs(this.sources, this.resample, this.choice, value, size);
    return this.cell.forward(this.fuse ? (this.fuse.forward(mixed) as Tensor) : mixed);
  }
}

/**
 * The second input of a two-input cell: the state two layers back along the path the cell
 * extends. The cell extends node (l-1, t); its second input is what node (l-1, t) itself took
 * from layer l-2: the nodes `sources` (node (l-1, t)'s candidate inputs), each brought to this
 * cell's scale and channels by `resample` (bilinear resizing then 1x1, or 1x1 at the same
 * scale), combined by `choice`, an input choice with node (l-1, t)'s label: it shares that
 * node's row of betas, so it mixes (or samples) exactly as node (l-1, t) does. Discrete (no
 * choice): the kept sources summed. For layer 1 the source is the stem (a DARTS cell's first
 * inputs are both the stem).
 */
export class PathInput extends nn.Module {
  readonly resample: nn.ModuleList<Resample>;
  readonly choice: InputChoice | null;
  constructor(
    readonly sources: LatticePos[],
    parts: { resample: Resample[]; choice: InputChoice | null },
  ) {
    super();
    if (parts.resample.length !== sources.length) throw new Error(`PathInput: ${parts.resample.length} resamplers for ${sources.length} sources`);
    this.resample = this.registerModule('resample', new nn.ModuleList(parts.resample));
    this.choice = parts.choice ? this.registerModule('choice', parts.choice) : null;
  }
  forward(value: (l: number, s: number) => Tensor, size: [number, number]): Tensor {
    return mixInputs(this.sources, this.resample, this.choice, value, size);
  }
}

/**
 * A node of the two-input lattice (Auto-DeepLab's cell level, our form): one two-input cell per
 * candidate input (l-1, t_k), taking (second input k, the output of (l-1, t_k) resampled to this
 * scale), and the cells' outputs combined by the input choice (the node's `betas`; summed when
 * discrete): H(l, s) = Σ_k β_k · Cell_k(P_k, R_k(H(l-1, t_k))). State keys: `resample.<k>`,
 * `cells.<k>`, `prev.<k>` (the {@link PathInput}s).
 */
export class TwoInputNode extends nn.Module {
  readonly cells: nn.ModuleList<Cell>;
  readonly resample: nn.ModuleList<Resample>;
  readonly prev: nn.ModuleList<PathInput>;
  readonly choice: InputChoice | null;
  constructor(
    readonly layer: number,
    readonly scale: number,
    readonly sources: LatticePos[],
    parts: { cells: Cell[]; resample: Resample[]; prev: PathInput[]; choice: InputChoice | null },
  ) {
    super();
    const n = sources.length;
    if (parts.cells.length !== n || parts.resample.length !== n || parts.prev.length !== n)
      throw new Error(
        `TwoInputNode l${layer}s${scale}: ${parts.cells.length} cells, ${parts.resample.length} resamplers, ${parts.prev.length} second inputs for ${n} inputs`,
      );
    this.resample = this.registerModule('resample', new nn.ModuleList(parts.resample));
    this.cells = this.registerModule('cells', new nn.ModuleList(parts.cells));
    this.prev = this.registerModule('prev', new nn.ModuleList(parts.prev));
    this.choice = parts.choice ? this.registerModule('choice', parts.choice) : null;
  }
  forward(value: (l: number, s: number) => Tensor, size: [number, number]): Tensor {
    const outputs: LazyInput[] = this.sources.map(
      ([l, s], k) =>
        () =>
          this.cells.at(k).forward(this.prev.at(k).forward(value, size), this.resample.at(k).forward(value(l, s), size)),
    );
    return this.choice ? this.choice.forward(outputs) : sumLazy(outputs);
  }
}

/** The outputs of nodes `sources` resampled to this scale (each computed only when it runs), combined by `choice` or summed. */
function mixInputs(
  sources: LatticePos[],
  resample: nn.ModuleList<Resample>,
  choice: InputChoice | null,
  value: (l: number, s: number) => Tensor,
  size: [number, number],
): Tensor {
  const inputs: LazyInput[] = sources.map(
    ([l, s], i) =>
      () =>
        resample.at(i).forward(value(l, s), size),
  );
  return choice ? choice.forward(inputs) : sumLazy(inputs);
}

function sumLazy(inputs: LazyInput[]): Tensor {
  let acc: Tensor | null = null;
  for (const v of inputs) {
    const y = typeof v === 'function' ? v() : v;
    acc = acc ? acc.add(y) : y;
  }
  if (!acc) throw new Error('lattice: a node without inputs');
  return acc;
}

/**
 * The lattice network (supernet or discrete): stem to stride 4, nodes `nodes.l<l>s<s>`
 * ({@link LatticeNode}s or {@link TwoInputNode}s), one ASPP-lite head per output scale
 * `heads.s<s>`, and an output choice over them (summed when there is none); logits are upsampled
 * bilinearly to the input size.
 */
export class LatticeNetwork<N extends LatticeNodeLike = LatticeNodeLike> extends nn.Module {
  readonly stem: nn.Module;
  readonly nodes: ModuleDict<N>;
  readonly heads: ModuleDict;
  readonly output: InputChoice | null;
  readonly outputScales: number[];
  /**
   * When set, only this output scale's head runs (not a module state: the two-input lattice sums
   * its heads and has no output choice, so its `fix` picks the head here).
   */
  onlyHead: number | null = null;
  constructor(
    readonly layers: number,
    parts: { stem: nn.Module; nodes: N[]; heads: [number, nn.Module][]; output: InputChoice | null },
  ) {
    super();
    this.stem = this.registerModule('stem', parts.stem);
    this.nodes = this.registerModule('nodes', new ModuleDict<N>());
    for (const n of parts.nodes) this.nodes.set(`l${n.layer}s${n.scale}`, n);
    this.heads = this.registerModule('heads', new ModuleDict());
    for (const [s, h] of parts.heads) this.heads.set(`s${s}`, h);
    this.outputScales = parts.heads.map(([s]) => s);
    this.output = parts.output ? this.registerModule('output', parts.output) : null;
  }

  /** Node (l, s), if this network has it. */
  node(l: number, s: number): N | undefined {
    return this.nodes.get(`l${l}s${s}`);
  }

  forward(x: Tensor): Tensor {
    const [, , H, W] = x.shape;
    const stem = this.stem.forward(x) as Tensor;
    const sizes: [number, number][] = [[stem.shape[2], stem.shape[3]]];
    for (let s = 1; s < 8; s++) sizes.push([Math.ceil(sizes[s - 1][0] / 2), Math.ceil(sizes[s - 1][1] / 2)]);
    const memo = new Map<string, Tensor>([['l0s0', stem]]);
    const value = (l: number, s: number): Tensor => {
      const key = `l${l}s${s}`;
      let v = memo.get(key);
      if (!v) {
        const node = this.nodes.get(key);
        if (!node) throw new Error(`lattice: node ${key} is not part of this network`);
        v = node.forward(value, sizes[s]);
        memo.set(key, v);
      }
      return v;
    };
    const scales = this.onlyHead === null ? this.outputScales : [this.onlyHead];
    if (this.onlyHead !== null && (this.output || !this.outputScales.includes(this.onlyHead)))
      throw new Error(`lattice: onlyHead ${this.onlyHead} needs a network without output choice and with a head at that scale`);
    const logits: LazyInput[] = scales.map(
      (s) => () => F.interpolate(this.heads.get(`s${s}`)!.forward(value(this.layers, s)) as Tensor, [H, W], { mode: 'bilinear', alignCorners: false }),
    );
    return this.output ? this.output.forward(logits) : sumLazy(logits);
  }
}
