/**
 * SGD and Adam against the update rules written out in plain JavaScript, optimizer state
 * save/restore, and the learning-rate schedules against their closed forms.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import * as torch from '../index';
import type { Tensor } from '../index';
import { assertClose, tempDir } from '../../../test/helpers';

torch.setNumThreads(1);
const { optim } = torch;
const D = (data: number[]) => torch.tensor(data, { dtype: 'float64' });

/** The gradient of loss(p) = sum(c * p^2 / 2 + d * p) is c * p + d: it changes with p, like a real loss. */
function setGrad(p: Tensor, c: number[], d: number[]): void {
  torch.tidy(() => {
    p.grad = null;
    p.square()
      .mul(D(c))
      .div(2)
      .add(p.mul(D(d)))
      .sum()
      .backward();
  });
}
const gradOf = (p: number[], c: number[], d: number[]) => p.map((v, i) => c[i] * v + d[i]);

/** torch.optim.SGD's update, element by element. */
function sgdRef(
  p: number[],
  steps: number,
  c: number[],
  d: number[],
  o: { lr: number; momentum?: number; dampening?: number; weightDecay?: number; nesterov?: boolean; maximize?: boolean },
) {
  const mom = o.momentum ?? 0,
    damp = o.dampening ?? 0,
    wd = o.weightDecay ?? 0;
  let buf: number[] | null = null;
  p = [...p];
  for (let s = 0; s < steps; s++) {
    let g = gradOf(p, c, d);
    if (o.maximize) g = g.map((v) => -v);
    g = g.map((v, i) => v + wd * p[i]);
    if (mom !== 0) {
      buf = buf === null ? [...g] : buf.map((b, i) => mom * b + (1 - damp) * g[i]);
      g = o.nesterov ? g.map((v, i) => v + mom * buf![i]) : [...buf];
    }
    p = p.map((v, i) => v - o.lr * g[i]);
  }
  return p;
}

/** torch.optim.Adam's (decoupled: AdamW's) update, element by element. */
function adamRef(
  p: number[],
  steps: number,
  c: number[],
  d: number[],
  o: { lr: number; betas?: [number, number]; eps?: number; weightDecay?: number; decoupled?: boolean },
) {
  const [b1, b2] = o.betas ?? [0.9, 0.999];
  const eps = o.eps ?? 1e-8,
    wd = o.weightDecay ?? 0;
  p = [...p];
  let m = p.map(() => 0),
    v = p.map(() => 0);
  for (let t = 1; t <= steps; t++) {
    let g = gradOf(p, c, d);
    if (wd !== 0) {
      if (o.decoupled) p = p.map((x) => x * (1 - o.lr * wd));
      else g = g.map((x, i) => x + wd * p[i]);
    }
    m = m.map((x, i) => b1 * x + (1 - b1) * g[i]);
    v = v.map((x, i) => b2 * x + (1 - b2) * g[i] * g[i]);
    const bc1 = 1 - b1 ** t,
      bc2 = 1 - b2 ** t;
    p = p.map((x, i) => x - ((o.lr / bc1) * m[i]) / (Math.sqrt(v[i]) / Math.sqrt(bc2) + eps));
  }
  return p;
}

const P0 = [1.5, -2, 0.25];
const C = [1, 0.5, 2];
const Dv = [0.3, -0.1, 1];

function run(make: (p: Tensor) => { step(): void }, steps: number): number[] {
  return torch.tidy(() => {
    const p = D(P0).requiresGrad_();
    const opt = make(p);
    for (let s = 0; s < steps; s++) {
      setGrad(p, C, Dv);
      opt.step();
    }
    return p.toArray();
  });
}

test('SGD matches the reference update: plain, momentum, dampening, nesterov, weight decay, maximize', () => {
  const configs = [
    { lr: 0.1 },
    { lr: 0.1, momentum: 0.9 },
    { lr: 0.05, momentum: 0.9, dampening: 0.3 },
    { lr: 0.1, momentum: 0.9, nesterov: true },
    { lr: 0.1, momentum: 0.8, weightDecay: 0.01 },
    { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 3e-4 },
    { lr: 0.1, momentum: 0.5, maximize: true },
  ];
  for (const o of configs) {
    assertClose(
      run((p) => new optim.SGD([p], o), 4),
      sgdRef(P0, 4, C, Dv, o),
      1e-12,
      0,
      JSON.stringify(o),
    );
  }
});

test('Adam and AdamW match the reference update', () => {
  const configs = [
    { lr: 0.1 },
    { lr: 0.05, betas: [0.5, 0.999] as [number, number], weightDecay: 1e-3 },
    { lr: 0.05, weightDecay: 0.1, decoupled: true },
    { lr: 0.01, eps: 1e-3 },
  ];
  for (const o of configs) {
    assertClose(
      run((p) => new optim.Adam([p], o), 5),
      adamRef(P0, 5, C, Dv, o),
      1e-12,
      0,
      JSON.stringify(o),
    );
  }
  // The first Adam step moves every coordinate by about lr (m / sqrt(v) = sign(g)).
  const one = run((p) => new optim.Adam([p], { lr: 0.01 }), 1);
  assertClose(
    one.map((v, i) => Math.abs(v - P0[i])),
    [0.01, 0.01, 0.01],
    1e-9,
  );
});

test('optimizers: parameter groups, skipped parameters, zeroGrad, lr changes, argument checks', () => {
  torch.tidy(() => {
    const a = D([1]).requiresGrad_();
    const b = D([1]).requiresGrad_();
    const c = D([1]).requiresGrad_(); // never gets a gradient
    const opt = new optim.SGD([{ params: [a] }, { params: [b, c], lr: 0.5 }], { lr: 0.1 });
    a.mul(2).add(b.mul(3)).sum().backward();
    opt.step();
    assertClose(a, [1 - 0.1 * 2], 1e-12);
    assertClose(b, [1 - 0.5 * 3], 1e-12);
    assert.deepEqual(c.toArray(), [1]);
    assert.equal(opt.getLr(1), 0.5);
    opt.setLr(0.01);
    assert.deepEqual(
      opt.paramGroups.map((g) => g.options.lr),
      [0.01, 0.01],
    );
    opt.zeroGrad();
    assert.equal(a.grad, null);
    assert.throws(() => new optim.SGD([a], { lr: 0.1, nesterov: true }), /nesterov needs momentum > 0 and dampening 0/);
    assert.throws(() => new optim.SGD([], { lr: 0.1 }), /SGD: got an empty parameter list/);
    assert.throws(() => new optim.Adam([a], { lr: -1 }), /Adam: lr must be >= 0, got -1/);
  });
});

/** Runs `k` steps with `opt`, then restores its state into a fresh optimizer and compares the next step. */
function stateRoundTrip(kind: 'sgd' | 'adam', viaFile: boolean): void {
  torch.tidy(() => {
    const make = (p: Tensor) =>
      kind === 'sgd'
        ? new optim.SGD([p], { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-2 })
        : new optim.Adam([p], { lr: 0.05, betas: [0.5, 0.999], weightDecay: 1e-3 });
    const p1 = D(P0).requiresGrad_();
    const opt1 = make(p1);
    for (let s = 0; s < 3; s++) {
      setGrad(p1, C, Dv);
      opt1.step();
    }

    const start = p1.toArray();
    const p2 = D(start).requiresGrad_();
    const opt2 = make(p2);
    opt2.setLr(123); // overwritten by the state
    let sd = opt1.stateDict() as Parameters<typeof opt2.loadStateDict>[0];
    if (viaFile) {
      const file = path.join(tempDir(), `${kind}.pt`);
      torch.save(opt1.stateDict(), file);
      sd = torch.load(file);
    }
    opt2.loadStateDict(sd);
    assert.equal(opt2.getLr(), opt1.getLr());

    // Each takes one more step (opt1 first: a restored state must not alias opt1's tensors).
    setGrad(p1, C, Dv);
    opt1.step();
    setGrad(p2, C, Dv);
    opt2.step();
    const ref =
      kind === 'sgd'
        ? sgdRef(P0, 4, C, Dv, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-2 })
        : adamRef(P0, 4, C, Dv, { lr: 0.05, betas: [0.5, 0.999], weightDecay: 1e-3 });
    assertClose(p1, ref, 1e-12, 0, 'the original optimizer');
    assertClose(p2, ref, 1e-12, 0, 'the restored optimizer');
    // Without the state, the same step from the same point goes elsewhere (the state matters).
    const p3 = D(start).requiresGrad_();
    const opt3 = make(p3);
    setGrad(p3, C, Dv);
    opt3.step();
    assert.ok(Math.abs(p3.toArray()[0] - ref[0]) > 1e-3);
  });
}

test('SGD state dict restores the momentum buffers (in memory and through a file)', () => {
  stateRoundTrip('sgd', false);
  stateRoundTrip('sgd', true);
  torch.tidy(() => {
    const p = D([1, 2]).requiresGrad_();
    const opt = new optim.SGD([p], { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 });
    assert.deepEqual(opt.stateDict().state, {});
    setGrad(p, [1, 1], [0, 0]);
    opt.step();
    const sd = opt.stateDict();
    assert.deepEqual(Object.keys(sd.state), ['0']);
    assert.deepEqual(sd.param_groups, [{ lr: 0.1, momentum: 0.9, dampening: 0, weight_decay: 5e-4, nesterov: false, maximize: false, params: [0] }]);
  });
});

test('Adam state dict restores moments and step counts (in memory and through a file)', () => {
  stateRoundTrip('adam', false);
  stateRoundTrip('adam', true);
  torch.tidy(() => {
    const p = D([1, 2]).requiresGrad_();
    const opt = new optim.Adam([p], { lr: 0.1 });
    setGrad(p, [1, 1], [0, 0]);
    opt.step();
    opt.step();
    const s = opt.stateDict().state['0'];
    assert.equal(s.step, 2);
    assertClose(s.exp_avg as Tensor, [0.1 * 0.9 + 0.1, 0.2 * 0.9 + 0.2], 1e-12); // gradient [1, 2] both steps
    assert.throws(() => opt.loadStateDict({ state: {}, param_groups: [] }), /the state has 0 parameter groups, the optimizer 1/);
    // PyTorch's layout (step as a tensor, integer keys read as strings): the state is copied, the
    // step read as a number, and nothing else stays alive.
    const q = D([1, 2]).requiresGrad_();
    const fresh = new optim.Adam([q], { lr: 0.5 });
    const before = torch.memory().numTensors;
    const torchState = {
      state: { 0: { step: torch.tensor(4), exp_avg: D([0.1, 0.2]), exp_avg_sq: D([0.01, 0.04]) } },
      param_groups: [
        { lr: 0.1, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0, amsgrad: false, maximize: false, foreach: null, capturable: false, params: [0] },
      ],
    };
    const created = torch.memory().numTensors - before;
    fresh.loadStateDict(torchState);
    assert.equal(torch.memory().numTensors - before, created + 2); // the two moments
    const st = fresh.stateDict().state['0'];
    assert.equal(st.step, 4);
    assert.deepEqual((st.exp_avg as Tensor).toArray(), [0.1, 0.2]);
    assert.ok(!torch.sameStorage(st.exp_avg as Tensor, torchState.state[0].exp_avg));
    assert.equal(fresh.getLr(), 0.1);
  });
});

test('PolyLR follows base * (1 - t / T)^power and stays at 0 after T', () => {
  torch.tidy(() => {
    const p = D([1]).requiresGrad_();
    const q = D([1]).requiresGrad_();
    const opt = new optim.SGD([{ params: [p] }, { params: [q], lr: 0.5 }], { lr: 0.1 });
    const sched = new optim.PolyLR(opt, 10, 0.9);
    assert.deepEqual(sched.getLastLr(), [0.1, 0.5]);
    for (let t = 1; t <= 12; t++) {
      sched.step();
      const f = Math.pow(Math.max(0, 1 - Math.min(t, 10) / 10), 0.9);
      assertClose(sched.getLastLr(), [0.1 * f, 0.5 * f], 1e-15, 0, `t=${t}`);
    }
    assert.deepEqual(sched.getLastLr(), [0, 0]);
    assertClose(new optim.PolyLR(new optim.SGD([p], { lr: 1 }), 4, 2).getLastLr(), [1], 0);
    assert.throws(() => new optim.PolyLR(opt, 0), /PolyLR: totalSteps must be > 0, got 0/);
  });
});

test('CosineAnnealingLR follows etaMin + (base - etaMin)(1 + cos(pi t / T)) / 2; state dict resumes', () => {
  torch.tidy(() => {
    const p = D([1]).requiresGrad_();
    const opt = new optim.SGD([p], { lr: 0.025 });
    const etaMin = 0.001;
    const sched = new optim.CosineAnnealingLR(opt, 8, etaMin);
    const expected = (t: number) => etaMin + ((0.025 - etaMin) * (1 + Math.cos((Math.PI * t) / 8))) / 2;
    for (let t = 1; t <= 8; t++) {
      sched.step();
      assertClose(opt.getLr(), expected(t), 1e-15, 0, `t=${t}`);
    }
    assertClose(opt.getLr(), etaMin, 1e-15);
    // Resume from a state dict half-way.
    const opt2 = new optim.SGD([p], { lr: 0.025 });
    const s2 = new optim.CosineAnnealingLR(opt2, 8, etaMin);
    for (let t = 0; t < 3; t++) s2.step();
    const state = s2.stateDict();
    assert.deepEqual(state, { last_epoch: 3, base_lrs: [0.025] });
    const opt3 = new optim.SGD([p], { lr: 0.7 });
    const s3 = new optim.CosineAnnealingLR(opt3, 8, etaMin);
    s3.loadStateDict(state);
    assertClose(opt3.getLr(), expected(3), 1e-15);
    s3.step();
    assertClose(opt3.getLr(), expected(4), 1e-15);
    assertClose(opt3.getLr(), (0.025 + etaMin) / 2, 1e-15); // half-way
  });
});

test('step({ maxGradNorm }) clips in the same call exactly as clipGradNorm then step, over one or several groups', () => {
  const c = [3, -1, 2],
    d = [0.5, 4, -2];
  for (const make of [
    (ps: Tensor[]) => new optim.SGD(ps, { lr: 0.1, momentum: 0.9, weightDecay: 1e-3 }),
    (ps: Tensor[]) => new optim.Adam(ps, { lr: 0.05, weightDecay: 1e-2 }),
    (ps: Tensor[]) => new optim.SGD([{ params: [ps[0]] }, { params: [ps[1]], lr: 0.01 }], { lr: 0.1, momentum: 0.9 }),
  ]) {
    const a = [D([1, -2, 3]).requiresGrad_(), D([0.5, 0.5, -1]).requiresGrad_()];
    const b = a.map((t) => t.detach().clone().requiresGrad_());
    const optA = make(a),
      optB = make(b);
    for (let s = 0; s < 3; s++) {
      for (const p of [...a, ...b]) setGrad(p, c, d);
      const before = Math.hypot(...[...a].flatMap((p) => p.grad!.toArray()));
      const inside = optA.step({ maxGradNorm: 1 });
      const apart = torch.nn.utils.clipGradNorm(b, 1);
      assert.equal(optB.step(), null);
      assertClose(inside!, before, 1e-12);
      assert.equal(inside, apart);
      a.forEach((p, i) => assert.deepEqual(p.toArray(), b[i].toArray()));
      // The gradients were clipped in place, to norm 1 (within float64 rounding).
      assertClose(Math.hypot(...a.flatMap((p) => p.grad!.toArray())), before * Math.min(1, 1 / (before + 1e-6)), 1e-9);
    }
    assert.throws(() => optA.step({ maxGradNorm: -1 }), /maxGradNorm must be a positive number, got -1/);
    assert.throws(() => optA.step({ maxGradNorm: NaN }), /maxGradNorm must be a positive number/);
    torch.dispose([...a, ...b]);
  }
});
