/**
 * SearchSpace: a supernet module plus its architecture parameters, kept apart from the weights.
 * It binds every labelled choice of the module to a row of an {@link ArchGroup}, draws the
 * relaxation once per forward pass, decodes genotypes and derives discrete networks. A space
 * knows nothing about the strategy that trains it.
 */
import { Rng } from '../data/rng';
import { getRngState, nn, Placement, setRngState, tensor, Tensor } from '../torch';
import type { MacProfile } from './cost';
import { Choice, InputChoice, MixedOp } from './choices';
import { Genotype, GenotypeError, validateGenotype } from './genotype';
import { isZeroOp, ZERO_OP } from './ops';
import { uniformSubset } from './random';
import { ArchGroup, RELAXATION_KINDS, RelaxationKind, RelaxationSetting } from './relaxation';

/** Options of {@link SearchSpace.derive}. */
export interface DeriveOptions {
  /** Dispose the supernet tensors the discrete network does not use (the supernet is then dead). */
  release: boolean;
}

/** A genotype object, typed or straight from JSON (it is validated on use). */
export type GenotypeLike = Genotype | Record<string, unknown>;

/**
 * Disposes every parameter and buffer of `supernet` that `kept` does not hold (same tensors).
 *
 * @example
 * releaseExcept(space.module, derived); // pruned candidates are freed, kept ones untouched
 */
export function releaseExcept(supernet: nn.Module, kept: nn.Module): void {
  const live = new Set<number>();
  for (const [, t] of kept.namedParameters()) live.add(t.handle);
  for (const [, t] of kept.namedBuffers()) live.add(t.handle);
  for (const m of supernet.modules()) {
    for (const [, t] of [...m.namedParameters(), ...m.namedBuffers()]) if (!live.has(t.handle) && !t.disposed) t.dispose();
  }
}

/**
 * Base class of every search space.
 *
 * @example
 * const space = new DartsSpace({ C: 8, layers: 5 });
 * space.setRelaxation('gumbel-hard', 5);
 * const logits = space.forward(x);
 * const opt = new optim.Adam(space.archParameters(), { lr: 3e-4 });
 */
export abstract class SearchSpace {
  /** The relaxation in force; change it with {@link setRelaxation}. */
  readonly relaxation: RelaxationSetting = { kind: 'softmax', temperature: 1, normalize: false };
  private readonly groups = new Map<string, ArchGroup>();
  private readonly labels = new Map<string, { group: ArchGroup; row: number }>();
  private readonly bound: Choice[] = [];

  /**
   * @param name the space name written into genotypes
   * @param module the supernet (its choices are bound here)
   * @param initScale architecture parameters start at initScale * N(0, 1)
   */
  protected constructor(
    readonly name: string,
    readonly module: nn.Module,
    initScale = 1e-3,
  ) {
    const rows = new Map<string, { labels: string[]; counts: number[]; chosen: number[]; names: string[][]; silent: number[][] }>();
    const groupOf = new Map<string, string>();
    for (const m of module.modules()) {
      if (!(m instanceof Choice)) continue;
      this.bound.push(m);
      const prev = groupOf.get(m.label);
      if (prev !== undefined && prev !== m.group) throw new Error(`choice '${m.label}' appears in groups '${prev}' and '${m.group}'`);
      groupOf.set(m.label, m.group);
      const g = rows.get(m.group) ?? { labels: [], counts: [], chosen: [], names: [], silent: [] };
      rows.set(m.group, g);
      const r = g.labels.indexOf(m.label);
      if (r < 0) {
        g.labels.push(m.label);
        g.counts.push(m.optionNames.length);
        g.chosen.push(m.numChosen);
        g.names.push(m.optionNames);
        g.silent.push(m.silentOptions());
      } else if (g.names[r].join('\u0000') !== m.optionNames.join('\u0000')) {
        throw new Error(`choices labelled '${m.label}' have different options: [${g.names[r]}] vs [${m.optionNames}]`);
      }
    }
    for (const [name, g] of rows) {
      const group = new ArchGroup(name, g.labels, g.counts, g.chosen, this.relaxation, initScale, g.silent);
      this.groups.set(name, group);
      g.labels.forEach((l, row) => this.labels.set(l, { group, row }));
    }
    for (const c of this.bound) c.binding = this.labels.get(c.label) ?? null;
    for (const g of this.groups.values()) g.isTraining = () => this.module.training;
  }

  /**
   * Runs the supernet on `x` with a fresh draw of the relaxation. In eval mode
   * (`module.training` false) `gumbel` and `gumbel-hard` draw nothing: they use softmax(alpha)
   * with every option running, so two evaluations of the same input agree.
   */
  forward(x: Tensor): Tensor {
    this.resample();
    return this.module.forward(x) as Tensor;
  }

  /** Draws new relaxation weights for the next pass (forward() does it itself; see {@link forward} for eval mode). */
  resample(): void {
    for (const g of this.groups.values()) g.sample();
  }

  /** Architecture parameters with stable names (`alphas.normal`, `betas`, ...). */
  namedArchParameters(): [string, Tensor][] {
    return [...this.groups].map(([n, g]) => [n, g.param]);
  }
  archParameters(): Tensor[] {
    return this.namedArchParameters().map(([, p]) => p);
  }
  /** The supernet's weights with their state-dict names; never an architecture parameter. */
  namedWeightParameters(): [string, Tensor][] {
    const arch = new Set(this.archParameters().map((p) => p.handle));
    return this.module.namedParameters().filter(([, p]) => !arch.has(p.handle));
  }
  weightParameters(): Tensor[] {
    return this.namedWeightParameters().map(([, p]) => p);
  }

  /** The architecture parameter groups by name. */
  archGroups(): [string, ArchGroup][] {
    return [...this.groups];
  }
  /** The bound choices, in module order. */
  choices(): Choice[] {
    return [...this.bound];
  }
  /** The group and row of the choice labelled `label`. */
  rowOf(label: string): { group: ArchGroup; row: number } {
    const r = this.labels.get(label);
    if (!r) throw new GenotypeError(`${this.name}: no choice labelled '${label}'`);
    return r;
  }

  /** Chooses the relaxation and, optionally, the temperature. */
  setRelaxation(kind: RelaxationKind, temperature?: number): void {
    if (!RELAXATION_KINDS.includes(kind)) throw new RangeError(`setRelaxation: unknown kind '${kind}'; expected ${RELAXATION_KINDS.join(', ')}`);
    this.relaxation.kind = kind;
    if (temperature !== undefined) this.setTemperature(temperature);
    for (const g of this.groups.values()) g.reset();
  }
  /**
   * Whether soft mixtures are divided by the L2 norm of their weights (see
   * {@link RelaxationSetting.normalize}); off by default, as DARTS.
   */
  /**
   * Path sampling: `k` options per choice run in each training pass under softmax (see
   * {@link RelaxationSetting.samplePaths}); 0 runs all of them.
   */
  setPathSampling(k: number): void {
    if (!Number.isInteger(k) || k < 0) throw new RangeError(`setPathSampling: k must be a non-negative integer, got ${k}`);
    this.relaxation.samplePaths = k;
    for (const g of this.groups.values()) g.reset();
  }
  setNormalization(on: boolean): void {
    this.relaxation.normalize = on;
    for (const g of this.groups.values()) g.reset();
  }

  /** Sets the Gumbel temperature (strategies anneal it). */
  setTemperature(t: number): void {
    if (!(t > 0)) throw new RangeError(`setTemperature: temperature must be > 0, got ${t}`);
    this.relaxation.temperature = t;
  }

  /** softmax(alpha) per group, [rows, options] (differentiable; masked options are 0). */
  relaxationWeights(): [string, Tensor][] {
    return [...this.groups].map(([n, g]) => [n, g.probabilities()]);
  }
  /** The weights the current pass uses per group (null under `fixed`). */
  sampledWeights(): [string, Tensor | null][] {
    return [...this.groups].map(([n, g]) => [n, g.weights()]);
  }

  /**
   * The edge-normalisation weights of the cells labelled `label` (softmax over each node's
   * incoming edges, in edgeIndex order), or undefined when they have none.
   */
  protected cellEdgeWeights(label: string, numInputs: number, nodes: number): number[] | undefined {
    const group = this.groups.get(`edges.${label}`);
    if (!group) return undefined;
    const p = group.probabilities().detach();
    const v = p.toArray();
    p.dispose();
    const out: number[] = [];
    for (let i = 0; i < nodes; i++) {
      const r = this.labels.get(`${label}.n${i}`); // none: a node that keeps all its edges (weight 1)
      for (let j = 0; j < numInputs + i; j++) out.push(r ? v[r.row * group.width + j] : 1);
    }
    return out;
  }

  /** Sets the discrete selection of each listed label and switches to the `fixed` relaxation. */
  protected fixLabels(selection: Map<string, number[] | null>): void {
    for (const [label, sel] of selection) {
      const { group, row } = this.rowOf(label);
      group.fix(row, sel);
    }
    this.setRelaxation('fixed');
  }
  /** Clears every selection set by fix(); `fixed` then means argmax again. */
  unfix(): void {
    for (const g of this.groups.values()) for (let r = 0; r < g.rows; r++) g.fix(r, null);
  }

  /**
   * Moves the supernet and the architecture parameters to `device`, and/or lays the supernet's
   * 4-D weights out in `memoryFormat`. The weights change in place (Module.to); the architecture
   * parameters become new tensors on a move: create the optimizers afterwards.
   *
   * @example
   * space.to({ device: 'cpu', memoryFormat: 'channelsLast' }); // convolutions then run NHWC
   */
  to(target: string | Placement): this {
    const { device, memoryFormat } = typeof target === 'string' ? { device: target, memoryFormat: undefined } : target;
    this.module.to({ device, memoryFormat });
    if (device !== undefined) for (const g of this.groups.values()) g.to(device);
    return this;
  }

  /** Training mode on the supernet. */
  train(mode = true): this {
    this.module.train(mode);
    return this;
  }
  eval(): this {
    return this.train(false);
  }

  /** The architecture the current parameters decode to. */
  abstract decode(): Genotype;
  /** Makes the supernet compute exactly `genotype`'s network (`fixed` relaxation). */
  abstract fix(genotype: GenotypeLike): void;
  /** The discrete network of `genotype` made of the supernet's own modules (same tensors). */
  abstract derive(genotype: GenotypeLike, opts: DeriveOptions): nn.Module;
  /** A freshly initialised discrete network of `genotype` (the two-stage baseline). */
  abstract build(genotype: GenotypeLike): nn.Module;

  /**
   * A random architecture of this space (a random-search control), drawn uniformly choice by
   * choice (never the zero operation `none`) from a small seeded generator: the same seed gives
   * the same genotype. It validates and fits this space ({@link fix}, {@link derive},
   * {@link build} accept it). The built-in spaces implement it; the default throws.
   *
   * @example
   * const controls = [1, 2, 3].map((seed) => space.build(space.randomGenotype(seed)));
   */
  randomGenotype(seed: number): Genotype {
    throw new Error(`${this.constructor.name}.randomGenotype(${seed}): not implemented for space '${this.name}'`);
  }

  /** Validates `genotype` and checks that it names this space. */
  protected checkGenotype(genotype: GenotypeLike): Genotype {
    const g = validateGenotype(genotype);
    if (g.space !== this.name) throw new GenotypeError(`genotype.space: '${g.space}' does not fit this '${this.name}' space`);
    return g;
  }

  /**
   * Expected multiply-adds under the architecture distribution (differentiable in alpha): the
   * operations outside choices at their profiled cost, plus sum_k p_k * cost_k for each mixed
   * operation. `profile` must come from a softmax pass (see profileMacs), so that every candidate ran.
   */
  expectedCost(profile: MacProfile): Tensor {
    let base = profile.total;
    const tables = new Map<ArchGroup, Float64Array>();
    for (const c of this.bound) {
      if (!(c instanceof MixedOp) || !c.binding) continue;
      const { group, row } = c.binding;
      const t = tables.get(group) ?? new Float64Array(group.rows * group.width);
      tables.set(group, t);
      c.names.forEach((_, k) => {
        const m = c.candidate(k);
        const v = m ? profile.of(m) : 0;
        t[row * group.width + k] += v;
        base -= v;
      });
    }
    const device = this.archParameters()[0]?.device ?? 'cpu';
    let total = tensor([base], { device }).sum();
    for (const [g, t] of tables)
      total = total.add(
        g
          .probabilities()
          .mul(tensor(Float32Array.from(t), { shape: [g.rows, g.width], device }))
          .sum(),
      );
    return total;
  }

  /**
   * Releases the architecture parameters only (after derive with `release`, when the derived
   * network is all that is left of the supernet).
   */
  releaseArchitecture(): void {
    for (const g of this.groups.values()) g.dispose();
  }

  /** Releases the supernet and the architecture parameters. */
  dispose(): void {
    this.module.dispose();
    for (const g of this.groups.values()) g.dispose();
  }
}

/**
 * A user-declared space: any module tree with {@link MixedOp} / {@link InputChoice} inside.
 * `factory` builds the supernet (and, for {@link build}, fresh copies). Genotypes use `choices`:
 * label → candidate name (layer choice) or input indices (input choice).
 *
 * @example
 * const space = new CustomSpace(() => new MyNet(), { name: 'mynet' });
 * const g = space.decode(); // { version: 1, space: 'mynet', choices: { block1: 'conv', skip: [0] } }
 */
export class CustomSpace extends SearchSpace {
  constructor(
    readonly factory: () => nn.Module,
    opts: { name?: string; initScale?: number } = {},
  ) {
    super(opts.name ?? 'custom', factory(), opts.initScale);
  }

  decode(): Genotype {
    const choices: Record<string, string | number[]> = {};
    const values = new Map(this.archGroups().map(([, g]) => [g, g.param.toArray()]));
    for (const c of this.choices()) {
      if (c.label in choices) continue;
      const { group, row } = this.rowOf(c.label);
      const sel = group.top(row, c.numChosen, values.get(group));
      choices[c.label] = c instanceof MixedOp ? c.names[sel[0]] : sel;
    }
    return { version: 1, space: this.name, choices };
  }

  /** Selections per label from a genotype's `choices` (every label must be present). */
  private selections(genotype: GenotypeLike): Map<string, number[]> {
    const g = this.checkGenotype(genotype);
    const out = new Map<string, number[]>();
    const given = g.choices ?? {};
    for (const c of this.choices()) {
      const v = given[c.label];
      if (v === undefined) throw new GenotypeError(`genotype.choices: missing label '${c.label}'`);
      if (c instanceof MixedOp) {
        const k = typeof v === 'string' ? c.names.indexOf(v) : -1;
        if (k < 0) throw new GenotypeError(`genotype.choices.${c.label}: ${JSON.stringify(v)} is not one of ${c.names.join(', ')}`);
        out.set(c.label, [k]);
      } else if (c instanceof InputChoice) {
        if (!Array.isArray(v) || v.some((i) => i >= c.nCandidates))
          throw new GenotypeError(`genotype.choices.${c.label}: expected input indices below ${c.nCandidates}`);
        out.set(c.label, v);
      }
    }
    for (const l of Object.keys(given)) this.rowOf(l);
    return out;
  }

  fix(genotype: GenotypeLike): void {
    this.fixLabels(this.selections(genotype));
  }

  /**
   * A random architecture: each label's layer choice uniform among its candidates other than
   * `none` (every candidate when that is all there is), each input choice's `nChosen` inputs a
   * uniform subset (ascending). Deterministic for a seed.
   *
   * @example
   * space.randomGenotype(3); // { version: 1, space: 'mynet', choices: { block1: 'skip', skip: [1] } }
   */
  override randomGenotype(seed: number): Genotype {
    const rng = new Rng(seed);
    const choices: Record<string, string | number[]> = {};
    for (const c of this.choices()) {
      if (c.label in choices) continue;
      if (c instanceof MixedOp) {
        const usable = c.names.filter((n) => {
          const m = c.candidate(n);
          return n !== ZERO_OP && !(m && isZeroOp(m));
        });
        const from = usable.length ? usable : c.names;
        choices[c.label] = from[rng.int(from.length)];
      } else if (c instanceof InputChoice) {
        choices[c.label] = uniformSubset(rng, c.nCandidates, c.nChosen);
      }
    }
    return { version: 1, space: this.name, choices };
  }

  /**
   * The discrete network of `genotype`. With `release`, the supernet itself: its choices are
   * frozen in place and unselected candidates disposed (the supernet becomes the network). Without
   * it, a second copy of the module tree from the factory, its choices frozen, whose parameters and
   * buffers are then replaced by the supernet's own tensors (same names); the supernet is untouched
   * and the global random state is as before (the factory's initialisation draws are undone).
   * The factory must build the same tree every time, and modules must read their tensors through
   * getParameter / getBuffer (or getters over them), never keep them in fields of their own: both
   * are checked.
   */
  derive(genotype: GenotypeLike, opts: DeriveOptions): nn.Module {
    const sel = this.selections(genotype);
    if (opts.release) {
      for (const c of this.choices()) c.freeze(sel.get(c.label)!, true);
      return this.module;
    }
    const rng = getRngState();
    let copy: nn.Module;
    try {
      copy = this.factory();
    } finally {
      setRngState(rng);
      rng.dispose();
    }
    try {
      for (const c of copy.modules()) if (c instanceof Choice) c.freeze(sel.get(c.label) ?? [], true);
      shareTensors(copy, this.module, this.name);
    } catch (e) {
      copy.dispose();
      throw e;
    }
    return copy;
  }

  build(genotype: GenotypeLike): nn.Module {
    const sel = this.selections(genotype);
    const m = this.factory();
    for (const c of m.modules()) if (c instanceof Choice) c.freeze(sel.get(c.label) ?? [], true);
    return m;
  }
}

/**
 * Makes `copy` use `source`'s tensors: each parameter and buffer of `copy` is replaced by the one
 * of the same name in `source` (same shape), and its own freshly made tensor is disposed. Every
 * check runs before anything is replaced, so a refused copy is disposed without touching the
 * supernet: the trees must match, and no module may hold one of its tensors in a field of its own
 * (it would keep computing with the fresh tensor).
 */
function shareTensors(copy: nn.Module, source: nn.Module, space: string): void {
  const fail = (what: string): never => {
    throw new Error(`space '${space}': ${what}; the factory must build the same module tree on every call`);
  };
  const sourceModules = new Map(source.namedModules());
  const own = (entries: [string, Tensor][]) => entries.filter(([n]) => !n.includes('.'));
  const swaps: (() => void)[] = [];
  const fresh = new Set<Tensor>();
  for (const [name, m] of copy.namedModules()) {
    const src = sourceModules.get(name);
    if (!src || src.constructor !== m.constructor) return fail(`the supernet has no ${m.constructor.name} at '${name || 'the root'}'`);
    const at = (n: string) => `'${name ? name + '.' : ''}${n}'`;
    for (const [n, t] of own(m.namedParameters())) {
      const s = src.getParameter(n);
      if (!s || s.shape.join() !== t.shape.join()) fail(`parameter ${at(n)} differs from the supernet's`);
      fresh.add(t);
      swaps.push(() => m.setParameter(n, s));
    }
    for (const [n, t] of own(m.namedBuffers())) {
      const s = src.getBuffer(n);
      if (!s || s.shape.join() !== t.shape.join()) fail(`buffer ${at(n)} differs from the supernet's`);
      fresh.add(t);
      swaps.push(() => m.setBuffer(n, s));
    }
  }
  for (const [name, m] of copy.namedModules()) {
    for (const [field, v] of Object.entries(m)) {
      const held = Array.isArray(v) ? v : [v];
      if (held.some((x) => x instanceof Tensor && fresh.has(x))) {
        throw new Error(
          `space '${space}': ${m.constructor.name} at '${name || 'the root'}' keeps a parameter or buffer in its field '${field}'; read it with getParameter/getBuffer (for example a getter) so that derived networks can share the supernet's tensors`,
        );
      }
    }
  }
  for (const swap of swaps) swap();
  for (const t of fresh) t.dispose();
}
