/**
 * Tensor lifetimes: tidy scopes, keep, dispose, use-after-release errors, the handle count of a
 * training step, and resident memory over a long training loop.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as torch from '../src/torch';
import type { Tensor } from '../src/torch';

torch.setNumThreads(1);
const { nn, optim } = torch;
const F = nn.functional;
const live = () => torch.memory().numTensors;
const RELEASED =
  /tensor #\d+ was already released \(by dispose\(\) or at the end of a tidy\(\) scope\); return it from the tidy\(\) callback or keep\(\) it to use it afterwards/;

test('tidy releases intermediates and keeps the returned tensors', () => {
  const before = live();
  const r = torch.tidy(() => {
    const a = torch.ones([4]);
    const b = a.add(1).mul(3); // two intermediates
    return b.sum();
  });
  assert.equal(live(), before + 1);
  assert.equal(r.item(), 24);
  r.dispose();
  assert.equal(live(), before);
  assert.equal(torch.memory().numScopes, 0);
});

test('tidy keeps tensors returned inside arrays, objects and Maps', () => {
  const before = live();
  const out = torch.tidy(() => {
    const x = torch.arange(3, undefined, 1, { dtype: 'float32' });
    const junk = x.exp();
    void junk;
    return { list: [x.mul(2), x.add(1)], nested: { m: new Map([['k', x.neg()]]) }, n: 5 };
  });
  assert.equal(live(), before + 3);
  assert.deepEqual(out.list[0].toArray(), [0, 2, 4]);
  assert.deepEqual(out.nested.m.get('k')!.toArray(), [-0, -1, -2]);
  torch.dispose(out);
  assert.equal(live(), before);
});

test('nested tidy: the inner result moves to the outer scope and is released there', () => {
  const before = live();
  let inner: Tensor | null = null;
  const outer = torch.tidy(() => {
    inner = torch.tidy(() => torch.ones([2]).mul(5));
    assert.equal(live(), before + 1); // the inner scope's intermediate is gone already
    assert.ok(inner.isLive);
    return inner.add(1);
  });
  assert.equal(live(), before + 1); // only `outer`
  assert.ok(!inner!.isLive);
  assert.throws(() => inner!.toArray(), RELEASED);
  assert.deepEqual(outer.toArray(), [6, 6]);
  outer.dispose();
  assert.equal(live(), before);
});

test('keep() survives every scope; dispose() releases at once', () => {
  const before = live();
  let kept: Tensor | null = null;
  torch.tidy(() => {
    torch.tidy(() => {
      kept = torch.keep(torch.full([2], 3));
      torch.ones([1]); // released
    });
    torch.ones([1]); // released
  });
  assert.equal(live(), before + 1);
  const k = kept!;
  assert.deepEqual(k.toArray(), [3, 3]);
  k.dispose();
  assert.equal(live(), before);
  assert.equal(k.isLive, false);
  assert.equal(k.disposed, true);
  k.dispose(); // twice is harmless
  assert.throws(() => k.add(1), /add: tensor #\d+ was already released/);
  assert.throws(() => torch.ones([3]).add(k), /add: argument 'other': the tensor was disposed/);
  // torch.dispose walks arrays and objects.
  const group = { a: torch.ones([1]), b: [torch.ones([1]), { c: torch.ones([1]) }] };
  assert.equal(live(), before + 4); // and the ones([3]) above
  torch.dispose(group);
  assert.equal(live(), before + 1);
});

test('using a tensor after its scope ended throws a clear error', () => {
  let escaped: Tensor | null = null;
  torch.tidy(() => {
    escaped = torch.ones([2, 2]);
  });
  const t = escaped!;
  assert.equal(t.isLive, false);
  assert.throws(() => t.toArray(), RELEASED);
  assert.throws(() => t.add(1), /^Error: add: tensor #\d+ was already released/);
  assert.throws(() => F.relu(t), /relu: tensor #\d+ was already released/);
  assert.throws(() => t.sum(), /sum: tensor #\d+ was already released/);
});

test('a throwing tidy callback closes its scope and releases what it made', () => {
  const before = live();
  assert.throws(
    () =>
      torch.tidy(() => {
        torch.ones([8]).mul(2);
        throw new Error('boom');
      }),
    /boom/,
  );
  assert.equal(live(), before);
  assert.equal(torch.memory().numScopes, 0);
  assert.throws(() => torch.tidy((() => Promise.resolve(1)) as () => unknown), /tidy\(\): the callback returned a Promise/);
  assert.equal(torch.memory().numScopes, 0);
});

test('engine helpers release their own intermediates', () => {
  const a = torch.randn([5]);
  const b = torch.randn([5]);
  const p = torch.tensor([1, 2], { requiresGrad: true });
  const before = live();
  torch.maxAbsDiff(a, b);
  torch.allclose(a, b);
  torch.nn.functional.gumbelSoftmax(a, { hard: true }).dispose();
  torch.nn.utils.clipGradNorm([p], 1);
  const opt = new optim.Adam([p], { lr: 0.1 });
  opt.loadStateDict(opt.stateDict());
  assert.equal(live(), before);
  torch.dispose([a, b, p]);
});

test('views and gradients count their storage once', () => {
  torch.tidy(() => {
    const m0 = torch.memory();
    const x = torch.zeros([256], { dtype: 'float32' }); // 1 KiB
    const m1 = torch.memory();
    assert.equal(m1.numBytes - m0.numBytes, 1024);
    const v = x.view(16, 16);
    const m2 = torch.memory();
    assert.equal(m2.numTensors, m1.numTensors + 1);
    assert.equal(m2.numStorages, m1.numStorages);
    assert.equal(m2.numBytes, m1.numBytes);
    v.dispose();
    assert.equal(torch.memory().numBytes, m1.numBytes);
  });
});

test('a training step leaves the number of live tensors unchanged', () => {
  torch.manualSeed(0);
  const net = new nn.Sequential(new nn.Conv2d(3, 4, 3, { padding: 1 }), new nn.BatchNorm2d(4), new nn.ReLU(), new nn.Conv2d(4, 5, 1));
  const opt = new optim.Adam(net.parameters(), { lr: 1e-3 });
  const x = torch.randn([2, 3, 6, 6]);
  const y = torch.randint(0, 5, [2, 6, 6]);
  const step = () => {
    opt.zeroGrad();
    const l = torch.tidy(() => {
      const loss = F.crossEntropy(net.forward(x), y);
      loss.backward();
      return loss.item();
    });
    opt.step();
    return l;
  };
  step(); // creates the optimizer state
  const before = torch.memory();
  for (let i = 0; i < 5; i++) step();
  const after = torch.memory();
  assert.equal(after.numTensors, before.numTensors);
  assert.equal(after.numBytes, before.numBytes);
  // Reading .grad outside a scope makes one handle, released by dispose.
  const g = net.parameters()[0].grad!;
  assert.equal(live(), before.numTensors + 1);
  g.dispose();
  net.dispose();
});

test('resident memory stays flat over 2000 training steps', async (t) => {
  // Input 8x3x16x16, two 3x3 convs, SGD with momentum; the loop awaits setImmediate each step as
  // dnas training loops do. Measured on the 2-core development machine (libtorch 1.13, Node 20):
  // RSS grows by about 6-7 MiB between step 100 and step 2000 (V8 heap settling), and stays
  // within about 12 MiB after 12000 steps; without the 128 KiB mmap threshold and tidy scopes it
  // grew by gigabytes. The bound below is 32 MiB. The loop takes about 3-4 s.
  const BOUND_MIB = 32;
  torch.manualSeed(0);
  const net = new nn.Sequential(new nn.Conv2d(3, 16, 3, { padding: 1 }), new nn.ReLU(), new nn.Conv2d(16, 10, 3, { padding: 1 }));
  const opt = new optim.SGD(net.parameters(), { lr: 0.01, momentum: 0.9 });
  const x = torch.randn([8, 3, 16, 16]);
  const y = torch.randint(0, 10, [8, 16, 16]);
  let rssAt100 = 0;
  let tensorsAt100 = 0;
  let first = 0;
  let last = 0;
  for (let s = 1; s <= 2000; s++) {
    opt.zeroGrad();
    const l = torch.tidy(() => {
      const loss = F.crossEntropy(net.forward(x), y);
      loss.backward();
      return s === 1 || s === 2000 ? loss.item() : 0;
    });
    opt.step();
    if (s === 1) first = l;
    if (s === 2000) last = l;
    await new Promise((r) => setImmediate(r));
    if (s === 100) {
      rssAt100 = process.memoryUsage().rss;
      tensorsAt100 = live();
    }
  }
  const growthMiB = (process.memoryUsage().rss - rssAt100) / 2 ** 20;
  t.diagnostic(`RSS growth from step 100 to step 2000: ${growthMiB.toFixed(1)} MiB (bound ${BOUND_MIB} MiB)`);
  assert.equal(live(), tensorsAt100);
  assert.ok(growthMiB < BOUND_MIB, `RSS grew by ${growthMiB.toFixed(1)} MiB between step 100 and step 2000 (bound ${BOUND_MIB} MiB)`);
  assert.ok(last < first, `training did not reduce the loss (${first} -> ${last})`);
  net.dispose();
  x.dispose();
  y.dispose();
});
