/**
 * Several processes: the search of the demo's task on 1 and 2 processes of this machine (wall
 * time of the training run, from summary.json), and the communication share of a step (an
 * all-reduce of one step's gradients, weights and architecture, between 2 processes on their
 * own, against the 2-process step). docs/benchmarks.md.
 *
 * Search: brain-mri 96x80, lattice layers 4, C 8, nodes 2, scales 3, global batch 8, 3 epochs
 * (1 warm-up, 2 search), no freeze, no control genotypes, 1 thread per process.
 * Run: node dist/bench/run.js distributed [--iters 20]
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from '../src/cli/launch';
import { readJsonl } from '../src/search/rundir';

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'dnas.js');
const ARGS = ['--dataset', 'brain-mri', '--size', '96x80', '--space', 'lattice', '--layers', '4', '--channels', '8', '--nodes', '2', '--scales', '3'];
const RUN = ['--batch-size', '8', '--epochs', '3', '--warmup-epochs', '1', '--protocol', 'none', '--control-genotypes', '0', '--threads', '1', '--quiet'];

function search(nproc: number, dir: string): { wall: number; epochs: number[]; wallPerEpoch: number[] } {
  const out = path.join(dir, `n${nproc}`);
  const r = spawnSync(process.execPath, [BIN, 'search', ...ARGS, ...RUN, '--out', out, '--nproc', String(nproc)], { encoding: 'utf8', timeout: 3_600_000 });
  if (r.status !== 0) throw new Error(`dnas search --nproc ${nproc} failed: ${r.stdout}${r.stderr}`);
  const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')) as { wallSeconds: number };
  const metrics = readJsonl<{ trainCpuSeconds: number; cpuSeconds: number }>(path.join(out, 'metrics.jsonl'));
  // wall seconds per epoch from the JSON events' arrival is not logged; the CPU of the steps is, and with one thread it is their wall time
  return { wall: summary.wallSeconds, epochs: metrics.map((m) => m.trainCpuSeconds), wallPerEpoch: metrics.map((m) => m.cpuSeconds) };
}

/** Median all-reduce time (ms) of `n` float32 values between 2 processes. */
async function allReduceMs(n: number, iters: number): Promise<number> {
  const port = await freePort();
  const script = `const { torch } = require(${JSON.stringify(path.join(ROOT, 'dist', 'src', 'index.js'))});
torch.setNumThreads(1); const d = torch.distributed; d.initProcessGroup();
const t = torch.randn([${n}]); const ms = [];
for (let i = 0; i < ${iters} + 2; i++) { d.barrier(); const t0 = process.hrtime.bigint(); d.allReduce(t); if (i >= 2) ms.push(Number(process.hrtime.bigint() - t0) / 1e6); }
ms.sort((a, b) => a - b); console.log(ms[Math.floor(ms.length / 2)]); d.destroyProcessGroup();`;
  const outs = await Promise.all(
    [0, 1].map(
      (rank) =>
        new Promise<string>((resolve, reject) => {
          const c = spawn(process.execPath, ['-e', script], {
            env: { ...process.env, RANK: String(rank), WORLD_SIZE: '2', MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port) },
          });
          let o = '';
          c.stdout.on('data', (d) => (o += d));
          c.stderr.on('data', (d) => (o += d));
          c.on('exit', (code) => (code === 0 ? resolve(o) : reject(new Error(o))));
        }),
    ),
  );
  return Math.max(...outs.map((o) => Number(o.trim().split('\n').pop())));
}

export async function benchDistributed(iters: number): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dnas-bench-dist-'));
  try {
    const one = search(1, dir);
    const two = search(2, dir);
    console.log(`search, 3 epochs: 1 process ${one.wall.toFixed(1)} s, 2 processes ${two.wall.toFixed(1)} s: speed-up ${(one.wall / two.wall).toFixed(2)}x`);
    console.log(
      `training CPU per epoch (rank 0): 1 process ${one.epochs.map((s) => s.toFixed(1)).join(', ')} s; 2 processes ${two.epochs.map((s) => s.toFixed(1)).join(', ')} s`,
    );
    // one step's gradients: every weight and architecture parameter of the supernet
    const { LatticeSpace } = await import('../src/space');
    const space = new LatticeSpace({ layers: 4, C: 8, nodes: 2, scales: 3, inChannels: 1, numClasses: 9, inputSize: [96, 80] });
    const n = [...space.weightParameters(), ...space.archParameters()].reduce((a, p) => a + p.numel, 0);
    space.dispose();
    const ms = await allReduceMs(n, iters);
    // A search epoch: one weight step per batch of the weight split (half the training set), each
    // with an architecture step: two all-reduces of (at most) this size.
    const { getDataset } = await import('../src/data');
    const trainSize = getDataset('brain-mri', { split: 'train', size: [96, 80] } as never).length;
    const steps = Math.ceil(trainSize / 2 / 8);
    const perEpoch = (2 * steps * ms) / 1000;
    const lastEpoch = two.wallPerEpoch[two.wallPerEpoch.length - 1];
    console.log(`all-reduce of one step's gradients (${n} floats) between 2 processes: ${ms.toFixed(3)} ms (median of ${iters})`);
    console.log(
      `  a search epoch (${steps} steps, 2 all-reduces each): ${perEpoch.toFixed(2)} s of ${lastEpoch.toFixed(1)} s (${((100 * perEpoch) / lastEpoch).toFixed(1)}%)`,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
