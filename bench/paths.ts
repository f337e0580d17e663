/**
 * Path sampling and partial channels against full width: peak memory and step time of the lattice
 * supernet's search step (forward + backward, softmax; every option vs k sampled options per
 * choice; every channel vs 1/p of them through the operations), at 128x256 and 256x512 crops,
 * batch 2 (docs/benchmarks.md). Each configuration runs in a process of its own, so
 * that its peak resident memory (VmHWM) is its own; "step memory" is the peak minus the resident
 * memory just before the first step (the model, the input and the runtime).
 *
 * Lattice: layers 6, C 8, nodes 5, scales 4, 3 input channels, 19 classes (bench/supernets.ts).
 * `--space lattice-adl|lattice-fusion|lattice-dense` runs the same settings in another form of the
 * lattice (docs/spaces.md), `--crop HxW` one crop only.
 * Run: node dist/bench/run.js paths [--threads 1] [--iters 3] [--space NAME] [--crop HxW]
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as torch from '../src/torch';
import { LATTICE_FORMS, LatticeSpace } from '../src/space';
import { median } from './timing';

const F = torch.nn.functional;

export interface PathsResult {
  crop: [number, number];
  k: number;
  /** Partial channels: 1/p of each edge's channels through its operation (1: all). */
  p: number;
  stepMs: number;
  peakMiB: number;
  stepMiB: number;
  space: string;
}

/** The LatticeSpace settings of a lattice space name. */
function form(space: string): (typeof LATTICE_FORMS)[string] {
  const f = Object.hasOwn(LATTICE_FORMS, space) ? LATTICE_FORMS[space] : undefined;
  if (!f) throw new Error(`paths: --space must be one of ${Object.keys(LATTICE_FORMS).join(', ')}, got '${space}'`);
  return f;
}

function statusKiB(field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/** One configuration in this process (called in a child by {@link benchPaths}). */
export function runOne(h: number, w: number, k: number, p: number, threads: number, iters: number, name = 'lattice'): PathsResult {
  torch.setNumThreads(threads);
  torch.manualSeed(0);
  const space = new LatticeSpace({ layers: 6, C: 8, nodes: 5, scales: 4, inChannels: 3, numClasses: 19, inputSize: [h, w], partialChannels: p, ...form(name) });
  space.setRelaxation('softmax', 1);
  space.setPathSampling(k);
  const x = torch.randn([2, 3, h, w]);
  const y = torch.randint(0, 19, [2, h, w]);
  const before = statusKiB('VmRSS');
  const times: number[] = [];
  for (let i = 0; i < iters + 1; i++) {
    const t0 = process.hrtime.bigint();
    torch.tidy(() => {
      space.module.zeroGrad();
      for (const a of space.archParameters()) a.grad = null;
      F.crossEntropy(space.forward(x), y).backward();
    });
    if (i > 0) times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const peak = statusKiB('VmHWM');
  return { crop: [h, w], k, p, stepMs: median(times), peakMiB: peak / 1024, stepMiB: (peak - before) / 1024, space: name };
}

/** Every configuration, each in a child process; prints a table. */
export function benchPaths(
  threads: number,
  iters: number,
  space = 'lattice',
  crops: [number, number][] = [
    [128, 256],
    [256, 512],
  ],
): PathsResult[] {
  form(space);
  const out: PathsResult[] = [];
  for (const [h, w] of crops) {
    for (const [k, p] of [
      [0, 1],
      [1, 1],
      [2, 1],
      [0, 2],
      [0, 4],
    ]) {
      const args = [__filename, String(h), String(w), String(k), String(p), String(threads), String(iters), space];
      const r = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 1_800_000 });
      if (r.status !== 0) throw new Error(`paths ${h}x${w} k=${k} p=${p} failed: ${r.stderr}`);
      const res = JSON.parse(r.stdout.trim().split('\n').pop()!) as PathsResult;
      out.push(res);
      const what = `${k === 0 ? 'all options' : `${k} sampled`}${p > 1 ? `, 1/${p} of the channels` : ''}`;
      console.log(
        `${space} ${h}x${w} ${what}: step ${res.stepMs.toFixed(0)} ms, peak RSS ${res.peakMiB.toFixed(0)} MiB, step memory ${res.stepMiB.toFixed(0)} MiB`,
      );
    }
  }
  return out;
}

if (require.main === module) {
  const [h, w, k, p, threads, iters] = process.argv.slice(2, 8).map(Number);
  console.log(JSON.stringify(runOne(h, w, k, p, threads, iters, process.argv[8] ?? 'lattice')));
}
