/**
 * Benchmarks runner: `npm run bench -- [name] [--threads N] [--iters N] [--rounds N] [--no-check]`.
 * Each benchmark prints dnas and PyTorch numbers and their ratio. Never part of `npm test`.
 * Benchmarks: convnet-step (default; iters 30), lattice and darts (supernet forward + backward,
 * bench/supernets.ts; iters 5 per round, 3 interleaved rounds, equivalence check first),
 * darts-search (one DARTS first-order search step of experiment split, bench/darts-search.ts;
 * iters 5 per round, 3 interleaved rounds, data and step checks first), alloc-matrix (conv nets
 * of 8 shapes under the addon's allocator settings, the previous ones and PyTorch;
 * bench/alloc-matrix.ts), layout-matrix (the same conv nets contiguous and channels-last on both
 * sides; bench/alloc-matrix.ts), threads (1 vs 2 threads on the demo's search step, derived network
 * and the demo itself; bench/threads.ts; --no-demo skips the demo runs), paths (path sampling
 * against full width: peak memory and step time of the lattice search step; bench/paths.ts),
 * distributed (the search on 1 and 2 processes, and an all-reduce's share; bench/distributed.ts).
 */
import * as os from 'node:os';
import { parseArgs } from 'node:util';
import { runDnas, runTorch } from './convnet-step';
import { benchAllocMatrix, benchLayoutMatrix } from './alloc-matrix';
import { benchDartsSearch } from './darts-search';
import { benchSupernet, SUPERNETS, SupernetName } from './supernets';
import { benchThreads } from './threads';
import { benchPaths } from './paths';
import { benchDistributed } from './distributed';

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    options: {
      threads: { type: 'string', default: '1' },
      iters: { type: 'string' },
      rounds: { type: 'string', default: '3' },
      'no-check': { type: 'boolean', default: false },
      'no-demo': { type: 'boolean', default: false },
      space: { type: 'string', default: 'lattice' },
      crop: { type: 'string' },
    },
    allowPositionals: true,
  });
  const threads = Number(values.threads);
  const which = positionals[0] ?? 'convnet-step';
  const supernet = (SUPERNETS as string[]).includes(which);
  const iters = Number(values.iters ?? (supernet || which === 'darts-search' ? 5 : 30));
  console.log(`machine: ${os.cpus()[0]?.model ?? 'unknown'} x${os.cpus().length}, threads ${threads}, iters ${iters}`);
  if (which === 'threads') {
    await benchThreads(Number(values.iters ?? 10), Number(values.rounds), !values['no-demo']);
    return;
  }
  if (which === 'distributed') {
    await benchDistributed(Number(values.iters ?? 20));
    return;
  }
  if (which === 'paths') {
    const m = values.crop === undefined ? null : /^(\d+)x(\d+)$/.exec(values.crop);
    if (values.crop !== undefined && !m) throw new Error(`paths: --crop must look like 128x256, got '${values.crop}'`);
    const crop = m ? [[Number(m[1]), Number(m[2])] as [number, number]] : undefined;
    benchPaths(threads, Number(values.iters ?? 3), values.space, crop);
    return;
  }
  if (which === 'alloc-matrix') {
    benchAllocMatrix(threads, Number(values.iters ?? 12), Number(values.rounds));
    return;
  }
  if (which === 'layout-matrix') {
    benchLayoutMatrix(threads, Number(values.iters ?? 12), Number(values.rounds));
    return;
  }
  if (which === 'convnet-step') {
    // Interleave the two sides so that a busy core affects both alike.
    const d1 = await runDnas(threads, iters);
    const t1 = runTorch(threads, iters);
    const d2 = await runDnas(threads, iters);
    const t2 = runTorch(threads, iters);
    const d = { stepMs: Math.min(d1.stepMs, d2.stepMs), opUs: Math.min(d1.opUs, d2.opUs) };
    console.log(`dnas    step ${d.stepMs.toFixed(2)} ms   trivial op ${d.opUs.toFixed(2)} us`);
    if (t1 && t2) {
      const t = { stepMs: Math.min(t1.stepMs, t2.stepMs), opUs: Math.min(t1.opUs, t2.opUs) };
      console.log(`pytorch step ${t.stepMs.toFixed(2)} ms   trivial op ${t.opUs.toFixed(2)} us`);
      console.log(`ratio dnas/pytorch: step ${(d.stepMs / t.stepMs).toFixed(3)}, trivial op ${(d.opUs / t.opUs).toFixed(2)}`);
    } else {
      console.log('pytorch: /usr/bin/python3 has no torch (apt-get install python3-torch)');
    }
  } else if (which === 'darts-search') {
    await benchDartsSearch({ threads, iters, rounds: Number(values.rounds), check: !values['no-check'] });
  } else if (supernet) {
    await benchSupernet(which as SupernetName, { threads, iters, rounds: Number(values.rounds), check: !values['no-check'] });
  } else {
    throw new Error(
      `unknown benchmark '${which}' (available: convnet-step, ${SUPERNETS.join(', ')}, darts-search, alloc-matrix, layout-matrix, threads, paths, distributed)`,
    );
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
