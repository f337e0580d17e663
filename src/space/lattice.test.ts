import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as torch from '../torch';
import { Genotype } from './genotype';
import { LatticeNode } from './lattice';
import { LatticeGrid } from './lattice-grid';
import { LatticeSpace } from './lattice-space';

torch.setNumThreads(1);
const small = { layers: 3, C: 2, nodes: 2, numClasses: 3 };

test('lattice topology: nodes, short and dense inputs', () => {
  const g = new LatticeGrid(4, 3, 'short');
  assert.deepEqual(g.scalesAt(0), [0]);
  assert.deepEqual(g.scalesAt(1), [0, 1]);
  assert.deepEqual(g.scalesAt(4), [0, 1, 2]);
  assert.equal(g.nodes().length, 2 + 3 + 3 + 3);
  assert.deepEqual(g.sources(1, 1), [[0, 0]]);
  assert.deepEqual(g.sources(3, 1), [[2, 0], [2, 1], [2, 2]]);
  assert.deepEqual(g.sources(3, 2), [[2, 1], [2, 2]]);
  const d = new LatticeGrid(4, 3, 'dense');
  assert.deepEqual(d.sources(3, 1), [[0, 0], [1, 0], [1, 1], [2, 0], [2, 1], [2, 2]]);
});

test('lattice supernet, short and dense: shapes at 97x131 under every relaxation', () => {
  torch.manualSeed(0);
  for (const connectivity of ['short', 'dense'] as const) {
    const space = new LatticeSpace({ ...small, connectivity });
    const rows = 2 + 3 + 4 + 1; // nodes of layers 1..3, and the output
    assert.deepEqual(space.namedArchParameters().map(([n, p]) => [n, p.shape]), [['alphas.cell', [3, 8]], ['betas', [rows, connectivity === 'short' ? 4 : 6]]]);
    assert.equal(space.name, connectivity === 'short' ? 'lattice' : 'lattice-dense');
    const x = torch.randn([1, 3, 97, 131]);
    for (const kind of ['softmax', 'gumbel', 'gumbel-hard', 'fixed'] as const) {
      space.setRelaxation(kind, 1);
      const before = torch.memory().numTensors;
      const shape = torch.tidy(() => space.forward(x).shape);
      assert.deepEqual(shape, [1, 3, 97, 131], `${connectivity} ${kind}`);
      assert.equal(torch.memory().numTensors, before, `${connectivity} ${kind}: no leak`);
    }
    // betas are zero where a node has fewer inputs than the widest one.
    torch.tidy(() => {
      const [, p] = space.relaxationWeights()[1];
      const row = space.rowOf('l1s1').row;
      assert.deepEqual(p.select(0, row).toArray().slice(1).every((v) => v === 0), true);
      for (const s of p.sum(-1).toArray()) assert.ok(Math.abs(s - 1) < 1e-5);
    });
    x.dispose();
    space.dispose();
  }
});

test('gumbel-hard evaluates one lattice node per layer (a single path)', () => {
  torch.manualSeed(1);
  const space = new LatticeSpace({ ...small, layers: 4 });
  let calls = 0;
  const orig = LatticeNode.prototype.forward;
  LatticeNode.prototype.forward = function (this: LatticeNode, ...a: Parameters<typeof orig>) { calls++; return orig.apply(this, a); };
  try {
    space.setRelaxation('gumbel-hard', 1);
    torch.tidy(() => { space.forward(torch.randn([1, 3, 33, 35])).sum().backward(); });
    assert.equal(calls, 4);
    const g = space.archParameters()[1].grad!;
    assert.ok(g.abs().sum().item() > 0, 'betas get a gradient');
    calls = 0;
    space.setRelaxation('softmax');
    torch.tidy(() => { space.forward(torch.randn([1, 3, 33, 35])); });
    assert.equal(calls, space.grid.nodes().length);
  } finally {
    LatticeNode.prototype.forward = orig;
  }
  space.dispose();
});

/** Sets row `label` of betas to a large value at the input named `from` (others 0). */
function prefer(space: LatticeSpace, betas: number[][], label: string, from: string[]): void {
  const { group, row } = space.rowOf(label);
  betas[row] = new Array(group.width).fill(0);
  const names = space.choices().find((c) => c.label === label)!.optionNames;
  for (const f of from) betas[row][names.indexOf(f)] = 3;
}

test('network-level decoding: Viterbi (short) and strongest inputs (dense) on hand-set betas', () => {
  const space = new LatticeSpace({ ...small, layers: 4 });
  const [alphas, betas] = space.archParameters();
  const b = Array.from({ length: betas.shape[0] }, () => new Array(betas.shape[1]).fill(0));
  // Path 0 -> 1 -> 1 -> 2 is preferred at every step; ending at scale 2 is preferred by the output.
  prefer(space, b, 'l1s1', ['l0s0']); prefer(space, b, 'l2s1', ['l1s1']); prefer(space, b, 'l3s1', ['l2s1']);
  prefer(space, b, 'l4s2', ['l3s1']); prefer(space, b, 'output', ['s2']);
  // A locally attractive but globally worse step: l4s0 strongly prefers l3s0, which nobody reaches well.
  prefer(space, b, 'l4s0', ['l3s0']);
  betas.copy_(torch.tensor(b));
  const a = alphas.toArray().map(() => 0);
  // Cell: node 0 <- input (sep_conv_5x5); node 1 <- input (max_pool), node 0 (dil_conv_3x3).
  a[5] = 2; a[8 + 1] = 2; a[16 + 6] = 3;
  alphas.copy_(torch.tensor(a, { shape: alphas.shape }));
  const g = space.decode();
  assert.deepEqual(g.path, [1, 1, 1, 2]);
  assert.deepEqual(g.cells, { cell: [['sep_conv_5x5', 0], ['dil_conv_3x3', 1], ['max_pool_3x3', 0]] });
  space.dispose();

  const dense = new LatticeSpace({ ...small, layers: 3, connectivity: 'dense' });
  const db = Array.from({ length: dense.archParameters()[1].shape[0] }, () => new Array(dense.archParameters()[1].shape[1]).fill(0));
  prefer(dense, db, 'output', ['s1']);
  prefer(dense, db, 'l3s1', ['l0s0', 'l2s2']);
  prefer(dense, db, 'l2s2', ['l1s1']);
  prefer(dense, db, 'l1s1', ['l0s0']);
  dense.archParameters()[1].copy_(torch.tensor(db));
  const dg = dense.decode();
  assert.equal(dg.output, 1);
  // l2s2 has one candidate (l1s1): scale 2 does not exist at layer 1.
  assert.deepEqual(dg.inputs, { l1s1: [[0, 0]], l2s2: [[1, 1]], l3s1: [[0, 0], [2, 2]] });
  dense.dispose();
});

test('derived lattice = supernet with the fixed relaxation (short and dense); fresh build', () => {
  for (const connectivity of ['short', 'dense'] as const) {
    torch.manualSeed(2);
    const space = new LatticeSpace({ ...small, connectivity });
    const x = torch.randn([2, 3, 45, 37]);
    torch.tidy(() => { space.forward(x); }); // move the running statistics
    const g: Genotype = space.decode();
    space.eval();
    space.fix(g);
    const ref = torch.tidy(() => space.forward(x));
    const all = new Map(space.weightParameters().map((p) => [p.handle, p]));
    const net = space.derive(g, { release: true });
    net.eval();
    const y = torch.tidy(() => net.forward(x));
    assert.deepEqual(y.shape, [2, 3, 45, 37]);
    assert.ok(torch.maxAbsDiff(ref, y) < 1e-5, connectivity);
    for (const p of net.parameters()) assert.ok(all.has(p.handle) && torch.sameStorage(p, all.get(p.handle)!));
    const own = new Set(net.parameters().map((p) => p.handle));
    assert.ok([...all.values()].filter((p) => !own.has(p.handle)).every((p) => !p.isLive));
    if (connectivity === 'short') assert.equal(net.nodes.entries().length, 3);
    const fresh = space.build(g);
    assert.deepEqual(torch.tidy(() => fresh.forward(x)).shape, [2, 3, 45, 37]);
    assert.ok(fresh.parameters().every((p) => !all.has(p.handle)));
    torch.dispose([x, ref, y]);
    fresh.dispose();
    net.dispose();
  }
});

test('lattice genotype errors name the problem', () => {
  const space = new LatticeSpace(small);
  const g = space.decode();
  assert.throws(() => space.fix({ ...g, path: [0, 2, 2] }), /path\[1\]: scale 2 at layer 2 cannot follow scale 0/);
  assert.throws(() => space.fix({ ...g, path: [0, 1] }), /2 scales, expected one per layer \(3\)/);
  assert.throws(() => space.fix({ ...g, path: undefined }), /genotype.path: missing/);
  assert.throws(() => space.fix({ ...g, cells: { cell: [['sep_conv_3x3', 0]] } }), /1 entries, expected 3/);
  space.dispose();
  const dense = new LatticeSpace({ ...small, connectivity: 'dense' });
  const dg = dense.decode();
  assert.throws(() => dense.fix({ ...dg, output: 3, inputs: { l3s3: [[1, 1]] } }), /\[1,1\] is not a candidate input of l3s3/);
  assert.throws(() => dense.fix({ ...dg, output: 1, inputs: { l3s1: [[0, 0]], l2s0: [[1, 0]] } }), /inputs.l2s0: not a node used by the output/);
  assert.throws(() => dense.fix({ ...dg, output: 1, inputs: { l3s1: [[2, 1]] } }), /node 'l2s1' is used but has no entry/);
  dense.dispose();
});
