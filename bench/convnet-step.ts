/**
 * Benchmark: a conv-net training step and the cost of one trivial op, dnas vs PyTorch, same
 * machine, same threads, same work (input 4x3x64x128, three 3x3 convs of 32 channels, 1x1 to 19
 * classes, cross entropy, backward, SGD step). Results go to docs/benchmarks.md.
 *
 * Run: npm run bench -- convnet-step [--threads 1] [--iters 30]
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import * as torch from '../src/torch';
import { median, timeSteps } from './timing';

const { nn, optim } = torch;
const F = nn.functional;

export interface StepResult {
  stepMs: number;
  opUs: number;
}

/** Times the dnas side. */
export async function runDnas(threads: number, iters: number): Promise<StepResult> {
  torch.setNumThreads(threads);
  torch.manualSeed(0);
  const net = new nn.Sequential(
    new nn.Conv2d(3, 32, 3, { padding: 1 }),
    new nn.ReLU(),
    new nn.Conv2d(32, 32, 3, { padding: 1 }),
    new nn.ReLU(),
    new nn.Conv2d(32, 32, 3, { padding: 1 }),
    new nn.ReLU(),
    new nn.Conv2d(32, 19, 1),
  );
  const opt = new optim.SGD(net.parameters(), { lr: 0.01, momentum: 0.9 });
  const x = torch.randn([4, 3, 64, 128]);
  const y = torch.randint(0, 19, [4, 64, 128]);
  const step = () => {
    torch.tidy(() => {
      opt.zeroGrad();
      F.crossEntropy(net.forward(x), y).backward();
    });
    opt.step();
  };
  for (let i = 0; i < 3; i++) step();
  const times = await timeSteps(step, iters);
  const a = torch.ones([1]);
  const n = 200000;
  for (let i = 0; i < 1000; i++) a.add(a).dispose();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) a.add(a).dispose();
  const opUs = Number(process.hrtime.bigint() - t0) / 1e3 / n;
  net.dispose();
  return { stepMs: median(times), opUs };
}

/** Times the PyTorch side through /usr/bin/python3 (null when it has no torch). */
export function runTorch(threads: number, iters: number): StepResult | null {
  const script = path.resolve(__dirname, '..', '..', 'bench', 'reference', 'convnet_step.py');
  const r = spawnSync('/usr/bin/python3', [script, String(threads), String(iters)], { encoding: 'utf8' });
  if (r.status !== 0) return null;
  const j = JSON.parse(r.stdout.trim().split('\n').pop() as string) as { step_ms: number; op_us: number };
  return { stepMs: j.step_ms, opUs: j.op_us };
}
