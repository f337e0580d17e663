/**
 * `dnas demo` (what `npm run demo` runs): a single-stage search on the bundled segmentation data
 * (brain MRI slices, brain-mri), sized to finish in under a minute on 2 CPU cores.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveConfig } from '../search/config';
import { parseSearchArgs } from './args';
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

export async function demo(argv: string[]): Promise<number> {
  const { partial, flags } = parseSearchArgs(argv);
  const cfg = resolveConfig({ ...DEMO_CONFIG, ...partial }, 'demo settings');
  // The demo always starts afresh in its own folder.
  const out = path.resolve(cfg.out);
  if (fs.existsSync(path.join(out, 'config.json'))) fs.rmSync(out, { recursive: true, force: true });
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
