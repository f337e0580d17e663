/**
 * Relaxations: how architecture logits become the weights of a choice.
 *
 * An {@link ArchGroup} is one architecture parameter tensor (`alphas.normal`, `betas`, ...) of
 * shape [rows, width]: one row per choice label, one column per option. Rows may have fewer
 * options than the width (lattice nodes at the border); the missing columns are masked to -inf
 * before any softmax, so their weight is exactly 0. Each forward pass calls {@link ArchGroup.sample}
 * once; every choice bound to a row then reads that row's {@link RowState}.
 */
import { arange, gumbelLike, keep, randn, tensor, Tensor, tidy } from '../torch';

/**
 * - `softmax`: w = softmax(alpha / tau) (DARTS with tau = 1); every option runs. An annealed tau
 *   sharpens the mixture towards the argmax during the search (ASAP-style annealing).
 * - `gumbel`: w = softmax((alpha + g) / tau), g ~ Gumbel(0, 1); every option runs.
 * - `gumbel-hard`: straight-through one-hot of the Gumbel sample (GDAS); only the sampled option
 *   runs, and its weight (value 1) carries the soft sample's gradient to alpha.
 * - `fixed`: a discrete choice (argmax, or the selection set from a genotype); only the chosen
 *   options run, unweighted, so the supernet computes exactly the discrete network.
 *
 * In evaluation (the group's {@link ArchGroup.isTraining} false: a {@link SearchSpace} whose module
 * is in eval mode) `gumbel` and `gumbel-hard` use their expectation instead of a sample: the
 * `softmax` weights with every option running, so that a supernet's validation score is not noise.
 */
export type RelaxationKind = 'softmax' | 'gumbel' | 'gumbel-hard' | 'fixed';

/** Every relaxation kind, for validation and CLIs. */
export const RELAXATION_KINDS: readonly RelaxationKind[] = ['softmax', 'gumbel', 'gumbel-hard', 'fixed'];

/** The relaxation in force and its (Gumbel) temperature; shared by every group of a space. */
export interface RelaxationSetting {
  kind: RelaxationKind;
  temperature: number;
  /**
   * Soft weights divided by the L2 norm of the weights of each row's options that contribute
   * (zero operations left out), so that a mixture of unit-variance outputs keeps unit variance
   * whether it is uniform or one-hot, and the derived network sees the activation scale the
   * supernet trained with. Done once per group and pass in {@link ArchGroup.sample}.
   */
  normalize?: boolean;
  /**
   * Path sampling (softmax only, in training): each pass runs `samplePaths` options per row, drawn
   * without replacement from the row's distribution p (Gumbel top-k), weighted by p renormalised
   * over them; one option gets the value 1 with p's gradient (straight through, as gumbel-hard).
   * Memory and time then grow with k instead of with the number of options. 0 or unset: all run.
   */
  samplePaths?: number;
}

/**
 * The weights of one row for the current forward pass: `weights[k]` is a 0-dim tensor for each
 * option k in `active`, the options to run (0-dim, so that w * y keeps y's dtype, as a Python
 * scalar would: a bfloat16 output of autocast stays bfloat16); null under `fixed`, where the
 * chosen options are summed unweighted.
 */
export interface RowState {
  weights: Tensor[] | null;
  active: number[];
}

interface Sample {
  weights: Tensor | null;
  selection: number[][];
  rows: Map<number, Tensor[]>;
}

/**
 * One architecture parameter tensor and its relaxation.
 *
 * @example
 * const g = new ArchGroup('alphas.cell', ['e0', 'e1'], [3, 3], [1, 1], { kind: 'softmax', temperature: 1 });
 * g.sample();
 * const { weights, active } = g.row(0); // three weights summing to one, active [0, 1, 2]
 */
export class ArchGroup {
  /** The parameter, [rows, width], a leaf that requires grad (replaced by {@link to}). */
  param: Tensor;
  /** Bool [rows, width], true where a row has no such option; null when every row is full. */
  mask: Tensor | null;
  readonly width: number;
  private readonly fixedSel: (number[] | null)[];
  private current: Sample | null = null;
  /** Float [rows, width]: 1 where an option exists and contributes (made on first use). */
  private sounding: Tensor | null = null;
  /**
   * Whether the network reading this group is training; when false, {@link sample} replaces the
   * Gumbel relaxations by softmax(alpha). Always true unless set (a SearchSpace sets it to its
   * module's `training`).
   */
  isTraining: () => boolean = () => true;

  /**
   * @param name stable parameter name (`alphas.normal`)
   * @param rowLabels one label per row (choice labels)
   * @param counts options available per row
   * @param chosen options kept per row by the default discrete choice (top-k)
   * @param setting the space's relaxation (read at each {@link sample})
   * @param initScale alpha = initScale * N(0, 1), as DARTS (1e-3)
   * @param silent per row, the options that add nothing (zero operations), left out of normalization
   */
  constructor(
    readonly name: string,
    readonly rowLabels: string[],
    readonly counts: number[],
    readonly chosen: number[],
    readonly setting: RelaxationSetting,
    initScale = 1e-3,
    readonly silent: number[][] = [],
  ) {
    if (rowLabels.length === 0) throw new Error(`ArchGroup '${name}': no rows`);
    this.width = Math.max(...counts);
    const rows = rowLabels.length;
    // tidy: the intermediate tensors (the draw before scaling, the index grid) are released.
    this.param = tidy(() => keep(randn([rows, this.width]).mul(initScale).requiresGrad_(true)));
    this.mask = counts.every((c) => c === this.width)
      ? null
      : tidy(() =>
          keep(
            arange(0, this.width, 1, { dtype: 'float32' })
              .reshape([1, this.width])
              .ge(tensor(counts).reshape([rows, 1])),
          ),
        );
    this.fixedSel = rowLabels.map(() => null);
  }

  get rows(): number {
    return this.rowLabels.length;
  }

  /** The row of `label`, or -1. */
  rowOf(label: string): number {
    return this.rowLabels.indexOf(label);
  }

  /** Alpha with the unavailable options at -inf. */
  logits(): Tensor {
    return this.mask ? this.param.maskedFill(this.mask, -Infinity) : this.param;
  }

  /**
   * The architecture distribution per row (differentiable; zeros where masked): the weights the
   * supernet mixes with, softmax(alpha / tau), under `softmax`; softmax(alpha), the distribution
   * the samples are drawn from, under the other relaxations.
   */
  probabilities(): Tensor {
    const { kind, temperature } = this.setting;
    return kind === 'softmax' && temperature !== 1 ? this.logits().div(temperature).softmax(-1) : this.logits().softmax(-1);
  }

  /** Sets (or clears, with null) the discrete selection of `row` used by the `fixed` relaxation. */
  fix(row: number, selection: number[] | null): void {
    if (selection) {
      for (const k of selection) {
        if (!Number.isInteger(k) || k < 0 || k >= this.counts[row]) {
          throw new RangeError(`${this.name}: option ${k} is out of range for '${this.rowLabels[row]}' (${this.counts[row]} options)`);
        }
      }
    }
    this.fixedSel[row] = selection ? [...selection] : null;
    this.current = null;
  }

  /** The `fixed` selection of `row`: the one set by {@link fix}, else the top-k of alpha. */
  selection(row: number, values?: ArrayLike<number>): number[] {
    return this.fixedSel[row] ?? this.top(row, this.chosen[row], values);
  }

  /** The `k` options of `row` with the largest alpha (ties: lower index), in index order. */
  top(row: number, k: number, values?: ArrayLike<number>): number[] {
    const v = values ?? this.param.toArray();
    const opts = Array.from({ length: this.counts[row] }, (_, i) => i);
    opts.sort((a, b) => Number(v[row * this.width + b]) - Number(v[row * this.width + a]) || a - b);
    return opts.slice(0, k).sort((a, b) => a - b);
  }

  /**
   * Draws this forward pass's weights (one Gumbel sample per group and pass; the expected
   * weights, softmax(alpha), with every option running, under `gumbel` / `gumbel-hard` when
   * {@link isTraining} is false).
   */
  sample(): void {
    const { kind, temperature } = this.setting;
    const all = this.counts.map((c) => Array.from({ length: c }, (_, k) => k));
    if (kind === 'fixed') {
      const v = this.param.toArray();
      this.current = { weights: null, selection: this.counts.map((_, r) => this.selection(r, v)), rows: new Map() };
      return;
    }
    if (!(temperature > 0)) throw new RangeError(`${this.name}: temperature must be > 0, got ${temperature}`);
    const logits = this.logits();
    const k = this.setting.samplePaths ?? 0;
    if (kind === 'softmax' && k > 0 && this.isTraining()) {
      this.current = this.sampledPaths(k);
      return;
    }
    if (kind === 'softmax') {
      this.current = { weights: this.normalized(this.probabilities()), selection: all, rows: new Map() };
      return;
    }
    if (!this.isTraining()) {
      this.current = { weights: this.normalized(logits.softmax(-1)), selection: all, rows: new Map() };
      return;
    }
    const soft = logits.add(gumbelLike(logits)).div(temperature).softmax(-1);
    if (kind === 'gumbel') {
      this.current = { weights: this.normalized(soft), selection: all, rows: new Map() };
      return;
    }
    if (kind !== 'gumbel-hard') throw new Error(`${this.name}: unknown relaxation '${kind as string}'`);
    const index = soft.argmax(-1);
    const picked = index.toArray();
    const cols = arange(0, this.width, 1, { device: soft.device }).reshape([1, this.width]);
    const hard = index.reshape([this.rows, 1]).eq(cols).to(soft.dtype);
    // hard - soft.detach() + soft: the value of the one-hot, the gradient of the soft sample.
    const weights = hard.sub(soft.detach()).add(soft);
    this.current = { weights, selection: picked.map((k) => [k]), rows: new Map() };
  }

  /** `k` options per row drawn from p = softmax(alpha / tau) without replacement, weighted by p over them (see {@link RelaxationSetting.samplePaths}). */
  private sampledPaths(k: number): Sample {
    const p = this.probabilities();
    const scores = p.clampMin(1e-30).log().add(gumbelLike(p)).toArray(); // Gumbel top-k = sampling without replacement
    const selection = this.counts.map((c, r) => {
      const opts = Array.from({ length: c }, (_, i) => i);
      opts.sort((a, b) => scores[r * this.width + b] - scores[r * this.width + a] || a - b);
      return opts.slice(0, Math.min(k, opts.length)).sort((a, b) => a - b);
    });
    const on = new Float32Array(this.rows * this.width);
    selection.forEach((s, r) => s.forEach((i) => (on[r * this.width + i] = 1)));
    const m = tensor(on, { shape: [this.rows, this.width], device: p.device });
    const kept = p.mul(m);
    const renorm = kept.div(kept.sum(-1, true).clampMin(1e-30));
    // value renorm (1 for a single option), gradient of p: renorm - (p*m).detach() + p*m
    const weights = k === 1 ? renorm.detach().sub(kept.detach()).add(kept) : renorm;
    return { weights: this.normalized(weights), selection, rows: new Map() };
  }

  /** Soft weights `w` [rows, width] divided per row by the L2 norm of their contributing options (see {@link RelaxationSetting.normalize}). */
  private normalized(w: Tensor): Tensor {
    if (!this.setting.normalize) return w;
    if (!this.sounding || this.sounding.device !== w.device) {
      const on = new Float32Array(this.rows * this.width);
      this.counts.forEach((c, r) => {
        for (let k = 0; k < c; k++) if (!this.silent[r]?.includes(k)) on[r * this.width + k] = 1;
      });
      this.sounding?.dispose();
      this.sounding = keep(tensor(on, { shape: [this.rows, this.width], device: w.device }));
    }
    return w.div(w.mul(this.sounding).square().sum(-1, true).clampMin(1e-24).sqrt());
  }

  /** This pass's weights as [rows, width] (null under `fixed`); samples first when needed. */
  weights(): Tensor | null {
    return this.state().weights;
  }

  /** The state of one row for this pass. */
  row(r: number): RowState {
    const s = this.state();
    if (!s.weights) return { weights: null, active: s.selection[r] };
    const active = s.selection[r];
    let parts = s.rows.get(r);
    if (!parts || !parts[active[0]]?.isLive) {
      // Only the options that run this pass get a weight (the others are never read).
      const row = s.weights.select(0, r);
      parts = [];
      for (const k of active) parts[k] = row.select(0, k);
      s.rows.set(r, parts);
    }
    return { weights: parts, active };
  }

  /** Forgets this pass's sample (the next {@link row} draws a new one). */
  reset(): void {
    this.current = null;
  }

  /** Moves the parameter (a new leaf tensor: make optimizers afterwards) and the mask to `device`. */
  to(device: string): void {
    if (this.param.device === device) return;
    const p = keep(this.param.detach().to(device).requiresGrad_(true));
    const m = this.mask ? keep(this.mask.to(device)) : null;
    this.dispose();
    [this.param, this.mask, this.current] = [p, m, null];
  }

  /** Releases the parameter and the masks. */
  dispose(): void {
    this.param.dispose();
    this.mask?.dispose();
    this.sounding?.dispose();
    this.sounding = null;
  }

  private state(): Sample {
    const c = this.current;
    if (!c || (c.weights && !c.weights.isLive)) this.sample();
    return this.current as Sample;
  }
}
