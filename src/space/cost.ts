/**
 * Cost of a network: parameter count, multiply-accumulates (counted analytically from the shapes
 * a forward pass produces), measured latency, and the differentiable expected cost of a space.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fastKernels, getNumThreads, MemoryFormat, nn, noGrad, Tensor, tidy, versions, zeros } from '../torch';
import { writeFileAtomic } from '../torch/io';
import { MixedOp } from './choices';
import { SearchSpace } from './space';

/**
 * Multiply-accumulates of one pass on a single image, per leaf module (convolutions and linear
 * layers; everything else counts 0).
 */
export interface MacProfile {
  /** MACs of the whole pass. */
  total: number;
  /** MACs per convolution / linear module (summed over its calls). */
  perModule: Map<nn.Module, number>;
  /** MACs of `m` and its descendants. */
  of(m: nn.Module): number;
}

type Target = SearchSpace | nn.Module;

/**
 * `of(m)` of a profile: the per-module costs summed over m and its descendants, memoised (a
 * profile does not change, and the expected cost of a space asks for the same modules at every
 * architecture step).
 */
function subtreeSum(perModule: Map<nn.Module, number>): (m: nn.Module) => number {
  const memo = new Map<nn.Module, number>();
  return (m) => {
    let v = memo.get(m);
    if (v === undefined) {
      v = m.modules().reduce((a, x) => a + (perModule.get(x) ?? 0), 0);
      memo.set(m, v);
    }
    return v;
  };
}
const moduleOf = (t: Target): nn.Module => (t instanceof SearchSpace ? t.module : t);
const batchOf = (shape: number[]): number[] => (shape.length === 3 ? [1, ...shape] : shape);
const deviceOf = (t: Target): string => moduleOf(t).parameters()[0]?.device ?? 'cpu';

/** Runs `fn` in eval mode without grad, restoring each module's mode after. */
function inEval<T>(m: nn.Module, fn: () => T): T {
  const modes = m.modules().map((x) => [x, x.training] as const);
  m.eval();
  try {
    return noGrad(fn);
  } finally {
    for (const [x, t] of modes) x.training = t;
  }
}

/**
 * MACs of one pass of `target` on an input of `inputShape` ([C, H, W], or [N, C, H, W] of which
 * one image is counted). A conv counts Cout * Hout * Wout * (Cin / groups) * kH * kW, a linear
 * layer in * out per row. A SearchSpace is profiled under the softmax relaxation, so every
 * candidate runs and each has its cost (see {@link SearchSpace.expectedCost}).
 *
 * @example
 * const p = profileMacs(net, [3, 32, 32]);
 * console.log(p.total / 1e6, 'MMACs');
 */
export function profileMacs(target: Target, inputShape: number[]): MacProfile {
  const shape = batchOf(inputShape);
  const [n] = shape;
  const perModule = new Map<nn.Module, number>();
  const add = (m: nn.Module, v: number) => perModule.set(m, (perModule.get(m) ?? 0) + v);
  const convFwd = nn.Conv2d.prototype.forward;
  const linFwd = nn.Linear.prototype.forward;
  nn.Conv2d.prototype.forward = function (this: nn.Conv2d, x: Tensor): Tensor {
    const y = convFwd.call(this, x);
    const [, cinG, kh, kw] = this.weight.shape;
    add(this, (y.numel / n) * cinG * kh * kw);
    return y;
  };
  nn.Linear.prototype.forward = function (this: nn.Linear, x: Tensor): Tensor {
    const y = linFwd.call(this, x);
    add(this, (y.numel / n) * this.inFeatures);
    return y;
  };
  const space = target instanceof SearchSpace ? target : null;
  const kind = space?.relaxation.kind;
  try {
    if (space) space.setRelaxation('softmax');
    inEval(moduleOf(target), () =>
      tidy(() => {
        const x = zeros(shape, { device: deviceOf(target) });
        if (space) space.forward(x);
        else moduleOf(target).forward(x);
      }),
    );
  } finally {
    nn.Conv2d.prototype.forward = convFwd;
    nn.Linear.prototype.forward = linFwd;
    if (space && kind) space.setRelaxation(kind);
  }
  let total = 0;
  for (const v of perModule.values()) total += v;
  return {
    total,
    perModule,
    of: subtreeSum(perModule),
  };
}

/**
 * MACs of one pass on one image of `inputShape` ([C, H, W] or [N, C, H, W]).
 *
 * @example
 * countMacs(derived, [3, 32, 32]); // e.g. 5.2e6
 */
export function countMacs(target: Target, inputShape: number[]): number {
  return profileMacs(target, inputShape).total;
}

/**
 * Number of trainable elements: of a module, of a space's weights (never its architecture
 * parameters), or of a list of tensors. Shared tensors count once.
 *
 * @example
 * countParameters(space); // supernet weights
 */
export function countParameters(target: Target | Tensor[]): number {
  const ps = Array.isArray(target) ? target : target instanceof SearchSpace ? target.weightParameters() : target.parameters();
  const seen = new Set<number>();
  let n = 0;
  for (const p of ps)
    if (!seen.has(p.handle)) {
      seen.add(p.handle);
      n += p.numel;
    }
  return n;
}

/** Latency statistics in milliseconds. */
export interface Latency {
  medianMs: number;
  meanMs: number;
  minMs: number;
  iters: number;
}

/**
 * Measured wall-clock time of a forward pass (eval mode, no grad) on zeros of `inputShape`
 * ([N, C, H, W]) laid out in `memoryFormat` (default contiguous), after `warmup` untimed passes.
 *
 * @example
 * measureLatency(net, [1, 3, 64, 64], { iters: 20 }).medianMs;
 */
export function measureLatency(target: Target, inputShape: number[], opts: { warmup?: number; iters?: number; memoryFormat?: MemoryFormat } = {}): Latency {
  const warmup = opts.warmup ?? 2;
  const iters = opts.iters ?? 10;
  if (!(iters >= 1)) throw new RangeError(`measureLatency: iters must be >= 1, got ${iters}`);
  const shape = batchOf(inputShape);
  const times: number[] = [];
  inEval(moduleOf(target), () => {
    const x = tidy(() => {
      const z = zeros(shape, { device: deviceOf(target) });
      return opts.memoryFormat === 'channelsLast' ? z.to({ memoryFormat: 'channelsLast' }) : z;
    });
    try {
      for (let i = 0; i < warmup + iters; i++) {
        const t0 = process.hrtime.bigint();
        tidy(() => {
          const y = target instanceof SearchSpace ? target.forward(x) : (target.forward(x) as Tensor);
          y.sum().item(); // wait for the result (asynchronous devices)
        });
        if (i >= warmup) times.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    } finally {
      x.dispose();
    }
  });
  const sorted = [...times].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return {
    medianMs: sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2,
    meanMs: times.reduce((a, b) => a + b, 0) / times.length,
    minMs: sorted[0],
    iters,
  };
}

/**
 * The differentiable expected cost of `space` (MACs) under its architecture distribution; add
 * `lambda * expectedCost(...)` to the architecture loss to trade accuracy for cost.
 *
 * @example
 * const profile = profileMacs(space, [3, 64, 64]); // once
 * const loss = task.add(expectedCost(space, profile).div(1e6).mul(0.01));
 */
export function expectedCost(space: SearchSpace, profile: MacProfile): Tensor {
  return space.expectedCost(profile);
}

// ---- cost-aware search -------------------------------------------------------------------------

/** What a cost-aware search minimises beside the task loss. */
export type CostKind = 'macs' | 'params' | 'latency';

/** The unit each cost is reported in. */
export const COST_UNITS: Record<CostKind, string> = { macs: 'MMACs', params: 'M parameters', latency: 'ms' };

/**
 * Parameter counts as a profile for {@link SearchSpace.expectedCost}: each module counts the
 * elements of the parameters it holds itself (a shared parameter at its first holder).
 */
export function profileParams(target: Target): MacProfile {
  const root = moduleOf(target);
  const byPath = new Map(root.namedModules());
  const perModule = new Map<nn.Module, number>();
  for (const [name, p] of root.namedParameters()) {
    const owner = byPath.get(name.includes('.') ? name.slice(0, name.lastIndexOf('.')) : '') ?? root;
    perModule.set(owner, (perModule.get(owner) ?? 0) + p.numel);
  }
  let total = 0;
  for (const v of perModule.values()) total += v;
  return { total, perModule, of: subtreeSum(perModule) };
}

/** The machine a latency table was measured on; a table from another machine is not used. */
export interface LatencyMachine {
  cpu: string;
  cores: number;
  threads: number;
  libtorch: string;
  /** Whose convolution kernels ran: 'dnas' (its own where it has them, torch.fastKernels) or 'libtorch'. */
  kernels: 'dnas' | 'libtorch';
}

/** A latency table file: per-operation forward times (ms, median) by signature. */
export interface LatencyTableFile {
  format: 1;
  machine: LatencyMachine;
  entries: Record<string, number>;
}

/** Where latency tables are cached: $DNAS_CACHE_DIR, else $XDG_CACHE_HOME/dnas, else ~/.cache/dnas. */
export function latencyCacheFile(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.DNAS_CACHE_DIR || (env.XDG_CACHE_HOME ? path.join(env.XDG_CACHE_HOME, 'dnas') : path.join(os.homedir(), '.cache', 'dnas'));
  return path.join(dir, 'latency.json');
}

function thisMachine(): LatencyMachine {
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    threads: getNumThreads(),
    libtorch: versions().libtorch,
    kernels: fastKernels().enabled ? 'dnas' : 'libtorch',
  };
}

/** The largest latency table read (a cache file is small; anything bigger is not one). */
const MAX_TABLE_BYTES = 8 << 20;
/** The largest latency an entry may claim, in ms (a larger value is not a measurement). */
const MAX_ENTRY_MS = 60_000;

/**
 * Reads a latency table, or null when the file is missing, not a regular file (a link, a FIFO, a
 * device), too big, not a table, or from another machine. Entries that are not finite times in
 * [0, 60 s] are left out (and measured again).
 */
export function readLatencyTable(file: string, machine: LatencyMachine = thisMachine()): LatencyTableFile | null {
  let raw: unknown;
  let fd: number | null = null;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
    const st = fs.fstatSync(fd);
    if (!st.isFile() || st.size > MAX_TABLE_BYTES) return null;
    raw = JSON.parse(fs.readFileSync(fd, 'utf8'));
  } catch {
    return null;
  } finally {
    if (fd !== null) fs.closeSync(fd);
  }
  const t = raw as Partial<LatencyTableFile> | null;
  if (!t || t.format !== 1 || !t.machine || typeof t.entries !== 'object' || t.entries === null || Array.isArray(t.entries)) return null;
  const m = t.machine;
  // A table without `kernels` was measured before dnas had kernels of its own: measured again.
  if (m.cpu !== machine.cpu || m.cores !== machine.cores || m.threads !== machine.threads || m.libtorch !== machine.libtorch || m.kernels !== machine.kernels) {
    return null;
  }
  const entries: Record<string, number> = Object.create(null) as Record<string, number>;
  for (const [k, v] of Object.entries(t.entries)) if (typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= MAX_ENTRY_MS) entries[k] = v;
  return { format: 1, machine, entries };
}

/** A module's own settings: its fields that are numbers, booleans, short strings or lists of numbers (kernel size, stride, padding, ...). */
function settingsOf(m: nn.Module): string {
  const out: string[] = [];
  for (const [k, v] of Object.entries(m)) {
    if (k === 'training') continue;
    if (typeof v === 'number' || typeof v === 'boolean' || (typeof v === 'string' && v.length <= 32)) out.push(`${k}=${v}`);
    else if (Array.isArray(v) && v.length <= 8 && v.every((x) => typeof x === 'number')) out.push(`${k}=${v.join('x')}`);
  }
  return out.join(';');
}

/** A module's structure: its class and settings and its children's, recursively (MaxPool2d and AvgPool2d differ, so do strides). */
function structure(m: nn.Module): string {
  const kids = m.children();
  const own = `${m.constructor.name}[${settingsOf(m)}]`;
  return kids.length ? `${own}(${kids.map(structure).join(',')})` : own;
}

/** What a module's first call received: the input's shape and memory layout. */
interface InputSeen {
  shape: number[];
  memoryFormat: MemoryFormat;
}

/**
 * A module's signature in a latency table: its structure, input shape and layout, and parameter
 * shapes and layouts (two modules alike in all of these, such as poolings of different kernel
 * sizes, share an entry; an operation on channels-last tensors is timed apart from contiguous).
 */
function signature(m: nn.Module, input: InputSeen): string {
  const layout = (f: MemoryFormat) => (f === 'channelsLast' ? ' nhwc' : '');
  return `${structure(m)}|in ${input.shape.join('x')}${layout(input.memoryFormat)}|${m
    .parameters()
    .map((p) => p.shape.join('x') + (p.ndim === 4 ? layout(p.memoryFormat) : ''))
    .join(',')}`;
}

/** The input of one image: batch 1, the rest as seen. */
const oneImage = (s: InputSeen): InputSeen => ({ shape: [1, ...s.shape.slice(1)], memoryFormat: s.memoryFormat });

/** Records the input shape and layout of each of `mods` during `run` (the first call of each). */
function recordInputs(mods: nn.Module[], run: () => void): Map<nn.Module, InputSeen> {
  const seen = new Map<nn.Module, InputSeen>();
  const own = mods.map((m) => [m, Object.getOwnPropertyDescriptor(m, 'forward')] as const);
  for (const m of mods) {
    const orig = m.forward.bind(m);
    (m as { forward: (...a: unknown[]) => unknown }).forward = (...a: unknown[]) => {
      if (!seen.has(m) && a[0] instanceof Tensor) {
        const x = a[0] as Tensor;
        seen.set(m, { shape: x.shape, memoryFormat: x.ndim === 4 ? x.memoryFormat : 'contiguous' });
      }
      return orig(...a);
    };
  }
  try {
    run();
  } finally {
    for (const [m, d] of own) {
      if (d) Object.defineProperty(m, 'forward', d);
      else delete (m as { forward?: unknown }).forward;
    }
  }
  return seen;
}

/** A latency profile and what building it cost. */
export interface LatencyProfile extends MacProfile {
  /** Operations timed now, and found in the cache. */
  measured: number;
  reused: number;
  file: string;
  entries: Record<string, number>;
}

/**
 * Per-operation latency of `space` on this machine: every candidate of every choice is timed on
 * its own (eval mode, its input shape from a softmax pass at `inputShape`, one image), and the
 * table is cached in `file` (default {@link latencyCacheFile}) under its signature with the
 * machine recorded, so a later search reuses it. The parts outside choices count 0: the cost is
 * that of the searched operations.
 */
export function profileLatency(space: SearchSpace, inputShape: number[], o: { file?: string; iters?: number } = {}): LatencyProfile {
  const file = o.file ?? latencyCacheFile();
  const machine = thisMachine();
  const table = readLatencyTable(file, machine) ?? { format: 1 as const, machine, entries: Object.create(null) as Record<string, number> };
  const candidates = space.choices().flatMap((c) => (c instanceof MixedOp ? c.names.map((_, k) => c.candidate(k)).filter((m): m is nn.Module => !!m) : []));
  const kind = space.relaxation.kind;
  const shapes = (() => {
    space.setRelaxation('softmax');
    try {
      return recordInputs(candidates, () =>
        inEval(space.module, () => tidy(() => void space.forward(zeros(batchOf(inputShape), { device: deviceOf(space) })))),
      );
    } finally {
      space.setRelaxation(kind);
    }
  })();
  const perModule = new Map<nn.Module, number>();
  let measured = 0,
    reused = 0;
  for (const m of candidates) {
    const input = shapes.get(m);
    if (!input) continue; // not on the forward path
    const one = oneImage(input);
    const key = signature(m, one);
    if (table.entries[key] === undefined) {
      table.entries[key] = measureLatency(m, one.shape, { warmup: 2, iters: o.iters ?? 10, memoryFormat: one.memoryFormat }).medianMs;
      measured++;
    } else reused++;
    perModule.set(m, table.entries[key]);
  }
  if (measured > 0) {
    try {
      writeFileAtomic(file, JSON.stringify(table, null, 1) + '\n');
    } catch (e) {
      // The cache saves time, nothing more: a folder that cannot be written costs a re-measurement next time.
      process.emitWarning(`the latency table could not be cached in ${file}: ${(e as Error).message}`);
    }
  }
  let total = 0;
  for (const v of perModule.values()) total += v;
  return { total, perModule, of: subtreeSum(perModule), measured, reused, file, entries: table.entries };
}

/** The latency of a discrete network by the table: the sum of its operations found in it (outermost match). */
function tableLatency(network: nn.Module, inputShape: number[], entries: Record<string, number>): number {
  const mods = network.modules();
  const shapes = recordInputs(mods, () => inEval(network, () => tidy(() => void network.forward(zeros(batchOf(inputShape), { device: deviceOf(network) })))));
  let total = 0;
  const visit = (m: nn.Module): void => {
    const s = shapes.get(m);
    const v = s ? entries[signature(m, oneImage(s))] : undefined;
    if (v !== undefined) total += v;
    else m.children().forEach(visit);
  };
  visit(network);
  return total;
}

/** The cost a search sees: differentiable under the relaxation, and of any network of the space. */
export interface CostModel {
  kind: CostKind;
  unit: string;
  /** Expected cost under the current relaxation weights (differentiable in them), in `unit`. */
  expected(): Tensor;
  /** The cost of a discrete network of the space (derived or built), in `unit`. */
  of(network: nn.Module): number;
}

/**
 * The cost model of `space` for inputs of `inputShape` ([C, H, W]): MACs (analytic), parameters
 * (counted) or latency (the per-operation table of {@link profileLatency}).
 */
export function costModel(space: SearchSpace, kind: CostKind, inputShape: number[], o: { latencyFile?: string } = {}): CostModel & { profile: MacProfile } {
  const scale = kind === 'latency' ? 1 : 1e-6;
  const profile =
    kind === 'macs' ? profileMacs(space, inputShape) : kind === 'params' ? profileParams(space) : profileLatency(space, inputShape, { file: o.latencyFile });
  const entries = kind === 'latency' ? (profile as LatencyProfile).entries : null;
  return {
    kind,
    unit: COST_UNITS[kind],
    profile,
    expected: () => space.expectedCost(profile).mul(scale),
    of: (network) =>
      kind === 'macs'
        ? countMacs(network, inputShape) * scale
        : kind === 'params'
          ? countParameters(network) * scale
          : tableLatency(network, inputShape, entries!),
  };
}
