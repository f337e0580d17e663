/**
 * The two-input lattice (`lattice-adl`, Auto-DeepLab's cell level in our form): structure and
 * parameter counts against a hand count, the supernet under `fix` against the derived network
 * (inherited weights, eval and training mode), fresh networks, gumbel-hard running one cell per
 * layer, decoding, and the expected cost.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as torch from '../torch';
import { countMacs, countParameters, expectedCost, profileMacs } from './cost';
import { Cell } from './cell';
import { Genotype } from './genotype';
import { LatticeNetwork, PathInput, TwoInputNode } from './lattice';
import { assertDerivedIsFixed } from '../../test/helpers';
import { LatticeSpace } from './lattice-space';

torch.setNumThreads(1);
const small = { layers: 3, C: 2, nodes: 2, scales: 3, numClasses: 3, cellInputs: 2 as const };

test('two-input lattice: modules and parameter counts by hand', () => {
  torch.manualSeed(0);
  // Parameter-free operations: every weight is in the stem, the resamplers and the heads.
  const space = new LatticeSpace({ layers: 2, C: 4, nodes: 1, scales: 2, numClasses: 3, cellInputs: 2, ops: ['none', 'skip_connect', 'avg_pool_3x3'] });
  assert.equal(space.name, 'lattice-adl');
  const net = space.module;
  const node = (l: number, s: number) => net.node(l, s) as TwoInputNode;
  assert.deepEqual(
    net.nodes.entries().map(([k]) => k),
    ['l1s0', 'l1s1', 'l2s0', 'l2s1'],
  );
  // One cell per candidate input; the second input of a cell mixes the inputs of the node it extends.
  assert.deepEqual(
    [node(1, 0), node(1, 1), node(2, 0), node(2, 1)].map((n) => n.cells.length),
    [1, 1, 2, 2],
  );
  assert.deepEqual(node(2, 1).prev.at(0).sources, [[0, 0]]);
  assert.equal(node(2, 1).prev.at(0).choice?.label, 'l1s0', 'shares the row of the node it extends');
  assert.equal(node(1, 1).prev.at(0).choice, null, 'layer 1 extends the stem: no choice');
  assert.deepEqual(
    [...node(2, 1).resample, ...node(2, 1).prev.at(0).resample, ...node(2, 1).prev.at(1).resample].map((r) => r.mode),
    ['down', 'same', 'resize', 'resize'],
  );
  // stem: 3x3 3→8 + BN(8) + 3x3 8→4 + BN(4)
  const stem = 3 * 8 * 9 + 16 + 8 * 4 * 9 + 8;
  // resamplers (BN without affine: no parameters), node by node: l1s0 same 4→4 + second input same 4→4;
  // l1s1 down 3x3 4→8 + resize 4→8; l2s0 same 4→4, up 8→4, two second inputs from the stem 4→4;
  // l2s1 down 3x3 4→8, same 8→8, two second inputs resize 4→8.
  const resamplers = 16 + 16 + (288 + 32) + (16 + 32 + 16 + 16) + (288 + 64 + 32 + 32);
  // ASPP-lite (cIn, cMid): 1x1 + BN, dilated 3x3 + BN, pooling 1x1, projection 3cMid→cMid + BN, classifier cMid→3 + bias.
  const aspp = (cIn: number, cMid: number) => cIn * cMid + 2 * cMid + 9 * cIn * cMid + 2 * cMid + cIn * cMid + 3 * cMid * cMid + 2 * cMid + cMid * 3 + 3;
  assert.equal(countParameters(space), stem + resamplers + aspp(4, 4) + aspp(8, 8));
  assert.equal(countParameters(space), 2610);
  space.dispose();

  // Cell weights: with sep_conv_3x3 alone each edge has 2 (9C + C^2); 2 nodes of a two-input cell have 2 + 3 edges.
  const sep = new LatticeSpace({ layers: 2, C: 4, nodes: 2, scales: 2, numClasses: 3, cellInputs: 2, ops: ['sep_conv_3x3'] });
  const cells = sep.module.modules().filter((m): m is Cell => m instanceof Cell);
  const perCell = (C: number) => 5 * 2 * (9 * C + C * C);
  assert.deepEqual(
    cells.map((c) => c.C),
    [4, 8, 4, 4, 8, 8],
  );
  assert.equal(
    cells.reduce((a, c) => a + countParameters(c), 0),
    3 * perCell(4) + 3 * perCell(8),
  );
  assert.deepEqual(sep.namedArchParameters()[0][1].shape, [5, 1]);
  sep.dispose();
});

test('two-input lattice: shapes under every relaxation at odd sizes; gumbel-hard runs one cell per node it reaches', () => {
  torch.manualSeed(1);
  const space = new LatticeSpace({ ...small, layers: 4 });
  const x = torch.randn([2, 3, 37, 45]);
  for (const kind of ['softmax', 'gumbel', 'gumbel-hard'] as const) {
    space.setRelaxation(kind, 1);
    torch.tidy(() => assert.deepEqual(space.forward(x).shape, [2, 3, 37, 45], kind));
  }
  let cells = 0;
  const ran = new Set<string>();
  const orig = Cell.prototype.forward;
  const origNode = TwoInputNode.prototype.forward;
  Cell.prototype.forward = function (this: Cell, ...a: Parameters<typeof orig>) {
    cells++;
    return orig.apply(this, a);
  };
  TwoInputNode.prototype.forward = function (this: TwoInputNode, ...a: Parameters<typeof origNode>) {
    ran.add(`l${this.layer}s${this.scale}`);
    return origNode.apply(this, a);
  };
  try {
    space.setRelaxation('gumbel-hard', 1);
    torch.tidy(() => {
      space.forward(x).sum().backward();
    });
    // Every node that runs runs one cell (its sampled input's); every last-layer node runs (the
    // heads are summed), and each layer's nodes are reached back from them, one path each.
    assert.equal(cells, ran.size);
    for (const s of space.grid.scalesAt(4)) assert.ok(ran.has(`l4s${s}`));
    for (let l = 1; l <= 3; l++) {
      const n = [...ran].filter((k) => k.startsWith(`l${l}s`)).length;
      assert.ok(n >= 1 && n <= space.grid.scalesAt(4).length, `layer ${l}: ${n} nodes`);
    }
    const betas = space.namedArchParameters().find(([n]) => n === 'betas')![1];
    assert.ok(betas.grad!.abs().sum().item() > 0, 'betas get a gradient');
    cells = 0;
    space.setRelaxation('softmax');
    torch.tidy(() => {
      space.forward(x);
    });
    const all = space.grid.nodes().reduce((a, [l, s]) => a + space.grid.sources(l, s).length, 0);
    assert.equal(cells, all, 'softmax runs every cell');
  } finally {
    Cell.prototype.forward = orig;
    TwoInputNode.prototype.forward = origNode;
  }
  x.dispose();
  space.dispose();
});

test('two-input lattice: the derived network is the supernet under fix, with the same tensors', () => {
  for (const partialChannels of [1, 2]) {
    torch.manualSeed(2);
    const space = new LatticeSpace({ ...small, layers: 4, partialChannels });
    const x = torch.randn([2, 3, 45, 37]);
    torch.tidy(() => {
      space.forward(x);
    }); // move the running statistics
    const genotypes = [space.decode(), space.randomGenotype(1), space.randomGenotype(2), { ...space.randomGenotype(3), path: [1, 2, 1, 0] }];
    const nets = assertDerivedIsFixed(space, genotypes, x, `partial channels ${partialChannels}`);
    genotypes.forEach((g, k) => {
      const net = nets[k] as LatticeNetwork;
      assert.equal(net.nodes.entries().length, 4, 'one node per layer');
      const second = net.modules().filter((m): m is PathInput => m instanceof PathInput);
      // Each node's second input is the path's state two layers back (the stem for layers 1 and 2).
      const path = g.path!;
      assert.deepEqual(
        second.map((p) => p.sources[0]),
        path.map((_, i) => (i < 2 ? [0, 0] : [i - 1, path[i - 2]])),
      );
    });
    // After fix, leaving `fixed` sums every head again, and coming back runs the fixed head alone
    // (profileMacs switches to softmax and back, as a cost model does).
    const g = space.decode();
    space.fix(g);
    assert.equal(space.module.onlyHead, g.path![g.path!.length - 1]);
    space.setRelaxation('softmax');
    assert.equal(space.module.onlyHead, null);
    space.setRelaxation('fixed');
    assert.equal(space.module.onlyHead, g.path![g.path!.length - 1]);
    profileMacs(space, [3, 45, 37]);
    space.eval();
    const derived = space.derive(g, { release: false });
    derived.eval();
    torch.tidy(() => assert.equal(torch.maxAbsDiff(space.forward(x), derived.forward(x)), 0, 'still the derived network after profiling'));
    space.unfix();
    space.setRelaxation('fixed');
    assert.equal(space.module.onlyHead, null, 'argmax without fix sums every head');
    x.dispose();
    space.dispose();
  }
});

test('two-input lattice: release keeps only the derived network; genotype errors', () => {
  torch.manualSeed(3);
  const space = new LatticeSpace(small);
  const g = space.decode();
  assert.equal(g.space, 'lattice-adl');
  assert.equal(g.cells!.cell.length, 4, 'two-input cell of 2 nodes: 2 + 2 entries');
  assert.equal(g.settings!.cellInputs, undefined, 'the space name carries the form');
  assert.throws(() => space.fix({ ...g, cells: { cell: g.cells!.cell.slice(0, 3) } }), /3 entries, expected 4/);
  assert.throws(() => space.build({ ...g, cells: { cell: g.cells!.cell.slice(0, 3) } }), /does not fit a two-input cell/);
  assert.throws(() => space.fix({ ...g, space: 'lattice' }), /'lattice' does not fit this 'lattice-adl' space/);
  assert.throws(() => space.fix({ ...g, path: [0, 2, 2] }), /path\[1\]: scale 2 at layer 2 cannot follow scale 0/);
  assert.throws(() => new LatticeSpace({ ...small, connectivity: 'dense' }), /two-input cells \(cellInputs 2\) need connectivity 'short'/);
  const all = space.weightParameters();
  const net = space.derive(g, { release: true });
  const own = new Set(net.parameters().map((p) => p.handle));
  assert.ok(all.filter((p) => !own.has(p.handle)).every((p) => !p.isLive));
  net.dispose();
});

test('two-input lattice: Viterbi on hand-set betas; uniform betas decode to scale 0', () => {
  const space = new LatticeSpace({ ...small, layers: 4 });
  const betas = space.namedArchParameters().find(([n]) => n === 'betas')![1];
  betas.copy_(torch.zeros(betas.shape));
  assert.deepEqual(space.decode().path, [0, 0, 0, 0]);
  const { group } = space.rowOf('l1s1');
  const v = new Array(group.rows * group.width).fill(0);
  const prefer = (label: string, from: string) => {
    const { row } = space.rowOf(label);
    const names = space.choices().find((c) => c.label === label)!.optionNames;
    v[row * group.width + names.indexOf(from)] = 4;
  };
  prefer('l2s1', 'l1s1');
  prefer('l3s2', 'l2s1');
  prefer('l4s2', 'l3s2');
  betas.copy_(torch.tensor(v, { shape: [group.rows, group.width] }));
  assert.deepEqual(space.decode().path, [1, 1, 2, 2]);
  space.dispose();
});

test('two-input lattice: with peaked weights the expected cost is the mean of the networks ending at each scale', () => {
  torch.manualSeed(4);
  // One node per cell: both of its edges are kept, so peaked alphas are the derived cell.
  const space = new LatticeSpace({ layers: 3, C: 2, nodes: 1, scales: 2, numClasses: 3, cellInputs: 2 });
  for (const [name, g] of space.archGroups()) {
    const v = new Array(g.rows * g.width).fill(0);
    for (let r = 0; r < g.rows; r++) v[r * g.width + (name.startsWith('alphas') ? 1 + ((3 * r) % (g.width - 1)) : (3 * r) % g.counts[r])] = 40;
    g.param.copy_(torch.tensor(v, { shape: [g.rows, g.width] }));
  }
  const profile = profileMacs(space, [3, 33, 35]);
  const base = space.decode();
  // With peaked betas each last-layer node has one strongest chain back to the stem.
  const pathTo = (s: number): number[] => {
    const path = [s];
    for (let l = 3; l > 1; l--) {
      const label = space.grid.label(l, path[0]);
      const p = space.relaxationWeights().find(([n]) => n === 'betas')![1];
      const row = p.select(0, space.rowOf(label).row).toArray().slice(0, space.grid.sources(l, path[0]).length);
      path.unshift(space.grid.sources(l, path[0])[row.indexOf(Math.max(...row))][1]);
    }
    return path;
  };
  const macs = [0, 1].map((s) => countMacs(space.derive({ ...base, path: pathTo(s) }, { release: false }), [3, 33, 35]));
  const want = (macs[0] + macs[1]) / 2;
  torch.tidy(() => {
    const e = expectedCost(space, profile).item();
    assert.ok(Math.abs(e - want) / want < 1e-4, `${e} vs ${want}`);
  });
  space.dispose();
});

test('two-input lattice: the stem and cells train; a short search step changes alphas and betas', () => {
  torch.manualSeed(5);
  const space = new LatticeSpace(small);
  const wOpt = new torch.optim.SGD(space.weightParameters(), { lr: 0.05, momentum: 0.9 });
  const aOpt = new torch.optim.Adam(space.archParameters(), { lr: 0.01 });
  const before = space.archParameters().map((p) => p.clone());
  const x = torch.randn([2, 3, 32, 32]);
  const y = torch.randint(0, 3, [2, 32, 32]);
  for (let i = 0; i < 2; i++) {
    wOpt.zeroGrad();
    aOpt.zeroGrad();
    torch.tidy(() => torch.nn.functional.crossEntropy(space.forward(x), y).backward());
    wOpt.step();
    aOpt.step();
  }
  space.archParameters().forEach((p, i) => assert.ok(torch.maxAbsDiff(p, before[i]) > 1e-4));
  torch.dispose([x, y, ...before]);
  space.dispose();
});

// Genotypes of the form are plain JSON: the same object fixes, derives and builds.
const _typecheck: Genotype = { version: 1, space: 'lattice-adl', cells: { cell: [] }, path: [] };
void _typecheck;
