/**
 * The run checkpoint (checkpoints/last.pt and best.pt): its one format, written and read only
 * here. The trainer saves and resumes with it; export and the report rebuild networks from it.
 *
 * A checkpoint is a torch.save dict Python reads with `torch.load`. Format 1 (this one) records
 * `format: 1`; files without the field were written before it existed and read the same way.
 * Everything read is checked: a field of the wrong type is an error naming the file and the field.
 */
import { deserialize, dispose, serialize, Tensor } from '../torch';
import { RunDir } from './rundir';
import { Genotype } from './types';

/** The format written; a larger number in a file means a newer dnas wrote it. */
export const CHECKPOINT_FORMAT = 1;

export type Phase = 'warmup' | 'search' | 'frozen' | 'retrain';
const PHASES: readonly Phase[] = ['warmup', 'search', 'frozen', 'retrain'];

/** What a run checkpoint holds. */
export interface RunCheckpoint {
  /** The run's id (config.json's runId): a checkpoint of another run is refused on resume. */
  runId: string | null;
  /** Finished epochs. */
  epoch: number;
  phase: Phase;
  frozenAt: number | null;
  freezeReason: string | null;
  /** First epoch of a two-stage retraining schedule. */
  retrainStart: number;
  /** The genotype frozen (or trained), when there is one. */
  genotype: Genotype | null;
  /** Decoded genotypes (JSON) of the finished search epochs, for the freeze rule. */
  history: string[];
  /** The genotype decoded after the previous epoch (JSON). */
  lastDecoded: string | null;
  /** Best score of the final network so far. */
  best: number | null;
  /** The model's state dict: the supernet while searching, the final network after a freeze. */
  model: Record<string, Tensor>;
  /** Architecture parameters while searching ({} after a freeze). */
  arch: Record<string, Tensor>;
  weightOpt: Record<string, unknown>;
  archOpt: Record<string, unknown> | null;
  /** libtorch's generator state. */
  rng?: Tensor;
  /** A run stopped in the middle of an epoch: the steps done in it and their loss sum. */
  midEpoch?: { step: number; lossSum: number };
}

/**
 * `value` with every tensor on a device other than the CPU replaced by a CPU copy (pushed to
 * `made`, for the caller to release): checkpoints hold CPU tensors, so they load on any device.
 */
function onCpu(value: unknown, made: Tensor[]): unknown {
  if (value instanceof Tensor) {
    if (value.device === 'cpu') return value;
    const t = value.to('cpu');
    made.push(t);
    return t;
  }
  if (Array.isArray(value)) return value.map((v) => onCpu(v, made));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, onCpu(v, made)]));
  return value;
}

/** Writes `ck` to `file` of `run` (atomically, its SHA-256 recorded in integrity.json), every tensor as a CPU tensor. */
export function writeRunCheckpoint(run: RunDir, file: string, ck: RunCheckpoint): void {
  const { genotype, midEpoch, ...rest } = ck;
  const made: Tensor[] = [];
  try {
    run.writeCheckpoint(
      file,
      serialize({
        format: CHECKPOINT_FORMAT,
        ...(onCpu(rest, made) as typeof rest),
        genotype: genotype ? JSON.stringify(genotype) : null,
        ...(midEpoch ? { step: midEpoch.step, lossSum: midEpoch.lossSum } : {}),
      } as never),
    );
  } finally {
    made.forEach((t) => t.dispose());
  }
}

/**
 * Reads a run checkpoint: the bytes checked against integrity.json, the container and pickle
 * against crafted input (src/torch/io.ts), then every field against its type.
 */
export function readRunCheckpoint(run: RunDir, file: string): RunCheckpoint {
  const raw = deserialize(run.readCheckpoint(file), `'${file}'`) as Record<string, unknown>;
  const bad = (field: string, want: string): never => {
    dispose(raw);
    throw new Error(`${file}: '${field}' is ${describe(raw[field])}, expected ${want}; the checkpoint is damaged or not a dnas run checkpoint`);
  };
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`${file} does not hold a dnas run checkpoint (a dict)`);
  const format = raw.format ?? 0;
  if (typeof format !== 'number' || !Number.isInteger(format) || format < 0) bad('format', 'a whole number');
  if ((format as number) > CHECKPOINT_FORMAT) {
    dispose(raw);
    throw new Error(`${file} has checkpoint format ${String(format)}; this dnas reads up to ${CHECKPOINT_FORMAT}: it was written by a newer dnas`);
  }
  const int = (k: string, min = 0) => (Number.isInteger(raw[k]) && (raw[k] as number) >= min ? (raw[k] as number) : bad(k, `a whole number >= ${min}`));
  const optInt = (k: string) => (raw[k] === null || raw[k] === undefined ? null : int(k));
  const optStr = (k: string) => (raw[k] === null || raw[k] === undefined ? null : typeof raw[k] === 'string' ? (raw[k] as string) : bad(k, 'a string or null'));
  const tensors = (k: string, optional: boolean): Record<string, Tensor> => {
    const v = raw[k];
    if ((v === undefined || v === null) && optional) return {};
    if (v === null || typeof v !== 'object' || Array.isArray(v) || !Object.values(v).every((t) => t instanceof Tensor)) return bad(k, 'a dict of tensors');
    return v as Record<string, Tensor>;
  };
  const phase = raw.phase ?? 'search';
  if (!PHASES.includes(phase as Phase)) bad('phase', PHASES.join(', '));
  let genotype: Genotype | null = null;
  const g = optStr('genotype');
  if (g) {
    try {
      genotype = JSON.parse(g) as Genotype;
    } catch {
      bad('genotype', 'a genotype as JSON text');
    }
    if (genotype === null || typeof genotype !== 'object' || Array.isArray(genotype)) bad('genotype', 'a genotype object as JSON text');
  }
  const history = raw.history ?? [];
  if (!Array.isArray(history) || !history.every((h) => typeof h === 'string')) bad('history', 'a list of strings');
  const best = raw.best ?? null;
  if (best !== null && typeof best !== 'number') bad('best', 'a number or null');
  const opt = (k: string, nullable: boolean) => {
    const v = raw[k];
    if (v === null || v === undefined) return nullable ? null : {};
    return typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : bad(k, 'a dict');
  };
  let midEpoch: RunCheckpoint['midEpoch'];
  if (raw.step !== undefined) {
    const step = int('step');
    if (typeof raw.lossSum !== 'number') bad('lossSum', 'a number');
    midEpoch = { step, lossSum: raw.lossSum as number };
  }
  if (raw.rng !== undefined && !(raw.rng instanceof Tensor)) bad('rng', 'a tensor');
  return {
    runId: optStr('runId'),
    epoch: int('epoch'),
    phase: phase as Phase,
    frozenAt: optInt('frozenAt'),
    freezeReason: optStr('freezeReason'),
    retrainStart: raw.retrainStart === undefined ? 0 : int('retrainStart'),
    genotype,
    history: history as string[],
    lastDecoded: optStr('lastDecoded'),
    best: best as number | null,
    model: tensors('model', false),
    arch: tensors('arch', true),
    weightOpt: opt('weightOpt', false) as Record<string, unknown>,
    archOpt: opt('archOpt', true),
    rng: raw.rng as Tensor | undefined,
    midEpoch,
  };
}

function describe(v: unknown): string {
  if (v === undefined) return 'missing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (v instanceof Tensor) return 'a tensor';
  return typeof v === 'object' ? 'a dict' : `${typeof v} ${JSON.stringify(v).slice(0, 40)}`;
}
