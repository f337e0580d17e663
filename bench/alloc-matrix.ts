/**
 * Benchmark: glibc allocator settings of the addon across shapes. One conv net per shape (a
 * stride-2 3x3 conv to C channels, two 3x3 convs of C, a 1x1 to 19 classes, cross entropy with
 * ignore index 255, SGD with momentum), a training step and an eval forward, timed:
 *
 *   dnas, the addon's settings      (mmap threshold 32 MiB, trim threshold 64 MiB)
 *   dnas, trim left at 128 KiB      (DNAS_TRIM_THRESHOLD=0: the settings before issue 13)
 *   PyTorch                         (bench/reference/convnet_shape.py, glibc's dynamic policy)
 *
 * Every measurement runs in its own process (the settings are fixed when the addon loads), the
 * three interleaved per round; the median step of each process, the best round, and its peak RSS.
 *
 * Run: npm run bench -- alloc-matrix [--threads 1] [--iters 12] [--rounds 2]
 *
 * `npm run bench -- layout-matrix` times the same nets in both memory layouts instead: dnas
 * contiguous, dnas channels-last (the layout a dnas run uses on the CPU: the weights converted, the
 * input left NCHW as a run feeds it), PyTorch contiguous (its default) and PyTorch channels-last
 * (PyTorch's recipe: weights and input converted).
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import * as torch from '../src/torch';
import { median, timeSteps } from './timing';

/** One shape of the matrix. */
export interface Shape {
  batch: number;
  height: number;
  width: number;
  channels: number;
}

export const SHAPES: Shape[] = [
  { batch: 1, height: 16, width: 16, channels: 8 },
  { batch: 32, height: 32, width: 32, channels: 64 },
  { batch: 4, height: 64, width: 128, channels: 32 },
  { batch: 16, height: 64, width: 128, channels: 32 },
  { batch: 8, height: 128, width: 256, channels: 16 },
  { batch: 2, height: 256, width: 512, channels: 8 },
  { batch: 4, height: 256, width: 512, channels: 32 },
  { batch: 1, height: 256, width: 512, channels: 64 },
];

export interface ShapeResult {
  trainMs: number;
  evalMs: number;
  maxRssMiB: number;
}

/** The dnas side of one shape, in this process. */
export async function runShape(s: Shape, threads: number, iters: number): Promise<ShapeResult> {
  const { nn, optim } = torch;
  const F = nn.functional;
  torch.setNumThreads(threads);
  torch.manualSeed(0);
  const C = s.channels;
  const net = new nn.Sequential(
    new nn.Conv2d(3, C, 3, { stride: 2, padding: 1 }),
    new nn.ReLU(),
    new nn.Conv2d(C, C, 3, { padding: 1 }),
    new nn.ReLU(),
    new nn.Conv2d(C, C, 3, { padding: 1 }),
    new nn.ReLU(),
    new nn.Conv2d(C, 19, 1),
  );
  // DNAS_BENCH_MEMORY_FORMAT=channels-last: the net in NHWC (set before the optimizer, as in a run).
  const channelsLast = process.env.DNAS_BENCH_MEMORY_FORMAT === 'channels-last';
  if (channelsLast) net.to({ memoryFormat: 'channelsLast' });
  const opt = new optim.SGD(net.parameters(), { lr: 0.01, momentum: 0.9 });
  const x = torch.randn([s.batch, 3, s.height, s.width]);
  const y = torch.randint(0, 19, [s.batch, Math.ceil(s.height / 2), Math.ceil(s.width / 2)]);
  const train = () => {
    torch.tidy(() => {
      opt.zeroGrad();
      F.crossEntropy(net.forward(x), y, { ignoreIndex: 255 }).backward();
    });
    opt.step();
  };
  const evaluate = () =>
    torch.tidy(() =>
      torch.noGrad(() => {
        net.forward(x).sum().item();
      }),
    );
  for (let i = 0; i < 3; i++) train();
  const trainMs = median(await timeSteps(train, iters));
  net.eval();
  for (let i = 0; i < 2; i++) evaluate();
  const evalMs = median(await timeSteps(evaluate, iters));
  net.dispose();
  return { trainMs, evalMs, maxRssMiB: process.resourceUsage().maxRSS / 1024 };
}

type Side = 'dnas' | 'dnas-trim128k' | 'pytorch' | 'dnas-cl' | 'pytorch-cl';

/** The environment that makes each side what it is. */
const SIDE_ENV: Record<Side, Record<string, string>> = {
  dnas: {},
  'dnas-trim128k': { DNAS_TRIM_THRESHOLD: '0' },
  pytorch: {},
  'dnas-cl': { DNAS_BENCH_MEMORY_FORMAT: 'channels-last' },
  'pytorch-cl': { DNAS_BENCH_TORCH_MEMORY_FORMAT: 'channels-last' },
};

function runSide(side: Side, s: Shape, threads: number, iters: number): ShapeResult | null {
  const args = [String(s.batch), String(s.height), String(s.width), String(s.channels), String(threads), String(iters)];
  const env = { ...process.env, DNAS_BENCH_MEMORY_FORMAT: '', DNAS_BENCH_TORCH_MEMORY_FORMAT: '', ...SIDE_ENV[side] };
  const r = side.startsWith('pytorch')
    ? spawnSync('/usr/bin/python3', [path.resolve(__dirname, '..', '..', 'bench', 'reference', 'convnet_shape.py'), ...args], { encoding: 'utf8', env })
    : spawnSync(process.execPath, [__filename, '--child', ...args], { encoding: 'utf8', env });
  if (r.status !== 0) {
    console.error(`${side} failed: ${r.stderr}`);
    return null;
  }
  const j = JSON.parse(r.stdout.trim().split('\n').pop() as string) as ShapeResult;
  return j;
}

/** The best (fastest) result of each side per shape over `rounds` rounds, the sides interleaved. */
function bestOf(sides: Side[], s: Shape, threads: number, iters: number, rounds: number): Partial<Record<Side, ShapeResult>> {
  const best: Partial<Record<Side, ShapeResult>> = {};
  for (let r = 0; r < rounds; r++) {
    for (const side of sides) {
      const res = runSide(side, s, threads, iters);
      if (!res) continue;
      const b = best[side];
      best[side] = b
        ? { trainMs: Math.min(b.trainMs, res.trainMs), evalMs: Math.min(b.evalMs, res.evalMs), maxRssMiB: Math.max(b.maxRssMiB, res.maxRssMiB) }
        : res;
    }
  }
  return best;
}

const fmt = (v: number | undefined) => (v === undefined ? '-' : v.toFixed(v < 10 ? 2 : 1));
const ratioOf = (a?: number, b?: number) => (a && b ? (a / b).toFixed(2) : '-');

/** The layout matrix: each net in both layouts on both sides; prints a markdown table. */
export function benchLayoutMatrix(threads: number, iters: number, rounds: number): void {
  const sides: Side[] = ['dnas', 'dnas-cl', 'pytorch', 'pytorch-cl'];
  console.log(
    '| shape (N, H x W, C) | train: dnas / dnas channels-last / PyTorch / PyTorch channels-last (ms) | dnas channels-last / PyTorch | / PyTorch channels-last | eval: the same four (ms) | dnas channels-last / PyTorch |',
  );
  console.log('|---|---|---|---|---|---|');
  for (const s of SHAPES) {
    const b = bestOf(sides, s, threads, iters, rounds);
    const [d, dc, p, pc] = sides.map((k) => b[k]);
    console.log(
      `| ${s.batch}, ${s.height}x${s.width}, ${s.channels} | ${fmt(d?.trainMs)} / ${fmt(dc?.trainMs)} / ${fmt(p?.trainMs)} / ${fmt(pc?.trainMs)} | ` +
        `**${ratioOf(dc?.trainMs, p?.trainMs)}** | ${ratioOf(dc?.trainMs, pc?.trainMs)} | ` +
        `${fmt(d?.evalMs)} / ${fmt(dc?.evalMs)} / ${fmt(p?.evalMs)} / ${fmt(pc?.evalMs)} | ${ratioOf(dc?.evalMs, p?.evalMs)} |`,
    );
  }
}

/** Runs the matrix and prints a markdown table. */
export function benchAllocMatrix(threads: number, iters: number, rounds: number): void {
  const sides: Side[] = ['dnas', 'dnas-trim128k', 'pytorch'];
  console.log(
    '| shape (N, H x W, C) | train: dnas / trim 128 KiB / PyTorch (ms) | ratio dnas/PyTorch | eval: dnas / trim 128 KiB / PyTorch (ms) | ratio | peak RSS dnas / trim 128 KiB / PyTorch (MiB) |',
  );
  console.log('|---|---|---|---|---|---|');
  for (const s of SHAPES) {
    const best = bestOf(sides, s, threads, iters, rounds);
    const f = fmt;
    const [d, o, p] = sides.map((k) => best[k]);
    const ratio = ratioOf;
    console.log(
      `| ${s.batch}, ${s.height}x${s.width}, ${s.channels} | ${f(d?.trainMs)} / ${f(o?.trainMs)} / ${f(p?.trainMs)} | **${ratio(d?.trainMs, p?.trainMs)}** | ` +
        `${f(d?.evalMs)} / ${f(o?.evalMs)} / ${f(p?.evalMs)} | ${ratio(d?.evalMs, p?.evalMs)} | ${f(d?.maxRssMiB)} / ${f(o?.maxRssMiB)} / ${f(p?.maxRssMiB)} |`,
    );
  }
}

if (require.main === module && process.argv[2] === '--child') {
  const [batch, height, width, channels, threads, iters] = process.argv.slice(3).map(Number);
  runShape({ batch, height, width, channels }, threads, iters).then((r) => console.log(JSON.stringify(r)));
}
