/**
 * Runs the search runs of an experiment, each as its own `dnas search` process (so that `jobs`
 * runs use `jobs` cores at once, one libtorch thread each), and reads back their run directories.
 *
 * A run's folder is named by its settings: `<dataset>-<algorithm>-<protocol>-s<seed>-<hash of the resolved
 * config>`. A finished run (summary.json present) is not run again, an interrupted one is resumed
 * from its last checkpoint; so re-running an experiment continues where it stopped, and two
 * experiments that need the same run (gap and entropy share the entropy-weight-0 runs) run it once.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FIELDS, resolveConfig, SearchConfig } from '../search/config';
import { RunDir } from '../search/rundir';
import { makeDirs, openAppendNoFollow, writeFileAtomic } from '../torch/io';
import { RunSummary } from '../search/trainer';

/** One run an experiment needs: its settings and how the experiment groups it. */
export interface RunSpec {
  /** Variant label within the experiment, e.g. "entropy 1e-2" or "two-stage (equal epochs)". */
  variant: string;
  /** The settings (fields of SearchConfig; `out` is chosen by the runner). */
  config: Partial<SearchConfig>;
  /**
   * Settings of another run whose final genotype this one trains from scratch (`dnas train`):
   * an independent retrain of exactly that architecture. The other run is run first (once, however
   * many runs need it); `config` then holds the training settings.
   */
  genotypeFrom?: Partial<SearchConfig>;
}

/** A finished run: its spec, settings, folder and logs. */
export interface RunResult {
  spec: RunSpec;
  cfg: SearchConfig;
  dir: string;
  summary: RunSummary;
  metrics: Record<string, unknown>[];
  arch: Record<string, unknown>[];
  /** Whether the run was found finished on disk instead of being run now. */
  cached: boolean;
  /** For a retrain (RunSpec.genotypeFrom): the run its genotype came from. */
  source?: RunResult;
}

export interface RunnerOptions {
  /** Folder that holds the run folders. */
  runsDir: string;
  /** Runs at once (each one process, one thread). */
  jobs: number;
  /** Progress lines. */
  log: (line: string) => void;
}

/**
 * The settings that decide a run's result, and for a retrain the run its genotype comes from.
 * `out`, `threads`, `device` and `memoryFormat` are left out (they change where and in what order
 * the sums run, not what is computed), and so is every setting at its default: a setting added to
 * dnas later, at its default, leaves the folder names of earlier runs as they were.
 */
export function runKey(cfg: SearchConfig, source: string | null): string {
  const { out: _o, threads: _t, device: _d, memoryFormat: _m, ...rest } = cfg;
  const decisive = Object.entries(rest).filter(([k, v]) => JSON.stringify(v) !== JSON.stringify(FIELDS[k as keyof SearchConfig].default));
  const sorted = Object.fromEntries(decisive.sort(([a], [b]) => a.localeCompare(b)));
  const hash = createHash('sha256')
    .update(JSON.stringify(sorted) + (source ?? ''))
    .digest('hex')
    .slice(0, 10);
  return source ? `${cfg.dataset}-train-s${cfg.seed}-${hash}` : `${cfg.dataset}-${cfg.algorithm}-${cfg.protocol}-s${cfg.seed}-${hash}`;
}

const DNAS_BIN = path.resolve(__dirname, '..', '..', '..', 'bin', 'dnas.js');

function runProcess(args: string[], logFile: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const fd = openAppendNoFollow(logFile);
    const child = spawn(process.execPath, [DNAS_BIN, ...args], { stdio: ['ignore', fd, fd] });
    child.on('error', (e) => {
      fs.closeSync(fd);
      reject(e);
    });
    child.on('exit', (code, signal) => {
      fs.closeSync(fd);
      resolve(code ?? (signal ? 128 : 1));
    });
  });
}

function tail(file: string, lines = 12): string {
  if (!fs.existsSync(file)) return '(no log)';
  return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

function readResult(spec: RunSpec, cfg: SearchConfig, dir: string, cached: boolean): RunResult {
  const run = new RunDir(dir);
  return { spec, cfg, dir, summary: run.readJson<RunSummary>(run.summaryFile), metrics: run.readMetrics(), arch: run.readArch(), cached };
}

/**
 * Runs every spec (at most `jobs` at once) and returns the results in spec order. Every config is
 * validated before anything starts. A failed run does not stop the others; at the end one error
 * names each failed run, its log and the log's last lines (finished runs stay on disk, so running
 * the experiment again only redoes the failed ones).
 */
export async function runAll(specs: RunSpec[], o: RunnerOptions): Promise<RunResult[]> {
  type Planned = { spec: RunSpec; cfg: SearchConfig; key: string; dir: string; source: Planned | null };
  const plan = (spec: RunSpec): Planned => {
    const source = spec.genotypeFrom ? plan({ variant: `${spec.variant} (its search)`, config: spec.genotypeFrom }) : null;
    const cfg = resolveConfig({ ...spec.config, out: 'unused' }, `experiment run '${spec.variant}'`);
    const key = runKey(cfg, source?.key ?? null);
    const dir = path.join(o.runsDir, key);
    return { spec, cfg: { ...cfg, out: dir }, key, dir, source };
  };
  const planned = specs.map(plan);
  makeDirs(o.runsDir);
  const results: (RunResult | null)[] = new Array(planned.length).fill(null);
  const failures: string[] = [];
  const inFlight = new Map<string, Promise<void>>(); // identical specs share one run
  let next = 0,
    done = 0;
  const label = (p: Planned) => `${p.spec.variant}, ${p.cfg.dataset}, seed ${p.cfg.seed}`;

  /** Runs `p` once, however many specs (or retrains) need it. */
  function once(p: Planned): Promise<void> {
    let job = inFlight.get(p.key);
    if (!job) {
      job = execute(p);
      inFlight.set(p.key, job);
    }
    return job;
  }

  async function execute(p: Planned): Promise<void> {
    const run = new RunDir(p.dir);
    const summaryFile = run.summaryFile;
    if (p.source) await once(p.source);
    if (fs.existsSync(summaryFile)) return;
    const logFile = `${p.dir}.log`;
    const resumable = run.exists() && fs.existsSync(run.lastCheckpoint);
    let args: string[];
    if (resumable) {
      args = ['search', '--resume', p.dir, '--quiet'];
    } else {
      // A run that stopped before its first checkpoint is restarted in its folder by the search
      // itself; nothing is deleted here (a folder holding anything else is refused, by name).
      const cfgFile = `${p.dir}.config.json`;
      writeFileAtomic(cfgFile, JSON.stringify(p.cfg, null, 2) + '\n');
      args = p.source
        ? ['train', '--genotype', new RunDir(p.source.dir).genotypeFile, '--config', cfgFile, '--quiet']
        : ['search', '--config', cfgFile, '--quiet'];
    }
    writeFileAtomic(logFile, `$ dnas ${args.join(' ')}\n`);
    const code = await runProcess(args, logFile);
    if (code !== 0 || !fs.existsSync(summaryFile)) {
      throw new Error(`run failed (exit ${code}): ${label(p)}; log ${logFile}:\n${tail(logFile)}`);
    }
  }

  async function worker(): Promise<void> {
    while (next < planned.length) {
      const i = next++;
      const p = planned[i];
      const cached = fs.existsSync(new RunDir(p.dir).summaryFile);
      const t0 = Date.now();
      try {
        await once(p);
        results[i] = readResult(p.spec, p.cfg, p.dir, cached);
        if (p.source)
          results[i]!.source = readResult({ variant: `${p.spec.variant} (its search)`, config: p.spec.genotypeFrom! }, p.source.cfg, p.source.dir, true);
        const s = results[i]!.summary;
        const score = typeof s.final.score === 'number' ? `${(100 * (s.final.score as number)).toFixed(2)}%` : '-';
        o.log(
          `[${++done}/${planned.length}] ${label(p)}: ${cached ? 'done earlier' : `${((Date.now() - t0) / 1000).toFixed(0)} s`}, final ${s.metric} ${score}`,
        );
      } catch (e) {
        done++;
        failures.push((e as Error).message);
        o.log(`[${done}/${planned.length}] ${label(p)}: FAILED (see the end)`);
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.jobs, planned.length)) }, worker));
  if (failures.length) {
    throw new Error(
      `${failures.length} of ${planned.length} runs failed; the finished ones are kept in ${o.runsDir}, run the experiment again to redo only the failed ones.\n\n${failures.join('\n\n')}`,
    );
  }
  return results as RunResult[];
}
