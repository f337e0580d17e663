/**
 * `dnas info RUN`: a summary table of a run directory.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RunDir } from '../search/rundir';

const pct = (v: unknown) => (typeof v === 'number' ? (100 * v).toFixed(2) : '-');

export function formatInfo(run: RunDir): string {
  if (!run.exists()) throw new Error(`${run.dir} is not a run directory (no config.json)`);
  const cfg = run.readJson<Record<string, unknown>>(run.configFile);
  const metrics = run.readMetrics();
  const lines: string[] = [];
  lines.push(`run ${run.dir}`);
  lines.push(`  ${cfg.strategy} on ${cfg.dataset}, space ${cfg.space} (layers ${cfg.layers}, channels ${cfg.channels}, nodes ${cfg.nodes}), relaxation ${cfg.relaxation}, split ${cfg.split}, seed ${cfg.seed}`);
  lines.push('');
  const metric = metrics[0]?.metric === 'accuracy' ? 'top-1 ' : 'mIoU  ';
  lines.push(`epoch  phase    train-loss  ${metric}  derived  recal   gap     entropy`);
  for (const m of metrics) {
    lines.push(
      `${String(m.epoch).padStart(5)}  ${String(m.phase).padEnd(8)} ${typeof m.trainLoss === 'number' ? m.trainLoss.toFixed(4).padStart(10) : '         -'}  ` +
        `${pct(m.score).padStart(6)}  ${pct(m.derivedScore).padStart(7)}  ${pct(m.derivedRecalScore).padStart(6)}  ${pct(m.gap).padStart(6)}  ` +
        `${typeof m.entropy === 'number' ? m.entropy.toFixed(3) : '-'}`,
    );
  }
  if (fs.existsSync(run.genotypeFile)) lines.push('', `genotype: ${fs.readFileSync(run.genotypeFile, 'utf8').trim().replace(/\s+/g, ' ')}`);
  if (fs.existsSync(run.summaryFile)) {
    const s = run.readJson<Record<string, unknown>>(run.summaryFile);
    lines.push(`finished: ${s.epochs} epochs in ${(s.wallSeconds as number).toFixed(1)} s, best ${s.metric === 'accuracy' ? 'top-1' : 'mIoU'} ${pct(s.bestScore)}`);
  } else {
    lines.push(`not finished: resume with dnas search --resume ${run.dir}`);
  }
  return lines.join('\n');
}

export async function info(argv: string[]): Promise<number> {
  if (!argv[0] || argv[0] === '--help') {
    console.log('Usage: dnas info RUN_DIR   (summary table of a run)');
    return argv[0] ? 0 : 2;
  }
  console.log(formatInfo(new RunDir(path.resolve(argv[0]))));
  return 0;
}
