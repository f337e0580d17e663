/**
 * Learning-rate schedules, stepped once per epoch or per iteration (the caller decides), as
 * torch.optim.lr_scheduler. Their state is `{last_epoch, base_lrs}`.
 */
import { Optimizer } from './optimizer';

export abstract class LRScheduler {
  lastEpoch = 0;
  readonly baseLrs: number[];
  constructor(readonly optimizer: Optimizer<{ lr: number }>) {
    this.baseLrs = optimizer.paramGroups.map((g) => g.options.lr);
  }
  /** The rate of group `i` at step `t`. */
  protected abstract lrAt(base: number, t: number): number;
  /** Advances one step and sets the optimizer's rates. */
  step(): void {
    this.lastEpoch++;
    this.apply();
  }
  private apply(): void {
    this.baseLrs.forEach((b, i) => this.optimizer.setLr(this.lrAt(b, this.lastEpoch), i));
  }
  /** Current rates, one per group. */
  getLastLr(): number[] {
    return this.optimizer.paramGroups.map((g) => g.options.lr);
  }
  stateDict(): { last_epoch: number; base_lrs: number[] } {
    return { last_epoch: this.lastEpoch, base_lrs: [...this.baseLrs] };
  }
  loadStateDict(s: { last_epoch: number; base_lrs: number[] }): void {
    this.lastEpoch = s.last_epoch;
    s.base_lrs.forEach((b, i) => (this.baseLrs[i] = b));
    this.apply();
  }
}

/** lr = base * (1 - t / totalSteps) ^ power (DeepLab's "poly"; torch PolynomialLR). */
export class PolyLR extends LRScheduler {
  constructor(
    optimizer: Optimizer<{ lr: number }>,
    readonly totalSteps: number,
    readonly power = 0.9,
  ) {
    super(optimizer);
    if (!(totalSteps > 0)) throw new RangeError(`PolyLR: totalSteps must be > 0, got ${totalSteps}`);
  }
  protected lrAt(base: number, t: number): number {
    return base * Math.pow(Math.max(0, 1 - Math.min(t, this.totalSteps) / this.totalSteps), this.power);
  }
}

/** lr = etaMin + (base - etaMin) (1 + cos(pi t / tMax)) / 2 (torch CosineAnnealingLR, closed form). */
export class CosineAnnealingLR extends LRScheduler {
  constructor(
    optimizer: Optimizer<{ lr: number }>,
    readonly tMax: number,
    readonly etaMin = 0,
  ) {
    super(optimizer);
    if (!(tMax > 0)) throw new RangeError(`CosineAnnealingLR: tMax must be > 0, got ${tMax}`);
  }
  protected lrAt(base: number, t: number): number {
    return this.etaMin + ((base - this.etaMin) * (1 + Math.cos((Math.PI * t) / this.tMax))) / 2;
  }
}
