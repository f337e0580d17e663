/**
 * `dnas train --genotype FILE`: trains a freshly initialised network of a given genotype (no
 * search), with the same data, schedule, logs and checkpoints as a search.
 */
import { Genotype, loadGenotype } from '../space';
import { resolveConfig, SPACES } from '../search/config';
import { flagHelp, kebab, parseSearchArgs } from './args';
import { UsageError } from './parse';
import { printSummary, runSearch } from './search';

/** Settings that only a search uses: not listed by `dnas train --help`. */
const SEARCH_ONLY = [
  'algorithm',
  'protocol',
  'strategy',
  'relaxation',
  'warmupEpochs',
  'freezeEpoch',
  'freezePatience',
  'freezeMargin',
  'freezeEntropy',
  'freezeMaxEpoch',
  'freezeBnRecal',
  'entropyWeight',
  'temperature',
  'split',
  'archFraction',
  'archLr',
  'mixNorm',
  'archBetas',
  'archWeightDecay',
  'bnRecalibBatches',
  'controlGenotypes',
  'costTarget',
  'costWeight',
  'samplePaths',
  'edgeNorm',
];
const TRAIN_DEFAULTS = { out: 'runs/train', protocol: 'none', warmupEpochs: 0 };

export const TRAIN_HELP = `Usage: dnas train --genotype FILE [--config FILE] [flags]

Trains the network of a genotype (genotype.json of a run, or a published DARTS genotype) from
scratch. The space and its size (layers, channels, nodes, scales) are read from the genotype when
it records them, as every genotype of a built-in space does; for one that does not, give them as
flags. A genotype of a space module needs that module: --space FILE.

  --genotype FILE        genotype JSON
${flagHelp({ omit: SEARCH_ONLY, defaults: TRAIN_DEFAULTS })}`;

/** The settings a genotype records about its space, as config fields. */
export function spaceFromGenotype(g: Genotype): Record<string, unknown> {
  const s = (g.settings ?? {}) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  if ((SPACES as readonly string[]).includes(g.space)) out.space = g.space;
  for (const [field, key] of [
    ['layers', 'layers'],
    ['channels', 'C'],
    ['nodes', 'nodes'],
    ['scales', 'scales'],
    ['partialChannels', 'partialChannels'],
  ] as const) {
    if (g.space === 'darts' && field === 'scales') continue;
    if (typeof s[key] === 'number') out[field] = s[key];
  }
  return out;
}

export async function train(argv: string[]): Promise<number> {
  const { partial, flags, source, fromFlags, extra } = parseSearchArgs(argv, 'train', { genotype: { type: 'string' } });
  if (flags.help) {
    console.log(TRAIN_HELP);
    return 0;
  }
  if (typeof extra.genotype !== 'string') throw new UsageError('dnas train needs --genotype FILE; see dnas train --help');
  if (flags.resume) throw new UsageError('dnas train: continue a stopped training run with dnas search --resume RUN_DIR');
  const genotype = loadGenotype(extra.genotype);
  const recorded = spaceFromGenotype(genotype);
  if (!recorded.space && !fromFlags.includes('space') && !(SPACES as readonly string[]).includes(genotype.space)) {
    throw new UsageError(
      `dnas train: the genotype in ${extra.genotype} is of space '${genotype.space}', not a built-in one: name its space module with --space FILE (docs/spaces.md)`,
    );
  }
  for (const [k, v] of Object.entries(recorded)) {
    if (fromFlags.includes(k) && partial[k] !== v) {
      throw new UsageError(
        `dnas train: --${kebab(k)} ${String(partial[k])} disagrees with the genotype in ${extra.genotype}, which records ${k} ${String(v)}; leave the flag out`,
      );
    }
  }
  const cfg = resolveConfig({ ...TRAIN_DEFAULTS, ...partial, ...recorded }, source);
  const { summary, run } = await runSearch(cfg, { json: flags.json, quiet: flags.quiet, genotype });
  printSummary(summary, run, flags.json);
  return 0;
}
