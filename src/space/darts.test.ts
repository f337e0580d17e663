import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as torch from '../torch';
import { Cell, searchCellParts } from './cell';
import { DartsSpace, reductionLayers } from './darts';
import { fromDartsGenotype } from './genotype';
import { DARTS_PRIMITIVES, ReLUConvBN } from './ops';

torch.setNumThreads(1);

/** DARTS_V2 from the DARTS paper's repository (genotypes.py), as data. */
const DARTS_V2 = {
  normal: [
    ['sep_conv_3x3', 0],
    ['sep_conv_3x3', 1],
    ['sep_conv_3x3', 0],
    ['sep_conv_3x3', 1],
    ['sep_conv_3x3', 1],
    ['skip_connect', 0],
    ['skip_connect', 0],
    ['dil_conv_3x3', 2],
  ],
  normal_concat: [2, 3, 4, 5],
  reduce: [
    ['max_pool_3x3', 0],
    ['max_pool_3x3', 1],
    ['skip_connect', 2],
    ['max_pool_3x3', 1],
    ['max_pool_3x3', 0],
    ['skip_connect', 2],
    ['skip_connect', 2],
    ['max_pool_3x3', 1],
  ],
  reduce_concat: [2, 3, 4, 5],
};

test('DARTS supernet: shapes at odd sizes, reduction positions, parameter names', () => {
  assert.deepEqual(reductionLayers(8), [2, 5]);
  torch.manualSeed(0);
  const space = new DartsSpace({ C: 4, layers: 4, nodes: 3, numClasses: 7 });
  assert.deepEqual(
    space.namedArchParameters().map(([n, p]) => [n, p.shape]),
    [
      ['alphas.normal', [9, 8]],
      ['alphas.reduce', [9, 8]],
    ],
  );
  assert.deepEqual(
    [...space.module.cells].map((c) => c.stride),
    [1, 2, 2, 1],
  );
  assert.deepEqual(
    [...space.module.cells].map((c) => c.outChannels),
    [12, 24, 48, 48],
  );
  assert.ok(space.namedWeightParameters().some(([n]) => n === 'cells.0.ops.4.sep_conv_3x3.op.1.weight'));
  assert.ok(space.namedWeightParameters().some(([n]) => n === 'cells.2.preprocess0.conv_1.weight')); // FactorizedReduce after a reduction
  const y = torch.tidy(() => space.forward(torch.randn([2, 3, 9, 13])));
  assert.deepEqual(y.shape, [2, 7]);
  y.dispose();
  space.dispose();
});

test('forward inside tidy leaks no tensor (every relaxation, forward and backward)', () => {
  torch.manualSeed(1);
  const space = new DartsSpace({ C: 4, layers: 3, nodes: 2, numClasses: 3 });
  const x = torch.randn([2, 3, 8, 8]);
  for (const kind of ['softmax', 'gumbel', 'gumbel-hard', 'fixed'] as const) {
    space.setRelaxation(kind, 1);
    torch.tidy(() => {
      space.forward(x);
    }); // warm-up
    const before = torch.memory().numTensors;
    torch.tidy(() => {
      space.forward(x).sum().backward();
    });
    assert.equal(torch.memory().numTensors, before, kind);
  }
  x.dispose();
  space.dispose();
});

test('a small search cell has the hand-counted number of parameters', () => {
  // C = 2, one node, two inputs; preprocess 6 -> 2 (1x1, BN without affine): 12 + 12.
  // Each of the 2 edges: sep3 (18 + 4) * 2 = 44, sep5 (50 + 4) * 2 = 108, dil3 18 + 4, dil5 50 + 4: 228.
  const cell = new Cell(
    searchCellParts({
      C: 2,
      stride: 1,
      numInputs: 2,
      nodes: 1,
      label: 'normal',
      ops: [...DARTS_PRIMITIVES],
      preprocess: [new ReLUConvBN(6, 2, 1, 1, 0, false), new ReLUConvBN(6, 2, 1, 1, 0, false)],
    }),
  );
  assert.equal(cell.numParameters(), 24 + 2 * 228);
  cell.dispose();
});

test('DARTS decoding of hand-set alphas', () => {
  const space = new DartsSpace({ C: 4, layers: 3, nodes: 2, numClasses: 3 });
  // Columns: none, max, avg, skip, sep3, sep5, dil3, dil5. Edges: n0<-0, n0<-1, n1<-0, n1<-1, n1<-2.
  const z = [0, 0, 0, 0, 0, 0, 0, 0];
  const row = (k: number, v: number, none = 0) => z.map((_, i) => (i === k ? v : i === 0 ? none : 0));
  const normal = [row(4, 2), row(3, 1, 5), row(1, 4, 10), row(7, 3), row(2, 2.5)];
  // n1<-0 has the largest raw alpha (4) but 'none' takes most of its softmax weight, so it loses.
  const reduce = [row(5, 1), row(6, 2), row(3, 3), row(3, 1), row(4, 2)];
  space.archParameters()[0].copy_(torch.tensor(normal));
  space.archParameters()[1].copy_(torch.tensor(reduce));
  const g = space.decode();
  assert.deepEqual(g.cells, {
    normal: [
      ['sep_conv_3x3', 0],
      ['skip_connect', 1],
      ['dil_conv_5x5', 1],
      ['avg_pool_3x3', 2],
    ],
    reduce: [
      ['dil_conv_3x3', 1],
      ['sep_conv_5x5', 0],
      ['skip_connect', 0],
      ['sep_conv_3x3', 2],
    ],
  });
  assert.equal(g.space, 'darts');
  assert.equal((g.settings as { C: number }).C, 4);
  space.dispose();
});

test('derived network = supernet with the fixed relaxation; same tensors; pruned ones released', () => {
  torch.manualSeed(2);
  const space = new DartsSpace({ C: 4, layers: 3, nodes: 3, numClasses: 5 });
  const x = torch.randn([2, 3, 9, 11]);
  torch.tidy(() => {
    space.forward(x);
    space.forward(x.mul(2));
  }); // move the running statistics
  const g = space.decode();
  space.eval();
  space.fix(g);
  const ref = torch.tidy(() => space.forward(x));
  const kept = space.derive(g, { release: false });
  kept.eval();
  const y1 = torch.tidy(() => kept.forward(x));
  assert.ok(torch.maxAbsDiff(ref, y1) < 1e-5);
  const before = new Map(space.namedWeightParameters().map(([n, p]) => [p.handle, n]));
  const all = space.weightParameters();
  const net = space.derive(g, { release: true });
  net.eval();
  const y2 = torch.tidy(() => net.forward(x));
  assert.ok(torch.maxAbsDiff(ref, y2) < 1e-5);
  const own = net.parameters();
  const byHandle = new Map(all.map((p) => [p.handle, p]));
  for (const p of own) {
    assert.ok(before.has(p.handle), 'a derived parameter is a supernet parameter');
    assert.ok(torch.sameStorage(p, byHandle.get(p.handle)!));
  }
  const ownSet = new Set(own.map((p) => p.handle));
  const pruned = all.filter((p) => !ownSet.has(p.handle));
  assert.ok(pruned.length > 0);
  assert.ok(
    pruned.every((p) => !p.isLive),
    'pruned parameters are disposed',
  );
  assert.ok(own.every((p) => p.isLive));
  // Two kept operations per node, and the supernet's names without the op choice level.
  assert.equal([...net.cells][0].ops.length, 6);
  assert.ok(net.namedParameters().some(([n]) => n.startsWith('cells.0.preprocess0.op.1.')));
  torch.dispose([x, ref, y1, y2]);
  net.dispose();
});

test('a published DARTS genotype loads; fresh builds re-initialise', () => {
  torch.manualSeed(3);
  const space = new DartsSpace({ C: 4, layers: 3, nodes: 4, numClasses: 10 });
  const g = fromDartsGenotype(DARTS_V2);
  const fresh = space.build(g, { C: 6, layers: 5 });
  const y = torch.tidy(() => fresh.forward(torch.randn([2, 3, 16, 16])));
  assert.deepEqual(y.shape, [2, 10]);
  assert.equal(fresh.cells.length, 5);
  assert.equal([...fresh.cells][0].ops.length, 8);
  // The search BN form, as a derived network: BN without affine parameters, BN after pooling.
  assert.ok(!fresh.namedParameters().some(([n]) => n === 'cells.0.preprocess1.op.2.weight'));
  assert.ok(Object.keys(fresh.stateDict()).includes('cells.1.ops.0.1.running_mean')); // reduce: max_pool_3x3 then BN
  const sup = new Set(space.weightParameters().map((p) => p.handle));
  const again = space.build(g);
  assert.ok(again.parameters().every((p) => !sup.has(p.handle)));
  // The supernet can run it exactly too (fixed relaxation).
  space.fix(g);
  assert.deepEqual(torch.tidy(() => space.forward(torch.randn([1, 3, 8, 8]))).shape, [1, 10]);
  assert.throws(() => space.fix({ ...g, cells: { normal: g.cells!.normal } }), /cells\.reduce: missing/);
  assert.throws(() => space.derive({ ...g, concat: { normal: [2, 3] } }, { release: false }), /concatenates \[2,3,4,5\]/);
  assert.throws(() => space.fix({ version: 1, space: 'lattice', cells: g.cells }), /'lattice' does not fit this 'darts' space/);
  y.dispose();
  fresh.dispose();
  again.dispose();
  space.dispose();
});

test("a fresh DARTS network has the derived network's modules and state-dict keys", () => {
  torch.manualSeed(4);
  const space = new DartsSpace({ C: 4, layers: 3, nodes: 4, numClasses: 5 });
  const keyShapes = (m: torch.nn.Module) => Object.fromEntries(Object.entries(m.stateDict()).map(([k, t]) => [k, t.shape]));
  for (const g of [space.decode(), fromDartsGenotype(DARTS_V2), space.randomGenotype(1)]) {
    const derived = space.derive(g, { release: false });
    const fresh = space.build(g);
    assert.deepEqual(keyShapes(fresh), keyShapes(derived));
    assert.deepEqual(
      fresh.modules().map((m) => m.constructor.name),
      derived.modules().map((m) => m.constructor.name),
    );
    // Cells: BN without affine parameters; the stem keeps its affine BN (the same in both).
    const bns = fresh.namedModules().filter(([, m]) => m instanceof torch.nn.BatchNorm2d) as [string, torch.nn.BatchNorm2d][];
    assert.ok(bns.filter(([n]) => n.startsWith('cells.')).every(([, m]) => !m.affine));
    assert.deepEqual(
      bns.filter(([, m]) => m.affine).map(([n]) => n),
      ['stem.1'],
    );
    assert.ok(fresh.parameters().every((p) => !derived.parameters().some((q) => q.handle === p.handle)));
    const y = torch.tidy(() => fresh.forward(torch.randn([2, 3, 8, 8])));
    assert.deepEqual(y.shape, [2, 5]);
    y.dispose();
    fresh.dispose();
  }
  space.dispose();
});
