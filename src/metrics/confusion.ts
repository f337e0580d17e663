/**
 * Segmentation and classification metrics from a confusion matrix, as the Cityscapes benchmark
 * computes them: IoU_c = TP / (TP + FP + FN), mIoU over the classes present in either the ground
 * truth or the predictions, pixel accuracy = trace / total. Pixels whose label is `ignoreIndex`
 * count nowhere.
 */
import { Tensor } from '../torch';

/** Accumulates a C x C confusion matrix (rows: ground truth, columns: prediction). */
export class ConfusionMatrix {
  readonly counts: Float64Array;

  constructor(
    readonly numClasses: number,
    readonly ignoreIndex = 255,
  ) {
    if (!Number.isInteger(numClasses) || numClasses < 1) throw new RangeError(`ConfusionMatrix: numClasses must be a positive integer, got ${numClasses}`);
    this.counts = new Float64Array(numClasses * numClasses);
  }

  /** Adds flat label arrays (same length). Labels outside [0, C) other than ignoreIndex are errors. */
  addArrays(target: ArrayLike<number>, pred: ArrayLike<number>): void {
    if (target.length !== pred.length) throw new RangeError(`ConfusionMatrix: target has ${target.length} labels, prediction ${pred.length}`);
    const C = this.numClasses;
    for (let i = 0; i < target.length; i++) {
      const t = target[i];
      if (t === this.ignoreIndex) continue;
      const p = pred[i];
      if (t < 0 || t >= C || p < 0 || p >= C) throw new RangeError(`ConfusionMatrix: label ${t} or prediction ${p} at ${i} is outside [0, ${C})`);
      this.counts[t * C + p]++;
    }
  }

  /**
   * Adds a batch: `logitsOrPred` is [N, C, H, W] logits (argmax taken) or [N, H, W] / [N] class
   * indices; `target` has the index shape.
   */
  add(logitsOrPred: Tensor, target: Tensor): void {
    const pred = logitsOrPred.ndim === target.ndim + 1 ? logitsOrPred.argmax(1) : logitsOrPred;
    const p32 = pred.to('int32');
    const t32 = target.to('int32');
    this.addArrays(t32.data() as Int32Array, p32.data() as Int32Array);
    if (pred !== logitsOrPred) pred.dispose();
    p32.dispose();
    t32.dispose();
  }

  /** Total of counted (non-ignored) samples or pixels. */
  get total(): number {
    let s = 0;
    for (const v of this.counts) s += v;
    return s;
  }

  /** IoU per class; NaN for a class absent from both ground truth and predictions. */
  iou(): number[] {
    const C = this.numClasses;
    const out: number[] = [];
    for (let c = 0; c < C; c++) {
      let row = 0,
        col = 0;
      for (let k = 0; k < C; k++) {
        row += this.counts[c * C + k];
        col += this.counts[k * C + c];
      }
      const tp = this.counts[c * C + c];
      const union = row + col - tp;
      out.push(union > 0 ? tp / union : NaN);
    }
    return out;
  }

  /** Mean IoU over classes with a defined IoU (0 when none). */
  miou(): number {
    const v = this.iou().filter((x) => !Number.isNaN(x));
    return v.length ? v.reduce((a, b) => a + b, 0) / v.length : 0;
  }

  /** Fraction of counted pixels (or samples) predicted correctly: top-1 accuracy for classification. */
  accuracy(): number {
    const C = this.numClasses;
    let tp = 0;
    for (let c = 0; c < C; c++) tp += this.counts[c * C + c];
    const t = this.total;
    return t > 0 ? tp / t : 0;
  }

  reset(): void {
    this.counts.fill(0);
  }

  /** A plain summary for logs. */
  summary(classNames?: string[]): { miou: number; pixelAccuracy: number; perClassIoU: Record<string, number | null> } {
    const per: Record<string, number | null> = {};
    this.iou().forEach((v, c) => (per[classNames?.[c] ?? String(c)] = Number.isNaN(v) ? null : v));
    return { miou: this.miou(), pixelAccuracy: this.accuracy(), perClassIoU: per };
  }
}
