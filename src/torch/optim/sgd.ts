import { native } from '../../native/binding';
import { keep } from '../memory';
import { Tensor, wrap } from '../tensor';
import { Optimizer, ParamsArg, StepOptions } from './optimizer';

export interface SGDOptions {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
  maximize: boolean;
}

/**
 * Stochastic gradient descent with momentum, Nesterov and weight decay, the same update as
 * torch.optim.SGD. One native call updates every parameter of a group (and clips the gradients
 * first with `step({ maxGradNorm })`).
 *
 * @example
 * const opt = new optim.SGD(model.parameters(), { lr: 0.025, momentum: 0.9, weightDecay: 3e-4 });
 */
export class SGD extends Optimizer<SGDOptions> {
  private buffers: (Tensor | null)[][];

  constructor(params: ParamsArg<SGDOptions>, o: Partial<SGDOptions> & { lr: number }) {
    super(params, { momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false, ...o });
    for (const g of this.paramGroups) {
      if (g.options.nesterov && (g.options.momentum <= 0 || g.options.dampening !== 0)) {
        throw new Error('SGD: nesterov needs momentum > 0 and dampening 0');
      }
    }
    this.buffers = this.paramGroups.map((g) => g.params.map(() => null));
  }

  step(opts: StepOptions = {}): number | null {
    const clip = this.clipPlan(opts);
    let norm = clip.norm;
    for (const [gi, g] of this.paramGroups.entries()) {
      const o = g.options;
      const bufs = this.buffers[gi];
      const r = native.sgdStep(
        g.params.map((p) => p.handle),
        bufs.map((b) => (b ? b.handle : 0)),
        o.lr,
        o.momentum,
        o.dampening,
        o.weightDecay,
        o.nesterov,
        o.maximize,
        clip.maxNorm,
      );
      if (clip.maxNorm !== null) norm = r.norm;
      const ids = r.buffers;
      for (let k = 0; k < ids.length; k++) {
        if (ids[k] !== 0 && bufs[k] === null) bufs[k] = keep(wrap(ids[k]));
      }
    }
    return norm;
  }

  protected stateOf(gi: number, pi: number): Record<string, Tensor> | null {
    const b = this.buffers[gi][pi];
    return b ? { momentum_buffer: b } : null;
  }
  protected setStateOf(gi: number, pi: number, s: Record<string, unknown>): void {
    const b = s.momentum_buffer;
    if (b instanceof Tensor) {
      this.buffers[gi][pi]?.dispose();
      this.buffers[gi][pi] = b;
    }
  }
  protected groupToTorch(o: SGDOptions): Record<string, unknown> {
    return { lr: o.lr, momentum: o.momentum, dampening: o.dampening, weight_decay: o.weightDecay, nesterov: o.nesterov, maximize: o.maximize };
  }
  protected groupFromTorch(o: Record<string, unknown>): Partial<SGDOptions> {
    return {
      lr: o.lr as number,
      momentum: o.momentum as number,
      dampening: o.dampening as number,
      weightDecay: o.weight_decay as number,
      nesterov: Boolean(o.nesterov),
      maximize: Boolean(o.maximize),
    };
  }
}
