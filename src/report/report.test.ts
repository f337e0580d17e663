/**
 * The run report: data extraction and drawings (always), and the page itself opened in headless
 * Chromium (skipped, with the reason, when Chromium or the npm package playwright-core is missing).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../test/helpers';
import { tinyConfig, tinyTrainer } from '../../test/tiny-task';
import { DARTS_PRIMITIVES } from '../space';
import * as torch from '../torch';
import { archSeries, cellEdges, cellSvg, keptChoices, latticeSvg, readRun, writeReport, ReportResult } from '.';

torch.setNumThreads(1);

const CHROMIUM = process.env.DNAS_CHROMIUM ?? '/usr/bin/chromium';

/** playwright-core's chromium launcher, or why the browser test cannot run. */
function browser(): { chromium: any } | string { // eslint-disable-line @typescript-eslint/no-explicit-any
  if (!fs.existsSync(CHROMIUM)) return `Chromium is not installed at ${CHROMIUM} (Debian: apt-get install chromium; or set DNAS_CHROMIUM)`;
  try {
    return require('playwright-core') as { chromium: any }; // eslint-disable-line @typescript-eslint/no-explicit-any
  } catch {
    return 'the npm package playwright-core is not installed (npm install --save-dev playwright-core)';
  }
}

// ---- a synthetic DARTS run: every file a real run writes, except checkpoints ------------------

const normal: [string, number][] = [['sep_conv_3x3', 0], ['dil_conv_3x3', 1], ['skip_connect', 0], ['max_pool_3x3', 2]];
const reduce: [string, number][] = [['max_pool_3x3', 0], ['avg_pool_3x3', 1], ['sep_conv_5x5', 2], ['skip_connect', 1]];

function dartsRun(dir: string): void {
  const ops = [...DARTS_PRIMITIVES];
  const genotype = { version: 1, space: 'darts', settings: { C: 4, layers: 3, nodes: 2, ops }, cells: { normal, reduce } };
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({
    dataset: 'fashion-mnist', space: 'darts', layers: 3, channels: 4, nodes: 2, strategy: 'single-stage', epochs: 4, warmupEpochs: 1, freezeEpoch: 2, crop: null,
  }));
  const probs = (e: number, keep: Record<number, string>) => Array.from({ length: 5 }, (_, r) => {
    const raw = ops.map((o, k) => Math.exp((o === keep[r] ? 0.4 * e : 0) + 0.01 * ((r * 7 + k * 3) % 5)));
    const s = raw.reduce((a, b) => a + b, 0);
    return raw.map((v) => v / s);
  });
  // Edge rows in DARTS order: n0.i0, n0.i1, n1.i0, n1.i1, n1.i2.
  const keepN = { 0: 'sep_conv_3x3', 1: 'dil_conv_3x3', 2: 'skip_connect', 4: 'max_pool_3x3' };
  const keepR = { 0: 'max_pool_3x3', 1: 'avg_pool_3x3', 3: 'skip_connect', 4: 'sep_conv_5x5' };
  const arch = [1, 2].map((e) => ({ epoch: e, phase: e === 1 ? 'warmup' : 'search', temperature: 5 / e, entropy: 2.07 - 0.01 * e, genotype, weights: { 'alphas.normal': probs(e, keepN), 'alphas.reduce': probs(e, keepR) } }));
  fs.writeFileSync(path.join(dir, 'arch.jsonl'), arch.map((a) => JSON.stringify(a) + '\n').join(''));
  const metrics = [1, 2, 3, 4].map((e) => ({
    epoch: e, phase: e === 1 ? 'warmup' : e === 2 ? 'search' : 'frozen', trainLoss: 2.3 - 0.2 * e, lr: 0.05 / e, metric: 'accuracy', score: 0.1 * e, valLoss: 2.2 - 0.2 * e, accuracy: 0.1 * e,
    ...(e <= 2 ? { derivedScore: 0.08 * e, derivedRecalScore: 0.09 * e, gap: 0.02 * e, gapRecal: 0.01 * e, entropy: 2.07 - 0.01 * e, temperature: 5 / e } : {}),
  }));
  fs.writeFileSync(path.join(dir, 'metrics.jsonl'), metrics.map((m) => JSON.stringify(m) + '\n').join(''));
  fs.writeFileSync(path.join(dir, 'genotype.json'), JSON.stringify(genotype));
  fs.writeFileSync(path.join(dir, 'summary.json'), JSON.stringify({ epochs: 4, phase: 'frozen', frozenAt: 2, genotype, metric: 'accuracy', bestScore: 0.4, wallSeconds: 1.5 }));
}

test('keptChoices marks cell edges, the lattice path and the output', () => {
  const d = keptChoices({ version: 1, space: 'darts', cells: { normal } });
  assert.deepEqual(d.get('normal.n0.i0'), ['sep_conv_3x3']);
  assert.deepEqual(d.get('normal.n1.i2'), ['max_pool_3x3']);
  assert.equal(d.get('normal.n0.i2'), undefined);
  const l = keptChoices({ version: 1, space: 'lattice', cells: { cell: [['sep_conv_3x3', 0], ['skip_connect', 0], ['avg_pool_3x3', 1]] }, path: [0, 1, 1] });
  assert.deepEqual(l.get('cell.n0.i0'), ['sep_conv_3x3']); // one-input cell: node 0 keeps one edge
  assert.deepEqual(l.get('cell.n1.i1'), ['avg_pool_3x3']);
  assert.deepEqual(l.get('l1s0'), ['l0s0']);
  assert.deepEqual(l.get('l2s1'), ['l1s0']);
  assert.deepEqual(l.get('l3s1'), ['l2s1']);
  assert.deepEqual(l.get('output'), ['s1']);
});

test('cell and lattice drawings: one labelled arrow per kept operation, the path highlighted', () => {
  const { nodes, edges } = cellEdges(normal, 2);
  assert.equal(nodes, 2);
  assert.deepEqual(edges.map((e) => [e.op, e.from, e.to]), [['sep_conv_3x3', 0, 0], ['dil_conv_3x3', 1, 0], ['skip_connect', 0, 1], ['max_pool_3x3', 2, 1]]);
  const svg = cellSvg({ id: 'normal', title: 'normal cell', nodes, edges, inputs: ['c_{k-2}', 'c_{k-1}'], output: 'c_{k}' });
  assert.match(svg, /^<svg [^>]*data-graph="normal"/);
  assert.equal((svg.match(/data-op="/g) ?? []).length, 4);
  for (const op of ['sep_conv_3x3', 'dil_conv_3x3', 'skip_connect', 'max_pool_3x3']) assert.ok(svg.includes(`>${op}</text>`), op);
  assert.ok(!/NaN|undefined|Infinity/.test(svg), 'every coordinate is a number');
  const lat = latticeSvg({ id: 'lattice', layers: 3, scales: 2, connectivity: 'short', path: [0, 1, 1] });
  assert.deepEqual([...lat.matchAll(/data-kept="([^"]+)"/g)].map((m) => m[1]), ['l0s0-l1s0', 'l1s0-l2s1', 'l2s1-l3s1']);
  assert.ok(!/NaN|undefined|Infinity/.test(lat));
});

test('DARTS run: heat-map rows are named after edges and operations, kept options marked', () => {
  const dir = path.join(tempDir('dnas-report-darts-'), 'run');
  dartsRun(dir);
  const rec = readRun(dir);
  assert.equal(rec.metric, 'accuracy');
  assert.equal(rec.frozenAt, 2);
  assert.equal(rec.metrics[0].derived, 0.08);
  const info = { rowLabels: { 'alphas.normal': ['normal.n0.i0', 'normal.n0.i1', 'normal.n1.i0', 'normal.n1.i1', 'normal.n1.i2'] }, options: {} };
  const a = archSeries(rec, info);
  assert.deepEqual(a.epochs, [1, 2]);
  const g = a.groups.find((x) => x.name === 'alphas.normal')!;
  assert.deepEqual(g.rows.map((r) => r.title), ['n0 ← c_{k-2}', 'n0 ← c_{k-1}', 'n1 ← c_{k-2}', 'n1 ← c_{k-1}', 'n1 ← n0']);
  assert.deepEqual(g.rows[0].options, [...DARTS_PRIMITIVES]); // from the genotype's settings.ops
  assert.deepEqual(g.rows.map((r) => r.kept.map((k) => r.options[k])), [['sep_conv_3x3'], ['dil_conv_3x3'], ['skip_connect'], [], ['max_pool_3x3']]);
  assert.equal(g.rows[0].values.length, 2);
});

/** Writes the reports the browser test opens: a real (tiny) lattice run and the synthetic DARTS run. */
async function reports(): Promise<{ name: string; result: ReportResult; heatmaps: number; edges: number }[]> {
  const root = tempDir('dnas-report-');
  const cfg = tinyConfig(path.join(root, 'lattice'), { strategy: 'single-stage', epochs: 4, warmupEpochs: 1, freezeEpoch: 2 });
  const { trainer, space } = tinyTrainer(cfg);
  await trainer.train();
  space.dispose();
  const lattice = writeReport(cfg.out, undefined, { inputSize: [32, 32], latencyIters: 2 });
  assert.equal(lattice.file, path.join(cfg.out, 'report.html'));
  assert.deepEqual(lattice.graphs, ['lattice', 'cell']);
  assert.deepEqual(lattice.charts.filter((c) => c.startsWith('weights:')).sort(), ['weights:alphas.cell', 'weights:betas']);
  assert.ok(lattice.cost && lattice.cost.rows.length === 2, `cost rows: ${JSON.stringify(lattice.cost)} ${lattice.problems.join('; ')}`);
  const [fin, sup] = lattice.cost!.rows;
  assert.equal(fin.network, 'final network');
  assert.ok(fin.parameters > 0 && fin.parameters < sup.parameters, 'the derived network is smaller than the supernet');
  assert.ok(fin.macs! > 0 && fin.macs! < sup.macs!);
  assert.ok(fin.latency && fin.latency.medianMs > 0);
  assert.deepEqual(lattice.cost!.input, [3, 32, 32]);
  dartsRun(path.join(root, 'darts'));
  const darts = writeReport(path.join(root, 'darts'), path.join(root, 'darts.html'), { cost: false });
  assert.deepEqual(darts.graphs, ['normal', 'reduce']);
  for (const r of [lattice, darts]) {
    const html = fs.readFileSync(r.file, 'utf8');
    assert.ok(!/(src|href)=["']?(https?:)?\/\//i.test(html), `${r.file} refers to nothing outside itself`);
  }
  const latticeEdges = (JSON.parse(fs.readFileSync(path.join(cfg.out, 'genotype.json'), 'utf8')).cells.cell as unknown[]).length;
  return [{ name: 'lattice', result: lattice, heatmaps: 2, edges: latticeEdges }, { name: 'darts', result: darts, heatmaps: 2, edges: normal.length + reduce.length }];
}

test('the report opens offline in headless Chromium: every chart and drawing, no console error', async (t) => {
  // The reports are written (and checked) before the browser is looked for, so they are always tested.
  const made = await reports();
  const b = browser();
  if (typeof b === 'string') return t.skip(b);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'dnas-chromium-'));
  const ctx = await b.chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, viewport: { width: 1400, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  try {
    for (const { name, result, heatmaps, edges } of made) {
      const page = await ctx.newPage();
      const problems: string[] = [];
      page.on('console', (m: { type(): string; text(): string }) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
      page.on('pageerror', (e: Error) => problems.push(`page error: ${e.message}`));
      const outside: string[] = [];
      await page.route('**/*', (route: { request(): { url(): string }; continue(): Promise<void>; abort(): Promise<void> }) => {
        const url = route.request().url();
        if (/^(file|data|blob|about):/.test(url)) return route.continue();
        outside.push(url);
        return route.abort();
      });
      await page.goto(`file://${result.file}`);
      await page.waitForSelector('body[data-charts-rendered]', { timeout: 20_000 });
      const seen = await page.evaluate(() => {
        const doc = (globalThis as any).document; // eslint-disable-line @typescript-eslint/no-explicit-any
        const charts = Array.from(doc.querySelectorAll('[data-chart]')) as any[]; // eslint-disable-line @typescript-eslint/no-explicit-any
        return {
          rendered: Number(doc.body.getAttribute('data-charts-rendered')),
          charts: charts.map((c) => c.getAttribute('data-chart')),
          drawn: charts.filter((c) => c.getAttribute('data-rendered') === '1' && c.querySelector('canvas') && c.clientHeight > 100).length,
          graphs: Array.from(doc.querySelectorAll('svg.arch')).map((s: any) => s.getAttribute('data-graph')), // eslint-disable-line @typescript-eslint/no-explicit-any
          edges: doc.querySelectorAll('svg.arch [data-op]').length,
          costRows: doc.querySelectorAll('table.cost tbody tr').length,
        };
      });
      assert.deepEqual(problems, [], `${name}: no console errors`);
      assert.deepEqual(outside, [], `${name}: no request leaves the file`);
      assert.deepEqual(seen.charts, result.charts, `${name}: chart elements`);
      assert.equal(seen.rendered, result.charts.length, `${name}: every chart rendered`);
      assert.equal(seen.drawn, result.charts.length, `${name}: every chart has a canvas`);
      for (const id of ['loss', 'score', 'gap', 'gap-bars', 'entropy']) assert.ok(seen.charts.includes(id), `${name}: chart ${id}`);
      assert.equal(seen.charts.filter((c: string) => c.startsWith('weights:')).length, heatmaps, `${name}: heat maps`);
      assert.deepEqual(seen.graphs, result.graphs, `${name}: architecture drawings`);
      assert.equal(seen.edges, edges, `${name}: one arrow per kept operation`);
      assert.equal(seen.costRows, result.cost?.rows.length ?? 0, `${name}: cost rows`);
      const shotDir = process.env.DNAS_REPORT_SCREENSHOTS ?? tempDir('dnas-report-shot-');
      fs.mkdirSync(shotDir, { recursive: true });
      const shot = path.join(shotDir, `report-${name}.png`);
      await page.screenshot({ path: shot, fullPage: true });
      const png = fs.readFileSync(shot);
      assert.equal(png.subarray(1, 4).toString(), 'PNG');
      assert.ok(png.length > 50_000, `${name}: the screenshot has content (${png.length} bytes)`);
      t.diagnostic(`${name}: screenshot ${shot}`);
      await page.close();
    }
  } finally {
    await ctx.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
});
