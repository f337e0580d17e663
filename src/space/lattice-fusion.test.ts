/**
 * The fusion lattice (`lattice-fusion`, our form of DCNAS's densely connected space): every node
 * of every earlier layer is a candidate input at any scale, each resampled to the node's scale,
 * weighted, summed and fused by a 1x1 ReLU-Conv-BN before the cell. Checked: the candidate inputs
 * and parameter counts by hand, the supernet under `fix` against the derived network (inherited
 * weights), fresh networks, path sampling, and the expected cost.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as torch from '../torch';
import { countMacs, countParameters, expectedCost, profileMacs } from './cost';
import { LatticeNode } from './lattice';
import { LatticeGrid } from './lattice-grid';
import { LatticeSpace } from './lattice-space';
import { assertDerivedIsFixed } from '../../test/helpers';

torch.setNumThreads(1);

test('fusion lattice: every node of every earlier layer is a candidate input, at any scale', () => {
  const g = new LatticeGrid(4, 3, 'fusion');
  assert.deepEqual(g.sources(1, 1), [[0, 0]]);
  assert.deepEqual(g.sources(3, 0), [
    [0, 0],
    [1, 0],
    [1, 1],
    [2, 0],
    [2, 1],
    [2, 2],
  ]);
  // The dense lattice keeps neighbouring scales only.
  assert.deepEqual(new LatticeGrid(4, 3, 'dense').sources(3, 0), [
    [0, 0],
    [1, 0],
    [1, 1],
    [2, 0],
    [2, 1],
  ]);
});

test('fusion lattice: modules and parameter counts by hand', () => {
  torch.manualSeed(0);
  const space = new LatticeSpace({ layers: 2, C: 4, nodes: 1, scales: 2, numClasses: 3, connectivity: 'fusion', ops: ['none', 'skip_connect'] });
  assert.equal(space.name, 'lattice-fusion');
  const node = (l: number, s: number) => space.module.node(l, s) as LatticeNode;
  assert.deepEqual(
    [...node(2, 1).resample].map((r) => r.mode),
    ['down', 'down', 'same'],
  );
  const stem = 3 * 8 * 9 + 16 + 8 * 4 * 9 + 8;
  // Resamplers (BN without affine: no parameters): l1s0 same 4→4; l1s1 down 3x3 4→8;
  // l2s0 from l0s0, l1s0 (same 4→4), l1s1 (up 8→4); l2s1 from l0s0, l1s0 (down 4→8), l1s1 (same 8→8).
  const resamplers = 16 + 288 + (16 + 16 + 32) + (288 + 288 + 64);
  // One fusion 1x1 per node: C_s x C_s.
  const fuse = 16 + 64 + 16 + 64;
  const aspp = (cIn: number, cMid: number) => cIn * cMid + 2 * cMid + 9 * cIn * cMid + 2 * cMid + cIn * cMid + 3 * cMid * cMid + 2 * cMid + cMid * 3 + 3;
  assert.equal(countParameters(space), stem + resamplers + fuse + aspp(4, 4) + aspp(8, 8));
  space.dispose();
});

test('fusion lattice: a node two scales away is resized; derived network = supernet under fix, same tensors', () => {
  torch.manualSeed(2);
  const space = new LatticeSpace({ layers: 4, C: 2, nodes: 2, scales: 3, numClasses: 3, connectivity: 'fusion', denseInputs: 2 });
  assert.ok(space.module.nodes.entries().some(([, n]) => [...(n as LatticeNode).resample].map((r) => r.mode).includes('resize')));
  const x = torch.randn([2, 3, 45, 37]);
  torch.tidy(() => {
    space.forward(x);
  });
  const far = {
    ...space.randomGenotype(1),
    output: 0,
    inputs: {
      l4s0: [[3, 2] as [number, number], [2, 2] as [number, number]],
      l3s2: [[1, 1] as [number, number]],
      l2s2: [[0, 0] as [number, number]],
      l1s1: [[0, 0] as [number, number]],
    },
  };
  for (const net of assertDerivedIsFixed(space, [space.decode(), space.randomGenotype(1), space.randomGenotype(2), far], x)) {
    assert.ok(
      Object.keys(net.stateDict()).some((k) => /^nodes\.l\d+s\d+\.fuse\.op\.1\.weight$/.test(k)),
      'the fusion 1x1 is kept',
    );
  }
  // Path-level sampling (one option per choice in a training pass) still trains alphas and betas.
  space.train();
  space.setRelaxation('softmax'); // unfix() leaves the relaxation at `fixed`
  space.setPathSampling(1);
  torch.tidy(() => {
    space.forward(x).sum().backward();
  });
  assert.ok(space.archParameters().every((p) => p.grad && p.grad.abs().sum().item() > 0));
  x.dispose();
  space.dispose();
});

test('fusion lattice: with peaked weights the expected cost is the derived network cost', () => {
  torch.manualSeed(4);
  const space = new LatticeSpace({ layers: 3, C: 2, nodes: 2, scales: 3, numClasses: 3, connectivity: 'fusion', denseInputs: 1 });
  for (const [name, g] of space.archGroups()) {
    const v = new Array(g.rows * g.width).fill(0);
    for (let r = 0; r < g.rows; r++) v[r * g.width + (name.startsWith('alphas') ? 1 + ((3 * r) % (g.width - 1)) : (3 * r) % g.counts[r])] = 40;
    g.param.copy_(torch.tensor(v, { shape: [g.rows, g.width] }));
  }
  const profile = profileMacs(space, [3, 33, 35]);
  const want = countMacs(space.derive(space.decode(), { release: false }), [3, 33, 35]);
  torch.tidy(() => {
    const e = expectedCost(space, profile).item();
    assert.ok(Math.abs(e - want) / want < 1e-4, `${e} vs ${want}`);
  });
  space.dispose();
});
