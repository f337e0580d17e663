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

/** A native tensor handle. */
export type Handle = number;
type Opt<T> = T | null;

/** Dtype codes, in the order native/registry.cc defines them. */
export const DTYPE_CODES = ['float32', 'float64', 'int64', 'bool', 'int32', 'uint8', 'bfloat16', 'float16'] as const;
export type DType = (typeof DTYPE_CODES)[number];

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

export interface Binding {
  unaryOps: string[];
  binaryOps: string[];
  scalarOps: string[];
  reduceOps: string[];
  // registry
  dispose(h: Handle): boolean;
  isLive(h: Handle): boolean;
  startScope(): number;
  endScope(keep: Handle[]): void;
  keep(h: Handle): void;
  memory(): MemoryInfo;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  cudaAvailable(): boolean;
  cudaDeviceCount(): number;
  versions(): { libtorch: string; cxx11Abi: boolean; parallel: string };
  // creation and data
  fromArray(data: Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array, shape: number[], dtype: number, device: string): Handle;
  data(h: Handle): Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;
  item(h: Handle): number | boolean;
  shape(h: Handle): number[];
  dtype(h: Handle): number;
  device(h: Handle): string;
  numel(h: Handle): number;
  dim(h: Handle): number;
  sameStorage(a: Handle, b: Handle): boolean;
  zeros(shape: number[], dtype: number, device: string): Handle;
  ones(shape: number[], dtype: number, device: string): Handle;
  full(shape: number[], value: number, dtype: number, device: string): Handle;
  arange(start: number, end: number, step: number, dtype: number, device: string): Handle;
  linspace(start: number, end: number, steps: number, dtype: number, device: string): Handle;
  randn(shape: number[], dtype: number, device: string): Handle;
  rand(shape: number[], dtype: number, device: string): Handle;
  randint(low: number, high: number, shape: number[], device: string): Handle;
  randperm(n: number, device: string): Handle;
  gumbelLike(h: Handle): Handle;
  manualSeed(seed: number): void;
  getRngState(): Handle;
  setRngState(h: Handle): void;
  uniform_(h: Handle, low: number, high: number): void;
  normal_(h: Handle, mean: number, std: number): void;
  fill_(h: Handle, value: number): void;
  copy_(dst: Handle, src: Handle): void;
  // math
  unary(code: number, a: Handle): Handle;
  binary(code: number, a: Handle, b: Handle): Handle;
  scalar(code: number, a: Handle, s: number): Handle;
  reduce(code: number, a: Handle, dims: Opt<number[]>, keepdim: boolean): Handle;
  varStd(isStd: boolean, a: Handle, dims: Opt<number[]>, correction: number, keepdim: boolean): Handle;
  maxDim(a: Handle, dim: number, keepdim: boolean): [Handle, Handle];
  minDim(a: Handle, dim: number, keepdim: boolean): [Handle, Handle];
  argmax(a: Handle, dim: Opt<number>, keepdim: boolean): Handle;
  topk(a: Handle, k: number, dim: number, largest: boolean, sorted: boolean): [Handle, Handle];
  sort(a: Handle, dim: number, descending: boolean): [Handle, Handle];
  clamp(a: Handle, min: Opt<number>, max: Opt<number>): Handle;
  where(cond: Handle, a: Handle, b: Handle): Handle;
  addScaled(a: Handle, b: Handle, alpha: number): Handle;
  maskedFill(a: Handle, mask: Handle, value: number): Handle;
  reshape(a: Handle, shape: number[]): Handle;
  view(a: Handle, shape: number[]): Handle;
  permute(a: Handle, dims: number[]): Handle;
  transpose(a: Handle, d0: number, d1: number): Handle;
  flatten(a: Handle, start: number, end: number): Handle;
  squeeze(a: Handle, dim: Opt<number>): Handle;
  unsqueeze(a: Handle, dim: number): Handle;
  expand(a: Handle, shape: number[]): Handle;
  repeat(a: Handle, sizes: number[]): Handle;
  flip(a: Handle, dims: number[]): Handle;
  cat(ts: Handle[], dim: number): Handle;
  stack(ts: Handle[], dim: number): Handle;
  split(a: Handle, sizes: number | number[], dim: number): Handle[];
  narrow(a: Handle, dim: number, start: number, length: number): Handle;
  select(a: Handle, dim: number, index: number): Handle;
  indexSelect(a: Handle, dim: number, index: Handle): Handle;
  gather(a: Handle, dim: number, index: Handle): Handle;
  pad(a: Handle, widths: number[], value: number): Handle;
  oneHot(a: Handle, numClasses: number): Handle;
  to(a: Handle, dtype: Opt<number>, device: Opt<string>): Handle;
  // nn
  conv2d(x: Handle, w: Handle, b: Opt<Handle>, stride: number[], padding: number[], dilation: number[], groups: number): Handle;
  linear(x: Handle, w: Handle, b: Opt<Handle>): Handle;
  batchNorm(x: Handle, w: Opt<Handle>, b: Opt<Handle>, rm: Opt<Handle>, rv: Opt<Handle>, training: boolean, momentum: number, eps: number): Handle;
  maxPool2d(x: Handle, k: number[], s: number[], p: number[], d: number[], ceil: boolean): Handle;
  avgPool2d(x: Handle, k: number[], s: number[], p: number[], ceil: boolean, countIncludePad: boolean): Handle;
  adaptiveAvgPool2d(x: Handle, size: number[]): Handle;
  interpolate(x: Handle, size: number[], mode: string, alignCorners: boolean): Handle;
  softmax(x: Handle, dim: number): Handle;
  logSoftmax(x: Handle, dim: number): Handle;
  crossEntropy(x: Handle, t: Handle, w: Opt<Handle>, ignoreIndex: number, reduction: string, labelSmoothing: number): Handle;
  nllLoss(x: Handle, t: Handle, w: Opt<Handle>, ignoreIndex: number, reduction: string): Handle;
  mseLoss(x: Handle, t: Handle, reduction: string): Handle;
  dropout(x: Handle, p: number, training: boolean): Handle;
  // autograd and optimizers
  setRequiresGrad(h: Handle, v: boolean): void;
  requiresGrad(h: Handle): boolean;
  grad(h: Handle): Opt<Handle>;
  hasGrad(h: Handle): boolean;
  setGrad(h: Handle, g: Opt<Handle>): void;
  zeroGrad(params: Handle[], setToNone: boolean): void;
  backward(h: Handle, grad: Opt<Handle>, retainGraph: boolean, createGraph: boolean): void;
  autogradGrad(outputs: Handle[], inputs: Handle[], gradOutputs: Opt<Handle[]>, retain: boolean, create: boolean, allowUnused: boolean): Opt<Handle>[];
  isGradEnabled(): boolean;
  setGradEnabled(v: boolean): void;
  /** [enabled, dtype code] of autocast on device type 'cpu' or 'cuda'. */
  autocastState(deviceType: string): [boolean, number];
  autocastEnter(deviceType: string, enabled: boolean, dtype: number): void;
  autocastExit(deviceType: string, enabled: boolean, dtype: number): void;
  addScaled_(dst: Handle, src: Handle, alpha: number): void;
  mul_(dst: Handle, value: number): void;
  clipGradNorm(params: Handle[], maxNorm: number): number;
  sgdStep(
    params: Handle[],
    bufs: Handle[],
    lr: number,
    momentum: number,
    dampening: number,
    wd: number,
    nesterov: boolean,
    maximize: boolean,
    maxNorm?: number | null,
  ): { buffers: Handle[]; norm: number };
  adamStep(
    params: Handle[],
    m: Handle[],
    v: Handle[],
    steps: Float64Array,
    lr: number,
    b1: number,
    b2: number,
    eps: number,
    wd: number,
    decoupled: boolean,
    maxNorm?: number | null,
  ): [Handle[], Handle[], number];
  // serialization
  pickleSave(value: unknown): Buffer;
  pickleLoad(bytes: Buffer): unknown;
  // collectives (native/distributed.cc): one gloo process group per process
  distInit(addr: string, port: number, rank: number, world: number, timeoutMs: number): void;
  /** In place over the list as one buffer; op 0 sum, 1 max, 2 min. */
  distAllReduce(tensors: Handle[], op: number): void;
  distBroadcast(tensors: Handle[], root: number): void;
  distBarrier(): void;
  distDestroy(): void;
  /** '' when the addon has collectives, else why not (built without gloo). */
  distUnavailable(): string;
}

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
