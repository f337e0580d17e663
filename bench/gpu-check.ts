/**
 * The GPU check of issue 14 (scripts/gpu-check.sh runs it on a machine lent with a GPU):
 *
 * 1. One search step of the benchmark lattice supernet (bench/supernets.ts: forward in train mode,
 *    cross entropy, backward) from the same weights, architecture and batch on the CPU and on CUDA:
 *    the loss, the output and every gradient (weights and architecture) within 1e-4 (relative to
 *    the largest magnitude of each).
 * 2. The step time on CUDA, dnas against PyTorch (bench/reference/supernets.py with
 *    DNAS_BENCH_DEVICE=cuda) on the same GPU, each synchronised after every step.
 *
 * Without CUDA it says so, runs the CPU half of check 1 (so the script is tested on CPU machines)
 * and exits 0. Prints one JSON line at the end. Run: node dist/bench/gpu-check.js [--iters 10]
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import * as torch from '../src/torch';
import { LatticeSpace } from '../src/space';
import { median } from './timing';

const F = torch.nn.functional;
const SCRIPT = path.resolve(__dirname, '..', '..', 'bench', 'reference', 'supernets.py');

interface StepResult {
  loss: number;
  out: number[];
  grads: Map<string, number[]>;
}

function lattice(): LatticeSpace {
  torch.manualSeed(0);
  return new LatticeSpace({ layers: 6, C: 8, nodes: 5, scales: 4, inChannels: 3, numClasses: 19 });
}

/** One step on `device`; the results copied back to the CPU. */
function step(space: LatticeSpace, x: torch.Tensor, y: torch.Tensor, device: string): StepResult {
  return torch.tidy(() => {
    space.module.zeroGrad();
    for (const a of space.archParameters()) a.grad = null;
    const out = space.forward(x.to(device));
    const loss = F.crossEntropy(out, y.to(device));
    loss.backward();
    const grads = new Map<string, number[]>();
    for (const [n, p] of [...space.module.namedParameters(), ...space.namedArchParameters()]) if (p.grad) grads.set(n, p.grad.to('cpu').toArray());
    return { loss: loss.item(), out: out.to('cpu').toArray(), grads };
  });
}

const relDiff = (a: number[], b: number[]): number => {
  let d = 0,
    m = 0;
  a.forEach((v, i) => {
    d = Math.max(d, Math.abs(v - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  });
  return d / Math.max(m, 1e-30);
};

function main(): void {
  const iters = Number(process.argv[process.argv.indexOf('--iters') + 1] || 10) || 10;
  torch.setNumThreads(1);
  const cuda = torch.cuda.isAvailable();
  const space = lattice();
  space.setRelaxation('softmax', 1);
  torch.manualSeed(1);
  const x = torch.randn([2, 3, 128, 256]);
  const y = torch.randint(0, 19, [2, 128, 256]);
  const cpu = step(space, x, y, 'cpu');
  const report: Record<string, unknown> = { cuda, libtorch: torch.versions().libtorch, cpuLoss: cpu.loss };
  if (!cuda) {
    console.log('cuda: absent (a CPU-only libtorch, or no GPU visible): only the CPU half of the check ran');
    console.log(JSON.stringify(report));
    return;
  }
  space.to('cuda');
  const gpu = step(space, x, y, 'cuda');
  const gradRel = Math.max(...[...cpu.grads].map(([n, g]) => relDiff(gpu.grads.get(n) ?? [], g)));
  Object.assign(report, {
    cudaLoss: gpu.loss,
    lossRelDiff: Math.abs(gpu.loss - cpu.loss) / Math.abs(cpu.loss),
    outRelDiff: relDiff(gpu.out, cpu.out),
    gradMaxRelDiff: gradRel,
    gradsCompared: cpu.grads.size,
  });
  const ok = (report.lossRelDiff as number) <= 1e-4 && (report.outRelDiff as number) <= 1e-4 && gradRel <= 1e-4;
  console.log(
    `CPU vs CUDA, one lattice step: loss ${cpu.loss} vs ${gpu.loss}; output ${report.outRelDiff}, gradients ${gradRel} (max relative): ${ok ? 'ok' : 'DIFFERENT'}`,
  );
  // timing: dnas on CUDA, synchronised by reading the loss
  const xs = x.to('cuda'),
    ys = y.to('cuda');
  const times: number[] = [];
  for (let i = 0; i < iters + 2; i++) {
    const t0 = process.hrtime.bigint();
    torch.tidy(() => {
      space.module.zeroGrad();
      for (const a of space.archParameters()) a.grad = null;
      const l = F.crossEntropy(space.forward(xs), ys);
      l.backward();
      l.item();
    });
    if (i >= 2) times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const dnasMs = median(times);
  const py = spawnSync(process.env.DNAS_PYTHON || 'python3', [SCRIPT, 'time', 'lattice', '1', String(iters), '5', '4'], {
    encoding: 'utf8',
    env: { ...process.env, DNAS_BENCH_DEVICE: 'cuda' },
    maxBuffer: 1 << 24,
  });
  const torchMs = py.status === 0 ? (JSON.parse(py.stdout.trim().split('\n').pop()!) as { step_ms: number }).step_ms : null;
  Object.assign(report, { dnasStepMs: dnasMs, torchStepMs: torchMs, ratio: torchMs ? dnasMs / torchMs : null, ok });
  console.log(
    `lattice step on CUDA: dnas ${dnasMs.toFixed(2)} ms, PyTorch ${torchMs === null ? `failed: ${py.stderr.trim().split('\n').pop()}` : `${torchMs.toFixed(2)} ms`}`,
  );
  console.log(JSON.stringify(report));
  if (!ok) process.exitCode = 1;
}

main();
