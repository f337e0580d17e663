import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as torch from '../torch';
import { countMacs, countParameters, expectedCost, measureLatency, profileMacs } from './cost';
import { DartsSpace } from './darts';
import { LatticeSpace } from './lattice-space';

torch.setNumThreads(1);
const { nn } = torch;

class Tiny extends nn.Module {
  conv = this.registerModule('conv', new nn.Conv2d(3, 8, 3, { padding: 1 }));
  dw = this.registerModule('dw', new nn.Conv2d(8, 8, 3, { stride: 2, padding: 1, groups: 8 }));
  fc = this.registerModule('fc', new nn.Linear(8, 4));
  forward(x: torch.Tensor): torch.Tensor {
    return this.fc.forward(this.dw.forward(this.conv.forward(x)).mean([2, 3]));
  }
}

test('MACs and parameters of a small network by hand', () => {
  const net = new Tiny();
  // conv: 8 * 10 * 12 outputs * 3 * 9; depthwise stride 2: 8 * 5 * 6 * 9; linear 8 * 4.
  const profile = profileMacs(net, [3, 10, 12]);
  assert.equal(profile.of(net.conv), 8 * 10 * 12 * 27);
  assert.equal(profile.of(net.dw), 8 * 30 * 9);
  assert.equal(profile.total, 25920 + 2160 + 32);
  assert.equal(countMacs(net, [4, 3, 10, 12]), profile.total, 'per image whatever the batch');
  assert.equal(countParameters(net), 3 * 8 * 9 + 8 + 8 * 9 + 8 + 8 * 4 + 4);
  assert.ok(net.training, 'the training mode is restored');
  const lat = measureLatency(net, [1, 3, 10, 12], { warmup: 1, iters: 3 });
  assert.equal(lat.iters, 3);
  assert.ok(lat.medianMs > 0 && lat.minMs <= lat.medianMs);
  net.dispose();
});

test('expected cost: uniform alphas average the candidates; gradient reaches alphas', () => {
  torch.manualSeed(0);
  const space = new DartsSpace({ C: 4, layers: 3, nodes: 2, numClasses: 3 });
  assert.equal(countParameters(space), space.module.numParameters());
  for (const a of space.archParameters()) a.zero_();
  const profile = profileMacs(space, [3, 8, 8]);
  assert.equal(space.relaxation.kind, 'softmax');
  let inChoices = 0;
  for (const c of space.choices()) for (const [, m] of c.namedChildren()) inChoices += profile.of(m);
  const want = profile.total - inChoices + inChoices / 8;
  torch.tidy(() => {
    const e = expectedCost(space, profile);
    assert.ok(Math.abs(e.item() - want) / want < 1e-5, `${e.item()} vs ${want}`);
    e.backward();
  });
  for (const a of space.archParameters()) {
    const g = a.grad!;
    assert.ok(g.abs().sum().item() > 0);
    g.dispose();
  }
  space.dispose();
});

/** Peaks each row (40) on one option: a non-zero operation for alphas, any available input for betas. */
function peak(space: DartsSpace | LatticeSpace): void {
  for (const [name, g] of space.archGroups()) {
    const v = new Array(g.rows * g.width).fill(0);
    for (let r = 0; r < g.rows; r++) v[r * g.width + (name.startsWith('alphas') ? 1 + ((3 * r) % (g.width - 1)) : (3 * r) % g.counts[r])] = 40;
    g.param.copy_(torch.tensor(v, { shape: [g.rows, g.width] }));
  }
}

test('with peaked architecture weights the expected cost is the derived network cost', () => {
  torch.manualSeed(1);
  const darts = new DartsSpace({ C: 4, layers: 3, nodes: 1, numClasses: 3 }); // every edge is kept
  peak(darts);
  const dProfile = profileMacs(darts, [3, 8, 8]);
  const dWant = countMacs(darts.derive(darts.decode(), { release: false }), [3, 8, 8]);
  torch.tidy(() => assert.ok(Math.abs(expectedCost(darts, dProfile).item() - dWant) / dWant < 1e-4));
  darts.dispose();

  for (const connectivity of ['short', 'dense'] as const) {
    const space = new LatticeSpace({ layers: 3, C: 2, nodes: 2, numClasses: 3, connectivity, denseInputs: 1 });
    peak(space);
    const profile = profileMacs(space, [3, 33, 35]);
    const g = space.decode();
    const want = countMacs(space.derive(g, { release: false }), [3, 33, 35]);
    torch.tidy(() => {
      const e = expectedCost(space, profile).item();
      assert.ok(Math.abs(e - want) / want < 1e-4, `${connectivity}: ${e} vs ${want}`);
    });
    // The supernet costs more than any single path.
    assert.ok(profile.total > want);
    space.dispose();
  }
});
