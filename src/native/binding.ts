/**
 * The one typed interface to the native addon (`build/Release/dnas.node`), and the only place
 * that loads it. Everything in `src/torch/` goes through {@link native}.
 *
 * Tensors cross the boundary as numeric handles (see native/common.h). Element-wise ops are
 * table-driven: the addon exports the names of its tables (`unaryOps`, ...) and {@link op} turns
 * a name into the code the addon expects, checking at load time that every name dnas uses exists.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Binding } from './binding.gen';

/** A native tensor handle. */
export type Handle = number;
/** An optional argument or result of the addon. */
export type Opt<T> = T | null;

/** Dtype codes, in the order native/registry.cc defines them. */
export const DTYPE_CODES = ['float32', 'float64', 'int64', 'bool', 'int32', 'uint8', 'bfloat16', 'float16'] as const;
export type DType = (typeof DTYPE_CODES)[number];

/**
 * How a 4-D tensor's elements lie in memory: `contiguous` is NCHW (PyTorch's default),
 * `channelsLast` is NHWC strides with the NCHW shape (`torch.channels_last`).
 */
export type MemoryFormat = 'contiguous' | 'channelsLast';

export interface MemoryInfo {
  /** Live tensor handles. */
  numTensors: number;
  /** Distinct storages behind them. */
  numStorages: number;
  /** Bytes held by those storages. */
  numBytes: number;
  /** Open tidy scopes. */
  numScopes: number;
}

export type { Binding } from './binding.gen';

/** Where the addon is looked for, first match wins (DNAS_ADDON overrides). */
function addonCandidates(): string[] {
  const root = path.resolve(__dirname, '..', '..', '..');
  const list = [path.join(root, 'build', 'Release', 'dnas.node')];
  if (process.env.DNAS_ADDON) list.unshift(process.env.DNAS_ADDON);
  return list;
}

function load(): Binding {
  const candidates = addonCandidates();
  const found = candidates.find((p) => fs.existsSync(p));
  if (!found) {
    throw new Error(
      `dnas: the native addon was not found (looked for ${candidates.join(', ')}).\n` +
        'Build it with `npm run setup` (scripts/setup.sh). It needs libtorch, provided in one of three ways:\n' +
        '  1. export LIBTORCH=/path/to/libtorch (an unpacked libtorch with include/ and lib/)\n' +
        '  2. a Python PyTorch installation (pip install torch)\n' +
        '  3. Debian/Ubuntu: apt-get install libtorch-dev (set-up does it itself when run as root)',
    );
  }
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(found) as Binding;
  } catch (e) {
    throw new Error(
      `dnas: the native addon at ${found} failed to load: ${(e as Error).message}\n` +
        'If libtorch moved or was removed since the build, run `npm run build` to rebuild against the libtorch now present.',
    );
  }
}

/** The loaded addon. */
export const native: Binding = load();

function table(name: 'unaryOps' | 'binaryOps' | 'scalarOps' | 'reduceOps'): Map<string, number> {
  return new Map(native[name].map((n, i) => [n, i]));
}
const TABLES = {
  unary: table('unaryOps'),
  binary: table('binaryOps'),
  scalar: table('scalarOps'),
  reduce: table('reduceOps'),
};

/**
 * The addon's code for op `name` in table `kind`. Call once at module load and keep the number:
 * a missing name means the addon is older than the TypeScript and throws here, not mid-training.
 */
export function op(kind: keyof typeof TABLES, name: string): number {
  const code = TABLES[kind].get(name);
  if (code === undefined) {
    throw new Error(`dnas: the native addon has no ${kind} op '${name}'; it is out of date, rebuild it with \`npm run build\``);
  }
  return code;
}
