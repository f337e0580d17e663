/**
 * Optimizer base: parameter groups, zeroGrad, and a state dict in PyTorch's layout
 * (`{state: {index: {...}}, param_groups: [{lr, ..., params: [index, ...]}]}`).
 */
import { native } from '../../native/binding';
import { keep, noGrad } from '../memory';
import { Tensor } from '../tensor';

/** Hyper-parameters shared by every group of an optimizer; groups may override any of them. */
export interface ParamGroup<H> {
  params: Tensor[];
  options: H;
}

export type ParamsArg<H> = Tensor[] | ({ params: Tensor[] } & Partial<H>)[];

/** Options of {@link Optimizer.step}. */
export interface StepOptions {
  /** Clip the gradients to this joint L2 norm before the update (torch.nn.utils.clip_grad_norm_). */
  maxGradNorm?: number | null;
}

export abstract class Optimizer<H extends { lr: number }> {
  readonly paramGroups: ParamGroup<H>[];

  constructor(params: ParamsArg<H>, defaults: H) {
    if (!Array.isArray(params) || params.length === 0) throw new Error(`${this.constructor.name}: got an empty parameter list`);
    const groups = params[0] instanceof Tensor ? [{ params: params as Tensor[] }] : (params as ({ params: Tensor[] } & Partial<H>)[]);
    this.paramGroups = groups.map((g) => {
      const { params: ps, ...over } = g as { params: Tensor[] } & Partial<H>;
      const options = { ...defaults, ...over } as H;
      if (!(options.lr >= 0)) throw new RangeError(`${this.constructor.name}: lr must be >= 0, got ${options.lr}`);
      return { params: ps, options };
    });
  }

  /** Learning rate of group `i` (schedulers set it through {@link setLr}). */
  getLr(i = 0): number {
    return this.paramGroups[i].options.lr;
  }
  setLr(lr: number, i?: number): void {
    for (const [k, g] of this.paramGroups.entries()) if (i === undefined || i === k) g.options.lr = lr;
  }

  /** Clears the gradients of every parameter this optimizer updates. */
  zeroGrad(setToNone = true): void {
    for (const g of this.paramGroups)
      native.zeroGrad(
        g.params.map((p) => p.handle),
        setToNone,
      );
  }

  /**
   * Updates the parameters from their gradients (parameters without a gradient are skipped).
   * With `maxGradNorm`, the gradients are first clipped to that joint L2 norm exactly as
   * torch.nn.utils.clip_grad_norm_ does, in the same native call as the update (one call for an
   * optimizer with one parameter group); it then returns the norm before clipping, else null.
   *
   * @example
   * loss.backward();
   * const norm = opt.step({ maxGradNorm: 5 }); // clip_grad_norm_(params, 5); opt.step()
   */
  abstract step(o?: StepOptions): number | null;

  /**
   * The clipping bound to pass to the native step of each group: the bound itself with one group;
   * with several, the gradients of all groups are clipped together here first (a joint norm) and
   * the groups step unclipped. `norm` is the norm before clipping, once known.
   */
  protected clipPlan(o: StepOptions): { maxNorm: number | null; norm: number | null } {
    const m = o.maxGradNorm;
    if (m === undefined || m === null) return { maxNorm: null, norm: null };
    if (!(typeof m === 'number' && m > 0 && Number.isFinite(m))) throw new RangeError(`step: maxGradNorm must be a positive number, got ${m}`);
    if (this.paramGroups.length === 1) return { maxNorm: m, norm: null };
    const all = this.paramGroups.flatMap((g) => g.params.map((p) => p.handle));
    return { maxNorm: null, norm: native.clipGradNorm(all, m) };
  }

  /** Per-parameter state in PyTorch's key names, for parameter `index` (order of the groups). */
  protected abstract stateOf(groupIndex: number, paramIndex: number): Record<string, Tensor | number> | null;
  protected abstract setStateOf(groupIndex: number, paramIndex: number, state: Record<string, unknown>): void;
  /** Group options as PyTorch names them. */
  protected abstract groupToTorch(o: H): Record<string, unknown>;
  protected abstract groupFromTorch(o: Record<string, unknown>): Partial<H>;

  /** The optimizer's state in PyTorch's layout; tensors are the optimizer's own. */
  stateDict(): { state: Record<string, Record<string, Tensor | number>>; param_groups: Record<string, unknown>[] } {
    const state: Record<string, Record<string, Tensor | number>> = {};
    const groups: Record<string, unknown>[] = [];
    let index = 0;
    for (const [gi, g] of this.paramGroups.entries()) {
      const ids: number[] = [];
      for (let pi = 0; pi < g.params.length; pi++, index++) {
        ids.push(index);
        const s = this.stateOf(gi, pi);
        if (s) state[String(index)] = s;
      }
      groups.push({ ...this.groupToTorch(g.options), params: ids });
    }
    return { state, param_groups: groups };
  }

  /** Restores a state dict from {@link stateDict} (or PyTorch's optimizer.state_dict()). */
  loadStateDict(sd: { state: Record<string, Record<string, unknown>>; param_groups: Record<string, unknown>[] }): void {
    if (!sd || typeof sd !== 'object' || !sd.state || !Array.isArray(sd.param_groups)) {
      throw new Error(`${this.constructor.name}.loadStateDict: expected {state, param_groups}`);
    }
    if (sd.param_groups.length !== this.paramGroups.length) {
      throw new Error(
        `${this.constructor.name}.loadStateDict: the state has ${sd.param_groups.length} parameter groups, the optimizer ${this.paramGroups.length}`,
      );
    }
    let index = 0;
    for (const [gi, g] of this.paramGroups.entries()) {
      const saved = sd.param_groups[gi];
      const ids = saved.params as number[] | undefined;
      if (ids && ids.length !== g.params.length) {
        throw new Error(`${this.constructor.name}.loadStateDict: group ${gi} has ${ids.length} parameters in the state, ${g.params.length} in the optimizer`);
      }
      Object.assign(g.options, this.groupFromTorch(saved));
      for (let pi = 0; pi < g.params.length; pi++, index++) {
        const key = String(ids ? ids[pi] : index);
        const s = sd.state[key];
        if (s) {
          // Copies, as PyTorch's load_state_dict deep-copies: the optimizer updates its state in
          // place, and must neither alias the state of the optimizer it came from nor take
          // ownership of the caller's tensors. As there, the state goes to its parameter's device
          // (a checkpoint holds CPU tensors; the parameters may be on a GPU).
          const own: Record<string, unknown> = {};
          const copies: Tensor[] = [];
          const device = g.params[pi].device;
          for (const [k, v] of Object.entries(s)) {
            if (v instanceof Tensor) copies.push((own[k] = keep(noGrad(() => (v.device === device || v.numel === 1 ? v.clone() : v.to(device))))) as Tensor);
            else own[k] = v;
          }
          this.setStateOf(gi, pi, own);
          // Copies the optimizer did not take (e.g. PyTorch's `step` tensor, read as a number) are released.
          const held = new Set(Object.values(this.stateOf(gi, pi) ?? {}));
          for (const c of copies) if (!held.has(c)) c.dispose();
        }
      }
    }
  }
}
