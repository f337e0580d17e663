/**
 * Tensor lifetimes and autograd modes: `tidy`, `keep`, `dispose`, `memory`, `noGrad`.
 */
import { MemoryInfo, native } from '../native/binding';
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
