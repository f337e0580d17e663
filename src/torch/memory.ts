/**
 * Tensor lifetimes and autograd modes: `tidy`, `keep`, `dispose`, `memory`, `noGrad`.
 */
import { DTYPE_CODES, MemoryInfo, native } from '../native/binding';
import { Tensor } from './tensor';

/** Every Tensor inside a value: the value itself, array items, object fields, Map values. */
export function collectTensors(value: unknown, out: Tensor[] = [], seen = new Set<unknown>()): Tensor[] {
  if (value instanceof Tensor) {
    out.push(value);
  } else if (value !== null && typeof value === 'object' && !seen.has(value) && !ArrayBuffer.isView(value)) {
    seen.add(value);
    const items = value instanceof Map ? value.values() : Array.isArray(value) ? value : Object.values(value);
    for (const v of items) collectTensors(v, out, seen);
  }
  return out;
}

/**
 * Runs `fn` and releases every tensor created inside it, except the tensors in its result
 * (found in arrays, objects and Maps) and those passed to {@link keep}. Scopes nest. `fn` must be
 * synchronous: an async function would leave the scope open across awaits.
 *
 * @example
 * const loss = tidy(() => model.forward(x).sub(y).square().mean()); // intermediates released
 */
export function tidy<T>(fn: () => T): T {
  native.startScope();
  let result: T;
  try {
    result = fn();
  } catch (e) {
    native.endScope([]);
    throw e;
  }
  if (result instanceof Promise) {
    native.endScope([]);
    throw new Error('tidy(): the callback returned a Promise; tidy only takes synchronous functions (use it inside the async step instead)');
  }
  native.endScope(collectTensors(result).map((t) => t.handle));
  return result;
}

/** Marks `t` to survive the end of every tidy scope (it is then released by dispose or GC). */
export function keep<T extends Tensor>(t: T): T {
  native.keep(t.handle);
  return t;
}

/** Releases every tensor inside `value` now (a tensor, or arrays/objects of them). */
export function dispose(value: unknown): void {
  for (const t of collectTensors(value)) t.dispose();
}

/** Counts of live native tensors, storages and bytes (tests assert on `numTensors`). */
export function memory(): MemoryInfo {
  return native.memory();
}

/** Whether autograd records operations now. */
export function isGradEnabled(): boolean {
  return native.isGradEnabled();
}

function withGradMode<T>(enabled: boolean, fn: () => T): T {
  const before = native.isGradEnabled();
  native.setGradEnabled(enabled);
  try {
    const r = fn();
    if (r instanceof Promise) throw new Error('noGrad()/enableGrad(): the callback must be synchronous');
    return r;
  } finally {
    native.setGradEnabled(before);
  }
}

/** Runs `fn` without recording autograd history (torch.no_grad). */
export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, fn);
}

/** Runs `fn` with autograd recording on, even inside noGrad (torch.enable_grad). */
export function enableGrad<T>(fn: () => T): T {
  return withGradMode(true, fn);
}

/** Options of {@link autocast}. */
export interface AutocastOptions {
  /** The lower precision: 'bfloat16' (default on CPU) or 'float16' (default on CUDA). */
  dtype?: 'bfloat16' | 'float16';
  /** false runs `fn` with autocast off (inside an enabled region too). Default true. */
  enabled?: boolean;
}

/**
 * Runs `fn` with mixed precision on one device type (torch.autocast): operations that autocast
 * lists (convolutions, matrix products, ...) run in `dtype` on tensors of that device type, the
 * others in float32 or the widest input type, exactly as libtorch's autocast decides. Parameters
 * stay float32; their casts are cached for the region. Regions nest; the state is restored on
 * exit, also when `fn` throws.
 *
 * @example
 * const loss = torch.autocast('cpu', () => F.crossEntropy(net.forward(x), y)); // bf16 convolutions
 * loss.backward(); // outside the region, as in PyTorch
 */
export function autocast<T>(deviceType: 'cpu' | 'cuda', fn: () => T, opts: AutocastOptions = {}): T {
  const dtype = opts.dtype ?? (deviceType === 'cpu' ? 'bfloat16' : 'float16');
  if (dtype !== 'bfloat16' && dtype !== 'float16') throw new TypeError(`autocast: dtype must be 'bfloat16' or 'float16', got '${String(dtype)}'`);
  const [wasOn, wasDtype] = native.autocastState(deviceType);
  native.autocastEnter(deviceType, opts.enabled ?? true, DTYPE_CODES.indexOf(dtype));
  try {
    const r = fn();
    if (r instanceof Promise) throw new Error('autocast(): the callback must be synchronous');
    return r;
  } finally {
    native.autocastExit(deviceType, wasOn, wasDtype);
  }
}

/** Whether autocast is on for `deviceType` now. */
export function isAutocastEnabled(deviceType: 'cpu' | 'cuda' = 'cpu'): boolean {
  return native.autocastState(deviceType)[0];
}
