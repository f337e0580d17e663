/**
 * A run's metrics for other tools: TensorBoard scalar event files (`--tensorboard DIR`) and
 * metrics.csv beside metrics.jsonl.
 *
 * An event file is a sequence of TFRecords (length, masked CRC-32C of the length, an `Event`
 * protobuf, masked CRC-32C of it). The first event names the format (`brain.Event:2`); the second
 * is a `SessionLog` START at the first step this process writes, which makes TensorBoard drop
 * whatever an earlier, interrupted process wrote from that step on (a resumed run reads as an
 * uninterrupted one). Then one `Event` per epoch with a `Summary` of simple values.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import * as fs from 'node:fs';
import { ProtoWriter, WIRE } from '../export';
import { makeDirs, openAppendNoFollow, writeFileAtomic } from '../torch/io';

const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/**
 * CRC-32C (Castagnoli), as TFRecord uses.
 *
 * @example
 * crc32c(Buffer.from('123456789')); // 0xe3069283
 */
export function crc32c(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC32C_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** TFRecord's masked CRC: rotate right by 15 and add a constant. */
export function maskedCrc32c(bytes: Uint8Array): number {
  const c = crc32c(bytes);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** One TFRecord holding `data`. */
export function tfRecord(data: Uint8Array): Buffer {
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(data.length));
  const head = Buffer.alloc(4),
    tail = Buffer.alloc(4);
  head.writeUInt32LE(maskedCrc32c(len));
  tail.writeUInt32LE(maskedCrc32c(data));
  return Buffer.concat([len, head, data, tail]);
}

/** An `Event` (wall_time 1, step 2, then one of file_version 3, summary 5, session_log 7). */
function event(step: number, what: (w: ProtoWriter) => void): Uint8Array {
  const w = new ProtoWriter();
  const wall = Buffer.alloc(8);
  wall.writeDoubleLE(Date.now() / 1000);
  w.tag(1, WIRE.I64).raw(wall);
  if (step !== 0) w.int64(2, step);
  what(w);
  return w.finish();
}

/** Metrics record field -> TensorBoard tag. */
const TAGS: [string, string][] = [
  ['trainLoss', 'train/loss'],
  ['lr', 'train/lr'],
  ['score', 'val/score'],
  ['valLoss', 'val/loss'],
  ['pixelAccuracy', 'val/pixel_accuracy'],
  ['derivedScore', 'gap/derived_score'],
  ['derivedRecalScore', 'gap/derived_score_recalibrated'],
  ['gap', 'gap/gap'],
  ['gapRecal', 'gap/gap_recalibrated'],
  ['controlScore', 'gap/random_genotypes_score'],
  ['gapControl', 'gap/gap_to_random'],
  ['entropy', 'arch/entropy'],
  ['temperature', 'arch/temperature'],
  ['archMaxWeight', 'arch/max_weight'],
  ['archUniform', 'arch/uniform_weight'],
  ['archMargin', 'arch/margin'],
  ['archChanged', 'arch/decisions_changed'],
];

let writers = 0;

/** Writes one event file of scalars; see the module comment. */
export class TensorBoardWriter {
  readonly file: string;
  private fd: number;

  /** Opens a new event file in `dir`; `firstStep`: the first epoch this process will log. */
  constructor(dir: string, firstStep: number) {
    makeDirs(dir);
    // time, host and process as TensorBoard's own writers name files, then a count within this process
    this.file = path.join(dir, `events.out.tfevents.${Math.floor(Date.now() / 1000)}.${os.hostname()}.${process.pid}.${++writers}.dnas`);
    this.fd = openAppendNoFollow(this.file);
    this.write(event(0, (w) => w.string(3, 'brain.Event:2')));
    this.write(event(firstStep, (w) => w.message(7, new ProtoWriter().int64(1, 1)))); // SessionLog { status: START }
  }

  private write(e: Uint8Array): void {
    fs.writeSync(this.fd, tfRecord(e));
  }

  /** The scalars of one metrics.jsonl record, at step = its epoch. */
  epoch(record: Record<string, unknown>): void {
    const step = record.epoch;
    if (typeof step !== 'number') return;
    const summary = new ProtoWriter();
    for (const [field, tag] of TAGS) {
      const v = record[field];
      if (typeof v === 'number' && Number.isFinite(v)) summary.message(1, new ProtoWriter().string(1, tag).float(2, v));
    }
    this.write(event(step, (w) => w.message(5, summary)));
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}

/** The columns of metrics.csv, in order. */
export const CSV_COLUMNS = [
  'epoch',
  'phase',
  'trainLoss',
  'lr',
  'metric',
  'score',
  'valLoss',
  'pixelAccuracy',
  'derivedScore',
  'derivedRecalScore',
  'gap',
  'gapRecal',
  'controlScore',
  'gapControl',
  'entropy',
  'temperature',
  'archMaxWeight',
  'archUniform',
  'archMargin',
  'archChanged',
  'skipped',
];

/** One CSV cell: numbers as they are; text quoted, and a leading = + - @ neutralised for spreadsheets. */
function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  let s = String(v);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\n\r]/.test(s) || s !== String(v) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** metrics.jsonl's records as CSV text (CSV_COLUMNS, one row per record). */
export function metricsCsv(records: Record<string, unknown>[]): string {
  return [CSV_COLUMNS.join(','), ...records.map((r) => CSV_COLUMNS.map((c) => cell(r[c])).join(','))].join('\n') + '\n';
}

/** Writes `file` (metrics.csv) from `records`, atomically. */
export function writeMetricsCsv(file: string, records: Record<string, unknown>[]): void {
  writeFileAtomic(file, metricsCsv(records));
}
