/**
 * Progress output of a run: a live line on a terminal (loss, temperature, entropy, mIoU, ETA),
 * one line per epoch otherwise, or JSON lines with --json.
 */
import { Reporter } from '../search/trainer';

/** 'mIoU' or 'top-1', for a metrics record. */
export const label = (r: Record<string, unknown>) => (r.metric === 'accuracy' ? 'top-1' : 'mIoU');

export function makeReporter(o: { json: boolean; quiet: boolean; epochs: number }): Reporter {
  if (o.json) return (ev) => process.stdout.write(JSON.stringify(ev) + '\n');
  const tty = process.stderr.isTTY;
  const t0 = Date.now();
  let last: Record<string, unknown> = {};
  const fmt = (v: unknown, d = 3) => (typeof v === 'number' ? v.toFixed(d) : '-');
  return (ev) => {
    if (o.quiet) return;
    if (ev.event === 'step') {
      if (!tty) return;
      const done = (ev.epoch as number) + (ev.step as number) / (ev.steps as number);
      const eta = ((Date.now() - t0) / 1000 / done) * (o.epochs - done);
      const width = 20;
      const filled = Math.round((width * (ev.step as number)) / (ev.steps as number));
      process.stderr.write(`\r${'#'.repeat(filled)}${'.'.repeat(width - filled)} epoch ${(ev.epoch as number) + 1}/${o.epochs} [${ev.phase}] ` +
        `loss ${fmt(ev.loss)} tau ${fmt(last.temperature, 2)} H ${fmt(last.entropy)} ${label(last)} ${fmt(last.score)} ETA ${Math.round(eta)}s   `);
    } else if (ev.event === 'epoch') {
      last = ev;
      if (tty) process.stderr.write('\r\x1b[K');
      const gap = ev.gap === undefined ? '' : ` derived ${fmt(ev.derivedScore)} (recal ${fmt(ev.derivedRecalScore)}) gap ${fmt(ev.gap)}`;
      const arch = ev.entropy === undefined ? '' : ` H ${fmt(ev.entropy)} tau ${fmt(ev.temperature, 2)}`;
      process.stderr.write(`epoch ${ev.epoch}/${o.epochs} [${ev.phase}] train loss ${fmt(ev.trainLoss)} ${label(ev)} ${fmt(ev.score)}${gap}${arch} (${Math.round((Date.now() - t0) / 1000)}s)\n`);
    } else if (ev.event === 'freeze') {
      process.stderr.write(`architecture frozen after epoch ${ev.epoch}: training the ${ev.phase === 'frozen' ? 'derived network with its inherited weights' : 'fresh network (two-stage)'}\n`);
    }
  };
}
