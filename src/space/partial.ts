/**
 * Partial-channel connections (PC-DARTS: Xu et al., "PC-DARTS: Partial Channel Connections for
 * Memory-Efficient Architecture Search", ICLR 2020), dnas's form.
 *
 * An edge's operation (a MixedOp while searching, the chosen operation after derive) runs on the
 * first C/k channels of the edge's input; the other channels bypass it (max-pooled 3x3, stride 2,
 * padding 1 on a strided edge, so that odd sizes give ceil(H/2) like the operations); the two are
 * concatenated and the channels shuffled in k groups, so that the next edge's first C/k channels
 * hold some of both. A supernet's candidates are built at C/k channels: memory and time of the
 * mixture shrink about k times. The derived network keeps the same connection around the chosen
 * operation (its weights are the supernet's), so single-stage inherits it unchanged.
 *
 * Edge normalisation (PC-DARTS's second part: softmax weights over a node's input edges) is a
 * separate setting of the search cells (`edgeNorm`, cell.ts). The channels sampled are always the
 * first C/k; PC-DARTS's shuffle, as here, moves which channels an edge sees from cell to cell.
 */
import { cat, nn, Tensor, tensor, zeros } from '../torch';
import { MixedOp } from './choices';

/** Output channel o of a k-group shuffle of C channels takes input channel (o % k) * (C / k) + floor(o / k). */
export function shuffleIndex(C: number, k: number): number[] {
  const cp = C / k;
  return Array.from({ length: C }, (_, o) => (o % k) * cp + Math.floor(o / k));
}

export class PartialChannels extends nn.Module {
  readonly op: nn.Module;
  readonly pool: nn.MaxPool2d | null;

  /**
   * @param op the operation on the first C/k channels (built for C/k channels)
   * @param C the edge's channels
   * @param k the share: 1/k of the channels go through `op`
   * @param stride 2 on a reduction edge
   */
  constructor(
    op: nn.Module,
    readonly C: number,
    readonly k: number,
    readonly stride: number,
  ) {
    super();
    if (!Number.isInteger(k) || k < 2) throw new RangeError(`PartialChannels: k must be an integer >= 2, got ${k}`);
    if (C % k !== 0)
      throw new RangeError(`PartialChannels: ${C} channels do not split into ${k} equal parts (partialChannels must divide every cell's channels)`);
    this.op = this.registerModule('op', op);
    this.pool = stride === 2 ? this.registerModule('pool', new nn.MaxPool2d(3, { stride: 2, padding: 1 })) : null;
    // Not persistent: a state dict is the same with or without it (Python rebuilds it).
    this.registerBuffer('shuffle', tensor(shuffleIndex(C, k), { dtype: 'int64' }), false);
  }

  /**
   * What the edge adds to its node: null when its choice keeps no option (an edge the genotype
   * dropped: the derived cell has no such edge, bypass included), else {@link forward}.
   */
  contribution(x: Tensor): Tensor | null {
    if (this.op instanceof MixedOp && !this.op.selectsAny()) return null;
    return this.forward(x);
  }

  forward(x: Tensor): Tensor {
    const cp = this.C / this.k;
    const x1 = x.narrow(1, 0, cp);
    const x2 = x.narrow(1, cp, this.C - cp);
    const y2 = this.pool ? this.pool.forward(x2) : x2;
    const y1 = this.op instanceof MixedOp ? this.op.contribution(x1) : (this.op.forward(x1) as Tensor);
    const [n, , h, w] = y2.shape;
    const first = y1 ?? zeros([n, cp, h, w], { dtype: x.dtype, device: x.device });
    return cat([first, y2], 1).indexSelect(1, this.getBuffer('shuffle')!); // the buffer follows the module to its device
  }
}
