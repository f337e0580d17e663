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
/** A score (a fraction) as a percent: 0.4123 -> '41.23%'. */
export const pct = (v: unknown) => (isNum(v) ? `${(100 * v).toFixed(2)}%` : '-');
/** A difference of scores in percentage points, signed: 0.031 -> '+3.10'. */
const pts = (v: unknown) => (isNum(v) ? `${v >= 0 ? '+' : ''}${(100 * v).toFixed(2)}` : '-');
/** Seconds as '42s', '5m10s' or '2h05m'. */
export function duration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '-';
  if (s < 60) return `${Math.round(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/**
 * The convergence part of a search epoch's line, from the parts the record has:
 * ` maxw 0.42/0.13 margin 0.21 changed 2 control 12.30%` (largest weight / uniform, margin,
 * decoded choices changed, random-genotype control score).
 *
 * @example
 * convergenceText({ archMaxWeight: 0.42, archUniform: 0.125, archMargin: 0.21, archChanged: 2 }); // ' maxw 0.42/0.13 margin 0.21 changed 2'
 */
export function convergenceText(r: Record<string, unknown>): string {
  const parts: string[] = [];
  if (isNum(r.archMaxWeight)) parts.push(`maxw ${r.archMaxWeight.toFixed(2)}${isNum(r.archUniform) ? `/${r.archUniform.toFixed(2)}` : ''}`);
  if (isNum(r.archMargin)) parts.push(`margin ${r.archMargin.toFixed(2)}`);
  if (isNum(r.archChanged)) parts.push(`changed ${r.archChanged}`);
  if (isNum(r.controlScore)) parts.push(`control ${pct(r.controlScore)}`);
  return parts.length ? ` ${parts.join(' ')}` : '';
}

/**
 * The line of a non-step event (epoch, freeze, bn-recal), without the newline; null for others.
 *
 * @example
 * eventLine({ event: 'bn-recal', epoch: 6, before: 0.41, after: 0.45 }, 20, 0);
 * // 'BatchNorm re-estimated at the freeze (epoch 6): derived network 41.00% -> 45.00% (+4.00 points)'
 */
export function eventLine(ev: Record<string, unknown>, epochs: number, seconds: number): string | null {
  if (ev.event === 'epoch') {
    const gap = ev.gap === undefined ? '' : ` derived ${pct(ev.derivedScore)} (recal ${pct(ev.derivedRecalScore)}) gap ${pts(ev.gap)}`;
    const arch = ev.entropy === undefined ? '' : ` H ${fmt(ev.entropy)} tau ${fmt(ev.temperature, 2)}`;
    return `epoch ${ev.epoch}/${epochs} [${ev.phase}] train loss ${fmt(ev.trainLoss)} ${label(ev)} ${pct(ev.score)}${gap}${arch}${convergenceText(ev)} (${duration(seconds)})`;
  }
  if (ev.event === 'freeze') {
    const what = ev.phase === 'frozen' ? 'derived network with its inherited weights' : 'fresh network (two-stage)';
    const why = typeof ev.reason === 'string' && ev.reason ? ` (${ev.reason.replace(/\s+/g, ' ')})` : '';
    return `architecture frozen after epoch ${ev.epoch}${why}: training the ${what}`;
  }
  if (ev.event === 'skipped' && Array.isArray(ev.files)) {
    const files = ev.files as { split: string; file: string; reason: string }[];
    const list = files
      .slice(0, 5)
      .map((f) => `  ${f.split}: ${f.file}: ${f.reason}`)
      .join('\n');
    const more = files.length > 5 ? `\n  ... and ${files.length - 5} more (summary.json lists them all)` : '';
    return `skipped as unreadable (--skip-bad), ${files.length} new, ${ev.count} in all:\n${list}${more}`;
  }
  if (ev.event === 'bn-recal') {
    const delta = isNum(ev.before) && isNum(ev.after) ? ` (${pts(ev.after - ev.before)} points)` : '';
    return `BatchNorm re-estimated at the freeze (epoch ${ev.epoch}): derived network ${pct(ev.before)} -> ${pct(ev.after)}${delta}`;
  }
  return null;
}

/**
 * Prints a run's events: on a terminal a live line per step; otherwise (a log file, CI) a step
 * line every `everySeconds` with images/s and the ETA, so a long epoch is never silent. Epochs are
 * numbered from 1 in every event. `--json` prints each event as a JSON line instead.
 */
export function makeReporter(o: { json: boolean; quiet: boolean; epochs: number; everySeconds?: number }): Reporter {
  if (o.json) return (ev) => process.stdout.write(JSON.stringify(ev) + '\n');
  const tty = process.stderr.isTTY;
  const every = (o.everySeconds ?? 30) * 1000;
  let t0 = 0,
    images = 0,
    lastLine = 0,
    startDone = 0;
  let last: Record<string, unknown> = {};
  return (ev) => {
    if (o.quiet) return;
    if (ev.event === 'step') {
      const now = Date.now();
      if (t0 === 0) {
        // the first step of this process (a resumed run starts part-way): the rate counts from here
        t0 = now;
        lastLine = now;
        startDone = (ev.epoch as number) - 1 + ((ev.step as number) - 1) / (ev.steps as number);
      }
      images += typeof ev.images === 'number' ? ev.images : 0;
      const done = (ev.epoch as number) - 1 + (ev.step as number) / (ev.steps as number);
      const seconds = (now - t0) / 1000;
      const eta = done > startDone ? (seconds / (done - startDone)) * (o.epochs - done) : NaN;
      const rate = seconds > 0 ? `${(images / seconds).toFixed(1)} images/s` : '';
      if (tty) {
        const width = 20;
        const filled = Math.round((width * (ev.step as number)) / (ev.steps as number));
        process.stderr.write(
          `\r${'#'.repeat(filled)}${'.'.repeat(width - filled)} epoch ${ev.epoch}/${o.epochs} [${ev.phase}] ` +
            `loss ${fmt(ev.loss)} ${label(last)} ${pct(last.score)} ${rate} ETA ${duration(eta)}   `,
        );
      } else if (now - lastLine >= every) {
        lastLine = now;
        process.stderr.write(`  epoch ${ev.epoch}/${o.epochs} [${ev.phase}] step ${ev.step}/${ev.steps} loss ${fmt(ev.loss)}, ${rate}, ETA ${duration(eta)}\n`);
      }
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
