import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as torch from '../torch';
import { Rng } from '../data/rng';
import { Genotype } from './genotype';
import { ASPPLite, LatticeNode } from './lattice';
import { LatticeGrid, VITERBI_TIE } from './lattice-grid';
import { asppRate, asppRateAt, latticeFeatureSize, LatticeSpace } from './lattice-space';

torch.setNumThreads(1);
const small = { layers: 3, C: 2, nodes: 2, numClasses: 3 };

test('lattice topology: nodes, short and dense inputs', () => {
  const g = new LatticeGrid(4, 3, 'short');
  assert.deepEqual(g.scalesAt(0), [0]);
  assert.deepEqual(g.scalesAt(1), [0, 1]);
  assert.deepEqual(g.scalesAt(4), [0, 1, 2]);
  assert.equal(g.nodes().length, 2 + 3 + 3 + 3);
  assert.deepEqual(g.sources(1, 1), [[0, 0]]);
  assert.deepEqual(g.sources(3, 1), [
    [2, 0],
    [2, 1],
    [2, 2],
  ]);
  assert.deepEqual(g.sources(3, 2), [
    [2, 1],
    [2, 2],
  ]);
  const d = new LatticeGrid(4, 3, 'dense');
  assert.deepEqual(d.sources(3, 1), [
    [0, 0],
    [1, 0],
    [1, 1],
    [2, 0],
    [2, 1],
    [2, 2],
  ]);
});

test('lattice supernet, short and dense: shapes at 97x131 under every relaxation', () => {
  torch.manualSeed(0);
  for (const connectivity of ['short', 'dense'] as const) {
    const space = new LatticeSpace({ ...small, connectivity });
    const rows = 2 + 3 + 4 + 1; // nodes of layers 1..3, and the output
    assert.deepEqual(
      space.namedArchParameters().map(([n, p]) => [n, p.shape]),
      [
        ['alphas.cell', [3, 8]],
        ['betas', [rows, connectivity === 'short' ? 4 : 6]],
      ],
    );
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
      assert.deepEqual(
        p
          .select(0, row)
          .toArray()
          .slice(1)
          .every((v) => v === 0),
        true,
      );
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
  LatticeNode.prototype.forward = function (this: LatticeNode, ...a: Parameters<typeof orig>) {
    calls++;
    return orig.apply(this, a);
  };
  try {
    space.setRelaxation('gumbel-hard', 1);
    torch.tidy(() => {
      space
        .forward(torch.randn([1, 3, 33, 35]))
        .sum()
        .backward();
    });
    assert.equal(calls, 4);
    const g = space.archParameters()[1].grad!;
    assert.ok(g.abs().sum().item() > 0, 'betas get a gradient');
    calls = 0;
    space.setRelaxation('softmax');
    torch.tidy(() => {
      space.forward(torch.randn([1, 3, 33, 35]));
    });
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
  prefer(space, b, 'l1s1', ['l0s0']);
  prefer(space, b, 'l2s1', ['l1s1']);
  prefer(space, b, 'l3s1', ['l2s1']);
  prefer(space, b, 'l4s2', ['l3s1']);
  prefer(space, b, 'output', ['s2']);
  // A locally attractive but globally worse step: l4s0 strongly prefers l3s0, which nobody reaches well.
  prefer(space, b, 'l4s0', ['l3s0']);
  betas.copy_(torch.tensor(b));
  const a = alphas.toArray().map(() => 0);
  // Cell: node 0 <- input (sep_conv_5x5); node 1 <- input (max_pool), node 0 (dil_conv_3x3).
  a[5] = 2;
  a[8 + 1] = 2;
  a[16 + 6] = 3;
  alphas.copy_(torch.tensor(a, { shape: alphas.shape }));
  const g = space.decode();
  assert.deepEqual(g.path, [1, 1, 1, 2]);
  assert.deepEqual(g.cells, {
    cell: [
      ['sep_conv_5x5', 0],
      ['dil_conv_3x3', 1],
      ['max_pool_3x3', 0],
    ],
  });
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
  assert.deepEqual(dg.inputs, {
    l1s1: [[0, 0]],
    l2s2: [[1, 1]],
    l3s1: [
      [0, 0],
      [2, 2],
    ],
  });
  dense.dispose();
});

test('derived lattice = supernet with the fixed relaxation (short and dense); fresh build', () => {
  for (const connectivity of ['short', 'dense'] as const) {
    torch.manualSeed(2);
    const space = new LatticeSpace({ ...small, connectivity });
    const x = torch.randn([2, 3, 45, 37]);
    torch.tidy(() => {
      space.forward(x);
    }); // move the running statistics
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

test('Viterbi has no fan-in bias: uniform probabilities score every path 0, ties go to the finer scale', () => {
  const g = new LatticeGrid(4, 3, 'short');
  const paths = g.paths();
  // Hand count of the paths ending at scales 0, 1, 2, layer by layer: [1, 1, 0], [2, 2, 1], [4, 5, 3], [9, 12, 8].
  assert.equal(paths.length, 29);
  assert.equal(g.completions(0, 0), 29);
  assert.equal(g.completions(3, 2), 2);
  assert.equal(new Set(paths.map((p) => p.join())).size, 29);
  for (const p of paths) assert.doesNotThrow(() => g.fromPath(p));
  for (const f32 of [false, true]) {
    const u = (n: number) => (f32 ? Math.fround(1 / n) : 1 / n); // float32 softmax of equal logits is not exactly 1/n
    const probs = (l: number, s: number) => g.sources(l, s).map((_, i, a) => u(a.length));
    const out = [u(3), u(3), u(3)];
    for (const p of paths) assert.ok(Math.abs(g.pathScore(p, probs, out)) < VITERBI_TIE, `${p}: ${g.pathScore(p, probs, out)}`);
    assert.deepEqual(g.viterbi(probs, out), [0, 0, 0, 0], 'ties: the finer output scale, then the finer previous scale');
  }
  // Through the space: all-zero betas are uniform betas (the score without the fan-in factor decoded them to [1, 2, 3, 3] here).
  const space = new LatticeSpace({ ...small, layers: 4 });
  torch.noGrad(() => space.archParameters()[1].zero_());
  assert.deepEqual(space.decode().path, [0, 0, 0, 0]);
  space.dispose();
});

test('Viterbi returns the best path of a brute force over every valid path (random probabilities)', () => {
  const rng = new Rng(5);
  for (const [layers, scales] of [
    [4, 3],
    [5, 4],
    [3, 2],
  ] as const) {
    const g = new LatticeGrid(layers, scales, 'short');
    for (let trial = 0; trial < 20; trial++) {
      const norm = (v: number[]) => v.map((x) => x / v.reduce((a, b) => a + b, 0));
      const table = new Map(g.nodes().map(([l, s]) => [g.label(l, s), norm(g.sources(l, s).map(() => rng.float() ** 3 + 1e-3))]));
      const probs = (l: number, s: number) => table.get(g.label(l, s))!;
      const out = norm(g.scalesAt(layers).map(() => rng.float() ** 3 + 1e-3));
      const scored = g
        .paths()
        .map((p) => ({ p, v: g.pathScore(p, probs, out) }))
        .sort((a, b) => b.v - a.v);
      const best = g.viterbi(probs, out);
      assert.ok(Math.abs(g.pathScore(best, probs, out) - scored[0].v) < 1e-9, `${layers}x${scales} #${trial}: ${best} vs ${scored[0].p}`);
      if (scored[0].v - scored[1].v > 1e-6) assert.deepEqual(best, scored[0].p);
    }
  }
  // pathScore by hand: 2 layers, path [1, 1]; node (1,1) has one input (the stem), (2,1) two
  // ((1,0), (1,1): the second taken), and there are 3 output scales.
  const g = new LatticeGrid(2, 3, 'short');
  const probs = (l: number, s: number) => (l === 2 && s === 1 ? [0.25, 0.75] : g.sources(l, s).map((_, i, a) => 1 / a.length));
  assert.ok(Math.abs(g.pathScore([1, 1], probs, [0.2, 0.5, 0.3]) - (Math.log(0.75 * 2) + Math.log(0.5 * 3))) < 1e-12);
  assert.throws(() => g.pathScore([0, 2], probs, [0.2, 0.5, 0.3]), /cannot follow scale 0/);
});

test('ASPP rates fit the feature maps of the input size; the setting travels in the genotype', () => {
  const rates = (size: [number, number] | null) => [0, 1, 2, 3].map((s) => asppRateAt(s, size));
  // Feature-map sides: 64 -> 16, 8, 4, 2; 32 -> 8, 4, 2, 1; 256x512 -> 64, 32, 16, 8 (the smaller side).
  assert.deepEqual(
    [0, 1, 2, 3].map((s) => latticeFeatureSize(s, [64, 64])),
    [
      [16, 16],
      [8, 8],
      [4, 4],
      [2, 2],
    ],
  );
  assert.deepEqual(latticeFeatureSize(0, [97, 131]), [25, 33]);
  assert.deepEqual(rates([64, 64]), [7, 3, 1, 1]);
  assert.deepEqual(rates([32, 32]), [3, 1, 1, 1]);
  assert.deepEqual(rates([256, 512]), [12, 6, 3, 1]);
  assert.deepEqual(rates(null), [12, 6, 3, 1]);
  assert.deepEqual(rates(null), [0, 1, 2, 3].map(asppRate));
  assert.throws(() => new LatticeSpace({ ...small, inputSize: [32, 0] }), /inputSize must be \[H, W\] with positive integers/);
  const unset = new LatticeSpace({ ...small, layers: 1, inputSize: undefined });
  assert.equal(unset.settings.inputSize, null);
  unset.dispose();

  const dilations = (net: torch.nn.Module & { heads: { entries(): [string, torch.nn.Module][] } }) =>
    Object.fromEntries(net.heads.entries().map(([k, h]) => [k, ((h as ASPPLite).branch3.at(0) as torch.nn.Conv2d).dilation[0]]));
  torch.manualSeed(4);
  const space = new LatticeSpace({ ...small, scales: 4, inputSize: [32, 32] });
  assert.deepEqual(dilations(space.module), { s0: 3, s1: 1, s2: 1, s3: 1 });
  const g = space.decode();
  assert.deepEqual((g.settings as { inputSize: unknown }).inputSize, [32, 32]);
  const fresh = space.build({ ...g, path: [1, 2, 2] });
  assert.deepEqual(dilations(fresh), { s2: 1 });
  fresh.dispose();
  const at0 = space.build({ ...g, path: [0, 0, 0] });
  assert.deepEqual(dilations(at0), { s0: 3 });
  at0.dispose();
  // A genotype decoded before the setting existed (settings without inputSize) builds as it did.
  const { inputSize: _s, ...old } = g.settings as Record<string, unknown>;
  const legacy = space.build({ ...g, settings: old, path: [0, 0, 0] });
  assert.deepEqual(dilations(legacy), { s0: 12 });
  legacy.dispose();
  // Without settings, the space's own.
  const { settings: _x, ...bare } = g;
  const own = space.build({ ...bare, path: [0, 0, 0] });
  assert.deepEqual(dilations(own), { s0: 3 });
  own.dispose();
  assert.throws(() => space.build({ ...g, settings: { ...g.settings, inputSize: [32] } }), /settings.inputSize: expected \[H, W\]/);
  const big = space.build({ ...g, settings: { ...g.settings, inputSize: [256, 512] }, path: [0, 0, 0] });
  assert.deepEqual(dilations(big), { s0: 12 });
  big.dispose();
  torch.tidy(() => assert.deepEqual(space.forward(torch.randn([1, 3, 32, 32])).shape, [1, 3, 32, 32]));
  space.dispose();
});

/** State-dict key → shape. */
const keyShapes = (m: torch.nn.Module) => Object.fromEntries(Object.entries(m.stateDict()).map(([k, t]) => [k, t.shape]));

test("a fresh lattice network has the derived network's modules and state-dict keys (short and dense)", () => {
  for (const connectivity of ['short', 'dense'] as const) {
    torch.manualSeed(6);
    const space = new LatticeSpace({ ...small, connectivity, ops: ['none', 'max_pool_3x3', 'avg_pool_3x3', 'skip_connect', 'sep_conv_3x3', 'dil_conv_3x3'] });
    const genotypes = [space.decode(), space.randomGenotype(1), space.randomGenotype(2)];
    // One genotype with pooling, so that the BN after pooling is checked as well.
    genotypes.push({
      ...genotypes[0],
      cells: {
        cell: [
          ['max_pool_3x3', 0],
          ['avg_pool_3x3', 1],
          ['sep_conv_3x3', 0],
        ],
      },
    });
    for (const g of genotypes) {
      const derived = space.derive(g, { release: false });
      const fresh = space.build(g);
      const want = keyShapes(derived);
      assert.deepEqual(keyShapes(fresh), want, `${connectivity} ${JSON.stringify(g.cells)}`);
      // The search form: BN without affine parameters in cells and resamplers, BN after pooling;
      // the stem and the head keep their affine BN (the same in both).
      const bns = fresh.namedModules().filter(([, m]) => m instanceof torch.nn.BatchNorm2d) as [string, torch.nn.BatchNorm2d][];
      assert.ok(bns.filter(([n]) => n.startsWith('nodes.')).every(([, m]) => !m.affine));
      assert.ok(bns.filter(([n]) => !n.startsWith('nodes.')).every(([, m]) => m.affine));
      if (g === genotypes[3])
        assert.ok(
          Object.keys(want).some((k) => /\.cell\.ops\.0\.1\.running_mean$/.test(k)),
          'BN after max pooling',
        );
      assert.equal(derived.modules().length, fresh.modules().length);
      assert.deepEqual(
        derived.modules().map((m) => m.constructor.name),
        fresh.modules().map((m) => m.constructor.name),
      );
      fresh.dispose();
    }
    space.dispose();
  }
});
