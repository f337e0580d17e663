/**
 * Static SVG charts of experiment results, drawn with ECharts' server-side renderer (no browser).
 * Means are drawn as solid lines or bars, and each seed's own value as a faint line or a dot, so
 * the spread is visible without hiding any run.
 */
import { Stat } from './stats';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const echarts = require('echarts') as {
  init(
    dom: null,
    theme: null,
    o: { renderer: 'svg'; ssr: true; width: number; height: number },
  ): {
    setOption(o: unknown): void;
    renderToSVGString(): string;
    dispose(): void;
  };
};

const PALETTE = ['#4c72b0', '#dd8452', '#55a868', '#c44e52', '#8172b3', '#937860', '#da8bc3', '#8c8c8c'];

function render(option: Record<string, unknown>, width = 760, height = 380): string {
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width, height });
  chart.setOption({ animation: false, color: PALETTE, backgroundColor: '#ffffff', textStyle: { fontFamily: 'sans-serif' }, ...option });
  const svg = chart.renderToSVGString();
  chart.dispose();
  return svg;
}

/** A line per series over x = epoch (or any number): the mean, plus each seed's values, faint. */
export interface LineSeries {
  name: string;
  points: { x: number; y: Stat }[];
}

export function lineChart(o: { title: string; xName: string; yName: string; series: LineSeries[]; percent?: boolean }): string {
  const scale = o.percent ? 100 : 1;
  const series: Record<string, unknown>[] = [];
  o.series.forEach((s, k) => {
    const color = PALETTE[k % PALETTE.length];
    series.push({
      name: s.name,
      type: 'line',
      symbolSize: 5,
      lineStyle: { width: 2.5, color },
      itemStyle: { color },
      data: s.points.map((p) => [p.x, p.y.mean * scale]),
    });
    const seeds = Math.max(0, ...s.points.map((p) => p.y.values.length));
    for (let i = 0; i < seeds; i++) {
      series.push({
        name: s.name,
        type: 'line',
        symbol: 'none',
        silent: true,
        lineStyle: { width: 1, opacity: 0.3, color },
        data: s.points.filter((p) => p.y.values.length > i).map((p) => [p.x, p.y.values[i] * scale]),
      });
    }
  });
  return render({
    title: { text: o.title, left: 'center', top: 4, textStyle: { fontSize: 14 } },
    legend: { top: 32, data: o.series.map((s) => s.name) },
    grid: { left: 64, right: 24, top: 76, bottom: 48 },
    xAxis: { type: 'value', name: o.xName, nameLocation: 'middle', nameGap: 28, minInterval: 1, min: 'dataMin', max: 'dataMax' },
    yAxis: { type: 'value', name: o.yName, nameLocation: 'middle', nameGap: 44, scale: true },
    series,
  });
}

/** Grouped bars (one group per category, one bar per series) of means, with a dot per seed. */
export interface BarSeries {
  name: string;
  values: Stat[];
}

export function barChart(o: { title: string; categories: string[]; yName: string; series: BarSeries[]; percent?: boolean }): string {
  const scale = o.percent ? 100 : 1;
  const n = o.series.length;
  const series: Record<string, unknown>[] = [];
  o.series.forEach((s, k) => {
    const color = PALETTE[k % PALETTE.length];
    series.push({ name: s.name, type: 'bar', barGap: '10%', itemStyle: { color, opacity: 0.75 }, data: s.values.map((v) => v.mean * scale) });
  });
  // Seed values as dots over their bar: a scatter on a second, numeric x axis with the same
  // category positions (category i spans [i - 0.5, i + 0.5]; bar k of n sits at its share of it).
  const dots: [number, number][][] = o.series.map(() => []);
  o.series.forEach((s, k) =>
    s.values.forEach((v, i) => {
      const x = i + (n > 1 ? ((k + 0.5) / n - 0.5) * 0.8 : 0);
      for (const y of v.values) dots[k].push([x, y * scale]);
    }),
  );
  o.series.forEach((s, k) =>
    series.push({
      name: s.name,
      type: 'scatter',
      xAxisIndex: 1,
      symbolSize: 6,
      silent: true,
      itemStyle: { color: '#222', opacity: 0.8, borderColor: '#fff', borderWidth: 1 },
      data: dots[k],
    }),
  );
  return render({
    title: { text: o.title, left: 'center', top: 4, textStyle: { fontSize: 14 } },
    legend: { top: 32, data: o.series.map((s) => s.name) },
    grid: { left: 64, right: 24, top: 76, bottom: 56 },
    xAxis: [
      { type: 'category', data: o.categories, axisLabel: { interval: 0 } },
      { type: 'value', min: -0.5, max: o.categories.length - 0.5, show: false },
    ],
    yAxis: { type: 'value', name: o.yName, nameLocation: 'middle', nameGap: 44, axisLine: { onZero: false } },
    series,
  });
}
