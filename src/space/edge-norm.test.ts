/**
 * Edge normalisation (PC-DARTS): each cell node weights its incoming edges by a softmax of its own
 * (`edges.<cell>`), and decoding ranks edges by edge weight times operation weight.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as torch from '../torch';
import { Cell, searchCellParts } from './cell';
import { MixedOp } from './choices';
import { DartsSpace } from './darts';
import { decodeCell } from './genotype';
import { LatticeSpace } from './lattice-space';
import { CustomSpace } from './space';

torch.setNumThreads(1);

const softmax = (v: number[]) => {
  const m = Math.max(...v);
  const e = v.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
};

test('a node weights its edges by softmax(edge weights), each edge the softmax(alpha) mixture of its operations', () => {
  torch.manualSeed(0);
  const ops = ['skip_connect', 'avg_pool_3x3', 'sep_conv_3x3'];
  const space = new CustomSpace(
    () => new Cell(searchCellParts({ C: 4, stride: 1, numInputs: 1, nodes: 3, preprocess: [], label: 'cell', ops, edgeNorm: true })),
    { name: 'one-cell' },
  );
  const groups = Object.fromEntries(space.namedArchParameters());
  assert.deepEqual(Object.keys(groups).sort(), ['alphas.cell', 'edges.cell']);
  // Nodes 0 and 1 keep every incoming edge (1 and 2 of them): nothing to weigh. Node 2 keeps 2 of 3.
  assert.deepEqual(groups['edges.cell'].shape, [1, 3]);
  const alphas = [
    [0.3, -0.2, 0.5],
    [1.0, 0.1, -0.4],
    [-0.6, 0.7, 0.2],
    [0.2, 0.4, -0.1],
    [-0.3, 0.0, 0.6],
    [0.5, -0.5, 0.1],
  ];
  const edges = [0.9, -0.5, 0.2];
  groups['alphas.cell'].copy_(torch.tensor(alphas.flat(), { shape: [6, 3] }));
  groups['edges.cell'].copy_(torch.tensor(edges, { shape: [1, 3] }));
  space.eval();
  const x = torch.randn([2, 4, 9, 11]);
  const cell = space.module as Cell;
  const mix = (e: number, input: torch.Tensor) => {
    const m = cell.ops.at(e) as MixedOp;
    const a = softmax(alphas[e]);
    return ops.map((name, k) => (m.candidate(name)!.forward(input) as torch.Tensor).mul(a[k])).reduce((s, t) => s.add(t));
  };
  torch.tidy(() => {
    const y = space.forward(x);
    const n0 = mix(0, x);
    const n1 = mix(1, x).add(mix(2, n0)); // both edges kept: summed
    const [w0, w1, w2] = softmax(edges);
    const n2 = mix(3, x).mul(w0).add(mix(4, n0).mul(w1)).add(mix(5, n1).mul(w2));
    assert.ok(torch.maxAbsDiff(y, torch.cat([n0, n1, n2], 1)) < 1e-6);
  });
  x.dispose();
  space.dispose();
});

test('decoding ranks edges by edge weight times operation weight', () => {
  const ops = ['none', 'skip_connect', 'sep_conv_3x3'];
  // One-input cell of 2 nodes: edges (n0, i0), (n1, i0), (n1, i1). Node 1 keeps 2 of 2, so use 3 nodes.
  // Node 2 has inputs 0, 1, 2 and keeps two: by operation weight alone inputs 0 and 1 win.
  const w = [
    [0, 0.5, 0.5],
    [0, 0.5, 0.5],
    [0, 0.5, 0.5],
    [0, 0.9, 0.1], // n2 i0
    [0, 0.1, 0.8], // n2 i1
    [0, 0.6, 0.4], // n2 i2
  ];
  assert.deepEqual(decodeCell(w, ops, 1, 3).slice(3), [
    ['skip_connect', 0],
    ['sep_conv_3x3', 1],
  ]);
  const e = [1, 0.5, 0.5, 0.2, 0.2, 0.6]; // 0.9·0.2 = 0.18, 0.8·0.2 = 0.16, 0.6·0.6 = 0.36
  assert.deepEqual(decodeCell(w, ops, 1, 3, e).slice(3), [
    ['skip_connect', 2],
    ['skip_connect', 0],
  ]);
});

test('edge normalisation in the DARTS and lattice spaces: decode, and derived network = supernet under fix', () => {
  const x32 = torch.randn([2, 3, 12, 12]);
  const x45 = torch.randn([2, 3, 45, 37]);
  const spaces: [string, DartsSpace | LatticeSpace, torch.Tensor][] = [
    ['darts', new DartsSpace({ C: 4, layers: 3, nodes: 3, numClasses: 3, edgeNorm: true }), x32],
    ['lattice', new LatticeSpace({ layers: 3, C: 2, nodes: 3, scales: 2, numClasses: 3, edgeNorm: true }), x45],
    ['lattice-adl', new LatticeSpace({ layers: 3, C: 2, nodes: 3, scales: 2, numClasses: 3, edgeNorm: true, cellInputs: 2 }), x45],
  ];
  for (const [name, space, x] of spaces) {
    torch.manualSeed(1);
    for (const [, p] of space.namedArchParameters()) p.copy_(torch.randn(p.shape));
    const edgeGroups = space.archGroups().filter(([n]) => n.startsWith('edges.'));
    assert.ok(edgeGroups.length >= 1, name);
    const g = space.decode();
    assert.equal(g.settings!.edgeNorm, true);
    // The decoded cells are the product rule's, recomputed here from the probabilities.
    for (const [group] of edgeGroups) {
      const label = group.slice('edges.'.length);
      const numInputs = name === 'lattice' ? 1 : 2;
      const a = Object.fromEntries(space.relaxationWeights())[`alphas.${label}`].toArray();
      const ed = Object.fromEntries(space.relaxationWeights())[group];
      const width = a.length / space.rowOf(`${label}.n0.i0`).group.rows;
      const rows = Array.from({ length: a.length / width }, (_, r) => a.slice(r * width, (r + 1) * width));
      const edgeW: number[] = [];
      for (let i = 0; i < 3; i++) {
        const all = numInputs + i <= 2; // a node keeping every edge has no row: weight 1
        for (let j = 0; j < numInputs + i; j++) edgeW.push(all ? 1 : ed.select(0, space.rowOf(`${label}.n${i}`).row).toArray()[j]);
      }
      const ops = 'settings' in space ? space.settings.ops : [];
      assert.deepEqual(g.cells![label], decodeCell(rows, ops, numInputs, 3, edgeW), `${name} ${label}`);
    }
    space.train();
    torch.tidy(() => {
      space.forward(x);
    });
    for (const mode of ['eval', 'train'] as const) {
      space.train(mode === 'train');
      space.fix(g);
      const ref = torch.tidy(() => space.forward(x));
      const net = space.derive(g, { release: false });
      net.train(mode === 'train');
      const y = torch.tidy(() => net.forward(x) as torch.Tensor);
      assert.ok(torch.maxAbsDiff(ref, y) < 1e-6, `${name} ${mode}`);
      torch.dispose([ref, y]);
      space.unfix();
    }
    space.dispose();
  }
  torch.dispose([x32, x45]);
});
