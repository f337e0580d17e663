/**
 * Sample predictions of a run: its final network on a few validation samples spread over its data
 * set. For each sample k (its index in the validation split), `<run>/samples/` gets
 *
 *   k-image.png   the input image as RGB (grey repeated), [0, 1] scaled to 0..255
 *   k-truth.png   the ground-truth mask in the data set's class colours (ignore-index pixels black)
 *   k-pred.png    the predicted mask in the same colours
 *
 * and `samples.json` lists them ({@link SamplesFile}). The report embeds these images. Segmentation
 * runs only: a classification run gets nothing. Files are written without following symbolic
 * links, each replaced atomically, samples.json last.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodePng, getDataset, RGB, SegmentationDataset, vocColormap } from '../data';
import { runTask } from '../search/config';
import { ensureDirNoFollow, writeFileAtomic } from '../search/rundir';
import { loadRunModel, LoadRunOptions, readRunConfig } from './from-run';
import { maskPng, segmentImage } from './predict';

/** The folder of a run that holds the sample predictions. */
export const SAMPLES_DIR = 'samples';
/** The listing inside {@link SAMPLES_DIR}. */
export const SAMPLES_FILE = 'samples.json';

/** One sample's files (plain names inside `<run>/samples/`) and how well the prediction fits. */
export interface SampleRecord {
  /** The data set's name for the sample. */
  id: string;
  /** Index in the validation split. */
  index: number;
  image: string;
  truth: string;
  pred: string;
  width: number;
  height: number;
  /** Fraction of labelled pixels (not the ignore index) predicted right; null when none is labelled. */
  pixelAccuracy: number | null;
}

/** What samples.json holds. */
export interface SamplesFile {
  version: 1;
  dataset: string;
  split: 'val';
  /** The checkpoint the network came from: its phase and finished epochs. */
  checkpoint: string;
  phase: string;
  epoch: number;
  /** Class names and their colours ([r, g, b], 0..255), index = class. */
  classNames: string[];
  palette: RGB[];
  ignoreIndex: number;
  samples: SampleRecord[];
}

/** Options of {@link writeSamplePredictions}. */
export interface SampleOptions extends LoadRunOptions {
  /** How many validation samples (default 4; at most the run's valSubset when it has one). */
  count?: number;
}

/** A CHW image as 8-bit RGB (PNG): values in [0, 1] times 255, else min-max rescaled; 1-2 channels: the first, grey. */
function imagePng(image: Float32Array, channels: number, height: number, width: number): Buffer {
  const hw = height * width;
  const used = channels >= 3 ? 3 : 1;
  let lo = Infinity,
    hi = -Infinity;
  for (let i = 0; i < used * hw; i++) {
    const v = image[i];
    if (Number.isFinite(v)) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  const [a, b] = lo >= 0 && hi <= 1 ? [0, 1] : hi > lo ? [lo, hi] : [lo - 1, lo];
  const rgb = new Uint8Array(hw * 3);
  for (let i = 0; i < hw; i++) {
    for (let c = 0; c < 3; c++) {
      const v = image[(used === 1 ? 0 : c) * hw + i];
      rgb[i * 3 + c] = Number.isFinite(v) ? Math.round(Math.min(1, Math.max(0, (v - a) / (b - a))) * 255) : 0;
    }
  }
  return encodePng({ width, height, channels: 3, data: rgb });
}

/** The palette with black for every index past the classes (the ignore index among them), up to the largest index used. */
function paddedPalette(palette: RGB[], mask: ArrayLike<number>): RGB[] {
  let top = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i] > top) top = mask[i];
  const out = palette.map((c) => [c[0], c[1], c[2]] as RGB);
  while (out.length <= top) out.push([0, 0, 0]);
  return out;
}

/**
 * Runs the final network of `runDir` (eval mode, normalised with the data set's statistics as the
 * training loader does) on `count` validation samples spread evenly over its data set and writes the
 * input, truth and prediction PNGs plus samples.json into `<runDir>/samples/`. Returns the records
 * ([] for a classification run, which gets no files).
 *
 * @example
 * const samples = writeSamplePredictions('runs/demo');           // 4 samples, CPU
 * writeSamplePredictions('runs/cs', { count: 8, device: 'cuda' });
 */
export function writeSamplePredictions(runDir: string, opts: SampleOptions = {}): SampleRecord[] {
  const count = opts.count ?? 4;
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`writeSamplePredictions: count must be a positive integer, got ${count}`);
  const cfg = readRunConfig(runDir, opts);
  if (runTask(cfg) === 'classification') return [];
  const m = loadRunModel(runDir, opts);
  try {
    if (m.task !== 'segmentation') return [];
    const o: Record<string, unknown> = { split: 'val', skipBad: cfg.skipBad, ...(cfg.valSubset ? { limit: cfg.valSubset } : {}) };
    if (cfg.dataRoot) o.root = cfg.dataRoot;
    if (cfg.size) o.size = cfg.size;
    if (cfg.dataset === 'brain-mri') o.channels = m.inChannels;
    const ds = getDataset(cfg.dataset, o as never);
    if (ds.task !== 'segmentation') throw new Error(`writeSamplePredictions: data set '${cfg.dataset}' is not a segmentation data set`);
    const val = ds as SegmentationDataset;
    if (val.channels !== m.inChannels)
      throw new Error(`writeSamplePredictions: the network takes ${m.inChannels} channels, data set '${cfg.dataset}' gives ${val.channels}`);
    const fit = (v: number[]) => (v.length === val.channels ? v : new Array(val.channels).fill(v[0]));
    const mean = fit(val.stats.mean),
      std = fit(val.stats.std);
    const palette = m.meta?.palette ?? vocColormap(m.numClasses);
    const classNames = m.meta?.classNames ?? Array.from({ length: m.numClasses }, (_, i) => `class ${i}`);
    const dir = path.join(m.dir, SAMPLES_DIR);
    ensureDirNoFollow(dir, 'writeSamplePredictions');
    const records: SampleRecord[] = [];
    // Spread over the validation split (for slices of a volume: from one end to the other).
    const c = Math.min(count, val.length);
    const picks = [...new Set(Array.from({ length: c }, (_, j) => (c === 1 ? 0 : Math.round((j * (val.length - 1)) / (c - 1)))))];
    for (const k of picks) {
      const s = val.get(k);
      const pred = segmentImage(m.network, s.image, s.channels, s.height, s.width, { mean, std, device: opts.device });
      let right = 0,
        labelled = 0;
      for (let i = 0; i < s.mask.length; i++) {
        if (s.mask[i] === val.ignoreIndex) continue;
        labelled++;
        if (pred[i] === s.mask[i]) right++;
      }
      const r: SampleRecord = {
        id: s.id,
        index: k,
        image: `${k}-image.png`,
        truth: `${k}-truth.png`,
        pred: `${k}-pred.png`,
        width: s.width,
        height: s.height,
        pixelAccuracy: labelled ? right / labelled : null,
      };
      writeFileAtomic(path.join(dir, r.image), imagePng(s.image, s.channels, s.height, s.width));
      writeFileAtomic(path.join(dir, r.truth), maskPng(s.mask, s.width, s.height, paddedPalette(palette, s.mask)));
      writeFileAtomic(path.join(dir, r.pred), maskPng(pred, s.width, s.height, paddedPalette(palette, pred)));
      records.push(r);
    }
    const listing: SamplesFile = {
      version: 1,
      dataset: cfg.dataset,
      split: 'val',
      checkpoint: path.basename(m.checkpoint),
      phase: m.phase,
      epoch: m.epoch,
      classNames,
      palette,
      ignoreIndex: val.ignoreIndex,
      samples: records,
    };
    writeFileAtomic(path.join(dir, SAMPLES_FILE), Buffer.from(JSON.stringify(listing, null, 2) + '\n'));
    // Files of an earlier, longer listing.
    const keep = new Set(records.flatMap((r) => [r.image, r.truth, r.pred]));
    for (const f of fs.readdirSync(dir)) if (/^\d+-(image|truth|pred)\.png$/.test(f) && !keep.has(f)) fs.rmSync(path.join(dir, f), { force: true });
    return records;
  } finally {
    m.dispose();
  }
}
