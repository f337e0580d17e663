/**
 * Benchmarks: forward + backward of the two built-in supernets, dnas vs an equivalent PyTorch
 * model (bench/reference/supernets.py: same operations in the same order, same channels, same
 * BatchNorm settings, same state-dict names), same machine, same threads, same work.
 *
 * - `lattice`: LatticeSpace { layers 6, C 8, nodes 5, scales 4 (the space's defaults), 19 classes },
 *   batch 2, input 3x128x256, softmax relaxation, cross entropy over every pixel.
 * - `darts`: DartsSpace { C 8, layers 5, nodes 4, 1 input channel, 10 classes }, batch 32, 1x28x28,
 *   softmax relaxation, cross entropy.
 *
 * One step = gradients of weights and architecture parameters set to none, forward (train mode,
 * a fresh softmax of the alphas), cross entropy, backward. No optimizer step.
 *
 * Equivalence ({@link checkEquivalence}): the dnas weights, BN buffers, alphas/betas, input and
 * labels are written with torch.save; the Python model loads them with load_state_dict(strict=True)
 * and compares its output, loss, every weight gradient, the architecture gradients and the BN
 * running statistics after the pass with those of dnas. With DNAS_FAST_KERNELS=0 and
 * DNAS_BENCH_MEMORY_FORMAT=contiguous dnas runs libtorch's kernels as PyTorch does and every
 * difference is exactly 0; in dnas's defaults (channels-last, its own kernels) the sums run in
 * another order, and the differences are those of PyTorch's own channels-last against its
 * contiguous layout (docs/benchmarks.md).
 *
 * Run: node dist/bench/run.js lattice|darts [--threads 1] [--iters 5] [--rounds 3] [--no-check]
 * (DNAS_BENCH_PRECISION=bf16: both sides run the forward under autocast in bfloat16;
 * DNAS_BENCH_MEMORY_FORMAT=contiguous|channels-last: dnas's layout, default as a run's `auto`;
 * DNAS_BENCH_TORCH_MEMORY_FORMAT=channels-last: PyTorch's too, default contiguous)
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as torch from '../src/torch';
import { MEMORY_FORMATS, placement } from '../src/search/config';
import { inPrecision } from '../src/search/precision';
import { countParameters, DartsSpace, LatticeSpace, SearchSpace } from '../src/space';
import { interleavedRounds, median, timeSteps } from './timing';

const F = torch.nn.functional;

export type SupernetName = 'lattice' | 'darts';
export const SUPERNETS: SupernetName[] = ['lattice', 'darts'];

/** The lattice size actually benchmarked (LatticeSpace defaults for nodes and scales). */
export const LATTICE_NODES = 5;
export const LATTICE_SCALES = 4;

const SCRIPT = path.resolve(__dirname, '..', '..', 'bench', 'reference', 'supernets.py');
const PYTHON = '/usr/bin/python3';

interface Setup {
  space: SearchSpace;
  x: torch.Tensor;
  y: torch.Tensor;
}

/**
 * The dnas side's memory format, as a run on the CPU resolves it (`--memory-format auto`:
 * channels-last in float32); DNAS_BENCH_MEMORY_FORMAT=contiguous|channels-last overrides it.
 */
export function benchMemoryFormat(): torch.MemoryFormat {
  const v = process.env.DNAS_BENCH_MEMORY_FORMAT || 'auto';
  if (!(MEMORY_FORMATS as readonly string[]).includes(v)) throw new Error(`DNAS_BENCH_MEMORY_FORMAT must be one of ${MEMORY_FORMATS.join(', ')}, got '${v}'`);
  const precision = process.env.DNAS_BENCH_PRECISION === 'bf16' ? 'bf16' : 'fp32';
  return placement({ device: 'cpu', memoryFormat: v as (typeof MEMORY_FORMATS)[number], precision }).memoryFormat!;
}

export function setup(which: SupernetName): Setup {
  torch.manualSeed(0);
  const made =
    which === 'lattice'
      ? {
          space: new LatticeSpace({ layers: 6, C: 8, nodes: LATTICE_NODES, scales: LATTICE_SCALES, inChannels: 3, numClasses: 19 }) as SearchSpace,
          x: torch.randn([2, 3, 128, 256]),
          y: torch.randint(0, 19, [2, 128, 256]),
        }
      : {
          space: new DartsSpace({ C: 8, layers: 5, nodes: 4, inChannels: 1, numClasses: 10 }) as SearchSpace,
          x: torch.randn([32, 1, 28, 28]),
          y: torch.randint(0, 10, [32]),
        };
  made.space.to({ memoryFormat: benchMemoryFormat() });
  return made;
}

export interface SupernetResult {
  /** Median step time (ms). */
  stepMs: number;
  /** Fastest step (ms). */
  minMs: number;
  times: number[];
  /** Weight elements (architecture parameters excluded). */
  params: number;
  /** Architecture parameter elements. */
  arch: number;
}

/** Times dnas: one warm-up step, then `iters` timed steps. */
export async function runDnasSupernet(which: SupernetName, threads: number, iters: number): Promise<SupernetResult> {
  torch.setNumThreads(threads);
  const { space, x, y } = setup(which);
  space.train();
  const all = [...space.weightParameters(), ...space.archParameters()];
  const opt = new torch.optim.SGD(all, { lr: 0 }); // only for zeroGrad (set to none)
  // DNAS_BENCH_PRECISION=bf16: the forward under autocast (bfloat16), logits cast to float32 before
  // the loss, as `--precision bf16` trains (the PyTorch side reads the same variable).
  const forward = inPrecision((t) => space.forward(t), process.env.DNAS_BENCH_PRECISION === 'bf16' ? 'bf16' : 'fp32', x.device);
  const step = () => {
    opt.zeroGrad();
    torch.tidy(() => F.crossEntropy(forward(x), y).backward());
  };
  step();
  await new Promise((r) => setImmediate(r));
  const times = await timeSteps(step, iters);
  const res = {
    stepMs: median(times),
    minMs: Math.min(...times),
    times,
    params: countParameters(space),
    arch: space.archParameters().reduce((a, p) => a + p.numel, 0),
  };
  opt.zeroGrad();
  space.dispose();
  x.dispose();
  y.dispose();
  return res;
}

/** Environment of the Python child: no LD_PRELOAD (a dnas-side measurement shim stays on this side). */
function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.LD_PRELOAD;
  return env;
}

/** Times PyTorch through /usr/bin/python3 (null when it has no torch or the script fails). */
export function runTorchSupernet(which: SupernetName, threads: number, iters: number): SupernetResult | null {
  const args = [SCRIPT, 'time', which, String(threads), String(iters)];
  if (which === 'lattice') args.push(String(LATTICE_NODES), String(LATTICE_SCALES));
  const r = spawnSync(PYTHON, args, { encoding: 'utf8', env: childEnv(), maxBuffer: 1 << 24 });
  if (r.status !== 0) {
    if (r.stderr) console.error(r.stderr.trim().split('\n').slice(-5).join('\n'));
    return null;
  }
  const j = JSON.parse(r.stdout.trim().split('\n').pop() as string) as { step_ms: number; min_ms: number; times: number[]; params: number; arch: number };
  return { stepMs: j.step_ms, minMs: j.min_ms, times: j.times, params: j.params, arch: j.arch };
}

/** What the Python side reports after loading the dnas weights and running the same pass. */
export interface EquivalenceReport {
  state_keys: number;
  module_state_keys: number;
  params: number;
  arch: number;
  out_shape: number[];
  out_max_abs_diff: number;
  out_max_abs: number;
  loss_torch: number;
  loss_dnas: number;
  weight_grad_max_rel_diff: number;
  arch_grad_max_rel_diff: number;
  buffers_after_max_rel_diff: number;
  /** Largest difference over all weight gradients / largest gradient (tensors near zero weigh nothing). */
  weight_grad_diff_over_max: number;
  /** The same over the BN buffers after the pass. */
  buffers_after_diff_over_max: number;
  grads_compared: number;
}

/**
 * Writes the dnas supernet's state (weights, BN buffers, architecture parameters), an input and
 * labels, runs one train-mode forward + backward in dnas, writes its output, loss, gradients and
 * BN buffers, and lets the Python model load the same state and compare (null without torch).
 */
export function checkEquivalence(which: SupernetName): EquivalenceReport | null {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dnas-supernet-'));
  const stateFile = path.join(dir, 'state.pt');
  const resultFile = path.join(dir, 'result.pt');
  try {
    torch.setNumThreads(1);
    const { space, x, y } = setup(which);
    space.train();
    // Written before the pass: the pass updates the BN running statistics.
    torch.save({ state: space.module.stateDict(), arch: Object.fromEntries(space.namedArchParameters()), x, y }, stateFile);
    torch.tidy(() => {
      const out = space.forward(x);
      const loss = F.crossEntropy(out, y);
      loss.backward();
      const grads: Record<string, torch.Tensor> = {};
      for (const [n, p] of space.namedWeightParameters()) grads[n] = p.grad ?? torch.zerosLike(p);
      const archGrads: Record<string, torch.Tensor> = {};
      for (const [n, p] of space.namedArchParameters()) archGrads[n] = p.grad ?? torch.zerosLike(p);
      const buffers: Record<string, torch.Tensor> = Object.fromEntries(space.module.namedBuffers());
      torch.save({ out: out.detach(), loss: loss.detach(), grads, arch_grads: archGrads, buffers }, resultFile);
    });
    space.dispose();
    x.dispose();
    y.dispose();
    const args = [SCRIPT, 'check', which, stateFile, resultFile];
    if (which === 'lattice') args.push(String(LATTICE_NODES), String(LATTICE_SCALES));
    const r = spawnSync(PYTHON, args, { encoding: 'utf8', env: childEnv(), maxBuffer: 1 << 24 });
    if (r.status !== 0) {
      console.error(r.stderr.trim().split('\n').slice(-8).join('\n'));
      return null;
    }
    return JSON.parse(r.stdout.trim().split('\n').pop() as string) as EquivalenceReport;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The whole benchmark: equivalence check (unless `check` is false), then `rounds` interleaved
 * rounds (dnas, PyTorch, dnas, PyTorch, ...) of `iters` timed steps each; prints medians and
 * minimums over every timed step of each side, and the ratios.
 */
export async function benchSupernet(which: SupernetName, o: { threads: number; iters: number; rounds: number; check: boolean }): Promise<void> {
  const desc =
    which === 'lattice'
      ? `lattice supernet: layers 6, C 8, nodes ${LATTICE_NODES}, scales ${LATTICE_SCALES}, 19 classes, batch 2, 3x128x256, softmax`
      : 'DARTS supernet: C 8, layers 5, nodes 4, 10 classes, batch 32, 1x28x28, softmax';
  console.log(desc);
  console.log(`step = zero grads, forward (train), cross entropy, backward; ${o.rounds} interleaved rounds x ${o.iters} steps per side`);
  const k = torch.fastKernels();
  console.log(
    `dnas: memory format ${benchMemoryFormat()}, fast kernels ${k.enabled ? `on (sgemm ${k.sgemm ? 'found' : 'not found'})` : 'off'}; ` +
      `PyTorch: memory format ${process.env.DNAS_BENCH_TORCH_MEMORY_FORMAT === 'channels-last' ? 'channelsLast' : 'contiguous'}`,
  );
  if (process.env.LD_PRELOAD) console.log(`dnas side under LD_PRELOAD=${process.env.LD_PRELOAD} (PyTorch side without it)`);
  if (o.check) {
    const e = checkEquivalence(which);
    if (!e) {
      console.log('equivalence: not checked (PyTorch side failed or /usr/bin/python3 has no torch)');
    } else {
      console.log(
        `equivalence: load_state_dict(strict) of ${e.state_keys} dnas keys (${e.module_state_keys} in the PyTorch model), ` +
          `weights ${e.params}, arch ${e.arch}, out ${JSON.stringify(e.out_shape)} max |diff| ${e.out_max_abs_diff.toExponential(2)} (max |out| ${e.out_max_abs.toFixed(3)}), ` +
          `loss ${e.loss_dnas.toFixed(6)} vs ${e.loss_torch.toFixed(6)}, ${e.grads_compared} weight grads max rel diff ${e.weight_grad_max_rel_diff.toExponential(2)}, ` +
          `arch grads ${e.arch_grad_max_rel_diff.toExponential(2)}, BN buffers after ${e.buffers_after_max_rel_diff.toExponential(2)}; ` +
          `over all tensors (difference / largest value): weight grads ${e.weight_grad_diff_over_max.toExponential(2)}, BN buffers ${e.buffers_after_diff_over_max.toExponential(2)}`,
      );
    }
  }
  await interleavedRounds(
    o.rounds,
    () => runDnasSupernet(which, o.threads, o.iters),
    () => runTorchSupernet(which, o.threads, o.iters),
  );
}
