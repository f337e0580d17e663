/**
 * The code that runs in the report page: it turns the embedded data into Apache ECharts charts.
 * It is written here as one self-contained function so that it is type-checked with the data
 * types, and embedded in the page as its source text (`renderCharts.toString()`): it must not
 * use anything from outside its body (no imports, no module-level helpers).
 */
import type { ArchSeries, EpochPoint } from './data';

/** The data the page script needs (embedded as JSON). */
export interface PageData {
  /** 'mIoU' or 'top-1 accuracy'. */
  metricLabel: string;
  epochs: EpochPoint[];
  totalEpochs: number;
  warmupEpochs: number;
  frozenAt: number | null;
  /** The strategy, or algorithm and protocol, in words. */
  strategy: string;
  /** Single-stage protocol: the final network continues from the derived one at the freeze. */
  singleStage: boolean;
  arch: ArchSeries;
  perClass: { names: string[]; values: (number | null)[] } | null;
}

/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * Draws every `[data-chart]` element of the page. Runs in the browser, with `echarts` global.
 * Sets `data-rendered` on each chart element and `data-charts-rendered` (the count) on <body>.
 */
export function renderCharts(data: PageData): void {
  const g: any = globalThis;
  const echarts = g.echarts;
  const doc = g.document;
  const charts: any[] = [];
  const E = Math.max(1, data.totalEpochs, ...data.epochs.map((p) => p.epoch));
  const F = data.frozenAt;
  const W = data.warmupEpochs;
  const COLORS = ['#1565c0', '#ef6c00', '#2e7d32', '#c62828', '#6a1b9a', '#00838f', '#5d4037'];
  // Tooltips are built from DOM nodes whose text is set as text: nothing from the run's files is
  // ever parsed as HTML. `parts`: plain strings, [text] for bold, null for a line break.
  const tip = (parts: (string | [string] | null)[]): any => {
    const el = doc.createElement('div');
    for (const p of parts) {
      if (p === null) el.appendChild(doc.createElement('br'));
      else if (typeof p === 'string') el.appendChild(doc.createTextNode(p));
      else {
        const b = doc.createElement('b');
        b.textContent = p[0];
        el.appendChild(b);
      }
    }
    return el;
  };
  const pct = (v: number | null | undefined): string => (v === null || v === undefined || Number.isNaN(v) ? '–' : `${(v * 100).toFixed(2)}%`);
  const numf = (v: number | null | undefined): string =>
    v === null || v === undefined || Number.isNaN(v) ? '–' : Math.abs(v) >= 1e-3 || v === 0 ? v.toFixed(4) : v.toExponential(2);
  const pts = (sel: (p: EpochPoint) => number | null, filter: (p: EpochPoint) => boolean = () => true): [number, number][] =>
    data.epochs.filter((p) => filter(p) && sel(p) !== null).map((p) => [p.epoch, sel(p) as number]);
  const searching = (p: EpochPoint) => p.phase === 'warmup' || p.phase === 'search';
  // Epoch tick labels: at most ~12, always integers.
  const step = Math.max(1, Math.ceil(E / 12));
  const ticks: number[] = [];
  for (let e = 1; e <= E; e += step) ticks.push(e);
  const xAxis = () => ({
    type: 'value',
    name: 'epoch',
    nameLocation: 'middle',
    nameGap: 26,
    min: 0.5,
    max: E + 0.5,
    axisLabel: { customValues: ticks },
    axisTick: { customValues: ticks },
    splitLine: { show: false },
  });
  // Phase bands and the freeze line, drawn with the first series of a chart.
  const phaseMarks = () => {
    const areas: any[] = [];
    const band = (a: number, b: number, name: string, color: string) => {
      if (b > a) areas.push([{ name, xAxis: a, itemStyle: { color } }, { xAxis: b }]);
    };
    const end = F ?? E;
    if (W > 0) band(0.5, Math.min(W, end) + 0.5, 'warm-up', 'rgba(120,120,120,0.08)');
    if (F !== null || data.epochs.some((p) => p.phase === 'search')) band(Math.min(W, end) + 0.5, end + 0.5, 'search', 'rgba(21,101,192,0.06)');
    if (F !== null && F < E) band(F + 0.5, E + 0.5, data.singleStage ? 'frozen' : 'retrain', 'rgba(46,125,50,0.07)');
    return {
      markArea: { silent: true, label: { show: true, position: 'insideTop', color: '#9e9e9e', fontSize: 10 }, data: areas },
      markLine:
        F === null || F === 0
          ? undefined
          : {
              silent: true,
              symbol: 'none',
              lineStyle: { color: '#c62828', type: 'dashed', width: 1.5 },
              label: { formatter: `freeze (after epoch ${F})`, position: 'insideEndTop', color: '#c62828', fontSize: 10 },
              data: [{ xAxis: F + 0.5 }],
            },
    };
  };
  const base = (title: string) => ({
    animation: false,
    color: COLORS,
    title: { text: title, left: 8, top: 4, textStyle: { fontSize: 14, fontWeight: 600 } },
    legend: { top: 28, left: 'center', itemWidth: 18, textStyle: { fontSize: 11 } },
    grid: { left: 58, right: 58, top: 64, bottom: 44 },
  });
  const line = (name: string, pointsOf: [number, number][], extra: Record<string, unknown> = {}) => ({
    type: 'line',
    name,
    data: pointsOf,
    symbolSize: 5,
    showSymbol: pointsOf.length <= 60,
    connectNulls: false,
    ...extra,
  });
  const asPct = { formatter: (v: number) => `${Math.round(v * 1000) / 10}%` };

  const builders: Record<string, () => any> = {
    loss: () => {
      const s = [
        line(
          'train loss',
          pts((p) => p.trainLoss),
          phaseMarks(),
        ),
        line(
          'validation loss',
          pts((p) => p.valLoss),
        ),
        line(
          'learning rate',
          pts((p) => p.lr),
          { yAxisIndex: 1, lineStyle: { type: 'dashed', width: 1 }, symbol: 'none' },
        ),
      ];
      return {
        ...base('Loss'),
        tooltip: { trigger: 'axis', valueFormatter: numf },
        xAxis: xAxis(),
        yAxis: [
          { type: 'value', name: 'loss', scale: true },
          { type: 'value', name: 'lr', splitLine: { show: false }, axisLabel: { formatter: (v: number) => v.toPrecision(2) } },
        ],
        series: s,
      };
    },
    score: () => ({
      ...base(`Validation ${data.metricLabel}`),
      tooltip: { trigger: 'axis', valueFormatter: pct },
      xAxis: xAxis(),
      yAxis: { type: 'value', scale: true, axisLabel: asPct },
      series: [
        line(
          `${data.metricLabel} (network being trained)`,
          pts((p) => p.score),
          phaseMarks(),
        ),
        ...(data.epochs.some((p) => p.pixelAccuracy !== null)
          ? [
              line(
                'pixel accuracy',
                pts((p) => p.pixelAccuracy),
                { lineStyle: { type: 'dashed' } },
              ),
            ]
          : []),
      ],
    }),
    gap: () => {
      const finalPts = pts(
        (p) => p.score,
        (p) => !searching(p),
      );
      if (F !== null && data.singleStage) {
        const at = data.epochs.find((p) => p.epoch === F);
        if (at && at.derived !== null) finalPts.unshift([F, at.derived]);
      }
      return {
        ...base(`Discretization gap: supernet vs derived ${data.metricLabel}`),
        tooltip: { trigger: 'axis', valueFormatter: pct },
        xAxis: xAxis(),
        yAxis: { type: 'value', scale: true, axisLabel: asPct },
        series: [
          // Wider, so that it still shows where the derived network's line lies on it (no gap).
          line(
            'supernet',
            pts((p) => p.score, searching),
            { ...phaseMarks(), lineStyle: { width: 4, opacity: 0.55 }, symbolSize: 8 },
          ),
          line(
            'derived (same weights)',
            pts((p) => p.derived),
          ),
          line(
            'derived, BN recalibrated',
            pts((p) => p.derivedRecal),
            { lineStyle: { type: 'dashed' } },
          ),
          line(data.singleStage ? 'final network (derived, trained on)' : 'final network', finalPts, { lineStyle: { width: 2.5 } }),
          // The control: random genotypes with the same supernet weights; a derived network no better than these says the search chose little.
          ...(data.epochs.some((p) => p.control !== null)
            ? [
                line(
                  'random genotypes (control, mean)',
                  pts((p) => p.control),
                  { lineStyle: { type: 'dotted', width: 2 }, symbol: 'diamond' },
                ),
                {
                  type: 'scatter',
                  name: 'random genotypes (each)',
                  symbolSize: 5,
                  itemStyle: { opacity: 0.45 },
                  data: data.epochs.flatMap((p) => (p.controlScores ?? []).map((v) => [p.epoch, v])),
                },
              ]
            : []),
        ],
      };
    },
    'gap-bars': () => ({
      ...base('Gap = supernet − derived'),
      tooltip: { trigger: 'axis', valueFormatter: pct },
      xAxis: xAxis(),
      yAxis: { type: 'value', axisLabel: asPct },
      series: [
        // (ECharts widens a value axis that holds bars by half a bar on each side.)
        { type: 'bar', name: 'gap', data: pts((p) => p.gap), barMaxWidth: 18, ...phaseMarks() },
        { type: 'bar', name: 'gap after BN recalibration', data: pts((p) => p.gapRecal), barMaxWidth: 18 },
        ...(data.epochs.some((p) => p.gapControl !== null)
          ? [{ type: 'bar', name: 'supernet − random genotypes', data: pts((p) => p.gapControl), barMaxWidth: 18 }]
          : []),
      ],
    }),
    // When each choice's leading option changed: one mark per change, rows of every group.
    timeline: () => {
      const cats: string[] = [];
      const marks: { x: number; y: number; from: string; to: string }[] = [];
      for (const grp of data.arch.groups) {
        for (const r of grp.rows) {
          const y = cats.length;
          cats.push(`${grp.title}: ${r.title}`);
          let prev = -1;
          r.values.forEach((vals, x) => {
            if (!Array.isArray(vals) || vals.length === 0) return;
            let lead = 0;
            vals.forEach((v, k) => {
              if (v > vals[lead]) lead = k;
            });
            if (prev >= 0 && lead !== prev) marks.push({ x, y, from: String(r.options[prev]), to: String(r.options[lead]) });
            prev = lead;
          });
        }
      }
      return {
        animation: false,
        title: {
          text: `Decisions changing: ${marks.length} changes of a choice's leading option`,
          left: 8,
          top: 4,
          textStyle: { fontSize: 14, fontWeight: 600 },
        },
        tooltip: {
          formatter: (p: any) => {
            const m = marks[p.dataIndex];
            return m ? tip([cats[m.y], null, `epoch ${data.arch.epochs[m.x]}: `, [m.from], ' → ', [m.to]]) : '';
          },
        },
        grid: { left: 12, right: 24, top: 36, bottom: 40, containLabel: true },
        xAxis: { type: 'category', data: data.arch.epochs.map(String), name: 'epoch', nameLocation: 'middle', nameGap: 24 },
        yAxis: { type: 'category', data: cats, inverse: true, axisLabel: { fontSize: 10, interval: 0 }, axisTick: { show: false } },
        series: [{ type: 'scatter', symbol: 'diamond', symbolSize: 9, itemStyle: { color: '#c62828' }, data: marks.map((m) => [m.x, m.y]) }],
      };
    },
    convergence: () => {
      const uniform = pts((p) => p.archUniform);
      return {
        ...base('Convergence of the relaxation weights'),
        tooltip: { trigger: 'axis', valueFormatter: (v: number) => (Number.isInteger(v) && v > 1 ? String(v) : numf(v)) },
        xAxis: xAxis(),
        yAxis: [
          { type: 'value', name: 'weight', min: 0, max: 1 },
          { type: 'value', name: 'choices changed', minInterval: 1, splitLine: { show: false } },
        ],
        series: [
          line(
            'mean largest weight',
            pts((p) => p.archMaxWeight),
            phaseMarks(),
          ),
          ...(uniform.length
            ? [line('uniform (1 / options)', uniform, { lineStyle: { type: 'dashed', color: '#9e9e9e' }, itemStyle: { color: '#9e9e9e' }, symbol: 'none' })]
            : []),
          line(
            'mean margin (largest − second)',
            pts((p) => p.archMargin),
          ),
          { type: 'bar', name: 'decoded choices changed', data: pts((p) => p.archChanged), yAxisIndex: 1, barMaxWidth: 14, itemStyle: { opacity: 0.5 } },
        ],
      };
    },
    entropy: () => {
      const a = data.arch;
      const ent: [number, number][] = a.epochs.map((e, i) => [e, a.entropy[i] as number]).filter((p) => p[1] !== null) as [number, number][];
      const tau: [number, number][] = a.epochs.map((e, i) => [e, a.temperature[i] as number]).filter((p) => p[1] !== null) as [number, number][];
      return {
        ...base('Entropy of the relaxation weights, and temperature'),
        tooltip: { trigger: 'axis', valueFormatter: numf },
        xAxis: xAxis(),
        yAxis: [
          { type: 'value', name: 'mean entropy (nats)', scale: true },
          { type: 'value', name: 'temperature', splitLine: { show: false } },
        ],
        series: [line('mean entropy', ent, phaseMarks()), line('temperature', tau, { yAxisIndex: 1, lineStyle: { type: 'dashed' } })],
      };
    },
    'per-class': () => {
      const pc = data.perClass!;
      return {
        animation: false,
        color: COLORS,
        title: { text: `Per-class IoU at the last epoch`, left: 8, top: 4, textStyle: { fontSize: 14, fontWeight: 600 } },
        tooltip: { trigger: 'axis', valueFormatter: pct },
        grid: { left: 12, right: 40, top: 36, bottom: 24, containLabel: true },
        xAxis: { type: 'value', min: 0, max: 1, axisLabel: asPct },
        yAxis: { type: 'category', data: pc.names, inverse: true, axisLabel: { fontSize: 11 } },
        series: [
          {
            type: 'bar',
            name: 'IoU',
            data: pc.values,
            barMaxWidth: 14,
            label: { show: true, position: 'right', fontSize: 10, formatter: (p: any) => pct(p.value) },
          },
        ],
      };
    },
  };

  const heatmap = (groupName: string) => {
    const grp = data.arch.groups.find((x) => x.name === groupName)!;
    const cats: string[] = [];
    const labelOf: Record<string, string> = {};
    const cell: Record<string, { row: number; opt: number }> = {};
    const values: [number, number, number][] = [];
    grp.rows.forEach((r, ri) => {
      const hk = `h${ri}`;
      cats.push(hk);
      // (Braces and bars would end ECharts' rich-text markup early.)
      labelOf[hk] = `{edge|${String(r.title).replace(/[{}|]/g, ' ')}}`;
      r.options.forEach((o, k) => {
        const key = `r${ri}o${k}`;
        const y = cats.length;
        cats.push(key);
        cell[key] = { row: ri, opt: k };
        const on = String(o).replace(/[{}|]/g, ' ');
        labelOf[key] = r.kept.includes(k) ? `{kept|${on} ◀}` : `{op|${on}}`;
        r.values.forEach((vs, xi) => {
          const v = vs[k];
          if (typeof v === 'number' && !Number.isNaN(v)) values.push([xi, y, v]);
        });
      });
    });
    // the uniform level of the group's most common row width
    const widths = new Map<number, number>();
    for (const r of grp.rows) widths.set(r.options.length, (widths.get(r.options.length) ?? 0) + 1);
    const usual = [...widths.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]?.[0] ?? 1;
    const uniform = 1 / Math.max(1, usual);
    const longest = Math.max(...Object.values(labelOf).map((l) => l.replace(/^\{\w+\|/, '').length - 1));
    return {
      animation: false,
      title: { text: grp.title, left: 8, top: 4, textStyle: { fontSize: 14, fontWeight: 600 } },
      tooltip: {
        formatter: (p: any) => {
          const c = cell[cats[p.value[1]]];
          if (!c) return '';
          const r = grp.rows[c.row];
          return tip([
            `${r.title} · `,
            [String(r.options[c.opt])],
            r.kept.includes(c.opt) ? ' (kept)' : '',
            null,
            `epoch ${data.arch.epochs[p.value[0]]}: `,
            [Number(p.value[2]).toFixed(4)],
          ]);
        },
      },
      grid: { left: Math.min(260, 16 + longest * 6.6), right: 86, top: 36, bottom: 40 },
      xAxis: { type: 'category', data: data.arch.epochs.map(String), name: 'epoch', nameLocation: 'middle', nameGap: 24, splitArea: { show: false } },
      yAxis: {
        type: 'category',
        data: cats,
        inverse: true,
        axisTick: { show: false },
        axisLine: { show: false },
        axisLabel: {
          interval: 0,
          fontSize: 10,
          formatter: (v: string) => labelOf[v] ?? v,
          rich: {
            edge: { fontWeight: 'bold', color: '#212121', fontSize: 11 },
            kept: { fontWeight: 'bold', color: '#c62828', fontSize: 10 },
            op: { color: '#616161', fontSize: 10 },
          },
        },
      },
      // An absolute 0-1 scale with the uniform level marked: grey below what uniform weights give
      // (1/options of the group's usual row), then four blues up to 1, so runs compare at a glance
      // and a search that never left uniform looks like one.
      visualMap: {
        type: 'piecewise',
        orient: 'vertical',
        right: 4,
        top: 36,
        itemWidth: 12,
        itemHeight: 10,
        textStyle: { fontSize: 10 },
        pieces: [
          { gte: 0, lt: uniform, color: '#e0e0e0', label: `< uniform ${uniform.toFixed(3)}` },
          ...[0, 1, 2, 3].map((k) => {
            const a = uniform + ((1 - uniform) * k) / 4,
              b = uniform + ((1 - uniform) * (k + 1)) / 4;
            return {
              gte: a,
              ...(k === 3 ? { lte: 1 } : { lt: b }),
              color: ['#c6dbef', '#6baed6', '#2171b5', '#08306b'][k],
              label: `${a.toFixed(2)}-${b.toFixed(2)}`,
            };
          }),
        ],
      },
      series: [{ type: 'heatmap', name: grp.name, data: values, progressive: 0, emphasis: { itemStyle: { borderColor: '#000', borderWidth: 1 } } }],
    };
  };

  let rendered = 0;
  for (const el of Array.from(doc.querySelectorAll('[data-chart]')) as any[]) {
    const id: string = el.getAttribute('data-chart');
    try {
      const opt = id.startsWith('weights:') ? heatmap(id.slice('weights:'.length)) : builders[id]?.();
      if (!opt) throw new Error(`no chart named '${id}'`);
      const chart = echarts.init(el, null, { renderer: 'canvas' });
      chart.setOption(opt);
      charts.push(chart);
      el.setAttribute('data-rendered', '1');
      rendered++;
    } catch (e) {
      el.textContent = `This chart could not be drawn: ${(e as Error).message}`;
      el.classList.add('chart-error');
      console.error(`chart ${id}:`, e);
    }
  }
  g.addEventListener('resize', () => charts.forEach((c) => c.resize()));
  doc.body.setAttribute('data-charts-rendered', String(rendered));
}
