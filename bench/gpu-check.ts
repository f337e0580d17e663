/**
 * The GPU check of issue 14 (scripts/gpu-check.sh runs it on a machine lent with a GPU):
 *
 * 1. One search step of the benchmark lattice supernet (bench/supernets.ts: forward in train mode,
 *    cross entropy, backward) from the same weights, architecture and batch on the CPU and on CUDA:
 *    the loss, the output and every gradient (weights and architecture) within 1e-4 (relative to
 *    the largest magnitude of each).
 * 2. The step time on CUDA, dnas against PyTorch (bench/reference/supernets.py with
 *    DNAS_BENCH_DEVICE=cuda) on the same GPU, each synchronised after every step, in float32 and
 *    with the forward in bf16 autocast (DNAS_BENCH_PRECISION=bf16, as `--precision bf16`).
 * 3. A whole `dnas search --device cuda` (single-stage, 4 epochs) on a small synthetic folder data
 *    set written here (the device machine has no Debian data packages), then `dnas eval` of its
 *    checkpoint on CUDA and on the CPU (checkpoints hold CPU tensors): the scores agree.
 *
 * Without CUDA it says so, runs check 1's CPU half and check 3 on the CPU (so the script is tested
 * on CPU machines). Prints one JSON line at the end.
 * Run: node dist/bench/gpu-check.js [--iters 10] [--out DIR]
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encodePng } from '../src/data/png';
import * as torch from '../src/torch';
import { inPrecision } from '../src/search/precision';
import { LatticeSpace } from '../src/space';
import { median } from './timing';

const F = torch.nn.functional;
const SCRIPT = path.resolve(__dirname, '..', '..', 'bench', 'reference', 'supernets.py');
const BIN = path.resolve(__dirname, '..', '..', 'bin', 'dnas.js');

/** A folder data set (docs/data.md): 3 classes (background, square, disk) on noise, 32 x 32, train/ and val/. */
function syntheticFolder(root: string): void {
  fs.writeFileSync(path.join(root, 'classes.txt'), 'background\nsquare\ndisk\n');
  let seed = 1;
  const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const S = 32;
  for (const [split, n] of [
    ['train', 32],
    ['val', 8],
  ] as const) {
    for (const dir of ['images', 'masks']) fs.mkdirSync(path.join(root, dir, split), { recursive: true });
    for (let i = 0; i < n; i++) {
      const img = new Uint8Array(S * S * 3);
      const mask = new Uint8Array(S * S);
      const cls = 1 + (i % 2);
      const size = 8 + Math.floor(rnd() * 12);
      const y0 = Math.floor(rnd() * (S - size));
      const x0 = Math.floor(rnd() * (S - size));
      const r = size / 2;
      for (let y = 0; y < S; y++)
        for (let x = 0; x < S; x++) {
          const inside = y >= y0 && y < y0 + size && x >= x0 && x < x0 + size && (cls === 1 || (y - y0 - r) ** 2 + (x - x0 - r) ** 2 <= r * r);
          if (inside) mask[y * S + x] = cls;
          for (let c = 0; c < 3; c++)
            img[(y * S + x) * 3 + c] = Math.min(255, Math.floor(rnd() * 60) + (inside ? (cls === 1 ? [190, 20, 90][c] : [20, 190, 140][c]) : 0));
        }
      fs.writeFileSync(path.join(root, 'images', split, `${i}.png`), encodePng({ width: S, height: S, channels: 3, data: img }));
      fs.writeFileSync(path.join(root, 'masks', split, `${i}.png`), encodePng({ width: S, height: S, channels: 1, data: mask }));
    }
  }
}

/** `dnas search --device D` on the synthetic data, then `dnas eval` of the run on that device and on the CPU. */
function searchOn(device: string, out: string): Record<string, unknown> {
  const data = path.join(out, 'data');
  fs.mkdirSync(data, { recursive: true });
  syntheticFolder(data);
  const run = path.join(out, `run-${device.replace(':', '')}`);
  fs.rmSync(run, { recursive: true, force: true });
  const args = ['search', '--dataset', 'folder', '--data-root', data, '--layers', '2', '--channels', '4', '--nodes', '2', '--scales', '2', '--epochs', '4'];
  const s = spawnSync(process.execPath, [BIN, ...args, '--warmup-epochs', '1', '--batch-size', '4', '--device', device, '--out', run, '--json'], {
    encoding: 'utf8',
    timeout: 600_000,
  });
  const done = s.stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .find((e) => e.event === 'done');
  if (s.status !== 0 || !done) return { device, ok: false, error: `${s.stdout.slice(-400)}${s.stderr.slice(-800)}` };
  const evalOn = (d: string): number | string => {
    const e = spawnSync(process.execPath, [BIN, 'eval', run, '--device', d, '--json'], { encoding: 'utf8', timeout: 300_000 });
    return e.status === 0 ? (JSON.parse(e.stdout.trim().split('\n').pop()!) as { miou: number }).miou : `failed: ${e.stderr.slice(-300)}`;
  };
  const final = (done.final as { score: number }).score;
  const here = evalOn(device);
  const cpu = device === 'cpu' ? here : evalOn('cpu');
  const ok = typeof here === 'number' && typeof cpu === 'number' && Math.abs(here - final) < 1e-3 && Math.abs(cpu - final) < 1e-3;
  return { device, ok, finalMiou: final, evalMiou: here, evalMiouCpu: cpu };
}

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
  const outArg = process.argv.indexOf('--out');
  const out = outArg > 0 ? process.argv[outArg + 1] : fs.mkdtempSync(path.join(os.tmpdir(), 'dnas-gpu-check-'));
  if (!cuda) {
    console.log('cuda: absent (a CPU-only libtorch, or no GPU visible): only the CPU halves of the checks ran');
    const search = searchOn('cpu', out);
    console.log(`search on the CPU, then eval: ${JSON.stringify(search)}`);
    console.log(JSON.stringify({ ...report, search }));
    if (!search.ok) process.exitCode = 1;
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
  // timing: dnas on CUDA, synchronised by reading the loss; in float32 and in bf16 autocast
  const xs = x.to('cuda'),
    ys = y.to('cuda');
  const dnasTime = (precision: 'fp32' | 'bf16'): number => {
    const forward = inPrecision((t) => space.forward(t), precision, 'cuda');
    const times: number[] = [];
    for (let i = 0; i < iters + 2; i++) {
      const t0 = process.hrtime.bigint();
      torch.tidy(() => {
        space.module.zeroGrad();
        for (const a of space.archParameters()) a.grad = null;
        const l = F.crossEntropy(forward(xs), ys);
        l.backward();
        l.item();
      });
      if (i >= 2) times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    return median(times);
  };
  const torchTime = (precision: 'fp32' | 'bf16'): number | null => {
    const py = spawnSync(process.env.DNAS_PYTHON || 'python3', [SCRIPT, 'time', 'lattice', '1', String(iters), '5', '4'], {
      encoding: 'utf8',
      env: { ...process.env, DNAS_BENCH_DEVICE: 'cuda', DNAS_BENCH_PRECISION: precision },
      maxBuffer: 1 << 24,
    });
    if (py.status !== 0) console.log(`PyTorch (${precision}) failed: ${py.stderr.trim().split('\n').pop()}`);
    return py.status === 0 ? (JSON.parse(py.stdout.trim().split('\n').pop()!) as { step_ms: number }).step_ms : null;
  };
  for (const precision of ['fp32', 'bf16'] as const) {
    const dnasMs = dnasTime(precision);
    const torchMs = torchTime(precision);
    const key = precision === 'fp32' ? '' : 'Bf16';
    Object.assign(report, { [`dnasStepMs${key}`]: dnasMs, [`torchStepMs${key}`]: torchMs, [`ratio${key}`]: torchMs ? dnasMs / torchMs : null });
    console.log(`lattice step on CUDA (${precision}): dnas ${dnasMs.toFixed(2)} ms, PyTorch ${torchMs === null ? 'failed' : `${torchMs.toFixed(2)} ms`}`);
  }
  report.ok = ok;
  const search = searchOn('cuda', out);
  console.log(`search on CUDA, then eval on CUDA and on the CPU: ${JSON.stringify(search)}`);
  report.search = search;
  console.log(JSON.stringify(report));
  if (!ok || !search.ok) process.exitCode = 1;
}

main();
