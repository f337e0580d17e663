/**
 * Benchmark: one step of the DARTS first-order search of experiment `split` (Fashion-MNIST 16x16),
 * dnas vs PyTorch, same machine, same threads, same work. The PyTorch side is
 * bench/reference/darts_search.py, an independent implementation of the search loop over the
 * supernet of bench/reference/supernets.py (its `train` mode also runs the whole search, for the
 * accuracy cross-check; docs/benchmarks.md).
 *
 * Supernet: DartsSpace { C 8, layers 5, nodes 4, 1 input channel, 10 classes }, softmax
 * relaxation, train mode. One step, as Trainer.trainEpoch runs it during the search:
 *   1. the architecture step: firstOrder of src/search/strategies.ts (forward of the architecture
 *      batch, cross entropy, grad w.r.t. the alphas only, Adam lr 3e-3, betas (0.5, 0.999),
 *      weight decay 1e-3);
 *   2. the weight step: zeroGrad, forward of the weight batch, cross entropy, backward,
 *      clipGradNorm(weights, 5), SGD (lr 0.05, momentum 0.9, weight decay 3e-4).
 * Fixed batches of 32x1x16x16 (random values, random labels), the same two batches every step.
 *
 * Checks first (unless --no-check): dnas's resized Fashion-MNIST images (getDataset with size
 * 16x16) against the Python script's bilinear resize, and two search steps from the same state
 * (dnas weights, BN buffers and alphas loaded into PyTorch with strict=True), comparing the
 * weights, buffers and alphas after them.
 *
 * Run: node dist/bench/run.js darts-search [--threads 1] [--iters 5] [--rounds 3] [--no-check]
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as torch from '../src/torch';
import { ClassificationSample, getDataset, IGNORE_INDEX } from '../src/data';
import { countParameters, DartsSpace } from '../src/space';
import { benchMemoryFormat } from './supernets';
import { ArchStepContext, firstOrder } from '../src/search/strategies';
import { interleavedRounds, median, timeSteps } from './timing';

const F = torch.nn.functional;

const SCRIPT = path.resolve(__dirname, '..', '..', 'bench', 'reference', 'darts_search.py');
const PYTHON = '/usr/bin/python3';

/** The settings of experiment split (src/experiments/definitions.ts DARTS.default) that a step depends on. */
export const DARTS_SEARCH = {
  C: 8,
  layers: 5,
  nodes: 4,
  inChannels: 1,
  numClasses: 10,
  batch: 32,
  size: [16, 16] as [number, number],
  lr: 0.05,
  momentum: 0.9,
  weightDecay: 3e-4,
  gradClip: 5,
  archLr: 3e-3,
  archBetas: [0.5, 0.999] as [number, number],
  archWeightDecay: 1e-3,
};

interface Setup {
  space: DartsSpace;
  weightOpt: torch.optim.SGD;
  archOpt: torch.optim.Adam;
  xa: torch.Tensor;
  ya: torch.Tensor;
  xw: torch.Tensor;
  yw: torch.Tensor;
}

const loss = (logits: torch.Tensor, y: torch.Tensor) => F.crossEntropy(logits, y, { ignoreIndex: IGNORE_INDEX });

function setup(): Setup {
  const s = DARTS_SEARCH;
  torch.manualSeed(0);
  const space = new DartsSpace({ C: s.C, layers: s.layers, nodes: s.nodes, inChannels: s.inChannels, numClasses: s.numClasses });
  space.to({ memoryFormat: benchMemoryFormat() }); // as a run lays it out (before the optimizers)
  space.setRelaxation('softmax', 1);
  space.train();
  const weightOpt = new torch.optim.SGD(space.weightParameters(), { lr: s.lr, momentum: s.momentum, weightDecay: s.weightDecay });
  const archOpt = new torch.optim.Adam(
    space.namedArchParameters().map(([, a]) => a),
    { lr: s.archLr, betas: s.archBetas, weightDecay: s.archWeightDecay },
  );
  const shape = [s.batch, s.inChannels, ...s.size];
  return {
    space,
    weightOpt,
    archOpt,
    xa: torch.randn(shape),
    ya: torch.randint(0, s.numClasses, [s.batch]),
    xw: torch.randn(shape),
    yw: torch.randint(0, s.numClasses, [s.batch]),
  };
}

/** One search step as the trainer runs it; returns [architecture loss, weight loss]. */
function searchStep(st: Setup, lr: number): [number, number] {
  st.weightOpt.setLr(lr);
  const ctx: ArchStepContext = { net: st.space, archOpt: st.archOpt, loss, entropyWeight: 0, weightLr: lr, weightDecay: DARTS_SEARCH.weightDecay };
  const la = firstOrder(ctx, { x: st.xa, y: st.ya }, { x: st.xw, y: st.yw });
  const lw = torch.tidy(() => {
    st.weightOpt.zeroGrad();
    const l = loss(st.space.forward(st.xw), st.yw);
    l.backward();
    return l.item();
  });
  torch.nn.utils.clipGradNorm(st.weightOpt.paramGroups[0].params, DARTS_SEARCH.gradClip);
  st.weightOpt.step();
  return [la, lw];
}

function dispose(st: Setup): void {
  st.weightOpt.zeroGrad();
  st.archOpt.zeroGrad();
  st.space.dispose();
  for (const t of [st.xa, st.ya, st.xw, st.yw]) t.dispose();
}

export interface SearchStepResult {
  stepMs: number;
  minMs: number;
  times: number[];
  params: number;
  arch: number;
}

/** Times dnas: one warm-up step, then `iters` timed steps. */
export async function runDnasSearchStep(threads: number, iters: number): Promise<SearchStepResult> {
  torch.setNumThreads(threads);
  const st = setup();
  searchStep(st, DARTS_SEARCH.lr);
  await new Promise((r) => setImmediate(r));
  const times = await timeSteps(() => {
    searchStep(st, DARTS_SEARCH.lr);
  }, iters);
  const res = {
    stepMs: median(times),
    minMs: Math.min(...times),
    times,
    params: countParameters(st.space),
    arch: st.space.archParameters().reduce((a, p) => a + p.numel, 0),
  };
  dispose(st);
  return res;
}

/** Environment of the Python child: no LD_PRELOAD (a dnas-side measurement shim stays on this side). */
function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.LD_PRELOAD;
  return env;
}

function python(args: string[]): string | null {
  const r = spawnSync(PYTHON, [SCRIPT, ...args], { encoding: 'utf8', env: childEnv(), maxBuffer: 1 << 24 });
  if (r.status !== 0) {
    if (r.stderr) console.error(r.stderr.trim().split('\n').slice(-8).join('\n'));
    return null;
  }
  return r.stdout.trim().split('\n').pop() as string;
}

/** Times PyTorch through /usr/bin/python3 (null when it has no torch or the script fails). */
export function runTorchSearchStep(threads: number, iters: number): SearchStepResult | null {
  const out = python(['time', '--threads', String(threads), '--steps', String(iters)]);
  if (out === null) return null;
  const j = JSON.parse(out) as { step_ms: number; min_ms: number; times: number[]; params: number; arch: number };
  return { stepMs: j.step_ms, minMs: j.min_ms, times: j.times, params: j.params, arch: j.arch };
}

/**
 * Writes a few of dnas's resized images (getDataset('fashion-mnist', { size: [16, 16] }), values in
 * [0, 1] before normalisation) and labels, and lets the Python script compare its own with them.
 */
export function checkData(): Record<string, unknown> | null {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dnas-darts-data-'));
  try {
    const pick = (split: string, indices: number[]) => {
      const ds = getDataset('fashion-mnist', { split, size: DARTS_SEARCH.size });
      const samples = indices.map((i) => ds.get(i) as ClassificationSample);
      return { indices, images: samples.map((s) => Array.from(s.image)), labels: samples.map((s) => s.label) };
    };
    const file = path.join(dir, 'data.json');
    fs.writeFileSync(file, JSON.stringify({ size: DARTS_SEARCH.size, train: pick('train', [0, 1, 2, 3, 517, 1023]), val: pick('val', [0, 1, 255, 511]) }));
    const out = python(['check-data', file]);
    return out === null ? null : (JSON.parse(out) as Record<string, unknown>);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** What the Python side reports after running the same search steps from dnas's state. */
export interface StepCheckReport {
  steps: number;
  state_keys: number;
  losses_torch: number[][];
  losses_dnas: number[][];
  weights_max_rel_diff: number;
  buffers_max_rel_diff: number;
  alphas_max_rel_diff: number;
  weights_moved_max_abs: number;
}

/**
 * Saves the dnas supernet's state, alphas, two batches and learning rates, runs `steps` search
 * steps in dnas, saves the state after them, and lets PyTorch do the same from the saved state.
 */
export function checkSearchStep(steps = 2): StepCheckReport | null {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dnas-darts-step-'));
  const stateFile = path.join(dir, 'state.pt');
  const resultFile = path.join(dir, 'result.pt');
  try {
    torch.setNumThreads(1);
    const st = setup();
    const lrs = Array.from({ length: steps }, (_, i) => DARTS_SEARCH.lr * (1 - 0.01 * i));
    const lrT = torch.tensor(lrs, { dtype: 'float64' });
    torch.save(
      {
        state: st.space.module.stateDict(),
        arch: Object.fromEntries(st.space.namedArchParameters()),
        xa: st.xa,
        ya: st.ya,
        xw: st.xw,
        yw: st.yw,
        lrs: lrT,
      },
      stateFile,
    );
    lrT.dispose();
    const losses = lrs.map((lr) => searchStep(st, lr));
    const lossT = torch.tensor(losses.flat(), { shape: [steps, 2], dtype: 'float64' });
    torch.save({ state: st.space.module.stateDict(), arch: Object.fromEntries(st.space.namedArchParameters()), losses: lossT }, resultFile);
    lossT.dispose();
    dispose(st);
    const out = python(['check-step', stateFile, resultFile]);
    return out === null ? null : (JSON.parse(out) as StepCheckReport);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The whole benchmark: the checks (unless `check` is false), then `rounds` interleaved rounds
 * (dnas, PyTorch, dnas, PyTorch, ...) of `iters` timed steps each; prints medians and minimums
 * over every timed step of each side, and the ratios.
 */
export async function benchDartsSearch(o: { threads: number; iters: number; rounds: number; check: boolean }): Promise<void> {
  const s = DARTS_SEARCH;
  console.log(
    `DARTS search step (experiment split): supernet C ${s.C}, layers ${s.layers}, nodes ${s.nodes}, 10 classes, batches ${s.batch}x1x${s.size.join('x')}, softmax`,
  );
  console.log(`step = first-order architecture step (Adam) + weight step (SGD, clip 5); ${o.rounds} interleaved rounds x ${o.iters} steps per side`);
  if (process.env.LD_PRELOAD) console.log(`dnas side under LD_PRELOAD=${process.env.LD_PRELOAD} (PyTorch side without it)`);
  if (o.check) {
    const d = checkData();
    console.log(d ? `data: dnas getDataset vs F.interpolate(bilinear, align_corners=False): ${JSON.stringify(d)}` : 'data: not checked (PyTorch side failed)');
    const e = checkSearchStep(2);
    if (!e) {
      console.log('search steps: not checked (PyTorch side failed or /usr/bin/python3 has no torch)');
    } else {
      const fmt = (l: number[][]) => l.map((p) => p.map((v) => v.toFixed(6)).join('/')).join(', ');
      console.log(
        `search steps: ${e.steps} steps from the same state (${e.state_keys} state keys): losses (arch/weight) dnas ${fmt(e.losses_dnas)} vs pytorch ${fmt(e.losses_torch)}; ` +
          `after them max rel diff: weights ${e.weights_max_rel_diff.toExponential(2)} (the steps moved them by up to ${e.weights_moved_max_abs.toExponential(2)}), ` +
          `BN buffers ${e.buffers_max_rel_diff.toExponential(2)}, alphas ${e.alphas_max_rel_diff.toExponential(2)}`,
      );
    }
  }
  await interleavedRounds(
    o.rounds,
    () => runDnasSearchStep(o.threads, o.iters),
    () => runTorchSearchStep(o.threads, o.iters),
  );
}
