/**
 * `dnas info RUN`: a summary table of a run directory.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RunDir } from '../search/rundir';
import { parseCommand, UsageError } from './parse';

const pct = (v: unknown) => (typeof v === 'number' ? (100 * v).toFixed(2) : '-');
const fixed = (v: unknown, d: number) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(d) : '-');
/** One line of text from a run file's string (no line breaks or control characters). */
// eslint-disable-next-line no-control-regex -- control characters are exactly what is removed
const CONTROL = /[\u0000-\u001f\u007f]+/g;
const oneLine = (v: unknown) => String(v).replace(CONTROL, ' ').trim();

/**
 * The run directory as text: settings, one table row per epoch (loss, score, derived and BN-recal
 * scores, gap, entropy, and while searching the convergence of the relaxation weights: mean largest
 * weight, margin, decoded choices changed, and the random-genotype control score), the genotype
 * and how the run ended (freeze reason, algorithm and protocol).
 *
 * @example
 * console.log(formatInfo(new RunDir('runs/demo')));
 */
export function formatInfo(run: RunDir): string {
  if (!run.exists()) throw new Error(`${run.dir} is not a run directory (no config.json)`);
  const cfg = run.readJson<Record<string, unknown>>(run.configFile);
  const metrics = run.readMetrics();
  const lines: string[] = [];
  lines.push(`run ${run.dir}`);
  // Older configs name a strategy; newer ones an algorithm and a protocol (and may leave the relaxation to the algorithm).
  const how = typeof cfg.strategy === 'string' ? cfg.strategy : `${cfg.algorithm ?? '?'}, protocol ${cfg.protocol ?? '?'}`;
  lines.push(
    `  ${how} on ${cfg.dataset}, space ${cfg.space} (layers ${cfg.layers}, channels ${cfg.channels}, nodes ${cfg.nodes}), ` +
      `relaxation ${cfg.relaxation ?? "the algorithm's"}, split ${cfg.split}, seed ${cfg.seed}`,
  );
  lines.push('');
  // Scores in percent, as everywhere else.
  const metric = metrics[0]?.metric === 'accuracy' ? 'top-1%' : 'mIoU% ';
  lines.push('scores (mIoU or top-1, derived, recal, control) and the gap in percent');
  lines.push(`epoch  phase    train-loss  ${metric}  derived  recal   gap     entropy  maxw  margin  changed  control`);
  for (const m of metrics) {
    lines.push(
      `${String(m.epoch).padStart(5)}  ${oneLine(m.phase).padEnd(8)} ${typeof m.trainLoss === 'number' ? m.trainLoss.toFixed(4).padStart(10) : '         -'}  ` +
        `${pct(m.score).padStart(6)}  ${pct(m.derivedScore).padStart(7)}  ${pct(m.derivedRecalScore).padStart(6)}  ${pct(m.gap).padStart(6)}  ` +
        `${fixed(m.entropy, 3).padStart(7)}  ${fixed(m.archMaxWeight, 2).padStart(4)}  ${fixed(m.archMargin, 2).padStart(6)}  ` +
        `${fixed(m.archChanged, 0).padStart(7)}  ${pct(m.controlScore).padStart(7)}`,
    );
  }
  if (fs.existsSync(run.genotypeFile)) lines.push('', `genotype: ${fs.readFileSync(run.genotypeFile, 'utf8').trim().replace(/\s+/g, ' ')}`);
  if (fs.existsSync(run.summaryFile)) {
    const s = run.readJson<Record<string, unknown>>(run.summaryFile);
    lines.push(`finished: ${s.epochs} epochs in ${fixed(s.wallSeconds, 1)} s, best ${s.metric === 'accuracy' ? 'top-1' : 'mIoU'} ${pct(s.bestScore)}`);
    const how = [
      typeof s.algorithm === 'string' ? `algorithm ${oneLine(s.algorithm)}` : '',
      typeof s.protocol === 'string' ? `protocol ${oneLine(s.protocol)}` : '',
    ].filter(Boolean);
    if (how.length) lines.push(how.join(', '));
    if (typeof s.freezeReason === 'string' && s.freezeReason)
      lines.push(`frozen${typeof s.frozenAt === 'number' ? ` after epoch ${s.frozenAt}` : ''}: ${oneLine(s.freezeReason)}`);
    if (Array.isArray(s.skipped) && s.skipped.length)
      lines.push(`skipped ${s.skipped.length} unreadable file${s.skipped.length === 1 ? '' : 's'} (--skip-bad; listed in summary.json)`);
  } else {
    lines.push(
      run.started()
        ? `not finished: resume with dnas search --resume ${run.dir}`
        : `stopped before its first checkpoint: nothing to resume; start the run again with the same --out (the folder is reused)`,
    );
  }
  return lines.join('\n');
}

const INFO_HELP = `Usage: dnas info RUN_DIR [--json]

A summary table of a run: settings, one row per epoch, the genotype and how the run ended.
--json prints one JSON object instead: the settings, the epochs (metrics.jsonl; scores as
fractions), the genotype and summary.json (null while the run has not finished).`;

export async function info(argv: string[]): Promise<number> {
  const r = parseCommand('info', argv, { json: { type: 'boolean' } }, { positionals: 1 });
  if (r.help) {
    console.log(INFO_HELP);
    return 0;
  }
  if (!r.positionals[0]) throw new UsageError(`dnas info needs a run directory: ${INFO_HELP.replace(/^Usage: /, '')}`);
  const run = new RunDir(path.resolve(r.positionals[0]));
  if (r.values.json) {
    if (!run.exists()) throw new Error(`${run.dir} is not a run directory (no config.json)`);
    const read = (file: string) => (fs.existsSync(file) ? run.readJson<unknown>(file) : null);
    const out = {
      event: 'info',
      run: run.dir,
      config: run.readJson<unknown>(run.configFile),
      epochs: run.readMetrics(),
      genotype: read(run.genotypeFile),
      summary: read(run.summaryFile),
    };
    process.stdout.write(JSON.stringify(out) + '\n');
    return 0;
  }
  console.log(formatInfo(run));
  return 0;
}
