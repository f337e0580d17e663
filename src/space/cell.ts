/**
 * The cell: a small DAG whose intermediate nodes each sum operations applied to earlier states.
 * The same class is the search cell (one {@link MixedOp} per edge, every edge present) and the
 * discrete cell (the kept operations only), so a derived network runs the very code the supernet
 * ran with the `fixed` relaxation.
 */
import { cat, nn, Tensor, zeros } from '../torch';
import { InputChoice, LazyInput, MixedOp } from './choices';
import { CellGenotype, edgeIndex, keptPerNode, predecessors } from './genotype';
import { createOp, createSearchOp } from './ops';
import { PartialChannels } from './partial';

/** One operation of a cell: `module` applied to state `input`, summed into node `node`. */
export interface CellLink {
  node: number;
  input: number;
  module: nn.Module;
}

/** What a cell is made of. */
export interface CellParts {
  /** Channels of every node. */
  C: number;
  /** 2 for a reduction cell (edges from the cell inputs are strided), else 1. */
  stride: number;
  /** Number of cell inputs (states 0..numInputs-1); nodes follow. */
  numInputs: number;
  nodes: number;
  /** One module per input (or none): applied to the inputs first. */
  preprocess: nn.Module[];
  links: CellLink[];
  /** States concatenated into the output (default: every node). */
  concat?: number[];
  /**
   * Edge normalisation (PC-DARTS): per node, an input choice over its incoming edges that weights
   * their outputs (search cells only; a node without one sums its edges).
   */
  edgeChoices?: (InputChoice | null)[];
}

/**
 * A cell. State-dict names: `preprocess0`, `preprocess1`, `ops.<k>` (search cells:
 * `ops.<k>.<op name>.*`).
 *
 * @example
 * const cell = new Cell(searchCellParts({ C: 8, stride: 1, numInputs: 2, nodes: 4, preprocess: [p0, p1], label: 'normal', ops }));
 * const y = cell.forward(s0, s1); // [N, 4 * 8, H, W]
 */
export class Cell extends nn.Module {
  readonly C: number;
  readonly stride: number;
  readonly numInputs: number;
  readonly nodes: number;
  readonly concat: number[];
  readonly ops: nn.ModuleList;
  readonly preprocess: nn.Module[];
  private readonly linkNode: number[];
  private readonly linkInput: number[];
  /** Per node, the edge-normalisation choice (null: the node sums its edges). */
  readonly edgeChoices: (InputChoice | null)[];

  constructor(p: CellParts) {
    super();
    this.C = p.C;
    this.stride = p.stride;
    this.numInputs = p.numInputs;
    this.nodes = p.nodes;
    this.concat = p.concat ?? Array.from({ length: p.nodes }, (_, i) => p.numInputs + i);
    this.preprocess = p.preprocess.map((m, i) => this.registerModule(`preprocess${i}`, m));
    for (const l of p.links) {
      if (l.node < 0 || l.node >= p.nodes || l.input < 0 || l.input >= predecessors(p.numInputs, l.node)) {
        throw new RangeError(`Cell: link (node ${l.node}, input ${l.input}) is outside a cell of ${p.nodes} nodes and ${p.numInputs} inputs`);
      }
    }
    const links = [...p.links].sort((a, b) => a.node - b.node || a.input - b.input);
    this.ops = this.registerModule('ops', new nn.ModuleList(links.map((l) => l.module)));
    this.linkNode = links.map((l) => l.node);
    this.linkInput = links.map((l) => l.input);
    this.edgeChoices = Array.from({ length: p.nodes }, (_, i) => p.edgeChoices?.[i] ?? null);
    this.edgeChoices.forEach((c, i) => {
      if (!c) return;
      if (
        c.nCandidates !== predecessors(p.numInputs, i) ||
        this.linkInput.filter((_, k) => this.linkNode[k] === i).join() !== [...Array(c.nCandidates).keys()].join()
      )
        throw new RangeError(`Cell: the edge choice of node ${i} needs every one of its ${predecessors(p.numInputs, i)} edges`);
      this.registerModule(`edges${i}`, c);
    });
  }

  /** Output channels: C times the number of concatenated states. */
  get outChannels(): number {
    return this.C * this.concat.length;
  }

  /** The links of this cell (node, input, module), in execution order. */
  links(): CellLink[] {
    return this.linkNode.map((node, k) => ({ node, input: this.linkInput[k], module: this.ops.at(k) }));
  }

  forward(...inputs: Tensor[]): Tensor {
    if (inputs.length !== this.numInputs) throw new Error(`Cell: ${inputs.length} inputs, expected ${this.numInputs}`);
    const states = inputs.map((x, i) => (this.preprocess[i] ? (this.preprocess[i].forward(x) as Tensor) : x));
    const edge = (k: number): Tensor | null => {
      const m = this.ops.at(k);
      const x = states[this.linkInput[k]];
      return m instanceof MixedOp || m instanceof PartialChannels ? m.contribution(x) : (m.forward(x) as Tensor);
    };
    let k = 0;
    for (let node = 0; node < this.nodes; node++) {
      let acc: Tensor | null = null;
      const choice = this.edgeChoices[node];
      if (choice) {
        // Edge normalisation: the node's edges weighted by its choice (an edge that adds nothing counts as zeros).
        const first = k;
        const lazy: LazyInput[] = Array.from({ length: choice.nCandidates }, (_, j) => () => edge(first + j) ?? this.zeroNode(states[0]));
        k += choice.nCandidates;
        acc = choice.contribution(lazy);
      } else {
        for (; k < this.linkNode.length && this.linkNode[k] === node; k++) {
          const y = edge(k);
          if (y) acc = acc ? acc.add(y) : y;
        }
      }
      states.push(acc ?? this.zeroNode(states[0]));
    }
    const out = this.concat.map((i) => states[i]);
    return out.length === 1 ? out[0] : cat(out, 1);
  }

  /** Zeros shaped like a node (a node that every edge left out). */
  private zeroNode(ref: Tensor): Tensor {
    const [n, , h, w] = ref.shape;
    return zeros([n, this.C, Math.ceil(h / this.stride), Math.ceil(w / this.stride)], { dtype: ref.dtype, device: ref.device });
  }
}

/** Settings of {@link searchCellParts} and {@link discreteCellParts}. */
export interface CellSpec {
  C: number;
  stride: number;
  numInputs: number;
  nodes: number;
  preprocess: nn.Module[];
  /** Partial-channel connections (partial.ts): each edge's operation sees 1/k of the channels; 1 or absent: all. */
  partial?: number;
  /** Edge normalisation (PC-DARTS): search cells weight each node's edges by `edges.<label>` (see {@link searchCellParts}). */
  edgeNorm?: boolean;
}

/** `op` (built for C/k channels) behind a partial-channel connection, or `op` itself when k is 1. */
function partialEdge(op: nn.Module, C: number, k: number, stride: number): nn.Module {
  return k > 1 ? new PartialChannels(op, C, k, stride) : op;
}

/** Whether node `node` of a cell gets an edge-normalisation choice: only when it has more incoming edges than it keeps. */
export const hasEdgeChoice = (numInputs: number, node: number): boolean => predecessors(numInputs, node) > keptPerNode(numInputs, node);

/**
 * A search cell: every (node, input) edge is a MixedOp over `ops`, labelled `<label>.n<i>.i<j>`
 * in group `alphas.<label>` (so cells of one label share alphas). With `edgeNorm`, a node with more
 * incoming edges than it keeps also weights them by an input choice labelled `<label>.n<i>` in
 * group `edges.<label>` (PC-DARTS's edge normalisation: softmax over the node's incoming edges),
 * which decoding multiplies in; a node whose edges are all kept sums them as without it. The
 * choice keeps two edges: under `gumbel-hard` or path sampling it would run fewer, so the search
 * refuses those together (src/search/config.ts).
 */
export function searchCellParts(spec: CellSpec & { label: string; ops: string[] }): CellParts {
  const links: CellLink[] = [];
  // Only nodes with more incoming edges than they keep get edge weights: where every edge is kept
  // there is nothing to decide, and the row would only feed entropy penalties and convergence figures.
  const edgeChoices = spec.edgeNorm
    ? Array.from({ length: spec.nodes }, (_, node) =>
        hasEdgeChoice(spec.numInputs, node)
          ? new InputChoice(predecessors(spec.numInputs, node), {
              label: `${spec.label}.n${node}`,
              group: `edges.${spec.label}`,
              nChosen: keptPerNode(spec.numInputs, node),
            })
          : null,
      )
    : undefined;
  for (let node = 0; node < spec.nodes; node++) {
    for (let input = 0; input < predecessors(spec.numInputs, node); input++) {
      const stride = input < spec.numInputs ? spec.stride : 1;
      const k = spec.partial ?? 1;
      const cands: [string, nn.Module][] = spec.ops.map((name) => [name, createSearchOp(name, spec.C / k, stride)]);
      const mixed = new MixedOp(cands, { label: `${spec.label}.n${node}.i${input}`, group: `alphas.${spec.label}` });
      links.push({ node, input, module: partialEdge(mixed, spec.C, k, stride) });
    }
  }
  return { ...spec, links, edgeChoices };
}

/**
 * A freshly initialised discrete cell of `gene` (grouped by node). By default its operations have
 * the search form ({@link createSearchOp}: BN without affine parameters, BN after pooling), so the
 * cell has the modules and state-dict keys of a derived cell ({@link inheritedCellParts});
 * `affine: true` gives the DARTS evaluation form instead (BN affine, nothing after pooling).
 *
 * @example
 * const cell = new Cell(discreteCellParts({ C: 8, stride: 1, numInputs: 1, nodes: 2, preprocess: [], gene }));
 */
export function discreteCellParts(spec: CellSpec & { gene: CellGenotype[]; affine?: boolean; concat?: number[] }): CellParts {
  const links: CellLink[] = [];
  spec.gene.forEach((edges, node) => {
    for (const [op, input] of edges) {
      const stride = input < spec.numInputs ? spec.stride : 1;
      const k = spec.partial ?? 1;
      const C = spec.C / k;
      links.push({ node, input, module: partialEdge(spec.affine ? createOp(op, C, stride, true) : createSearchOp(op, C, stride), spec.C, k, stride) });
    }
  });
  return { C: spec.C, stride: spec.stride, numInputs: spec.numInputs, nodes: spec.nodes, preprocess: spec.preprocess, links, concat: spec.concat };
}

/**
 * The discrete cell of `gene` made of `cell`'s own modules (a search cell): same preprocess
 * modules, and on each kept edge the chosen candidate of its MixedOp.
 */
export function inheritedCellParts(cell: Cell, gene: CellGenotype[], concat?: number[]): CellParts {
  const links: CellLink[] = [];
  gene.forEach((edges, node) => {
    for (const [op, input] of edges) {
      const edge = cell.ops.at(edgeIndex(cell.numInputs, node, input));
      const mixed = edge instanceof PartialChannels ? edge.op : edge;
      const m = mixed instanceof MixedOp ? mixed.candidate(op) : undefined;
      if (!m) throw new Error(`derive: the supernet has no live candidate '${op}' on edge (node ${node}, input ${input})`);
      links.push({ node, input, module: edge instanceof PartialChannels ? new PartialChannels(m, edge.C, edge.k, edge.stride) : m });
    }
  });
  return { C: cell.C, stride: cell.stride, numInputs: cell.numInputs, nodes: cell.nodes, preprocess: cell.preprocess, links, concat };
}

/**
 * Fixed selections (edge label → op indices) that make a search cell compute `gene`; with `edges`
 * (edge normalisation) also each node's kept inputs (`<label>.n<i>` → input indices).
 */
export function cellSelections(label: string, gene: CellGenotype[], ops: string[], numInputs: number, edges = false): Map<string, number[]> {
  const sel = new Map<string, number[]>();
  if (edges)
    gene.forEach((entries, node) => {
      if (hasEdgeChoice(numInputs, node))
        sel.set(
          `${label}.n${node}`,
          [...new Set(entries.map(([, input]) => input))].sort((a, b) => a - b),
        );
    });
  gene.forEach((_, node) => {
    for (let input = 0; input < predecessors(numInputs, node); input++) sel.set(`${label}.n${node}.i${input}`, []);
  });
  gene.forEach((edges, node) => {
    for (const [op, input] of edges) {
      const k = ops.indexOf(op);
      if (k < 0) throw new Error(`fix: operation '${op}' is not among this space's operations (${ops.join(', ')})`);
      sel.get(`${label}.n${node}.i${input}`)!.push(k);
    }
  });
  return sel;
}
