/**
 * torch.autocast: regions nest and restore the state they found (also when the callback throws),
 * `enabled: false` switches autocast off inside a region, half-precision tensors read back as
 * float32, and bad arguments are errors. PyTorch parity of the numbers: test/pytorch-parity.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as torch from '.';

torch.setNumThreads(1);

test('autocast regions nest, restore their state and turn convolutions to bfloat16', () => {
  torch.manualSeed(0);
  const conv = new torch.nn.Conv2d(3, 4, 3, { padding: 1 });
  const x = torch.randn([1, 3, 5, 5]);
  torch.tidy(() => {
    assert.equal(torch.isAutocastEnabled('cpu'), false);
    const full = conv.forward(x);
    const [outer, inner, nested, after] = torch.autocast('cpu', () => {
      const a = conv.forward(x);
      const b = torch.autocast('cpu', () => conv.forward(x), { enabled: false });
      const c = torch.autocast('cpu', () => conv.forward(x)); // both enabled: still bfloat16 after the inner exit
      const d = conv.forward(x);
      assert.equal(torch.isAutocastEnabled('cpu'), true);
      return [a, b, c, d];
    });
    assert.deepEqual([outer.dtype, inner.dtype, nested.dtype, after.dtype], ['bfloat16', 'float32', 'bfloat16', 'bfloat16']);
    assert.equal(torch.maxAbsDiff(nested, outer), 0);
    assert.equal(torch.maxAbsDiff(inner, full), 0, 'autocast off inside the region: float32, the same numbers');
    // bfloat16 keeps 8 bits of mantissa: within 2^-8 of the float32 result, relative to its size.
    const scale = full.abs().max().item();
    assert.ok(torch.maxAbsDiff(outer.to('float32'), full) <= scale * 2 ** -7);
    // data() of a half-precision tensor: its values as float32.
    const data = outer.data();
    assert.ok(data instanceof Float32Array);
    assert.deepEqual(Array.from(data), outer.to('float32').toArray());
    assert.equal(torch.isAutocastEnabled('cpu'), false);
  });
  assert.throws(
    () =>
      torch.autocast('cpu', () => {
        throw new Error('inside');
      }),
    /inside/,
  );
  assert.equal(torch.isAutocastEnabled('cpu'), false, 'restored after a throw');
  assert.throws(() => torch.autocast('cpu', () => 1, { dtype: 'float64' as 'bfloat16' }), /dtype must be 'bfloat16' or 'float16'/);
  assert.throws(() => torch.autocast('tpu' as 'cpu', () => 1), /device type must be 'cpu' or 'cuda'/);
  assert.equal(torch.zeros([2], { dtype: 'bfloat16' }).dtype, 'bfloat16');
  x.dispose();
  conv.dispose();
});
