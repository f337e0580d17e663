/**
 * nn.functional and the layers against hand-computed values and naive reference implementations.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as torch from '../index';
import type { Tensor } from '../index';
import { assertClose, maxDiff } from '../../../test/helpers';

torch.setNumThreads(1);
const { nn } = torch;
const F = nn.functional;
const T = (data: Parameters<typeof torch.tensor>[0], opts: Parameters<typeof torch.tensor>[1] = {}) => torch.tensor(data, opts);
const I = (data: Parameters<typeof torch.tensor>[0]) => torch.tensor(data, { dtype: 'int64' });

/** Direct-loop 2-D convolution (cross-correlation, as PyTorch), the independent reference. */
function naiveConv2d(
  x: number[],
  [n, cin, h, w]: number[],
  wt: number[],
  [cout, cinG, kh, kw]: number[],
  bias: number[] | null,
  [sh, sw]: number[],
  [ph, pw]: number[],
  [dh, dw]: number[],
  groups: number,
): { out: number[]; shape: number[] } {
  const oh = Math.floor((h + 2 * ph - dh * (kh - 1) - 1) / sh) + 1;
  const ow = Math.floor((w + 2 * pw - dw * (kw - 1) - 1) / sw) + 1;
  const coutG = cout / groups;
  const out: number[] = [];
  for (let b = 0; b < n; b++) {
    for (let o = 0; o < cout; o++) {
      const g = Math.floor(o / coutG);
      for (let i = 0; i < oh; i++) {
        for (let j = 0; j < ow; j++) {
          let s = bias ? bias[o] : 0;
          for (let c = 0; c < cinG; c++) {
            const ci = g * cinG + c;
            for (let u = 0; u < kh; u++) {
              for (let v = 0; v < kw; v++) {
                const y = i * sh - ph + u * dh;
                const z = j * sw - pw + v * dw;
                if (y < 0 || y >= h || z < 0 || z >= w) continue;
                s += x[((b * cin + ci) * h + y) * w + z] * wt[((o * cinG + c) * kh + u) * kw + v];
              }
            }
          }
          out.push(s);
        }
      }
    }
  }
  return { out, shape: [n, cout, oh, ow] };
}

test('conv2d: hand-computed stride, padding, dilation, groups, bias', () => {
  torch.tidy(() => {
    const x = T([
      [
        [
          [1, 2, 3],
          [4, 5, 6],
          [7, 8, 9],
        ],
      ],
    ]); // [1, 1, 3, 3]
    const k = torch.ones([1, 1, 2, 2]);
    const y = F.conv2d(x, k);
    assert.deepEqual(y.shape, [1, 1, 2, 2]);
    assert.deepEqual(y.toArray(), [12, 16, 24, 28]);
    assert.deepEqual(F.conv2d(x, k, T([1])).toArray(), [13, 17, 25, 29]);
    // Stride 2 with padding 1: windows cover x[0,0]; x[0,1..2]; x[1..2,0]; x[1..2,1..2].
    assert.deepEqual(F.conv2d(x, k, null, { stride: 2, padding: 1 }).toArray(), [1, 5, 11, 28]);
    // Dilation 2 reads the four corners.
    assert.deepEqual(F.conv2d(x, k, null, { dilation: 2 }).toArray(), [20]);
    // Asymmetric stride and padding.
    const y2 = F.conv2d(x, k, null, { stride: [1, 2], padding: [0, 1] });
    assert.deepEqual(y2.shape, [1, 1, 2, 2]);
    assert.deepEqual(y2.toArray(), [5, 16, 11, 28]);
    // Groups: each input channel has its own filter.
    const xg = torch.cat([torch.ones([1, 1, 2, 2]), torch.full([1, 1, 2, 2], 2)], 1);
    const wg = T([3, 5]).reshape(2, 1, 1, 1);
    assert.deepEqual(F.conv2d(xg, wg, null, { groups: 2 }).toArray(), [3, 3, 3, 3, 10, 10, 10, 10]);
    // A 1x1 mixing conv without groups: 3*1 + 5*2 per pixel.
    assert.deepEqual(F.conv2d(xg, T([3, 5]).reshape(1, 2, 1, 1)).toArray(), [13, 13, 13, 13]);
  });
});

test('conv2d matches a direct-loop reference for random cases', () => {
  torch.tidy(() => {
    torch.manualSeed(7);
    const cases: { x: number[]; w: number[]; stride: [number, number]; padding: [number, number]; dilation: [number, number]; groups: number }[] = [
      { x: [2, 4, 7, 6], w: [6, 2, 3, 3], stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 2 },
      { x: [1, 3, 9, 8], w: [4, 3, 3, 2], stride: [2, 3], padding: [2, 0], dilation: [1, 2], groups: 1 },
      { x: [1, 4, 8, 8], w: [4, 1, 3, 3], stride: [2, 2], padding: [2, 2], dilation: [2, 2], groups: 4 }, // depthwise
    ];
    for (const c of cases) {
      const x = torch.randn(c.x, { dtype: 'float64' });
      const w = torch.randn(c.w, { dtype: 'float64' });
      const b = torch.randn([c.w[0]], { dtype: 'float64' });
      const y = F.conv2d(x, w, b, { stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups });
      const ref = naiveConv2d(x.toArray(), c.x, w.toArray(), c.w, b.toArray(), c.stride, c.padding, c.dilation, c.groups);
      assert.deepEqual(y.shape, ref.shape);
      assert.ok(maxDiff(y.toArray(), ref.out) < 1e-12, JSON.stringify(c));
    }
  });
});

test('linear', () => {
  torch.tidy(() => {
    const x = T([
      [1, 2],
      [0, -1],
    ]);
    const w = T([
      [1, 0],
      [0, 1],
      [1, 1],
    ]);
    assert.deepEqual(F.linear(x, w, T([0, 0, 1])).toArray(), [1, 2, 4, 0, -1, 0]);
    assert.deepEqual(F.linear(x, w).shape, [2, 3]);
    const lin = new nn.Linear(2, 3);
    assert.deepEqual(lin.weight.shape, [3, 2]);
    assert.deepEqual(lin.bias!.shape, [3]);
    lin.weight.copy_(w);
    lin.bias!.copy_(T([0, 0, 1]));
    assert.deepEqual(lin.forward(x).toArray(), [1, 2, 4, 0, -1, 0]);
    lin.dispose();
  });
});

test('batchNorm: training statistics, running-stat update, eval mode', () => {
  torch.tidy(() => {
    // [N=2, C=2, H=1, W=2]: channel 0 holds 1, 3, 5, 7 and channel 1 holds 2, 2, 2, 6.
    const x = T(
      [
        [[[1, 3]], [[2, 2]]],
        [[[5, 7]], [[2, 6]]],
      ],
      { dtype: 'float64' },
    );
    const rm = torch.zeros([2], { dtype: 'float64' });
    const rv = torch.ones([2], { dtype: 'float64' });
    const w = T([2, 1], { dtype: 'float64' });
    const b = T([0.5, -1], { dtype: 'float64' });
    const eps = 1e-5;
    const y = F.batchNorm(x, rm, rv, { weight: w, bias: b, training: true, momentum: 0.1, eps });
    // Channel 0: mean 4, biased variance 5. Channel 1: mean 3, biased variance 3.
    const n0 = (v: number) => (2 * (v - 4)) / Math.sqrt(5 + eps) + 0.5;
    const n1 = (v: number) => (v - 3) / Math.sqrt(3 + eps) - 1;
    assertClose(y, [n0(1), n0(3), n1(2), n1(2), n0(5), n0(7), n1(2), n1(6)], 1e-12);
    // Running stats: (1 - m) old + m batch, with the unbiased variance (20/3 and 4).
    assertClose(rm, [0.4, 0.3], 1e-12);
    assertClose(rv, [0.9 + (0.1 * 20) / 3, 0.9 + 0.1 * 4], 1e-12);
    // Eval mode uses (and does not change) the running statistics.
    const ye = F.batchNorm(x, rm, rv, { weight: w, bias: b, training: false, eps });
    const e0 = (v: number) => (2 * (v - 0.4)) / Math.sqrt(0.9 + 2 / 3 + eps) + 0.5;
    const e1 = (v: number) => (v - 0.3) / Math.sqrt(1.3 + eps) - 1;
    assertClose(ye, [e0(1), e0(3), e1(2), e1(2), e0(5), e0(7), e1(2), e1(6)], 1e-12);
    assertClose(rm, [0.4, 0.3], 1e-12);
    // Without running stats and affine parameters.
    assertClose(
      F.batchNorm(x, null, null, { training: true }).select(1, 0).flatten(),
      [-3, -1, 1, 3].map((v) => v / Math.sqrt(5 + 1e-5)),
      1e-9,
    );
  });
});

test('BatchNorm2d module: buffers, num_batches_tracked, train/eval', () => {
  torch.tidy(() => {
    const bn = new nn.BatchNorm2d(2, { momentum: 0.5 });
    assert.deepEqual(Object.keys(bn.stateDict()), ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']);
    const x = T([
      [[[1, 3]], [[2, 2]]],
      [[[5, 7]], [[2, 6]]],
    ]);
    bn.forward(x);
    bn.forward(x);
    assert.equal(bn.getBuffer('num_batches_tracked')!.item(), 2);
    assert.equal(bn.getBuffer('num_batches_tracked')!.dtype, 'int64');
    // Two updates with momentum 0.5 towards the batch mean 4: 2, then 3.
    assertClose(bn.runningMean!, [3, 2.25], 1e-6);
    bn.eval();
    const before = bn.runningMean!.toArray();
    const y = bn.forward(x);
    assert.deepEqual(bn.runningMean!.toArray(), before);
    assert.equal(bn.getBuffer('num_batches_tracked')!.item(), 2);
    assertClose(
      y.select(1, 0).flatten(),
      [1, 3, 5, 7].map((v) => (v - 3) / Math.sqrt(bn.runningVar!.toArray()[0] + 1e-5)),
      1e-5,
    );
    bn.resetRunningStats();
    assert.deepEqual(bn.runningMean!.toArray(), [0, 0]);
    assert.deepEqual(bn.runningVar!.toArray(), [1, 1]);
    // affine: false has no parameters (DARTS search cells).
    const plain = new nn.BatchNorm2d(3, { affine: false });
    assert.equal(plain.parameters().length, 0);
    assert.deepEqual(Object.keys(plain.stateDict()), ['running_mean', 'running_var', 'num_batches_tracked']);
    bn.dispose();
    plain.dispose();
  });
});

test('max and average pooling', () => {
  torch.tidy(() => {
    const x = torch.arange(16, undefined, 1, { dtype: 'float32' }).reshape(1, 1, 4, 4);
    assert.deepEqual(F.maxPool2d(x, 2).toArray(), [5, 7, 13, 15]);
    assert.deepEqual(F.avgPool2d(x, 2).toArray(), [2.5, 4.5, 10.5, 12.5]);
    assert.deepEqual(F.maxPool2d(x, 3, { stride: 1 }).toArray(), [10, 11, 14, 15]);
    assert.deepEqual(F.avgPool2d(x, 3, { stride: 1 }).toArray(), [5, 6, 9, 10]);
    // Padding: max ignores the pad, average counts it unless told otherwise.
    const s = T([
      [
        [
          [1, 2],
          [3, 4],
        ],
      ],
    ]);
    assert.deepEqual(F.maxPool2d(s, 2, { stride: 2, padding: 1 }).toArray(), [1, 2, 3, 4]);
    assert.deepEqual(F.avgPool2d(s, 2, { stride: 2, padding: 1 }).toArray(), [0.25, 0.5, 0.75, 1]);
    assert.deepEqual(F.avgPool2d(s, 2, { stride: 2, padding: 1, countIncludePad: false }).toArray(), [1, 2, 3, 4]);
    // DARTS' 3x3 pooling with stride 1 and padding 1 keeps the size.
    assert.deepEqual(F.avgPool2d(x, 3, { stride: 1, padding: 1, countIncludePad: false }).shape, [1, 1, 4, 4]);
    assert.equal(F.avgPool2d(x, 3, { stride: 1, padding: 1, countIncludePad: false }).toArray()[0], (0 + 1 + 4 + 5) / 4);
    // ceilMode keeps the partial window.
    const n = torch.arange(9, undefined, 1, { dtype: 'float32' }).reshape(1, 1, 3, 3);
    assert.deepEqual(F.maxPool2d(n, 2, { ceilMode: true }).toArray(), [4, 5, 7, 8]);
    assert.deepEqual(F.maxPool2d(n, 2).toArray(), [4]);
    // Dilation.
    assert.deepEqual(F.maxPool2d(x, 2, { stride: 1, dilation: 2 }).toArray(), [10, 11, 14, 15]);
    assert.deepEqual(F.adaptiveAvgPool2d(x, 1).toArray(), [7.5]);
    assert.deepEqual(F.adaptiveAvgPool2d(x, 2).toArray(), [2.5, 4.5, 10.5, 12.5]);
    assert.deepEqual(new nn.MaxPool2d(2).forward(x).toArray(), [5, 7, 13, 15]);
    assert.deepEqual(new nn.AvgPool2d(2).forward(x).toArray(), [2.5, 4.5, 10.5, 12.5]);
    assert.deepEqual(new nn.AdaptiveAvgPool2d([1, 2]).forward(x).toArray(), [6.5, 8.5]);
  });
});

test('interpolate: bilinear (both corner conventions) and nearest', () => {
  torch.tidy(() => {
    const x = T([
      [
        [
          [1, 2],
          [3, 4],
        ],
      ],
    ]);
    // align_corners=false: source coordinate (i + 0.5) / 2 - 0.5, clamped at 0.
    assertClose(F.interpolate(x, [4, 4], { mode: 'bilinear' }), [1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4], 1e-6);
    // align_corners=true: the corners map onto each other.
    assertClose(F.interpolate(x, [3, 3], { mode: 'bilinear', alignCorners: true }), [1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4], 1e-6);
    // Downsampling 4x4 -> 2x2 without corners: the centres of 2x2 blocks.
    const big = torch.arange(16, undefined, 1, { dtype: 'float32' }).reshape(1, 1, 4, 4);
    assertClose(F.interpolate(big, [2, 2], { mode: 'bilinear' }), [2.5, 4.5, 10.5, 12.5], 1e-6);
    // Nearest: source index floor(i * in / out).
    assert.deepEqual(F.interpolate(x, [4, 4]).toArray(), [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
    assert.deepEqual(F.interpolate(x, [3, 3], { mode: 'nearest' }).toArray(), [1, 1, 2, 1, 1, 2, 3, 3, 4]);
    assert.deepEqual(F.interpolate(x, [2, 3], { mode: 'nearest' }).toArray(), [1, 1, 2, 3, 3, 4]);
    assert.throws(() => F.interpolate(x, [3, 3], { mode: 'bicubic' as 'nearest' }), /mode must be 'bilinear' or 'nearest'/);
  });
});

test('crossEntropy: mean/sum/none, ignoreIndex, class weights, spatial targets, label smoothing', () => {
  torch.tidy(() => {
    const logits = T(
      [
        [1, 2, 3],
        [1, 1, 1],
      ],
      { dtype: 'float64' },
    );
    const l0 = Math.log(1 + Math.exp(-1) + Math.exp(-2)); // row 0, class 2
    const l1 = Math.log(3); // row 1, class 0
    assertClose(F.crossEntropy(logits, I([2, 0])), (l0 + l1) / 2, 1e-12);
    assertClose(F.crossEntropy(logits, I([2, 0]), { reduction: 'sum' }), l0 + l1, 1e-12);
    assertClose(F.crossEntropy(logits, I([2, 0]), { reduction: 'none' }), [l0, l1], 1e-12);
    // The ignored row counts neither in the sum nor in the mean.
    assertClose(F.crossEntropy(logits, I([2, -100])), l0, 1e-12);
    assertClose(F.crossEntropy(logits, I([255, 0]), { ignoreIndex: 255 }), l1, 1e-12);
    assertClose(F.crossEntropy(logits, I([255, 0]), { ignoreIndex: 255, reduction: 'none' }), [0, l1], 1e-12);
    // Class weights: a weighted mean, sum(w_t l) / sum(w_t).
    const w = T([1, 2, 0.5], { dtype: 'float64' });
    assertClose(F.crossEntropy(logits, I([2, 0]), { weight: w }), (0.5 * l0 + 1 * l1) / 1.5, 1e-12);
    assertClose(F.crossEntropy(logits, I([2, 0]), { weight: w, reduction: 'sum' }), 0.5 * l0 + l1, 1e-12);
    assertClose(F.crossEntropy(logits, I([1, 255]), { weight: w, ignoreIndex: 255 }), Math.log(1 + Math.exp(-1) + Math.exp(1)), 1e-12);
    // Segmentation shape: logits [N, C, H, W], targets [N, H, W].
    const seg = T([[[[2, 0]], [[0, 2]]]], { dtype: 'float64' }); // [1, 2, 1, 2]
    const lp = Math.log(1 + Math.exp(-2)); // the right class has the larger logit
    const ln = Math.log(1 + Math.exp(2));
    assertClose(F.crossEntropy(seg, I([[[0, 0]]])), (lp + ln) / 2, 1e-12);
    assertClose(F.crossEntropy(seg, I([[[0, 255]]]), { ignoreIndex: 255 }), lp, 1e-12);
    assertClose(F.crossEntropy(seg, I([[[1, 1]]]), { reduction: 'none' }), [ln, lp], 1e-12);
    // Label smoothing eps: (1 - eps) * nll + eps * mean over classes of -log p.
    const lsm = logits.logSoftmax(1).toArray();
    const eps = 0.1;
    const s0 = (1 - eps) * -lsm[2] + (eps * -(lsm[0] + lsm[1] + lsm[2])) / 3;
    const s1 = (1 - eps) * -lsm[3] + (eps * -(lsm[3] + lsm[4] + lsm[5])) / 3;
    assertClose(F.crossEntropy(logits, I([2, 0]), { labelSmoothing: eps }), (s0 + s1) / 2, 1e-12);
    // nllLoss on log-probabilities equals crossEntropy on logits; mseLoss.
    assertClose(F.nllLoss(logits.logSoftmax(1), I([2, 0])), (l0 + l1) / 2, 1e-12);
    assertClose(F.mseLoss(T([1, 2, 3]), T([1, 0, 0])), 13 / 3, 1e-6);
    assertClose(F.mseLoss(T([1, 2, 3]), T([1, 0, 0]), 'sum'), 13, 1e-6);
  });
});

test('gumbelSoftmax: soft rows sum to 1, hard is one-hot, gradients reach the logits', () => {
  torch.tidy(() => {
    const logits = T(
      [
        [1, 2, 0.5, -1],
        [0, 0, 0, 3],
      ],
      { dtype: 'float64', requiresGrad: true },
    );
    torch.manualSeed(11);
    const soft = F.gumbelSoftmax(logits, { tau: 0.7 });
    assert.deepEqual(soft.shape, [2, 4]);
    assertClose(soft.sum(1), [1, 1], 1e-12);
    assert.ok(soft.toArray().every((v) => v > 0 && v < 1));
    // The soft sample is softmax((logits + g) / tau) with g the seeded Gumbel noise.
    torch.manualSeed(11);
    const g = torch.gumbelLike(logits);
    assertClose(soft, logits.detach().add(g).div(0.7).softmax(1).toArray(), 1e-12);

    torch.manualSeed(11);
    const hard = F.gumbelSoftmax(logits, { tau: 0.7, hard: true });
    const h = hard.toArray();
    assert.ok(
      h.every((v) => v === 0 || v === 1),
      `not one-hot: ${h}`,
    );
    assert.deepEqual(hard.sum(1).toArray(), [1, 1]);
    assert.deepEqual(hard.argmax(1).toArray(), soft.argmax(1).toArray());
    // Straight-through: the gradient of the hard sample is that of the soft sample.
    const wts = T(
      [
        [1, -2, 3, 0.5],
        [2, 1, -1, 4],
      ],
      { dtype: 'float64' },
    );
    const [gh] = torch.autograd.grad(hard.mul(wts).sum(), [logits], { retainGraph: true });
    const [gs] = torch.autograd.grad(soft.mul(wts).sum(), [logits]);
    assert.ok(gh!.abs().sum().item() > 1e-3, 'the hard sample has no gradient');
    assertClose(gh!, gs!.toArray(), 1e-12);
    // Gumbel-max: the argmax of logits + noise is distributed as softmax(logits).
    torch.manualSeed(3);
    const many = F.gumbelSoftmax(T([0, 1, 2], { dtype: 'float64' }).expand(20000, 3), { hard: true });
    const freq = many.mean(0).toArray();
    const p = T([0, 1, 2], { dtype: 'float64' }).softmax(0).toArray();
    assert.ok(maxDiff(freq, p) < 0.02, `frequencies ${freq} vs ${p}`);
    // A low temperature makes soft samples nearly one-hot.
    torch.manualSeed(4);
    assert.ok(
      F.gumbelSoftmax(logits.detach(), { tau: 0.01 })
        .amax(1)
        .toArray()
        .every((v) => v > 0.99),
    );
  });
});

test('dropout: identity when p = 0 or not training, scaled Bernoulli mask otherwise', () => {
  torch.tidy(() => {
    const x = torch.ones([10000]);
    assert.deepEqual(F.dropout(x, 0).toArray().slice(0, 3), [1, 1, 1]);
    assert.equal(F.dropout(x, 0.5, false).sum().item(), 10000);
    torch.manualSeed(0);
    const y = F.dropout(x, 0.25).toArray();
    assert.ok(y.every((v) => v === 0 || Math.abs(v - 4 / 3) < 1e-6));
    const kept = y.filter((v) => v !== 0).length / y.length;
    assert.ok(Math.abs(kept - 0.75) < 0.02, `kept ${kept}`);
    assert.throws(() => F.dropout(x, 1.5), /dropout: p must be in \[0, 1\], got 1.5/);
    const d = new nn.Dropout(0.5);
    d.eval();
    assert.equal(d.forward(x).sum().item(), 10000);
  });
});

test('Module: parameters, state-dict names and order, loadStateDict, train/eval, init bounds', () => {
  torch.tidy(() => {
    torch.manualSeed(0);
    const net = new nn.Sequential(new nn.Conv2d(3, 4, 3, { padding: 1 }), new nn.BatchNorm2d(4), new nn.ReLU(), new nn.Conv2d(4, 2, 1, { bias: false }));
    assert.deepEqual(Object.keys(net.stateDict()), [
      '0.weight',
      '0.bias',
      '1.weight',
      '1.bias',
      '1.running_mean',
      '1.running_var',
      '1.num_batches_tracked',
      '3.weight',
    ]);
    assert.deepEqual(
      net.namedParameters().map(([n]) => n),
      ['0.weight', '0.bias', '1.weight', '1.bias', '3.weight'],
    );
    assert.equal(net.numParameters(), 4 * 3 * 9 + 4 + 4 + 4 + 2 * 4);
    assert.ok(net.parameters().every((p) => p.requiresGrad));
    // PyTorch's default init: U(-1/sqrt(fanIn), 1/sqrt(fanIn)).
    const w0 = (net.at(0) as InstanceType<typeof nn.Conv2d>).weight;
    const bound = 1 / Math.sqrt(27);
    assert.ok(w0.abs().amax().item() <= bound);
    assert.ok(w0.abs().amax().item() > bound * 0.8);
    assert.deepEqual(net.forward(torch.randn([2, 3, 5, 5])).shape, [2, 2, 5, 5]);

    // loadStateDict copies values in place (identity kept) and checks keys and shapes.
    torch.manualSeed(1);
    const other = new nn.Sequential(new nn.Conv2d(3, 4, 3, { padding: 1 }), new nn.BatchNorm2d(4), new nn.ReLU(), new nn.Conv2d(4, 2, 1, { bias: false }));
    assert.ok(maxDiff(other.stateDict()['0.weight'].toArray(), w0.toArray()) > 0);
    other.loadStateDict(net.stateDict());
    assert.deepEqual(other.stateDict()['0.weight'].toArray(), w0.toArray());
    assert.ok(!torch.sameStorage(other.stateDict()['0.weight'], w0));
    const sd: Record<string, Tensor> = { ...net.stateDict() };
    delete sd['3.weight'];
    sd.extra = torch.zeros([1]);
    assert.throws(() => other.loadStateDict(sd), /keys do not match Sequential; missing: 3\.weight; unexpected: extra/);
    assert.deepEqual(other.loadStateDict(sd, false), { missing: ['3.weight'], unexpected: ['extra'] });
    assert.throws(
      () => other.loadStateDict({ ...net.stateDict(), '0.bias': torch.zeros([5]) }),
      /'0\.bias' has shape \[5\] in the state dict but \[4\] in the module/,
    );
    // train/eval reach every descendant.
    net.eval();
    assert.ok(net.modules().every((m) => !m.training));
    net.train();
    assert.ok(net.modules().every((m) => m.training));
    assert.throws(() => new nn.Conv2d(3, 4, 3, { groups: 2 }), /must be divisible by groups/);
    net.dispose();
    other.dispose();
  });
});

test('clipGradNorm scales gradients to the maximum norm and returns the norm before', () => {
  torch.tidy(() => {
    const a = T([0, 0], { requiresGrad: true, dtype: 'float64' });
    const b = T([0], { requiresGrad: true, dtype: 'float64' });
    a.mul(T([3, 0], { dtype: 'float64' }))
      .sum()
      .add(b.mul(4).sum())
      .backward(); // grads [3, 0] and [4]
    const norm = nn.utils.clipGradNorm([a, b], 1);
    assertClose(norm, 5, 1e-12);
    assertClose(a.grad!, [3 / (5 + 1e-6), 0], 1e-12);
    assertClose(b.grad!, [4 / (5 + 1e-6)], 1e-12);
    // Below the maximum nothing changes.
    assertClose(nn.utils.clipGradNorm([a, b], 10), 5 / (5 + 1e-6), 1e-12);
    assertClose(b.grad!, [4 / (5 + 1e-6)], 1e-12);
  });
});

test('BatchNorm2d with momentum null keeps the cumulative average of batch statistics', () => {
  torch.tidy(() => {
    const bn = new nn.BatchNorm2d(1, { momentum: null });
    // batch means 1 and 3 -> running mean 2; unbiased batch variances 0 and 8/3 -> running var 4/3
    bn.forward(torch.tensor([1, 1, 1, 1], { shape: [1, 1, 2, 2] }));
    bn.forward(torch.tensor([1, 3, 3, 5], { shape: [1, 1, 2, 2] }));
    assert.ok(Math.abs((bn.runningMean as torch.Tensor).item() - 2) < 1e-6);
    assert.ok(Math.abs((bn.runningVar as torch.Tensor).item() - 4 / 3) < 1e-6);
    assert.equal(bn.getBuffer('num_batches_tracked')!.item(), 2);
    bn.dispose();
  });
});
