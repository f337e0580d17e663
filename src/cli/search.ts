/**
 * `dnas search`: runs a search (any strategy) into a run directory, or resumes one.
 */
import * as path from 'node:path';
import { resolveConfig, SearchConfig } from '../search/config';
import { checkProcesses, runSearch as runSearchLibrary, SearchOutcome } from '../search/run';
import { RunDir } from '../search/rundir';
import { RunSummary, Trainer } from '../search/trainer';
import { Genotype } from '../search/types';
import { savedSettings } from '../search/saved';
import { flagHelp, kebab, parseSearchArgs } from './args';
import { TensorBoardWriter, writeMetricsCsv } from '../report/tensorboard';
import { makeReporter, pct } from './progress';
import { distributed as dist } from '../torch';
import { launch, nprocArg, withoutNproc } from './launch';

export const SEARCH_HELP = `Usage: dnas search [--config FILE] [flags]
       dnas search --resume RUN_DIR

Runs an architecture search and writes a run directory (config.json, metrics.jsonl, arch.jsonl,
genotype.json, metrics.csv, checkpoints/last.pt and best.pt with their SHA-256 in
checkpoints/integrity.json). Ctrl-C stops after the current step with a checkpoint (a second
Ctrl-C stops at once); --resume continues from it. Flags override the config file (JSON or YAML;
dnas.config.json/.yaml in the working directory is read when no --config is given).

  --config FILE          config file
  --resume RUN_DIR       continue a stopped run from its last checkpoint
  --json                 print events as JSON lines on stdout
  --quiet                print only the final summary
  --nproc N              run on N processes of this machine, data-parallel (gloo): the batch is
                         split between them, rank 0 writes the run folder (docs/search.md).
                         Across machines, start one dnas search per process with RANK,
                         WORLD_SIZE, MASTER_ADDR and MASTER_PORT set, as torchrun does
${flagHelp()}`;

export type { SearchOutcome };

/**
 * runSearch (src/search/run.ts) for the command line: progress printed as `--json`/`--quiet`
 * ask, and Ctrl-C or SIGTERM stopping the run cleanly (signalHandler); a run stopped so ends
 * with an error that carries the shell's exit code and says how to continue.
 */
export async function runSearch(cfg: SearchConfig, o: { json?: boolean; quiet?: boolean; resume?: boolean; genotype?: Genotype } = {}): Promise<SearchOutcome> {
  let trainer: Trainer | null = null;
  const run = new RunDir(path.resolve(cfg.out));
  // In a multi-process run rank 0 prints and writes the logs; the others print only errors.
  const lead = dist.getRank() === 0;
  const logs = lead ? metricLogs(run, cfg.tensorboard) : { epoch: () => undefined, close: () => undefined };
  const signals = signalHandler({ trainer: () => trainer, run, log: (l) => console.error(l), exit: (code) => process.exit(code) });
  process.on('SIGINT', signals.handle);
  process.on('SIGTERM', signals.handle);
  try {
    const print = lead ? makeReporter({ json: !!o.json, quiet: !!o.quiet, epochs: cfg.epochs }) : () => undefined;
    const outcome = await runSearchLibrary(cfg, {
      resume: o.resume,
      genotype: o.genotype,
      reporter: (ev) => {
        print(ev);
        logs.epoch(ev);
      },
      onTrainer: (t) => {
        trainer = t;
      },
    });
    const stopped = outcome.summary.stopped;
    if (stopped) {
      const stopping = signals.stopping();
      const at = stopped.step ? `in epoch ${stopped.epoch}, after step ${stopped.step}` : `after epoch ${stopped.epoch}`;
      throw Object.assign(
        new Error(
          `stopped by ${stopping ?? 'request'} ${at}; the checkpoint ${run.lastCheckpoint} holds that point: continue with dnas search --resume ${run.dir}`,
        ),
        {
          exitCode: stopping ? signalExitCode(stopping) : 1,
        },
      );
    }
    return outcome;
  } finally {
    process.removeListener('SIGINT', signals.handle);
    process.removeListener('SIGTERM', signals.handle);
    logs.close();
  }
}

/**
 * After each epoch: metrics.csv rewritten from metrics.jsonl (so a resumed run's CSV matches its
 * logs), and with `tensorboard` set the epoch's scalars appended to an event file there (opened
 * at the first epoch this process finishes, which its SessionLog START names).
 */
function metricLogs(run: RunDir, tensorboard: string | null) {
  let tb: TensorBoardWriter | null = null;
  return {
    epoch: (ev: Record<string, unknown>) => {
      if (ev.event !== 'epoch') return;
      writeMetricsCsv(run.csvFile, run.readMetrics());
      if (tensorboard) {
        tb ??= new TensorBoardWriter(path.resolve(tensorboard), ev.epoch as number);
        tb.epoch(ev);
      }
    },
    close: () => tb?.close(),
  };
}

/**
 * What Ctrl-C or a kill does to a run: the first signal lets the step in progress finish and
 * asks for last.pt (a resume continues at the next step); a second one, or one before training
 * began, stops at once with where the run stands.
 */
export function signalHandler(o: { trainer: () => Trainer | null; run: RunDir; log: (line: string) => void; exit: (code: number) => void }) {
  let stopping: NodeJS.Signals | null = null;
  return {
    stopping: () => stopping,
    handle: (sig: NodeJS.Signals) => {
      const trainer = o.trainer();
      if (trainer && !stopping) {
        stopping = sig;
        trainer.requestStop();
        o.log(
          `dnas: ${sig}: stopping after the current step and writing a checkpoint (${sig === 'SIGINT' ? 'Ctrl-C' : 'the same signal'} again stops at once)`,
        );
        return;
      }
      const where = o.run.started()
        ? `the last checkpoint is ${o.run.lastCheckpoint}; continue with dnas search --resume ${o.run.dir}`
        : 'no checkpoint was written yet; start the run again (the folder is reused)';
      o.log(`dnas: stopped by ${sig}; ${where}`);
      o.exit(signalExitCode(sig));
    },
  };
}

/** The shell's convention: 128 + the signal's number. */
function signalExitCode(sig: NodeJS.Signals): number {
  return sig === 'SIGINT' ? 130 : sig === 'SIGTERM' ? 143 : 1;
}

export async function search(argv: string[]): Promise<number> {
  const { partial, flags, source, fromFlags, extra } = parseSearchArgs(argv, 'search', { nproc: { type: 'string' } });
  if (flags.help) {
    console.log(SEARCH_HELP);
    return 0;
  }
  const nproc = nprocArg(extra.nproc);
  const group = dist.fromEnvironment(); // set by --nproc's launcher, or by torchrun-style launching
  if (group && nproc !== null && nproc !== group.worldSize)
    throw new Error(`--nproc ${nproc} contradicts WORLD_SIZE=${group.worldSize} in the environment; give one of them`);
  if (!group && nproc !== null && nproc > 1) {
    // The settings are checked here once, so that a wrong one is one message, not one per rank.
    checkProcesses(resolveSearchConfig(partial, flags, source, fromFlags), nproc);
    return launch('search', withoutNproc(argv), nproc);
  }
  if (!group || group.worldSize === 1) return searchHere(partial, flags, source, fromFlags);
  watchLauncher();
  dist.initProcessGroup(group);
  try {
    return await searchHere(partial, flags, source, fromFlags);
  } finally {
    dist.destroyProcessGroup();
  }
}

/**
 * A rank started by `dnas search --nproc` stops when its launcher's IPC channel closes (the
 * launcher was killed): the others then fail in their next collective and stop too. The channel
 * does not keep the process alive by itself.
 */
function watchLauncher(): void {
  if (!process.send) return;
  process.channel?.unref();
  process.once('disconnect', () => {
    console.error(`dnas: rank ${process.env.RANK}: the launcher (dnas search --nproc) is gone; this rank stops`);
    process.exit(1);
  });
}

/** `dnas search` in this process (one of the ranks of a multi-process run, or the only one). */
async function searchHere(
  partial: Record<string, unknown>,
  flags: ReturnType<typeof parseSearchArgs>['flags'],
  source: string,
  fromFlags: string[],
): Promise<number> {
  const cfg = resolveSearchConfig(partial, flags, source, fromFlags);
  const { summary, run } = await runSearch(cfg, { json: flags.json, quiet: flags.quiet, resume: !!flags.resume });
  if (dist.getRank() !== 0) return 0;
  await writeSamples(run.dir, cfg.device, cfg.space);
  printSummary(summary, run, flags.json);
  return 0;
}

/** The settings of `dnas search`: the flags and config file, or for --resume the run's own with the few flags that may change. */
export function resolveSearchConfig(
  partial: Record<string, unknown>,
  flags: ReturnType<typeof parseSearchArgs>['flags'],
  source: string,
  fromFlags: string[],
): SearchConfig {
  if (flags.resume) {
    const run = new RunDir(path.resolve(flags.resume));
    if (!run.exists()) throw new Error(`--resume ${flags.resume}: no run there (config.json missing)`);
    // Only where and how the run executes may change on resume (and a space module is named again,
    // never loaded from the path config.json records); any other flag is refused, not ignored.
    const allowed = ['threads', 'device', 'memoryFormat', 'space'];
    const refused = fromFlags.filter((k) => !allowed.includes(k));
    if (refused.length) {
      throw new Error(
        `--resume continues a run with the settings in ${run.configFile}; only --threads, --device and --memory-format may change (got ${refused.map((k) => `--${kebab(k)}`).join(', ')}); --space names the run's space module`,
      );
    }
    const saved = savedSettings(run, {
      space: fromFlags.includes('space') ? (partial.space as string) : undefined,
      warn: (msg) => console.error(`dnas: warning: ${msg}`),
    });
    const over = Object.fromEntries(Object.entries(partial).filter(([k]) => fromFlags.includes(k) && k !== 'space' && allowed.includes(k)));
    // A run from before memory formats existed computed contiguous: it continues so.
    const layout = saved.memoryFormat === undefined ? { memoryFormat: 'contiguous' } : {};
    return resolveConfig({ ...saved, ...layout, ...over, out: flags.resume }, `${run.configFile}`);
  }
  return resolveConfig(partial, source);
}

/**
 * Predictions of the final network on a few validation images (samples/ in the run folder,
 * shown by the report). A failure here costs the pictures, not the run: it is reported and skipped.
 */
export async function writeSamples(dir: string, device: string, space?: string): Promise<void> {
  try {
    const { writeSamplePredictions } = await import('../export');
    writeSamplePredictions(dir, { count: 4, device, space });
  } catch (e) {
    console.error(`dnas: sample predictions were not written: ${(e as Error).message}`);
  }
}

export function printSummary(s: RunSummary, run: RunDir, json = false): void {
  if (json) {
    process.stdout.write(JSON.stringify({ event: 'done', run: run.dir, ...s }) + '\n');
    return;
  }
  const f = s.final as Record<string, number | undefined>;
  const name = s.metric === 'accuracy' ? 'top-1 accuracy' : 'mIoU';
  const extra = s.metric === 'miou' ? `, pixel accuracy ${pct(f.pixelAccuracy)}` : '';
  if (s.frozenAt === null && typeof f.derivedScore === 'number') {
    // A run that never froze ends with a supernet; eval, export and predict rebuild the network
    // decoded from it, so that is the headline.
    console.log(
      `\nfinal ${name} ${pct(f.derivedScore)}: the network decoded from the supernet, as eval and export rebuild it (the supernet itself: ${pct(f.score)}${extra})`,
    );
  } else {
    console.log(`\nfinal ${name} ${pct(f.score)} (best ${pct(s.bestScore)})${extra}`);
  }
  if (s.frozenAt !== null)
    console.log(
      `architecture frozen after epoch ${s.frozenAt} of ${s.epochs} (${s.phase === 'frozen' ? 'single-stage: inherited weights' : 'two-stage: retrained from scratch'})`,
    );
  if (f.gap !== undefined) console.log(`discretization gap (supernet - derived): ${pct(f.gap)}, after BatchNorm re-estimation ${pct(f.gapRecal)}`);
  if (s.freezeReason) console.log(`freeze: ${s.freezeReason}`);
  const firstGap = run.readMetrics().find((m) => m.gap !== undefined) as Record<string, number> | undefined;
  const lastGap = [...run.readMetrics()].reverse().find((m) => m.gap !== undefined) as Record<string, number> | undefined;
  if (s.frozenAt !== null && lastGap)
    console.log(`discretization gap at the freeze: ${pct(lastGap.gap)} (recalibrated ${pct(lastGap.gapRecal)}); first search epoch: ${pct(firstGap?.gap)}`);
  if (lastGap && typeof lastGap.archMaxWeight === 'number') {
    const control =
      typeof lastGap.controlScore === 'number'
        ? `; decoded network ${pct(lastGap.derivedRecalScore)} against ${pct(lastGap.controlScore)} for random genotypes with the same weights`
        : '';
    console.log(
      `architecture weights at the end of the search: largest ${lastGap.archMaxWeight.toFixed(2)} per choice (uniform ${lastGap.archUniform.toFixed(2)}), margin ${lastGap.archMargin.toFixed(2)}${control}`,
    );
  }
  if (typeof f.costNetwork === 'number') {
    const unit = (s.final as Record<string, unknown>).costUnit;
    console.log(`cost of the final network: ${f.costNetwork.toPrecision(4)} ${unit} (budget ${f.costTarget?.toPrecision(4)} ${unit})`);
  }
  console.log(`genotype: ${JSON.stringify(s.genotype)}`);
  console.log(`wall time ${s.wallSeconds.toFixed(1)} s; run directory: ${run.dir}`);
}
