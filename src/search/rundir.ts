/**
 * A run directory, the one place a run writes to:
 *
 *   config.json          every setting, the seed, dnas and libtorch versions
 *   metrics.jsonl        one JSON line per evaluation
 *   arch.jsonl           relaxation weights, entropy and decoded genotype, one line per epoch
 *   genotype.json        the architecture the run ended with (or froze)
 *   checkpoints/last.pt  weights, architecture parameters, optimizer states, RNG state, epoch
 *   checkpoints/best.pt  the same, for the best validation mIoU so far
 *
 * Every file is replaced atomically (write to a temporary file, then rename), and JSONL files are
 * rewritten on resume to the lines up to the checkpoint's epoch, so a resumed run's logs read as an
 * uninterrupted run's.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export function writeFileAtomic(file: string, data: string | Buffer): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

export function readJsonl<T = Record<string, unknown>>(file: string): T[] {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l, i) => {
    try {
      return JSON.parse(l) as T;
    } catch {
      throw new Error(`${file}:${i + 1}: not valid JSON`);
    }
  });
}

export class RunDir {
  constructor(readonly dir: string) {}

  get configFile(): string { return path.join(this.dir, 'config.json'); }
  get metricsFile(): string { return path.join(this.dir, 'metrics.jsonl'); }
  get archFile(): string { return path.join(this.dir, 'arch.jsonl'); }
  get genotypeFile(): string { return path.join(this.dir, 'genotype.json'); }
  get lastCheckpoint(): string { return path.join(this.dir, 'checkpoints', 'last.pt'); }
  get bestCheckpoint(): string { return path.join(this.dir, 'checkpoints', 'best.pt'); }
  get summaryFile(): string { return path.join(this.dir, 'summary.json'); }

  /** Whether this folder holds a run (a config.json). */
  exists(): boolean { return fs.existsSync(this.configFile); }

  /** Whether the run has written its first checkpoint (it can be resumed). */
  started(): boolean { return fs.existsSync(this.lastCheckpoint); }

  /**
   * Clears what a run that stopped before its first checkpoint left (its config, logs, genotype,
   * summary), so the folder can hold a new run. Only dnas's own file names; nothing else is touched.
   */
  resetUnstarted(): void {
    if (this.started()) throw new Error(`${this.dir} holds a run with a checkpoint; it is not cleared`);
    for (const f of [this.configFile, this.metricsFile, this.archFile, this.genotypeFile, this.summaryFile]) fs.rmSync(f, { force: true });
  }

  create(): void {
    fs.mkdirSync(path.join(this.dir, 'checkpoints'), { recursive: true });
  }

  writeJson(file: string, value: unknown): void {
    writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n');
  }

  readJson<T>(file: string): T {
    try {
      return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
    } catch (e) {
      throw new Error(`cannot read ${file}: ${(e as Error).message}`);
    }
  }

  append(file: string, record: unknown): void {
    fs.appendFileSync(file, JSON.stringify(record) + '\n');
  }

  readMetrics(): Record<string, unknown>[] { return readJsonl(this.metricsFile); }
  readArch(): Record<string, unknown>[] { return readJsonl(this.archFile); }

  /** Keeps only the JSONL records with `epoch <= epoch` (used when resuming). */
  truncateJsonl(file: string, epoch: number): void {
    const kept = readJsonl<{ epoch: number }>(file).filter((r) => r.epoch <= epoch);
    writeFileAtomic(file, kept.map((r) => JSON.stringify(r) + '\n').join(''));
  }
}
