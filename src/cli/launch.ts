/**
 * `dnas search --nproc N`: starts N ranks of the same command on this machine, as torchrun does
 * (RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR=127.0.0.1 and a free MASTER_PORT in each one's
 * environment), and waits for them.
 *
 * - Rank 0 prints as a single run would; the other ranks print only their errors, prefixed.
 * - Ctrl-C, SIGTERM or SIGHUP goes to every rank; the ranks agree on the step to stop after. A
 *   second one stops them at once; a third kills them (a rank can be deaf to signals while it
 *   waits in a collective).
 * - A rank that fails or dies makes the command fail, naming that rank. The others then stop by
 *   themselves (a collective with a dead rank fails at once) or are killed after GRACE_MS; rank 0
 *   gets that long to finish writing a checkpoint.
 *
 * The ranks run in their own process group, so a terminal's Ctrl-C reaches them through this
 * launcher only (twice would mean "stop at once"). Each rank holds an IPC channel to the launcher
 * and stops when it closes, so a launcher that is killed leaves no rank behind.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { UsageError } from './parse';

/** The most ranks `--nproc` starts on one machine. */
export const MAX_NPROC = 64;

/** How long the other ranks get to end by themselves after one failed. */
export const GRACE_MS = 10_000;

/** `--nproc`'s value, checked (null when absent). */
export function nprocArg(v: string | boolean | undefined): number | null {
  if (v === undefined) return null;
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isInteger(n) || n < 1 || n > MAX_NPROC)
    throw new UsageError(`--nproc takes the number of processes, an integer in [1, ${MAX_NPROC}], got '${String(v)}'`);
  return n;
}

/** argv without `--nproc N` / `--nproc=N`. */
export function withoutNproc(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--nproc') i++;
    else if (!argv[i].startsWith('--nproc=')) out.push(argv[i]);
  }
  return out;
}

/** A TCP port that was free on the loopback address a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `was killed by ${signal}` : `exited with code ${code}`;
}

/**
 * Runs `dnas <command> ...args` as `nproc` ranks; resolves to the exit code: 0 when every rank
 * succeeded, else the first failure's (a rank killed by a signal: 128 + its number, or 1).
 */
export async function launch(command: string, args: string[], nproc: number, log: (line: string) => void = (l) => console.error(l)): Promise<number> {
  const port = await freePort();
  const bin = path.join(__dirname, '..', '..', '..', 'bin', 'dnas.js');
  const children: ChildProcess[] = [];
  let firstFailure: { rank: number; code: number } | null = null;
  let stopping = false;
  let signals = 0;
  const signal = (sig: NodeJS.Signals) => {
    stopping = true;
    const kill = ++signals >= 3;
    log(kill ? `dnas: ${sig} a third time: killing the ${nproc} ranks` : `dnas: ${sig}: passed to the ${nproc} ranks`);
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill(kill ? 'SIGKILL' : sig === 'SIGHUP' ? 'SIGTERM' : sig);
  };
  process.on('SIGINT', signal);
  process.on('SIGTERM', signal);
  process.on('SIGHUP', signal);
  try {
    const exits = Array.from({ length: nproc }, (_, rank) => {
      const env = {
        ...process.env,
        RANK: String(rank),
        LOCAL_RANK: String(rank),
        WORLD_SIZE: String(nproc),
        MASTER_ADDR: '127.0.0.1',
        MASTER_PORT: String(port),
      };
      const child = spawn(process.execPath, [bin, command, ...args], {
        env,
        detached: true,
        // An IPC channel per rank: a rank whose launcher is gone (killed, its terminal closed) stops.
        stdio: rank === 0 ? ['inherit', 'inherit', 'inherit', 'ipc'] : ['ignore', 'ignore', 'pipe', 'ipc'],
      });
      children.push(child);
      if (rank > 0) {
        let rest = '';
        child.stderr!.setEncoding('utf8');
        child.stderr!.on('data', (d: string) => {
          const lines = (rest + d).split('\n');
          rest = lines.pop()!;
          for (const l of lines) log(`[rank ${rank}] ${l}`);
        });
        child.stderr!.on('end', () => rest && log(`[rank ${rank}] ${rest}`));
      }
      return new Promise<void>((resolve) => {
        child.on('error', (e) => {
          firstFailure ??= { rank, code: 1 };
          log(`dnas: rank ${rank} could not start: ${e.message}`);
          resolve();
        });
        child.on('exit', (code, sig) => {
          if (code !== 0 && !firstFailure) {
            firstFailure = { rank, code: code ?? (sig === 'SIGINT' ? 130 : sig === 'SIGTERM' ? 143 : sig === 'SIGKILL' ? 137 : 1) };
            const alive = children.filter((c) => c !== child && c.exitCode === null && c.signalCode === null);
            if (alive.length) {
              if (!stopping) log(`dnas: rank ${rank} ${describeExit(code, sig)}; the other ${alive.length} rank(s) stop too`);
              setTimeout(() => {
                for (const c of alive) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
              }, GRACE_MS).unref();
            }
          }
          resolve();
        });
      });
    });
    await Promise.all(exits);
  } finally {
    process.removeListener('SIGINT', signal);
    process.removeListener('SIGTERM', signal);
    process.removeListener('SIGHUP', signal);
  }
  const failed = firstFailure as { rank: number; code: number } | null;
  if (!failed) return 0;
  // Ctrl-C / SIGTERM: every rank stopped at the agreed step with the same code; rank 0 said where.
  if ((failed.code === 130 || failed.code === 143) && children.every((c) => c.exitCode === failed.code)) return failed.code;
  log(`dnas: the ${nproc}-process run failed: rank ${failed.rank} stopped first (its messages above say why)`);
  return failed.code;
}
