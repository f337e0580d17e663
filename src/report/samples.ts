/**
 * The sample predictions of a run (`<run>/samples/samples.json`, written by
 * src/export/samples.ts) read for the report: every listed file checked to be a plain name of a
 * regular PNG file inside samples/ (no path separators, no links), and read as a data: URI. What
 * does not pass is left out and named in `problems`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SAMPLES_DIR, SAMPLES_FILE } from '../export';

/** One sample as the page shows it: data: URIs of its three images. */
export interface SampleView {
  id: string;
  pixelAccuracy: number | null;
  image: string;
  truth: string;
  pred: string;
}

/** The sample predictions of a run, for the page. */
export interface SampleSection {
  samples: SampleView[];
  /** Class names with their colours (`#rrggbb`), when samples.json gives them. */
  legend: { name: string; color: string }[];
  /** Where the network came from ('last.pt, epoch 12, frozen'), when samples.json says. */
  source: string | null;
  problems: string[];
}

/** At most this many samples, and this many bytes per image, go into a report. */
const MAX_SAMPLES = 32;
const MAX_IMAGE_BYTES = 4 << 20;
const PNG_SIGNATURE = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);

/** A plain file name: no separators, no leading dot, `.png`. */
const plainPng = (v: unknown): v is string => typeof v === 'string' && v.length <= 200 && /^[A-Za-z0-9_-][A-Za-z0-9._-]*\.png$/i.test(v);

function dataUri(dir: string, name: unknown, what: string, problems: string[]): string | null {
  if (!plainPng(name)) {
    problems.push(`${what}: ${JSON.stringify(name)} is not a plain .png file name inside ${SAMPLES_DIR}/`);
    return null;
  }
  const file = path.join(dir, name);
  let st: fs.Stats;
  try {
    st = fs.lstatSync(file);
  } catch {
    problems.push(`${what}: ${SAMPLES_DIR}/${name} is missing`);
    return null;
  }
  if (!st.isFile()) {
    problems.push(`${what}: ${SAMPLES_DIR}/${name} is not a regular file${st.isSymbolicLink() ? ' (a symbolic link)' : ''}`);
    return null;
  }
  if (st.size > MAX_IMAGE_BYTES) {
    problems.push(`${what}: ${SAMPLES_DIR}/${name} is larger than ${MAX_IMAGE_BYTES} bytes`);
    return null;
  }
  const buf = fs.readFileSync(file);
  if (buf.length < 8 || !buf.subarray(0, 8).equals(PNG_SIGNATURE)) {
    problems.push(`${what}: ${SAMPLES_DIR}/${name} is not a PNG file`);
    return null;
  }
  return `data:image/png;base64,${buf.toString('base64')}`;
}

const hex = (c: unknown): string | null => {
  if (!Array.isArray(c) || c.length < 3 || !c.slice(0, 3).every((v) => Number.isInteger(v) && v >= 0 && v <= 255)) return null;
  return `#${(c.slice(0, 3) as number[]).map((v) => v.toString(16).padStart(2, '0')).join('')}`;
};

/**
 * Reads `<runDir>/samples/samples.json` (as src/export/samples.ts writes it) and its
 * images. Null when the run has no samples.json.
 */
export function readSamples(runDir: string): SampleSection | null {
  const dir = path.join(runDir, SAMPLES_DIR);
  const listing = path.join(dir, SAMPLES_FILE);
  let dirStat: fs.Stats;
  try {
    dirStat = fs.lstatSync(dir);
  } catch {
    return null;
  }
  if (!fs.existsSync(listing)) return null;
  const problems: string[] = [];
  const out: SampleSection = { samples: [], legend: [], source: null, problems };
  if (!dirStat.isDirectory()) {
    problems.push(`${SAMPLES_DIR}/ is ${dirStat.isSymbolicLink() ? 'a symbolic link' : 'not a folder'}; its images are not shown`);
    return out;
  }
  let parsed: unknown;
  try {
    const st = fs.lstatSync(listing);
    if (!st.isFile()) throw new Error('not a regular file');
    parsed = JSON.parse(fs.readFileSync(listing, 'utf8'));
  } catch (e) {
    problems.push(`${SAMPLES_DIR}/${SAMPLES_FILE} cannot be read: ${(e as Error).message}`);
    return out;
  }
  const obj = (parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? parsed : {}) as Record<string, unknown>;
  const list = obj.samples;
  if (!Array.isArray(list)) {
    problems.push(`${SAMPLES_DIR}/${SAMPLES_FILE} lists no samples`);
    return out;
  }
  if (list.length > MAX_SAMPLES) problems.push(`${list.length} samples listed; the first ${MAX_SAMPLES} are shown`);
  list.slice(0, MAX_SAMPLES).forEach((entry, k) => {
    const e = (entry && typeof entry === 'object' ? entry : {}) as Record<string, unknown>;
    const id = typeof e.id === 'string' || typeof e.id === 'number' ? String(e.id) : `sample ${k}`;
    const what = `sample ${id}`;
    const image = dataUri(dir, e.image, what, problems);
    const truth = dataUri(dir, e.truth, what, problems);
    const pred = dataUri(dir, e.pred, what, problems);
    if (image && truth && pred) {
      const acc = typeof e.pixelAccuracy === 'number' && Number.isFinite(e.pixelAccuracy) ? e.pixelAccuracy : null;
      out.samples.push({ id, pixelAccuracy: acc, image, truth, pred });
    }
  });
  if (Array.isArray(obj.classNames) && Array.isArray(obj.palette)) {
    obj.classNames.forEach((n, i) => {
      const color = hex((obj.palette as unknown[])[i]);
      if (color && (typeof n === 'string' || typeof n === 'number')) out.legend.push({ name: String(n), color });
    });
  }
  if (typeof obj.checkpoint === 'string') {
    out.source = `${obj.checkpoint}${typeof obj.epoch === 'number' ? `, epoch ${obj.epoch}` : ''}${typeof obj.phase === 'string' ? `, ${obj.phase}` : ''}`;
  }
  return out;
}
