/**
 * Partial-channel connections: the computation by hand, parameter counts, and the derived network
 * (inherited weights) equal to the supernet under the fixed relaxation, on DARTS and the lattice.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as torch from '../torch';
import { MixedOp } from './choices';
import { countParameters } from './cost';
import { DartsSpace } from './darts';
import { LatticeSpace } from './lattice-space';
import { createSearchOp } from './ops';
import { PartialChannels, shuffleIndex } from './partial';

torch.setNumThreads(1);
const { nn } = torch;

test('shuffleIndex: k groups of C / k channels interleaved', () => {
  assert.deepEqual(shuffleIndex(6, 2), [0, 3, 1, 4, 2, 5]);
  assert.deepEqual(shuffleIndex(6, 3), [0, 2, 4, 1, 3, 5]);
  assert.deepEqual(shuffleIndex(4, 4), [0, 1, 2, 3]);
});

test('a partial-channel edge: the operation on the first C/k channels, the rest around it, shuffled', () => {
  torch.manualSeed(0);
  const conv = new nn.Conv2d(2, 2, 3, { padding: 1 });
  for (const stride of [1, 2]) {
    const edge = new PartialChannels(stride === 1 ? conv : new nn.Conv2d(2, 2, 3, { padding: 1, stride: 2 }), 8, 4, stride);
    const x = torch.randn([2, 8, 7, 9]);
    const y = edge.forward(x);
    // by hand: op(x[:, :2]), x[:, 2:] (max-pooled when strided), then reshape [N, 4, 2, H, W] -> transpose -> reshape
    const y1 = (edge.op.forward(x.narrow(1, 0, 2)) as torch.Tensor).toArray();
    const rest = stride === 2 ? torch.nn.functional.maxPool2d(x.narrow(1, 2, 6), 3, { stride: 2, padding: 1 }) : x.narrow(1, 2, 6);
    const joined = torch.cat([edge.op.forward(x.narrow(1, 0, 2)) as torch.Tensor, rest], 1);
    const [n, c, h, w] = joined.shape;
    const want = joined
      .reshape([n, 4, c / 4, h, w])
      .transpose(1, 2)
      .reshape([n, c, h, w]);
    assert.deepEqual(y.shape, [2, 8, stride === 1 ? 7 : 4, stride === 1 ? 9 : 5]);
    assert.equal(torch.maxAbsDiff(y, want), 0);
    assert.ok(y1.length > 0);
  }
  assert.throws(() => new PartialChannels(conv, 6, 4, 1), /6 channels do not split into 4 equal parts/);
  assert.deepEqual(Object.keys(new PartialChannels(conv, 8, 4, 1).stateDict()), ['op.weight', 'op.bias'], 'the shuffle index is not state');
});

test('parameters: a partial edge holds the candidates at C / k channels', () => {
  torch.manualSeed(1);
  const ops = ['sep_conv_3x3', 'dil_conv_5x5', 'skip_connect', 'max_pool_3x3'];
  const mixed = new MixedOp(
    ops.map((o) => [o, createSearchOp(o, 4, 1)] as [string, torch.nn.Module]),
    { label: 'e' },
  );
  const edge = new PartialChannels(mixed, 16, 4, 1);
  const byHand = ops.reduce((a, o) => a + countParameters(createSearchOp(o, 4, 1)), 0);
  assert.equal(countParameters(edge), byHand);
  // the whole lattice: fewer parameters with k = 2, the same outside the cells
  const full = new LatticeSpace({ layers: 2, C: 8, nodes: 2, scales: 2, inChannels: 1, numClasses: 3 });
  const half = new LatticeSpace({ layers: 2, C: 8, nodes: 2, scales: 2, inChannels: 1, numClasses: 3, partialChannels: 2 });
  assert.ok(countParameters(half) < countParameters(full));
  assert.throws(() => new LatticeSpace({ C: 6, partialChannels: 4 }), /partialChannels 4 must divide C \(6\)/);
  full.dispose();
  half.dispose();
});

for (const [name, make, shape] of [
  [
    'DARTS (reductions, odd sizes, dropped edges)',
    () => new DartsSpace({ C: 8, layers: 3, nodes: 3, inChannels: 1, numClasses: 3, partialChannels: 4 }),
    [2, 1, 9, 11],
  ],
  ['lattice', () => new LatticeSpace({ layers: 3, C: 8, nodes: 2, scales: 3, inChannels: 1, numClasses: 3, partialChannels: 2 }), [2, 1, 37, 29]],
] as const) {
  test(`${name}: the derived network with inherited weights computes the supernet under the fixed relaxation`, () => {
    torch.manualSeed(2);
    const space = make();
    const g = space.randomGenotype(3);
    assert.equal((g.settings as { partialChannels: number }).partialChannels, space.settings.partialChannels);
    space.setRelaxation('fixed');
    space.fix(g);
    space.module.eval();
    const derived = space.derive(g, { release: false });
    derived.eval();
    const x = torch.randn([...shape]);
    assert.equal(torch.maxAbsDiff(space.forward(x), derived.forward(x) as torch.Tensor), 0);
    const built = space.build(g);
    assert.deepEqual(Object.keys(built.stateDict()), Object.keys(derived.stateDict()), 'build has the derived network keys');
    assert.ok(Object.keys(derived.stateDict()).some((k) => /\.op\./.test(k)));
    space.dispose();
  });
}

test('without partial channels the cells hold plain MixedOps, and genotypes do not mention it', () => {
  const space = new DartsSpace({ C: 4, layers: 3, nodes: 2, inChannels: 1, numClasses: 3 });
  const cell = space.module.cells.at(0) as unknown as { links(): { module: torch.nn.Module }[] };
  assert.ok(cell.links().every((l) => l.module instanceof MixedOp));
  assert.equal((space.decode().settings as Record<string, unknown>).partialChannels, undefined);
  space.dispose();
});
