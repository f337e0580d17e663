/**
 * dnas's own kernels (native/fast_kernels.cc) against libtorch's and against plain arithmetic: the
 * 1x1 convolution by sgemm in both memory layouts, the depthwise convolution's own weight gradient
 * and flipped-kernel input gradient, the cases that stay libtorch's, double backward, and the
 * memory-format API they rely on (Tensor.to / contiguous / Module.to).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { test } from 'node:test';
import * as torch from '.';
import { MemoryFormat, Tensor } from '.';
import { values } from '../../test/helpers';

torch.setNumThreads(1);
const F = torch.nn.functional;

/** max |a - b| / max |b|: the kernels differ from libtorch's only by summation order. */
function relDiff(a: Tensor, b: Tensor): number {
  return torch.tidy(() => torch.maxAbsDiff(a, b) / Math.max(b.abs().max().item(), 1e-30));
}

/** Output and gradients (input, weight) of conv2d(x, w) for the loss sum(y * g), with the kernels on or off. */
function convWithGrads(x: Tensor, w: Tensor, opts: torch.nn.functional.Conv2dOptions, g: Tensor, fast: boolean): Tensor[] {
  const was = torch.setFastKernels(fast);
  try {
    const xi = x.detach().requiresGrad_();
    const wi = w.detach().requiresGrad_();
    const y = F.conv2d(xi, wi, null, opts);
    const [gx, gw] = torch.autograd.grad(y.mul(g).sum(), [xi, wi]);
    return [y.detach(), gx!, gw!];
  } finally {
    torch.setFastKernels(was);
  }
}

test('fast kernels are on by default, switch at run time, and DNAS_FAST_KERNELS=0 starts a process with them off', () => {
  const initially = process.env.DNAS_FAST_KERNELS !== '0';
  assert.equal(torch.fastKernels().enabled, initially);
  assert.equal(torch.setFastKernels(false), initially);
  assert.equal(torch.fastKernels().enabled, false);
  assert.equal(torch.setFastKernels(true), false);
  torch.setFastKernels(initially); // as the process began
  assert.throws(() => torch.setFastKernels('yes' as unknown as boolean), /expected true or false/);
  const script = `const t = require(${JSON.stringify(path.resolve(__dirname))}); process.stdout.write(JSON.stringify(t.fastKernels()));`;
  const r = spawnSync(process.execPath, ['-e', script], { env: { ...process.env, DNAS_FAST_KERNELS: '0' }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).enabled, false);
});

test('a 1x1 convolution equals the matrix product computed by hand, in both layouts', () => {
  torch.manualSeed(1);
  const [N, C, H, W, Co] = [2, 3, 2, 3, 4];
  const x = torch.randn([N, C, H, W]);
  const w = torch.randn([Co, C, 1, 1]);
  const xs = values(x),
    ws = values(w);
  const want: number[] = [];
  for (let n = 0; n < N; n++)
    for (let o = 0; o < Co; o++)
      for (let p = 0; p < H * W; p++) {
        let s = 0;
        for (let c = 0; c < C; c++) s += ws[o * C + c] * xs[(n * C + c) * H * W + p];
        want.push(s);
      }
  for (const format of ['contiguous', 'channelsLast'] as MemoryFormat[]) {
    const y = F.conv2d(x.to({ memoryFormat: format }), w);
    assert.deepEqual(y.shape, [N, Co, H, W]);
    assert.equal(y.memoryFormat, format, 'the output keeps the input layout, as libtorch does');
    const got = values(y.contiguous());
    got.forEach((v, i) => assert.ok(Math.abs(v - want[i]) <= 1e-5 * (1 + Math.abs(want[i])), `${format} element ${i}: ${v} vs ${want[i]}`));
  }
});

const noSgemm = torch.fastKernels().sgemm ? false : "this libtorch loads no oneDNN library with sgemm: 1x1 convolutions stay libtorch's";

test('1x1 convolutions by sgemm match libtorch in output and both gradients (1e-5), contiguous, channels-last and strided inputs', { skip: noSgemm }, () => {
  torch.manualSeed(2);
  const cases: [number[], number][] = [
    [[2, 8, 32, 64], 8],
    [[1, 5, 7, 3], 9],
    [[32, 16, 14, 14], 16],
    [[3, 80, 6, 10], 8],
  ];
  for (const [shape, co] of cases) {
    const [N, C, H, W] = shape;
    for (const format of ['contiguous', 'channelsLast', 'strided'] as const) {
      torch.tidy(() => {
        const base = torch.randn([N, C, H, W]);
        // 'strided': a transposed view (H and W swapped back), neither layout.
        const x = format === 'strided' ? torch.randn([N, C, W, H]).transpose(2, 3) : base.to({ memoryFormat: format });
        const w = torch.randn([co, C, 1, 1]);
        const g = torch.randn([N, co, H, W]);
        const served = torch.fastKernels().calls.pointwise;
        const fast = convWithGrads(x, w, {}, g, true);
        assert.equal(torch.fastKernels().calls.pointwise, served + 1, 'the sgemm kernel ran');
        const ref = convWithGrads(x, w, {}, g, false);
        assert.equal(torch.fastKernels().calls.pointwise, served + 1, "switched off: libtorch's kernel ran");
        ['output', 'input gradient', 'weight gradient'].forEach((what, i) => {
          const d = relDiff(fast[i], ref[i]);
          assert.ok(d <= 1e-5, `[${shape}] -> ${co}, ${format}: ${what} differs by ${d}`);
        });
        assert.equal(fast[1].memoryFormat, ref[1].memoryFormat, 'the input gradient has the input layout');
      });
    }
  }
});

test('a 1x1 convolution of a contiguous input with a channels-last weight writes channels-last, as libtorch does', { skip: noSgemm }, () => {
  torch.manualSeed(6);
  const x = torch.randn([2, 6, 5, 7]);
  const w = torch.randn([4, 6, 1, 1]).to({ memoryFormat: 'channelsLast' });
  assert.equal(w.memoryFormat, 'channelsLast');
  const g = torch.randn([2, 4, 5, 7]).to({ memoryFormat: 'channelsLast' });
  const fast = convWithGrads(x, w, {}, g, true);
  const ref = convWithGrads(x, w, {}, g, false);
  assert.equal(fast[0].memoryFormat, ref[0].memoryFormat);
  assert.equal(fast[0].memoryFormat, 'channelsLast');
  ['output', 'input gradient', 'weight gradient'].forEach((what, i) => assert.ok(relDiff(fast[i], ref[i]) <= 1e-5, what));
});

test("depthwise convolutions (own weight gradient, flipped-kernel input gradient) match libtorch (1e-5); other shapes stay libtorch's", () => {
  torch.manualSeed(3);
  // shape, kernel [h, w], dilation, padding, stride, layout, served by dnas's kernel
  type Pair = number | [number, number];
  const cases: [number[], Pair, Pair, Pair, Pair, MemoryFormat, boolean][] = [
    [[4, 8, 12, 10], 5, 2, 4, 1, 'contiguous', true], // dil_conv_5x5: the input gradient
    [[2, 6, 9, 11], 3, 2, 2, 1, 'contiguous', true], // dil_conv_3x3
    [[2, 4, 9, 9], 3, 2, 2, 2, 'contiguous', false], // strided
    [[2, 4, 9, 9], 3, 2, 1, 1, 'contiguous', false], // padding other than "same"
    [[2, 4, 9, 9], 5, 1, 2, 1, 'contiguous', false], // not dilated
    [[4, 8, 12, 10], 5, 1, 2, 1, 'channelsLast', true], // sep_conv_5x5: the weight gradient
    [[3, 20, 7, 9], 5, 1, 2, 2, 'channelsLast', true], // strided, 20 channels (16 + a tail of 4)
    [[2, 16, 9, 11], 3, 2, 2, 1, 'channelsLast', true], // dilated: both
    [[2, 12, 5, 6], 7, 1, 3, 1, 'channelsLast', true], // a kernel larger than the image
    [[2, 6, 9, 9], 3, 3, 1, 2, 'channelsLast', true], // dilated, strided, padding other than "same"
    [[2, 9, 8, 13], [3, 5], [2, 1], [2, 2], 1, 'channelsLast', true], // non-square, "same" in both directions
    [[2, 9, 8, 13], [5, 3], [1, 3], [0, 4], [2, 1], 'channelsLast', true], // every direction its own
    [[2, 8, 9, 9], 3, 1, 1, 1, 'channelsLast', false], // 3x3: libtorch's own is as fast
  ];
  for (const [n, [shape, k, d, p, s, format, served]] of cases.entries()) {
    torch.tidy(() => {
      const C = shape[1];
      const [kh, kw] = typeof k === 'number' ? [k, k] : k;
      const x = torch.randn(shape).to({ memoryFormat: format });
      const w = torch.randn([C, 1, kh, kw]);
      const opts = { padding: p, dilation: d, stride: s, groups: C };
      const out = torch.noGrad(() => F.conv2d(x, w, null, opts));
      // Every other case gets its output gradient channels-last, as a following NHWC layer gives it.
      const g = torch.randn(out.shape).to({ memoryFormat: n % 2 ? 'channelsLast' : 'contiguous' });
      const before = torch.fastKernels().calls.depthwise;
      const fast = convWithGrads(x, w, opts, g, true);
      const what = `[${shape}] k${k} d${d} p${p} s${s} ${format}, gradient ${g.memoryFormat}`;
      assert.equal(torch.fastKernels().calls.depthwise, before + (served ? 1 : 0), `${what}: dnas's kernel ran: ${served}`);
      const ref = convWithGrads(x, w, opts, g, false);
      ['output', 'input gradient', 'weight gradient'].forEach((part, i) => {
        const diff = relDiff(fast[i], ref[i]);
        assert.ok(diff <= 1e-5, `${what}: ${part} differs by ${diff}`);
      });
    });
  }
});

test('the depthwise weight gradient splits its channels (or, with few channels, its samples) between threads, and its baseline build agrees', () => {
  torch.manualSeed(7);
  const x = torch.randn([3, 40, 11, 9]).to({ memoryFormat: 'channelsLast' });
  const w = torch.randn([40, 1, 5, 5]);
  const opts = { padding: 2, groups: 40 };
  const g = torch.randn([3, 40, 11, 9]);
  const ref = convWithGrads(x, w, opts, g, false)[2];
  // 8 channels: one block, so the 3 samples are split between the threads instead.
  const x8 = torch.randn([3, 8, 11, 9]).to({ memoryFormat: 'channelsLast' });
  const w8 = torch.randn([8, 1, 5, 5]);
  const g8 = torch.randn([3, 8, 11, 9]);
  const ref8 = convWithGrads(x8, w8, { padding: 2, groups: 8 }, g8, false)[2];
  torch.setNumThreads(2);
  try {
    const before = torch.fastKernels().calls.depthwise;
    const two = convWithGrads(x, w, opts, g, true)[2]; // 3 blocks of 16 channels over 2 threads
    const two8 = convWithGrads(x8, w8, { padding: 2, groups: 8 }, g8, true)[2];
    assert.equal(torch.fastKernels().calls.depthwise, before + 2);
    assert.ok(relDiff(two, ref) <= 1e-5, `2 threads: ${relDiff(two, ref)}`);
    assert.ok(relDiff(two8, ref8) <= 1e-5, `2 threads, samples split: ${relDiff(two8, ref8)}`);
  } finally {
    torch.setNumThreads(1);
  }
  // The build for CPUs without AVX2, in a process that is told to take it.
  const script = `
    const t = require(${JSON.stringify(path.resolve(__dirname))});
    t.setNumThreads(1);
    t.manualSeed(7);
    const x = t.randn([3, 40, 11, 9]).to({ memoryFormat: 'channelsLast' });
    const w = t.randn([40, 1, 5, 5]);
    const g = t.randn([3, 40, 11, 9]);
    const grad = (fast) => { t.setFastKernels(fast); const wi = w.detach().requiresGrad_(); t.nn.functional.conv2d(x, wi, null, { padding: 2, groups: 40 }).mul(g).sum().backward(); return wi.grad; };
    const own = grad(true), lib = grad(false);
    process.stdout.write(JSON.stringify({ isa: t.fastKernels().isa, rel: t.maxAbsDiff(own, lib) / lib.abs().max().item() }));`;
  const r = spawnSync(process.execPath, ['-e', script], { env: { ...process.env, DNAS_FAST_KERNELS_ISA: 'baseline' }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { isa: string; rel: number };
  assert.equal(out.isa, 'baseline');
  assert.ok(out.rel <= 1e-5, `baseline build: ${out.rel}`);
});

test('gradients of gradients through the fast kernels equal libtorch (create_graph)', () => {
  torch.manualSeed(4);
  const run = (fast: boolean): number[] => {
    const was = torch.setFastKernels(fast);
    try {
      return torch.tidy(() => {
        const x = torch.randn([2, 4, 6, 6]).requiresGrad_();
        const pw = torch.randn([3, 4, 1, 1]).requiresGrad_();
        const dw = torch.randn([4, 1, 3, 3]).requiresGrad_();
        const dw5 = torch.randn([4, 1, 5, 5]).requiresGrad_();
        const h = F.conv2d(x.to({ memoryFormat: 'channelsLast' }), dw5, null, { padding: 2, groups: 4 });
        const y = F.conv2d(F.conv2d(h, dw, null, { padding: 2, dilation: 2, groups: 4 }), pw);
        const [gx] = torch.autograd.grad(y.square().sum(), [x], { createGraph: true });
        const [ggp, ggd, gg5] = torch.autograd.grad(gx!.square().sum(), [pw, dw, dw5]);
        return [...values(ggp!), ...values(ggd!), ...values(gg5!)];
      });
    } finally {
      torch.setFastKernels(was);
    }
  };
  torch.manualSeed(4);
  const served = torch.fastKernels().calls;
  const fast = run(true);
  const now = torch.fastKernels().calls;
  assert.equal(now.depthwise, served.depthwise + 2, "both depthwise convolutions ran dnas's kernels");
  if (!noSgemm) assert.equal(now.pointwise, served.pointwise + 1);
  torch.manualSeed(4);
  const ref = run(false);
  const scale = Math.max(...ref.map(Math.abs));
  fast.forEach((v, i) => assert.ok(Math.abs(v - ref[i]) <= 1e-5 * scale, `second derivative ${i}: ${v} vs ${ref[i]}`));
});

test('memory formats: contiguous(), to({ memoryFormat }) and Module.to keep values and set the layout', () => {
  torch.manualSeed(5);
  const x = torch.randn([2, 3, 4, 5]);
  const cl = x.contiguous('channelsLast');
  assert.deepEqual(cl.shape, [2, 3, 4, 5]);
  assert.equal(cl.isContiguous('channelsLast'), true);
  assert.equal(cl.isContiguous(), false);
  assert.equal(cl.memoryFormat, 'channelsLast');
  assert.equal(torch.maxAbsDiff(cl, x), 0);
  assert.equal(cl.contiguous().memoryFormat, 'contiguous');
  assert.throws(() => torch.randn([2, 3]).contiguous('channelsLast'), /needs a 4-D tensor, got 2-D/);
  assert.throws(() => x.contiguous('nhwc' as MemoryFormat), /must be 'contiguous' or 'channelsLast'/);
  // One channel: the NCHW strides fit both layouts; contiguous() leaves them (as PyTorch's), to()
  // gives them the channels-last strides that make a convolution choose NHWC.
  const one = torch.randn([2, 1, 4, 5]);
  assert.equal(one.isContiguous('channelsLast'), true);
  assert.equal(one.memoryFormat, 'contiguous');
  assert.equal(one.to({ memoryFormat: 'channelsLast' }).memoryFormat, 'channelsLast');

  const net = new torch.nn.Sequential(new torch.nn.Conv2d(1, 4, 3, { padding: 1 }), new torch.nn.BatchNorm2d(4), new torch.nn.Conv2d(4, 2, 1));
  net.eval(); // the running statistics stay as they are
  const objects = net.parameters();
  objects[0].requiresGrad_(false); // a frozen weight stays frozen
  const before = torch.noGrad(() => net.forward(one));
  const state = Object.fromEntries(Object.entries(net.stateDict()).map(([k, v]) => [k, v.clone()]));
  net.to({ memoryFormat: 'channelsLast' });
  const weights = net.parameters().filter((p) => p.ndim === 4);
  assert.equal(weights.length, 2);
  for (const p of weights) assert.equal(p.memoryFormat, 'channelsLast');
  // The same tensor objects, their data relaid in place (what holds them sees the new layout).
  assert.ok(net.parameters().every((p, i) => p === objects[i]));
  assert.deepEqual(
    net.parameters().map((p) => p.requiresGrad),
    objects.map((_, i) => i !== 0),
  );
  const views = weights.map((p) => p.detach()); // share the weights' storage as it is now
  net.to({ memoryFormat: 'channelsLast' });
  assert.ok(
    weights.every((p, i) => torch.sameStorage(p, views[i])),
    'a second call leaves the data where it is',
  );
  for (const [k, v] of Object.entries(net.stateDict())) assert.equal(torch.maxAbsDiff(v, state[k]), 0, k);
  const after = torch.noGrad(() => net.forward(one));
  assert.equal(after.memoryFormat, 'channelsLast', 'the first convolution reads its channels-last weight and writes NHWC');
  assert.ok(relDiff(after, before) <= 1e-5);
  // A checkpoint of a channels-last module loads into a contiguous one, and back.
  const file = path.join(require('node:os').tmpdir(), `dnas-cl-${process.pid}.pt`);
  torch.save(net.stateDict(), file);
  const plain = new torch.nn.Sequential(new torch.nn.Conv2d(1, 4, 3, { padding: 1 }), new torch.nn.BatchNorm2d(4), new torch.nn.Conv2d(4, 2, 1));
  plain.loadStateDict(torch.load(file) as Record<string, Tensor>);
  require('node:fs').rmSync(file);
  for (const [k, v] of Object.entries(plain.stateDict())) assert.equal(torch.maxAbsDiff(v, state[k]), 0, k);
});
