/**
 * Making tensors, random numbers, seeds and threads.
 */
import { native } from '../native/binding';
import { Device, DType, dtypeCode, handleOf, Tensor, TypedArray, wrap } from './tensor';

/** Options accepted by every creation function. */
export interface TensorOptions {
  /** Element type; float32 unless said otherwise (int64 for integer data in `tensor`). */
  dtype?: DType;
  /** 'cpu' (default), 'cuda', 'cuda:N'. */
  device?: Device;
  requiresGrad?: boolean;
}

type Nested = number | boolean | Nested[];

function finish(t: Tensor, opts: TensorOptions): Tensor {
  if (opts.requiresGrad) t.requiresGrad_(true);
  return t;
}
const dt = (o: TensorOptions, d: DType = 'float32') => dtypeCode(o.dtype ?? d);
const dev = (o: TensorOptions) => o.device ?? 'cpu';

function inferShape(data: Nested): number[] {
  const shape: number[] = [];
  let v: Nested = data;
  while (Array.isArray(v)) {
    shape.push(v.length);
    v = v[0];
  }
  return shape;
}

/**
 * A tensor from nested arrays or a typed array (copied). Integer-valued typed arrays keep their
 * type; nested number arrays become float32 unless `dtype` says otherwise.
 *
 * @example
 * const x = torch.tensor([[1, 2], [3, 4]]);
 * const y = torch.tensor(new Float64Array([1, 2, 3]), { shape: [3, 1] });
 */
export function tensor(data: Nested | TypedArray, opts: TensorOptions & { shape?: number[] } = {}): Tensor {
  if (ArrayBuffer.isView(data)) {
    const shape = opts.shape ?? [data.length];
    const fallback: DType =
      data instanceof Float64Array
        ? 'float64'
        : data instanceof BigInt64Array
          ? 'int64'
          : data instanceof Int32Array
            ? 'int32'
            : data instanceof Uint8Array
              ? 'uint8'
              : 'float32';
    return finish(wrap(native.fromArray(data, shape, dt(opts, fallback), dev(opts))), opts);
  }
  const shape = opts.shape ?? inferShape(data);
  const flat = Array.isArray(data) ? (data as unknown[]).flat(Infinity) : [data];
  const values = new Float64Array(flat.length);
  for (let i = 0; i < flat.length; i++) {
    const v = flat[i];
    if (typeof v !== 'number' && typeof v !== 'boolean') throw new TypeError(`tensor: element ${i} is ${typeof v}, not a number`);
    values[i] = Number(v);
  }
  const expected = shape.reduce((a, b) => a * b, 1);
  if (expected !== values.length) {
    throw new RangeError(`tensor: the nested arrays are ragged or do not match shape [${shape}] (${values.length} values)`);
  }
  return finish(wrap(native.fromArray(values, shape, dt(opts), dev(opts))), opts);
}

export function zeros(shape: number[], opts: TensorOptions = {}): Tensor {
  return finish(wrap(native.zeros(shape, dt(opts), dev(opts))), opts);
}
export function ones(shape: number[], opts: TensorOptions = {}): Tensor {
  return finish(wrap(native.ones(shape, dt(opts), dev(opts))), opts);
}
export function full(shape: number[], value: number, opts: TensorOptions = {}): Tensor {
  return finish(wrap(native.full(shape, value, dt(opts), dev(opts))), opts);
}
/** Values start, start+step, ... below end (int64 unless a dtype is given or a bound is fractional). */
export function arange(start: number, end?: number, step = 1, opts: TensorOptions = {}): Tensor {
  if (end === undefined) [start, end] = [0, start];
  const integral = Number.isInteger(start) && Number.isInteger(end) && Number.isInteger(step);
  return finish(wrap(native.arange(start, end, step, dt(opts, integral ? 'int64' : 'float32'), dev(opts))), opts);
}
export function linspace(start: number, end: number, steps: number, opts: TensorOptions = {}): Tensor {
  return finish(wrap(native.linspace(start, end, steps, dt(opts), dev(opts))), opts);
}
/** Standard normal samples from the seeded generator. */
export function randn(shape: number[], opts: TensorOptions = {}): Tensor {
  return finish(wrap(native.randn(shape, dt(opts), dev(opts))), opts);
}
/** U(0, 1) samples from the seeded generator. */
export function rand(shape: number[], opts: TensorOptions = {}): Tensor {
  return finish(wrap(native.rand(shape, dt(opts), dev(opts))), opts);
}
/** int64 samples in [low, high). */
export function randint(low: number, high: number, shape: number[], opts: { device?: Device } = {}): Tensor {
  return wrap(native.randint(low, high, shape, opts.device ?? 'cpu'));
}
/** A random permutation of 0..n-1 (int64). */
export function randperm(n: number, opts: { device?: Device } = {}): Tensor {
  return wrap(native.randperm(n, opts.device ?? 'cpu'));
}
export function zerosLike(t: Tensor, opts: TensorOptions = {}): Tensor {
  return zeros(t.shape, { dtype: t.dtype, device: t.device, ...opts });
}
export function onesLike(t: Tensor, opts: TensorOptions = {}): Tensor {
  return ones(t.shape, { dtype: t.dtype, device: t.device, ...opts });
}
export function fullLike(t: Tensor, value: number, opts: TensorOptions = {}): Tensor {
  return full(t.shape, value, { dtype: t.dtype, device: t.device, ...opts });
}
export function randnLike(t: Tensor, opts: TensorOptions = {}): Tensor {
  return randn(t.shape, { dtype: t.dtype, device: t.device, ...opts });
}
export function randLike(t: Tensor, opts: TensorOptions = {}): Tensor {
  return rand(t.shape, { dtype: t.dtype, device: t.device, ...opts });
}
/** Standard Gumbel noise shaped like `t`, from the seeded generator. */
export function gumbelLike(t: Tensor): Tensor {
  return wrap(native.gumbelLike(handleOf(t, "gumbelLike: argument 'input'")));
}

/** Seeds the default generator (randn, rand, dropout, Gumbel noise, ...). */
export function manualSeed(seed: number): void {
  native.manualSeed(seed);
}
/** The default generator's state, as a uint8 tensor (for checkpoints). */
export function getRngState(): Tensor {
  return wrap(native.getRngState());
}
export function setRngState(state: Tensor): void {
  native.setRngState(handleOf(state, 'setRngState: argument state'));
}
/** Intra-op threads used by libtorch. dnas starts at 1; set it explicitly. */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`setNumThreads: n must be a positive integer, got ${n}`);
  native.setNumThreads(n);
}
export function getNumThreads(): number {
  return native.getNumThreads();
}
/** CUDA queries; always false/0 with a CPU-only libtorch. */
export const cuda = {
  isAvailable: (): boolean => native.cudaAvailable(),
  deviceCount: (): number => native.cudaDeviceCount(),
};

/**
 * Throws a one-line error unless `device` ('cpu', 'cuda', 'cuda:N') exists here: a CUDA device
 * needs a CUDA build of libtorch and a GPU. `flag` names the setting in the message.
 */
export function checkDevice(device: string, flag = '--device'): void {
  const m = /^(cpu|cuda)(?::(\d+))?$/.exec(device);
  if (!m) throw new Error(`${flag} must be cpu, cuda or cuda:N, got '${device}'`);
  if (m[1] === 'cpu') return;
  if (!cuda.isAvailable())
    throw new Error(
      `${flag} ${device}: no CUDA device here (the addon's libtorch ${versions().libtorch} has no CUDA, or no GPU is visible); use --device cpu, or build against a CUDA libtorch (docs/install.md)`,
    );
  const n = cuda.deviceCount();
  if (m[2] !== undefined && Number(m[2]) >= n) throw new Error(`${flag} ${device}: this machine has ${n} CUDA device(s), cuda:0 to cuda:${n - 1}`);
}
/** Versions of libtorch the addon was built against. */
export function versions(): { libtorch: string; cxx11Abi: boolean } {
  const v = native.versions();
  return { libtorch: v.libtorch, cxx11Abi: v.cxx11Abi };
}
