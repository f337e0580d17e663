/**
 * `dnas demo` (what `npm run demo` runs): a single-stage search on the bundled segmentation data
 * (brain MRI slices, brain-mri), sized to finish in under a minute on 2 CPU cores.
 */
import * as path from 'node:path';
import { resolveConfig } from '../search/config';
import { RunDir } from '../search/rundir';
import { parseSearchArgs } from './args';
import { UsageError } from './parse';
import { printSummary, runSearch, writeSamples } from './search';

/**
 * The demo's settings (each can be overridden with the usual flags). The data is brain-mri (real
 * Colin27 MRI slices, 9 lobe classes) rather than the default fashion-scenes: at this size and
 * budget a fixed network of the space reaches about 50% mIoU on brain-mri and 11% on
 * fashion-scenes (docs/benchmarks.md), and a demo has to show a segmentation a person can recognise.
 */
export const DEMO_CONFIG = {
  dataset: 'brain-mri',
  size: [96, 80],
  space: 'lattice',
  algorithm: 'darts',
  protocol: 'single-stage',
  layers: 4,
  channels: 8,
  nodes: 2,
  scales: 3,
  epochs: 40,
  batchSize: 4,
  threads: 2,
  out: 'runs/demo',
};

export const DEMO_HELP = `Usage: dnas demo [flags]

A single-stage search on bundled brain MRI slices (brain-mri, Debian's mricron-data), 40 epochs at
96x80, under a minute on 2 cores; prints the final mIoU, the genotype, the discretization gap and
the run folder, and writes its report (runs/demo/report.html). Every search flag applies
(dnas search --help lists them); the demo's own settings: ${Object.entries(DEMO_CONFIG)
  .map(([k, v]) => `${k} ${Array.isArray(v) ? v.join('x') : v}`)
  .join(', ')}.

A folder that holds an earlier demo is cleared of dnas's own files and reused; a folder holding
anything else is refused.`;

export async function demo(argv: string[]): Promise<number> {
  const { partial, flags } = parseSearchArgs(argv, 'demo');
  if (flags.help) {
    console.log(DEMO_HELP);
    return 0;
  }
  if (flags.resume) throw new UsageError('dnas demo always starts afresh; continue a stopped demo with dnas search --resume runs/demo');
  const cfg = resolveConfig({ ...DEMO_CONFIG, ...partial }, 'demo settings');
  // The demo starts afresh: an earlier demo's files are removed (dnas's own files only; a folder
  // holding anything else is then refused by the run folder's own check).
  new RunDir(path.resolve(cfg.out)).clearOwnFiles();
  console.error(`dnas demo: single-stage search on ${cfg.dataset}, ${cfg.epochs} epochs, ${cfg.threads} thread(s)`);
  const { summary, run } = await runSearch(cfg, { json: flags.json, quiet: flags.quiet });
  printSummary(summary, run, flags.json);
  await writeSamples(run.dir, cfg.device);
  const { writeReport } = await import('../report');
  const report = writeReport(run.dir);
  if (flags.json) process.stdout.write(JSON.stringify({ event: 'report', file: report.file }) + '\n');
  else console.log(`report: ${report.file}`);
  return 0;
}
