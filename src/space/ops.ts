/**
 * Candidate operations of the cell spaces, with the structure (and state-dict names) of the DARTS
 * reference modules: ReLU → Conv → BN, convolutions without bias, BatchNorm `affine` chosen by the
 * caller (false inside search cells, true in a network trained from scratch).
 *
 * Operations are made by name through a registry, so a genotype names them as plain strings and a
 * user adds an operation with {@link registerOp}.
 */
import { nn, Tensor, zeros, cat } from '../torch';

const F = nn.functional;

/** Makes one candidate operation: `C` channels in and out, `stride` 1 or 2, BatchNorm `affine`. */
export type OpFactory = (C: number, stride: number, affine: boolean) => nn.Module;

/**
 * The eight DARTS primitives, in the DARTS order (alpha columns follow this order).
 *
 * @example
 * const ops = [...DARTS_PRIMITIVES]; // 'none', 'max_pool_3x3', ..., 'dil_conv_5x5'
 */
export const DARTS_PRIMITIVES = [
  'none',
  'max_pool_3x3',
  'avg_pool_3x3',
  'skip_connect',
  'sep_conv_3x3',
  'sep_conv_5x5',
  'dil_conv_3x3',
  'dil_conv_5x5',
] as const;

/** The name of the zero operation; decoding never keeps it. */
export const ZERO_OP = 'none';

/**
 * The zero operation: zeros shaped like the output of a `stride`-strided op (DARTS `Zero`).
 *
 * @example
 * new Zero(2).forward(torch.ones([1, 4, 5, 7])).shape; // [1, 4, 3, 4]
 */
export class Zero extends nn.Module {
  constructor(readonly stride: number) {
    super();
  }
  forward(x: Tensor): Tensor {
    const [n, c, h, w] = x.shape;
    const s = this.stride;
    return zeros([n, c, Math.ceil(h / s), Math.ceil(w / s)], { dtype: x.dtype, device: x.device });
  }
}

/**
 * ReLU → Conv(k, stride, padding) → BN (DARTS `ReLUConvBN`); state keys `op.1.weight`, `op.2.*`.
 *
 * @example
 * const pre = new ReLUConvBN(48, 16, 1, 1, 0, false);
 */
export class ReLUConvBN extends nn.Module {
  readonly op: nn.Sequential;
  constructor(cIn: number, cOut: number, kernel: number, stride: number, padding: number, affine = true) {
    super();
    this.op = this.registerModule(
      'op',
      new nn.Sequential(new nn.ReLU(), new nn.Conv2d(cIn, cOut, kernel, { stride, padding, bias: false }), new nn.BatchNorm2d(cOut, { affine })),
    );
  }
  forward(x: Tensor): Tensor {
    return this.op.forward(x);
  }
}

/**
 * ReLU → depthwise dilated Conv → pointwise Conv → BN (DARTS `DilConv`).
 *
 * @example
 * const op = new DilConv(16, 16, 3, 1, 2, 2, false); // dil_conv_3x3
 */
export class DilConv extends nn.Module {
  readonly op: nn.Sequential;
  constructor(cIn: number, cOut: number, kernel: number, stride: number, padding: number, dilation: number, affine = true) {
    super();
    this.op = this.registerModule(
      'op',
      new nn.Sequential(
        new nn.ReLU(),
        new nn.Conv2d(cIn, cIn, kernel, { stride, padding, dilation, groups: cIn, bias: false }),
        new nn.Conv2d(cIn, cOut, 1, { bias: false }),
        new nn.BatchNorm2d(cOut, { affine }),
      ),
    );
  }
  forward(x: Tensor): Tensor {
    return this.op.forward(x);
  }
}

/**
 * Separable convolution, DARTS style: two stacked ReLU → depthwise → pointwise → BN blocks, the
 * first one strided (state keys `op.1` ... `op.7`, as the DARTS `SepConv`).
 *
 * @example
 * const op = new SepConv(16, 16, 3, 2, 1, false); // sep_conv_3x3 in a reduction cell
 */
export class SepConv extends nn.Module {
  readonly op: nn.Sequential;
  constructor(cIn: number, cOut: number, kernel: number, stride: number, padding: number, affine = true) {
    super();
    this.op = this.registerModule(
      'op',
      new nn.Sequential(
        new nn.ReLU(),
        new nn.Conv2d(cIn, cIn, kernel, { stride, padding, groups: cIn, bias: false }),
        new nn.Conv2d(cIn, cIn, 1, { bias: false }),
        new nn.BatchNorm2d(cIn, { affine }),
        new nn.ReLU(),
        new nn.Conv2d(cIn, cIn, kernel, { stride: 1, padding, groups: cIn, bias: false }),
        new nn.Conv2d(cIn, cOut, 1, { bias: false }),
        new nn.BatchNorm2d(cOut, { affine }),
      ),
    );
  }
  forward(x: Tensor): Tensor {
    return this.op.forward(x);
  }
}

/**
 * Halves the resolution with two 1x1 stride-2 convolutions, the second on the input shifted by
 * one pixel, concatenated (DARTS `FactorizedReduce`). Odd sizes are padded by one row/column at
 * the end before the shift, so the output is ceil(H/2) x ceil(W/2) like every other strided op;
 * for even sizes this is exactly the DARTS computation.
 *
 * @example
 * new FactorizedReduce(16, 32).forward(torch.randn([1, 16, 9, 9])).shape; // [1, 32, 5, 5]
 */
export class FactorizedReduce extends nn.Module {
  readonly conv_1: nn.Conv2d;
  readonly conv_2: nn.Conv2d;
  readonly bn: nn.BatchNorm2d;
  constructor(cIn: number, cOut: number, affine = true) {
    super();
    if (cOut % 2 !== 0) throw new RangeError(`FactorizedReduce: cOut must be even, got ${cOut}`);
    this.registerModule('relu', new nn.ReLU());
    this.conv_1 = this.registerModule('conv_1', new nn.Conv2d(cIn, cOut / 2, 1, { stride: 2, bias: false }));
    this.conv_2 = this.registerModule('conv_2', new nn.Conv2d(cIn, cOut / 2, 1, { stride: 2, bias: false }));
    this.bn = this.registerModule('bn', new nn.BatchNorm2d(cOut, { affine }));
  }
  forward(x: Tensor): Tensor {
    const y = x.relu();
    const [, , h, w] = y.shape;
    const shifted = F.pad(y, [0, 1, 0, 1]).narrow(2, 1, h).narrow(3, 1, w);
    return this.bn.forward(cat([this.conv_1.forward(y), this.conv_2.forward(shifted)], 1));
  }
}

const registry = new Map<string, OpFactory>();

/**
 * Adds an operation to the registry under `name` (an error if taken, unless `override`).
 *
 * @example
 * registerOp('conv_1x1', (C, stride, affine) => new ReLUConvBN(C, C, 1, stride, 0, affine));
 */
export function registerOp(name: string, factory: OpFactory, opts: { override?: boolean } = {}): void {
  if (typeof name !== 'string' || !/^[A-Za-z0-9_]+$/.test(name)) throw new TypeError(`registerOp: invalid name '${name}' (letters, digits, _)`);
  if (typeof factory !== 'function') throw new TypeError(`registerOp('${name}'): factory must be a function`);
  if (registry.has(name) && !opts.override) throw new Error(`registerOp: '${name}' is already registered (pass { override: true } to replace it)`);
  registry.set(name, factory);
}

/** Whether an operation named `name` is registered. */
export function hasOp(name: string): boolean {
  return registry.has(name);
}

/** The names of every registered operation. */
export function registeredOps(): string[] {
  return [...registry.keys()];
}

/**
 * Makes the registered operation `name`.
 *
 * @example
 * const op = createOp('sep_conv_3x3', 16, 1, true);
 */
export function createOp(name: string, C: number, stride: number, affine: boolean): nn.Module {
  const f = registry.get(name);
  if (!f) throw new Error(`createOp: unknown operation '${name}'; registered: ${registeredOps().join(', ')}`);
  if (stride !== 1 && stride !== 2) throw new RangeError(`createOp('${name}'): stride must be 1 or 2, got ${stride}`);
  return f(C, stride, affine);
}

/**
 * An operation as a search cell holds it: BN affine off, and pooling followed by a BatchNorm
 * without affine parameters, as the DARTS search `MixedOp` does (any op whose name has 'pool').
 */
export function createSearchOp(name: string, C: number, stride: number): nn.Module {
  const op = createOp(name, C, stride, false);
  return name.includes('pool') ? new nn.Sequential(op, new nn.BatchNorm2d(C, { affine: false })) : op;
}

/** Whether `m` is the zero operation. */
export function isZeroOp(m: nn.Module): boolean {
  return m instanceof Zero;
}

registerOp(ZERO_OP, (_C, stride) => new Zero(stride));
registerOp('avg_pool_3x3', (_C, stride) => new nn.AvgPool2d(3, { stride, padding: 1, countIncludePad: false }));
registerOp('max_pool_3x3', (_C, stride) => new nn.MaxPool2d(3, { stride, padding: 1 }));
registerOp('skip_connect', (C, stride, affine) => (stride === 1 ? new nn.Identity() : new FactorizedReduce(C, C, affine)));
registerOp('sep_conv_3x3', (C, stride, affine) => new SepConv(C, C, 3, stride, 1, affine));
registerOp('sep_conv_5x5', (C, stride, affine) => new SepConv(C, C, 5, stride, 2, affine));
registerOp('sep_conv_7x7', (C, stride, affine) => new SepConv(C, C, 7, stride, 3, affine));
registerOp('dil_conv_3x3', (C, stride, affine) => new DilConv(C, C, 3, stride, 2, 2, affine));
registerOp('dil_conv_5x5', (C, stride, affine) => new DilConv(C, C, 5, stride, 4, 2, affine));
registerOp(
  'conv_7x1_1x7',
  (C, stride, affine) =>
    new nn.Sequential(
      new nn.ReLU(),
      new nn.Conv2d(C, C, [1, 7], { stride: [1, stride], padding: [0, 3], bias: false }),
      new nn.Conv2d(C, C, [7, 1], { stride: [stride, 1], padding: [3, 0], bias: false }),
      new nn.BatchNorm2d(C, { affine }),
    ),
);
