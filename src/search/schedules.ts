/**
 * Schedules for values a strategy changes over a run: the Gumbel temperature (GDAS anneals it)
 * and the weight of the entropy penalty. Each is a pure function of progress, so resuming a run
 * at epoch e gives the same value as an uninterrupted run.
 */

/** A schedule: value at `epoch` (0-based, fractional allowed) of a run of `epochs` epochs. */
export type Schedule = (epoch: number, epochs: number) => number;

export type ScheduleSpec =
  | { kind: 'constant'; value: number }
  /** from `start` to `end` linearly over the run (or over [fromEpoch, toEpoch]). */
  | { kind: 'linear'; start: number; end: number; fromEpoch?: number; toEpoch?: number }
  /** start * (end / start) ^ progress: geometric decay, as GDAS anneals tau from 10 to 0.1. */
  | { kind: 'exponential'; start: number; end: number; fromEpoch?: number; toEpoch?: number };

function progress(epoch: number, epochs: number, from = 0, to = epochs): number {
  if (to <= from) return epoch >= to ? 1 : 0;
  return Math.min(1, Math.max(0, (epoch - from) / (to - from)));
}

/**
 * Builds a schedule from its JSON form.
 *
 * @example
 * const tau = makeSchedule({ kind: 'exponential', start: 10, end: 0.1 });
 * tau(0, 50); // 10
 * tau(50, 50); // 0.1
 */
export function makeSchedule(spec: ScheduleSpec | number): Schedule {
  if (typeof spec === 'number') return () => spec;
  switch (spec.kind) {
    case 'constant':
      return () => spec.value;
    case 'linear':
      return (e, n) => spec.start + (spec.end - spec.start) * progress(e, n, spec.fromEpoch, spec.toEpoch);
    case 'exponential':
      if (!(spec.start > 0 && spec.end > 0)) throw new RangeError('exponential schedule: start and end must be > 0');
      return (e, n) => spec.start * Math.pow(spec.end / spec.start, progress(e, n, spec.fromEpoch, spec.toEpoch));
    default:
      throw new Error(`unknown schedule kind '${(spec as { kind: string }).kind}'; expected constant, linear or exponential`);
  }
}
