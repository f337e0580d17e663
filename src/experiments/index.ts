/**
 * dnas/experiments: the paper's claims re-run at CPU scale, one command each
 * (`dnas experiment gap|entropy|single-vs-two|split [--quick]`, docs/experiments.md).
 *
 * An experiment = a list of search runs (src/experiments/definitions.ts) executed by the runner
 * (runner.ts: one process per run, cached by settings, resumable), then summarised into
 *
 *   <out>/<name>.json        every number: settings, per-run logs, means and spreads, machine, time
 *   <out>/<name>.md          the tables, in Markdown
 *   <out>/<name>-*.svg       the plots
 *
 * At the `fashion-scenes` size the files are <name>-fashion-scenes.json, .md and -*.svg, beside
 * the brain-mri ones.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { makeDirs, writeFileAtomic } from '../search/rundir';
import { versions } from '../torch';
import { EXPERIMENTS, Size, Summary, Table } from './definitions';
import { runAll, RunResult } from './runner';

export { convergenceOf, coreSeconds, EXPERIMENTS, ENTROPY_VARIANTS, PARAMETER_FREE, parameterFreeShare, SEEDS, skipShare } from './definitions';
export type { Convergence } from './definitions';
export type { Experiment, Plot, Size, Summary, Table } from './definitions';
export { runAll } from './runner';
export type { RunResult, RunSpec, RunnerOptions } from './runner';
export { stat } from './stats';
export type { Stat } from './stats';

export interface ExperimentOptions {
  size: Size;
  /** Folder of the outputs (JSON, Markdown, SVG). */
  out: string;
  /** Folder of the run folders (shared by experiments of the same size). */
  runsDir: string;
  jobs: number;
  log?: (line: string) => void;
  /** The command line, recorded in the outputs. */
  command?: string;
}

export interface ExperimentOutput {
  json: string;
  markdown: string;
  plots: string[];
  summary: Summary;
  wallSeconds: number;
}

/** Markdown of one table. */
export function markdownTable(t: Table): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [
    `**${t.title}**`,
    '',
    `| ${t.header.map(esc).join(' | ')} |`,
    `|${t.header.map(() => '---').join('|')}|`,
    ...t.rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

function machine(): Record<string, unknown> {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.type()} ${os.release()}`,
    node: process.version,
    libtorch: versions().libtorch,
  };
}

/** Per-run record for the JSON: settings that vary, final numbers, logs. */
function runRecord(r: RunResult): Record<string, unknown> {
  return {
    variant: r.spec.variant,
    dataset: r.cfg.dataset,
    seed: r.cfg.seed,
    folder: path.basename(r.dir),
    cached: r.cached,
    config: r.cfg,
    wallSeconds: r.summary.wallSeconds,
    frozenAt: r.summary.frozenAt,
    finalScore: r.summary.final.score,
    bestScore: r.summary.bestScore,
    genotype: r.summary.genotype,
    metrics: r.metrics.map(({ perClassIoU: _p, ...m }) => m),
    arch: r.arch.map((a) => ({ epoch: a.epoch, phase: a.phase, entropy: a.entropy, temperature: a.temperature, genotype: a.genotype })),
    ...(r.source ? { genotypeFrom: path.basename(r.source.dir) } : {}),
  };
}

/** The stem of an experiment's output files at a size: `gap`, or `gap-fashion-scenes`. */
export function outputStem(name: string, size: Size): string {
  return size === 'fashion-scenes' ? `${name}-fashion-scenes` : name;
}

/** Runs experiment `name` and writes its outputs. */
export async function runExperiment(name: string, o: ExperimentOptions): Promise<ExperimentOutput> {
  const exp = EXPERIMENTS[name];
  if (!exp) throw new Error(`unknown experiment '${name}' (known: ${Object.keys(EXPERIMENTS).join(', ')})`);
  const log = o.log ?? (() => {});
  const t0 = Date.now();
  const started = new Date().toISOString();
  const specs = exp.runs(o.size);
  log(`experiment ${name} (${o.size} size): ${specs.length} runs, ${o.jobs} at once; runs in ${o.runsDir}`);
  const results = await runAll(specs, { runsDir: o.runsDir, jobs: o.jobs, log });
  const summary = exp.summarize(results, o.size);
  const wallSeconds = (Date.now() - t0) / 1000;
  makeDirs(o.out);
  const stem = outputStem(name, o.size);
  // Plot names start with the experiment's name; at another size they take the size's stem.
  const plotFile = (p: { name: string }) => `${p.name.startsWith(name) ? stem + p.name.slice(name.length) : `${stem}-${p.name}`}.svg`;
  const plots = summary.plots.map((p) => {
    const file = path.join(o.out, plotFile(p));
    writeFileAtomic(file, p.svg);
    return file;
  });
  const host = machine();
  // Every run the experiment needed: its runs, and the searches whose genotypes its retraining runs trained.
  const everyRun = [...new Map([...results, ...results.flatMap((r) => (r.source ? [r.source] : []))].map((r) => [r.dir, r])).values()];
  const runSeconds = results.filter((r) => !r.cached).reduce((a, r) => a + r.summary.wallSeconds, 0);
  // What the runs cost, whether they ran now or earlier: the sum of their own wall times (one core each).
  const allRunSeconds = everyRun.reduce((a, r) => a + r.summary.wallSeconds, 0);
  const json = path.join(o.out, `${stem}.json`);
  writeFileAtomic(
    json,
    JSON.stringify(
      {
        experiment: name,
        size: o.size,
        claim: exp.claim,
        design: exp.design(o.size),
        command: o.command ?? null,
        machine: host,
        jobs: o.jobs,
        started,
        wallSeconds,
        runSecondsThisTime: runSeconds,
        runSecondsAll: allRunSeconds,
        cachedRuns: results.filter((r) => r.cached).length,
        tables: summary.tables,
        results: summary.data,
        plots: summary.plots.map((p) => ({ file: plotFile(p), title: p.title })),
        runs: results.map(runRecord),
        // Searches whose genotypes retraining runs trained, when they are not runs of the list themselves.
        searchRuns: [
          ...new Map(results.flatMap((r) => (r.source && !results.some((x) => x.dir === r.source!.dir) ? [[r.source.dir, r.source]] : []))).values(),
        ].map((r) => runRecord(r as RunResult)),
      },
      null,
      1,
    ) + '\n',
  );
  const md = path.join(o.out, `${stem}.md`);
  const lines = [
    `# Experiment \`${name}\` (${o.size} size)`,
    '',
    `Claim tested: ${exp.claim}.`,
    '',
    `Design: ${exp.design(o.size)}`,
    '',
    ...(o.command ? [`Command: \`${o.command}\``, ''] : []),
    `Machine: ${host.cpu} x${host.cores}; ${o.jobs} run(s) at once, one thread each. Wall time of this invocation ${(wallSeconds / 60).toFixed(1)} min` +
      (results.some((r) => r.cached) ? ` (${results.filter((r) => r.cached).length} of ${results.length} runs were already on disk)` : '') +
      `; the ${everyRun.length} runs took ${(allRunSeconds / 60).toFixed(1)} core-minutes in all (each run's own training time).`,
    '',
    ...summary.tables.flatMap((t) => [markdownTable(t), '']),
    ...summary.plots.flatMap((p) => [`![${p.title}](${plotFile(p)})`, '']),
  ];
  writeFileAtomic(md, lines.join('\n'));
  log(`wrote ${json}, ${md} and ${plots.length} plot(s) in ${(wallSeconds / 60).toFixed(1)} min`);
  return { json, markdown: md, plots, summary, wallSeconds };
}
