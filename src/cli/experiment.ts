/**
 * `dnas experiment NAME [--quick | --data fashion-scenes] [--jobs N] [--out DIR] [--runs DIR]`: re-runs one of the
 * paper's claims at CPU scale (docs/experiments.md).
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { parseCommand, UsageError } from './parse';

export const EXPERIMENT_HELP = `Usage: dnas experiment NAME [--quick | --data fashion-scenes] [--jobs N] [--out DIR] [--runs DIR]

Runs one experiment of docs/experiments.md (several seeded search runs) and writes NAME.json (all
numbers), NAME.md (tables) and NAME-*.svg (plots) to --out.

  gap             supernet vs derived network with the same weights and random genotypes, every
                  epoch of a search that converges (lattice on brain-mri)
  entropy         the same with entropy penalty weights 0, 0.01, 0.1, 1 and one annealed 0 -> 1
  single-vs-two   single-stage (automatic and fixed freeze) vs an independent retrain of the
                  same genotype for 1x, 2x, 3x the epochs; accuracy and measured core-seconds
  split           weight/architecture data splits against the skip-connection collapse of the
                  decoded cell, and the decoded networks trained from scratch
  all             the four, one after the other

  --quick         tiny sizes (5-15 s each): checks the pipeline, not the claims
  --data D        brain-mri (default: 96x80) or fashion-scenes (48x48, 1024/256 scenes); the
                  fashion-scenes outputs are NAME-fashion-scenes.json, .md and -*.svg
  --jobs N        runs at once, one thread each (default: the number of cores, at most 4)
  --out DIR       outputs (default docs/experiments; with --quick runs/experiments/quick-out)
  --runs DIR      run folders; finished runs are reused, stopped ones resumed
                  (default runs/experiments/SIZE: default, fashion-scenes or quick)

The default sizes take up to 45 minutes each on 2 cores (docs/experiments.md lists the times).
Every table says, per variant, whether the searches converged (docs/experiments.md).`;

export async function experiment(argv: string[]): Promise<number> {
  const r = parseCommand(
    'experiment',
    argv,
    { quick: { type: 'boolean' }, data: { type: 'string' }, jobs: { type: 'string' }, out: { type: 'string' }, runs: { type: 'string' } },
    { positionals: Infinity },
  );
  if (r.help) {
    console.log(EXPERIMENT_HELP);
    return 0;
  }
  const values = r.values as { quick?: boolean; data?: string; jobs?: string; out?: string; runs?: string };
  if (values.data !== undefined && values.data !== 'brain-mri' && values.data !== 'fashion-scenes')
    throw new UsageError(`dnas experiment: --data takes brain-mri or fashion-scenes, got '${values.data}'`);
  if (values.quick && values.data !== undefined) throw new UsageError('dnas experiment: --quick has its own data; leave out --data');
  const { EXPERIMENTS, runExperiment } = await import('../experiments');
  const names = r.positionals[0] === 'all' ? Object.keys(EXPERIMENTS) : r.positionals;
  if (names.length === 0)
    throw new UsageError(`dnas experiment needs the name of an experiment (${Object.keys(EXPERIMENTS).join(', ')}, all); see dnas experiment --help`);
  for (const n of names) {
    if (!EXPERIMENTS[n]) throw new UsageError(`dnas experiment: unknown experiment '${n}' (known: ${Object.keys(EXPERIMENTS).join(', ')}, all)`);
  }
  const jobs = values.jobs === undefined ? Math.max(1, Math.min(4, os.cpus().length)) : Number(values.jobs);
  if (!Number.isInteger(jobs) || jobs < 1) throw new UsageError(`dnas experiment: --jobs takes a positive integer, got '${values.jobs}'`);
  const size = values.quick ? 'quick' : values.data === 'fashion-scenes' ? 'fashion-scenes' : 'default';
  const out = path.resolve(values.out ?? (values.quick ? 'runs/experiments/quick-out' : 'docs/experiments'));
  const runsDir = path.resolve(values.runs ?? `runs/experiments/${size}`);
  for (const name of names) {
    await runExperiment(name, {
      size,
      out,
      runsDir,
      jobs,
      log: (l) => console.log(l),
      command: `dnas experiment ${name}${values.quick ? ' --quick' : ''}${size === 'fashion-scenes' ? ' --data fashion-scenes' : ''}`,
    });
  }
  return 0;
}
