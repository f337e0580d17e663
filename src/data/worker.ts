/**
 * The loader's worker thread: rebuilds the data set from its spec and answers batch requests.
 * Started by DataLoader (loader.ts); not meant to be imported.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { makeBatch } from './batch';
import { isDataError } from './errors';
import { getDataset } from './registry';
import { AugmentOptions } from './transforms';
import { Dataset, DatasetSpec } from './types';

interface Init {
  spec: DatasetSpec;
  augment: AugmentOptions;
  seed: number;
  skipBad: boolean;
}
interface Job {
  id: number;
  epoch: number;
  indices: number[];
}

const init = workerData as Init;
let ds: Dataset | null = null;
let initError: unknown = null;
try {
  ds = getDataset(init.spec.name, init.spec.options as never);
} catch (e) {
  initError = e;
}

function describe(e: unknown): Record<string, unknown> {
  if (isDataError(e)) return { name: 'DataError', message: e.message, file: e.file, reason: e.reason };
  const err = e as Error;
  return { name: err?.name ?? 'Error', message: err?.message ?? String(e), stack: err?.stack };
}

parentPort!.on('message', (job: Job | { exit: true }) => {
  // The loader's close(): stop here, between two batches (never in the middle of reading a file).
  if ('exit' in job) {
    parentPort!.close();
    return;
  }
  try {
    if (!ds) throw initError;
    const b = makeBatch(ds, job.indices, job.epoch, init.seed, init.augment, init.skipBad);
    const transfer: ArrayBuffer[] = [b.images.buffer as ArrayBuffer];
    if (b.masks) transfer.push(b.masks.buffer as ArrayBuffer);
    if (b.labels) transfer.push(b.labels.buffer as ArrayBuffer);
    parentPort!.postMessage({ id: job.id, ok: true, batch: b }, transfer);
  } catch (e) {
    parentPort!.postMessage({ id: job.id, ok: false, error: describe(e) });
  }
});
