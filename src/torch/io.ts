/**
 * torch.save / torch.load in PyTorch's own file format: a file written here is read by Python's
 * `torch.load` as a dict (of tensors, numbers, strings, lists and nested dicts), and a dict that
 * Python's `torch.save` wrote is read here.
 *
 * Limitation of libtorch's reader: Python's `model.state_dict()` is an OrderedDict, which libtorch
 * cannot read; save `dict(model.state_dict())` from Python instead (the error says so too).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { native } from '../native/binding';
import { Tensor, wrap } from './tensor';
import { checkZip } from './zipcheck';

/** Values that round-trip through save/load. */
export type Saveable = Tensor | number | string | boolean | null | Saveable[] | { [key: string]: Saveable };

function toNative(v: unknown, where: string): unknown {
  if (v instanceof Tensor) {
    if (v.disposed) throw new Error(`save: the tensor at '${where}' was disposed`);
    return { __tensor: v.handle };
  }
  if (Array.isArray(v)) return v.map((x, i) => toNative(x, `${where}.${i}`));
  if (typeof v === 'function' || typeof v === 'symbol' || typeof v === 'bigint') {
    // The addon would otherwise see a function as an empty object and save {} without a word.
    throw new TypeError(`save: cannot serialize the value at '${where}' (a ${typeof v}; functions, symbols and bigints are not supported)`);
  }
  if (v !== null && typeof v === 'object') {
    if (ArrayBuffer.isView(v)) throw new TypeError(`save: '${where}' is a typed array; wrap it with torch.tensor() first`);
    if (v instanceof Map || v instanceof Set) throw new TypeError(`save: '${where}' is a ${v.constructor.name}; convert it to a plain object or array first`);
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) o[k] = toNative(x, where ? `${where}.${k}` : k);
    return o;
  }
  if (typeof v === 'number' && !Number.isFinite(v)) return v; // stored as float inf/nan
  return v;
}

function fromNative(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(fromNative);
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.__tensor === 'number' && Object.keys(o).length === 1) return wrap(o.__tensor);
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(o)) out[k] = fromNative(x);
    return out;
  }
  return v;
}

/** The bytes of a torch.save file holding `value`. */
export function serialize(value: Saveable | Record<string, unknown>): Buffer {
  return native.pickleSave(toNative(value, ''));
}

/** Parses the bytes of a torch.save file (`source` names it in errors). */
export function deserialize(bytes: Buffer, source = 'buffer'): unknown {
  checkZip(bytes, source); // every record inside the file and matching its checksum
  try {
    return fromNative(native.pickleLoad(bytes));
  } catch (e) {
    const msg = (e as Error).message;
    const hint = /GenericDict but got None/.test(msg)
      ? ' The file holds an OrderedDict (as model.state_dict() returns); in Python, save dict(model.state_dict()) instead.'
      : '';
    throw new Error(`load: cannot read ${source} as a torch.save file: ${msg.split('\n')[0]}${hint}`);
  }
}

/**
 * Writes `value` to `file` atomically (a temporary file in the same folder, flushed, then
 * renamed), so a crash never leaves a half-written checkpoint in place of the last good one.
 *
 * @example
 * torch.save(model.stateDict(), 'model.pt');   // Python: torch.load('model.pt')
 */
export function save(value: Saveable | Record<string, unknown>, file: string): void {
  const bytes = serialize(value);
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, bytes);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

/** Reads a torch.save file; tensors come back as Tensors. */
export function load<T = Record<string, unknown>>(file: string): T {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new Error(`load: cannot read '${file}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return deserialize(bytes, `'${file}'`) as T;
}
