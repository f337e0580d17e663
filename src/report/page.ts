/**
 * The report page: one self-contained HTML file (styles, the embedded Apache ECharts build, the
 * data as JSON, the architecture as inline SVG). Viewing it needs no network.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CostTable } from './cost';
import { ArchSeries, cellInputs, Genotype, RunRecords } from './data';
import { cellEdges, cellSvg, latticeSvg, opColor } from './graph';
import { PageData, renderCharts } from './page-script';
import { esc } from './html';
import { SampleSection } from './samples';

export { esc };

/** The charting library, read from node_modules when the report is written. */
export interface ChartLibrary {
  name: string;
  version: string;
  license: string;
  source: string;
}

/** Reads the browser build of Apache ECharts from its npm package. */
export function loadEcharts(): ChartLibrary {
  let dir: string;
  try {
    dir = path.dirname(require.resolve('echarts/package.json'));
  } catch {
    throw new Error('the report needs the npm package echarts (its browser build is embedded in the page); install it with npm install echarts');
  }
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string; license: string };
  return { name: 'Apache ECharts', version: pkg.version, license: pkg.license, source: fs.readFileSync(path.join(dir, 'dist', 'echarts.min.js'), 'utf8') };
}

/** Makes script text safe inside <script> … </script>. */
export const scriptSafe = (js: string): string => js.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');

export const pctText = (v: unknown): string => (typeof v === 'number' && Number.isFinite(v) ? `${(v * 100).toFixed(2)}%` : '–');
const signedPct = (v: unknown): string => (typeof v === 'number' && Number.isFinite(v) ? `${v > 0 ? '+' : ''}${(v * 100).toFixed(2)}%` : '–');

/** 1234567 → "1.23 M" (k, M, G, T). */
export function humanCount(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '–';
  const units: [number, string][] = [
    [1e12, 'T'],
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'k'],
  ];
  for (const [u, s] of units) if (Math.abs(n) >= u) return `${(n / u).toPrecision(3)} ${s}`;
  return String(n);
}

const isInt = (v: unknown): v is number => Number.isInteger(v);

/**
 * The drawable part of a genotype read from a file: operation names as strings, every index an
 * integer (entries that are not are left out), so that nothing but numbers reaches an SVG
 * attribute and every name goes through esc().
 */
function drawable(g: Genotype): Genotype {
  const cells: Record<string, [string, number][]> = {};
  for (const [label, gene] of Object.entries(g.cells && typeof g.cells === 'object' ? g.cells : {})) {
    if (!Array.isArray(gene)) continue;
    cells[label] = gene.filter((e) => Array.isArray(e) && isInt(e[1])).map(([op, from]) => [String(op), from]);
  }
  const concat: Record<string, number[]> = {};
  for (const [label, c] of Object.entries(g.concat && typeof g.concat === 'object' ? g.concat : {})) if (Array.isArray(c)) concat[label] = c.filter(isInt);
  const inputs: Record<string, [number, number][]> = {};
  for (const [label, ins] of Object.entries(g.inputs && typeof g.inputs === 'object' ? g.inputs : {})) {
    if (Array.isArray(ins)) inputs[label] = ins.filter((p) => Array.isArray(p) && isInt(p[0]) && isInt(p[1]));
  }
  return {
    ...g,
    space: typeof g.space === 'string' ? g.space : undefined,
    cells,
    concat: g.concat ? concat : undefined,
    path: Array.isArray(g.path) ? g.path.filter(isInt) : undefined,
    inputs: g.inputs ? inputs : undefined,
    output: isInt(g.output) ? g.output : undefined,
  };
}

/** The SVG drawings of a genotype (empty when it has nothing to draw). */
export function architectureSvgs(genotype: Genotype | null, config: Record<string, unknown>): { id: string; svg: string }[] {
  if (!genotype) return [];
  const g = drawable(genotype);
  const out: { id: string; svg: string }[] = [];
  const settings = (g.settings ?? {}) as Record<string, unknown>;
  const space = g.space ?? String(config.space);
  if (space === 'lattice' || space === 'lattice-dense' || space === 'lattice-fusion' || space === 'lattice-adl') {
    const layers = Number(settings.layers ?? config.layers ?? g.path?.length ?? 0);
    const scales = Number(settings.scales ?? config.scales ?? 4);
    if (layers > 0) {
      out.push({
        id: 'lattice',
        svg: latticeSvg({
          id: 'lattice',
          layers,
          scales,
          connectivity: space === 'lattice-dense' ? 'dense' : space === 'lattice-fusion' ? 'fusion' : 'short',
          path: g.path,
          inputs: g.inputs,
          output: g.output,
        }),
      });
    }
  }
  const numInputs = cellInputs(space);
  for (const [label, gene] of Object.entries(g.cells ?? {})) {
    const { nodes, edges } = cellEdges(gene, numInputs);
    const title =
      space === 'darts'
        ? `${label === 'reduce' ? 'reduction' : label} cell`
        : space === 'lattice-adl'
          ? 'cell (the same in every lattice node: the state two layers back and the resampled input → cell)'
          : 'cell (the same in every lattice node: resampled input → cell)';
    out.push({
      id: label,
      svg: cellSvg({
        id: label,
        title,
        nodes,
        edges,
        concat: g.concat?.[label],
        inputs: numInputs === 2 ? ['c_{k-2}', 'c_{k-1}'] : ['in'],
        output: numInputs === 2 ? 'c_{k}' : 'out',
      }),
    });
  }
  return out;
}

function opLegend(g: Genotype | null): string {
  const ops = new Set<string>();
  for (const gene of Object.values(g ? (drawable(g).cells ?? {}) : {})) for (const [op] of gene) ops.add(op);
  if (!ops.size) return '';
  return `<div class="legend">${[...ops]
    .sort()
    .map((o) => `<span><i style="background:${opColor(o)}"></i>${esc(o)}</span>`)
    .join('')}</div>`;
}

function costTable(cost: CostTable | null, problems: string[], measured: boolean): string {
  const notes = problems.length ? `<ul class="problems">${problems.map((p) => `<li>${esc(p)}</li>`).join('')}</ul>` : '';
  if (!measured) return `<p class="muted">Not measured (the report was written without cost).</p>${notes}`;
  if (!cost || !cost.rows.length) return `<p class="muted">No cost could be measured.</p>${notes}`;
  const [C, H, W] = cost.input;
  const rows = cost.rows
    .map(
      (r) =>
        `<tr data-network="${esc(r.network)}"><th>${esc(r.network)}</th>` +
        `<td class="num" title="${r.parameters.toLocaleString('en-US')}">${humanCount(r.parameters)}</td>` +
        `<td class="num" title="${r.macs === null ? '' : r.macs.toLocaleString('en-US')}">${humanCount(r.macs)}</td>` +
        `<td class="num">${r.latency ? `${r.latency.medianMs.toFixed(2)} <span class="muted">(min ${r.latency.minMs.toFixed(2)}, ${r.latency.iters} runs)</span>` : '–'}</td>` +
        `<td class="muted">${esc(r.detail)}</td></tr>`,
    )
    .join('');
  const fin = cost.rows.find((r) => r.network !== 'supernet'),
    sup = cost.rows.find((r) => r.network === 'supernet');
  const ratio =
    fin && sup && sup.parameters > 0
      ? `<p class="muted">The final network has ${((100 * fin.parameters) / sup.parameters).toFixed(1)}% of the supernet's parameters` +
        (fin.macs && sup.macs ? ` and ${((100 * fin.macs) / sup.macs).toFixed(1)}% of its multiply-accumulates.` : '.') +
        '</p>'
      : '';
  return (
    `<table class="cost" data-cost-rows="${cost.rows.length}"><thead><tr><th>network</th><th>parameters</th><th>multiply-accumulates</th><th>latency, median ms</th><th>rebuilt as</th></tr></thead><tbody>${rows}</tbody></table>` +
    `<p class="muted">For one ${C}×${H}×${W} image (${esc(cost.inputSource)}); latency: batch 1, eval mode, no grad, ${esc(cost.device)}, ${cost.threads} thread${cost.threads === 1 ? '' : 's'}, on the machine that wrote this report.</p>` +
    ratio +
    notes
  );
}

function settingsTable(config: Record<string, unknown>): string {
  return `<table class="settings">${Object.entries(config)
    .map(([k, v]) => `<tr><th>${esc(k)}</th><td><code>${esc(JSON.stringify(v))}</code></td></tr>`)
    .join('')}</table>`;
}

/** The "Sample predictions" section: a row per sample, image | truth | prediction. */
function samplesHtml(s: SampleSection): string {
  const notes = s.problems.length ? `<ul class="problems">${s.problems.map((p) => `<li>${esc(p)}</li>`).join('')}</ul>` : '';
  if (!s.samples.length) return `<p class="muted">No sample could be shown.</p>${notes}`;
  const img = (uri: string, alt: string) => `<img src="${esc(uri)}" alt="${esc(alt)}">`;
  const rows = s.samples
    .map(
      (x) =>
        `<tr data-sample="${esc(x.id)}"><th>${esc(x.id)}<div class="muted small">pixel accuracy ${esc(pctText(x.pixelAccuracy))}</div></th>` +
        `<td>${img(x.image, `${x.id}: image`)}</td><td>${img(x.truth, `${x.id}: ground truth`)}</td><td>${img(x.pred, `${x.id}: prediction`)}</td></tr>`,
    )
    .join('');
  const legend = s.legend.length
    ? `<div class="legend">${s.legend.map((c) => `<span><i class="swatch" style="background:${esc(c.color)}"></i>${esc(c.name)}</span>`).join('')}<span><i class="swatch" style="background:#000000"></i>no label</span></div>`
    : '';
  return `<table class="samples"><thead><tr><th>sample</th><th>image</th><th>ground truth</th><th>prediction</th></tr></thead><tbody>${rows}</tbody></table>${legend}${notes}`;
}

function heatHeight(rows: number): number {
  return Math.max(220, 90 + rows * 14);
}

export interface PageInput {
  title: string;
  rec: RunRecords;
  arch: ArchSeries;
  cost: CostTable | null;
  problems: string[];
  library: ChartLibrary;
  generated: Date;
  /** False when the report was asked for without cost. */
  costMeasured?: boolean;
  /** The run's sample predictions (samples/samples.json), when it has them. */
  samples?: SampleSection | null;
}

/** The page, and the ids of the charts and drawings it holds. */
export function renderPage(p: PageInput): { html: string; charts: string[]; graphs: string[] } {
  const { rec, arch } = p;
  const cfg = rec.config;
  const metricLabel = rec.metric === 'accuracy' ? 'top-1 accuracy' : 'mIoU';
  const metrics = rec.metrics;
  const last = metrics[metrics.length - 1];
  const totalEpochs = Number(cfg.epochs ?? last?.epoch ?? 0);
  const warmup = Number(cfg.warmupEpochs ?? 0);
  // Older configs name a strategy; newer ones an algorithm and a protocol.
  const strategy = typeof cfg.strategy === 'string' ? cfg.strategy : [rec.algorithm, rec.protocol].filter(Boolean).join(', ');
  const singleStage = rec.protocol === 'single-stage';
  const perClassRaw = rec.last?.perClassIoU as Record<string, number | null> | undefined;
  const perClass =
    perClassRaw && typeof perClassRaw === 'object' && Object.keys(perClassRaw).length
      ? { names: Object.keys(perClassRaw), values: Object.values(perClassRaw).map((v) => (typeof v === 'number' ? v : null)) }
      : null;

  const charts: string[] = [];
  const chart = (id: string, height = 300, cls = ''): string => {
    charts.push(id);
    return `<div class="chart ${cls}" data-chart="${esc(id)}" style="height:${height}px"></div>`;
  };
  const hasDerived = metrics.some((m) => m.derived !== null);
  const hasArch = arch.epochs.length > 0;
  const hasConvergence = metrics.some((m) => m.archMaxWeight !== null || m.archMargin !== null || m.archChanged !== null);

  // Summary cards.
  const atFreeze = rec.frozenAt !== null ? metrics.find((m) => m.epoch === rec.frozenAt) : [...metrics].reverse().find((m) => m.derived !== null);
  const best = rec.summary?.bestScore ?? rec.summary?.bestMiou;
  const cards: [string, string, string][] = [
    [`final ${metricLabel}`, pctText(last?.score), last ? `epoch ${last.epoch}, ${last.phase}` : 'no epoch finished'],
    [`best ${metricLabel}`, pctText(best), rec.summary ? 'of the final network' : 'run not finished'],
    [
      'architecture frozen',
      rec.frozenAt === null ? 'no' : rec.frozenAt === 0 ? 'from the start' : `after epoch ${rec.frozenAt}`,
      (rec.frozenAt === 0 ? 'a given genotype, trained from scratch' : rec.frozenAt !== null ? `of ${totalEpochs} (${strategy})` : strategy) +
        (rec.freezeReason ? `: ${rec.freezeReason}` : ''),
    ],
    [
      'discretization gap',
      signedPct(atFreeze?.gap),
      atFreeze ? `epoch ${atFreeze.epoch}; after BN recalibration ${signedPct(atFreeze.gapRecal)}` : 'not measured',
    ],
    [
      'epochs',
      `${last?.epoch ?? 0} / ${totalEpochs}`,
      typeof rec.summary?.wallSeconds === 'number' ? `${(rec.summary.wallSeconds as number).toFixed(1)} s wall time` : '',
    ],
  ];
  const fin = p.cost?.rows.find((r) => r.network !== 'supernet');
  if (fin)
    cards.push([
      'final network',
      `${humanCount(fin.parameters)} params`,
      `${humanCount(fin.macs)} MACs${fin.latency ? `, ${fin.latency.medianMs.toFixed(1)} ms` : ''}`,
    ]);
  if (last && last.costNetwork !== null) {
    const unit = last.costUnit ?? '';
    const searched = [...metrics].reverse().find((m) => m.costExpected !== null);
    cards.push([
      'cost (searched for)',
      `${last.costNetwork.toPrecision(4)} ${unit}`,
      `budget ${last.costTarget === null ? '–' : `${last.costTarget.toPrecision(4)} ${unit}`}` +
        (searched?.costExpected != null ? `; expected under the relaxation ${searched.costExpected.toPrecision(4)} at epoch ${searched.epoch}` : ''),
    ]);
  }
  // Every part is plain text (the phase and the freeze reason come from the run's files).
  const cardHtml = cards
    .map(([k, v, d]) => `<div class="card"><div class="k">${esc(k)}</div><div class="v">${esc(v)}</div><div class="d">${esc(d)}</div></div>`)
    .join('');

  // Files --skip-bad left out (summary.json): each entry checked, every part shown as text.
  const skipped = (Array.isArray(rec.summary?.skipped) ? (rec.summary.skipped as unknown[]) : [])
    .filter((s): s is Record<string, unknown> => typeof s === 'object' && s !== null)
    .map((s) => ({ split: String(s.split ?? ''), file: String(s.file ?? ''), reason: String(s.reason ?? '') }));
  const skippedHtml = skipped.length
    ? `<section id="skipped">
<h2>Skipped files</h2>
<p class="lead">${skipped.length} file${skipped.length === 1 ? ' was' : 's were'} unreadable and left out (<code>--skip-bad</code>).</p>
<table class="settings">${skipped
        .slice(0, 200)
        .map((s) => `<tr><th>${esc(s.split)}</th><td><code>${esc(s.file)}</code></td><td>${esc(s.reason)}</td></tr>`)
        .join('')}</table>
${skipped.length > 200 ? `<p class="muted">… and ${skipped.length - 200} more (summary.json lists them all).</p>` : ''}
</section>
`
    : '';

  const graphs = architectureSvgs(rec.genotype, cfg);
  const archHtml = graphs.length
    ? graphs.map((gr) => `<figure class="graph">${gr.svg}</figure>`).join('') + opLegend(rec.genotype)
    : rec.genotype?.choices
      ? `<table class="settings">${Object.entries(rec.genotype.choices)
          .map(([k, v]) => `<tr><th>${esc(k)}</th><td><code>${esc(JSON.stringify(v))}</code></td></tr>`)
          .join('')}</table>`
      : '<p class="muted">No genotype in this run directory yet.</p>';

  const heatGroups = arch.groups.filter((g) => g.rows.length);
  const heatHtml =
    hasArch && heatGroups.length
      ? `<div class="heat-grid">${heatGroups
          .map((g) => {
            const rows = g.rows.reduce((a, r) => a + 1 + r.options.length, 0);
            return `<div>${chart(`weights:${g.name}`, heatHeight(rows), 'heat')}${g.fixedRows ? `<p class="muted small">${g.fixedRows} choice${g.fixedRows === 1 ? '' : 's'} with a single option left out.</p>` : ''}</div>`;
          })
          .join('')}</div>`
      : '<p class="muted">This run logged no architecture weights (no searching epoch).</p>';

  const data: PageData = { metricLabel, epochs: metrics, totalEpochs, warmupEpochs: warmup, frozenAt: rec.frozenAt, strategy, singleStage, arch, perClass };
  const has = (k: string) => cfg[k] !== undefined && cfg[k] !== null;
  const settingsLine = [
    `data set <b>${esc(cfg.dataset)}</b>`,
    `space <b>${esc(cfg.space)}</b> (${['layers', 'channels', 'nodes', ...(cfg.space === 'darts' ? [] : ['scales'])]
      .filter(has)
      .map((k) => `${k} ${esc(cfg[k])}`)
      .join(', ')})`,
    ...(typeof cfg.strategy === 'string' ? [`strategy <b>${esc(strategy)}</b>`] : []),
    ...(rec.algorithm ? [`algorithm <b>${esc(rec.algorithm)}</b>`] : []),
    ...(rec.protocol ? [`protocol <b>${esc(rec.protocol)}</b>`] : []),
    ...['relaxation', 'split', 'seed'].filter(has).map((k) => `${k} ${esc(cfg[k])}`),
  ].join(' · ');
  const versions = (cfg.versions ?? {}) as Record<string, unknown>;

  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="dnas ${esc(versions.dnas ?? '')}">
<title>${esc(p.title)}</title>
<style>
:root { --fg: #212121; --muted: #757575; --line: #e0e0e0; --bg: #fafafa; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--fg); background: var(--bg); }
header { padding: 18px 28px 12px; background: #fff; border-bottom: 1px solid var(--line); }
header h1 { margin: 0 0 4px; font-size: 21px; font-weight: 600; }
header .sub { color: var(--muted); font-size: 13px; }
main { padding: 8px 28px 28px; max-width: 1500px; margin: 0 auto; }
section { margin-top: 22px; }
h2 { font-size: 17px; font-weight: 600; margin: 0 0 4px; }
.lead { color: var(--muted); margin: 0 0 10px; max-width: 980px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr)); gap: 10px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; }
.card .k { color: var(--muted); font-size: 12px; letter-spacing: .02em; }
.card .v { font-size: 22px; font-weight: 600; margin: 2px 0; }
.card .d { color: var(--muted); font-size: 12px; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 12px; }
.chart { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 4px; width: 100%; }
.chart-error { color: #c62828; padding: 12px; }
.heat-grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(560px, 1fr)); gap: 12px; align-items: start; }
figure.graph { margin: 0 0 12px; background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 6px; overflow-x: auto; }
figure.graph svg { display: block; font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 16px; font-size: 12px; color: #424242; }
.legend i { display: inline-block; width: 14px; height: 4px; border-radius: 2px; margin: 0 6px 3px 0; vertical-align: middle; }
table { border-collapse: collapse; background: #fff; }
table.cost { width: 100%; border: 1px solid var(--line); }
table.cost th, table.cost td { padding: 7px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
table.cost thead th { font-size: 12px; color: var(--muted); font-weight: 600; background: #f5f5f5; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
table.settings th, table.settings td { padding: 3px 10px; border-bottom: 1px solid #f0f0f0; text-align: left; font-weight: normal; }
table.settings th { color: var(--muted); }
.muted { color: var(--muted); }
.small { font-size: 12px; margin: 4px 2px; }
ul.problems { color: #8d6e63; font-size: 13px; }
details { margin-top: 8px; }
summary { cursor: pointer; color: #1565c0; }
pre { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px; overflow-x: auto; font-size: 12px; }
table.samples { border: 1px solid var(--line); }
table.samples th, table.samples td { padding: 6px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; font-weight: normal; }
table.samples thead th { font-size: 12px; color: var(--muted); font-weight: 600; background: #f5f5f5; }
table.samples img { display: block; width: 192px; max-width: 30vw; image-rendering: pixelated; border: 1px solid var(--line); }
.legend i.swatch { width: 12px; height: 12px; border: 1px solid #bdbdbd; }
footer { color: var(--muted); font-size: 12px; padding: 12px 28px 24px; border-top: 1px solid var(--line); }
</style>
</head>
<body data-report="dnas">
<header>
<h1>${esc(p.title)}</h1>
<div class="sub">${settingsLine}</div>
<div class="sub">${esc(rec.dir)}</div>
</header>
<main>
<section id="summary"><div class="cards">${cardHtml}</div></section>

<section id="training">
<h2>Training</h2>
<p class="lead">One point per epoch. Shaded: warm-up (weights only), search (architecture and weight steps), and after the freeze the ${singleStage ? 'derived network trained on with its inherited weights' : 'final network'}.</p>
<div class="grid">${chart('loss')}${chart('score')}</div>
</section>

<section id="gap">
<h2>Discretization gap</h2>
<p class="lead">At each searching epoch, the supernet's validation ${metricLabel} against the network decoded from it with the same weights, before and after re-estimating its BatchNorm statistics${metrics.some((m) => m.control !== null) ? ', and against random genotypes evaluated the same way (the control: a derived network no better than these owes little to the search)' : ''}. ${singleStage ? 'After the freeze the derived network is the one trained.' : ''}</p>
${hasDerived ? `<div class="grid">${chart('gap')}${chart('gap-bars')}</div>` : '<p class="muted">Not measured in this run (no searching epoch).</p>'}
</section>

<section id="architecture">
<h2>Found architecture</h2>
${rec.genotype ? `<p class="lead">The genotype from ${esc(rec.genotypeSource)}${rec.genotype.space ? ` (space ${esc(rec.genotype.space)})` : ''}.</p>` : ''}
${archHtml}
${rec.genotype ? `<details><summary>genotype JSON</summary><pre>${esc(JSON.stringify(rec.genotype, null, 2))}</pre></details>` : ''}
</section>
${
  p.samples
    ? `
<section id="samples">
<h2>Sample predictions</h2>
<p class="lead">The final network on the first validation samples${p.samples.source ? ` (${esc(p.samples.source)})` : ''}: the input image, the ground truth and the prediction in the data set's class colours; pixels without a label are black.</p>
${samplesHtml(p.samples)}
</section>
`
    : ''
}
<section id="search">
<h2>Search dynamics</h2>
<p class="lead">Relaxation weights (softmax of the architecture parameters) of every choice at the end of each searching epoch: one block per edge (operations) or lattice node (inputs); the options the final genotype keeps are marked ◀ in red.${hasConvergence ? ' Convergence: the mean over choices of the largest weight (against what uniform weights give), of the margin between the two largest, and how many decoded choices changed since the previous epoch.' : ''}${rec.freezeReason ? ` Frozen because: ${esc(rec.freezeReason)}.` : ''}</p>
${
  hasArch || hasConvergence || perClass
    ? `<div class="grid">${hasArch ? chart('entropy') : ''}${hasConvergence ? chart('convergence') : ''}${perClass ? chart('per-class', Math.max(220, 60 + perClass.names.length * 22)) : ''}</div>` +
      (arch.epochs.length >= 2 ? chart('timeline', Math.max(220, 90 + arch.groups.reduce((a, g) => a + g.rows.length, 0) * 16)) : '')
    : ''
}
${heatHtml}
</section>

${skippedHtml}<section id="cost">
<h2>Cost</h2>
${costTable(p.cost, p.problems, p.costMeasured !== false)}
</section>

<section id="settings">
<h2>Settings</h2>
<details><summary>config.json (${Object.keys(cfg).length} entries)</summary>${settingsTable(cfg)}</details>
</section>
</main>
<footer>Written by dnas ${esc(versions.dnas ?? '')} on ${esc(p.generated.toISOString())} (libtorch ${esc(versions.libtorch ?? '?')}, Node ${esc(versions.node ?? '?')} for the run).
Charts: ${esc(p.library.name)} ${esc(p.library.version)} (${esc(p.library.license)}), embedded in this file; it needs no network.</footer>
<script>${scriptSafe(p.library.source)}</script>
<script type="application/json" id="report-data">${JSON.stringify(data).replace(/</g, '\\u003c')}</script>
<script>
(${scriptSafe(renderCharts.toString())})(JSON.parse(document.getElementById('report-data').textContent));
</script>
</body>
</html>
`;
  // In page order.
  const inPage = [...html.matchAll(/data-chart="([^"]+)"/g)].map((m) =>
    m[1]
      .replace(/&quot;/g, '"')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&amp;/g, '&'),
  );
  return { html, charts: inPage.length === charts.length ? inPage : charts, graphs: graphs.map((g) => g.id) };
}
