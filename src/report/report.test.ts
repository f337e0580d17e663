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
import { encodePng } from '../data';
import { archSeries, buildReport, cellEdges, cellSvg, keptChoices, latticeSvg, readRun, readSamples, writeReport, ReportResult } from '.';
import { PageData, renderCharts } from './page-script';

torch.setNumThreads(1);

const CHROMIUM = process.env.DNAS_CHROMIUM ?? '/usr/bin/chromium';

/** playwright-core's chromium launcher, or why the browser test cannot run. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function browser(): { chromium: any } | string {
  if (!fs.existsSync(CHROMIUM)) return `Chromium is not installed at ${CHROMIUM} (Debian: apt-get install chromium; or set DNAS_CHROMIUM)`;
  try {
    return require('playwright-core') as { chromium: any }; // eslint-disable-line @typescript-eslint/no-explicit-any
  } catch {
    return 'the npm package playwright-core is not installed (npm install --save-dev playwright-core)';
  }
}

// ---- a synthetic DARTS run: every file a real run writes, except checkpoints ------------------

const normal: [string, number][] = [
  ['sep_conv_3x3', 0],
  ['dil_conv_3x3', 1],
  ['skip_connect', 0],
  ['max_pool_3x3', 2],
];
const reduce: [string, number][] = [
  ['max_pool_3x3', 0],
  ['avg_pool_3x3', 1],
  ['sep_conv_5x5', 2],
  ['skip_connect', 1],
];

function dartsRun(dir: string): void {
  const ops = [...DARTS_PRIMITIVES];
  const genotype = { version: 1, space: 'darts', settings: { C: 4, layers: 3, nodes: 2, ops }, cells: { normal, reduce } };
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'config.json'),
    JSON.stringify({
      dataset: 'fashion-mnist',
      space: 'darts',
      layers: 3,
      channels: 4,
      nodes: 2,
      strategy: 'single-stage',
      epochs: 4,
      warmupEpochs: 1,
      freezeEpoch: 2,
      crop: null,
    }),
  );
  const probs = (e: number, keep: Record<number, string>) =>
    Array.from({ length: 5 }, (_, r) => {
      const raw = ops.map((o, k) => Math.exp((o === keep[r] ? 0.4 * e : 0) + 0.01 * ((r * 7 + k * 3) % 5)));
      const s = raw.reduce((a, b) => a + b, 0);
      return raw.map((v) => v / s);
    });
  // Edge rows in DARTS order: n0.i0, n0.i1, n1.i0, n1.i1, n1.i2.
  const keepN = { 0: 'sep_conv_3x3', 1: 'dil_conv_3x3', 2: 'skip_connect', 4: 'max_pool_3x3' };
  const keepR = { 0: 'max_pool_3x3', 1: 'avg_pool_3x3', 3: 'skip_connect', 4: 'sep_conv_5x5' };
  const arch = [1, 2].map((e) => ({
    epoch: e,
    phase: e === 1 ? 'warmup' : 'search',
    temperature: 5 / e,
    entropy: 2.07 - 0.01 * e,
    genotype,
    weights: { 'alphas.normal': probs(e, keepN), 'alphas.reduce': probs(e, keepR) },
  }));
  fs.writeFileSync(path.join(dir, 'arch.jsonl'), arch.map((a) => JSON.stringify(a) + '\n').join(''));
  const metrics = [1, 2, 3, 4].map((e) => ({
    epoch: e,
    phase: e === 1 ? 'warmup' : e === 2 ? 'search' : 'frozen',
    trainLoss: 2.3 - 0.2 * e,
    lr: 0.05 / e,
    metric: 'accuracy',
    score: 0.1 * e,
    valLoss: 2.2 - 0.2 * e,
    accuracy: 0.1 * e,
    ...(e <= 2 ? { derivedScore: 0.08 * e, derivedRecalScore: 0.09 * e, gap: 0.02 * e, gapRecal: 0.01 * e, entropy: 2.07 - 0.01 * e, temperature: 5 / e } : {}),
  }));
  fs.writeFileSync(path.join(dir, 'metrics.jsonl'), metrics.map((m) => JSON.stringify(m) + '\n').join(''));
  fs.writeFileSync(path.join(dir, 'genotype.json'), JSON.stringify(genotype));
  fs.writeFileSync(
    path.join(dir, 'summary.json'),
    JSON.stringify({ epochs: 4, phase: 'frozen', frozenAt: 2, genotype, metric: 'accuracy', bestScore: 0.4, wallSeconds: 1.5 }),
  );
}

const XSS = '<img src=x onerror=alert(1)>';

/** Rewrites a run's JSONL file line by line. */
function editJsonl(file: string, edit: (r: Record<string, unknown>) => Record<string, unknown>): void {
  const lines = fs
    .readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => edit(JSON.parse(l) as Record<string, unknown>));
  fs.writeFileSync(file, lines.map((l) => JSON.stringify(l) + '\n').join(''));
}

/** The synthetic DARTS run with the trainer's convergence and control fields (epochs 1-2 search). */
function convergenceRun(dir: string): void {
  dartsRun(dir);
  editJsonl(path.join(dir, 'metrics.jsonl'), (m) =>
    (m.epoch as number) > 2
      ? m
      : {
          ...m,
          archMaxWeight: 0.2 * (m.epoch as number),
          archUniform: 0.125,
          archMargin: 0.05 * (m.epoch as number),
          archChanged: m.epoch === 1 ? null : 3,
          controlScore: 0.05 * (m.epoch as number),
          controlScores: [0.04 * (m.epoch as number), 0.06 * (m.epoch as number)],
          gapControl: 0.05 * (m.epoch as number),
        },
  );
  const summary = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'));
  fs.writeFileSync(
    path.join(dir, 'summary.json'),
    JSON.stringify({
      ...summary,
      freezeReason: 'decoded architecture unchanged for 3 epochs and weights converged (mean largest weight 0.61)',
      algorithm: 'darts',
      protocol: 'single-stage',
    }),
  );
}

/**
 * Runs the page script outside a browser: `echarts` and `document` stand-ins record each chart's
 * option. Gives the options by chart id, and the charts that failed.
 */
/** A stand-in for DOM elements: a tag, children, and text set as text. */
interface FakeNode {
  tag?: string;
  text?: string;
  children?: FakeNode[];
  textContent?: string;
  appendChild?(c: FakeNode): void;
}
function fakeElement(tag: string): FakeNode {
  const el: FakeNode = { tag, children: [] };
  el.appendChild = (c) => {
    el.children!.push(c);
  };
  return el;
}
/** The node tree as markup, text escaped the way a browser serializes text nodes. */
function serialize(n: FakeNode): string {
  const text = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  if (n.tag === undefined) return text(n.text ?? '');
  const inner = n.textContent !== undefined ? text(n.textContent) : (n.children ?? []).map(serialize).join('');
  return n.tag === 'br' ? '<br>' : `<${n.tag}>${inner}</${n.tag}>`;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function chartOptions(html: string, ids: string[]): { options: Map<string, any>; failed: string[] } {
  const json = /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(html);
  assert.ok(json, 'the page embeds its data');
  const data = JSON.parse(json[1]) as PageData;
  const g = globalThis as any; // eslint-disable-line @typescript-eslint/no-explicit-any
  const saved = { echarts: g.echarts, document: g.document, addEventListener: g.addEventListener };
  const options = new Map<string, unknown>();
  const failed: string[] = [];
  const els = ids.map((id) => ({
    getAttribute: (k: string) => (k === 'data-chart' ? id : null),
    setAttribute: () => undefined,
    classList: { add: () => failed.push(id) },
    textContent: '',
  }));
  g.echarts = {
    init: (el: { getAttribute(k: string): string }) => ({ setOption: (o: unknown) => options.set(el.getAttribute('data-chart'), o), resize: () => undefined }),
  };
  g.document = {
    querySelectorAll: () => els,
    body: { setAttribute: () => undefined },
    createElement: fakeElement,
    createTextNode: (text: string) => ({ text }),
  };
  g.addEventListener = () => undefined;
  const error = console.error;
  console.error = () => undefined;
  try {
    renderCharts(data);
  } finally {
    Object.assign(g, saved);
    console.error = error;
  }
  return { options, failed };
}

test('keptChoices marks cell edges, the lattice path and the output', () => {
  const d = keptChoices({ version: 1, space: 'darts', cells: { normal } });
  assert.deepEqual(d.get('normal.n0.i0'), ['sep_conv_3x3']);
  assert.deepEqual(d.get('normal.n1.i2'), ['max_pool_3x3']);
  assert.equal(d.get('normal.n0.i2'), undefined);
  const l = keptChoices({
    version: 1,
    space: 'lattice',
    cells: {
      cell: [
        ['sep_conv_3x3', 0],
        ['skip_connect', 0],
        ['avg_pool_3x3', 1],
      ],
    },
    path: [0, 1, 1],
  });
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
  assert.deepEqual(
    edges.map((e) => [e.op, e.from, e.to]),
    [
      ['sep_conv_3x3', 0, 0],
      ['dil_conv_3x3', 1, 0],
      ['skip_connect', 0, 1],
      ['max_pool_3x3', 2, 1],
    ],
  );
  const svg = cellSvg({ id: 'normal', title: 'normal cell', nodes, edges, inputs: ['c_{k-2}', 'c_{k-1}'], output: 'c_{k}' });
  assert.match(svg, /^<svg [^>]*data-graph="normal"/);
  assert.equal((svg.match(/data-op="/g) ?? []).length, 4);
  for (const op of ['sep_conv_3x3', 'dil_conv_3x3', 'skip_connect', 'max_pool_3x3']) assert.ok(svg.includes(`>${op}</text>`), op);
  assert.ok(!/NaN|undefined|Infinity/.test(svg), 'every coordinate is a number');
  const lat = latticeSvg({ id: 'lattice', layers: 3, scales: 2, connectivity: 'short', path: [0, 1, 1] });
  assert.deepEqual(
    [...lat.matchAll(/data-kept="([^"]+)"/g)].map((m) => m[1]),
    ['l0s0-l1s0', 'l1s0-l2s1', 'l2s1-l3s1'],
  );
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
  assert.deepEqual(
    g.rows.map((r) => r.title),
    ['n0 ← c_{k-2}', 'n0 ← c_{k-1}', 'n1 ← c_{k-2}', 'n1 ← c_{k-1}', 'n1 ← n0'],
  );
  assert.deepEqual(g.rows[0].options, [...DARTS_PRIMITIVES]); // from the genotype's settings.ops
  assert.deepEqual(
    g.rows.map((r) => r.kept.map((k) => r.options[k])),
    [['sep_conv_3x3'], ['dil_conv_3x3'], ['skip_connect'], [], ['max_pool_3x3']],
  );
  assert.equal(g.rows[0].values.length, 2);
});

test('convergence and control: read from metrics.jsonl (arch.jsonl for older lines), charted beside the derived score', () => {
  const dir = path.join(tempDir('dnas-report-conv-'), 'run');
  convergenceRun(dir);
  // An older metrics line without the convergence numbers takes them from arch.jsonl.
  editJsonl(path.join(dir, 'metrics.jsonl'), (m) => (m.epoch === 1 ? { ...m, archMaxWeight: undefined, archMargin: undefined } : m));
  editJsonl(path.join(dir, 'arch.jsonl'), (a) => ({ ...a, archMaxWeight: 0.3, archMargin: 0.07 }));
  const rec = readRun(dir);
  assert.deepEqual(
    rec.metrics.map((m) => [m.archMaxWeight, m.archUniform, m.archMargin, m.archChanged]),
    [
      [0.3, 0.125, 0.07, null],
      [0.4, 0.125, 0.1, 3],
      [null, null, null, null],
      [null, null, null, null],
    ],
  );
  assert.deepEqual(rec.metrics[1].controlScores, [0.08, 0.12]);
  assert.equal(rec.metrics[1].control, 0.1);
  assert.equal(rec.freezeReason, 'decoded architecture unchanged for 3 epochs and weights converged (mean largest weight 0.61)');
  const r = buildReport(dir, { cost: false });
  assert.ok(r.charts.includes('convergence'));
  assert.ok(r.html.includes('unchanged for 3 epochs and weights converged'), 'the freeze reason is in the summary');
  assert.match(r.html, /algorithm <b>darts<\/b> · protocol <b>single-stage<\/b>/);
  const { options, failed } = chartOptions(r.html, r.charts);
  assert.deepEqual(failed, []);
  const conv = options.get('convergence');
  const byName = (o: any, n: string) => o.series.find((x: { name: string }) => x.name === n); // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.deepEqual(byName(conv, 'mean largest weight').data, [
    [1, 0.3],
    [2, 0.4],
  ]);
  assert.deepEqual(byName(conv, 'uniform (1 / options)').data, [
    [1, 0.125],
    [2, 0.125],
  ]);
  assert.deepEqual(byName(conv, 'mean margin (largest − second)').data, [
    [1, 0.07],
    [2, 0.1],
  ]);
  const changed = byName(conv, 'decoded choices changed');
  assert.equal(changed.yAxisIndex, 1, 'changes on the second axis');
  assert.deepEqual(changed.data, [[2, 3]]);
  const gap = options.get('gap');
  assert.deepEqual(byName(gap, 'random genotypes (control, mean)').data, [
    [1, 0.05],
    [2, 0.1],
  ]);
  assert.deepEqual(
    byName(gap, 'random genotypes (each)').data.map((p: number[]) => p.map((v) => +v.toFixed(6))),
    [
      [1, 0.04],
      [1, 0.06],
      [2, 0.08],
      [2, 0.12],
    ],
  );
  assert.deepEqual(byName(options.get('gap-bars'), 'supernet − random genotypes').data, [
    [1, 0.05],
    [2, 0.1],
  ]);
  // Older runs: no convergence chart, no control series.
  const old = path.join(tempDir('dnas-report-conv-'), 'old');
  dartsRun(old);
  const o = buildReport(old, { cost: false });
  assert.ok(!o.charts.includes('convergence'));
  const oldGap = chartOptions(o.html, o.charts).options.get('gap');
  assert.equal(byName(oldGap, 'random genotypes (control, mean)'), undefined);
});

test('text from run files is escaped: the phase in the summary card, the freeze reason, operation names in the heat-map tooltip', () => {
  const dir = path.join(tempDir('dnas-report-xss-'), 'run');
  convergenceRun(dir);
  editJsonl(path.join(dir, 'metrics.jsonl'), (m) => (m.epoch === 4 ? { ...m, phase: XSS } : m));
  const summary = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'));
  fs.writeFileSync(path.join(dir, 'summary.json'), JSON.stringify({ ...summary, freezeReason: `because ${XSS}`, algorithm: '<script>x</script>' }));
  // An operation name with markup, in the genotype. A space name the report does not know (with
  // markup too) rebuilds a supernet without these rows, which leaves the heat-map columns to the
  // genotype's settings.ops.
  const g = JSON.parse(fs.readFileSync(path.join(dir, 'genotype.json'), 'utf8'));
  g.settings.ops[1] = XSS;
  g.cells.normal[0] = [XSS, 0];
  fs.writeFileSync(path.join(dir, 'genotype.json'), JSON.stringify(g));
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...cfg, space: XSS }));
  const r = buildReport(dir, { cost: false });
  assert.ok(r.html.includes('space <b>&lt;img src=x onerror=alert(1)&gt;</b>'));
  assert.ok(r.html.includes('data-op="&lt;img src=x onerror=alert(1)&gt;"'), 'the cell drawing names the operation, escaped');
  assert.ok(!r.html.includes('<img src=x'), 'no raw markup from the run files');
  assert.ok(!r.html.includes('<script>x'), 'no raw markup from summary.json');
  assert.ok(r.html.includes('epoch 4, &lt;img src=x onerror=alert(1)&gt;'), 'the phase is shown, escaped, in the summary card');
  assert.ok(r.html.includes('because &lt;img src=x onerror=alert(1)&gt;'), 'the freeze reason is shown, escaped');
  const { options, failed } = chartOptions(r.html, r.charts);
  assert.deepEqual(failed, []);
  const heat = options.get('weights:alphas.normal');
  const cats: string[] = heat.yAxis.data;
  const y = cats.indexOf('r0o1'); // row 0, option 1: the operation with markup
  assert.ok(y > 0);
  // The tooltip is a DOM tree: the operation name is a text node, never parsed as markup.
  const node: FakeNode = heat.tooltip.formatter({ value: [0, y, 0.25] });
  assert.equal(typeof node, 'object');
  const bold = node.children!.filter((c) => c.tag === 'b');
  assert.equal(bold[0].textContent, XSS);
  const tip = serialize(node);
  assert.ok(!tip.includes('<img'), tip);
  assert.ok(tip.includes('<b>&lt;img src=x onerror=alert(1)&gt;</b>'), tip);
  assert.ok(tip.includes('epoch 1: <b>0.2500</b>'), tip);
});

test('sample predictions: only plain .png names inside samples/ are embedded, everything else is named', () => {
  const root = tempDir('dnas-report-samples-');
  const dir = path.join(root, 'run');
  dartsRun(dir);
  assert.equal(readSamples(dir), null, 'no samples/: no section');
  const sdir = path.join(dir, 'samples');
  fs.mkdirSync(sdir);
  const png = (v: number) => encodePng({ width: 2, height: 2, channels: 3, data: new Uint8Array(12).fill(v) });
  for (const [f, v] of [
    ['0-image.png', 10],
    ['0-truth.png', 20],
    ['0-pred.png', 30],
  ] as const)
    fs.writeFileSync(path.join(sdir, f), png(v));
  fs.writeFileSync(path.join(root, 'outside.png'), png(40));
  fs.symlinkSync(path.join(root, 'outside.png'), path.join(sdir, 'linked.png'));
  fs.writeFileSync(path.join(sdir, 'text.png'), 'not a png');
  const good = { id: `ok ${XSS}`, image: '0-image.png', truth: '0-truth.png', pred: '0-pred.png', pixelAccuracy: 0.5 };
  fs.writeFileSync(
    path.join(sdir, 'samples.json'),
    JSON.stringify({
      checkpoint: 'last.pt',
      epoch: 4,
      phase: 'frozen',
      classNames: ['background', XSS],
      palette: [
        [0, 0, 0],
        [255, 0, 0],
      ],
      samples: [
        good,
        { ...good, id: 'up', image: '../config.json' },
        { ...good, id: 'sub', truth: 'sub/0-truth.png' },
        { ...good, id: 'abs', pred: path.join(sdir, '0-pred.png') },
        { ...good, id: 'link', image: 'linked.png' },
        { ...good, id: 'text', image: 'text.png' },
        { ...good, id: 'gone', image: 'missing.png' },
      ],
    }),
  );
  const s = readSamples(dir)!;
  assert.deepEqual(
    s.samples.map((x) => x.id),
    [`ok ${XSS}`],
  );
  assert.equal(s.samples[0].image, `data:image/png;base64,${png(10).toString('base64')}`);
  assert.equal(s.problems.length, 6, s.problems.join('\n'));
  assert.match(
    s.problems.join('\n'),
    /"\.\.\/config\.json" is not a plain \.png file name[\s\S]*"sub\/0-truth\.png"[\s\S]*symbolic link[\s\S]*not a PNG[\s\S]*missing/,
  );
  assert.deepEqual(s.legend, [
    { name: 'background', color: '#000000' },
    { name: XSS, color: '#ff0000' },
  ]);
  const { html } = buildReport(dir, { cost: false });
  for (const v of [10, 20, 30]) assert.ok(html.includes(`src="data:image/png;base64,${png(v).toString('base64')}"`));
  assert.ok(!html.includes(png(40).toString('base64')), 'the linked file is not embedded');
  assert.ok(!html.includes('<img src=x'));
  assert.equal((html.match(/<tr data-sample=/g) ?? []).length, 1);
  // A linked samples/ folder: nothing embedded.
  fs.renameSync(sdir, path.join(root, 'real-samples'));
  fs.symlinkSync(path.join(root, 'real-samples'), sdir);
  const linked = readSamples(dir)!;
  assert.deepEqual(linked.samples, []);
  assert.match(linked.problems[0], /symbolic link/);
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
  return [
    { name: 'lattice', result: lattice, heatmaps: 2, edges: latticeEdges },
    { name: 'darts', result: darts, heatmaps: 2, edges: normal.length + reduce.length },
  ];
}

/** Headless Chromium in a fresh profile (closed and removed by the caller), nothing fetched from outside. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function launchChromium(b: { chromium: any }): Promise<{ ctx: any; profile: string }> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'dnas-chromium-'));
  const ctx = await b.chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return { ctx, profile };
}

test('the report opens offline in headless Chromium: every chart and drawing, no console error', async (t) => {
  // The reports are written (and checked) before the browser is looked for, so they are always tested.
  const made = await reports();
  const b = browser();
  if (typeof b === 'string') return t.skip(b);
  const { ctx, profile } = await launchChromium(b);
  try {
    for (const { name, result, heatmaps, edges } of made) {
      const page = await ctx.newPage();
      const problems: string[] = [];
      page.on('console', (m: { type(): string; text(): string }) => {
        if (m.type() === 'error') problems.push(`console: ${m.text()}`);
      });
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

test('every string of every run file, and the folder name, poisoned with markup: the page shows it only as text', () => {
  const END = '</script><svg onload=alert(2)>';
  const dir = path.join(tempDir('dnas-report-poison-'), `run ${XSS}`);
  convergenceRun(dir);
  const summaryFile = path.join(dir, 'summary.json');
  const summary = JSON.parse(fs.readFileSync(summaryFile, 'utf8'));
  fs.writeFileSync(summaryFile, JSON.stringify({ ...summary, skipped: [{ split: 'train', file: 'a.png', reason: 'truncated' }] }));
  // Every string value gets the payload; so do the keys that are data (class names, choice labels).
  const dataKeys = new Set(['perClassIoU', 'weights', 'choices']);
  const poison = (v: unknown, keysToo = false): unknown => {
    if (typeof v === 'string') return `${v}${XSS}${END}`;
    if (Array.isArray(v)) return v.map((x) => poison(x));
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [keysToo ? `${k}${XSS}` : k, poison(x, dataKeys.has(k))]));
    return v;
  };
  for (const f of fs.readdirSync(dir)) {
    const file = path.join(dir, f);
    if (f.endsWith('.json')) fs.writeFileSync(file, JSON.stringify(poison(JSON.parse(fs.readFileSync(file, 'utf8')))));
    if (f.endsWith('.jsonl')) editJsonl(file, (r) => poison(r) as Record<string, unknown>);
  }
  const r = buildReport(dir, { cost: false });
  assert.ok(!r.html.includes('<img src=x') && !r.html.includes('<svg onload'), 'no markup from the run folder reaches the page');
  const shown = r.html.split('&lt;img src=x onerror=alert(1)&gt;').length - 1;
  assert.ok(shown >= 10, `the poisoned strings are shown, escaped (${shown} times)`);
  assert.ok(
    r.html.includes('<section id="skipped">') &&
      r.html.includes('<code>a.png&lt;img src=x onerror=alert(1)&gt;&lt;/script&gt;&lt;svg onload=alert(2)&gt;</code>'),
    'skipped files are listed, escaped',
  );
  // The embedded JSON cannot end its <script> element early either.
  const json = /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(r.html);
  assert.ok(json && !json[1].includes('</'), 'no closing tag inside the embedded data');
});

test('heat maps: an absolute 0-1 scale with the uniform level of the group marked', () => {
  const dir = path.join(tempDir('dnas-report-scale-'), 'run');
  convergenceRun(dir);
  const r = buildReport(dir, { cost: false });
  const { options, failed } = chartOptions(r.html, r.charts);
  assert.deepEqual(failed, []);
  const heat = options.get('weights:alphas.normal');
  const pieces = heat.visualMap.pieces as { gte: number; lt?: number; lte?: number; label: string }[];
  assert.equal(heat.visualMap.type, 'piecewise');
  assert.equal(pieces[0].gte, 0);
  assert.equal(pieces[0].label, '< uniform 0.125'); // DARTS rows of 8 operations
  assert.equal(pieces[0].lt, 0.125);
  assert.equal(pieces[pieces.length - 1].lte, 1);
  for (let k = 1; k < pieces.length; k++) assert.equal(pieces[k].gte, pieces[k - 1].lt, 'the pieces tile [0, 1]');
});

test('dnas report A B: one page overlays the runs, names escaped; it renders offline in Chromium', async (t) => {
  const { writeComparison } = await import('./compare');
  const root = tempDir('dnas-report-compare-');
  const a = path.join(root, 'a'),
    b = path.join(root, `b ${XSS}`);
  dartsRun(a);
  convergenceRun(b);
  const res = writeComparison([a, b], path.join(root, 'cmp.html'));
  const html = fs.readFileSync(res.file, 'utf8');
  assert.deepEqual(res.charts, ['score', 'loss', 'gap', 'convergence']);
  assert.ok(!html.includes('<img src=x'), 'run names are escaped');
  assert.ok(html.includes('<th>b &lt;img src=x onerror=alert(1)&gt;</th>'));
  const data = JSON.parse(/<script type="application\/json" id="compare-data">([\s\S]*?)<\/script>/.exec(html)![1]) as {
    runs: { name: string; score: number[] }[];
  };
  assert.deepEqual(
    data.runs.map((r) => r.name),
    ['a', `b ${XSS}`],
  );
  assert.equal(data.runs[0].score.length, readRun(a).metrics.length);
  assert.throws(() => writeComparison([a], path.join(root, 'x.html')), /at least two run directories/);
  const br = browser();
  if (typeof br === 'string') return t.skip(br);
  const { problems, rendered } = await renderedCharts(br, res.file);
  assert.deepEqual(problems, []);
  assert.equal(rendered, 4);
});

/** The JSON records of a .jsonl file of a run. */
function readLines<T>(file: string): T[] {
  return fs
    .readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as T);
}

/** Writes JSON records as a .jsonl file. */
function writeLines(file: string, records: unknown[]): void {
  fs.writeFileSync(file, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
}

/** Opens a comparison page in Chromium: its console errors and the number of charts it drew. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function renderedCharts(br: { chromium: any }, file: string): Promise<{ problems: string[]; rendered: number }> {
  const { ctx, profile } = await launchChromium(br);
  try {
    const page = await ctx.newPage();
    const problems: string[] = [];
    page.on('console', (m: { type(): string; text(): string }) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    page.on('pageerror', (e: Error) => problems.push(e.message));
    await page.goto(`file://${file}`);
    await page.waitForSelector('body[data-charts-rendered]', { timeout: 20_000 });
    const rendered = await page.evaluate(() => Number((globalThis as any).document.body.getAttribute('data-charts-rendered'))); // eslint-disable-line @typescript-eslint/no-explicit-any
    return { problems, rendered };
  } finally {
    await ctx.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

test('the decisions timeline marks each change of a choice leading option, with a text-only tooltip', () => {
  const dir = path.join(tempDir('dnas-report-timeline-'), 'run');
  convergenceRun(dir);
  // the second logged epoch changes its mind on one choice: that row's weights reversed
  const archFile = path.join(dir, 'arch.jsonl');
  const raw = readLines<{ weights: Record<string, number[][]> }>(archFile);
  const g0 = Object.keys(raw[1].weights)[0];
  raw[1].weights[g0][0] = [...raw[1].weights[g0][0]].reverse();
  writeLines(archFile, raw);
  // Independent count from arch.jsonl: per group row, the epochs whose leading option differs from the previous one.
  const lines = fs
    .readFileSync(path.join(dir, 'arch.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { weights: Record<string, number[][]> });
  let expected = 0;
  for (const group of Object.keys(lines[0].weights)) {
    lines[0].weights[group].forEach((first, row) => {
      if (first.length < 2) return; // a single option: nothing to choose, not drawn
      const lead = lines.map((l) => l.weights[group][row].indexOf(Math.max(...l.weights[group][row])));
      for (let e = 1; e < lead.length; e++) if (lead[e] !== lead[e - 1]) expected++;
    });
  }
  const r = buildReport(dir, { cost: false });
  assert.ok(r.charts.includes('timeline'));
  const { options, failed } = chartOptions(r.html, r.charts);
  assert.deepEqual(failed, []);
  const t = options.get('timeline');
  const rowsWithChoice = t.yAxis.data.length;
  assert.ok(rowsWithChoice > 0);
  assert.equal(t.series[0].data.length, expected);
  assert.ok(expected > 0, 'the synthetic run changes its mind at least once');
  assert.match(t.title.text, new RegExp(`^Decisions changing: ${t.series[0].data.length} changes`));
  if (t.series[0].data.length) {
    const node = t.tooltip.formatter({ dataIndex: 0 });
    assert.match(serialize(node), /epoch \d+: <b>.+<\/b> → <b>.+<\/b>/);
  }
});

test('paretoFront keeps the points no other beats in both cost and score', async () => {
  const { paretoFront } = await import('./compare');
  assert.deepEqual(
    paretoFront([
      { cost: 1, score: 0.5 },
      { cost: 2, score: 0.6 },
      { cost: 2, score: 0.55 }, // beaten by the one before
      { cost: 3, score: 0.6 }, // as good as a cheaper one
      { cost: 0.5, score: 0.2 },
    ]),
    [0, 1, 4],
  );
  assert.deepEqual(paretoFront([]), []);
});

test('dnas report A B C of cost-aware runs: their costs in the table and the cost-score front, drawn in Chromium', async (t) => {
  const { writeComparison } = await import('./compare');
  const root = tempDir('dnas-report-front-');
  const runs = [
    ['cheap', 0.002, 0.4],
    ['good', 0.004, 0.6],
    ['worse', 0.005, 0.5],
  ] as const;
  for (const [name, cost, score] of runs) {
    const dir = path.join(root, name);
    convergenceRun(dir);
    const cfgFile = path.join(dir, 'config.json');
    fs.writeFileSync(cfgFile, JSON.stringify({ ...JSON.parse(fs.readFileSync(cfgFile, 'utf8')), cost: 'params' }));
    const metricsFile = path.join(dir, 'metrics.jsonl');
    const rows = readLines<Record<string, unknown>>(metricsFile);
    rows[rows.length - 1] = { ...rows[rows.length - 1], score, costNetwork: cost };
    writeLines(metricsFile, rows);
  }
  const res = writeComparison(
    runs.map(([n]) => path.join(root, n)),
    path.join(root, 'cmp.html'),
  );
  assert.deepEqual(res.charts, ['score', 'loss', 'gap', 'convergence', 'front']);
  const html = fs.readFileSync(res.file, 'utf8');
  assert.ok(html.includes('<th>cost (M parameters)</th>'));
  assert.ok(html.includes('0.002000 (front)') && html.includes('0.004000 (front)') && html.includes('>0.005000</td>'));
  const data = JSON.parse(/<script type="application\/json" id="compare-data">([\s\S]*?)<\/script>/.exec(html)![1]) as { runs: { front: boolean }[] };
  assert.deepEqual(
    data.runs.map((r) => r.front),
    [true, true, false],
  );
  const br = browser();
  if (typeof br === 'string') return t.skip(br);
  const { problems, rendered } = await renderedCharts(br, res.file);
  assert.deepEqual(problems, []);
  assert.equal(rendered, 5);
});

test('the report of a cost-aware run shows the final network cost, its budget and the expected cost, escaped', () => {
  const dir = path.join(tempDir('dnas-report-cost-'), 'run');
  convergenceRun(dir);
  const metricsFile = path.join(dir, 'metrics.jsonl');
  const rows = readLines<Record<string, unknown>>(metricsFile);
  rows.forEach((r, i) => Object.assign(r, { costNetwork: 0.5 - i * 0.01, costTarget: 0.4, costUnit: `MMACs${XSS}`, costExpected: 0.45 - i * 0.01 }));
  writeLines(metricsFile, rows);
  const { html } = buildReport(dir, { cost: false });
  const last = rows.length - 1;
  assert.ok(html.includes('cost (searched for)'));
  assert.ok(html.includes(`${(0.5 - last * 0.01).toPrecision(4)} MMACs&lt;img src=x`), 'the cost and its unit, escaped');
  assert.ok(html.includes(`budget 0.4000 MMACs`));
  assert.ok(html.includes(`expected under the relaxation ${(0.45 - last * 0.01).toPrecision(4)} at epoch ${rows[last].epoch}`));
  assert.ok(!html.includes(`MMACs${XSS}`));
});
