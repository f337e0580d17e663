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
import type { SearchConfig } from '../search/config';
import { ENTROPY_WEIGHTS, EXPERIMENTS, runAll, runExperiment, SEEDS, skipShare, stat, topOpWeight } from '.';

const missing = missingDebianData('fashion-mnist') ?? missingDebianData('brain-mri');

test('stat: mean, sample standard deviation, min and max', () => {
  const s = stat([0.1, 0.4, 0.7]);
  assert.ok(Math.abs(s.mean - 0.4) < 1e-12);
  assert.ok(Math.abs(s.std - 0.3) < 1e-12); // sqrt(((0.3)^2 * 2) / 2)
  assert.deepEqual([s.min, s.max, s.n], [0.1, 0.7, 3]);
  assert.equal(stat([5]).std, 0);
  assert.ok(Number.isNaN(stat([]).mean));
});

test('skipShare counts skip_connect edges of the decoded normal cell', () => {
  const g = {
    cells: {
      normal: [
        ['skip_connect', 0],
        ['sep_conv_3x3', 1],
        ['skip_connect', 1],
        ['max_pool_3x3', 0],
      ],
      reduce: [['skip_connect', 0]],
    },
  };
  assert.equal(skipShare({ genotype: g }), 0.5);
  assert.ok(Number.isNaN(skipShare({})));
});

test('topOpWeight averages the largest operation weight of each edge, ignoring input choices', () => {
  const arch = [
    {
      weights: {
        'alphas.normal': [
          [0.5, 0.25, 0.25],
          [0.2, 0.7, 0.1],
        ],
        'alphas.reduce': [[1 / 3, 1 / 3, 1 / 3]],
        betas: [[1, 0]],
      },
    },
  ];
  assert.ok(Math.abs(topOpWeight(arch) - (0.5 + 0.7 + 1 / 3) / 3) < 1e-12);
  assert.ok(Number.isNaN(topOpWeight([])));
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

  // gap: the final supernet/derived numbers are the mean over seeds of each run's last metrics line.
  const gap = JSON.parse(fs.readFileSync(path.join(out, 'gap.json'), 'utf8'));
  for (const ds of ['fashion-scenes', 'brain-mri']) {
    const dirs = gap.runs.filter((r: { dataset: string }) => r.dataset === ds).map((r: { folder: string }) => path.join(runsDir, r.folder));
    assert.equal(dirs.length, SEEDS.quick.length);
    const last = dirs.map((d: string) => readJsonl(path.join(d, 'metrics.jsonl')).pop()!);
    const mean = (f: string) => last.reduce((a: number, m: Record<string, number>) => a + m[f], 0) / last.length;
    const c = gap.results[ds].curves;
    const E = gap.runs[0].config.epochs;
    assert.ok(Math.abs(c.score[E - 1].y.mean - mean('score')) < 1e-12);
    assert.ok(Math.abs(c.derivedScore[E - 1].y.mean - mean('derivedScore')) < 1e-12);
    assert.ok(Math.abs(c.gap[E - 1].y.mean - (mean('score') - mean('derivedScore'))) < 1e-9);
  }

  // entropy reused the gap runs (same settings) instead of running them again.
  const ent = JSON.parse(fs.readFileSync(path.join(out, 'entropy.json'), 'utf8'));
  assert.equal(ent.cachedRuns, 2 * SEEDS.quick.length);
  assert.equal(ent.runs.length, 2 * ENTROPY_WEIGHTS.length * SEEDS.quick.length);
  assert.equal(Object.keys(ent.results['brain-mri']).length, ENTROPY_WEIGHTS.length);

  // single-vs-two: the two-stage runs froze at the same epoch as single-stage and retrained; the
  // extra-budget variant has twice the retraining epochs.
  const svt = JSON.parse(fs.readFileSync(path.join(out, 'single-vs-two.json'), 'utf8'));
  for (const r of svt.runs) {
    assert.equal(r.frozenAt, r.config.freezeEpoch);
    assert.equal(r.metrics[r.metrics.length - 1].phase, r.variant.startsWith('single') ? 'frozen' : 'retrain');
  }
  const two = svt.runs.find((r: { variant: string }) => r.variant.startsWith('two-stage (2x'));
  assert.equal(two.config.epochs - two.config.freezeEpoch, 2 * (svt.runs[0].config.epochs - svt.runs[0].config.freezeEpoch));

  // split: the skip share per epoch is recomputed from each run's arch.jsonl.
  const split = JSON.parse(fs.readFileSync(path.join(out, 'split.json'), 'utf8'));
  for (const [variant, res] of Object.entries(split.results as Record<string, { skipPerEpoch: { x: number; y: { mean: number } }[] }>)) {
    const dirs = split.runs.filter((r: { variant: string }) => r.variant === variant).map((r: { folder: string }) => path.join(runsDir, r.folder));
    for (const p of res.skipPerEpoch) {
      const shares = dirs.map((d: string) => {
        const normal = (readJsonl(path.join(d, 'arch.jsonl')).find((a) => a.epoch === p.x)!.genotype as { cells: { normal: [string, number][] } }).cells.normal;
        return normal.filter(([op]) => op === 'skip_connect').length / normal.length;
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
