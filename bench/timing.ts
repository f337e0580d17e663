/** Timing helpers shared by the benchmarks. */

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/**
 * Times `iters` calls of `step` in milliseconds, yielding to the event loop after each one (so
 * finalizers run, as in a training loop).
 */
export async function timeSteps(step: () => void, iters: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < iters; i++) {
    const t0 = process.hrtime.bigint();
    step();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    await new Promise((r) => setImmediate(r));
  }
  return times;
}

/** One side's timings of one round: per-step milliseconds and the model's parameter counts. */
export interface SideRound {
  stepMs: number;
  times: number[];
  params: number;
  arch: number;
}

/**
 * Runs `rounds` interleaved rounds (dnas, then PyTorch) so that a busy core hurts both alike, and
 * prints each round, the medians and minimums over all steps, and the ratio dnas/PyTorch. `torch`
 * returns null when the PyTorch side cannot run; later rounds then skip it.
 */
export async function interleavedRounds(rounds: number, dnas: () => Promise<SideRound>, torch: () => SideRound | null): Promise<void> {
  const d: number[] = [];
  const t: number[] = [];
  let dParams = 0,
    tParams = 0,
    dArch = 0,
    tArch = 0;
  let torchOk = true;
  for (let r = 0; r < rounds; r++) {
    const dr = await dnas();
    d.push(...dr.times);
    dParams = dr.params;
    dArch = dr.arch;
    const tr = torchOk ? torch() : null;
    if (tr) {
      t.push(...tr.times);
      tParams = tr.params;
      tArch = tr.arch;
    } else torchOk = false;
    console.log(`round ${r + 1}: dnas median ${dr.stepMs.toFixed(1)} ms` + (tr ? `, pytorch median ${tr.stepMs.toFixed(1)} ms` : ''));
  }
  console.log(`dnas    step median ${median(d).toFixed(1)} ms, min ${Math.min(...d).toFixed(1)} ms (${d.length} steps; weights ${dParams}, arch ${dArch})`);
  if (!torchOk || t.length === 0) {
    console.log('pytorch: /usr/bin/python3 has no torch (apt-get install python3-torch) or the reference failed');
    return;
  }
  console.log(`pytorch step median ${median(t).toFixed(1)} ms, min ${Math.min(...t).toFixed(1)} ms (${t.length} steps; weights ${tParams}, arch ${tArch})`);
  if (dParams !== tParams || dArch !== tArch) console.log(`WARNING: parameter counts differ (dnas ${dParams}/${dArch}, pytorch ${tParams}/${tArch})`);
  console.log(`ratio dnas/pytorch: median ${(median(d) / median(t)).toFixed(3)}, min ${(Math.min(...d) / Math.min(...t)).toFixed(3)}`);
}
