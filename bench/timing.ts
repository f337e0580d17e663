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
