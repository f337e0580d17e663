/**
 * A whole run from a resolved config, as a library call: the run folder checked (a new run, a
 * restart of one that stopped before its first checkpoint, or a resume), the data opened before
 * anything is written, config.json with the run's id, the supernet, the trainer, the schedule to
 * its end. No output and no process-wide handlers: progress goes to `reporter`, and a caller that
 * wants Ctrl-C to stop cleanly calls `trainer.requestStop()` (the `dnas` command does).
 *
 * @example
 * const { summary, run } = await runSearch(resolveConfig({ dataset: 'brain-mri', out: 'runs/a' }));
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as torch from '../torch';
import { buildCostModel, buildSearchable } from './adapter';
import { isModuleSpace, placement, SearchConfig } from './config';
import { buildTaskData, checkSplits, makeSplit } from './data';
import { dataParallel } from './parallel';
import { RunDir } from './rundir';
import { Reporter, RunSummary, Trainer } from './trainer';
import { Genotype } from './types';
import { fileSha256 } from './user-space';

const DNAS_VERSION = (JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version: string }).version;

export interface RunSearchOptions {
  /** Continue the run in cfg.out from its last checkpoint. */
  resume?: boolean;
  /** Train a fresh network of this genotype instead of searching (`dnas train`). */
  genotype?: Genotype;
  /** Receives every event (steps, epochs, the freeze); nothing is printed without one. */
  reporter?: Reporter;
  /** Called with the trainer once it is ready, before the first step (to ask it to stop, say). */
  onTrainer?: (trainer: Trainer) => void;
}

export interface SearchOutcome {
  summary: RunSummary;
  run: RunDir;
  cfg: SearchConfig;
}

/** Refuses the settings a run on `world` processes cannot take (the launcher checks them before starting any). */
export function checkProcesses(cfg: SearchConfig, world: number): void {
  if (world === 1) return;
  if (cfg.skipBad)
    throw new Error(
      `--skip-bad is not available with ${world} processes yet (every rank must read its whole slice of each batch); repair the data or run one process`,
    );
  if (cfg.device !== 'cpu') throw new Error(`a run on ${world} processes runs on the CPU (gloo); --device ${cfg.device} is for one process`);
}

/**
 * Runs (or resumes) the search `cfg` describes into cfg.out; resolves when it ends or stops.
 * In a process that has joined a process group (torch.distributed.initProcessGroup) every rank
 * calls this with the same settings: the ranks train data-parallel (parallel.ts) and rank 0 alone
 * writes the run folder.
 */
export async function runSearch(cfg: SearchConfig, o: RunSearchOptions = {}): Promise<SearchOutcome> {
  torch.checkDevice(cfg.device); // before anything is made
  torch.setNumThreads(cfg.threads);
  torch.manualSeed(cfg.seed);
  const par = dataParallel();
  checkProcesses(cfg, par.world);
  const run = new RunDir(path.resolve(cfg.out), { writable: par.rank === 0 });
  if (!o.resume && run.exists()) {
    if (run.started()) throw new Error(`${run.dir} already holds a run; choose another --out, delete it, or continue it with --resume ${cfg.out}`);
    run.resetUnstarted(); // it stopped before its first checkpoint: nothing to resume, the folder is reused
  }
  if (o.resume && !run.started()) {
    throw new Error(
      `${run.dir} has no checkpoint: the run stopped before its first epoch ended. Start it again with the same settings, without --resume (the folder is reused)`,
    );
  }
  // The data first: a data set that cannot be opened leaves no half-made run folder behind.
  const data = await buildTaskData(cfg, par.world > 1 ? { rank: par.rank, world: par.world } : undefined);
  try {
    checkSplits(cfg, makeSplit(cfg, data), data.trainSize, !o.genotype && !o.resume);
    // The supernet before the run folder too: a space that cannot be built leaves nothing behind.
    const net = buildSearchable(cfg, data);
    net.to(placement(cfg)); // the supernet and its architecture; the optimizers follow their parameters
    // A given genotype's network too: one that does not fit the space leaves nothing behind.
    const fresh = o.genotype && !o.resume ? net.build(o.genotype) : null;
    // Several ranks: all have checked the folder before rank 0 changes it, and read config.json after.
    if (par.world > 1) torch.distributed.barrier();
    run.create();
    if (!o.resume) {
      const v = torch.versions();
      // A space module is recorded by absolute path and content; later commands load it only when named again.
      const module = isModuleSpace(cfg.space) ? { space: path.resolve(cfg.space), spaceSha256: fileSha256(path.resolve(cfg.space)) } : {};
      // runId ties the checkpoints to this run: a last.pt copied in from another run is refused.
      run.writeJson(run.configFile, {
        ...cfg,
        ...module,
        // What the network takes and gives, for commands that rebuild it without the data set.
        network: { task: data.kind, inChannels: data.inChannels, numClasses: data.numClasses },
        runId: randomUUID(),
        versions: { dnas: DNAS_VERSION, libtorch: v.libtorch, node: process.version },
        ...(par.world > 1 ? { processes: par.world } : {}),
      });
    }
    if (par.world > 1) torch.distributed.barrier();
    // Several ranks and a latency cost: rank 0 times the operations alone (a quiet machine), the
    // others then read its table from the cache.
    const timesAlone = par.world > 1 && cfg.cost === 'latency';
    let cost = timesAlone && par.rank !== 0 ? null : buildCostModel(cfg, net, data);
    if (timesAlone) {
      torch.distributed.barrier();
      if (par.rank !== 0) cost = buildCostModel(cfg, net, data);
    }
    const trainer = new Trainer(cfg, data, net, makeSplit(cfg, data), run, o.reporter ?? (() => undefined), par, cost);
    if (o.resume) trainer.resume(run.lastCheckpoint);
    else if (o.genotype) trainer.startFromGenotype(o.genotype, fresh ?? undefined);
    trainer.syncState();
    o.onTrainer?.(trainer);
    const summary = await trainer.train();
    return { summary, run, cfg };
  } finally {
    await data.close();
  }
}
