/**
 * Benchmark: libtorch threads 1 vs 2 on the demo's work. Three figures per thread count:
 *
 *   search step    the demo's lattice supernet (4 layers, C 8, 2 nodes, 3 scales, brain-mri's
 *                  1 channel and 9 classes), batch 4 at 96x80: an architecture step (forward and
 *                  backward to the alphas and betas) and a weight step (forward, backward, SGD)
 *   derived step   the network of a fixed genotype of that space, one training step
 *   demo           `dnas demo --threads N` end to end (wall time, a separate process)
 *
 * Run: npm run bench -- threads [--iters 10] [--rounds 2]   (the demo part takes about 2 minutes)
 */
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { LatticeSpace } from '../src/space';
import * as torch from '../src/torch';
import { benchMemoryFormat } from './supernets';
import { median, timeSteps } from './timing';

const { nn, optim } = torch;
const F = nn.functional;

/** Median milliseconds of a supernet search step and a derived-network step at `threads`. */
async function steps(threads: number, iters: number): Promise<{ searchMs: number; derivedMs: number }> {
  torch.setNumThreads(threads);
  torch.manualSeed(0);
  const settings = { layers: 4, C: 8, nodes: 2, scales: 3, inChannels: 1, numClasses: 9 };
  const space = new LatticeSpace(settings);
  space.to({ memoryFormat: benchMemoryFormat() }); // as the demo lays it out
  space.setRelaxation('softmax', 1);
  const x = torch.randn([4, 1, 96, 80]);
  const y = torch.randint(0, 9, [4, 96, 80]);
  const weights = new optim.SGD(space.weightParameters(), { lr: 0.01, momentum: 0.9 });
  const arch = new optim.Adam(
    space.namedArchParameters().map(([, a]) => a),
    { lr: 0.1 },
  );
  const search = () => {
    torch.tidy(() => {
      arch.zeroGrad();
      F.crossEntropy(space.forward(x), y).backward();
    });
    arch.step();
    torch.tidy(() => {
      weights.zeroGrad();
      F.crossEntropy(space.forward(x), y).backward();
    });
    weights.step();
  };
  for (let i = 0; i < 2; i++) search();
  const searchMs = median(await timeSteps(search, iters));
  const net = space.build(space.randomGenotype(1)).to({ memoryFormat: benchMemoryFormat() });
  const opt = new optim.SGD(net.parameters(), { lr: 0.01, momentum: 0.9 });
  const derived = () => {
    torch.tidy(() => {
      opt.zeroGrad();
      F.crossEntropy(net.forward(x) as torch.Tensor, y).backward();
    });
    opt.step();
  };
  for (let i = 0; i < 3; i++) derived();
  const derivedMs = median(await timeSteps(derived, iters * 3));
  net.dispose();
  space.dispose();
  return { searchMs, derivedMs };
}

/** Wall seconds of `dnas demo --threads N` (null when it failed). */
function demoSeconds(threads: number): number | null {
  const out = path.join(os.tmpdir(), `dnas-bench-demo-${threads}`);
  const t0 = Date.now();
  const r = spawnSync(
    process.execPath,
    [path.resolve(__dirname, '..', '..', 'bin', 'dnas.js'), 'demo', '--threads', String(threads), '--out', out, '--quiet'],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) {
    console.error(r.stderr);
    return null;
  }
  return (Date.now() - t0) / 1000;
}

export async function benchThreads(iters: number, rounds: number, withDemo: boolean): Promise<void> {
  const best: Record<number, { searchMs: number; derivedMs: number; demoS: number | null }> = {};
  for (let r = 0; r < rounds; r++) {
    for (const t of [1, 2]) {
      const s = await steps(t, iters);
      const b = best[t];
      best[t] = {
        searchMs: Math.min(b?.searchMs ?? Infinity, s.searchMs),
        derivedMs: Math.min(b?.derivedMs ?? Infinity, s.derivedMs),
        demoS: b?.demoS ?? null,
      };
    }
  }
  if (withDemo) {
    for (const t of [1, 2, 1, 2]) {
      const d = demoSeconds(t);
      if (d !== null) best[t].demoS = Math.min(best[t].demoS ?? Infinity, d);
    }
  }
  console.log('| threads | search step (ms) | derived step (ms) | demo wall (s) |');
  console.log('|---|---|---|---|');
  for (const t of [1, 2]) {
    const b = best[t];
    console.log(`| ${t} | ${b.searchMs.toFixed(1)} | ${b.derivedMs.toFixed(2)} | ${b.demoS === null ? '-' : b.demoS.toFixed(1)} |`);
  }
  console.log(
    `ratio 2/1 threads: search ${(best[2].searchMs / best[1].searchMs).toFixed(2)}, derived ${(best[2].derivedMs / best[1].derivedMs).toFixed(2)}` +
      (best[1].demoS && best[2].demoS ? `, demo ${(best[2].demoS / best[1].demoS).toFixed(2)}` : ''),
  );
}
