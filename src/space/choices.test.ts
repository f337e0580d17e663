import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as torch from '../torch';
import { InputChoice, LayerChoice, MixedOp } from './choices';
import { DartsSpace } from './darts';
import { LatticeSpace } from './lattice-space';
import { CustomSpace } from './space';

torch.setNumThreads(1);
const { nn } = torch;

/** A small user-declared network: a layer choice, a shared-label pair, and an input choice. */
class UserNet extends nn.Module {
  stem = this.registerModule('stem', new nn.Conv2d(3, 4, 3, { padding: 1 }));
  block = this.registerModule(
    'block',
    new LayerChoice(
      {
        conv: new nn.Conv2d(4, 4, 3, { padding: 1 }),
        pool: new nn.MaxPool2d(3, { stride: 1, padding: 1 }),
        skip: new nn.Identity(),
      },
      { label: 'block' },
    ),
  );
  twinA = this.registerModule('twinA', new MixedOp({ a: new nn.Conv2d(4, 4, 1), b: new nn.Identity() }, { label: 'twin' }));
  twinB = this.registerModule('twinB', new MixedOp({ a: new nn.Conv2d(4, 4, 1), b: new nn.Identity() }, { label: 'twin' }));
  skip = this.registerModule('skip', new InputChoice(2, { label: 'skip' }));
  head = this.registerModule('head', new nn.Linear(4, 2));
  forward(x: torch.Tensor): torch.Tensor {
    const a = this.stem.forward(x);
    const b = this.twinB.forward(this.twinA.forward(this.block.forward(a)));
    return this.head.forward(this.skip.forward([a, () => b]).mean([2, 3]));
  }
}

test('a user space binds labelled choices; architecture parameters stay out of the weights', () => {
  torch.manualSeed(0);
  const space = new CustomSpace(() => new UserNet(), { name: 'user' });
  assert.deepEqual(
    space.namedArchParameters().map(([n, p]) => [n, p.shape]),
    [
      ['alphas.block', [1, 3]],
      ['alphas.twin', [1, 2]],
      ['betas.skip', [1, 2]],
    ],
  );
  const arch = new Set(space.archParameters().map((p) => p.handle));
  assert.ok(space.weightParameters().every((p) => !arch.has(p.handle)));
  assert.equal(space.weightParameters().length, space.module.parameters().length);
  assert.ok(space.namedWeightParameters().some(([n]) => n === 'block.conv.weight'));
  assert.throws(() => new InputChoice(2, { label: '' }), /label is required/);
  assert.throws(() => new MixedOp({}, { label: 'x' }), /no candidates/);
  const loose = new MixedOp({ a: new nn.Identity() }, { label: 'loose' });
  assert.throws(() => torch.tidy(() => loose.forward(torch.ones([1]))), /not bound to a search space/);
  space.dispose();
});

test('relaxation weights sum to one; gumbel-hard is one-hot; fixed runs the choice', () => {
  torch.manualSeed(1);
  const space = new DartsSpace({ C: 4, layers: 3, nodes: 2, numClasses: 3 });
  for (const kind of ['softmax', 'gumbel', 'gumbel-hard'] as const) {
    torch.tidy(() => {
      space.setRelaxation(kind, 0.5);
      space.resample();
      for (const [name, w] of space.sampledWeights()) {
        const sums = w!.sum(-1).toArray();
        for (const s of sums) assert.ok(Math.abs(s - 1) < 1e-5, `${kind} ${name}: row sums to ${s}`);
        if (kind === 'gumbel-hard') {
          const v = w!.toArray();
          assert.equal(v.filter((x) => Math.abs(x - 1) < 1e-6).length, w!.shape[0]);
          assert.equal(v.filter((x) => Math.abs(x) < 1e-6).length, w!.shape[0] * (w!.shape[1] - 1));
        }
      }
      for (const [, p] of space.relaxationWeights()) for (const s of p.sum(-1).toArray()) assert.ok(Math.abs(s - 1) < 1e-5);
    });
  }
  space.setRelaxation('fixed');
  space.resample();
  assert.deepEqual(
    space.sampledWeights().map(([, w]) => w),
    [null, null],
  );
  assert.throws(() => space.setRelaxation('hard' as never), /unknown kind 'hard'/);
  assert.throws(() => space.setTemperature(0), /temperature must be > 0/);
  space.dispose();
});

/** Counts, per mixed operation, the forward calls of its candidates (cleared by the caller). */
function countCandidateCalls(mixed: MixedOp[]): Map<MixedOp, number> {
  const calls = new Map<MixedOp, number>();
  for (const m of mixed) {
    for (const name of m.names) {
      const op = m.candidate(name)!;
      const orig = op.forward.bind(op);
      op.forward = (...a: unknown[]) => {
        calls.set(m, (calls.get(m) ?? 0) + 1);
        return orig(...a);
      };
    }
  }
  return calls;
}

test('gumbel-hard runs exactly one operation per edge and its gradient reaches the alphas', () => {
  torch.manualSeed(2);
  const space = new DartsSpace({ C: 4, layers: 2, nodes: 3, numClasses: 3 });
  const mixed = space.choices().filter((c): c is MixedOp => c instanceof MixedOp);
  assert.equal(mixed.length, 2 * 9);
  const calls = countCandidateCalls(mixed);
  space.setRelaxation('gumbel-hard', 1);
  torch.tidy(() => {
    const x = torch.randn([2, 3, 7, 9]);
    space.forward(x).square().sum().backward();
  });
  for (const m of mixed) assert.equal(calls.get(m), 1, `edge ${m.label}`);
  for (const [name, a] of space.namedArchParameters()) {
    const g = a.grad;
    assert.ok(g, `${name} has a gradient`);
    assert.ok(g!.abs().sum().item() > 0, `${name} gradient is not zero`);
    g!.dispose();
  }
  // softmax runs every non-zero operation: 7 per edge.
  calls.clear();
  space.setRelaxation('softmax');
  torch.tidy(() => {
    space.forward(torch.randn([1, 3, 7, 9]));
  });
  for (const m of mixed) assert.equal(calls.get(m), 7);
  space.dispose();
});

test('temperature: a low temperature makes the gumbel sample nearly one-hot', () => {
  torch.manualSeed(3);
  const space = new DartsSpace({ C: 4, layers: 1, nodes: 2, numClasses: 3 });
  torch.tidy(() => {
    space.setRelaxation('gumbel', 1e-3);
    space.resample();
    const w = space.sampledWeights()[0][1]!;
    for (const m of w.amax(-1).toArray()) assert.ok(m > 0.999);
    space.setRelaxation('gumbel', 100);
    space.resample();
    const w2 = space.sampledWeights()[0][1]!;
    for (const m of w2.amax(-1).toArray()) assert.ok(m < 0.2);
  });
  space.dispose();
});

test('user space: decode, fix, derive (a copy, or in place) and build by label', () => {
  torch.manualSeed(4);
  const space = new CustomSpace(() => new UserNet(), { name: 'user' });
  const [block, twin, skip] = space.archParameters();
  block.copy_(torch.tensor([[0.1, 2, 0.3]]));
  twin.copy_(torch.tensor([[1, 0]]));
  skip.copy_(torch.tensor([[0, 1]]));
  const g = space.decode();
  assert.deepEqual(g, { version: 1, space: 'user', choices: { block: 'pool', twin: 'a', skip: [1] } });
  const x = torch.randn([2, 3, 5, 6]);
  space.eval();
  space.fix(g);
  const a = torch.tidy(() => space.forward(x));
  const built = space.build(g);
  assert.equal(built.getModule('block')!.getModule('conv'), undefined);
  assert.deepEqual((built.forward(x) as torch.Tensor).shape, [2, 2]);
  const copy = space.derive(g, { release: false }); // a second tree on the supernet's tensors (src/space/custom.test.ts)
  assert.equal(
    torch.maxAbsDiff(
      a,
      torch.tidy(() => copy.forward(x) as torch.Tensor),
    ),
    0,
  );
  const convW = (space.module.getModule('block')!.getModule('conv') as torch.nn.Conv2d).weight;
  const derived = space.derive(g, { release: true });
  assert.equal(convW.isLive, false);
  const b = torch.tidy(() => derived.forward(x) as torch.Tensor);
  assert.equal(torch.maxAbsDiff(a, b), 0);
  assert.throws(
    () => space.fix({ version: 1, space: 'user', choices: { block: 'conv5', twin: 'a', skip: [0] } }),
    /block: "conv5" is not one of conv, pool, skip/,
  );
  assert.throws(() => space.fix({ version: 1, space: 'user', choices: { block: 'pool', twin: 'a' } }), /missing label 'skip'/);
  torch.dispose([a, b, x]);
  built.dispose();
  space.dispose();
});

test('eval mode: gumbel and gumbel-hard use softmax(alpha), so the supernet output is deterministic', () => {
  torch.manualSeed(7);
  const spaces = [new DartsSpace({ C: 4, layers: 3, nodes: 2, numClasses: 3 }), new LatticeSpace({ layers: 3, C: 2, nodes: 2, numClasses: 3 })];
  for (const space of spaces) {
    const x = torch.randn([2, 3, 16, 16]);
    torch.tidy(() => {
      space.forward(x);
    }); // move the running statistics
    torch.noGrad(() => {
      for (const p of space.archParameters()) p.copy_(torch.randn(p.shape));
    }); // far from uniform
    space.eval();
    for (const kind of ['gumbel', 'gumbel-hard'] as const) {
      space.setRelaxation('softmax', 1);
      const ref = torch.tidy(() => space.forward(x));
      space.setRelaxation(kind, 0.5);
      const before = torch.memory().numTensors;
      const [a, b] = [torch.tidy(() => space.forward(x)), torch.tidy(() => space.forward(x))];
      assert.equal(torch.maxAbsDiff(a, b), 0, `${space.name} ${kind}: two eval passes agree`);
      assert.ok(torch.maxAbsDiff(a, ref) < 1e-6, `${space.name} ${kind}: eval output is the softmax relaxation's`);
      torch.tidy(() => {
        for (const [n, w] of space.sampledWeights()) {
          const p = space.relaxationWeights().find(([m]) => m === n)![1];
          assert.ok(torch.maxAbsDiff(w!, p) < 1e-7, `${space.name} ${kind}: ${n} weights are softmax(alpha)`);
        }
      });
      torch.dispose([a, b, ref]);
      assert.equal(torch.memory().numTensors, before - 1, `${space.name} ${kind}: no leak`);
      // Training mode still samples: two passes differ (BN uses batch statistics, deterministic here).
      space.train();
      const [c, d] = [torch.tidy(() => space.forward(x)), torch.tidy(() => space.forward(x))];
      assert.ok(torch.maxAbsDiff(c, d) > 1e-4, `${space.name} ${kind}: training passes sample`);
      torch.dispose([c, d]);
      space.eval();
    }
    // fixed is unchanged in eval mode: only the chosen options run.
    space.setRelaxation('fixed');
    torch.tidy(() =>
      assert.equal(
        space.sampledWeights().every(([, w]) => w === null),
        true,
      ),
    );
    x.dispose();
    space.dispose();
  }
});

test('normalized mixtures: divided by the L2 norm of the weights of the options that run', () => {
  const { Zero } = require('./ops') as typeof import('./ops');
  class Net extends nn.Module {
    op = this.registerModule('op', new MixedOp({ none: new Zero(1), a: new nn.Identity(), b: new nn.Identity() }, { label: 'op' }));
    pick = this.registerModule('pick', new InputChoice(2, { label: 'pick' }));
    forward(x: torch.Tensor): torch.Tensor {
      return this.pick.forward([this.op.forward(x), x.mul(3)]);
    }
  }
  const space = new CustomSpace(() => new Net());
  torch.noGrad(() => {
    space.rowOf('op').group.param.copy_(torch.tensor([[0, Math.log(2), 0]])); // softmax 1/4, 1/2, 1/4
    space.rowOf('pick').group.param.copy_(torch.tensor([[0, 0]])); // 1/2, 1/2
  });
  const x = torch.ones([1, 1, 2, 2]);
  const out = (normalize: boolean) => {
    space.setNormalization(normalize);
    return torch.tidy(() => space.forward(x).toArray()[0]);
  };
  // plain DARTS: op = (1/2 + 1/4) x = 0.75; pick = (0.75 + 3) / 2
  assert.ok(Math.abs(out(false) - (0.75 + 3) / 2) < 1e-6);
  // normalized: op = 0.75 / sqrt(1/4 + 1/16) (the zero option is left out); pick = (op + 3) / 2 / sqrt(1/2)
  const op = 0.75 / Math.sqrt(0.25 + 0.0625);
  assert.ok(Math.abs(out(true) - (op + 3) / 2 / Math.sqrt(0.5)) < 1e-5, `${out(true)}`);
  // a one-hot choice is unchanged by the normalization
  torch.noGrad(() => space.rowOf('op').group.param.copy_(torch.tensor([[0, 50, 0]])));
  torch.noGrad(() => space.rowOf('pick').group.param.copy_(torch.tensor([[50, 0]])));
  assert.ok(Math.abs(out(true) - out(false)) < 1e-5);
  space.dispose();
});

test('path sampling runs k options per edge in training (all in eval), drawn as the relaxation weights say', () => {
  torch.manualSeed(5);
  const space = new DartsSpace({ C: 4, layers: 2, nodes: 2, numClasses: 3 });
  const mixed = space.choices().filter((c): c is MixedOp => c instanceof MixedOp);
  const calls = countCandidateCalls(mixed);
  space.setRelaxation('softmax', 1);
  for (const k of [1, 2]) {
    space.setPathSampling(k);
    calls.clear();
    torch.tidy(() =>
      space
        .forward(torch.randn([2, 3, 7, 9]))
        .square()
        .sum()
        .backward(),
    );
    // k options drawn per edge; a drawn 'none' adds nothing and is not run
    for (const m of mixed) assert.ok((calls.get(m) ?? 0) <= k, `edge ${m.label}: ${calls.get(m)} > ${k}`);
    const ran = [...calls.values()].reduce((a, b) => a + b, 0);
    assert.ok(ran >= mixed.length * k * 0.6, `most edges ran ${k} options (${ran})`);
    for (const [name, a] of space.namedArchParameters()) {
      assert.ok(a.grad && a.grad.abs().sum().item() > 0, `k=${k}: ${name} gets a gradient`);
      space.module.zeroGrad();
      a.grad = null;
    }
  }
  // in eval every option runs with the expected weights
  space.module.eval();
  calls.clear();
  torch.tidy(() => void space.forward(torch.randn([1, 3, 7, 9])));
  for (const m of mixed) assert.equal(calls.get(m), 7);
  space.module.train();
  // the draws follow p: one row with p = softmax([2, 0, 0, ...]), 4000 single draws
  space.setPathSampling(1);
  const [, group] = space.archGroups()[0];
  torch.noGrad(() => group.param.zero_().select(0, 0).select(0, 3).fill_(2));
  const p = group.probabilities().select(0, 0).toArray();
  const hits = new Array(group.width).fill(0);
  for (let i = 0; i < 4000; i++) {
    group.reset();
    hits[group.row(0).active[0]]++;
  }
  hits.forEach((h, i) => assert.ok(Math.abs(h / 4000 - p[i]) < 0.03, `option ${i}: ${h / 4000} vs p ${p[i].toFixed(3)}`));
  // two draws: weights renormalised over the pair
  space.setPathSampling(2);
  group.reset();
  const { weights, active } = group.row(0);
  assert.equal(active.length, 2);
  const w = weights!.map((t) => t.item());
  assert.ok(Math.abs(w[active[0]] + w[active[1]] - 1) < 1e-6);
  assert.ok(Math.abs(w[active[0]] / w[active[1]] - p[active[0]] / p[active[1]]) < 1e-4);
  assert.throws(() => space.setPathSampling(-1), /non-negative integer/);
  space.dispose();
});
