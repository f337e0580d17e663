/**
 * `dnas train --genotype FILE`: trains a freshly initialised network of a given genotype (no
 * search), with the same data, schedule, logs and checkpoints as a search.
 */
import { loadGenotype } from '../space';
import { resolveConfig } from '../search/config';
import { flagHelp, parseSearchArgs } from './args';
import { printSummary, runSearch } from './search';

export const TRAIN_HELP = `Usage: dnas train --genotype FILE [--config FILE] [flags]

Trains the network of a genotype (genotype.json of a run, or a published DARTS genotype) from
scratch. The space flags (--space, --layers, --channels, --nodes, --scales) must describe the
space the genotype belongs to.

  --genotype FILE        genotype JSON
${flagHelp()}`;

export async function train(argv: string[]): Promise<number> {
  const i = argv.indexOf('--genotype');
  if (argv.includes('--help') || i < 0 || !argv[i + 1]) {
    console.log(TRAIN_HELP);
    return argv.includes('--help') ? 0 : 2;
  }
  const genotype = loadGenotype(argv[i + 1]);
  const rest = [...argv.slice(0, i), ...argv.slice(i + 2)];
  const { partial, flags, source } = parseSearchArgs(rest);
  const cfg = resolveConfig({ out: 'runs/train', protocol: 'none', warmupEpochs: 0, ...partial }, source);
  const { summary, run } = await runSearch(cfg, { json: flags.json, quiet: flags.quiet, genotype });
  printSummary(summary, run, flags.json);
  return 0;
}
