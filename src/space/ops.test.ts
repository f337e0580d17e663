import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as torch from '../torch';
import { createOp, createSearchOp, DARTS_PRIMITIVES, FactorizedReduce, hasOp, registerOp, registeredOps, SepConv, Zero } from './ops';

torch.setNumThreads(1);
const F = torch.nn.functional;

test('every DARTS primitive keeps the size at stride 1 and gives ceil(H/2) at stride 2, odd sizes included', () => {
  torch.tidy(() => {
    torch.manualSeed(1);
    const x = torch.randn([2, 4, 9, 7]);
    for (const name of DARTS_PRIMITIVES) {
      assert.deepEqual((createOp(name, 4, 1, true).forward(x) as torch.Tensor).shape, [2, 4, 9, 7], name);
      assert.deepEqual((createOp(name, 4, 2, false).forward(x) as torch.Tensor).shape, [2, 4, 5, 4], name);
      assert.deepEqual((createSearchOp(name, 4, 2).forward(x) as torch.Tensor).shape, [2, 4, 5, 4], name);
    }
  });
});

test('op structure and parameter counts match the DARTS modules (hand count)', () => {
  // sep_conv_3x3, C = 4: dw 4*9 + pw 16 + BN 8, twice = 2 * 60.
  assert.equal(createOp('sep_conv_3x3', 4, 1, true).numParameters(), 120);
  assert.equal(createOp('sep_conv_3x3', 4, 1, false).numParameters(), 2 * (36 + 16));
  // dil_conv_5x5, C = 4: dw 4*25 + pw 16 + BN 8.
  assert.equal(createOp('dil_conv_5x5', 4, 1, true).numParameters(), 124);
  // skip_connect strided: two 1x1 convs 4 -> 2 and BN over 4.
  assert.equal(createOp('skip_connect', 4, 2, true).numParameters(), 8 + 8 + 8);
  assert.equal(createOp('skip_connect', 4, 1, true).numParameters(), 0);
  assert.ok(createOp('skip_connect', 4, 2, true) instanceof FactorizedReduce);
  assert.ok(createOp('none', 4, 2, true) instanceof Zero);
  const sep = createOp('sep_conv_5x5', 4, 1, true) as SepConv;
  assert.deepEqual(
    Object.keys(sep.stateDict()).filter((k) => k.endsWith('weight')),
    ['op.1.weight', 'op.2.weight', 'op.3.weight', 'op.5.weight', 'op.6.weight', 'op.7.weight'],
  );
  assert.deepEqual(sep.op.at(1) instanceof torch.nn.Conv2d && (sep.op.at(1) as torch.nn.Conv2d).weight.shape, [4, 1, 5, 5]);
  // Pooling in a search cell is followed by a BatchNorm without affine parameters (DARTS MixedOp).
  const pool = createSearchOp('avg_pool_3x3', 4, 1);
  assert.deepEqual(Object.keys(pool.stateDict()), ['1.running_mean', '1.running_var', '1.num_batches_tracked']);
});

test('avg_pool_3x3 does not count padding; zero op gives zeros', () => {
  torch.tidy(() => {
    const ones = torch.ones([1, 1, 4, 5]);
    assert.deepEqual((createOp('avg_pool_3x3', 1, 1, true).forward(ones) as torch.Tensor).toArray(), new Array(20).fill(1));
    assert.deepEqual((createOp('avg_pool_3x3', 1, 2, true).forward(ones) as torch.Tensor).toArray(), new Array(6).fill(1));
    assert.deepEqual((createOp('none', 1, 2, true).forward(ones) as torch.Tensor).toArray(), new Array(6).fill(0));
  });
});

test('FactorizedReduce equals the DARTS computation on even sizes', () => {
  torch.tidy(() => {
    torch.manualSeed(2);
    const fr = new FactorizedReduce(3, 4, false);
    fr.eval();
    const x = torch.randn([1, 3, 6, 8]);
    const y = fr.forward(x);
    // DARTS: cat([conv_1(relu x), conv_2(relu x[:, :, 1:, 1:])]) then BN.
    const r = x.relu();
    const ref = fr.bn.forward(torch.cat([fr.conv_1.forward(r), fr.conv_2.forward(r.narrow(2, 1, 5).narrow(3, 1, 7))], 1));
    assert.deepEqual(y.shape, [1, 4, 3, 4]);
    assert.ok(torch.maxAbsDiff(y, ref) < 1e-6);
    // Padding a width 1 border then shifting: the last column of the shifted map is zero.
    assert.deepEqual(F.pad(torch.ones([1, 1, 1, 1]), [0, 1, 0, 1]).toArray(), [1, 0, 0, 0]);
  });
});

test('the registry adds user operations and rejects bad names', () => {
  registerOp(
    'test_conv_1x1',
    (C, stride, affine) =>
      new torch.nn.Sequential(new torch.nn.ReLU(), new torch.nn.Conv2d(C, C, 1, { stride, bias: false }), new torch.nn.BatchNorm2d(C, { affine })),
  );
  assert.ok(hasOp('test_conv_1x1'));
  assert.ok(registeredOps().includes('sep_conv_7x7'));
  assert.equal(createOp('test_conv_1x1', 4, 1, true).numParameters(), 16 + 8);
  assert.throws(() => registerOp('test_conv_1x1', () => new torch.nn.Identity()), /already registered/);
  assert.throws(() => registerOp('bad name', () => new torch.nn.Identity()), /invalid name/);
  assert.throws(() => createOp('sep_conv_9x9', 4, 1, true), /unknown operation 'sep_conv_9x9'; registered: none, /);
  assert.throws(() => createOp('sep_conv_3x3', 4, 3, true), /stride must be 1 or 2/);
});
