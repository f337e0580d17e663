/**
 * Labelled choices, NNI style: a {@link MixedOp} (alias {@link LayerChoice}) chooses among named
 * candidate modules, an {@link InputChoice} among candidate inputs. A choice holds no parameter:
 * a {@link SearchSpace} binds it to one row of an architecture parameter group, and choices that
 * share a label share the row (DARTS shares `alphas.normal` between all normal cells this way).
 *
 * Every choice follows one template: get the row's weights → process them with the relaxation
 * (done once per pass by the group) → apply (weighted sum of the options that must run).
 */
import { nn, Tensor } from '../torch';
import { isZeroOp, Zero } from './ops';
import { ArchGroup, RowState } from './relaxation';

/** How a choice is identified and grouped. */
export interface ChoiceOptions {
  /** The choice's label: the key of its decision in a genotype. Equal labels share weights. */
  label: string;
  /** The architecture parameter (group) name; default `alphas.<label>` / `betas.<label>`. */
  group?: string;
}

/** A candidate input: a tensor, or a function that computes it only if it is needed. */
export type LazyInput = Tensor | (() => Tensor);

/** Base class of {@link MixedOp} and {@link InputChoice}. */
export abstract class Choice extends nn.Module {
  readonly label: string;
  readonly group: string;
  /** @internal Set by SearchSpace: the parameter row this choice reads. */
  binding: { group: ArchGroup; row: number } | null = null;
  /** A frozen choice runs its `frozen` options unweighted (set by {@link freeze}). */
  frozen: number[] | null = null;

  protected constructor(opts: ChoiceOptions, defaultPrefix: string) {
    super();
    if (!opts || typeof opts.label !== 'string' || !opts.label) throw new TypeError(`${this.constructor.name}: a non-empty label is required`);
    this.label = opts.label;
    this.group = opts.group ?? `${defaultPrefix}.${opts.label}`;
  }

  /** Option names (candidate names, or input names). */
  abstract get optionNames(): string[];
  /** How many options the default discrete choice keeps (1 for a layer choice). */
  abstract get numChosen(): number;

  /** The weights and options to run in this pass (the template's "get" and "process"). */
  protected rowState(): RowState {
    if (this.frozen) return { weights: null, active: this.frozen };
    if (!this.binding) {
      throw new Error(`${this.constructor.name} '${this.label}' is not bound to a search space; wrap the network in a SearchSpace (e.g. new CustomSpace(...))`);
    }
    return this.binding.group.row(this.binding.row);
  }

  /** Fixes this choice to `selection` for good; with `release`, unselected candidates are disposed. */
  abstract freeze(selection: number[], release: boolean): void;

  /** Options that add nothing to the output (zero operations); normalized mixtures leave them out. */
  silentOptions(): number[] {
    return [];
  }
}

/**
 * A choice among named candidate modules (the DARTS mixed operation): the output is the
 * relaxation-weighted sum of the candidates' outputs.
 *
 * @example
 * const op = new MixedOp({ conv: new nn.Conv2d(8, 8, 3, { padding: 1 }), skip: new nn.Identity() }, { label: 'block1' });
 * const space = new CustomSpace(() => new nn.Sequential(op)); // binds `alphas.block1`
 */
export class MixedOp extends Choice {
  readonly names: string[];
  private readonly cands: (nn.Module | null)[];

  constructor(candidates: Record<string, nn.Module> | [string, nn.Module][], opts: ChoiceOptions) {
    super(opts, 'alphas');
    const entries = Array.isArray(candidates) ? candidates : Object.entries(candidates);
    if (entries.length === 0) throw new Error(`MixedOp '${opts.label}': no candidates`);
    this.names = entries.map(([n]) => n);
    if (new Set(this.names).size !== this.names.length) throw new Error(`MixedOp '${opts.label}': duplicate candidate names`);
    this.cands = entries.map(([n, m]) => this.registerModule(n, m));
  }

  get optionNames(): string[] {
    return [...this.names];
  }
  get numChosen(): number {
    return 1;
  }

  override silentOptions(): number[] {
    return this.cands.flatMap((m, k) => (m && isZeroOp(m) ? [k] : []));
  }

  /** The candidate `k` (index or name); undefined once released. */
  candidate(k: number | string): nn.Module | undefined {
    const i = typeof k === 'number' ? k : this.names.indexOf(k);
    return this.cands[i] ?? undefined;
  }

  /** Whether any option runs in this pass (false: a fixed or frozen selection that keeps none, an edge the genotype dropped). */
  selectsAny(): boolean {
    return this.rowState().active.length > 0;
  }

  /**
   * The weighted sum of the candidates that run in this pass, or null when none contributes
   * (only zero operations chosen). Cells sum contributions and skip nulls.
   */
  contribution(...xs: Tensor[]): Tensor | null {
    return this.apply(xs, this.rowState());
  }

  /** Like {@link contribution}, with zeros (of the zero candidate's shape) instead of null. */
  forward(...xs: Tensor[]): Tensor {
    const y = this.contribution(...xs);
    if (y) return y;
    const z = this.cands.find((m) => m && isZeroOp(m));
    return z ? (z.forward(...xs) as Tensor) : new Zero(1).forward(xs[0]);
  }

  /**
   * The template's "apply" step: sum over `state.active` of w_k * op_k(x). Zero operations are
   * skipped (they add nothing and their weight gets no gradient), except under gumbel-hard, where
   * the sampled operation always runs so that a hard pass runs exactly one operation per choice.
   */
  protected apply(xs: Tensor[], state: RowState): Tensor | null {
    const hard = state.weights !== null && state.active.length === 1 && this.binding?.group.setting.kind === 'gumbel-hard';
    let acc: Tensor | null = null;
    for (const k of state.active) {
      const m = this.cands[k];
      if (!m) throw new Error(`MixedOp '${this.label}': candidate '${this.names[k]}' was released`);
      if (!hard && isZeroOp(m)) continue;
      const y = m.forward(...xs) as Tensor;
      const term = state.weights ? y.mul(state.weights[k]) : y;
      acc = acc ? acc.add(term) : term;
    }
    return acc;
  }

  freeze(selection: number[], release: boolean): void {
    this.frozen = [...selection];
    if (!release) return;
    this.cands.forEach((m, k) => {
      if (m && !selection.includes(k)) {
        m.dispose();
        this.deleteModule(this.names[k]);
        this.cands[k] = null;
      }
    });
  }
}

/** NNI's name for {@link MixedOp}: a choice among named candidate layers. */
export const LayerChoice = MixedOp;
/** NNI's name for {@link MixedOp}. */
export type LayerChoice = MixedOp;

/**
 * A choice among candidate inputs: the output is the relaxation-weighted sum of the inputs
 * (lazy inputs are computed only when they run). The discrete choice keeps `nChosen` inputs and
 * sums them.
 *
 * @example
 * const pick = new InputChoice(3, { label: 'skip', nChosen: 1 });
 * const y = pick.forward([a, b, () => expensive()]); // inside a bound space
 */
export class InputChoice extends Choice {
  readonly nCandidates: number;
  readonly nChosen: number;
  private readonly names: string[];

  constructor(nCandidates: number, opts: ChoiceOptions & { nChosen?: number; names?: string[] }) {
    super(opts, 'betas');
    if (!Number.isInteger(nCandidates) || nCandidates < 1)
      throw new RangeError(`InputChoice '${opts.label}': nCandidates must be a positive integer, got ${nCandidates}`);
    this.nCandidates = nCandidates;
    this.nChosen = Math.min(opts.nChosen ?? 1, nCandidates);
    if (!(this.nChosen >= 1)) throw new RangeError(`InputChoice '${opts.label}': nChosen must be >= 1`);
    this.names = opts.names ? [...opts.names] : Array.from({ length: nCandidates }, (_, i) => String(i));
    if (this.names.length !== nCandidates) throw new Error(`InputChoice '${opts.label}': ${this.names.length} names for ${nCandidates} candidates`);
  }

  get optionNames(): string[] {
    return [...this.names];
  }
  get numChosen(): number {
    return this.nChosen;
  }

  /** The weighted sum of the inputs that run in this pass (null if none). */
  contribution(inputs: LazyInput[]): Tensor | null {
    if (inputs.length !== this.nCandidates) throw new Error(`InputChoice '${this.label}': ${inputs.length} inputs, expected ${this.nCandidates}`);
    const state = this.rowState();
    let acc: Tensor | null = null;
    for (const k of state.active) {
      const v = inputs[k];
      const y = typeof v === 'function' ? v() : v;
      const term = state.weights ? y.mul(state.weights[k]) : y;
      acc = acc ? acc.add(term) : term;
    }
    return acc;
  }

  forward(inputs: LazyInput[]): Tensor {
    const y = this.contribution(inputs);
    if (!y) throw new Error(`InputChoice '${this.label}': no input selected`);
    return y;
  }

  freeze(selection: number[]): void {
    this.frozen = [...selection];
  }
}
