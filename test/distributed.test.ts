/**
 * Several processes (gloo over libtorch's c10d): the collectives between real processes, the
 * loader's shards, and `dnas search --nproc 2` against one process with the same global batch
 * (same losses, weights and architecture), resumed after a stop, and with a rank killed.
 */
import assert from 'node:assert/strict';
import { ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { DataLoader, getDataset, missingDebianData } from '../src/data';
import { readJsonl } from '../src/search/rundir';
import { distributed as dist, load, Tensor } from '../src/torch';
import { freePort, nprocArg, withoutNproc } from '../src/cli/launch';
import { tempDir } from './helpers';

const ROOT = path.join(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'dnas.js');
const LIB = path.join(ROOT, 'dist', 'src', 'index.js');
const noGloo = dist.unavailableReason();
const noData = missingDebianData('fashion-scenes');
const skipRuns = noGloo ?? noData ?? false;

test('fromEnvironment reads torchrun-style variables and names the wrong one', () => {
  assert.equal(dist.fromEnvironment({}), null);
  assert.deepEqual(dist.fromEnvironment({ WORLD_SIZE: '2', RANK: '1', MASTER_ADDR: 'node0', MASTER_PORT: '29501', DNAS_DIST_TIMEOUT: '7.5' }), {
    rank: 1,
    worldSize: 2,
    masterAddr: 'node0',
    masterPort: 29501,
    localRank: 1,
    timeoutMs: 7500,
  });
  assert.throws(() => dist.fromEnvironment({ WORLD_SIZE: '2', RANK: '2', MASTER_ADDR: 'a', MASTER_PORT: '1' }), /RANK must be an integer in \[0, 1\], got '2'/);
  assert.throws(() => dist.fromEnvironment({ WORLD_SIZE: '2', RANK: '0', MASTER_ADDR: 'a', MASTER_PORT: '1.5' }), /MASTER_PORT must be an integer/);
  assert.throws(() => dist.fromEnvironment({ WORLD_SIZE: '2', RANK: '0', MASTER_PORT: '80' }), /MASTER_ADDR must name the machine of rank 0/);
  assert.throws(() => dist.fromEnvironment({ WORLD_SIZE: 'two' }), /WORLD_SIZE must be an integer/);
  assert.throws(() => dist.fromEnvironment({ WORLD_SIZE: '1', RANK: '0', DNAS_DIST_TIMEOUT: '-1' }), /DNAS_DIST_TIMEOUT must be a positive number/);
  assert.equal(nprocArg(undefined), null);
  assert.equal(nprocArg('3'), 3);
  assert.throws(() => nprocArg('1.5'), /--nproc takes the number of processes/);
  assert.throws(() => nprocArg('0'), /--nproc takes/);
  assert.deepEqual(withoutNproc(['--epochs', '2', '--nproc', '2', '--nproc=3', '--quiet']), ['--epochs', '2', '--quiet']);
});

test('sharded loaders read each batch exactly once between them, with the same augmentation', { skip: noData ?? false }, async () => {
  const ds = getDataset('fashion-scenes', { split: 'train', size: 16, limit: 11 } as never);
  const opts = { dataset: ds, batchSize: 4, seed: 3, augment: { flip: true }, workers: 0 };
  const whole = new DataLoader(opts);
  const shards = [0, 1, 2].map((rank) => new DataLoader({ ...opts, shard: { rank, world: 3 } }));
  const batches = async (l: DataLoader) => {
    const out = [];
    for await (const b of l.epoch(1)) out.push(b);
    return out;
  };
  const all = await batches(whole);
  const parts = await Promise.all(shards.map(batches));
  // 11 samples in batches of 4: 4, 4, 3; with 3 ranks each batch is cut 1+1+2, 1+1+2, 1+1+1.
  assert.deepEqual(
    parts.map((p) => p.map((b) => b.shape[0])),
    [
      [1, 1, 1],
      [1, 1, 1],
      [2, 2, 1],
    ],
  );
  all.forEach((b, i) => {
    const joined = parts.flatMap((p) => Array.from(p[i].images));
    assert.deepEqual(joined, Array.from(b.images), `batch ${i}: the shards' pixels, in rank order, are the batch's`);
  });
  // A batch smaller than the number of ranks is left out on every rank.
  const four = [0, 1, 2, 3].map((rank) => new DataLoader({ ...opts, shard: { rank, world: 4 } }));
  for (const l of four) assert.equal((await batches(l)).length, 2);
  // numSteps says so beforehand (a resumed epoch needs the count)
  assert.deepEqual([whole.numSteps(), ...shards.map((l) => l.numSteps()), ...four.map((l) => l.numSteps())], [3, 3, 3, 3, 2, 2, 2, 2]);
  assert.throws(() => new DataLoader({ ...opts, shard: { rank: 2, world: 2 } }), /shard must be/);
});

/** Runs `script` (CommonJS, `lib` bound to dnas) as ranks 0..n-1; their stdout lines, or the failure. */
async function ranks(n: number, script: string, env: Record<string, string> = {}): Promise<{ code: number | null; out: string }[]> {
  const dir = tempDir();
  const file = path.join(dir, 'rank.js');
  fs.writeFileSync(file, `const lib = require(${JSON.stringify(LIB)});\n${script}\n`);
  const port = await freePort();
  return Promise.all(
    Array.from({ length: n }, (_, rank) => {
      const child = spawn(process.execPath, [file], {
        env: { ...process.env, RANK: String(rank), WORLD_SIZE: String(n), MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port), ...env },
      });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      return new Promise<{ code: number | null; out: string }>((resolve) =>
        child.on('exit', (code) => {
          clearTimeout(timer);
          resolve({ code, out });
        }),
      );
    }),
  );
}

test('allReduce, broadcast and barrier between 3 processes', { skip: noGloo ?? false }, async () => {
  const res = await ranks(
    3,
    `const { torch } = lib; const d = torch.distributed;
d.initProcessGroup();
const r = d.getRank();
const a = torch.tensor([r + 1, 10 * (r + 1)]);
const b = torch.full([2, 2], r);
d.allReduce([a, b]);
const mx = torch.tensor([r, -r]); d.allReduce(mx, 'max');
const mn = torch.tensor([r, -r]); d.allReduce(mn, 'min');
const c = torch.tensor([r, r, r], { dtype: 'float64' }).add(0.5); d.broadcast(c, 2);
d.barrier();
console.log(JSON.stringify({ r, a: a.toArray(), b: b.toArray(), mx: mx.toArray(), mn: mn.toArray(), c: c.toArray(), world: d.getWorldSize() }));
d.destroyProcessGroup();`,
  );
  for (const { code, out } of res) {
    assert.equal(code, 0, out);
    const v = JSON.parse(out.trim().split('\n').pop()!);
    assert.deepEqual(v.a, [6, 60]);
    assert.deepEqual(v.b, [3, 3, 3, 3]);
    assert.deepEqual(v.mx, [2, 0]);
    assert.deepEqual(v.mn, [0, -2]);
    assert.deepEqual(v.c, [2.5, 2.5, 2.5]);
    assert.equal(v.world, 3);
  }
});

test('checkSame stops every rank when the architectures differ, naming it', { skip: noGloo ?? false }, async () => {
  const res = await ranks(
    2,
    `const { torch } = lib; const d = torch.distributed;
const { dataParallel } = require(${JSON.stringify(path.join(ROOT, 'dist', 'src', 'search', 'parallel.js'))});
d.initProcessGroup();
const par = dataParallel();
const alpha = torch.tensor([0.1, 0.2]);
par.checkSame('architecture', [alpha], 'genotype A');
console.log('same passed');
try { par.checkSame('architecture', [alpha.add(d.getRank() * 1e-7)], 'genotype A'); } catch (e) { console.log('error: ' + e.message); }
try { par.checkSame('architecture', [alpha], d.getRank() ? 'genotype B' : 'genotype A'); } catch (e) { console.log('error: ' + e.message); }`,
  );
  for (const { code, out } of res) {
    assert.equal(code, 0, out);
    assert.match(out, /same passed/);
    assert.equal((out.match(/error: the architecture differs between the 2 ranks/g) ?? []).length, 2, out);
  }
});

test('a collective with a rank that died fails within the timeout instead of hanging', { skip: noGloo ?? false }, async () => {
  const t0 = Date.now();
  const res = await ranks(
    2,
    `const { torch } = lib; const d = torch.distributed;
d.initProcessGroup();
if (d.getRank() === 1) process.exit(3);
try { d.allReduce(torch.ones([4])); console.log('no error'); } catch (e) { console.log('error: ' + e.message); process.exit(1); }`,
    { DNAS_DIST_TIMEOUT: '20' },
  );
  assert.equal(res[1].code, 3);
  assert.equal(res[0].code, 1, res[0].out);
  assert.match(res[0].out, /error: allReduce failed on rank 0/);
  assert.ok(Date.now() - t0 < 40_000, 'it ended within the timeout');
});

// ---- dnas search --nproc ---------------------------------------------------------------------

/** A space without BatchNorm (BatchNorm's batch statistics are each rank's own; see parallel.ts). */
function noBatchNormSpace(dir: string): string {
  const file = path.join(dir, 'no-bn.js');
  fs.writeFileSync(
    file,
    `const { torch, space } = require(${JSON.stringify(LIB)});
const { nn } = torch;
const conv = (C, k) => new nn.Sequential(new nn.Conv2d(C, C, k, { padding: (k - 1) / 2 }), new nn.ReLU());
const block = (label, C) => new space.LayerChoice({ conv3: conv(C, 3), conv5: conv(C, 5), skip: new nn.Identity() }, { label });
module.exports = {
  name: 'no-bn',
  task: 'segmentation',
  supernet: ({ inChannels, numClasses, config }) =>
    new nn.Sequential(new nn.Conv2d(inChannels, config.channels, 3, { padding: 1 }), new nn.ReLU(), block('b0', config.channels), block('b1', config.channels), new nn.Conv2d(config.channels, numClasses, 1)),
};
`,
  );
  return file;
}

const RUN = ['--dataset', 'fashion-scenes', '--size', '24x24', '--train-subset', '32', '--val-subset', '8', '--batch-size', '8', '--channels', '4'];
const SCHEDULE = ['--epochs', '5', '--warmup-epochs', '1', '--freeze-epoch', '3', '--control-genotypes', '0', '--threads', '1', '--quiet'];

function dnas(args: string[]): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 180_000, killSignal: 'SIGKILL' });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

function finalWeights(dir: string): Record<string, number[]> {
  const ck = load<{ model: Record<string, Tensor> }>(path.join(dir, 'checkpoints', 'last.pt'));
  return Object.fromEntries(Object.entries(ck.model).map(([k, t]) => [k, t.toArray()]));
}

function assertSameRun(a: string, b: string, what: string): void {
  const ma = readJsonl<Record<string, number>>(path.join(a, 'metrics.jsonl'));
  const mb = readJsonl<Record<string, number>>(path.join(b, 'metrics.jsonl'));
  assert.equal(ma.length, mb.length, what);
  ma.forEach((m, i) => {
    for (const k of ['trainLoss', 'valLoss', 'score'])
      assert.ok(Math.abs(m[k] - mb[i][k]) <= 1e-5 * Math.max(1, Math.abs(m[k])), `${what}: epoch ${i + 1} ${k} ${m[k]} vs ${mb[i][k]}`);
  });
  const arch = (d: string) => readJsonl<{ genotype: unknown; weights: Record<string, number[][]> }>(path.join(d, 'arch.jsonl'));
  const [aa, ab] = [arch(a), arch(b)];
  assert.deepEqual(
    aa.map((r) => r.genotype),
    ab.map((r) => r.genotype),
    `${what}: the same decoded architecture every epoch`,
  );
  aa.forEach((r, i) =>
    Object.entries(r.weights).forEach(([k, rows]) =>
      rows.flat().forEach((v, j) => assert.ok(Math.abs(v - ab[i].weights[k].flat()[j]) <= 2e-4, `${what}: ${k}`)),
    ),
  );
  const [wa, wb] = [finalWeights(a), finalWeights(b)];
  assert.deepEqual(Object.keys(wa), Object.keys(wb));
  for (const k of Object.keys(wa)) {
    const d = Math.max(...wa[k].map((v, j) => Math.abs(v - wb[k][j])));
    assert.ok(d <= 1e-5, `${what}: final weight ${k} differs by ${d}`);
  }
}

test('dnas search --nproc 2 and 3 take the steps of one process with the same global batch', { skip: skipRuns, timeout: 300_000 }, () => {
  const dir = tempDir();
  const space = noBatchNormSpace(dir);
  const one = path.join(dir, 'one');
  const two = path.join(dir, 'two');
  const r1 = dnas(['search', ...RUN, ...SCHEDULE, '--space', space, '--out', one]);
  assert.equal(r1.code, 0, r1.out);
  const r2 = dnas(['search', ...RUN, ...SCHEDULE, '--space', space, '--out', two, '--nproc', '2']);
  assert.equal(r2.code, 0, r2.out);
  assert.equal((JSON.parse(fs.readFileSync(path.join(two, 'config.json'), 'utf8')) as { processes: number }).processes, 2);
  // rank 0 alone wrote the folder: one line per epoch, one summary
  assert.equal(readJsonl(path.join(two, 'metrics.jsonl')).length, 5);
  assert.equal((JSON.parse(fs.readFileSync(path.join(two, 'summary.json'), 'utf8')) as { frozenAt: number }).frozenAt, 3);
  assertSameRun(one, two, '1 vs 2 processes');
  // 3 ranks cut each batch of 8 into 2 + 3 + 3 samples: the weighting keeps it the same step
  const three = path.join(dir, 'three');
  const r3 = dnas(['search', ...RUN, ...SCHEDULE, '--space', space, '--out', three, '--nproc', '3']);
  assert.equal(r3.code, 0, r3.out);
  assertSameRun(one, three, '1 vs 3 processes');
});

/** Waits until `file` has `lines` lines (or `ms` pass). */
async function untilLines(file: string, lines: number, ms = 120_000): Promise<void> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (fs.existsSync(file) && fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).length >= lines) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${file} did not reach ${lines} lines in ${ms} ms`);
}

function exited(child: ChildProcess): Promise<{ code: number | null; out: string }> {
  let out = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (out += d));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, out })));
}

test('a 2-process run stopped by Ctrl-C resumes on 2 processes to the uninterrupted result', { skip: skipRuns, timeout: 300_000 }, async () => {
  const dir = tempDir();
  const space = noBatchNormSpace(dir);
  const whole = path.join(dir, 'whole');
  const parts = path.join(dir, 'parts');
  const r = dnas(['search', ...RUN, ...SCHEDULE, '--space', space, '--out', whole, '--nproc', '2']);
  assert.equal(r.code, 0, r.out);
  const child = spawn(process.execPath, [BIN, 'search', ...RUN, ...SCHEDULE, '--space', space, '--out', parts, '--nproc', '2']);
  const done = exited(child);
  await untilLines(path.join(parts, 'metrics.jsonl'), 2);
  child.kill('SIGINT');
  const stopped = await done;
  assert.equal(stopped.code, 130, stopped.out);
  assert.match(stopped.out, /continue with dnas search --resume/);
  assert.ok(readJsonl(path.join(parts, 'metrics.jsonl')).length < 5, 'it stopped before the end');
  const resumed = dnas(['search', '--resume', parts, '--space', space, '--nproc', '2']);
  assert.equal(resumed.code, 0, resumed.out);
  assertSameRun(whole, parts, 'stopped and resumed vs whole');
});

/**
 * A 40-epoch 2-process run, once its first epoch is written: the launcher, its exit, the run
 * folder and the ranks' pids by rank (read from their environment).
 */
async function longRun(): Promise<{ child: ChildProcess; done: Promise<{ code: number | null; out: string }>; out: string; ranks: number[] }> {
  const dir = tempDir();
  const space = noBatchNormSpace(dir);
  const out = path.join(dir, 'run');
  const args = ['--epochs', '40', '--warmup-epochs', '1', '--control-genotypes', '0', '--threads', '1', '--quiet'];
  const child = spawn(process.execPath, [BIN, 'search', ...RUN, ...args, '--space', space, '--out', out, '--nproc', '2']);
  const done = exited(child);
  await untilLines(path.join(out, 'metrics.jsonl'), 1);
  const pids = execFileSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map(Number);
  const rankOf = (pid: number) => Number(/(?:^|\0)RANK=(\d+)/.exec(fs.readFileSync(`/proc/${pid}/environ`, 'utf8'))?.[1]);
  const ranks = [0, 1].map((r) => pids.find((p) => rankOf(p) === r)!);
  return { child, done, out, ranks };
}

test('a rank killed in the middle of a run ends the run with a message; the last checkpoint stays good', { skip: skipRuns, timeout: 300_000 }, async () => {
  const { done, out, ranks } = await longRun();
  assert.ok(ranks[1], 'rank 1 was found');
  const t0 = Date.now();
  process.kill(ranks[1], 'SIGKILL');
  const r = await done;
  assert.equal(r.code, 137, r.out);
  assert.match(r.out, /rank 1 was killed by SIGKILL/);
  assert.match(r.out, /the 2-process run failed: rank 1 stopped first/);
  assert.ok(Date.now() - t0 < 60_000, 'the run ended promptly');
  const ck = load<{ epoch: number }>(path.join(out, 'checkpoints', 'last.pt'));
  assert.ok(ck.epoch >= 1, 'last.pt loads and holds a finished epoch');
});

test('killing the launcher leaves no rank behind', { skip: skipRuns, timeout: 300_000 }, async () => {
  const { child, done, ranks } = await longRun();
  assert.equal(ranks.filter(Boolean).length, 2);
  child.kill('SIGKILL');
  await done;
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const t0 = Date.now();
  while (ranks.some(alive) && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(ranks.filter(alive), [], 'every rank stopped');
});
