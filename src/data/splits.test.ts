import assert from 'node:assert/strict';
import { test } from 'node:test';
import { searchSplit } from './splits';

function check(w: number[], a: number[], n: number): void {
  const all = new Set([...w, ...a]);
  assert.equal(all.size, n, 'covers every index');
  assert.equal(w.length + a.length, n, 'disjoint');
  for (let i = 1; i < w.length; i++) assert.ok(w[i] > w[i - 1]);
  for (let i = 1; i < a.length; i++) assert.ok(a[i] > a[i - 1]);
}

test('darts: a fixed disjoint partition of the requested sizes, the same every epoch, per seed', () => {
  const s0 = searchSplit({ strategy: 'darts', n: 1000, fraction: 0.5, seed: 3, epoch: 0 });
  check(s0.weightIndices, s0.archIndices, 1000);
  assert.equal(s0.archIndices.length, 500);
  const s5 = searchSplit({ strategy: 'darts', n: 1000, fraction: 0.5, seed: 3, epoch: 5 });
  assert.deepEqual(s5, s0);
  const other = searchSplit({ strategy: 'darts', n: 1000, fraction: 0.5, seed: 4 });
  assert.notDeepEqual(other.archIndices, s0.archIndices);
  const q = searchSplit({ strategy: 'darts', n: 101, fraction: 0.3, seed: 3 });
  check(q.weightIndices, q.archIndices, 101);
  assert.equal(q.archIndices.length, 30);
  // a random partition, not a contiguous one
  assert.ok(s0.archIndices[0] < 10 && s0.archIndices[499] > 990);
});

test('resample: a new disjoint partition every epoch, reproducible for (seed, epoch)', () => {
  const seen = new Set<string>();
  for (let e = 0; e < 5; e++) {
    const s = searchSplit({ strategy: 'resample', n: 200, fraction: 0.25, seed: 1, epoch: e });
    check(s.weightIndices, s.archIndices, 200);
    assert.equal(s.archIndices.length, 50);
    assert.deepEqual(searchSplit({ strategy: 'resample', n: 200, fraction: 0.25, seed: 1, epoch: e }), s);
    seen.add(s.archIndices.join(','));
  }
  assert.equal(seen.size, 5, 'each epoch differs');
  const a = searchSplit({ strategy: 'resample', n: 200, seed: 1, epoch: 2 });
  const b = searchSplit({ strategy: 'resample', n: 200, seed: 2, epoch: 2 });
  assert.notDeepEqual(a.archIndices, b.archIndices);
});

test('full: both steps on all the data; frozen: everything to the weights', () => {
  const f = searchSplit({ strategy: 'full', n: 7, seed: 1 });
  assert.deepEqual(f.weightIndices, [0, 1, 2, 3, 4, 5, 6]);
  assert.deepEqual(f.archIndices, [0, 1, 2, 3, 4, 5, 6]);
  for (const strategy of ['darts', 'resample', 'full'] as const) {
    const z = searchSplit({ strategy, n: 7, seed: 1, epoch: 3, frozen: true });
    assert.deepEqual(z.weightIndices, [0, 1, 2, 3, 4, 5, 6]);
    assert.deepEqual(z.archIndices, []);
  }
});

test('edge cases: tiny n keeps both parts non-empty; bad arguments are refused', () => {
  const s = searchSplit({ strategy: 'darts', n: 2, fraction: 0.05 });
  assert.equal(s.archIndices.length, 1);
  assert.equal(s.weightIndices.length, 1);
  assert.deepEqual(searchSplit({ strategy: 'resample', n: 0 }), { weightIndices: [], archIndices: [] });
  assert.throws(() => searchSplit({ strategy: 'darts', n: 10, fraction: 1 }), /fraction must be in \(0, 1\)/);
  assert.throws(() => searchSplit({ strategy: 'nope' as never, n: 10 }), /unknown strategy 'nope'/);
  assert.throws(() => searchSplit({ strategy: 'full', n: -1 }), /non-negative integer/);
});
