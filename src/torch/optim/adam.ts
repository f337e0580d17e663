import { native } from '../../native/binding';
import { keep } from '../memory';
import { Tensor, wrap } from '../tensor';
import { Optimizer, ParamsArg, StepOptions } from './optimizer';

export interface AdamOptions {
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  /** false: L2 penalty added to the gradient (torch.optim.Adam); true: decoupled (torch.optim.AdamW). */
  decoupled: boolean;
}

interface AdamState {
  expAvg: Tensor | null;
  expAvgSq: Tensor | null;
}

/**
 * Adam (Kingma & Ba, 2015), the same update as torch.optim.Adam; `decoupled: true` gives AdamW.
 * DARTS uses it for the architecture parameters with lr 3e-4, betas (0.5, 0.999), weight decay 1e-3.
 *
 * @example
 * const archOpt = new optim.Adam(space.archParameters(), { lr: 3e-4, betas: [0.5, 0.999], weightDecay: 1e-3 });
 */
export class Adam extends Optimizer<AdamOptions> {
  private state: AdamState[][];
  private steps: Float64Array[];

  constructor(params: ParamsArg<AdamOptions>, o: Partial<AdamOptions> = {}) {
    super(params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, decoupled: false, ...o });
    this.state = this.paramGroups.map((g) => g.params.map(() => ({ expAvg: null, expAvgSq: null })));
    this.steps = this.paramGroups.map((g) => new Float64Array(g.params.length));
  }

  step(opts: StepOptions = {}): number | null {
    const clip = this.clipPlan(opts);
    let norm = clip.norm;
    for (const [gi, g] of this.paramGroups.entries()) {
      const o = g.options;
      const st = this.state[gi];
      const [a, b, n] = native.adamStep(
        g.params.map((p) => p.handle),
        st.map((s) => (s.expAvg ? s.expAvg.handle : 0)),
        st.map((s) => (s.expAvgSq ? s.expAvgSq.handle : 0)),
        this.steps[gi],
        o.lr,
        o.betas[0],
        o.betas[1],
        o.eps,
        o.weightDecay,
        o.decoupled,
        clip.maxNorm,
      );
      if (clip.maxNorm !== null) norm = n;
      for (let k = 0; k < st.length; k++) {
        if (a[k] !== 0 && !st[k].expAvg) st[k].expAvg = keep(wrap(a[k]));
        if (b[k] !== 0 && !st[k].expAvgSq) st[k].expAvgSq = keep(wrap(b[k]));
      }
    }
    return norm;
  }

  protected stateOf(gi: number, pi: number): Record<string, Tensor | number> | null {
    const s = this.state[gi][pi];
    if (!s.expAvg || !s.expAvgSq) return null;
    // `step` is saved as a number; PyTorch's Adam turns it back into a tensor on load.
    return { step: this.steps[gi][pi], exp_avg: s.expAvg, exp_avg_sq: s.expAvgSq };
  }
  protected setStateOf(gi: number, pi: number, s: Record<string, unknown>): void {
    const step = s.step instanceof Tensor ? s.step.item() : Number(s.step ?? 0);
    if (s.exp_avg instanceof Tensor && s.exp_avg_sq instanceof Tensor) {
      this.state[gi][pi].expAvg?.dispose();
      this.state[gi][pi].expAvgSq?.dispose();
      this.state[gi][pi] = { expAvg: s.exp_avg, expAvgSq: s.exp_avg_sq };
      this.steps[gi][pi] = step;
    }
  }
  protected groupToTorch(o: AdamOptions): Record<string, unknown> {
    return { lr: o.lr, betas: [...o.betas], eps: o.eps, weight_decay: o.weightDecay, amsgrad: false, decoupled: o.decoupled };
  }
  protected groupFromTorch(o: Record<string, unknown>): Partial<AdamOptions> {
    const betas = o.betas as number[];
    return { lr: o.lr as number, betas: [betas[0], betas[1]], eps: o.eps as number, weightDecay: o.weight_decay as number, decoupled: Boolean(o.decoupled) };
  }
}
