/**
 * `dnas experiment ... --quick`: the four experiments run end to end at tiny size (about a minute
 * in all), and their outputs are complete, parse back, and agree with the run folders they
 * summarise (numbers recomputed here from metrics.jsonl / arch.jsonl, not taken from the summary).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../test/helpers';
import { missingDebianData } from '../data/debian';
import { readJsonl } from '../search/rundir';
import { resolveConfig } from '../search/config';
import type { SearchConfig } from '../search/config';
import { runKey } from './runner';
import { convergenceOf, coreSeconds, ENTROPY_VARIANTS, EXPERIMENTS, outputStem, parameterFreeShare, runAll, runExperiment, SEEDS, skipShare, stat } from '.';
import type { RunResult } from '.';

const missing = missingDebianData('brain-mri');

test('stat: mean, sample standard deviation, min and max', () => {
  const s = stat([0.1, 0.4, 0.7]);
  assert.ok(Math.abs(s.mean - 0.4) < 1e-12);
  assert.ok(Math.abs(s.std - 0.3) < 1e-12); // sqrt(((0.3)^2 * 2) / 2)
  assert.deepEqual([s.min, s.max, s.n], [0.1, 0.7, 3]);
  assert.equal(stat([5]).std, 0);
  assert.ok(Number.isNaN(stat([]).mean));
});

test('skipShare and parameterFreeShare count the edges of every cell of a genotype', () => {
  const g = {
    cells: {
      normal: [
        ['skip_connect', 0],
        ['sep_conv_3x3', 1],
        ['skip_connect', 1],
        ['max_pool_3x3', 0],
      ],
      reduce: [
        ['avg_pool_3x3', 0],
        ['dil_conv_3x3', 1],
      ],
    },
  };
  assert.equal(skipShare({ genotype: g }), 2 / 6);
  assert.equal(parameterFreeShare({ genotype: g }), 4 / 6);
  assert.ok(Number.isNaN(skipShare({})));
  assert.ok(Number.isNaN(parameterFreeShare({ genotype: { cells: {} } })));
});

test('convergenceOf: the last search epoch, its weights, since when the decoded network is unchanged, and the rule', () => {
  const g = (op: string) => ({ cells: { cell: [[op, 0]] } });
  const run = (ops: string[], margin: number) =>
    ({
      arch: [{ epoch: 1, phase: 'warmup', genotype: g('a') }, ...ops.map((op, i) => ({ epoch: i + 2, phase: 'search', genotype: g(op) }))],
      metrics: ops.map((_, i) => ({ epoch: i + 2, archMaxWeight: 0.5 + i / 10, archUniform: 0.125, archMargin: margin })),
    }) as unknown as RunResult;
  assert.deepEqual(convergenceOf(run(['a', 'b', 'c', 'c', 'c'], 0.3)), {
    lastSearch: 6,
    maxWeight: 0.9,
    uniform: 0.125,
    margin: 0.3,
    stableSince: 4,
    converged: true,
  });
  assert.equal(convergenceOf(run(['a', 'b', 'c', 'c'], 0.3))!.converged, false); // unchanged for one epoch only
  assert.equal(convergenceOf(run(['c', 'c', 'c'], 0.05))!.converged, false); // margin too small
  assert.equal(convergenceOf(run([], 0.3)), null);
});

test('coreSeconds sums the measured CPU time of the epochs asked for', () => {
  const r = { metrics: [1, 2, 3].map((e) => ({ epoch: e, cpuSeconds: e * 10, trainCpuSeconds: e })) } as unknown as RunResult;
  assert.equal(coreSeconds(r), 60);
  assert.equal(coreSeconds(r, { until: 2 }), 30);
  assert.equal(coreSeconds(r, { until: 2, trainOnly: true }), 3);
});

test('the fashion-scenes size runs the same experiments on fashion-scenes at 48x48, with outputs of their own', () => {
  for (const [name, exp] of Object.entries(EXPERIMENTS)) {
    const brain = exp.runs('default');
    const fashion = exp.runs('fashion-scenes');
    assert.equal(fashion.length, brain.length, name);
    fashion.forEach((f, i) => {
      assert.equal(f.config.dataset, 'fashion-scenes', name);
      assert.deepEqual(f.config.size, [48, 48], name);
      assert.equal(f.config.trainSubset, 1024, name);
      // Everything that is not the task is the brain-mri experiment's, but for the length of the
      // searches that never freeze (40 epochs here, 16 there).
      const strip = (c: Partial<SearchConfig>) => {
        const { dataset: _d, size: _s, trainSubset: _t, valSubset: _v, batchSize: _b, ...rest } = c;
        return name === 'gap' || name === 'entropy' ? { ...rest, epochs: 0, temperature: null } : rest;
      };
      if (name === 'gap' || name === 'entropy') assert.equal(f.config.epochs, 40);
      assert.deepEqual(strip(f.config), strip(brain[i]!.config), `${name}: ${f.variant}`);
      assert.equal(f.variant, brain[i]!.variant);
    });
  }
  assert.equal(outputStem('gap', 'default'), 'gap');
  assert.equal(outputStem('gap', 'fashion-scenes'), 'gap-fashion-scenes');
});

test('run folders are keyed by the settings that decide the result: not by layout, threads or device, nor by settings at their default', () => {
  const base = resolveConfig({ dataset: 'brain-mri', epochs: 12, seed: 1 });
  const key = runKey(base, null);
  assert.match(key, /^brain-mri-darts-single-stage-s1-[0-9a-f]{10}$/);
  for (const over of [{ memoryFormat: 'contiguous' }, { threads: 2 }, { device: 'cuda' }, { out: 'elsewhere' }]) {
    assert.equal(runKey(resolveConfig({ ...base, ...over }), null), key, JSON.stringify(over));
  }
  // A config written before a setting existed (the setting absent, so at its default) keeps its key.
  const { precision: _p, edgeNorm: _e, ...older } = base;
  assert.equal(runKey(resolveConfig(older), null), key);
  assert.notEqual(runKey(resolveConfig({ ...base, epochs: 13 }), null), key);
  assert.notEqual(runKey(resolveConfig({ ...base, precision: 'bf16' }), null), key);
  assert.notEqual(runKey(base, 'a-search-key'), key);
});

test('a bad run setting is reported before anything runs, naming the field', async () => {
  const runs = tempDir('dnas-exp-bad-');
  await assert.rejects(runAll([{ variant: 'broken', config: { epochs: 0 } }], { runsDir: runs, jobs: 1, log: () => {} }), /run 'broken'[\s\S]*'epochs' is 0/);
  assert.deepEqual(fs.readdirSync(runs), []);
});

test('every experiment at --quick size writes JSON, Markdown and SVG that match its runs', { skip: missing ?? false, timeout: 600_000 }, async () => {
  const out = tempDir('dnas-exp-out-');
  const runsDir = path.join(out, 'runs');
  const lines: string[] = [];
  for (const name of Object.keys(EXPERIMENTS)) {
    const r = await runExperiment(name, { size: 'quick', out, runsDir, jobs: 2, log: (l) => lines.push(l) });
    const j = JSON.parse(fs.readFileSync(r.json, 'utf8'));
    const specs = EXPERIMENTS[name].runs('quick');
    assert.equal(j.experiment, name);
    assert.equal(j.runs.length, specs.length);
    assert.ok(j.machine.cores >= 1 && typeof j.machine.cpu === 'string');
    for (const run of j.runs) {
      // Every run finished its schedule and logged every epoch.
      assert.equal(run.metrics.length, run.config.epochs, `${name}/${run.folder}`);
      assert.deepEqual(
        run.metrics.map((m: { epoch: number }) => m.epoch),
        Array.from({ length: run.config.epochs }, (_, i) => i + 1),
      );
      assert.ok(fs.existsSync(path.join(runsDir, run.folder, 'summary.json')));
    }
    for (const p of j.plots) {
      const svg = fs.readFileSync(path.join(out, p.file), 'utf8');
      assert.match(svg, /^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
      assert.ok(svg.trimEnd().endsWith('</svg>'));
      assert.ok(svg.includes('<path'), `${p.file} draws nothing`);
    }
    const md = fs.readFileSync(r.markdown, 'utf8');
    for (const t of j.tables) {
      assert.ok(md.includes(`| ${t.header[0]} |`));
      for (const row of t.rows) assert.equal(row.length, t.header.length);
    }
  }

  // gap: the numbers at the end of the search are the mean over seeds of each run's last metrics line.
  const gap = JSON.parse(fs.readFileSync(path.join(out, 'gap.json'), 'utf8'));
  const dirs = gap.runs.map((r: { folder: string }) => path.join(runsDir, r.folder));
  assert.equal(dirs.length, SEEDS.quick.length);
  const last = dirs.map((d: string) => readJsonl(path.join(d, 'metrics.jsonl')).pop()!);
  const mean = (f: string) => last.reduce((a: number, m: Record<string, number>) => a + m[f], 0) / last.length;
  const c = gap.results.curves;
  const E = gap.runs[0].config.epochs;
  assert.ok(Math.abs(c.score[E - 1].y.mean - mean('score')) < 1e-12);
  assert.ok(Math.abs(c.derivedScore[E - 1].y.mean - mean('derivedScore')) < 1e-12);
  assert.ok(Math.abs(c.controlScore[E - 1].y.mean - mean('controlScore')) < 1e-12);
  assert.ok(Math.abs(c.gap[E - 1].y.mean - (mean('score') - mean('derivedScore'))) < 1e-9);
  for (const d of dirs) assert.ok(fs.existsSync(path.join(d, 'genotype.json')), 'a run that never froze still writes genotype.json');

  // entropy reused the gap runs (same settings) instead of running them again.
  const ent = JSON.parse(fs.readFileSync(path.join(out, 'entropy.json'), 'utf8'));
  assert.equal(ent.cachedRuns, SEEDS.quick.length);
  assert.equal(ent.runs.length, ENTROPY_VARIANTS.length * SEEDS.quick.length);
  assert.equal(Object.keys(ent.results).length, ENTROPY_VARIANTS.length);

  // single-vs-two: the fixed-freeze runs froze at F; each two-stage run trained exactly the genotype
  // its fixed-freeze run decoded, from scratch, for k (E - F) epochs; compute adds the search part.
  const svt = JSON.parse(fs.readFileSync(path.join(out, 'single-vs-two.json'), 'utf8'));
  const fixed = svt.runs.filter((r: { variant: string }) => r.variant === 'single-stage, freeze after epoch F');
  for (const r of fixed) assert.equal(r.frozenAt, r.config.freezeEpoch);
  for (const r of svt.runs.filter((x: { variant: string }) => x.variant.startsWith('two-stage'))) {
    const src = fixed.find((f: { folder: string }) => f.folder === r.genotypeFrom);
    assert.ok(src, `${r.folder} names its search run`);
    assert.deepEqual(r.genotype, src.genotype);
    const k = Number(/retrain (\d)x/.exec(r.variant)![1]);
    assert.equal(r.config.epochs, k * (src.config.epochs - src.config.freezeEpoch));
    assert.equal(r.metrics[0].phase, 'retrain');
  }
  for (const r of svt.runs) for (const m of r.metrics) assert.ok(m.cpuSeconds > 0 && m.trainCpuSeconds > 0 && m.trainCpuSeconds <= m.cpuSeconds);

  // split: the parameter-free share per epoch is recomputed from each search's arch.jsonl.
  const split = JSON.parse(fs.readFileSync(path.join(out, 'split.json'), 'utf8'));
  assert.equal(split.searchRuns.length, split.runs.length);
  for (const [variant, res] of Object.entries(split.results as Record<string, { share: { x: number; y: { mean: number } }[] }>)) {
    const sources = split.runs
      .filter((r: { variant: string }) => r.variant === variant)
      .map((r: { genotypeFrom: string }) => path.join(runsDir, r.genotypeFrom));
    for (const p of res.share) {
      const shares = sources.map((d: string) => {
        const cell = (readJsonl(path.join(d, 'arch.jsonl')).find((a) => a.epoch === p.x)!.genotype as { cells: { cell: [string, number][] } }).cells.cell;
        return cell.filter(([op]) => ['none', 'skip_connect', 'max_pool_3x3', 'avg_pool_3x3'].includes(op)).length / cell.length;
      });
      assert.ok(Math.abs(p.y.mean - shares.reduce((a: number, b: number) => a + b, 0) / shares.length) < 1e-12, `${variant} epoch ${p.x}`);
    }
  }

  // Running an experiment again re-uses every run and reproduces its tables exactly.
  const again = await runExperiment('gap', { size: 'quick', out, runsDir, jobs: 2 });
  const j2 = JSON.parse(fs.readFileSync(again.json, 'utf8'));
  assert.equal(j2.cachedRuns, j2.runs.length);
  assert.deepEqual(j2.tables, gap.tables);
});

test(
  'the runner never deletes a folder: one of other files where a run belongs is refused and left as it is',
  { skip: missing ?? false, timeout: 120_000 },
  async () => {
    const { TINY_BRAIN } = require('../../test/tiny-task') as typeof import('../../test/tiny-task');
    const runs = tempDir('dnas-exp-keep-');
    const spec = { variant: 'tiny', config: { ...TINY_BRAIN, epochs: 3 } as Partial<SearchConfig> };
    const [first] = await runAll([spec], { runsDir: runs, jobs: 1, log: () => {} });
    assert.equal(first.summary.epochs, 3);
    // someone else's files where the run was
    fs.rmSync(first.dir, { recursive: true });
    fs.mkdirSync(first.dir);
    fs.writeFileSync(`${first.dir}/notes.txt`, 'mine');
    await assert.rejects(runAll([spec], { runsDir: runs, jobs: 1, log: () => {} }), /is not a dnas run folder \(it holds notes\.txt\)/);
    assert.equal(fs.readFileSync(`${first.dir}/notes.txt`, 'utf8'), 'mine');
  },
);
