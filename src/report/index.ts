/**
 * dnas/report: one self-contained HTML report of a run directory (docs/report.md).
 *
 * @example
 * import { writeReport } from './src/report';
 * const r = writeReport('runs/cs');            // runs/cs/report.html
 * writeReport('runs/cs', '/tmp/cs.html', { latency: false });
 */
import * as path from 'node:path';
import { writeFileAtomic } from '../search/rundir';
import { CostOptions, CostTable, rebuildRun } from './cost';
import { archSeries, readRun } from './data';
import { loadEcharts, renderPage } from './page';
import { readSamples } from './samples';

export { archSeries, epochPoint, keptChoices, readRun } from './data';
export type { ArchSeries, ChoiceInfo, EpochPoint, HeatGroup, HeatRow, RunRecords } from './data';
export { choiceInfo, rebuildRun } from './cost';
export type { CostOptions, CostRow, CostTable, Rebuilt } from './cost';
export { cellEdges, cellSvg, latticeSvg, opColor } from './graph';
export { architectureSvgs, humanCount, renderPage } from './page';
export { readSamples } from './samples';
export { buildComparison, writeComparison } from './compare';
export type { SampleSection, SampleView } from './samples';

/** Options of {@link writeReport}. */
export interface ReportOptions extends CostOptions {
  /** Page title (default: "dnas run <folder name>"). */
  title?: string;
}

/** What {@link writeReport} wrote. */
export interface ReportResult {
  /** The HTML file. */
  file: string;
  bytes: number;
  /** Ids of the charts in the page (`data-chart` attributes): loss, score, gap, ..., weights:<group>. */
  charts: string[];
  /** Ids of the architecture drawings (`data-graph` attributes of the <svg>s). */
  graphs: string[];
  cost: CostTable | null;
  /** What could not be shown, in words (also listed in the page). */
  problems: string[];
}

/**
 * Builds the report HTML of a run directory: curves from metrics.jsonl, relaxation weights from
 * arch.jsonl, the genotype drawn as SVG, the sample predictions of samples/ (src/export/samples.ts)
 * and the cost of the rebuilt networks.
 */
export function buildReport(runDir: string, opts: ReportOptions = {}): { html: string } & Omit<ReportResult, 'file' | 'bytes'> {
  const library = loadEcharts();
  const rec = readRun(runDir);
  const rebuilt = rebuildRun(rec, opts);
  const arch = archSeries(rec, rebuilt.info);
  const title = opts.title ?? `dnas run ${path.basename(rec.dir)}`;
  const samples = readSamples(rec.dir);
  const page = renderPage({
    title,
    rec,
    arch,
    cost: rebuilt.cost,
    problems: rebuilt.problems,
    library,
    generated: new Date(),
    costMeasured: opts.cost !== false,
    samples,
  });
  return { html: page.html, charts: page.charts, graphs: page.graphs, cost: rebuilt.cost, problems: rebuilt.problems };
}

/**
 * Writes the report of `runDir` to `outFile` (default `<runDir>/report.html`): one HTML file with
 * everything embedded, viewable offline.
 *
 * @example
 * const { file, problems } = writeReport('runs/cs');
 */
export function writeReport(runDir: string, outFile?: string, opts: ReportOptions = {}): ReportResult {
  const file = path.resolve(outFile ?? path.join(runDir, 'report.html'));
  const r = buildReport(runDir, opts);
  const buf = Buffer.from(r.html, 'utf8');
  writeFileAtomic(file, buf);
  return { file, bytes: buf.length, charts: r.charts, graphs: r.graphs, cost: r.cost, problems: r.problems };
}
