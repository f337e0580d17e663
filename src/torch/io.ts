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
 * Creates `dir` and its missing parents, one level at a time, and says which level failed and
 * why. (Node's own `mkdirSync(..., { recursive: true })` loops forever where the kernel answers
 * ENOENT for a parent that exists, as under /proc.)
 *
 * @example
 * makeDirs('runs/cs/checkpoints');
 */
export function makeDirs(dir: string): void {
  const full = path.resolve(dir);
  const missing: string[] = [];
  for (let d = full; ; d = path.dirname(d)) {
    let st: fs.Stats | null = null;
    try {
      st = fs.statSync(d);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // ENOTDIR: a parent is a file; the loop reaches it and says so.
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new Error(`cannot create the folder ${full}: ${d} cannot be read (${code})`);
    }
    if (st) {
      if (!st.isDirectory()) throw new Error(`cannot create the folder ${full}: ${d} exists and is not a folder`);
      break;
    }
    if (path.dirname(d) === d) break;
    missing.unshift(d);
  }
  for (const d of missing) {
    try {
      fs.mkdirSync(d);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && fs.statSync(d).isDirectory()) continue; // made meanwhile by another process
      const why =
        code === 'EACCES' || code === 'EPERM'
          ? `no permission to create ${d} (is ${path.dirname(d)} read-only?)`
          : code === 'EROFS'
            ? `${path.dirname(d)} is on a read-only file system`
            : code === 'ENOSPC'
              ? 'the disk is full'
              : `${d} cannot be created there (${code})`;
      throw new Error(`cannot create the folder ${full}: ${why}; choose another place`);
    }
  }
}

/**
 * Opens `file` for appending (created when missing) without following a symbolic link there:
 * a link planted at a log's name fails with a clear error instead of redirecting the writes.
 */
export function openAppendNoFollow(file: string): number {
  const { O_WRONLY, O_APPEND, O_CREAT, O_NOFOLLOW } = fs.constants;
  try {
    return fs.openSync(file, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW, 0o644);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw new Error(`${file} is a symbolic link; refusing to write through it`);
    throw new Error(`cannot open ${file} for writing (${code ?? (e as Error).message})`);
  }
}

/** Appends `text` to `file` ({@link openAppendNoFollow}: never through a symbolic link). */
export function appendNoFollow(file: string, text: string): void {
  const fd = openAppendNoFollow(file);
  try {
    fs.writeFileSync(fd, text);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Writes `data` to `file` atomically and without following links: a fresh temporary file in the
 * same folder (`<file>.tmp-<pid>`, created exclusively, so a link planted there is never opened),
 * flushed to disk, then renamed over `file` (a rename replaces a name, never what a link points
 * to). A `file` that is a symbolic link or not a regular file is refused and left as it is. A crash
 * never leaves a half-written file in place of the last good one.
 *
 * @example
 * writeFileAtomic('runs/cs/summary.json', JSON.stringify(summary));
 */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  let st: fs.Stats | null = null;
  try {
    st = fs.lstatSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (st?.isSymbolicLink()) throw new Error(`${file} is a symbolic link; refusing to write through it`);
  if (st && !st.isFile()) throw new Error(`${file} exists and is not a regular file`);
  makeDirs(path.dirname(path.resolve(file)));
  const tmp = `${file}.tmp-${process.pid}`;
  let fd: number;
  try {
    fs.rmSync(tmp, { force: true }); // left by an earlier crash of a process with this pid (a link is removed, not followed)
    fd = fs.openSync(tmp, 'wx', 0o644);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const dir = path.dirname(path.resolve(file));
    const why =
      code === 'EACCES' || code === 'EPERM'
        ? `no permission to create files in ${dir}`
        : code === 'EROFS'
          ? `${dir} is on a read-only file system`
          : code === 'ENOSPC'
            ? 'the disk is full'
            : `${code ?? (e as Error).message}`;
    throw new Error(`cannot write ${file}: ${why}`);
  }
  try {
    try {
      fs.writeFileSync(fd, data); // every byte (writeSync may write part of a large buffer)
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * Writes `value` to `file` as a torch.save file, atomically ({@link writeFileAtomic}).
 *
 * @example
 * torch.save(model.stateDict(), 'model.pt');   // Python: torch.load('model.pt')
 */
export function save(value: Saveable | Record<string, unknown>, file: string): void {
  writeFileAtomic(file, serialize(value));
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
