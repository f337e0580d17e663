/**
 * `dnas report RUN_A RUN_B ...`: one self-contained page that overlays several runs: a table of
 * each run's settings and results, and the validation score, training loss, discretization gap
 * and architecture convergence of every run on shared axes. Runs of cost-aware searches with the
 * same cost also get their cost beside their score, and a chart of cost against final score with
 * the front (the runs no other run beats in both) marked.
 */
import * as path from 'node:path';
import { writeFileAtomic } from '../torch/io';
import { readRun, RunRecords } from './data';
import { esc } from './html';
import { loadEcharts, pctText, scriptSafe } from './page';

/** One run's series for the page script (numbers and names only). */
interface CompareSeries {
  name: string;
  epochs: number[];
  score: (number | null)[];
  trainLoss: (number | null)[];
  gap: (number | null)[];
  maxWeight: (number | null)[];
  frozenAt: number | null;
  /** The final network's cost (cost-aware searches), its final score, and whether it is on the front. */
  cost: number | null;
  final: number | null;
  front: boolean;
}

/** Indices of the points no other point beats: as cheap or cheaper and as good or better, one strictly. */
export function paretoFront(points: { cost: number; score: number }[]): number[] {
  return points
    .map((p, i) => ({ p, i }))
    .filter(({ p, i }) => !points.some((q, j) => j !== i && q.cost <= p.cost && q.score >= p.score && (q.cost < p.cost || q.score > p.score)))
    .map(({ i }) => i);
}

/** The code run in the page (embedded as source text: nothing from outside its body). */
export function renderCompare(data: { metricLabel: string; costUnit: string | null; runs: CompareSeries[] }): void {
  const g: any = globalThis; // eslint-disable-line @typescript-eslint/no-explicit-any
  const COLORS = ['#1565c0', '#ef6c00', '#2e7d32', '#c62828', '#6a1b9a', '#00838f', '#5d4037', '#ad1457', '#546e7a', '#9e9d24'];
  const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
  const line = (title: string, pick: (r: CompareSeries) => (number | null)[], percent: boolean) => ({
    animation: false,
    color: COLORS,
    title: { text: title, left: 8, top: 4, textStyle: { fontSize: 14, fontWeight: 600 } },
    tooltip: { trigger: 'axis' },
    legend: { type: 'scroll', bottom: 0 },
    grid: { left: 56, right: 24, top: 40, bottom: 56 },
    xAxis: { type: 'value', name: 'epoch', nameLocation: 'middle', nameGap: 24, minInterval: 1 },
    yAxis: { type: 'value', scale: true, ...(percent ? { axisLabel: { formatter: pct } } : {}) },
    series: data.runs.map((r) => ({
      type: 'line',
      name: r.name,
      showSymbol: false,
      connectNulls: false,
      data: r.epochs.map((e, i) => [e, pick(r)[i]]).filter((p) => p[1] !== null),
      ...(r.frozenAt !== null
        ? { markLine: { silent: true, symbol: 'none', lineStyle: { type: 'dashed' }, label: { show: false }, data: [{ xAxis: r.frozenAt }] } }
        : {}),
    })),
  });
  const charts: Record<string, () => unknown> = {
    score: () => line(`Validation ${data.metricLabel} (dashed: each run's freeze)`, (r) => r.score, true),
    loss: () => line('Training loss', (r) => r.trainLoss, false),
    gap: () => line('Discretization gap (supernet - derived network)', (r) => r.gap, true),
    convergence: () => line('Mean largest architecture weight per choice', (r) => r.maxWeight, false),
    front: () => ({
      animation: false,
      color: COLORS,
      title: {
        text: `Final ${data.metricLabel} against cost (${data.costUnit}); the front is joined`,
        left: 8,
        top: 4,
        textStyle: { fontSize: 14, fontWeight: 600 },
      },
      tooltip: { trigger: 'item' },
      legend: { type: 'scroll', bottom: 0 },
      grid: { left: 56, right: 24, top: 40, bottom: 56 },
      xAxis: { type: 'value', scale: true, name: data.costUnit, nameLocation: 'middle', nameGap: 24 },
      yAxis: { type: 'value', scale: true, axisLabel: { formatter: pct } },
      series: [
        ...data.runs
          .filter((r) => r.cost !== null && r.final !== null)
          .map((r) => ({ type: 'scatter', name: r.name, symbolSize: r.front ? 14 : 9, data: [[r.cost, r.final]] })),
        {
          type: 'line',
          name: 'front',
          color: '#9e9e9e',
          showSymbol: false,
          data: data.runs
            .filter((r) => r.front)
            .map((r) => [r.cost, r.final])
            .sort((a, b) => (a[0] as number) - (b[0] as number)),
        },
      ],
    }),
  };
  let rendered = 0;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  for (const el of Array.from(g.document.querySelectorAll('[data-chart]')) as any[]) {
    const id: string = el.getAttribute('data-chart');
    try {
      g.echarts.init(el, null, { renderer: 'canvas' }).setOption(charts[id]());
      el.setAttribute('data-rendered', '1');
      rendered++;
    } catch (e) {
      el.textContent = `This chart could not be drawn: ${(e as Error).message}`;
    }
  }
  g.document.body.setAttribute('data-charts-rendered', String(rendered));
}

/** Short, distinct names for the runs: their folder names (with the parent when two are equal). */
function runNames(recs: RunRecords[]): string[] {
  const base = recs.map((r) => path.basename(r.dir));
  return recs.map((r, i) => (base.filter((b) => b === base[i]).length > 1 ? `${path.basename(path.dirname(r.dir))}/${base[i]}` : base[i]));
}

/** The comparison page of `runDirs` (at least two). */
export function buildComparison(runDirs: string[], o: { title?: string } = {}): { html: string; charts: string[] } {
  if (runDirs.length < 2) throw new Error('a comparison needs at least two run directories');
  const recs = runDirs.map((d) => readRun(d));
  const names = runNames(recs);
  const metricLabel = recs.every((r) => r.metric === 'accuracy') ? 'top-1 accuracy' : recs.every((r) => r.metric !== 'accuracy') ? 'mIoU' : 'score';
  // Costs are compared only between runs that measured the same one.
  const kinds = new Set(recs.map((r) => r.config.cost ?? 'none'));
  const costKind = kinds.size === 1 && !kinds.has('none') ? String([...kinds][0]) : null;
  const costUnit = costKind ? (({ macs: 'MMACs', params: 'M parameters', latency: 'ms' } as Record<string, string>)[costKind] ?? costKind) : null;
  const lastOf = (r: RunRecords) => r.metrics[r.metrics.length - 1];
  // The score of the network the cost is of: a run still searching at its end reports its decoded network's.
  const finalScore = (r: RunRecords) => {
    const m = lastOf(r);
    if (!m) return null;
    return m.phase === 'search' || m.phase === 'warmup' ? (m.derived ?? m.score) : m.score;
  };
  const points = recs.map((r) => ({ cost: costKind ? (lastOf(r)?.costNetwork ?? null) : null, score: finalScore(r) }));
  const known = points.map((p, i) => ({ ...p, i })).filter((p): p is { cost: number; score: number; i: number } => p.cost !== null && p.score !== null);
  const front = new Set(paretoFront(known).map((k) => known[k].i));
  const runs: CompareSeries[] = recs.map((r, i) => ({
    name: names[i],
    cost: points[i].cost,
    final: points[i].score,
    front: front.has(i),
    epochs: r.metrics.map((m) => m.epoch),
    score: r.metrics.map((m) => m.score),
    trainLoss: r.metrics.map((m) => m.trainLoss),
    gap: r.metrics.map((m) => m.gap),
    maxWeight: r.metrics.map((m) => m.archMaxWeight),
    frozenAt: r.frozenAt,
  }));
  const cfg = (r: RunRecords, k: string) => (r.config[k] === undefined || r.config[k] === null ? '–' : String(r.config[k]));
  const rows = recs
    .map((r, i) => {
      const last = r.metrics[r.metrics.length - 1];
      const best = r.summary?.bestScore;
      return (
        `<tr><th>${esc(names[i])}</th><td>${esc(cfg(r, 'dataset'))}</td><td>${esc(cfg(r, 'space'))}</td><td>${esc(r.algorithm ?? cfg(r, 'strategy'))}</td>` +
        `<td>${esc(r.protocol ?? '–')}</td><td>${esc(cfg(r, 'seed'))}</td><td>${esc(r.frozenAt === null ? 'no' : `after ${r.frozenAt}`)}</td>` +
        `<td>${esc(`${last?.epoch ?? 0} / ${cfg(r, 'epochs')}`)}</td><td class="num">${esc(pctText(last?.score))}</td><td class="num">${esc(pctText(best))}</td>` +
        `<td class="num">${esc(typeof r.summary?.wallSeconds === 'number' ? `${(r.summary.wallSeconds as number).toFixed(1)} s` : '–')}</td>` +
        (costKind ? `<td class="num">${esc(points[i].cost === null ? '–' : `${points[i].cost!.toPrecision(4)}${front.has(i) ? ' (front)' : ''}`)}</td>` : '') +
        '</tr>'
      );
    })
    .join('');
  const charts = ['score', 'loss', 'gap', 'convergence', ...(costKind && known.length ? ['front'] : [])];
  const library = loadEcharts();
  const title = o.title ?? `dnas: ${names.join(' vs ')}`;
  const data = JSON.stringify({ metricLabel, costUnit, runs }).replace(/</g, '\\u003c');
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#212121}table{border-collapse:collapse;margin:12px 0}
th,td{border-bottom:1px solid #e0e0e0;padding:4px 10px;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(440px,1fr));gap:16px}.chart{height:340px}.muted{color:#757575}</style></head>
<body data-report="dnas-compare"><h1>${esc(title)}</h1>
<p class="muted">${recs.map((r) => esc(r.dir)).join('<br>')}</p>
<table><tr><th>run</th><th>data set</th><th>space</th><th>algorithm</th><th>protocol</th><th>seed</th><th>frozen</th><th>epochs</th><th>final ${esc(metricLabel)}</th><th>best</th><th>wall time</th>${costKind ? `<th>cost (${esc(costUnit!)})</th>` : ''}</tr>${rows}</table>
<div class="grid">${charts.map((c) => `<div class="chart" data-chart="${c}"></div>`).join('')}</div>
<p class="muted">Charts: ${esc(library.name)} ${esc(library.version)} (${esc(library.license)}), embedded; the page needs no network.</p>
<script>${scriptSafe(library.source)}</script>
<script type="application/json" id="compare-data">${data}</script>
<script>(${scriptSafe(renderCompare.toString())})(JSON.parse(document.getElementById('compare-data').textContent));</script>
</body></html>
`;
  return { html, charts };
}

/** Writes the comparison page of `runDirs` to `outFile`; returns the file. */
export function writeComparison(runDirs: string[], outFile: string, o: { title?: string } = {}): { file: string; bytes: number; charts: string[] } {
  const { html, charts } = buildComparison(runDirs, o);
  const file = path.resolve(outFile);
  const buf = Buffer.from(html, 'utf8');
  writeFileAtomic(file, buf);
  return { file, bytes: buf.length, charts };
}
