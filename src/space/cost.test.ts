import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as torch from '../torch';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { costModel, countMacs, countParameters, expectedCost, measureLatency, profileLatency, profileMacs, profileParams, readLatencyTable } from './cost';
import { LayerChoice } from './choices';
import { CustomSpace } from './space';
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

/** One searched block between a fixed stem and head: conv3 (C*C*9 + C), conv5 (C*C*25 + C), skip. */
function oneChoice(C = 4): CustomSpace {
  return new CustomSpace(
    () =>
      new nn.Sequential(
        new nn.Conv2d(1, C, 1, { bias: false }),
        new LayerChoice(
          { conv3: new nn.Conv2d(C, C, 3, { padding: 1 }), conv5: new nn.Conv2d(C, C, 5, { padding: 2 }), skip: new nn.Identity() },
          { label: 'b' },
        ),
        new nn.Conv2d(C, 2, 1, { bias: false }),
      ),
    { name: 'one-choice' },
  );
}

test('parameter profile: each module counts what it holds; the expected count is base + sum p_k c_k', () => {
  torch.manualSeed(0);
  const space = oneChoice(4);
  const p = profileParams(space);
  const [stem, choice, head] = space.module.children();
  assert.equal(p.of(stem), 4);
  assert.equal(p.of(head), 8);
  assert.equal(p.of(choice), 4 * 4 * 9 + 4 + 4 * 4 * 25 + 4);
  assert.equal(p.total, countParameters(space));
  const probs = space.archGroups()[0][1].probabilities().toArray();
  const cost = [148, 404, 0];
  const want = 12 + probs.reduce((a, q, k) => a + q * cost[k], 0);
  assert.ok(Math.abs(space.expectedCost(p).item() - want) < 1e-3);
  space.dispose();
});

test('the cost gradient: d E[cost] / d alpha_k = p_k (c_k - E) under softmax, so costly options are pushed down', () => {
  torch.manualSeed(1);
  const space = oneChoice(4);
  const model = costModel(space, 'params', [1, 6, 6]);
  const alpha = space.archParameters()[0];
  const e = model.expected();
  const [g] = torch.autograd.grad(e, [alpha]);
  const probs = space.archGroups()[0][1].probabilities().toArray();
  const cost = [148e-6, 404e-6, 0]; // in millions
  const E = probs.reduce((a, q, k) => a + q * cost[k], 0);
  const grad = g!.toArray();
  cost.forEach((c, k) => assert.ok(Math.abs(grad[k] - probs[k] * (c - E)) < 1e-9, `option ${k}: ${grad[k]} vs ${probs[k] * (c - E)}`));
  assert.ok(grad[1] > 0 && grad[2] < 0, 'the 5x5 conv raises the cost, the skip lowers it');
  // the cost of a discrete network of the space
  const derived = space.derive({ version: 1, space: 'one-choice', choices: { b: 'conv5' } }, { release: false });
  assert.ok(Math.abs(model.of(derived) - 416e-6) < 1e-12);
  assert.ok(Math.abs(costModel(space, 'macs', [1, 6, 6]).of(derived) - (36 * 4 + 36 * 4 * 4 * 25 + 36 * 2 * 4) * 1e-6) < 1e-12);
  space.dispose();
});

test('latency table: measured once per operation, cached with the machine, reused; a table from elsewhere is not', async () => {
  torch.manualSeed(2);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dnas-latency-'));
  const file = path.join(dir, 'latency.json');
  try {
    const space = oneChoice(4);
    const first = profileLatency(space, [1, 8, 8], { file, iters: 2 });
    assert.deepEqual([first.measured, first.reused], [3, 0]);
    const table = JSON.parse(fs.readFileSync(file, 'utf8'));
    assert.equal(table.machine.cores, os.cpus().length);
    assert.equal(table.machine.threads, torch.getNumThreads());
    assert.equal(Object.keys(table.entries).length, 3);
    const second = profileLatency(space, [1, 8, 8], { file, iters: 2 });
    assert.deepEqual([second.measured, second.reused], [0, 3]);
    const [, choice] = space.module.children();
    assert.equal(second.of(choice), first.of(choice), 'the same numbers from the cache');
    // the cost of a derived network comes from the same table
    const model = costModel(space, 'latency', [1, 8, 8], { latencyFile: file });
    const conv3 = Object.entries(table.entries).find(([k]) => k.startsWith('Conv2d[') && k.endsWith('4x4x3x3,4'))![1] as number;
    assert.equal(model.of(space.derive({ version: 1, space: 'one-choice', choices: { b: 'conv3' } }, { release: false })), conv3);
    // another machine's table, or a damaged file, is measured again
    fs.writeFileSync(file, JSON.stringify({ ...table, machine: { ...table.machine, cpu: 'elsewhere' } }));
    assert.equal(readLatencyTable(file), null);
    assert.equal(profileLatency(space, [1, 8, 8], { file, iters: 1 }).measured, 3);
    // ... so is a table of the other kernels, or one from before dnas recorded whose kernels ran
    assert.equal(table.machine.kernels, torch.fastKernels().enabled ? 'dnas' : 'libtorch');
    fs.writeFileSync(file, JSON.stringify({ ...table, machine: { ...table.machine, kernels: table.machine.kernels === 'dnas' ? 'libtorch' : 'dnas' } }));
    assert.equal(readLatencyTable(file), null);
    const { kernels: _k, ...before } = table.machine;
    fs.writeFileSync(file, JSON.stringify({ ...table, machine: before }));
    assert.equal(readLatencyTable(file), null);
    // channels-last operations are timed apart from contiguous ones, on channels-last inputs
    const laid = new CustomSpace(
      () =>
        new nn.Sequential(
          new nn.Conv2d(1, 4, 3, { padding: 1, bias: false }),
          new LayerChoice({ conv3: new nn.Conv2d(4, 4, 3, { padding: 1 }), skip: new nn.Identity() }, { label: 'b' }),
        ),
      { name: 'laid-out' },
    );
    const plain = profileLatency(laid, [1, 8, 8], { file, iters: 1 });
    laid.to({ memoryFormat: 'channelsLast' });
    const nhwc = profileLatency(laid, [1, 8, 8], { file, iters: 1 });
    assert.deepEqual([plain.measured, nhwc.measured, nhwc.reused], [2, 2, 0], 'the channels-last ones are new entries');
    const keys = Object.keys(nhwc.entries).filter((k) => k.includes(' nhwc'));
    assert.deepEqual(keys.map((k) => k.split('|')[1]).sort(), ['in 1x4x8x8 nhwc', 'in 1x4x8x8 nhwc']);
    assert.ok(
      keys.some((k) => k.endsWith('4x4x3x3 nhwc,4')),
      keys.join('\n'),
    );
    laid.dispose();
    fs.writeFileSync(file, '{"format": 1, "machine": null');
    assert.equal(profileLatency(space, [1, 8, 8], { file, iters: 1 }).measured, 3);
    // a link is neither followed to read nor to write (the cache is best effort), a FIFO is not read
    const target = path.join(dir, 'elsewhere.json');
    fs.writeFileSync(target, JSON.stringify(table));
    fs.rmSync(file);
    fs.symlinkSync(target, file);
    const warned: string[] = [];
    const onWarning = (w: Error) => warned.push(w.message);
    process.on('warning', onWarning);
    assert.equal(profileLatency(space, [1, 8, 8], { file, iters: 1 }).measured, 3);
    await new Promise((r) => setImmediate(r));
    process.removeListener('warning', onWarning);
    assert.equal(fs.readFileSync(target, 'utf8'), JSON.stringify(table), 'the link target is untouched');
    assert.match(warned.join('\n'), /could not be cached/);
    fs.rmSync(file);
    spawnSync('mkfifo', [file]);
    assert.equal(readLatencyTable(file), null);
    space.dispose();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
