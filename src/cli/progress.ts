/**
 * Progress output of a run: a live line on a terminal (loss, temperature, entropy, mIoU, ETA),
 * one line per epoch otherwise (with, while searching, the convergence of the relaxation weights
 * and the random-genotype control), a line at the freeze (with its reason) and at the BatchNorm
 * re-estimation, or JSON lines with --json.
 */
import { Reporter } from '../search/trainer';

/** 'mIoU' or 'top-1', for a metrics record. */
export const label = (r: Record<string, unknown>) => (r.metric === 'accuracy' ? 'top-1' : 'mIoU');

const fmt = (v: unknown, d = 3) => (typeof v === 'number' ? v.toFixed(d) : '-');
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * The convergence part of a search epoch's line, from the parts the record has:
 * ` maxw 0.42/0.13 margin 0.21 changed 2 control 0.123` (largest weight / uniform, margin, decoded
 * choices changed, random-genotype control score).
 *
 * @example
 * convergenceText({ archMaxWeight: 0.42, archUniform: 0.125, archMargin: 0.21, archChanged: 2 }); // ' maxw 0.42/0.13 margin 0.21 changed 2'
 */
export function convergenceText(r: Record<string, unknown>): string {
  const parts: string[] = [];
  if (isNum(r.archMaxWeight)) parts.push(`maxw ${r.archMaxWeight.toFixed(2)}${isNum(r.archUniform) ? `/${r.archUniform.toFixed(2)}` : ''}`);
  if (isNum(r.archMargin)) parts.push(`margin ${r.archMargin.toFixed(2)}`);
  if (isNum(r.archChanged)) parts.push(`changed ${r.archChanged}`);
  if (isNum(r.controlScore)) parts.push(`control ${r.controlScore.toFixed(3)}`);
  return parts.length ? ` ${parts.join(' ')}` : '';
}

/**
 * The line of a non-step event (epoch, freeze, bn-recal), without the newline; null for others.
 *
 * @example
 * eventLine({ event: 'bn-recal', epoch: 6, before: 0.41, after: 0.45 }, 20, 0);
 * // 'BatchNorm re-estimated at the freeze (epoch 6): derived network 0.410 -> 0.450 (+0.040)'
 */
export function eventLine(ev: Record<string, unknown>, epochs: number, seconds: number): string | null {
  if (ev.event === 'epoch') {
    const gap = ev.gap === undefined ? '' : ` derived ${fmt(ev.derivedScore)} (recal ${fmt(ev.derivedRecalScore)}) gap ${fmt(ev.gap)}`;
    const arch = ev.entropy === undefined ? '' : ` H ${fmt(ev.entropy)} tau ${fmt(ev.temperature, 2)}`;
    return `epoch ${ev.epoch}/${epochs} [${ev.phase}] train loss ${fmt(ev.trainLoss)} ${label(ev)} ${fmt(ev.score)}${gap}${arch}${convergenceText(ev)} (${Math.round(seconds)}s)`;
  }
  if (ev.event === 'freeze') {
    const what = ev.phase === 'frozen' ? 'derived network with its inherited weights' : 'fresh network (two-stage)';
    const why = typeof ev.reason === 'string' && ev.reason ? ` (${ev.reason.replace(/\s+/g, ' ')})` : '';
    return `architecture frozen after epoch ${ev.epoch}${why}: training the ${what}`;
  }
  if (ev.event === 'skipped' && Array.isArray(ev.files)) {
    const files = ev.files as { split: string; file: string; reason: string }[];
    const list = files.slice(0, 5).map((f) => `  ${f.split}: ${f.file}: ${f.reason}`).join('\n');
    const more = files.length > 5 ? `\n  ... and ${files.length - 5} more (summary.json lists them all)` : '';
    return `skipped as unreadable (--skip-bad), ${files.length} new, ${ev.count} in all:\n${list}${more}`;
  }
  if (ev.event === 'bn-recal') {
    const delta = isNum(ev.before) && isNum(ev.after) ? ` (${ev.after >= ev.before ? '+' : ''}${(ev.after - ev.before).toFixed(3)})` : '';
    return `BatchNorm re-estimated at the freeze (epoch ${ev.epoch}): derived network ${fmt(ev.before)} -> ${fmt(ev.after)}${delta}`;
  }
  return null;
}

export function makeReporter(o: { json: boolean; quiet: boolean; epochs: number }): Reporter {
  if (o.json) return (ev) => process.stdout.write(JSON.stringify(ev) + '\n');
  const tty = process.stderr.isTTY;
  const t0 = Date.now();
  let last: Record<string, unknown> = {};
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
    } else {
      const text = eventLine(ev, o.epochs, (Date.now() - t0) / 1000);
      if (text === null) return;
      if (ev.event === 'epoch') last = ev;
      // Clears the live line on a terminal.
      if (tty) process.stderr.write('\r\x1b[K');
      process.stderr.write(`${text}\n`);
    }
  };
}
