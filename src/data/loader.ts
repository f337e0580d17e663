/**
 * Batches prefetched off the training thread. Each worker thread rebuilds the data set from its
 * spec (so data sets made by {@link getDataset} work; others run in the calling thread), reads and
 * augments the samples of a batch, and hands the arrays back without copying (transfer).
 *
 * Order and augmentation are deterministic: the sample order of an epoch depends only on
 * (seed, epoch), each sample's random draws only on (seed, epoch, index), so the batches are the
 * same whatever the number of workers.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { Batch, makeBatch } from './batch';
import { BadSample, DataError } from './errors';
import { getDataset } from './registry';
import { hashSeed, Rng } from './rng';
import { AugmentOptions } from './transforms';
import { Dataset, DatasetSpec } from './types';

/** Options of {@link DataLoader}. */
export interface LoaderOptions {
  /** A data set (from getDataset for worker threads) or its spec { name, options }. */
  dataset: Dataset | DatasetSpec;
  batchSize: number;
  /** The data set indices to iterate (default: all). */
  indices?: number[];
  /** Shuffle every epoch (default true). */
  shuffle?: boolean;
  /** Seed of the order and of the augmentation (default 0). */
  seed?: number;
  /** Drop the last batch when it is smaller than batchSize (default false). */
  dropLast?: boolean;
  /** Transforms. `normalize` defaults to the data set's stats; pass null for raw [0, 1] values. */
  augment?: AugmentOptions;
  /** Worker threads (default 1); 0 reads in the calling thread. */
  workers?: number;
  /** Batches requested ahead of the consumer (default 2 per worker, at least 2). */
  prefetch?: number;
  /** Leave out bad samples (counted in `skipped`) instead of throwing their DataError. */
  skipBad?: boolean;
  /**
   * Data-parallel sharding: every batch of the order is cut into `world` contiguous slices and this
   * loader reads slice `rank` only, so `world` loaders with the same seed read each batch of one
   * loader exactly once between them (augmentation is seeded per sample, so identically). A batch
   * smaller than `world` is left out on every rank, so that all ranks take the same steps.
   */
  shard?: { rank: number; world: number };
}

interface Pending {
  resolve: (b: Batch) => void;
  reject: (e: unknown) => void;
  worker: number;
}

function rebuildError(e: Record<string, unknown>): Error {
  if (e.name === 'DataError') return new DataError(String(e.file), String(e.reason));
  const err = new Error(String(e.message));
  err.name = String(e.name ?? 'Error');
  if (e.stack) err.stack = String(e.stack);
  return err;
}

/**
 * Iterates batches of a data set, epoch by epoch.
 *
 * @example
 * const train = getDataset('fashion-scenes', { split: 'train' });
 * const loader = new DataLoader({ dataset: train, batchSize: 16, seed: 1, augment: { scale: [0.75, 1.25], crop: [64, 64], flip: true } });
 * for await (const b of loader.epoch(0)) { const { x, y } = toTensors(b); ... }
 * await loader.close();
 */
export class DataLoader {
  /** The data set (built in this thread too, for its metadata). */
  readonly dataset: Dataset;
  /** Samples per batch (the last batch may be smaller unless dropLast). */
  readonly batchSize: number;
  /** Seed of the order and the augmentation. */
  readonly seed: number;
  /** Whether each epoch is shuffled. */
  readonly shuffle: boolean;
  /** Whether a last, smaller batch is dropped. */
  readonly dropLast: boolean;
  /** The indices iterated. */
  readonly indices: number[];
  /** The transforms, with normalisation resolved. */
  readonly augment: AugmentOptions;
  /** Whether bad samples are left out (and counted) instead of thrown. */
  readonly skipBad: boolean;
  /** Worker threads in use (0: the calling thread). */
  readonly workerCount: number;
  /** Batches requested ahead of the consumer. */
  readonly prefetch: number;
  /** Bad samples left out so far (skipBad), without repeats. */
  readonly skipped: BadSample[] = [];
  private readonly spec: DatasetSpec | null;
  private workers: Worker[] = [];
  private inflight: number[] = [];
  /** Resolves when worker k has exited (whatever the reason). */
  private exits: Promise<void>[] = [];
  private pending = new Map<number, Pending>();
  private nextId = 0;
  private rr = 0;
  private closed = false;
  private seen = new Set<string>();
  private shard: { rank: number; world: number } | null = null;

  constructor(o: LoaderOptions) {
    if (!Number.isInteger(o.batchSize) || o.batchSize < 1) throw new RangeError(`DataLoader: batchSize must be a positive integer, got ${o.batchSize}`);
    const isSpec = (d: LoaderOptions['dataset']): d is DatasetSpec => typeof (d as Dataset).get !== 'function';
    this.dataset = isSpec(o.dataset) ? getDataset(o.dataset.name, o.dataset.options as never) : o.dataset;
    this.spec = isSpec(o.dataset) ? o.dataset : (o.dataset.spec ?? null);
    this.batchSize = o.batchSize;
    this.seed = o.seed ?? 0;
    this.shuffle = o.shuffle ?? true;
    this.dropLast = o.dropLast ?? false;
    this.indices = o.indices ? o.indices.slice() : Array.from({ length: this.dataset.length }, (_, i) => i);
    this.checkIndices(this.indices);
    const a = o.augment ?? {};
    this.augment = { ...a, normalize: a.normalize === undefined ? this.dataset.stats : a.normalize };
    this.skipBad = o.skipBad ?? false;
    for (const s of this.dataset.skipped) this.record(s);
    const wanted = o.workers ?? 1;
    if (!Number.isInteger(wanted) || wanted < 0) throw new RangeError(`DataLoader: workers must be a non-negative integer, got ${wanted}`);
    this.workerCount = this.spec ? wanted : 0;
    this.prefetch = Math.max(1, o.prefetch ?? Math.max(2, 2 * this.workerCount));
    if (o.shard) {
      const { rank, world } = o.shard;
      if (!Number.isInteger(world) || world < 1 || !Number.isInteger(rank) || rank < 0 || rank >= world)
        throw new RangeError(`DataLoader: shard must be { rank in [0, world), world >= 1 }, got { rank: ${rank}, world: ${world} }`);
      this.shard = { rank, world };
    }
  }

  /** This loader's slice of a batch's indices (all of them without sharding), or null when the batch is left out. */
  private slice(chunk: number[]): number[] | null {
    if (!this.shard) return chunk;
    const { rank, world } = this.shard;
    if (chunk.length < world) return null;
    return chunk.slice(Math.floor((rank * chunk.length) / world), Math.floor(((rank + 1) * chunk.length) / world));
  }

  /** Number of batches in an epoch (over `indices`, default the loader's). */
  numBatches(indices: number[] = this.indices): number {
    const n = indices.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** Number of batches this loader yields in an epoch: {@link numBatches}, less a last batch its shard leaves out. */
  numSteps(indices: number[] = this.indices): number {
    const nb = this.numBatches(indices);
    const last = indices.length - (nb - 1) * this.batchSize;
    return this.shard && nb > 0 && last < this.shard.world ? nb - 1 : nb;
  }

  /** The sample order of `epoch` (data set indices) over `indices` (default the loader's). */
  order(epoch: number, indices: number[] = this.indices): number[] {
    const idx = indices.slice();
    return this.shuffle ? new Rng(hashSeed(this.seed, epoch, 0x0de5)).shuffle(idx) : idx;
  }

  private checkIndices(indices: number[]): void {
    for (const i of indices)
      if (!Number.isInteger(i) || i < 0 || i >= this.dataset.length) throw new RangeError(`DataLoader: index ${i} is out of range [0, ${this.dataset.length})`);
  }

  private record(s: BadSample): void {
    const key = `${s.index ?? ''}|${s.file}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.skipped.push(s);
  }

  private start(): void {
    if (this.workers.length > 0 || this.workerCount === 0) return;
    const file = path.join(__dirname, 'worker.js');
    for (let w = 0; w < this.workerCount; w++) {
      const worker = new Worker(file, { workerData: { spec: this.spec, augment: this.augment, seed: this.seed, skipBad: this.skipBad } });
      worker.unref();
      worker.on('message', (m: { id: number; ok: boolean; batch?: Batch; error?: Record<string, unknown> }) => {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (--this.inflight[w] === 0) worker.unref();
        if (m.ok) p.resolve(m.batch!);
        else p.reject(rebuildError(m.error!));
      });
      const fail = (e: unknown) => {
        for (const [id, p] of this.pending)
          if (p.worker === w) {
            this.pending.delete(id);
            p.reject(e);
          }
        this.inflight[w] = 0;
      };
      worker.on('error', fail);
      this.exits.push(new Promise((resolve) => worker.once('exit', () => resolve())));
      worker.on('exit', (code) => {
        if (!this.closed) fail(new Error(`data loader worker ${w} exited with code ${code}`));
      });
      this.workers.push(worker);
      this.inflight.push(0);
    }
  }

  private request(indices: number[], epoch: number): Promise<Batch> {
    const w = this.rr++ % this.workers.length;
    const id = this.nextId++;
    const p = new Promise<Batch>((resolve, reject) => this.pending.set(id, { resolve, reject, worker: w }));
    p.catch(() => undefined); // abandoned requests must not become unhandled rejections
    if (this.inflight[w]++ === 0) this.workers[w].ref();
    this.workers[w].postMessage({ id, epoch, indices });
    return p;
  }

  /**
   * The batches of `epoch`, in order, over `indices` (default: the loader's; a search passes the
   * weight or architecture indices of the epoch here). Batches are requested `prefetch` ahead;
   * breaking out of the loop early is fine. Batches left empty by skipBad are not yielded.
   * `from` starts at that batch of the epoch's order (a run resumed in the middle of an epoch).
   */
  async *epoch(epoch = 0, indices?: number[], from = 0): AsyncGenerator<Batch> {
    if (this.closed) throw new Error('DataLoader: epoch() after close()');
    if (indices) this.checkIndices(indices);
    const idx = indices ?? this.indices;
    const order = this.order(epoch, idx);
    const chunks: number[][] = [];
    const nb = this.numBatches(idx);
    if (!Number.isInteger(from) || from < 0) throw new RangeError(`DataLoader: from must be a non-negative integer, got ${from}`);
    for (let i = from; i < nb; i++) {
      const c = this.slice(order.slice(i * this.batchSize, (i + 1) * this.batchSize));
      if (c) chunks.push(c);
    }
    const done = (b: Batch): boolean => {
      for (const s of b.skipped) this.record(s);
      return b.shape[0] > 0;
    };
    if (this.workerCount === 0) {
      for (const c of chunks) {
        await new Promise((r) => setImmediate(r));
        const b = makeBatch(this.dataset, c, epoch, this.seed, this.augment, this.skipBad);
        if (done(b)) yield b;
      }
      return;
    }
    this.start();
    const queue: Promise<Batch>[] = [];
    let next = 0;
    while (next < chunks.length && queue.length < this.prefetch) queue.push(this.request(chunks[next++], epoch));
    while (queue.length > 0) {
      const b = await queue.shift()!;
      if (next < chunks.length) queue.push(this.request(chunks[next++], epoch));
      if (done(b)) yield b;
    }
  }

  /**
   * Stops the worker threads. Each is asked to exit between two batches (terminating a thread in
   * the middle of a zlib call aborts Node), and terminated only if it has not stopped after 10 s.
   */
  async close(): Promise<void> {
    this.closed = true;
    const ws = this.workers;
    const exits = this.exits;
    this.workers = [];
    this.exits = [];
    ws.forEach((w) => w.postMessage({ exit: true }));
    if (!(await within(Promise.all(exits), 10_000))) await within(Promise.all(ws.map((w) => w.terminate())), 10_000);
    for (const [, p] of this.pending) p.reject(new Error('DataLoader closed'));
    this.pending.clear();
  }
}

/**
 * Whether `p` settles within `ms`. The timer also holds the event loop open meanwhile, which a
 * stopping worker does not: without it a process with nothing else to do would exit with code 0
 * while close() is pending, and the error that made the caller close the loader would never be
 * reported.
 */
function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((r) => {
    timer = setTimeout(() => r(false), ms);
  });
  return Promise.race([p.then(() => true), late]).finally(() => clearTimeout(timer));
}

/** Result of {@link measureThroughput}. */
export interface Throughput {
  images: number;
  batches: number;
  seconds: number;
  imagesPerSecond: number;
}

/**
 * Times how fast `loader` delivers one epoch (or its first `maxBatches` batches), the consumer
 * doing nothing. The first batch is not timed (worker start-up).
 */
export async function measureThroughput(loader: DataLoader, o: { epoch?: number; maxBatches?: number } = {}): Promise<Throughput> {
  let images = 0,
    batches = 0;
  let t0 = 0;
  for await (const b of loader.epoch(o.epoch ?? 0)) {
    if (batches === 0) t0 = performance.now();
    else images += b.shape[0];
    batches++;
    if (o.maxBatches !== undefined && batches >= o.maxBatches) break;
  }
  const seconds = (performance.now() - t0) / 1000;
  return { images, batches: Math.max(0, batches - 1), seconds, imagesPerSecond: seconds > 0 ? images / seconds : 0 };
}
