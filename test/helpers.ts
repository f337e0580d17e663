/**
 * Shared test helpers: numeric comparison, the Python/PyTorch reference runner, and the
 * inherited-weight identity of a search space.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import type { Genotype, SearchSpace } from '../src/space';
import { dispose, maxAbsDiff, nn, sameStorage, Tensor, tidy } from '../src/torch';

/** The values of a tensor (or an array) as plain numbers. */
export function values(x: Tensor | number[]): number[] {
  return x instanceof Tensor ? x.toArray() : x;
}

/** Asserts |actual - expected| <= atol + rtol |expected| element-wise, and equal lengths. */
export function assertClose(actual: Tensor | number[] | number, expected: number[] | number, atol = 1e-6, rtol = 0, what = ''): void {
  const a = typeof actual === 'number' ? [actual] : values(actual);
  const e = typeof expected === 'number' ? [expected] : expected;
  assert.equal(a.length, e.length, `${what}: ${a.length} values, expected ${e.length}`);
  for (let i = 0; i < a.length; i++) {
    const ok = Number.isNaN(e[i]) ? Number.isNaN(a[i]) : Math.abs(a[i] - e[i]) <= atol + rtol * Math.abs(e[i]);
    assert.ok(
      ok,
      `${what}${what ? ': ' : ''}element ${i} is ${a[i]}, expected ${e[i]} (atol ${atol}, rtol ${rtol})\nactual:   [${a.join(', ')}]\nexpected: [${e.join(', ')}]`,
    );
  }
}

/** Largest |a - b| over two equally long arrays. */
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

// ---- Python reference -----------------------------------------------------------------------

export const PYTHON = process.env.DNAS_TEST_PYTHON ?? '/usr/bin/python3';
export const REFERENCE_DIR = path.resolve(__dirname, '..', '..', 'test', 'reference');

let probed: string | null | undefined;
/**
 * null when PyTorch is usable from {@link PYTHON}; otherwise the reason the parity tests skip
 * (pass it as `test(name, { skip: pythonSkipReason() }, ...)`).
 */
export function pythonSkipReason(): string | false {
  if (probed === undefined) {
    const r = spawnSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8', timeout: 60_000 });
    probed =
      r.status === 0
        ? null
        : `${PYTHON} with torch is not available (${(r.error?.message ?? r.stderr ?? '').trim().split('\n').pop() || 'import torch failed'})`;
  }
  return probed ?? false;
}

/** Runs test/reference/<script> with `args`; returns stdout, throws with stderr on failure. */
export function runPython(script: string, args: string[]): string {
  const r = spawnSync(PYTHON, [path.join(REFERENCE_DIR, script), ...args], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`${script} failed (status ${r.status}): ${r.error?.message ?? ''}\n${r.stderr}`);
  return r.stdout;
}

/** A fresh temporary folder (removed when the process exits). */
export function tempDir(prefix = 'dnas-test-'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  process.on('exit', () => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

/** A zip archive of stored records (what torch.save writes), for hand-made checkpoints. */
export function storedZip(entries: [string, Buffer][]): Buffer {
  const locals: Buffer[] = [],
    centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of entries) {
    const n = Buffer.from(name);
    const crc = zlib.crc32(data) >>> 0;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(n.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(n.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, n, data);
    centrals.push(central, n);
    offset += 30 + n.length + data.length;
  }
  const dir = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(dir.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, dir, end]);
}

/** A pickle (protocol 2) of lists nested `depth` deep: ]]]...aaa. */
export function nestedListPickle(depth: number): Buffer {
  return Buffer.concat([Buffer.from([0x80, 0x02]), Buffer.alloc(depth, ']'), Buffer.alloc(depth - 1, 'a'), Buffer.from('.')]);
}

/**
 * The inherited-weight identity of a search space, for each genotype: the supernet under
 * `fix(g)` and `derive(g)` give exactly the same output on `x` in eval and in training mode; the
 * derived network's parameters are the supernet's own tensors; and `build(g)` has the derived
 * network's state-dict keys and shapes with tensors of its own. Returns the derived networks
 * (release: false) for further checks.
 */
export function assertDerivedIsFixed(space: SearchSpace, genotypes: Genotype[], x: Tensor, what = ''): nn.Module[] {
  const shapes = (m: nn.Module) => Object.fromEntries(Object.entries(m.stateDict()).map(([k, t]) => [k, t.shape]));
  return genotypes.map((g) => {
    for (const mode of ['eval', 'train'] as const) {
      space.train(mode === 'train');
      space.fix(g);
      const ref = tidy(() => space.forward(x));
      const net = space.derive(g, { release: false });
      const y = tidy(() => net.forward(x) as Tensor);
      assert.equal(maxAbsDiff(ref, y), 0, `${what} ${mode}: ${JSON.stringify({ cells: g.cells, path: g.path, inputs: g.inputs, choices: g.choices })}`);
      dispose([ref, y]);
      space.unfix();
    }
    const net = space.derive(g, { release: false });
    const all = new Map(space.weightParameters().map((p) => [p.handle, p]));
    assert.ok(net.parameters().every((p) => all.has(p.handle) && sameStorage(p, all.get(p.handle)!)));
    const fresh = space.build(g);
    assert.deepEqual(shapes(fresh), shapes(net));
    assert.ok(fresh.parameters().every((p) => !all.has(p.handle)));
    fresh.dispose();
    return net;
  });
}
