/**
 * CustomSpace.derive without release: a second module tree from the factory whose tensors are the
 * supernet's own, so the discretization gap of a user's space is measured like a built-in one's.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as torch from '../torch';
import { InputChoice, LayerChoice } from './choices';
import { createOp } from './ops';
import { CustomSpace } from './space';

torch.setNumThreads(1);
const { nn } = torch;

/** Two searched blocks and an input choice between the stem's output and the blocks'. */
class TwoBlocks extends nn.Module {
  constructor() {
    super();
    this.registerModule('stem', new nn.Sequential(new nn.Conv2d(3, 4, 3, { padding: 1 }), new nn.BatchNorm2d(4)));
    for (const b of ['b0', 'b1'])
      this.registerModule(
        b,
        new LayerChoice({ sep: createOp('sep_conv_3x3', 4, 1, true), dil: createOp('dil_conv_3x3', 4, 1, true), skip: new nn.Identity() }, { label: b }),
      );
    this.registerModule('pick', new InputChoice(2, { label: 'pick' }));
  }
  forward(x: torch.Tensor): torch.Tensor {
    const s = this.getModule('stem')!.forward(x) as torch.Tensor;
    const y = this.getModule('b1')!.forward(this.getModule('b0')!.forward(s)) as torch.Tensor;
    return (this.getModule('pick') as InputChoice).forward([s, () => y]);
  }
}

const G = { version: 1, space: 'two', choices: { b0: 'dil', b1: 'sep', pick: [1] } };

test('derive without release: the supernet intact, the same tensors, the output of fix(genotype), the random state untouched', () => {
  torch.manualSeed(3);
  const space = new CustomSpace(() => new TwoBlocks(), { name: 'two' });
  const x = torch.randn([2, 3, 9, 11]);
  const before = new Map(space.module.namedParameters().map(([n, t]) => [n, t.handle]));

  const state = torch.getRngState();
  const derived = space.derive(G, { release: false });
  const next = torch.randn([4]).toArray();
  torch.setRngState(state);
  assert.deepEqual(torch.randn([4]).toArray(), next, "the factory's initialisation draws are undone");

  // Only the kept candidates, each parameter the supernet's own tensor.
  const names = derived.namedParameters().map(([n]) => n);
  assert.ok(names.some((n) => n.startsWith('b0.dil.')) && names.some((n) => n.startsWith('b1.sep.')));
  assert.ok(!names.some((n) => /^b0\.(sep|skip)|^b1\.(dil|skip)/.test(n)), names.join());
  for (const [n, t] of derived.namedParameters()) assert.equal(t.handle, before.get(n), n);
  for (const [n, t] of derived.namedBuffers()) assert.equal(t.handle, space.module.namedBuffers().find(([m]) => m === n)?.[1].handle, n);
  assert.equal(space.module.namedParameters().length, before.size, 'the supernet keeps every candidate');

  // In eval mode the derived network computes what the supernet computes fixed to the genotype.
  space.eval();
  derived.eval();
  const y = torch.noGrad(() => derived.forward(x) as torch.Tensor);
  space.fix(G);
  const z = torch.noGrad(() => space.forward(x));
  assert.ok(y.sub(z).abs().max().item() === 0, 'derived == fixed supernet');
  space.unfix();
  space.setRelaxation('softmax');
  // A weight change in the supernet shows in the derived network (shared, not copied).
  torch.noGrad(() => (space.module.getModule('stem')!.getModule('0') as torch.nn.Conv2d).weight.mul_(2));
  const y2 = torch.noGrad(() => derived.forward(x) as torch.Tensor);
  assert.ok(y2.sub(y).abs().max().item() > 1e-3);
  torch.dispose([x, y, z, y2, state]);
  space.dispose();
});

test('derive without release refuses a module that keeps its tensor in a field, and a factory that builds another tree', () => {
  class Cached extends nn.Module {
    readonly w: torch.Tensor;
    constructor() {
      super();
      this.w = this.registerParameter('w', torch.ones([2]));
      this.registerModule('c', new LayerChoice({ a: new nn.Identity(), b: new nn.ReLU() }, { label: 'c' }));
    }
    forward(x: torch.Tensor): torch.Tensor {
      return (this.getModule('c')!.forward(x) as torch.Tensor).mul(this.w);
    }
  }
  const cached = new CustomSpace(() => new Cached(), { name: 'cached' });
  assert.throws(
    () => cached.derive({ version: 1, space: 'cached', choices: { c: 'a' } }, { release: false }),
    /Cached at 'the root' keeps a parameter or buffer in its field 'w'.*getParameter/,
  );
  cached.dispose();

  let calls = 0;
  const growing = new CustomSpace(() => new nn.Sequential(new nn.Conv2d(1, 1 + calls++, 1), new LayerChoice({ a: new nn.Identity() }, { label: 'c' })), {
    name: 'growing',
  });
  assert.throws(
    () => growing.derive({ version: 1, space: 'growing', choices: { c: 'a' } }, { release: false }),
    /parameter '0\.weight' differs from the supernet's.*same module tree/,
  );
  growing.dispose();
});
