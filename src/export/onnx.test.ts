/**
 * ONNX export parity: networks derived and built from small lattice and DARTS spaces, and plain
 * layers, exported and run by onnxruntime (an independent implementation) on random input, against
 * dnas's own eval-mode output.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { Cell, CustomSpace, DartsSpace, FactorizedReduce, Genotype, LatticeSpace, MixedOp, searchCellParts, SepConv, Zero } from '../space';
import * as torch from '../torch';
import { nn, Tensor } from '../torch';
import { maxDiff } from '../../test/helpers';
import { exportOnnx, exportPython, OnnxExportError, OnnxExportOptions, registerOnnxExporter } from '.';
import { randomizeBatchNorm } from './testing';

torch.setNumThreads(1);
const F = nn.functional;
const TOL = 1e-4;

const session = (bytes: Uint8Array) => ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });

/** Max |onnxruntime - dnas| of `net` (eval mode) on a random input of each shape, one session for all. */
async function parity(net: nn.Module, shapes: number[][], opts: Partial<OnnxExportOptions> = {}): Promise<number> {
  net.eval();
  const bytes = exportOnnx(net, { inChannels: shapes[0][1], ...opts });
  const sess = await session(bytes);
  assert.deepEqual(sess.inputNames, [opts.inputName ?? 'input']);
  let worst = 0;
  for (const shape of shapes) {
    const x = torch.randn(shape);
    const ref = torch.noGrad(() => {
      const y = net.forward(x) as Tensor;
      return opts.softmax ? y.softmax(1) : y;
    });
    const feeds: Record<string, ort.Tensor> = { [sess.inputNames[0]]: new ort.Tensor('float32', x.data() as Float32Array, shape) };
    const out: Record<string, ort.Tensor> = await sess.run(feeds);
    const y: ort.Tensor = out[sess.outputNames[0]];
    assert.deepEqual(y.dims, ref.shape, `output shape for input [${shape}]`);
    worst = Math.max(worst, maxDiff(y.data as Float32Array, ref.data() as Float32Array));
    x.dispose();
    ref.dispose();
  }
  return worst;
}

function report(t: { diagnostic: (s: string) => void }, name: string, d: number): void {
  t.diagnostic(`${name}: max abs diff ${d.toExponential(2)}`);
  assert.ok(d < TOL, `${name}: max abs diff ${d} >= ${TOL}`);
}

// Cells exercising every operation kind: separable, dilated, skip (identity and factorized
// reduce), max and average pooling.
const LATTICE_CELL: [string, number][] = [
  ['sep_conv_3x3', 0],
  ['dil_conv_3x3', 0],
  ['skip_connect', 1],
  ['max_pool_3x3', 1],
  ['avg_pool_3x3', 2],
];
const DARTS_NORMAL: [string, number][] = [
  ['sep_conv_3x3', 0],
  ['skip_connect', 1],
  ['dil_conv_3x3', 0],
  ['max_pool_3x3', 2],
  ['avg_pool_3x3', 1],
  ['sep_conv_5x5', 3],
];
const DARTS_REDUCE: [string, number][] = [
  ['skip_connect', 0],
  ['max_pool_3x3', 1],
  ['sep_conv_3x3', 0],
  ['dil_conv_5x5', 1],
  ['avg_pool_3x3', 2],
  ['skip_connect', 3],
];

test('lattice (short): derived network with inherited weights, down/same/up resampling, dynamic sizes', async (t) => {
  torch.manualSeed(1);
  const space = new LatticeSpace({ layers: 4, C: 4, nodes: 3, scales: 3, numClasses: 5 });
  const g: Genotype = { version: 1, space: 'lattice', cells: { cell: LATTICE_CELL }, path: [1, 2, 2, 1] };
  randomizeBatchNorm(space.module);
  const net = space.derive(g, { release: true });
  // Odd sizes make every ceil(size / 2) and the bilinear resizes non-trivial; one session runs both.
  report(
    t,
    'lattice derived',
    await parity(net, [
      [2, 3, 37, 45],
      [1, 3, 64, 48],
    ]),
  );
  net.dispose();
});

test('lattice (short): fresh network of a genotype (build), fixed input size, softmax output', async (t) => {
  torch.manualSeed(2);
  const space = new LatticeSpace({ layers: 3, C: 4, nodes: 3, scales: 3, numClasses: 4 });
  const net = space.build({ version: 1, space: 'lattice', cells: { cell: LATTICE_CELL }, path: [0, 1, 0] });
  randomizeBatchNorm(net);
  report(t, 'lattice built', await parity(net, [[2, 3, 40, 56]], { height: 40, width: 56 }));
  report(t, 'lattice built + softmax', await parity(net, [[1, 3, 33, 29]], { softmax: true, outputName: 'probs' }));
  space.dispose();
  net.dispose();
});

test('lattice (dense): derived network with several inputs per node', async (t) => {
  torch.manualSeed(3);
  const space = new LatticeSpace({ layers: 3, C: 4, nodes: 3, scales: 3, numClasses: 3, connectivity: 'dense', denseInputs: 2 });
  const g = { ...space.decode(), cells: { cell: LATTICE_CELL } };
  randomizeBatchNorm(space.module);
  const net = space.derive(g, { release: true });
  report(t, 'lattice-dense derived', await parity(net, [[2, 3, 35, 41]]));
  net.dispose();
});

test('two-input lattice (lattice-adl): derived and fresh networks, a path through same/down/up and resized second inputs', async (t) => {
  torch.manualSeed(4);
  const space = new LatticeSpace({ layers: 4, C: 4, nodes: 2, scales: 3, numClasses: 3, cellInputs: 2 });
  const cell: [string, number][] = [
    ['sep_conv_3x3', 0],
    ['skip_connect', 1],
    ['max_pool_3x3', 0],
    ['dil_conv_3x3', 2],
  ];
  const g: Genotype = { version: 1, space: 'lattice-adl', cells: { cell }, path: [1, 1, 2, 1] };
  randomizeBatchNorm(space.module);
  const fresh = space.build(g);
  randomizeBatchNorm(fresh);
  const net = space.derive(g, { release: true });
  report(t, 'lattice-adl derived', await parity(net, [[2, 3, 37, 45]]));
  report(t, 'lattice-adl built', await parity(fresh, [[1, 3, 40, 56]], { height: 40, width: 56 }));
  net.dispose();
  fresh.dispose();
});

test('fusion lattice (lattice-fusion): derived network with inputs two scales away and the fusion 1x1', async (t) => {
  torch.manualSeed(5);
  const space = new LatticeSpace({ layers: 3, C: 4, nodes: 3, scales: 3, numClasses: 3, connectivity: 'fusion', denseInputs: 2 });
  const g: Genotype = {
    version: 1,
    space: 'lattice-fusion',
    cells: { cell: LATTICE_CELL },
    output: 0,
    inputs: {
      l1s1: [[0, 0]],
      l2s2: [
        [0, 0],
        [1, 1],
      ],
      l3s0: [
        [1, 1],
        [2, 2],
      ],
    },
  };
  randomizeBatchNorm(space.module);
  const net = space.derive(g, { release: true });
  report(t, 'lattice-fusion derived', await parity(net, [[2, 3, 37, 45]]));
  net.dispose();
});

test('DARTS: derived network (search cells: BN without affine after pools) and fresh network', async (t) => {
  torch.manualSeed(4);
  const space = new DartsSpace({ C: 4, layers: 5, nodes: 3, numClasses: 10, inChannels: 3 });
  const g: Genotype = { version: 1, space: 'darts', cells: { normal: DARTS_NORMAL, reduce: DARTS_REDUCE } };
  randomizeBatchNorm(space.module);
  // Odd sizes: the factorized reductions pad before the shift.
  const built = space.build({ ...g, cells: { normal: DARTS_NORMAL, reduce: [...DARTS_REDUCE.slice(0, 4), ['conv_7x1_1x7', 2], ['skip_connect', 3]] } });
  randomizeBatchNorm(built);
  const net = space.derive(g, { release: true });
  report(
    t,
    'darts derived',
    await parity(net, [
      [3, 3, 17, 19],
      [2, 3, 32, 32],
    ]),
  );
  report(t, 'darts built', await parity(built, [[2, 3, 16, 16]], { height: 16, width: 16, batch: 2 }));
  net.dispose();
  built.dispose();
});

test('plain layers: conv variants, BatchNorm, pools (ceil, padding, count_include_pad), adaptive pooling, dropout', async (t) => {
  torch.manualSeed(5);
  const net = new nn.Sequential(
    new nn.Conv2d(3, 8, 3, { stride: 2, padding: 1 }),
    new nn.BatchNorm2d(8),
    new nn.ReLU(),
    new nn.Conv2d(8, 8, [3, 5], { padding: [2, 4], dilation: 2, groups: 4, bias: false }),
    new nn.MaxPool2d(3, { stride: 2, padding: 1, ceilMode: true }),
    new nn.AvgPool2d(3, { stride: 1, padding: 1, countIncludePad: true }),
    new nn.Dropout(0.5),
    new nn.Identity(),
    new nn.AvgPool2d(2, { ceilMode: true, countIncludePad: false }),
    new nn.AdaptiveAvgPool2d(2),
  );
  randomizeBatchNorm(net);
  // AdaptiveAvgPool2d(2) exports for a fixed, divisible size (28 → 14 → 14 → 8 → 8 → 4 → 2).
  report(t, 'layers', await parity(net, [[2, 3, 28, 28]], { height: 28, width: 28 }));
  assert.throws(() => exportOnnx(net, { inChannels: 3 }), /AdaptiveAvgPool2d at '9'.*fixed/);
  net.dispose();
});

/** A module whose forward uses functional ops: flatten, linear, interpolate (nearest / bilinear, align corners), cat, mul. */
class Head extends nn.Module {
  readonly fc = this.registerModule('fc', new nn.Linear(4 * 2 * 2, 6));
  forward(x: Tensor): Tensor {
    const [, , h, w] = x.shape;
    const up = F.interpolate(x, [2 * h + 1, 2 * w - 1], { mode: 'nearest' });
    const ac = F.interpolate(up, [h + 3, w + 2], { mode: 'bilinear', alignCorners: true });
    const pooled = F.adaptiveAvgPool2d(torch.cat([ac, ac.mul(ac)], 1), 1);
    return this.fc.forward(pooled.reshape([x.shape[0], 4 * 2 * 2]).relu());
  }
}

test('registerOnnxExporter: a user module with interpolate, cat, mul, flatten and linear', async (t) => {
  registerOnnxExporter(Head, (ctx, m, x) => {
    const g = ctx.graph;
    const [h, w] = [x.shape![2] as number, x.shape![3] as number];
    const up = g.resize(x, { value: g.int64([2 * h + 1, 2 * w - 1]), dims: [2 * h + 1, 2 * w - 1] }, 'nearest');
    const ac = g.resize(up, { value: g.int64([h + 3, w + 2]), dims: [h + 3, w + 2] }, 'bilinear', true);
    const pooled = g.globalAvgPool(g.concat([ac, g.mul(ac, ac)], 1));
    return ctx.call(m.fc, g.relu(g.flatten(pooled, 1)));
  });
  torch.manualSeed(6);
  const net = new nn.Sequential(new nn.Conv2d(1, 8, 3, { padding: 1 }), new Head());
  report(t, 'user module', await parity(net, [[3, 1, 7, 9]], { height: 7, width: 9 }));
  assert.throws(() => registerOnnxExporter(Head, (_c, _m, x) => x), /already has an ONNX exporter/);
  net.dispose();
});

test('errors name the module class and its path', () => {
  class Mystery extends nn.Module {
    forward(x: Tensor): Tensor {
      return x.sigmoid();
    }
  }
  const net = new nn.Sequential(new nn.ReLU(), new nn.Sequential(new nn.Identity(), new Mystery()));
  assert.throws(
    () => exportOnnx(net, { inChannels: 3 }),
    (e: Error) => {
      assert.ok(e instanceof OnnxExportError);
      assert.match(e.message, /no exporter for module Mystery at '1\.1'/);
      assert.equal((e as OnnxExportError).modulePath, '1.1');
      return true;
    },
  );
  // A supernet still has its weighted choices.
  const space = new LatticeSpace({ layers: 2, C: 4, nodes: 2, scales: 2, numClasses: 3 });
  assert.throws(() => exportOnnx(space.module, { inChannels: 3 }), /InputChoice at 'output' is search choice 'output'.*derive/);
  const darts = new DartsSpace({ C: 4, layers: 3, nodes: 2, numClasses: 3 });
  assert.throws(() => exportOnnx(darts.module, { inChannels: 3 }), /MixedOp at 'cells\.0\.ops\.0' is search choice 'normal\.n0\.i0'/);
  // A cell with edge-normalisation choices (a user space built from search cells), even with every
  // choice frozen by derive: its exporters would sum every edge, so they refuse it.
  const cellSpace = new CustomSpace(
    () =>
      new Cell(searchCellParts({ C: 4, stride: 1, numInputs: 1, nodes: 3, preprocess: [], label: 'c', ops: ['skip_connect', 'avg_pool_3x3'], edgeNorm: true })),
    { name: 'cell-space' },
  );
  const frozen = cellSpace.derive(cellSpace.decode(), { release: true });
  assert.throws(() => exportOnnx(frozen, { inChannels: 4 }), /Cell at the root has edge-normalisation choices/);
  assert.throws(() => exportPython(frozen), /Cell at the root has edge-normalisation choices/);
  // BatchNorm without running statistics normalises with batch statistics.
  assert.throws(() => exportOnnx(new nn.BatchNorm2d(3, { trackRunningStats: false }), { inChannels: 3 }), /BatchNorm2d at the root has no running statistics/);
  assert.throws(() => exportOnnx(new nn.ReLU(), { inChannels: 3, height: 0 }), /height must be a positive integer/);
  space.dispose();
  darts.dispose();
});

test('user-declared space: frozen choices, including a zero operation (strided zeros)', async (t) => {
  torch.manualSeed(7);
  const space = new CustomSpace(
    () =>
      new nn.Sequential(
        new nn.Conv2d(3, 4, 3, { padding: 1 }),
        new MixedOp({ sep: new SepConv(4, 4, 3, 1, 1), skip: new nn.Identity(), none: new Zero(1) }, { label: 'b1' }),
        new MixedOp({ none: new Zero(2), reduce: new FactorizedReduce(4, 4) }, { label: 'b2' }),
      ),
    { name: 'tiny' },
  );
  const net = space.derive({ version: 1, space: 'tiny', choices: { b1: 'sep', b2: 'none' } }, { release: true });
  randomizeBatchNorm(net);
  const zeros = await parity(net, [[2, 3, 9, 7]]);
  report(t, 'custom space, zero op', zeros);
  space.dispose();
});

test('an exported graph whose output is its input still runs (Identity)', async () => {
  const sess = await session(exportOnnx(new nn.Identity(), { inChannels: 2 }));
  const out = await sess.run({ input: new ort.Tensor('float32', new Float32Array([1, 2, 3, 4]), [1, 2, 1, 2]) });
  assert.deepEqual(Array.from(out.logits.data as Float32Array), [1, 2, 3, 4]);
});

test('partial-channel connections (DARTS with reductions on odd sizes, lattice): derived networks', async (t) => {
  torch.manualSeed(6);
  const darts = new DartsSpace({ C: 8, layers: 3, nodes: 3, numClasses: 5, inChannels: 3, partialChannels: 2 });
  randomizeBatchNorm(darts.module);
  const dnet = darts.derive(darts.randomGenotype(1), { release: true });
  report(
    t,
    'darts partial',
    await parity(dnet, [
      [2, 3, 17, 19],
      [1, 3, 16, 16],
    ]),
  );
  const lattice = new LatticeSpace({ layers: 3, C: 8, nodes: 2, scales: 3, inChannels: 1, numClasses: 4, partialChannels: 4 });
  randomizeBatchNorm(lattice.module);
  const lnet = lattice.derive(lattice.randomGenotype(2), { release: true });
  report(t, 'lattice partial', await parity(lnet, [[2, 1, 37, 29]]));
  dnet.dispose();
  lnet.dispose();
});
