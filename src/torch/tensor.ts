/**
 * The Tensor class: a handle to a libtorch tensor plus PyTorch's methods in camelCase.
 *
 * Lifetimes are explicit (tfjs-core style): everything made inside {@link tidy} is released when
 * it returns, except what it returns or what is {@link keep}-ed; {@link Tensor.dispose} releases one
 * tensor at once. A FinalizationRegistry releases forgotten tensors when V8 collects their
 * wrappers, but only as a safety net: in Node that runs only when the event loop turns.
 */
import { DTYPE_CODES, DType, Handle, MemoryFormat, native, op } from '../native/binding';
import { Dims, dimsArg, TensorOps } from './tensor-ops.gen';

export type { DType, MemoryFormat } from '../native/binding';
/** A device string as libtorch spells it: 'cpu', 'cuda', 'cuda:1'. */
export type Device = string;
/** Where a module's tensors live and how 4-D ones are laid out (`Module.to`, `SearchSpace.to`). */
export interface Placement {
  device?: Device;
  memoryFormat?: MemoryFormat;
}
export type TypedArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

const finalizer = new FinalizationRegistry<Handle>((h) => native.dispose(h));

export function dtypeCode(d: DType): number {
  const c = DTYPE_CODES.indexOf(d);
  if (c < 0) throw new TypeError(`unknown dtype '${d}'; expected one of ${DTYPE_CODES.join(', ')}`);
  return c;
}

// Op codes of the methods written here, resolved once, when this module loads (the methods that
// are one op-table call each are generated: tensor-ops.gen.ts).
const UN = { clone: op('unary', 'clone'), detach: op('unary', 'detach'), contiguous: op('unary', 'contiguous') };
const BIN = { add: op('binary', 'add') };
const SC = { add: op('scalar', 'add') };

/** The handle of `t`, checking that it is a Tensor; `what` names the op and argument. */
export function handleOf(t: unknown, what: string): Handle {
  if (!(t instanceof Tensor)) throw new TypeError(`${what} must be a Tensor, got ${describe(t)}`);
  if (t.disposed) throw new Error(`${what}: the tensor was disposed`);
  return t.handle;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? ((v as object).constructor?.name ?? 'an object') : typeof v;
}

/** Wraps a handle returned by the addon. */
export function wrap(h: Handle): Tensor {
  return new Tensor(h);
}

/**
 * A multi-dimensional array on a device, with autograd.
 *
 * @example
 * const x = torch.randn([2, 3]);
 * const y = x.mul(2).add(1).sum();
 * console.log(y.item());
 */
export class Tensor extends TensorOps<Tensor> {
  /** @internal The native handle. */
  readonly handle: Handle;
  /** @internal Set by dispose(). */
  disposed = false;
  private cachedShape?: number[];

  /** @internal Use the creation functions (`torch.tensor`, `torch.zeros`, ...) instead. */
  constructor(handle: Handle) {
    super();
    this.handle = handle;
    finalizer.register(this, handle, this);
  }
  /** @internal */
  protected result(h: Handle): Tensor {
    return wrap(h);
  }
  /** @internal */
  protected operand(t: unknown, what: string): Handle {
    return handleOf(t, what);
  }

  // ---- metadata ------------------------------------------------------------------------------
  /** The size of each dimension. */
  get shape(): number[] {
    if (!this.cachedShape) this.cachedShape = native.shape(this.handle);
    return this.cachedShape.slice();
  }
  /** Same as {@link shape}; `size(d)` gives one dimension (negative counts from the end). */
  size(dim?: number): number {
    const s = this.shape;
    if (dim === undefined) return s.reduce((a, b) => a * b, 1);
    return s[dim < 0 ? s.length + dim : dim];
  }
  get ndim(): number {
    return this.shape.length;
  }
  get numel(): number {
    return native.numel(this.handle);
  }
  get dtype(): DType {
    return DTYPE_CODES[native.dtype(this.handle)];
  }
  get device(): Device {
    return native.device(this.handle);
  }
  get requiresGrad(): boolean {
    return native.requiresGrad(this.handle);
  }
  /** Whether the underlying storage is still alive (false after dispose() or the end of its tidy scope). */
  get isLive(): boolean {
    return !this.disposed && native.isLive(this.handle);
  }

  /** Sets requires_grad in place and returns this tensor. */
  requiresGrad_(value = true): this {
    native.setRequiresGrad(this.handle, value);
    return this;
  }
  /** The accumulated gradient, or null. Each read returns a new handle to the same memory. */
  get grad(): Tensor | null {
    const g = native.grad(this.handle);
    return g === null ? null : wrap(g);
  }
  set grad(g: Tensor | null) {
    native.setGrad(this.handle, g === null ? null : handleOf(g, 'grad'));
  }

  /** Runs backpropagation from this (scalar, or given `gradient`) tensor. */
  backward(gradient?: Tensor, opts: { retainGraph?: boolean; createGraph?: boolean } = {}): void {
    native.backward(this.handle, gradient ? handleOf(gradient, 'backward gradient') : null, opts.retainGraph ?? false, opts.createGraph ?? false);
  }

  // ---- data out -----------------------------------------------------------------------------
  /** A copy of the elements, flat, in a typed array of the tensor's dtype (BigInt64Array for int64). */
  data(): TypedArray {
    return native.data(this.handle);
  }
  /** A copy of the elements as a flat array of numbers. */
  toArray(): number[] {
    const d = this.data();
    return d instanceof BigInt64Array ? Array.from(d, Number) : Array.from(d as ArrayLike<number>);
  }
  /** The value of a one-element tensor. */
  item(): number {
    const v = native.item(this.handle);
    return typeof v === 'boolean' ? Number(v) : v;
  }
  /** Releases the native tensor now. Using it afterwards throws. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    finalizer.unregister(this);
    native.dispose(this.handle);
  }
  override toString(): string {
    return `Tensor(shape=[${this.shape}], dtype=${this.dtype}, device=${this.device})`;
  }

  // ---- conversion ----------------------------------------------------------------------------
  /**
   * This tensor converted to another dtype and/or device, and/or laid out in `memoryFormat`
   * (`x.to(memory_format=torch.channels_last)`: a 4-D tensor whose strides would fit either layout
   * gets the format's own strides, so that convolutions read it as that format). The same tensor
   * when nothing changes.
   */
  to(target: DType | Device | { dtype?: DType; device?: Device; memoryFormat?: MemoryFormat }): Tensor {
    let dtype: DType | undefined;
    let device: Device | undefined;
    let memoryFormat: MemoryFormat | undefined;
    if (typeof target === 'string') {
      if ((DTYPE_CODES as readonly string[]).includes(target)) dtype = target as DType;
      else device = target;
    } else {
      ({ dtype, device, memoryFormat } = target);
    }
    const convert = dtype !== undefined || device !== undefined || memoryFormat === undefined;
    const moved = convert ? native.to(this.handle, dtype === undefined ? null : dtypeCode(dtype), device ?? null) : this.handle;
    if (memoryFormat === undefined) return wrap(moved);
    const laid = native.contiguousAs(moved, memoryFormat, true);
    if (convert) native.dispose(moved);
    return wrap(laid);
  }
  float(): Tensor {
    return this.to('float32');
  }
  double(): Tensor {
    return this.to('float64');
  }
  long(): Tensor {
    return this.to('int64');
  }
  clone(): Tensor {
    return wrap(native.unary(UN.clone, this.handle));
  }
  /** A tensor sharing memory with this one, cut from the autograd graph. */
  detach(): Tensor {
    return wrap(native.unary(UN.detach, this.handle));
  }
  /**
   * The tensor laid out densely in `memoryFormat` (default NCHW `contiguous`); this tensor's
   * values, and the same tensor when it already is. `'channelsLast'` (4-D only) keeps the shape
   * and stores NHWC, as `x.contiguous(memory_format=torch.channels_last)`.
   *
   * @example
   * const y = torch.randn([2, 3, 4, 5]).contiguous('channelsLast'); // shape [2, 3, 4, 5], NHWC strides
   */
  contiguous(memoryFormat: MemoryFormat = 'contiguous'): Tensor {
    if (memoryFormat === 'contiguous') return wrap(native.unary(UN.contiguous, this.handle));
    return wrap(native.contiguousAs(this.handle, memoryFormat, false));
  }
  /**
   * The layout libtorch's kernels read this tensor as: `'channelsLast'` when its strides are NHWC
   * (`x.to({ memoryFormat: 'channelsLast' })`, or a convolution of such a tensor), else
   * `'contiguous'`. A convolution's output takes the layout of its input or weight.
   */
  get memoryFormat(): MemoryFormat {
    return native.suggestedMemoryFormat(this.handle);
  }
  /** Whether the tensor is laid out densely in `memoryFormat` (default NCHW `contiguous`). */
  isContiguous(memoryFormat: MemoryFormat = 'contiguous'): boolean {
    return native.isContiguousAs(this.handle, memoryFormat);
  }

  // ---- element-wise --------------------------------------------------------------------------
  /** this + alpha * other */
  add(other: Tensor | number, alpha = 1): Tensor {
    if (alpha !== 1) {
      if (typeof other === 'number') return wrap(native.scalar(SC.add, this.handle, alpha * other));
      return wrap(native.addScaled(this.handle, handleOf(other, "add: argument 'other'"), alpha));
    }
    return this.binaryOrScalar(other, BIN.add, SC.add, "add: argument 'other'");
  }
  clamp(min: number | null, max: number | null = null): Tensor {
    return wrap(native.clamp(this.handle, min, max));
  }
  maskedFill(mask: Tensor, value: number): Tensor {
    return wrap(native.maskedFill(this.handle, handleOf(mask, "maskedFill: argument 'mask'"), value));
  }

  // ---- reductions ----------------------------------------------------------------------------
  /** Variance with Bessel's correction (`correction` 1) unless told otherwise. */
  var(dim?: Dims, opts: { correction?: number; keepdim?: boolean } = {}): Tensor {
    return wrap(native.varStd(false, this.handle, dimsArg(dim), opts.correction ?? 1, opts.keepdim ?? false));
  }
  std(dim?: Dims, opts: { correction?: number; keepdim?: boolean } = {}): Tensor {
    return wrap(native.varStd(true, this.handle, dimsArg(dim), opts.correction ?? 1, opts.keepdim ?? false));
  }
  /** Maximum over everything, or `[values, indices]` along `dim`. */
  max(): Tensor;
  max(dim: number, keepdim?: boolean): [Tensor, Tensor];
  max(dim?: number, keepdim = false): Tensor | [Tensor, Tensor] {
    if (dim === undefined) return this.amax();
    const [v, i] = native.maxDim(this.handle, dim, keepdim);
    return [wrap(v), wrap(i)];
  }
  min(): Tensor;
  min(dim: number, keepdim?: boolean): [Tensor, Tensor];
  min(dim?: number, keepdim = false): Tensor | [Tensor, Tensor] {
    if (dim === undefined) return this.amin();
    const [v, i] = native.minDim(this.handle, dim, keepdim);
    return [wrap(v), wrap(i)];
  }
  argmax(dim: number | null = null, keepdim = false): Tensor {
    return wrap(native.argmax(this.handle, dim, keepdim));
  }
  topk(k: number, dim = -1, largest = true, sorted = true): [Tensor, Tensor] {
    const [v, i] = native.topk(this.handle, k, dim, largest, sorted);
    return [wrap(v), wrap(i)];
  }
  sort(dim = -1, descending = false): [Tensor, Tensor] {
    const [v, i] = native.sort(this.handle, dim, descending);
    return [wrap(v), wrap(i)];
  }

  // ---- shapes --------------------------------------------------------------------------------
  reshape(...shape: (number | number[])[]): Tensor {
    return wrap(native.reshape(this.handle, shape.flat()));
  }
  view(...shape: (number | number[])[]): Tensor {
    return wrap(native.view(this.handle, shape.flat()));
  }
  permute(...dims: (number | number[])[]): Tensor {
    return wrap(native.permute(this.handle, dims.flat()));
  }
  transpose(dim0: number, dim1: number): Tensor {
    return wrap(native.transpose(this.handle, dim0, dim1));
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    return wrap(native.flatten(this.handle, startDim, endDim));
  }
  squeeze(dim: number | null = null): Tensor {
    return wrap(native.squeeze(this.handle, dim));
  }
  unsqueeze(dim: number): Tensor {
    return wrap(native.unsqueeze(this.handle, dim));
  }
  expand(...shape: (number | number[])[]): Tensor {
    return wrap(native.expand(this.handle, shape.flat()));
  }
  repeat(...sizes: (number | number[])[]): Tensor {
    return wrap(native.repeat(this.handle, sizes.flat()));
  }
  flip(dims: number | number[]): Tensor {
    return wrap(native.flip(this.handle, dimsArg(dims) ?? []));
  }
  split(sizes: number | number[], dim = 0): Tensor[] {
    return native.split(this.handle, sizes, dim).map(wrap);
  }
  chunk(chunks: number, dim = 0): Tensor[] {
    return this.split(Math.ceil(this.size(dim) / chunks), dim);
  }
  narrow(dim: number, start: number, length: number): Tensor {
    return wrap(native.narrow(this.handle, dim, start, length));
  }
  select(dim: number, index: number): Tensor {
    return wrap(native.select(this.handle, dim, index));
  }
  indexSelect(dim: number, index: Tensor): Tensor {
    return wrap(native.indexSelect(this.handle, dim, handleOf(index, "indexSelect: argument 'index'")));
  }
  gather(dim: number, index: Tensor): Tensor {
    return wrap(native.gather(this.handle, dim, handleOf(index, "gather: argument 'index'")));
  }
  softmax(dim: number): Tensor {
    return wrap(native.softmax(this.handle, dim));
  }
  logSoftmax(dim: number): Tensor {
    return wrap(native.logSoftmax(this.handle, dim));
  }

  // ---- in place (never recorded by autograd; for initialisation and optimizers) ----------------
  /** Fills with U(low, high) from the seeded generator. */
  uniform_(low = 0, high = 1): this {
    native.uniform_(this.handle, low, high);
    return this;
  }
  normal_(mean = 0, std = 1): this {
    native.normal_(this.handle, mean, std);
    return this;
  }
  fill_(value: number): this {
    native.fill_(this.handle, value);
    return this;
  }
  zero_(): this {
    native.fill_(this.handle, 0);
    return this;
  }
  copy_(src: Tensor): this {
    native.copy_(this.handle, handleOf(src, "copy_: argument 'src'"));
    return this;
  }
  /** this += alpha * other, in place, outside autograd. */
  addScaled_(other: Tensor, alpha = 1): this {
    native.addScaled_(this.handle, handleOf(other, "addScaled_: argument 'other'"), alpha);
    return this;
  }
  mul_(value: number): this {
    native.mul_(this.handle, value);
    return this;
  }
}
