import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as torch from '../torch';
import { Rng } from '../data/rng';
import { InputChoice, LayerChoice } from './choices';
import { DartsSpace } from './darts';
import { Genotype, validateGenotype } from './genotype';
import { LatticeGrid } from './lattice-grid';
import { LatticeSpace } from './lattice-space';
import { DARTS_PRIMITIVES } from './ops';
import { randomCellGene, uniformSubset } from './random';
import { CustomSpace, SearchSpace } from './space';

torch.setNumThreads(1);
const { nn } = torch;

/** A user network with a zero candidate, a shared label, and an input choice keeping two of three. */
class UserNet extends nn.Module {
  block = this.registerModule('block', new LayerChoice({ none: new nn.Identity(), conv: new nn.Conv2d(3, 3, 1), skip: new nn.Identity() }, { label: 'block' }));
  twinA = this.registerModule('twinA', new LayerChoice({ a: new nn.Conv2d(3, 3, 1), b: new nn.Identity() }, { label: 'twin' }));
  twinB = this.registerModule('twinB', new LayerChoice({ a: new nn.Conv2d(3, 3, 1), b: new nn.Identity() }, { label: 'twin' }));
  pick = this.registerModule('pick', new InputChoice(3, { label: 'pick', nChosen: 2 }));
  forward(x: torch.Tensor): torch.Tensor {
    const y = this.twinB.forward(this.twinA.forward(this.block.forward(x)));
    return this.pick.forward([x, y, () => y.mul(2)]);
  }
}

const spaces = (): SearchSpace[] => [
  new LatticeSpace({ layers: 4, C: 2, nodes: 3, scales: 3, numClasses: 3 }),
  new LatticeSpace({ layers: 4, C: 2, nodes: 3, scales: 3, numClasses: 3, connectivity: 'dense', denseInputs: 2 }),
  new DartsSpace({ C: 4, layers: 3, nodes: 3, numClasses: 3 }),
  new CustomSpace(() => new UserNet(), { name: 'user' }),
];

test('random genotypes: deterministic for a seed, different across seeds, accepted by fix, derive and build', () => {
  torch.manualSeed(0);
  for (const space of spaces()) {
    assert.deepEqual(space.randomGenotype(11), space.randomGenotype(11), space.name);
    const seen = new Set<string>();
    for (let seed = 0; seed < 20; seed++) {
      const g: Genotype = space.randomGenotype(seed);
      seen.add(JSON.stringify(g));
      assert.equal(g.space, space.name);
      validateGenotype(JSON.parse(JSON.stringify(g)));
      space.fix(g);
      space.derive(g, { release: false }); // shares the supernet's tensors: nothing to release
      const net = space.build(g);
      if (seed < 2) {
        const y = torch.tidy(() => net.forward(torch.randn([1, 3, 12, 12])) as torch.Tensor);
        assert.ok(y.shape.length >= 2, space.name);
        y.dispose();
      }
      net.dispose();
    }
    // The user space has only 2 * 2 * 3 = 12 architectures; the others have thousands.
    assert.ok(seen.size >= (space instanceof CustomSpace ? 6 : 18), `${space.name}: ${seen.size} distinct genotypes of 20`);
    space.unfix();
    if (space instanceof CustomSpace) {
      const derived = space.derive(space.randomGenotype(3), { release: true });
      assert.deepEqual(torch.tidy(() => derived.forward(torch.randn([1, 3, 4, 4])) as torch.Tensor).shape, [1, 3, 4, 4]);
    }
    space.dispose();
  }
  assert.throws(() => randomCellGene(new Rng(1), ['none'], 1, 2), /no operation other than 'none'/);
});

test('random genotypes are uniform: operations, kept inputs, paths, output scales, choices', () => {
  const counts = new Map<string, number>();
  const add = (k: string) => counts.set(k, (counts.get(k) ?? 0) + 1);
  const within = (what: string, n: number, expected: number, tol = 0.15) =>
    assert.ok(Math.abs(n - expected) <= tol * expected, `${what}: ${n}, expected about ${expected}`);

  // Operations and inputs of a DARTS cell gene: 7 non-zero operations; node i keeps 2 of 2 + i inputs.
  const rng = new Rng(1);
  const draws = 2000;
  const pairs = new Map<string, number>();
  for (let d = 0; d < draws; d++) {
    const gene = randomCellGene(rng, [...DARTS_PRIMITIVES], 2, 4);
    assert.equal(gene.length, 8);
    for (const [op] of gene) add(op);
    const node3 = gene.slice(6).map(([, j]) => j);
    assert.ok(node3[0] < node3[1]);
    pairs.set(node3.join(), (pairs.get(node3.join()) ?? 0) + 1);
  }
  assert.equal(counts.has('none'), false);
  assert.equal(counts.size, 7);
  for (const [op, n] of counts) within(op, n, (draws * 8) / 7, 0.06);
  assert.equal(pairs.size, 10); // C(5, 2) input pairs for node 3
  for (const [p, n] of pairs) within(`inputs ${p}`, n, draws / 10);
  for (let k = 0; k <= 4; k++) assert.equal(uniformSubset(rng, 4, k).length, k);
  assert.throws(() => uniformSubset(rng, 2, 3), /cannot draw 3 of 2/);

  // Short lattice: every valid path equally likely.
  const short = new LatticeSpace({ layers: 4, C: 2, nodes: 2, scales: 3, numClasses: 3 });
  const paths = new LatticeGrid(4, 3, 'short').paths().map((p) => p.join());
  const pathCounts = new Map(paths.map((p) => [p, 0]));
  const nPaths = 100 * paths.length;
  for (let seed = 0; seed < nPaths; seed++) {
    const p = short.randomGenotype(seed).path!.join();
    assert.ok(pathCounts.has(p), p);
    pathCounts.set(p, pathCounts.get(p)! + 1);
  }
  for (const [p, n] of pathCounts) within(`path ${p}`, n, 100, 0.4);
  short.dispose();

  // Dense lattice: the output scale uniform over the last layer's scales.
  const dense = new LatticeSpace({ layers: 3, C: 2, nodes: 2, scales: 3, numClasses: 3, connectivity: 'dense' });
  const outs = [0, 0, 0];
  for (let seed = 0; seed < 600; seed++) outs[dense.randomGenotype(seed).output!]++;
  for (const n of outs) within('output scale', n, 200, 0.25);
  dense.dispose();

  // Custom space: 'none' excluded, the rest uniform; the input choice keeps 2 of 3, uniformly.
  const custom = new CustomSpace(() => new UserNet(), { name: 'user' });
  const blocks = new Map<string, number>();
  const picks = new Map<string, number>();
  for (let seed = 0; seed < 900; seed++) {
    const c = custom.randomGenotype(seed).choices!;
    blocks.set(c.block as string, (blocks.get(c.block as string) ?? 0) + 1);
    picks.set(String(c.pick), (picks.get(String(c.pick)) ?? 0) + 1);
  }
  assert.deepEqual([...blocks.keys()].sort(), ['conv', 'skip']);
  for (const [b, n] of blocks) within(b, n, 450);
  assert.deepEqual([...picks.keys()].sort(), ['0,1', '0,2', '1,2']);
  for (const [p, n] of picks) within(`pick ${p}`, n, 300);
  custom.dispose();
});
