/**
 * Tensor creation, element-wise math, broadcasting, reductions, matmul and shape ops, each
 * against values computed by hand.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as torch from './index';
import { assertClose } from '../../test/helpers';

torch.setNumThreads(1);
const T = (data: Parameters<typeof torch.tensor>[0], opts: Parameters<typeof torch.tensor>[1] = {}) => torch.tensor(data, opts);
const I = (data: Parameters<typeof torch.tensor>[0]) => torch.tensor(data, { dtype: 'int64' });

test('creation: tensor, zeros, ones, full, arange, linspace', () => {
  torch.tidy(() => {
    const x = T([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    assert.deepEqual(x.shape, [2, 3]);
    assert.equal(x.dtype, 'float32');
    assert.deepEqual(x.toArray(), [1, 2, 3, 4, 5, 6]);
    assert.equal(x.numel, 6);
    assert.equal(x.ndim, 2);
    assert.equal(x.size(-1), 3);

    const f64 = T(new Float64Array([0.1, 0.2]), { shape: [2, 1] });
    assert.equal(f64.dtype, 'float64');
    assert.deepEqual(f64.shape, [2, 1]);
    assert.deepEqual(Array.from(f64.data() as Float64Array), [0.1, 0.2]); // float64 keeps every bit

    const big = T(new BigInt64Array([3n, -7n]));
    assert.equal(big.dtype, 'int64');
    assert.deepEqual(big.toArray(), [3, -7]);
    assert.equal(T(new Int32Array([1, 2])).dtype, 'int32');
    assert.equal(T(new Uint8Array([1, 2])).dtype, 'uint8');
    assert.equal(T([1.5, 2.5], { dtype: 'int64' }).dtype, 'int64');
    assert.equal(T(7).item(), 7);
    assert.deepEqual(T(7).shape, []);

    assert.deepEqual(torch.zeros([2, 2]).toArray(), [0, 0, 0, 0]);
    assert.deepEqual(torch.ones([3], { dtype: 'int64' }).toArray(), [1, 1, 1]);
    assert.equal(torch.ones([3], { dtype: 'int64' }).dtype, 'int64');
    assert.deepEqual(torch.full([2], 2.5).toArray(), [2.5, 2.5]);
    assert.deepEqual(torch.zerosLike(x).shape, [2, 3]);
    assert.deepEqual(torch.fullLike(x, -1).toArray(), [-1, -1, -1, -1, -1, -1]);

    assert.deepEqual(torch.arange(5).toArray(), [0, 1, 2, 3, 4]);
    assert.equal(torch.arange(5).dtype, 'int64');
    assert.deepEqual(torch.arange(2, 11, 3).toArray(), [2, 5, 8]);
    assert.deepEqual(torch.arange(0, 1, 0.25).toArray(), [0, 0.25, 0.5, 0.75]);
    assert.equal(torch.arange(0, 1, 0.25).dtype, 'float32');
    assert.deepEqual(torch.arange(3, undefined, 1, { dtype: 'float64' }).toArray(), [0, 1, 2]);
    assert.deepEqual(torch.linspace(0, 1, 5).toArray(), [0, 0.25, 0.5, 0.75, 1]);
    assertClose(torch.linspace(-1, 1, 4, { dtype: 'float64' }), [-1, -1 / 3, 1 / 3, 1], 1e-15);
  });
});

test('creation: ragged arrays and non-numbers are rejected', () => {
  assert.throws(() => T([[1, 2], [3]] as number[][]), /ragged/);
  assert.throws(() => T(['a'] as unknown as number[]), /tensor: element 0 is string/);
});

test('randn/rand/randint/randperm are deterministic under manualSeed', () => {
  torch.tidy(() => {
    // The values PyTorch prints for torch.manual_seed(0); torch.randn(5) (same generator).
    torch.manualSeed(0);
    assertClose(torch.randn([5]), [1.541, -0.2934, -2.1788, 0.5684, -1.0845], 1e-4);
    torch.manualSeed(42);
    const a = torch.randn([3, 4]).toArray();
    const r1 = torch.rand([6]).toArray();
    const i1 = torch.randint(0, 10, [20]).toArray();
    const p1 = torch.randperm(8).toArray();
    torch.manualSeed(42);
    assert.deepEqual(torch.randn([3, 4]).toArray(), a);
    assert.deepEqual(torch.rand([6]).toArray(), r1);
    assert.deepEqual(torch.randint(0, 10, [20]).toArray(), i1);
    assert.deepEqual(torch.randperm(8).toArray(), p1);
    assert.ok(r1.every((v) => v >= 0 && v < 1));
    assert.ok(i1.every((v) => Number.isInteger(v) && v >= 0 && v < 10));
    assert.deepEqual(
      [...p1].sort((x, y) => x - y),
      [0, 1, 2, 3, 4, 5, 6, 7],
    );
    // Different seeds differ.
    torch.manualSeed(43);
    assert.notDeepEqual(torch.randn([3, 4]).toArray(), a);
    // The generator state round-trips.
    torch.manualSeed(5);
    const state = torch.getRngState();
    const s1 = torch.randn([4]).toArray();
    torch.setRngState(state);
    assert.deepEqual(torch.randn([4]).toArray(), s1);
    // Moments of a large sample.
    torch.manualSeed(1);
    const big = torch.randn([20000], { dtype: 'float64' });
    assert.ok(Math.abs(big.mean().item()) < 0.03);
    assert.ok(Math.abs(big.std().item() - 1) < 0.03);
  });
});

test('element-wise arithmetic and math functions', () => {
  torch.tidy(() => {
    const a = T([1, -2, 3, 0.5]);
    const b = T([2, 4, -1, 0.25]);
    assert.deepEqual(a.add(b).toArray(), [3, 2, 2, 0.75]);
    assert.deepEqual(a.add(b, 2).toArray(), [5, 6, 1, 1]);
    assert.deepEqual(a.add(1, 3).toArray(), [4, 1, 6, 3.5]);
    assert.deepEqual(a.sub(b).toArray(), [-1, -6, 4, 0.25]);
    assert.deepEqual(a.mul(b).toArray(), [2, -8, -3, 0.125]);
    assert.deepEqual(a.div(b).toArray(), [0.5, -0.5, -3, 2]);
    assert.deepEqual(a.mul(2).toArray(), [2, -4, 6, 1]);
    assert.deepEqual(a.div(2).toArray(), [0.5, -1, 1.5, 0.25]);
    assert.deepEqual(a.sub(1).toArray(), [0, -3, 2, -0.5]);
    assert.deepEqual(a.rsub(1).toArray(), [0, 3, -2, 0.5]);
    assert.deepEqual(a.neg().toArray(), [-1, 2, -3, -0.5]);
    assert.deepEqual(a.abs().toArray(), [1, 2, 3, 0.5]);
    assert.deepEqual(a.sign().toArray(), [1, -1, 1, 1]);
    assert.deepEqual(a.square().toArray(), [1, 4, 9, 0.25]);
    assert.deepEqual(a.relu().toArray(), [1, 0, 3, 0.5]);
    assert.deepEqual(a.reciprocal().toArray(), [1, -0.5, 1 / 3, 2].map(Math.fround));
    assert.deepEqual(a.pow(2).toArray(), [1, 4, 9, 0.25]);
    assert.deepEqual(
      T([4, 9])
        .pow(T([0.5, 2]))
        .toArray(),
      [2, 81],
    );
    assert.deepEqual(a.maximum(b).toArray(), [2, 4, 3, 0.5]);
    assert.deepEqual(a.minimum(b).toArray(), [1, -2, -1, 0.25]);
    assert.deepEqual(T([5, -5, 7.5]).remainder(3).toArray(), [2, 1, 1.5]); // Python's sign convention
    assert.deepEqual(T([1.4, -1.5, 2.5, -0.2]).floor().toArray(), [1, -2, 2, -1]);
    assert.deepEqual(T([1.4, -1.5, 2.2]).ceil().toArray(), [2, -1, 3]);
    assert.deepEqual(T([1.4, 0.5, 1.5, 2.5]).round().toArray(), [1, 0, 2, 2]); // half to even

    const x = T([0, 1, 2], { dtype: 'float64' });
    assertClose(x.exp(), [1, Math.E, Math.exp(2)], 1e-12);
    assertClose(x.add(1).log(), [0, Math.log(2), Math.log(3)], 1e-12);
    assertClose(x.log1p(), [0, Math.log(2), Math.log(3)], 1e-12);
    assertClose(x.sqrt(), [0, 1, Math.SQRT2], 1e-12);
    assertClose(x.add(1).rsqrt(), [1, 1 / Math.SQRT2, 1 / Math.sqrt(3)], 1e-12);
    assertClose(x.sigmoid(), [0.5, 1 / (1 + Math.exp(-1)), 1 / (1 + Math.exp(-2))], 1e-12);
    assertClose(x.tanh(), [0, Math.tanh(1), Math.tanh(2)], 1e-12);
    assertClose(x.sin(), [0, Math.sin(1), Math.sin(2)], 1e-12);
    assertClose(x.cos(), [1, Math.cos(1), Math.cos(2)], 1e-12);
    assertClose(torch.nn.functional.leakyRelu(T([-2, 3], { dtype: 'float64' }), 0.1), [-0.2, 3], 1e-12);

    // Comparisons give bool tensors, read back as 0/1.
    assert.equal(a.gt(0).dtype, 'bool');
    assert.deepEqual(a.gt(0).toArray(), [1, 0, 1, 1]);
    assert.deepEqual(a.ge(b).toArray(), [0, 0, 1, 1]);
    assert.deepEqual(a.lt(b).toArray(), [1, 1, 0, 0]);
    assert.deepEqual(a.le(3).toArray(), [1, 1, 1, 1]);
    assert.deepEqual(a.eq(3).toArray(), [0, 0, 1, 0]);
    assert.deepEqual(a.ne(T([1, 0, 3, 0])).toArray(), [0, 1, 0, 1]);
    assert.deepEqual(a.gt(0).logicalAnd(b.gt(0)).toArray(), [1, 0, 0, 1]);
    assert.deepEqual(a.gt(0).logicalOr(b.gt(0)).toArray(), [1, 1, 1, 1]);
    assert.deepEqual(a.gt(0).logicalNot().toArray(), [0, 1, 0, 0]);
    assert.deepEqual(T([NaN, 1, Infinity]).isnan().toArray(), [1, 0, 0]);
    assert.deepEqual(T([NaN, 1, Infinity]).isfinite().toArray(), [0, 1, 0]);
    // Functional forms.
    assert.deepEqual(torch.add(a, b).toArray(), [3, 2, 2, 0.75]);
    assert.deepEqual(torch.mul(a, 3).toArray(), [3, -6, 9, 1.5]);
  });
});

test('broadcasting follows NumPy rules', () => {
  torch.tidy(() => {
    const col = T([[1], [2], [3]]); // [3, 1]
    const row = T([10, 20]); // [2]
    const s = col.add(row);
    assert.deepEqual(s.shape, [3, 2]);
    assert.deepEqual(s.toArray(), [11, 21, 12, 22, 13, 23]);
    assert.deepEqual(col.mul(row).toArray(), [10, 20, 20, 40, 30, 60]);
    const m = T([
      [1, 2],
      [3, 4],
    ]);
    assert.deepEqual(m.sub(T([1, 2])).toArray(), [0, 0, 2, 2]);
    assert.deepEqual(m.div(T([[1], [2]])).toArray(), [1, 2, 1.5, 2]);
    const c = T([[[1, 2]], [[3, 4]]]); // [2, 1, 2]
    assert.deepEqual(
      c.add(
        T([
          [0, 0],
          [10, 10],
          [20, 20],
        ]),
      ).shape,
      [2, 3, 2],
    );
    // Scalar (0-d) tensors broadcast too.
    assert.deepEqual(m.mul(T(2)).toArray(), [2, 4, 6, 8]);
    // Int and float promote to float.
    assert.equal(I([1, 2]).add(T([0.5, 0.5])).dtype, 'float32');
  });
});

test('reductions: sum, mean, amax, amin, var, std, logsumexp, all, any', () => {
  torch.tidy(() => {
    const x = T([
      [1, 2, 3],
      [4, 5, 9],
    ]);
    assert.equal(x.sum().item(), 24);
    assert.deepEqual(x.sum(0).toArray(), [5, 7, 12]);
    assert.deepEqual(x.sum(1).toArray(), [6, 18]);
    assert.deepEqual(x.sum(-1, true).shape, [2, 1]);
    assert.deepEqual(x.sum([0, 1]).toArray(), [24]);
    assert.deepEqual(x.sum(undefined, true).shape, [1, 1]);
    assert.equal(x.mean().item(), 4);
    assert.deepEqual(x.mean(0).toArray(), [2.5, 3.5, 6]);
    assert.deepEqual(x.mean(1, true).toArray(), [2, 6]);
    assert.equal(x.amax().item(), 9);
    assert.deepEqual(x.amax(0).toArray(), [4, 5, 9]);
    assert.equal(x.amin().item(), 1);
    assert.deepEqual(x.amin(1).toArray(), [1, 4]);
    assert.equal(x.max().item(), 9);
    assert.equal(x.min().item(), 1);

    // var/std: Bessel-corrected by default; correction 0 gives the population variance.
    const v = T([1, 2, 3, 4], { dtype: 'float64' });
    assertClose(v.var(), 5 / 3, 1e-12);
    assertClose(v.var(null, { correction: 0 }), 1.25, 1e-12);
    assertClose(v.std(), Math.sqrt(5 / 3), 1e-12);
    assertClose(v.std(null, { correction: 0 }), Math.sqrt(1.25), 1e-12);
    // Rows [1,2,3] and [4,5,9]: means 2 and 6, squared deviations 2 and 14.
    assertClose(x.var(1), [1, 7], 1e-6);
    assertClose(x.std(1, { keepdim: true }), [1, Math.sqrt(7)], 1e-6);
    assert.deepEqual(x.std(1, { keepdim: true }).shape, [2, 1]);
    assertClose(x.var(0, { correction: 0 }), [2.25, 2.25, 9], 1e-6);

    const l = T(
      [
        [1, 2],
        [3, 4],
      ],
      { dtype: 'float64' },
    );
    assertClose(l.logsumexp(1), [2 + Math.log(1 + Math.exp(-1)), 4 + Math.log(1 + Math.exp(-1))], 1e-12);
    assertClose(l.logsumexp(), Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3) + Math.exp(4)), 1e-12);
    assert.deepEqual(l.logsumexp(undefined, true).shape, [1, 1]);
    // Stable for large values.
    assertClose(T([1000, 1000], { dtype: 'float64' }).logsumexp(0), 1000 + Math.LN2, 1e-9);

    const b = T([
      [1, 0, 1],
      [1, 1, 1],
    ]).gt(0);
    assert.equal(b.all().item(), 0);
    assert.equal(b.any().item(), 1);
    assert.deepEqual(b.all(1).toArray(), [0, 1]);
    assert.deepEqual(b.all(0).toArray(), [1, 0, 1]);
    assert.deepEqual(b.any(0, true).shape, [1, 3]);
    // Several dims, in any order and with negative indices.
    const c = T([
      [
        [1, 1],
        [1, 0],
      ],
      [
        [1, 1],
        [1, 1],
      ],
    ]).gt(0); // [2, 2, 2]
    assert.deepEqual(c.all([1, 2]).toArray(), [0, 1]);
    assert.deepEqual(c.all([2, 1]).toArray(), [0, 1]);
    assert.deepEqual(c.all([0, -1]).toArray(), [1, 0]);
    assert.deepEqual(c.all([-1, 0], true).shape, [1, 2, 1]);
    assert.deepEqual(c.logicalNot().any([2, 0]).toArray(), [0, 1]);
  });
});

test('argmax, max/min with dim, topk, sort', () => {
  torch.tidy(() => {
    const x = T([
      [3, 7, 1],
      [9, 2, 5],
    ]);
    assert.equal(x.argmax().item(), 3);
    assert.deepEqual(x.argmax(1).toArray(), [1, 0]);
    assert.deepEqual(x.argmax(0).toArray(), [1, 0, 1]);
    assert.deepEqual(x.argmax(1, true).shape, [2, 1]);
    assert.equal(x.argmax(1).dtype, 'int64');
    const [mv, mi] = x.max(1);
    assert.deepEqual(mv.toArray(), [7, 9]);
    assert.deepEqual(mi.toArray(), [1, 0]);
    const [kv, ki] = x.max(0, true);
    assert.deepEqual(kv.shape, [1, 3]);
    assert.deepEqual(kv.toArray(), [9, 7, 5]);
    assert.deepEqual(ki.toArray(), [1, 0, 1]);
    const [nv, ni] = x.min(1);
    assert.deepEqual(nv.toArray(), [1, 2]);
    assert.deepEqual(ni.toArray(), [2, 1]);

    const y = T([3, 1, 4, 1, 5, 9, 2, 6]);
    const [tv, ti] = y.topk(3);
    assert.deepEqual(tv.toArray(), [9, 6, 5]);
    assert.deepEqual(ti.toArray(), [5, 7, 4]);
    const [sv, si] = y.topk(2, -1, false);
    assert.deepEqual(sv.toArray(), [1, 1]);
    assert.deepEqual([...si.toArray()].sort(), [1, 3]);
    const [rv, ri] = x.topk(2, 1);
    assert.deepEqual(rv.toArray(), [7, 3, 9, 5]);
    assert.deepEqual(ri.toArray(), [1, 0, 0, 2]);
    const [ov, oi] = T([2, 0, 1]).sort();
    assert.deepEqual(ov.toArray(), [0, 1, 2]);
    assert.deepEqual(oi.toArray(), [1, 2, 0]);
    assert.deepEqual(T([2, 0, 1]).sort(0, true)[0].toArray(), [2, 1, 0]);
  });
});

test('matmul: matrix-matrix, matrix-vector, batched with broadcasting', () => {
  torch.tidy(() => {
    const a = T([
      [1, 2],
      [3, 4],
      [5, 6],
    ]); // [3, 2]
    const b = T([
      [7, 8, 9],
      [10, 11, 12],
    ]); // [2, 3]
    const c = a.matmul(b);
    assert.deepEqual(c.shape, [3, 3]);
    assert.deepEqual(c.toArray(), [27, 30, 33, 61, 68, 75, 95, 106, 117]);
    assert.deepEqual(a.matmul(T([1, -1])).toArray(), [-1, -1, -1]);
    assert.equal(
      T([1, 2, 3])
        .matmul(T([4, 5, 6]))
        .item(),
      32,
    );
    const batch = torch.stack([a, a.mul(2)]); // [2, 3, 2]
    const r = batch.matmul(b);
    assert.deepEqual(r.shape, [2, 3, 3]);
    assert.deepEqual(r.toArray().slice(9), [54, 60, 66, 122, 136, 150, 190, 212, 234]);
    assert.deepEqual(torch.matmul(a.transpose(0, 1), a).toArray(), [35, 44, 44, 56]);
  });
});

test('shape ops: reshape, view, permute, transpose, flatten, squeeze, unsqueeze, expand, repeat, flip', () => {
  torch.tidy(() => {
    const x = torch.arange(6);
    const m = x.reshape(2, 3);
    assert.deepEqual(m.shape, [2, 3]);
    assert.deepEqual(x.reshape([3, -1]).shape, [3, 2]);
    assert.deepEqual(x.view(3, 2).toArray(), [0, 1, 2, 3, 4, 5]);
    assert.ok(torch.sameStorage(x, x.view(3, 2))); // a view shares memory
    const t = m.transpose(0, 1);
    assert.deepEqual(t.shape, [3, 2]);
    assert.deepEqual(t.toArray(), [0, 3, 1, 4, 2, 5]);
    assert.deepEqual(m.permute(1, 0).toArray(), [0, 3, 1, 4, 2, 5]);
    const p = torch.arange(24).reshape(2, 3, 4).permute([2, 0, 1]);
    assert.deepEqual(p.shape, [4, 2, 3]);
    // p[i, j, k] = x[j, k, i] = 12 j + 4 k + i
    assert.deepEqual(p.toArray().slice(0, 6), [0, 4, 8, 12, 16, 20]);
    assert.deepEqual(p.toArray().slice(6, 9), [1, 5, 9]);
    assert.deepEqual(p.contiguous().view(-1).shape, [24]);
    assert.deepEqual(torch.arange(24).reshape(2, 3, 4).flatten(1).shape, [2, 12]);
    assert.deepEqual(torch.arange(24).reshape(2, 3, 4).flatten().shape, [24]);
    assert.deepEqual(torch.zeros([1, 3, 1]).squeeze().shape, [3]);
    assert.deepEqual(torch.zeros([1, 3, 1]).squeeze(0).shape, [3, 1]);
    assert.deepEqual(torch.zeros([3]).unsqueeze(0).shape, [1, 3]);
    assert.deepEqual(torch.zeros([3]).unsqueeze(-1).shape, [3, 1]);
    assert.deepEqual(
      T([[1], [2]])
        .expand(2, 3)
        .toArray(),
      [1, 1, 1, 2, 2, 2],
    );
    assert.deepEqual(T([1, 2]).repeat(2, 2).toArray(), [1, 2, 1, 2, 1, 2, 1, 2]);
    assert.deepEqual(m.flip(1).toArray(), [2, 1, 0, 5, 4, 3]);
    assert.deepEqual(m.flip([0, 1]).toArray(), [5, 4, 3, 2, 1, 0]);
    assert.throws(() => x.reshape(4, 2), /shape '\[4, 2\]' is invalid for input of size 6/);
  });
});

test('cat, stack, split, chunk, narrow, select, indexSelect, gather, pad, oneHot', () => {
  torch.tidy(() => {
    const a = T([
      [1, 2],
      [3, 4],
    ]);
    const b = T([[5, 6]]);
    assert.deepEqual(torch.cat([a, b]).toArray(), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(torch.cat([a, b]).shape, [3, 2]);
    assert.deepEqual(torch.cat([a, a], 1).toArray(), [1, 2, 1, 2, 3, 4, 3, 4]);
    const s = torch.stack([T([1, 2]), T([3, 4])]);
    assert.deepEqual(s.shape, [2, 2]);
    assert.deepEqual(s.toArray(), [1, 2, 3, 4]);
    const s1 = torch.stack([T([1, 2]), T([3, 4])], 1);
    assert.deepEqual(s1.toArray(), [1, 3, 2, 4]);
    assert.deepEqual(torch.stack([a, a], -1).shape, [2, 2, 2]);

    const r = torch.arange(7);
    assert.deepEqual(
      r.split(3).map((t) => t.toArray()),
      [[0, 1, 2], [3, 4, 5], [6]],
    );
    assert.deepEqual(
      r.split([2, 5]).map((t) => t.toArray()),
      [
        [0, 1],
        [2, 3, 4, 5, 6],
      ],
    );
    assert.deepEqual(
      r.chunk(2).map((t) => t.toArray()),
      [
        [0, 1, 2, 3],
        [4, 5, 6],
      ],
    );
    assert.deepEqual(
      torch
        .arange(6)
        .reshape(2, 3)
        .split(1, 1)
        .map((t) => t.toArray()),
      [
        [0, 3],
        [1, 4],
        [2, 5],
      ],
    );
    assert.deepEqual(r.narrow(0, 2, 3).toArray(), [2, 3, 4]);
    const m = torch.arange(12).reshape(3, 4);
    assert.deepEqual(m.narrow(1, 1, 2).toArray(), [1, 2, 5, 6, 9, 10]);
    assert.deepEqual(m.select(0, 1).toArray(), [4, 5, 6, 7]);
    assert.deepEqual(m.select(1, -1).toArray(), [3, 7, 11]);
    assert.deepEqual(m.indexSelect(0, I([2, 0])).toArray(), [8, 9, 10, 11, 0, 1, 2, 3]);
    assert.deepEqual(m.indexSelect(1, I([3, 3, 0])).toArray(), [3, 3, 0, 7, 7, 4, 11, 11, 8]);
    assert.deepEqual(m.gather(1, I([[0], [2], [3]])).toArray(), [0, 6, 11]);
    const pd = torch.nn.functional.pad(T([[1, 2]]), [1, 2], -1);
    assert.deepEqual(pd.shape, [1, 5]);
    assert.deepEqual(pd.toArray(), [-1, 1, 2, -1, -1]);
    assert.deepEqual(torch.nn.functional.pad(T([[1]]), [0, 0, 1, 0]).toArray(), [0, 1]);
    const oh = torch.nn.functional.oneHot(I([2, 0]), 3);
    assert.deepEqual(oh.toArray(), [0, 0, 1, 1, 0, 0]);
    assert.deepEqual(oh.shape, [2, 3]);
  });
});

test('softmax and logSoftmax', () => {
  torch.tidy(() => {
    const x = T(
      [
        [1, 2, 3],
        [0, 0, 0],
      ],
      { dtype: 'float64' },
    );
    const z = Math.exp(1) + Math.exp(2) + Math.exp(3);
    assertClose(x.softmax(1), [Math.exp(1) / z, Math.exp(2) / z, Math.exp(3) / z, 1 / 3, 1 / 3, 1 / 3], 1e-12);
    assertClose(x.logSoftmax(-1), [1 - Math.log(z), 2 - Math.log(z), 3 - Math.log(z), -Math.log(3), -Math.log(3), -Math.log(3)], 1e-12);
    assertClose(
      x.softmax(0),
      [1 / (1 + Math.exp(-1)), 1 / (1 + Math.exp(-2)), 1 / (1 + Math.exp(-3)), 1 / (1 + Math.exp(1)), 1 / (1 + Math.exp(2)), 1 / (1 + Math.exp(3))],
      1e-12,
    );
    // Stable with large logits; rows sum to one.
    const big = T([[1000, 1001]], { dtype: 'float64' }).softmax(1);
    assertClose(big, [1 / (1 + Math.E), Math.E / (1 + Math.E)], 1e-12);
    assertClose(torch.softmax(torch.randn([4, 5]), 1).sum(1), [1, 1, 1, 1], 1e-6);
  });
});

test('where, clamp, maskedFill', () => {
  torch.tidy(() => {
    const c = T([1, 0, 1, 0]).gt(0);
    assert.deepEqual(torch.where(c, T([1, 2, 3, 4]), T([-1, -2, -3, -4])).toArray(), [1, -2, 3, -4]);
    // Broadcast: a column condition against a row.
    assert.deepEqual(torch.where(T([[1], [0]]).gt(0), T([1, 2]), T(0)).toArray(), [1, 2, 0, 0]);
    const x = T([-2, -0.5, 0.5, 3]);
    assert.deepEqual(x.clamp(-1, 1).toArray(), [-1, -0.5, 0.5, 1]);
    assert.deepEqual(x.clamp(0).toArray(), [0, 0, 0.5, 3]);
    assert.deepEqual(x.clamp(null, 0).toArray(), [-2, -0.5, 0, 0]);
    assert.deepEqual(torch.clamp(x, -1, 2).toArray(), [-1, -0.5, 0.5, 2]);
    assert.deepEqual(x.clampMin(0).toArray(), [0, 0, 0.5, 3]);
    assert.deepEqual(x.clampMax(0).toArray(), [-2, -0.5, 0, 0]);
    assert.deepEqual(x.maskedFill(x.lt(0), 9).toArray(), [9, 9, 0.5, 3]);
  });
});

test('dtype and conversion', () => {
  torch.tidy(() => {
    const x = T([1.7, -2.2]);
    assert.equal(x.to('float64').dtype, 'float64');
    assert.deepEqual(x.long().toArray(), [1, -2]); // truncation
    assert.equal(x.double().dtype, 'float64');
    assert.equal(x.long().float().dtype, 'float32');
    assert.equal(x.to({ dtype: 'int32' }).dtype, 'int32');
    assert.equal(x.device, 'cpu');
    assert.equal(x.to('cpu').device, 'cpu');
    assert.ok(x.data() instanceof Float32Array);
    assert.ok(x.long().data() instanceof BigInt64Array);
    assert.ok(x.gt(0).data() instanceof Uint8Array);
    assert.equal(x.gt(0).select(0, 0).item(), 1);
    assert.equal(T([2.5]).item(), 2.5);
    // clone copies, detach shares.
    const c = x.clone();
    assert.ok(!torch.sameStorage(c, x));
    assert.ok(torch.sameStorage(x.detach(), x));
    assert.equal(torch.maxAbsDiff(T([1, 2]), T([1, 2.5])), 0.5);
    assert.ok(torch.allclose(T([1, 2]), T([1, 2 + 1e-7])));
    assert.ok(!torch.allclose(T([1, 2]), T([1, 2.1])));
  });
});

test('in-place initialisers and the grad-free updates', () => {
  torch.tidy(() => {
    const x = torch.zeros([3]);
    x.fill_(2);
    assert.deepEqual(x.toArray(), [2, 2, 2]);
    x.addScaled_(T([1, 2, 3]), 0.5);
    assert.deepEqual(x.toArray(), [2.5, 3, 3.5]);
    x.mul_(2);
    assert.deepEqual(x.toArray(), [5, 6, 7]);
    x.copy_(T([9, 8, 7]));
    assert.deepEqual(x.toArray(), [9, 8, 7]);
    x.zero_();
    assert.deepEqual(x.toArray(), [0, 0, 0]);
    torch.manualSeed(0);
    const u = torch.zeros([1000]).uniform_(-2, -1);
    assert.ok(u.toArray().every((v) => v >= -2 && v < -1));
    const n = torch.zeros([4000], { dtype: 'float64' }).normal_(3, 0.5);
    assert.ok(Math.abs(n.mean().item() - 3) < 0.05);
    assert.ok(Math.abs(n.std().item() - 0.5) < 0.05);
  });
});

test('autograd basics: backward, grad accumulation, zeroGrad, noGrad, detach, autograd.grad', () => {
  torch.tidy(() => {
    const x = T([1, 2, 3], { requiresGrad: true });
    assert.ok(x.requiresGrad);
    x.mul(x).sum().backward(); // d/dx sum x^2 = 2x
    assert.deepEqual(x.grad!.toArray(), [2, 4, 6]);
    x.mul(3).sum().backward(); // accumulates
    assert.deepEqual(x.grad!.toArray(), [5, 7, 9]);
    const opt = new torch.optim.SGD([x], { lr: 0 });
    opt.zeroGrad(false);
    assert.deepEqual(x.grad!.toArray(), [0, 0, 0]);
    opt.zeroGrad();
    assert.equal(x.grad, null);
    // A non-scalar output with an explicit gradient.
    x.mul(2).backward(T([1, 0, -1]));
    assert.deepEqual(x.grad!.toArray(), [2, 0, -2]);
    x.grad = null;
    // noGrad records nothing; detach cuts the graph.
    const y = torch.noGrad(() => x.mul(2));
    assert.equal(y.requiresGrad, false);
    assert.equal(x.detach().requiresGrad, false);
    assert.equal(torch.isGradEnabled(), true);
    torch.noGrad(() => assert.equal(torch.isGradEnabled(), false));
    torch.noGrad(() => torch.enableGrad(() => assert.equal(torch.isGradEnabled(), true)));
    // autograd.grad does not touch .grad; createGraph gives second derivatives.
    const [g] = torch.autograd.grad(x.pow(3).sum(), [x], { createGraph: true });
    assert.deepEqual(g!.toArray(), [3, 12, 27]); // 3 x^2
    assert.equal(x.grad, null);
    const [gg] = torch.autograd.grad(g!.sum(), [x]);
    assert.deepEqual(gg!.toArray(), [6, 12, 18]); // 6 x
    const unused = T([1], { requiresGrad: true });
    const [gx, gu] = torch.autograd.grad(x.sum(), [x, unused], { allowUnused: true });
    assert.deepEqual(gx!.toArray(), [1, 1, 1]);
    assert.equal(gu, null);
  });
});
