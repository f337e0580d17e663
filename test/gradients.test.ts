/**
 * The gradient of every differentiable op, checked against central finite differences in float64
 * (test/gradcheck.ts). Inputs are kept away from kinks (relu/abs at 0, ties in max/pooling).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as torch from '../src/torch';
import type { Tensor } from '../src/torch';
import { gradcheck, randn64 } from './gradcheck';

torch.setNumThreads(1);
const F = torch.nn.functional;
const D = (data: Parameters<typeof torch.tensor>[0]) => torch.tensor(data, { dtype: 'float64' });
const I = (data: Parameters<typeof torch.tensor>[0]) => torch.tensor(data, { dtype: 'int64' });
/** Values in [lo, hi) that are at least `gap` away from 0 (to stay off kinks). */
function awayFromZero(shape: number[], gap = 0.1): Tensor {
  return torch.tidy(() => {
    const x = randn64(shape);
    return x.sign().mul(x.abs().add(gap));
  });
}

function check(name: string, fn: (...xs: Tensor[]) => Tensor, inputs: () => Tensor[], opts: Parameters<typeof gradcheck>[2] = {}): void {
  test(`gradient: ${name}`, () => {
    torch.manualSeed(1234);
    torch.tidy(() => {
      const r = gradcheck(fn, inputs(), opts);
      // The check must have compared something that is not identically zero.
      assert.ok(
        r.analytic.some((g) => g.some((v) => Math.abs(v) > 1e-8)),
        `${name}: every gradient is zero`,
      );
    });
  });
}

// ---- unary ----------------------------------------------------------------------------------
check(
  'neg, exp, sin, cos, tanh, sigmoid, square',
  (x) => x.neg().add(x.exp()).add(x.sin()).add(x.cos().mul(x.tanh())).add(x.sigmoid()).add(x.square()),
  () => [randn64([3, 4])],
);
check(
  'log, log1p, sqrt, rsqrt, reciprocal (positive input)',
  (x) => x.log().add(x.log1p()).add(x.sqrt()).add(x.rsqrt()).add(x.reciprocal()),
  () => [torch.rand([2, 5], { dtype: 'float64' }).add(0.5)],
);
check(
  'abs, relu, leakyRelu (away from 0)',
  (x) => x.abs().add(x.relu().mul(2)).add(F.leakyRelu(x, 0.2).mul(3)),
  () => [awayFromZero([12])],
);
check(
  'clone, contiguous, to(float64)',
  (x) => x.clone().add(x.transpose(0, 1).contiguous().transpose(0, 1)).mul(x.to('float64')),
  () => [randn64([3, 2])],
);

// ---- binary and broadcasting ----------------------------------------------------------------
check(
  'add, sub, mul, div with broadcasting',
  (a, b) => a.add(b).mul(a.sub(b)).add(a.div(b)),
  () => [randn64([3, 1, 4]), awayFromZero([2, 4], 0.5)],
);
check(
  'add with alpha, rsub, scalar mul/div/add/sub',
  (a, b) => a.add(b, -2.5).add(a.rsub(3).mul(0.5)).add(b.div(4).sub(1)).add(a.add(2, 3)),
  () => [randn64([4]), randn64([4])],
);
check(
  'pow (tensor exponent and scalar exponent)',
  (a, b) => a.pow(b).add(a.pow(3)).add(a.pow(0.5)),
  () => [torch.rand([5], { dtype: 'float64' }).add(0.5), randn64([5])],
);
check(
  'maximum, minimum (no ties)',
  (a, b) => a.maximum(b).mul(2).add(a.minimum(b)),
  () => [D([1, -2, 3, 0.5, 4]), D([2, -3, 1, 0.7, -4])],
);
check(
  'remainder (gradient 1 w.r.t. the dividend)',
  (a) => a.remainder(2),
  () => [D([0.3, 2.7, -1.2, 5.5])],
);
check(
  'clamp, clampMin, clampMax (inside and outside the range)',
  (x) => x.clamp(-0.5, 0.5).add(x.clampMin(0.2)).add(x.clampMax(-0.2)).add(x.clamp(null, 1)),
  () => [D([-2, -0.4, 0.1, 0.3, 0.9, 2])],
);
check(
  'where (both branches)',
  (a, b) => torch.where(a.gt(0), a.mul(b), b.square()),
  () => [awayFromZero([6]), randn64([6])],
);
check(
  'maskedFill',
  (a) => a.maskedFill(torch.tensor([1, 0, 1, 0]).gt(0), 3).mul(a),
  () => [randn64([4])],
);

// ---- matmul ---------------------------------------------------------------------------------
check(
  'matmul: matrix-matrix',
  (a, b) => a.matmul(b),
  () => [randn64([3, 4]), randn64([4, 2])],
);
check(
  'matmul: batched with broadcasting',
  (a, b) => a.matmul(b),
  () => [randn64([2, 3, 4]), randn64([4, 2])],
);
check(
  'matmul: vector',
  (a, b) => a.matmul(b),
  () => [randn64([4]), randn64([4, 3])],
);
check(
  'linear',
  (x, w, b) => F.linear(x, w, b),
  () => [randn64([3, 4]), randn64([2, 4]), randn64([2])],
);

// ---- reductions -----------------------------------------------------------------------------
check(
  'sum and mean (all, over dims, keepdim)',
  (x) =>
    x
      .sum()
      .add(x.sum(1).mul(x.mean(0, true).sum()))
      .add(x.mean([0, 2]).sum()),
  () => [randn64([2, 3, 2])],
);
check(
  'amax and amin (unique extremes)',
  (x) => x.amax(1).add(x.amin(0).sum()).add(x.amax()),
  () => [randn64([3, 4])],
);
check(
  'var and std (dims, correction)',
  (x) =>
    x
      .var(1)
      .add(x.std(1, { correction: 0 }))
      .sum()
      .add(x.var())
      .add(x.std(0, { keepdim: true }).sum()),
  () => [randn64([3, 4])],
);
check(
  'logsumexp',
  (x) => x.logsumexp(1).sum().add(x.logsumexp()),
  () => [randn64([3, 4])],
);
check(
  'max/min with dim (values)',
  (x) => x.max(1)[0].add(x.min(1)[0].mul(2)),
  () => [randn64([3, 5])],
);
check(
  'topk and sort (values)',
  (x) =>
    x
      .topk(2, 1)[0]
      .sum()
      .add(
        x
          .sort(1, true)[0]
          .mul(D([1, 2, 3, 4]))
          .sum(),
      ),
  () => [randn64([3, 4])],
);

// ---- shapes ---------------------------------------------------------------------------------
check(
  'reshape, view, permute, transpose, flatten',
  (x) =>
    x
      .reshape(3, 4)
      .transpose(0, 1)
      .contiguous()
      .view(2, 6)
      .add(x.permute(2, 0, 1).flatten().reshape(2, 6)),
  () => [randn64([2, 3, 2])],
);
check(
  'squeeze, unsqueeze, expand, repeat, flip',
  (x) =>
    x
      .unsqueeze(0)
      .expand(3, 2, 1)
      .squeeze(2)
      .add(x.repeat(1, 3).transpose(0, 1).flip(0).flip([1]))
      .mul(x.squeeze()),
  () => [randn64([2, 1])],
);
check(
  'cat and stack',
  (a, b) => torch.cat([a, b], 1).mul(torch.stack([a.sum(1), b.sum(1)], 1).sum(1, true)),
  () => [randn64([2, 3]), randn64([2, 2])],
);
check(
  'split, chunk, narrow, select',
  (x) => {
    const [p, q] = x.split([1, 2], 1);
    const [r] = x.chunk(2, 0);
    return p
      .mul(q.narrow(1, 1, 1))
      .sum()
      .add(r.select(1, 2).sum())
      .add(x.narrow(0, 1, 1).square().sum());
  },
  () => [randn64([2, 3])],
);
check(
  'indexSelect (repeated indices) and gather',
  (x) =>
    x
      .indexSelect(0, I([2, 0, 2]))
      .sum(0)
      .add(
        x
          .gather(
            1,
            I([
              [1, 1],
              [0, 2],
              [2, 0],
            ]),
          )
          .sum(1),
      ),
  () => [randn64([3, 3])],
);
check(
  'pad',
  (x) => F.pad(x, [1, 2, 0, 1], 0.5).square(),
  () => [randn64([1, 2, 2])],
);

// ---- nn -------------------------------------------------------------------------------------
check(
  'conv2d: stride, padding, bias',
  (x, w, b) => F.conv2d(x, w, b, { stride: 2, padding: 1 }),
  () => [randn64([2, 2, 5, 4]), randn64([3, 2, 3, 3]), randn64([3])],
);
check(
  'conv2d: dilation and groups',
  (x, w) => F.conv2d(x, w, null, { padding: 2, dilation: 2, groups: 2 }),
  () => [randn64([1, 4, 4, 4]), randn64([2, 2, 3, 3])],
);
check(
  'conv2d: depthwise with asymmetric stride',
  (x, w) => F.conv2d(x, w, null, { stride: [1, 2], padding: [1, 0], groups: 3 }),
  () => [randn64([1, 3, 4, 5]), randn64([3, 1, 3, 2])],
);
check(
  'batchNorm: training mode (batch statistics) with weight and bias',
  (x, w, b) => F.batchNorm(x, null, null, { weight: w, bias: b, training: true }),
  () => [randn64([3, 2, 2, 2]), randn64([2]), randn64([2])],
);
check(
  'batchNorm: eval mode (running statistics)',
  (x, w, b) => F.batchNorm(x, D([0.1, -0.2]), D([0.5, 2]), { weight: w, bias: b, training: false }),
  () => [randn64([2, 2, 2, 1]), randn64([2]), randn64([2])],
);
check(
  'maxPool2d (with padding)',
  (x) => F.maxPool2d(x, 3, { stride: 2, padding: 1 }),
  () => [randn64([1, 2, 5, 5])],
);
check(
  'avgPool2d (countIncludePad both ways) and adaptiveAvgPool2d',
  (x) =>
    F.avgPool2d(x, 3, { stride: 1, padding: 1, countIncludePad: false })
      .add(F.avgPool2d(x, 3, { stride: 1, padding: 1 }))
      .sum([2, 3])
      .add(F.adaptiveAvgPool2d(x, 1).flatten(1)),
  () => [randn64([1, 2, 4, 4])],
);
check(
  'interpolate bilinear (alignCorners false and true)',
  (x) => F.interpolate(x, [5, 3], { mode: 'bilinear' }).add(F.interpolate(x, [5, 3], { mode: 'bilinear', alignCorners: true })),
  () => [randn64([1, 2, 3, 4])],
);
check(
  'interpolate nearest',
  (x) => F.interpolate(x, [5, 6], { mode: 'nearest' }),
  () => [randn64([1, 1, 3, 4])],
);
check(
  'softmax and logSoftmax',
  (x) => x.softmax(1).mul(x.logSoftmax(0)),
  () => [randn64([3, 4])],
);
check(
  'crossEntropy with class weights and ignoreIndex',
  (x, w) => F.crossEntropy(x, I([2, 255, 0, 1]), { weight: w, ignoreIndex: 255 }),
  () => [randn64([4, 3]), torch.rand([3], { dtype: 'float64' }).add(0.5)],
  { check: [true, false] },
);
check(
  'crossEntropy on [N, C, H, W] with label smoothing',
  (x) =>
    F.crossEntropy(
      x,
      I([
        [
          [0, 1],
          [2, 1],
        ],
      ]),
      { labelSmoothing: 0.1 },
    ),
  () => [randn64([1, 3, 2, 2])],
);
check(
  'nllLoss and mseLoss',
  (x, y) => F.nllLoss(x.logSoftmax(1), I([1, 0]), { reduction: 'sum' }).add(F.mseLoss(x, y)),
  () => [randn64([2, 3]), randn64([2, 3])],
);
check(
  'dropout (fixed mask under a fixed seed)',
  (x) => {
    torch.manualSeed(9);
    return F.dropout(x, 0.4);
  },
  () => [randn64([20])],
);
check(
  'gumbelSoftmax soft (fixed noise under a fixed seed)',
  (x) => {
    torch.manualSeed(5);
    return F.gumbelSoftmax(x, { tau: 0.5 });
  },
  () => [randn64([2, 4])],
);
// The hard sample is piecewise constant; its (straight-through) gradient must be the soft sample's.
// So the value compared numerically is the soft sample's, while the gradient flows only through the hard one.
check(
  'gumbelSoftmax hard (straight-through gradient)',
  (x) => {
    torch.manualSeed(5);
    const h = F.gumbelSoftmax(x, { tau: 0.5, hard: true });
    torch.manualSeed(5);
    const s = F.gumbelSoftmax(x, { tau: 0.5 });
    return h.sub(h.detach()).add(s.detach());
  },
  () => [randn64([2, 4])],
);

test('gradcheck itself catches a wrong gradient', () => {
  torch.tidy(() => {
    // x.detach() * x has the value x^2 but the "gradient" x instead of 2x: the helper must say so.
    assert.throws(() => gradcheck((x) => x.detach().mul(x), [D([1, 2])]), /gradcheck: input 0 element 0: analytic \S+ vs numeric \S+/);
    // Scalar outputs are weighted by w in [0.5, 1.5): the numeric derivative must be twice the analytic one.
    let seen = '';
    try {
      gradcheck((x) => x.detach().mul(x).sum(), [D([3])]);
    } catch (e) {
      seen = (e as Error).message;
    }
    const m = /analytic (\S+) vs numeric (\S+) /.exec(seen);
    assert.ok(m, seen);
    assert.ok(Math.abs(Number(m[2]) / Number(m[1]) - 2) < 1e-6, seen);
  });
});
