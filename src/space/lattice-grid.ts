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

/** 'short': inputs from the previous layer only (Auto-DeepLab); 'dense': from every earlier layer (DCNAS-like). */
export type Connectivity = 'short' | 'dense';

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
  constructor(readonly layers: number, readonly scales: number, readonly connectivity: Connectivity) {}

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
  label(l: number, s: number): string { return `l${l}s${s}`; }

  /** Candidate inputs of node (l, s): neighbouring scales of the previous layer (short) or of every earlier layer (dense). */
  sources(l: number, s: number): LatticePos[] {
    const out: LatticePos[] = [];
    const first = this.connectivity === 'short' ? l - 1 : 0;
    for (let p = first; p < l; p++) for (const t of [s - 1, s, s + 1]) if (this.exists(p, t)) out.push([p, t]);
    return out;
  }

  /**
   * The most probable path (Viterbi over log probabilities). `probs(l, s)` gives node (l, s)'s
   * input probabilities in {@link sources} order; `outProbs` the output's over scalesAt(L).
   * Returns the scale of layers 1..L. Ties go to the finer scale.
   */
  viterbi(probs: (l: number, s: number) => number[], outProbs: number[]): number[] {
    const score = new Map<string, number>([[this.label(0, 0), 0]]);
    const back = new Map<string, number>();
    for (const [l, s] of this.nodes()) {
      const p = probs(l, s);
      let best = -Infinity, arg = -1;
      this.sources(l, s).forEach(([pl, ps], i) => {
        const v = (score.get(this.label(pl, ps)) ?? -Infinity) + Math.log(p[i]);
        if (v > best || arg < 0) { best = v; arg = ps; }
      });
      score.set(this.label(l, s), best);
      back.set(this.label(l, s), arg);
    }
    let best = -Infinity, s = -1;
    this.scalesAt(this.layers).forEach((t, i) => {
      const v = score.get(this.label(this.layers, t))! + Math.log(outProbs[i]);
      if (v > best || s < 0) { best = v; s = t; }
    });
    const path = [s];
    for (let l = this.layers; l > 1; l--) path.unshift(back.get(this.label(l, path[0]))!);
    return path;
  }

  /**
   * Dense decoding: the strongest output scale, then, from the output backwards, each needed
   * node's `k` strongest inputs (ties: earlier input).
   */
  strongest(probs: (l: number, s: number) => number[], outProbs: number[], k: number): LatticeKept {
    const top = (p: number[], n: number) => p.map((v, i) => [v, i]).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, n).map(([, i]) => i).sort((a, b) => a - b);
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
        throw new GenotypeError(`genotype.path[${i}]: scale ${s} at layer ${l} cannot follow scale ${prev[1]} (one scale step per layer, scales 0..${Math.min(l, this.scales - 1)})`);
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
      inputs.set(label, src.filter(([a, b]) => ins.some((p) => p[0] === a && p[1] === b)));
      for (const [pl, ps] of ins) if (pl >= 1) todo.push([pl, ps]);
    }
    for (const label of Object.keys(given)) if (!inputs.has(label)) throw new GenotypeError(`genotype.inputs.${label}: not a node used by the output`);
    return { output, inputs: sortByPosition(inputs) };
  }
}

function sortByPosition(m: Map<string, LatticePos[]>): Map<string, LatticePos[]> {
  const key = (label: string) => label.slice(1).split('s').map(Number);
  return new Map([...m].sort(([a], [b]) => key(a)[0] - key(b)[0] || key(a)[1] - key(b)[1]));
}
