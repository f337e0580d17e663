/**
 * dnas/torch distributed: collectives between processes over libtorch's c10d (a TCPStore for the
 * rendezvous, a gloo process group for CPU tensors), named after torch.distributed.
 *
 * @example
 * // in each of N processes started with RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT set
 * import { distributed as dist } from 'dnas/torch';
 * dist.initProcessGroup();                 // reads the environment, as torchrun sets it
 * loss.backward();
 * dist.allReduce(grads);                   // sums in place on every rank
 * grads.forEach((g) => g.mul_(1 / dist.getWorldSize()));
 * dist.destroyProcessGroup();
 *
 * One group per process. Collectives block until every rank has called them; a rank that has
 * died or stopped answering makes them throw after the group's timeout (default 300 s,
 * DNAS_DIST_TIMEOUT in seconds) instead of hanging.
 */
import { native } from '../native/binding';
import { handleOf, Tensor } from './tensor';

/** Where and who: the settings of a process group. */
export interface ProcessGroupOptions {
  rank: number;
  worldSize: number;
  /** Address of rank 0, which serves the rendezvous store. */
  masterAddr: string;
  masterPort: number;
  /** Rank within this machine (LOCAL_RANK); informational on CPU. */
  localRank: number;
  /** How long a collective or the rendezvous waits for the other ranks, in ms. */
  timeoutMs: number;
}

let current: ProcessGroupOptions | null = null;

/** The default collective timeout: DNAS_DIST_TIMEOUT seconds, else 300 s. */
export function defaultTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.DNAS_DIST_TIMEOUT;
  if (v === undefined || v === '') return 300_000;
  const s = Number(v);
  if (!(s > 0) || !Number.isFinite(s)) throw new Error(`DNAS_DIST_TIMEOUT must be a positive number of seconds, got '${v}'`);
  return Math.round(s * 1000);
}

function intVar(env: NodeJS.ProcessEnv, name: string, min: number, max: number): number {
  const v = env[name];
  const n = Number(v);
  if (v === undefined || v.trim() === '' || !Number.isInteger(n) || n < min || n > max)
    throw new Error(
      `the environment variable ${name} must be an integer in [${min}, ${max}], got '${v ?? ''}' (torchrun-style launch: RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT)`,
    );
  return n;
}

/**
 * The process group the environment describes (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT,
 * LOCAL_RANK, as torchrun sets them), or null when WORLD_SIZE is unset. Wrong values are errors
 * that name the variable.
 */
export function fromEnvironment(env: NodeJS.ProcessEnv = process.env): ProcessGroupOptions | null {
  if (env.WORLD_SIZE === undefined || env.WORLD_SIZE === '') return null;
  const worldSize = intVar(env, 'WORLD_SIZE', 1, 65536);
  const rank = intVar(env, 'RANK', 0, worldSize - 1);
  const masterPort = env.MASTER_PORT === undefined && worldSize === 1 ? 29500 : intVar(env, 'MASTER_PORT', 1, 65535);
  const masterAddr = env.MASTER_ADDR && env.MASTER_ADDR.trim() ? env.MASTER_ADDR.trim() : worldSize === 1 ? '127.0.0.1' : '';
  if (!masterAddr) throw new Error('the environment variable MASTER_ADDR must name the machine of rank 0 (for one machine: 127.0.0.1)');
  const localRank = env.LOCAL_RANK === undefined || env.LOCAL_RANK === '' ? rank : intVar(env, 'LOCAL_RANK', 0, worldSize - 1);
  return { rank, worldSize, masterAddr, masterPort, localRank, timeoutMs: defaultTimeoutMs(env) };
}

/** Whether the addon was built with collectives; when not, why (the fix is in the message). */
export function unavailableReason(): string | null {
  return native.distUnavailable() || null;
}

/**
 * Joins the process group: every rank calls this with the same world size, address and port
 * (default: from the environment). Resolves once all ranks have joined, or throws after the timeout.
 */
export function initProcessGroup(o: Partial<ProcessGroupOptions> = {}): ProcessGroupOptions {
  if (current) throw new Error('initProcessGroup: this process is already in a process group (destroyProcessGroup first)');
  const env = fromEnvironment();
  const opts: ProcessGroupOptions = {
    rank: o.rank ?? env?.rank ?? 0,
    worldSize: o.worldSize ?? env?.worldSize ?? 1,
    masterAddr: o.masterAddr ?? env?.masterAddr ?? '127.0.0.1',
    masterPort: o.masterPort ?? env?.masterPort ?? 29500,
    localRank: o.localRank ?? env?.localRank ?? o.rank ?? 0,
    timeoutMs: o.timeoutMs ?? env?.timeoutMs ?? defaultTimeoutMs(),
  };
  const why = unavailableReason();
  if (why) throw new Error(why);
  try {
    native.distInit(opts.masterAddr, opts.masterPort, opts.rank, opts.worldSize, opts.timeoutMs);
  } catch (e) {
    throw new Error(
      `rank ${opts.rank} of ${opts.worldSize} could not join the process group at ${opts.masterAddr}:${opts.masterPort} within ${opts.timeoutMs / 1000} s ` +
        `(is rank 0 running, and the port free?): ${(e as Error).message}`,
    );
  }
  current = opts;
  return opts;
}

/** Whether this process is in a process group. */
export function isInitialized(): boolean {
  return current !== null;
}

/** This process's rank (0 without a group). */
export function getRank(): number {
  return current?.rank ?? 0;
}

/** The number of processes in the group (1 without a group). */
export function getWorldSize(): number {
  return current?.worldSize ?? 1;
}

const OPS = { sum: 0, max: 1, min: 2 } as const;
export type ReduceOp = keyof typeof OPS;

function handles(ts: Tensor | Tensor[], what: string): number[] {
  const list = Array.isArray(ts) ? ts : [ts];
  return list.map((t, i) => handleOf(t, `${what}: tensor ${i}`));
}

function need(what: string): void {
  if (!current) throw new Error(`${what}: no process group (call initProcessGroup first)`);
}

/**
 * Reduces `tensors` over all ranks, in place on each (one message for the whole list). The
 * result is identical on every rank.
 */
export function allReduce(tensors: Tensor | Tensor[], op: ReduceOp = 'sum'): void {
  need('allReduce');
  if (!(op in OPS)) throw new Error(`allReduce: op must be sum, max or min, got '${op}'`);
  native.distAllReduce(handles(tensors, 'allReduce'), OPS[op]);
}

/** Copies `tensors` of rank `src` into the same tensors of every other rank, in place. */
export function broadcast(tensors: Tensor | Tensor[], src = 0): void {
  need('broadcast');
  native.distBroadcast(handles(tensors, 'broadcast'), src);
}

/** Waits until every rank has reached this call. */
export function barrier(): void {
  need('barrier');
  native.distBarrier();
}

/** Leaves the process group (a no-op without one). */
export function destroyProcessGroup(): void {
  native.distDestroy();
  current = null;
}
