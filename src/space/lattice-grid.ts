/**
 * The topology of the multi-scale lattice, as plain numbers: which (layer, scale) nodes exist,
 * which inputs each may take, and the network-level decoding rules (Viterbi for the short
 * connectivity, strongest inputs for the dense one).
 *
 * Layer 0 is the stem (scale 0 only, stride 4); layers 1..L are searched. Scale s has stride
 * 4 * 2^s. Node (l, s) exists when s <= min(l, scales - 1): the lattice can go one scale coarser
 * per layer.
 */
import { GenotypeError } from './genotype';

/**
 * 'short': inputs from the neighbouring scales of the previous layer (Auto-DeepLab); 'dense': from
 * the neighbouring scales of every earlier layer; 'fusion': from every node of every earlier layer,
 * at any scale (our form of DCNAS's densely connected space).
 */
export type Connectivity = 'short' | 'dense' | 'fusion';

/** A lattice position: [layer, scale]. */
export type LatticePos = [number, number];

/** The kept network-level structure: each kept node's inputs, and the output scale. */
export interface LatticeKept {
  output: number;
  /** Node label → inputs as [layer, scale], in the order of that node's candidate inputs. */
  inputs: Map<string, LatticePos[]>;
}

/**
 * Lattice topology.
 *
 * @example
 * const g = new LatticeGrid(4, 4, 'short');
 * g.sources(2, 1); // [[1, 0], [1, 1]]
 */
export class LatticeGrid {
  constructor(
    readonly layers: number,
    readonly scales: number,
    readonly connectivity: Connectivity,
  ) {}

  /** Whether node (l, s) exists. */
  exists(l: number, s: number): boolean {
    if (l === 0) return s === 0;
    return l >= 1 && l <= this.layers && s >= 0 && s <= Math.min(l, this.scales - 1);
  }
  /** The scales present at layer l. */
  scalesAt(l: number): number[] {
    return Array.from({ length: this.scales }, (_, s) => s).filter((s) => this.exists(l, s));
  }
  /** Every searched node, layer by layer, finer scales first. */
  nodes(): LatticePos[] {
    const out: LatticePos[] = [];
    for (let l = 1; l <= this.layers; l++) for (const s of this.scalesAt(l)) out.push([l, s]);
    return out;
  }
  /** The label of node (l, s): `l<l>s<s>`. */
  label(l: number, s: number): string {
    return `l${l}s${s}`;
  }

  /**
   * Candidate inputs of node (l, s), by layer then scale: the neighbouring scales of the previous
   * layer (short) or of every earlier layer (dense); every node of every earlier layer (fusion).
   */
  sources(l: number, s: number): LatticePos[] {
    const out: LatticePos[] = [];
    const first = this.connectivity === 'short' ? l - 1 : 0;
    for (let p = first; p < l; p++) {
      const scales = this.connectivity === 'fusion' ? this.scalesAt(p) : [s - 1, s, s + 1];
      for (const t of scales) if (this.exists(p, t)) out.push([p, t]);
    }
    return out;
  }

  /**
   * The best path by Viterbi. A path's score ({@link pathScore}) sums, per layer, log(p * n) of the
   * step it takes, where p is the step's probability among the node's n candidate inputs, plus
   * log(p * n) of the output choice among the n output scales. The factor n makes a uniform
   * choice score 0 wherever it is made, so nodes with fewer candidate inputs (the border of the
   * lattice) get no head start and uniform betas score every path 0. `probs(l, s)` gives node
   * (l, s)'s input probabilities in {@link sources} order; `outProbs` the output's over
   * scalesAt(L). Returns the scale of layers 1..L.
   *
   * Ties (scores within {@link VITERBI_TIE} of each other, the noise of float32 probabilities)
   * go to the finer scale: the finer output scale, then, backwards, the finer previous scale. So
   * uniform betas decode to scale 0 at every layer.
   *
   * @example
   * const g = new LatticeGrid(4, 3, 'short');
   * const uniform = (l: number, s: number) => g.sources(l, s).map((_, i, a) => 1 / a.length);
   * g.viterbi(uniform, [1 / 3, 1 / 3, 1 / 3]); // [0, 0, 0, 0]: every path scores 0, ties go finer
   */
  viterbi(probs: (l: number, s: number) => number[], outProbs: number[]): number[] {
    const score = new Map<string, number>([[this.label(0, 0), 0]]);
    const back = new Map<string, number>();
    for (const [l, s] of this.nodes()) {
      const p = probs(l, s);
      const src = this.sources(l, s);
      let best = -Infinity,
        arg = -1;
      src.forEach(([pl, ps], i) => {
        const v = (score.get(this.label(pl, ps)) ?? -Infinity) + stepScore(p[i], src.length);
        if (arg < 0 || v > best + VITERBI_TIE) {
          best = v;
          arg = ps;
        }
      });
      score.set(this.label(l, s), best);
      back.set(this.label(l, s), arg);
    }
    const outScales = this.scalesAt(this.layers);
    let best = -Infinity,
      s = -1;
    outScales.forEach((t, i) => {
      const v = score.get(this.label(this.layers, t))! + stepScore(outProbs[i], outScales.length);
      if (s < 0 || v > best + VITERBI_TIE) {
        best = v;
        s = t;
      }
    });
    const path = [s];
    for (let l = this.layers; l > 1; l--) path.unshift(back.get(this.label(l, path[0]))!);
    return path;
  }

  /**
   * The score {@link viterbi} maximises, of one path (scale per layer 1..L, checked): the sum
   * over its steps of log(p * n), p the step's probability among the n candidate inputs of the
   * node it enters, plus log(p * n) of its output scale among the n output scales. 0 under
   * uniform probabilities, whatever the path.
   *
   * @example
   * g.pathScore([0, 1, 1, 2], probs, outProbs); // -Infinity if a step has probability 0
   */
  pathScore(path: number[], probs: (l: number, s: number) => number[], outProbs: number[]): number {
    this.fromPath(path);
    let total = 0;
    let prev = 0;
    path.forEach((s, i) => {
      const src = this.sources(i + 1, s);
      const k = src.findIndex(([a, b]) => a === i && b === prev);
      total += stepScore(probs(i + 1, s)[k], src.length);
      prev = s;
    });
    const outScales = this.scalesAt(this.layers);
    return total + stepScore(outProbs[outScales.indexOf(prev)], outScales.length);
  }

  /**
   * Every valid path (scale per layer 1..L), finer scales first. Their number grows like 3^L
   * (4 layers, 3 scales: 29 paths); meant for tests and small lattices.
   *
   * @example
   * new LatticeGrid(2, 3, 'short').paths(); // [[0, 0], [0, 1], [1, 0], [1, 1], [1, 2]]
   */
  paths(): number[][] {
    const out: number[][] = [];
    const walk = (prefix: number[], prev: number) => {
      const l = prefix.length + 1;
      if (l > this.layers) {
        out.push(prefix);
        return;
      }
      for (const s of [prev - 1, prev, prev + 1]) if (this.exists(l, s)) walk([...prefix, s], s);
    };
    walk([], 0);
    return out;
  }

  /**
   * Number of valid paths from node (l, s) to the last layer (1 at the last layer): how many
   * completions a path through (l, s) has. Used to draw a path uniformly at random.
   *
   * @example
   * new LatticeGrid(2, 3, 'short').completions(0, 0); // 5: all paths
   */
  completions(l: number, s: number): number {
    if (!this.exists(l, s)) return 0;
    let row = new Map<number, number>(this.scalesAt(this.layers).map((t) => [t, 1]));
    for (let p = this.layers - 1; p >= l; p--) {
      const next = new Map<number, number>();
      for (const t of this.scalesAt(p))
        next.set(
          t,
          [t - 1, t, t + 1].reduce((a, u) => a + (row.get(u) ?? 0), 0),
        );
      row = next;
    }
    return row.get(s) ?? 0;
  }

  /**
   * Dense decoding: the strongest output scale, then, from the output backwards, each needed
   * node's `k` strongest inputs (ties: earlier input).
   */
  strongest(probs: (l: number, s: number) => number[], outProbs: number[], k: number): LatticeKept {
    const top = (p: number[], n: number) =>
      p
        .map((v, i) => [v, i])
        .sort((a, b) => b[0] - a[0] || a[1] - b[1])
        .slice(0, n)
        .map(([, i]) => i)
        .sort((a, b) => a - b);
    const output = this.scalesAt(this.layers)[top(outProbs, 1)[0]];
    const inputs = new Map<string, LatticePos[]>();
    const todo: LatticePos[] = [[this.layers, output]];
    while (todo.length) {
      const [l, s] = todo.pop()!;
      if (inputs.has(this.label(l, s))) continue;
      const src = this.sources(l, s);
      const kept = top(probs(l, s), Math.min(k, src.length)).map((i) => src[i]);
      inputs.set(this.label(l, s), kept);
      for (const [pl, ps] of kept) if (pl >= 1) todo.push([pl, ps]);
    }
    return { output, inputs: sortByPosition(inputs) };
  }

  /** The kept structure of a path (scale per layer 1..L), checked. */
  fromPath(path: number[]): LatticeKept {
    if (path.length !== this.layers) throw new GenotypeError(`genotype.path: ${path.length} scales, expected one per layer (${this.layers})`);
    const inputs = new Map<string, LatticePos[]>();
    let prev: LatticePos = [0, 0];
    path.forEach((s, i) => {
      const l = i + 1;
      if (!this.exists(l, s) || !this.sources(l, s).some(([a, b]) => a === prev[0] && b === prev[1])) {
        throw new GenotypeError(
          `genotype.path[${i}]: scale ${s} at layer ${l} cannot follow scale ${prev[1]} (one scale step per layer, scales 0..${Math.min(l, this.scales - 1)})`,
        );
      }
      inputs.set(this.label(l, s), [prev]);
      prev = [l, s];
    });
    return { output: path[path.length - 1], inputs };
  }

  /** The kept structure of a dense genotype (`output`, `inputs`), checked: every kept node must be used. */
  fromInputs(output: number, given: Record<string, LatticePos[]>): LatticeKept {
    if (!this.scalesAt(this.layers).includes(output)) throw new GenotypeError(`genotype.output: scale ${output} does not exist at the last layer`);
    const inputs = new Map<string, LatticePos[]>();
    const todo: LatticePos[] = [[this.layers, output]];
    while (todo.length) {
      const [l, s] = todo.pop()!;
      const label = this.label(l, s);
      if (inputs.has(label)) continue;
      const ins = given[label];
      if (!ins) throw new GenotypeError(`genotype.inputs: node '${label}' is used but has no entry`);
      const src = this.sources(l, s);
      for (const p of ins) {
        if (!src.some(([a, b]) => a === p[0] && b === p[1])) throw new GenotypeError(`genotype.inputs.${label}: [${p}] is not a candidate input of ${label}`);
      }
      inputs.set(
        label,
        src.filter(([a, b]) => ins.some((p) => p[0] === a && p[1] === b)),
      );
      for (const [pl, ps] of ins) if (pl >= 1) todo.push([pl, ps]);
    }
    for (const label of Object.keys(given)) if (!inputs.has(label)) throw new GenotypeError(`genotype.inputs.${label}: not a node used by the output`);
    return { output, inputs: sortByPosition(inputs) };
  }
}

/**
 * Viterbi scores closer than this are ties: float32 softmax of equal logits is 1/n only to about
 * 3e-8 per step, and the tie-break must not depend on that noise.
 */
export const VITERBI_TIE = 1e-6;

/** One step of a path: log(p * n), 0 for a uniform choice among n options. */
const stepScore = (p: number, n: number): number => Math.log(p * n);

function sortByPosition(m: Map<string, LatticePos[]>): Map<string, LatticePos[]> {
  const key = (label: string) => label.slice(1).split('s').map(Number);
  return new Map([...m].sort(([a], [b]) => key(a)[0] - key(b)[0] || key(a)[1] - key(b)[1]));
}
