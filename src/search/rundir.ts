/**
 * A run directory, the one place a run writes to:
 *
 *   config.json          every setting, the seed, dnas and libtorch versions
 *   metrics.jsonl        one JSON line per evaluation
 *   arch.jsonl           relaxation weights, entropy and decoded genotype, one line per epoch
 *   genotype.json        the architecture the run ended with (or froze)
 *   checkpoints/last.pt  weights, architecture parameters, optimizer states, RNG state, epoch
 *   checkpoints/best.pt  the same, for the best validation mIoU so far
 *   checkpoints/integrity.json  the SHA-256 of each checkpoint as written
 *
 * Every file is replaced atomically (write to a temporary file, then rename), and JSONL files are
 * rewritten on resume to the lines up to the checkpoint's epoch, so a resumed run's logs read as an
 * uninterrupted run's.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { appendNoFollow, makeDirs, writeFileAtomic } from '../torch/io';

export { makeDirs, writeFileAtomic };

/**
 * Makes sure `dir` is a real folder to write into: refuses a symbolic link or a file there,
 * creates it (and missing parents) otherwise. `who` names the caller in errors.
 *
 * @example
 * ensureDirNoFollow('runs/cs/samples', 'writeSamplePredictions');
 */
export function ensureDirNoFollow(dir: string, who: string): void {
  let st: fs.Stats | null = null;
  try {
    st = fs.lstatSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (!st) {
    makeDirs(dir);
    return;
  }
  if (st.isSymbolicLink()) throw new Error(`${who}: ${dir} is a symbolic link; refusing to write through it`);
  if (!st.isDirectory()) throw new Error(`${who}: ${dir} exists and is not a folder`);
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function readJsonl<T = Record<string, unknown>>(file: string): T[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l, i) => {
      try {
        return JSON.parse(l) as T;
      } catch {
        throw new Error(`${file}:${i + 1}: not valid JSON`);
      }
    });
}

export class RunDir {
  /**
   * Whether this process writes the folder. In a multi-process run only rank 0 does; the others
   * read it (config.json, a checkpoint to resume) and their writes are skipped.
   */
  readonly writable: boolean;

  constructor(
    readonly dir: string,
    o: { writable?: boolean } = {},
  ) {
    this.writable = o.writable ?? true;
  }

  get configFile(): string {
    return path.join(this.dir, 'config.json');
  }
  get metricsFile(): string {
    return path.join(this.dir, 'metrics.jsonl');
  }
  get csvFile(): string {
    return path.join(this.dir, 'metrics.csv');
  }
  get archFile(): string {
    return path.join(this.dir, 'arch.jsonl');
  }
  get genotypeFile(): string {
    return path.join(this.dir, 'genotype.json');
  }
  get lastCheckpoint(): string {
    return path.join(this.dir, 'checkpoints', 'last.pt');
  }
  get bestCheckpoint(): string {
    return path.join(this.dir, 'checkpoints', 'best.pt');
  }
  get summaryFile(): string {
    return path.join(this.dir, 'summary.json');
  }
  get integrityFile(): string {
    return path.join(this.dir, 'checkpoints', 'integrity.json');
  }

  /** Whether this folder holds a run (a config.json). */
  exists(): boolean {
    return fs.existsSync(this.configFile);
  }

  /** The run's id from config.json (null for runs made before ids existed, or without a config). */
  runId(): string | null {
    if (!this.exists()) return null;
    const id = this.readJson<Record<string, unknown>>(this.configFile).runId;
    return typeof id === 'string' ? id : null;
  }

  /** Whether the run has written its first checkpoint (it can be resumed). */
  started(): boolean {
    return fs.existsSync(this.lastCheckpoint);
  }

  /**
   * Clears what a run that stopped before its first checkpoint left (its config, logs, genotype,
   * summary), so the folder can hold a new run. Only dnas's own file names; nothing else is touched.
   */
  resetUnstarted(): void {
    if (!this.writable) return;
    if (this.started()) throw new Error(`${this.dir} holds a run with a checkpoint; it is not cleared`);
    for (const f of [this.configFile, this.metricsFile, this.csvFile, this.archFile, this.genotypeFile, this.summaryFile]) fs.rmSync(f, { force: true });
  }

  /**
   * Removes what dnas wrote into this run folder (its logs, checkpoints, samples, report and
   * export) so that a command that always starts afresh (the demo) can reuse it. Only dnas's own
   * file names are removed, links are removed as links and never followed, and a sub-folder goes
   * only when it is left empty; anything else stays (and a new run then refuses the folder).
   * Nothing happens when the folder does not hold a run.
   */
  clearOwnFiles(): void {
    if (!this.writable) return;
    if (!this.exists()) return;
    const own: [string, RegExp][] = [
      ['.', /^(config\.json|metrics\.jsonl|metrics\.csv|arch\.jsonl|genotype\.json|summary\.json|report\.html)(\.tmp-\d+)?$/],
      ['checkpoints', /^(last\.pt|best\.pt|integrity\.json)(\.tmp-\d+)?$/],
      ['samples', /^(samples\.json|\d+-(image|truth|pred)\.png)(\.tmp-\d+)?$/],
      ['export', /^(model\.onnx|model\.pt|model\.py|genotype\.json)(\.tmp-\d+)?$/],
    ];
    for (const [sub, names] of own) {
      const dir = path.join(this.dir, sub);
      let st: fs.Stats;
      try {
        st = fs.lstatSync(dir);
      } catch {
        continue;
      }
      if (!st.isDirectory()) continue;
      for (const f of fs.readdirSync(dir)) {
        const file = path.join(dir, f);
        const fst = fs.lstatSync(file);
        if (names.test(f) && (fst.isFile() || fst.isSymbolicLink())) fs.unlinkSync(file);
      }
      if (sub !== '.' && fs.readdirSync(dir).length === 0) fs.rmdirSync(dir);
    }
  }

  /**
   * Makes the folder (and checkpoints/). A folder that exists, holds files and is not a run is
   * refused: a run never writes into somebody else's files. Temporary files that a killed run
   * left (`*.tmp-PID` of a process that is gone) are removed.
   */
  create(): void {
    if (!this.writable) return;
    if (fs.existsSync(this.dir) && !this.exists()) {
      const st = fs.lstatSync(this.dir);
      if (st.isSymbolicLink()) throw new Error(`${this.dir} is a symbolic link; choose a real folder for --out`);
      if (!st.isDirectory()) throw new Error(`${this.dir} exists and is not a folder; choose another --out`);
      const other = fs.readdirSync(this.dir).filter((f) => f !== 'checkpoints' && !/\.tmp-\d+$/.test(f));
      if (other.length)
        throw new Error(
          `${this.dir} exists and is not a dnas run folder (it holds ${other.slice(0, 3).join(', ')}${other.length > 3 ? ', ...' : ''}); choose another --out`,
        );
    }
    makeDirs(path.join(this.dir, 'checkpoints'));
    for (const dir of [this.dir, path.join(this.dir, 'checkpoints')]) {
      for (const f of fs.readdirSync(dir)) {
        const m = /\.tmp-(\d+)$/.exec(f);
        if (m && !processAlive(Number(m[1]))) fs.rmSync(path.join(dir, f), { force: true });
      }
    }
  }

  /**
   * Writes a checkpoint's bytes (atomically) and records their SHA-256 in integrity.json. The
   * record lists the new hash beside the old one while the file is replaced, so a crash at any
   * moment leaves a checkpoint that matches its record.
   */
  writeCheckpoint(file: string, bytes: Uint8Array): void {
    if (!this.writable) return;
    const name = this.checkpointName(file);
    if (name === null) throw new Error(`writeCheckpoint: ${file} is not in ${this.dir}/checkpoints`);
    const hash = sha256(bytes);
    const files = this.readIntegrity();
    const old = files[name] ?? [];
    this.writeIntegrity({ ...files, [name]: [hash, ...old.filter((h) => h !== hash)].slice(0, 2) });
    writeFileAtomic(file, bytes);
    this.writeIntegrity({ ...files, [name]: [hash] });
  }

  /**
   * The bytes of a checkpoint, checked against the hash integrity.json records for it (a
   * checkpoint without a record, from a run made before records existed or a file outside the
   * run's checkpoints/ folder, is not checked).
   */
  readCheckpoint(file: string): Buffer {
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(file);
    } catch (e) {
      throw new Error(`cannot read the checkpoint ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const name = this.checkpointName(file);
    const want = name === null ? undefined : this.readIntegrity()[name];
    if (want && !want.includes(sha256(bytes))) {
      throw new Error(
        `${file} does not match the SHA-256 recorded in ${this.integrityFile} when it was written: the file was changed or damaged since. ` +
          `Use another checkpoint (best.pt or last.pt) or a backup; the run cannot continue from this one`,
      );
    }
    return bytes;
  }

  /** The name integrity.json knows `file` by; null for a file outside checkpoints/. */
  private checkpointName(file: string): string | null {
    return path.resolve(path.dirname(file)) === path.join(path.resolve(this.dir), 'checkpoints') ? path.basename(file) : null;
  }

  /** integrity.json: checkpoint name -> accepted SHA-256 hex digests ({} when there is none). */
  private readIntegrity(): Record<string, string[]> {
    if (!fs.existsSync(this.integrityFile)) return {};
    const rec = this.readJson<unknown>(this.integrityFile);
    const files = (rec as { files?: unknown } | null)?.files;
    const ok =
      files !== null &&
      typeof files === 'object' &&
      !Array.isArray(files) &&
      Object.values(files).every((v) => Array.isArray(v) && v.every((h) => typeof h === 'string' && /^[0-9a-f]{64}$/.test(h)));
    if (!ok)
      throw new Error(
        `${this.integrityFile} is not a dnas integrity record ({"algorithm": "sha256", "files": {name: [hex digests]}}); it was damaged or edited`,
      );
    return Object.assign(Object.create(null) as Record<string, string[]>, files);
  }

  private writeIntegrity(files: Record<string, string[]>): void {
    this.writeJson(this.integrityFile, { algorithm: 'sha256', files });
  }

  writeJson(file: string, value: unknown): void {
    if (!this.writable) return;
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
    if (!this.writable) return;
    appendNoFollow(file, JSON.stringify(record) + '\n');
  }

  readMetrics(): Record<string, unknown>[] {
    return readJsonl(this.metricsFile);
  }
  readArch(): Record<string, unknown>[] {
    return readJsonl(this.archFile);
  }

  /** Keeps only the JSONL records with `epoch <= epoch` (used when resuming). */
  truncateJsonl(file: string, epoch: number): void {
    if (!this.writable) return;
    const kept = readJsonl<{ epoch: number }>(file).filter((r) => r.epoch <= epoch);
    writeFileAtomic(file, kept.map((r) => JSON.stringify(r) + '\n').join(''));
  }
}
