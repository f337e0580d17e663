/**
 * The trainer, strategies and the single-stage protocol on a tiny synthetic task (seconds each).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { test } from 'node:test';
import { resolveSearchConfig, runSearch } from '../src/cli/search';
import { missingDebianData } from '../src/data';
import { placement, resolveConfig } from '../src/search/config';
import { retainOptimizer } from '../src/search/protocol';
import { RunDir } from '../src/search/rundir';
import { Cell, Genotype } from '../src/space';
import * as torch from '../src/torch';
import { tempDir as tmpDir } from './helpers';
import { TINY_BRAIN, tinyConfig, tinyTrainer } from './tiny-task';

torch.setNumThreads(1);

const trainLosses = (run: { readMetrics(): Record<string, unknown>[] }) => run.readMetrics().map((m) => m.trainLoss as number);

for (const strategy of ['darts', 'darts2', 'gdas', 'single-stage', 'two-stage'] as const) {
  test(`strategy ${strategy} lowers the training loss`, async () => {
    const relaxation = strategy === 'gdas' ? 'gumbel-hard' : 'softmax';
    const cfg = tinyConfig(tmpDir(`dnas-${strategy}-`), { strategy, relaxation, epochs: 4, freezeEpoch: 2 });
    const { trainer, run, space } = tinyTrainer(cfg);
    const before = torch.memory().numTensors;
    const s = await trainer.train();
    const losses = trainLosses(run);
    assert.equal(losses.length, 4);
    assert.ok(losses[3] < losses[0], `${strategy}: losses ${losses.map((l) => l.toFixed(3))}`);
    assert.equal(s.epochs, 4);
    if (strategy === 'single-stage' || strategy === 'two-stage') {
      assert.equal(s.frozenAt, 2);
      assert.equal(s.phase, strategy === 'single-stage' ? 'frozen' : 'retrain');
      // "best" is the best of the network the run ends with, never the supernet of the freeze epoch.
      const after = run
        .readMetrics()
        .filter((m) => m.phase === 'frozen' || m.phase === 'retrain')
        .map((m) => m.score as number);
      assert.equal(s.bestScore, Math.max(...after));
      assert.ok(fs.existsSync(run.genotypeFile));
    } else {
      assert.equal(s.frozenAt, null);
    }
    // The architecture log has one line per searching epoch, with weights that sum to one per row.
    const arch = run.readArch();
    assert.ok(arch.length >= 2);
    for (const rows of Object.values(arch[arch.length - 1].weights as Record<string, number[][]>)) {
      for (const r of rows) assert.ok(Math.abs(r.reduce((a, b) => a + b, 0) - 1) < 1e-3, `row ${r}`);
    }
    // No tensor handles pile up across a run (the model, optimizers and data account for the rest).
    assert.ok(torch.memory().numTensors - before < 2000, `live tensors grew by ${torch.memory().numTensors - before}`);
    space.dispose();
  });
}

test('single-stage freeze keeps the inherited weights and stops architecture updates', async () => {
  const cfg = tinyConfig(tmpDir('dnas-freeze-'), { strategy: 'single-stage', epochs: 4, freezeEpoch: 2 });
  const events: Record<string, unknown>[] = [];
  const { trainer, space } = tinyTrainer(cfg, events);
  const supernetWeights = new Set(space.weightParameters().map((p) => p.handle));
  await trainer.train({ until: 2 });
  assert.ok(
    events.some((e) => e.event === 'freeze'),
    'froze after epoch 2',
  );
  // Snapshot the architecture and the derived network's weights at the freeze.
  const alphas = space.namedArchParameters().map(([n, a]) => [n, a.toArray()] as const);
  const model = (trainer as unknown as { model: torch.nn.Module }).model;
  const kept = model.parameters();
  assert.ok(kept.length > 0 && kept.every((p) => supernetWeights.has(p.handle)), 'every derived weight is a supernet tensor (same handle)');
  const atFreeze = kept.map((p) => p.toArray());
  await trainer.train();
  // Architecture parameters did not move after the freeze ...
  for (const [n, v] of alphas) {
    const now = space
      .namedArchParameters()
      .find(([m]) => m === n)![1]
      .toArray();
    assert.deepEqual(now, v, `${n} changed after the freeze`);
  }
  // ... and the inherited weights kept training from where they were (same tensors, new values).
  const after = kept.map((p) => p.toArray());
  assert.ok(
    after.some((v, i) => v.some((x, j) => x !== atFreeze[i][j])),
    'weights trained after the freeze',
  );
});

test('retainOptimizer carries momentum buffers of the kept parameters', () => {
  torch.tidy(() => {
    const a = torch.keep(torch.ones([2]).requiresGrad_());
    const b = torch.keep(torch.ones([3]).requiresGrad_());
    const opt = new torch.optim.SGD([a, b], { lr: 0.1, momentum: 0.9 });
    a.sum().mul(2).add(b.sum()).backward();
    opt.step(); // buffers: a -> 2, b -> 1
    const next = retainOptimizer(opt, [b]);
    assert.equal(next.paramGroups[0].params.length, 1);
    const buf = next.stateDict().state['0'].momentum_buffer as torch.Tensor;
    assert.deepEqual(buf.toArray(), [1, 1, 1]);
    assert.equal(next.getLr(), 0.1);
  });
});

test('resume after a stop gives the same metrics as a straight run', async () => {
  const over = { strategy: 'single-stage', relaxation: 'gumbel', epochs: 4, freezeEpoch: 2, seed: 3 };
  const straight = tinyTrainer(tinyConfig(tmpDir('dnas-straight-'), over));
  await straight.trainer.train();
  const first = tinyTrainer(tinyConfig(tmpDir('dnas-resume-'), over));
  await first.trainer.train({ until: 1 });
  // A new process would rebuild everything from the run directory: do the same.
  const second = tinyTrainer(tinyConfig(first.run.dir, over));
  second.trainer.resume(second.run.lastCheckpoint);
  await second.trainer.train();
  const strip = (ms: Record<string, unknown>[]) => ms.map(({ perClassIoU, cpuSeconds, trainCpuSeconds, ...m }) => m);
  assert.deepEqual(strip(second.run.readMetrics()), strip(straight.run.readMetrics()));
  assert.deepEqual(second.run.readArch(), straight.run.readArch());
});

test('a NaN loss stops the run with a message and keeps the last good checkpoint', async () => {
  const cfg = tinyConfig(tmpDir('dnas-nan-'), { strategy: 'darts', epochs: 3 });
  const { trainer, run } = tinyTrainer(cfg);
  await trainer.train({ until: 1 });
  const good = fs.readFileSync(run.lastCheckpoint);
  (trainer as unknown as { cfg: { lr: number; minLr: number } }).cfg.lr = 1e30; // diverge
  (trainer as unknown as { cfg: { lr: number; minLr: number } }).cfg.minLr = 1e30;
  await assert.rejects(trainer.train(), (e: Error) => {
    assert.match(e.message, /loss became (NaN|Infinity|-Infinity) at epoch 2, step \d+/);
    assert.match(e.message, /last good checkpoint \(epoch 1\)/);
    return true;
  });
  assert.ok(fs.readFileSync(run.lastCheckpoint).equals(good), 'checkpoint untouched');
});

test('gdas samples one operation per edge and learns differently from darts', async () => {
  const alphasAfter = async (algorithm: 'darts' | 'gdas') => {
    const cfg = tinyConfig(tmpDir(`dnas-${algorithm}-one-`), { algorithm, protocol: 'none', epochs: 2, warmupEpochs: 0 });
    const { trainer, space } = tinyTrainer(cfg);
    await trainer.train();
    const a = space.namedArchParameters().map(([, p]) => p.toArray());
    // During training, gdas mixes exactly one candidate per choice (weight 1, the others 0).
    space.train();
    torch.tidy(() => {
      space.forward(torch.randn([2, 3, 32, 32]));
      for (const [name, w] of space.sampledWeights()) {
        const rows = (w as torch.Tensor).toArray();
        const width = (w as torch.Tensor).shape[1];
        for (let r = 0; r < rows.length / width; r++) {
          const row = Array.from(rows.slice(r * width, (r + 1) * width));
          const ones = row.filter((v) => Math.abs(v - 1) < 1e-6).length;
          const zeros = row.filter((v) => Math.abs(v) < 1e-6).length;
          if (algorithm === 'darts' && zeros === width - 1) continue; // a choice with a single option
          if (algorithm === 'gdas') assert.deepEqual([ones, zeros], [1, width - 1], `${name} row ${r}: ${row}`);
          else assert.equal(ones, 0, `${name} row ${r} is a mixture under darts`);
        }
      }
    });
    space.dispose();
    return a;
  };
  const d = await alphasAfter('darts');
  const g = await alphasAfter('gdas');
  const diff = Math.max(...d.flatMap((a, i) => Array.from(a).map((v, j) => Math.abs(v - g[i][j]))));
  assert.ok(diff > 1e-3, `gdas and darts alphas differ (max |diff| ${diff})`);
});

test('--precision bf16: every cell of the run runs under autocast; the losses stay close to float32', async () => {
  // Every cell forward of the run (weight and architecture steps, supernet and derived-network
  // evaluation, BN re-estimation, after the freeze) records whether autocast was on and grad mode.
  const seen: { autocast: boolean; grad: boolean }[] = [];
  const orig = Cell.prototype.forward;
  Cell.prototype.forward = function (this: Cell, ...a: Parameters<typeof orig>) {
    seen.push({ autocast: torch.isAutocastEnabled('cpu'), grad: torch.isGradEnabled() });
    return orig.apply(this, a);
  };
  const lossesOf = async (precision: 'fp32' | 'bf16') => {
    seen.length = 0;
    // One layout for both, so that the difference is the precision's alone.
    const cfg = tinyConfig(tmpDir(`dnas-precision-${precision}-`), { precision, memoryFormat: 'contiguous', epochs: 3, warmupEpochs: 1, freezeEpoch: 2 });
    const { trainer, space, run } = tinyTrainer(cfg);
    await trainer.train();
    const losses = trainLosses(run);
    space.dispose();
    return { losses, seen: [...seen] };
  };
  let full: number[], mixed: number[];
  try {
    const a = await lossesOf('fp32');
    assert.ok(a.seen.every((c) => !c.autocast));
    const b = await lossesOf('bf16');
    assert.ok(
      b.seen.length > 0 && b.seen.every((c) => c.autocast),
      `${b.seen.filter((c) => !c.autocast).length} of ${b.seen.length} cell passes without autocast`,
    );
    assert.ok(b.seen.some((c) => c.grad) && b.seen.some((c) => !c.grad), 'training and evaluation passes both ran');
    [full, mixed] = [a.losses, b.losses];
  } finally {
    Cell.prototype.forward = orig;
  }
  assert.equal(mixed.length, 3);
  assert.ok(mixed.every(Number.isFinite));
  // Same seed and data: bfloat16 forward passes move the losses by rounding only.
  for (let e = 0; e < 3; e++) assert.ok(Math.abs(mixed[e] - full[e]) / full[e] < 0.05, `epoch ${e}: ${mixed[e]} vs ${full[e]}`);
  assert.ok(
    mixed.some((v, e) => v !== full[e]),
    'bf16 really ran (the losses are not bit-identical)',
  );
  assert.ok(!torch.isAutocastEnabled('cpu'), 'no autocast region left open');
});

test('--memory-format: channels-last runs NHWC (auto: float32 on the CPU) and trains as contiguous does, to rounding', async () => {
  const fp32 = { precision: 'fp32' } as const;
  assert.deepEqual(placement({ device: 'cpu', memoryFormat: 'auto', ...fp32 }), { device: 'cpu', memoryFormat: 'channelsLast' });
  assert.deepEqual(placement({ device: 'cpu', memoryFormat: 'auto', precision: 'bf16' }), { device: 'cpu', memoryFormat: 'contiguous' });
  assert.deepEqual(placement({ device: 'cuda:1', memoryFormat: 'auto', ...fp32 }), { device: 'cuda:1', memoryFormat: 'contiguous' });
  assert.deepEqual(placement({ device: 'cuda', memoryFormat: 'channels-last', ...fp32 }), { device: 'cuda', memoryFormat: 'channelsLast' });
  assert.deepEqual(placement({ device: 'cpu', memoryFormat: 'contiguous', ...fp32 }), { device: 'cpu', memoryFormat: 'contiguous' });
  assert.throws(() => resolveConfig({ memoryFormat: 'nhwc' }), /memoryFormat/);
  const lossesOf = async (memoryFormat: 'channels-last' | 'contiguous') => {
    const cfg = tinyConfig(tmpDir(`dnas-format-${memoryFormat}-`), { memoryFormat, epochs: 3, warmupEpochs: 1, freezeEpoch: 2 });
    const { trainer, space, run } = tinyTrainer(cfg);
    const formats = new Set(
      space
        .weightParameters()
        .filter((p) => p.ndim === 4 && p.shape[1] > 1)
        .map((p) => p.memoryFormat),
    );
    await trainer.train();
    const losses = trainLosses(run);
    // The final network's checkpoint, loaded into fresh networks of either layout, computes one function.
    const ck = torch.load(run.lastCheckpoint) as { model: Record<string, torch.Tensor>; genotype: string };
    const genotype = JSON.parse(ck.genotype) as Genotype;
    const outputs = (['contiguous', 'channelsLast'] as const).map((memoryFormat) =>
      torch.tidy(() => {
        const net = space.build(genotype).to({ memoryFormat });
        net.loadStateDict(ck.model);
        net.eval();
        torch.manualSeed(9);
        const y = torch.noGrad(() => net.forward(torch.randn([2, 3, 32, 32])));
        net.dispose();
        return y;
      }),
    );
    const agree = torch.maxAbsDiff(outputs[0], outputs[1]) / outputs[1].abs().max().item();
    torch.dispose([...outputs, ...Object.values(ck.model)]);
    space.dispose();
    return { losses, formats: [...formats], agree };
  };
  const cl = await lossesOf('channels-last');
  const plain = await lossesOf('contiguous');
  assert.deepEqual(cl.formats, ['channelsLast']);
  assert.deepEqual(plain.formats, ['contiguous']);
  assert.ok(cl.agree <= 1e-5 && plain.agree <= 1e-5, `a checkpoint in both layouts: ${cl.agree}, ${plain.agree}`);
  assert.equal(cl.losses.length, 3);
  // Same seed and data: the layouts change the order of sums only.
  for (let e = 0; e < 3; e++) assert.ok(Math.abs(cl.losses[e] - plain.losses[e]) / plain.losses[e] < 1e-3, `epoch ${e}: ${cl.losses[e]} vs ${plain.losses[e]}`);
});

test('each search epoch records convergence figures and the random-genotype control', async () => {
  const cfg = tinyConfig(tmpDir('dnas-control-'), { epochs: 4, freezeEpoch: 3, controlGenotypes: 2 });
  const { trainer, run, space } = tinyTrainer(cfg);
  await trainer.train();
  const searched = run.readMetrics().filter((m) => m.phase === 'warmup' || m.phase === 'search');
  assert.equal(searched.length, 3);
  const arch = run.readArch();
  searched.forEach((m, i) => {
    const scores = m.controlScores as number[];
    assert.equal(scores.length, 2);
    assert.ok(scores.every((s) => s >= 0 && s <= 1));
    assert.ok(Math.abs((m.controlScore as number) - (scores[0] + scores[1]) / 2) < 1e-12);
    assert.ok(Math.abs((m.gapControl as number) - ((m.score as number) - (m.controlScore as number))) < 1e-12);
    // The figures follow from the logged weights (rows with one option decide nothing).
    const rows = Object.values(arch[i].weights as Record<string, number[][]>)
      .flat()
      .map((r) => r.filter((p) => p > 0))
      .filter((r) => r.length > 1);
    const maxw = rows.reduce((a, r) => a + Math.max(...r), 0) / rows.length;
    assert.ok(Math.abs((m.archMaxWeight as number) - maxw) < 1e-3, `maxWeight ${m.archMaxWeight} vs ${maxw}`);
    assert.equal(m.archChanged, i === 0 ? null : arch[i].archChanged);
  });
  space.dispose();
});

test('the single-stage freeze re-estimates BatchNorm statistics and keeps the inherited weights', async () => {
  const stats = async (freezeBnRecal: boolean) => {
    const cfg = tinyConfig(tmpDir('dnas-bnfreeze-'), { epochs: 4, freezeEpoch: 2, freezeBnRecal, bnRecalibBatches: 2 });
    const events: Record<string, unknown>[] = [];
    const { trainer, space } = tinyTrainer(cfg, events);
    await trainer.train({ until: 2 });
    const model = (trainer as unknown as { model: torch.nn.Module }).model;
    const buffers = new Map(
      model
        .namedBuffers()
        .filter(([n]) => n.endsWith('running_mean'))
        .map(([n, b]) => [n, b.toArray()]),
    );
    const weights = new Map(model.namedParameters().map(([n, p]) => [n, p.toArray()]));
    space.dispose();
    return { buffers, weights, event: events.find((e) => e.event === 'bn-recal') };
  };
  const on = await stats(true);
  const off = await stats(false);
  assert.ok(on.event && typeof on.event.before === 'number' && typeof on.event.after === 'number', 'the re-estimation is reported');
  assert.equal(off.event, undefined);
  // Same seed, same training: the weights are identical, only the statistics of the nodes' BatchNorms changed.
  for (const [n, w] of on.weights) assert.deepEqual(Array.from(w), Array.from(off.weights.get(n)!), n);
  let changed = 0;
  for (const [n, b] of on.buffers) if (Math.max(...Array.from(b).map((v, i) => Math.abs(v - off.buffers.get(n)![i]))) > 1e-6) changed++;
  assert.ok(changed > 0, 'some running statistics were re-estimated');
});

test(
  'a run stopped before its first checkpoint: a clear message, no resume, and the folder is reused',
  { skip: missingDebianData('brain-mri') ?? false },
  async () => {
    const out = tmpDir('dnas-nockpt-');
    const base = {
      ...TINY_BRAIN,
      trainSubset: 24,
      epochs: 3,
      out,
    };
    await assert.rejects(
      runSearch(resolveConfig({ ...base, lr: 1e12 }), { quiet: true }),
      /the weight loss became (NaN|Infinity) at epoch 1, step \d+; the run stopped\. No checkpoint was written yet\./,
    );
    const run = new RunDir(out);
    assert.ok(run.exists() && !run.started());
    await assert.rejects(runSearch(resolveConfig(base), { quiet: true, resume: true }), /has no checkpoint: the run stopped before its first epoch ended/);
    const { summary } = await runSearch(resolveConfig(base), { quiet: true });
    assert.equal(summary.epochs, 3);
    assert.deepEqual(
      run.readMetrics().map((m) => m.epoch),
      [1, 2, 3],
    ); // the failed start left no line behind
    await assert.rejects(runSearch(resolveConfig(base), { quiet: true }), /already holds a run/);
  },
);

test('--out: a folder of other files is refused, stale temporary files of a killed run are removed', () => {
  const dir = tmpDir('dnas-out-');
  fs.writeFileSync(`${dir}/notes.txt`, 'mine');
  assert.throws(() => new RunDir(dir).create(), /is not a dnas run folder \(it holds notes\.txt\); choose another --out/);
  assert.equal(fs.readFileSync(`${dir}/notes.txt`, 'utf8'), 'mine');
  const empty = tmpDir('dnas-out-');
  const run = new RunDir(empty);
  run.create();
  run.writeJson(run.configFile, { seed: 0 });
  // pid 2^22 + 1 is above Linux's pid_max: no such process
  fs.writeFileSync(`${run.lastCheckpoint}.tmp-4194305`, 'half');
  fs.writeFileSync(`${run.metricsFile}.tmp-${process.pid}`, 'mine, in progress');
  run.create();
  assert.ok(!fs.existsSync(`${run.lastCheckpoint}.tmp-4194305`));
  assert.ok(fs.existsSync(`${run.metricsFile}.tmp-${process.pid}`));
});

test(
  'Ctrl-C stops after the current step with a checkpoint and exits 130; the run resumes from there to the end',
  { skip: missingDebianData('brain-mri') ?? false },
  async () => {
    const { spawn } = require('node:child_process') as typeof import('node:child_process');
    const out = `${tmpDir('dnas-sigint-')}/run`;
    const bin = require('node:path').join(__dirname, '..', '..', 'bin', 'dnas.js');
    const flags = [
      '--dataset',
      'brain-mri',
      '--size',
      '32x32',
      '--train-subset',
      '16',
      '--val-subset',
      '4',
      '--threads',
      '1',
      '--batch-size',
      '2',
      '--epochs',
      '12',
      '--layers',
      '2',
      '--channels',
      '4',
      '--nodes',
      '1',
      '--scales',
      '2',
      '--control-genotypes',
      '0',
    ];
    const start = (args: string[], signals: number, after: RegExp) => {
      const child = spawn(process.execPath, [bin, ...args]);
      let err = '',
        sent = 0;
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        // Progress lines go to stderr; the first signal goes once `after` was printed.
        // the second only once the first was seen (the kernel merges a signal that is still pending)
        if ((sent === 0 && signals > 0 && after.test(err)) || (sent === 1 && signals > 1 && /stopping after the current step/.test(err))) {
          sent++;
          child.kill('SIGINT');
        }
      });
      return new Promise<{ code: number | null; err: string }>((r) => child.on('exit', (code) => r({ code, err })));
    };
    const one = await start(['search', ...flags, '--out', out], 1, /epoch 2\/12/);
    assert.equal(one.code, 130, one.err);
    assert.match(one.err, /dnas: SIGINT: stopping after the current step and writing a checkpoint \(Ctrl-C again stops at once\)/);
    const m = new RegExp(
      `dnas: stopped by SIGINT in epoch (\\d+), after step (\\d+); the checkpoint ${out}/checkpoints/last\\.pt holds that point: continue with dnas search --resume ${out}`,
    ).exec(one.err);
    assert.ok(m, one.err);
    const { load } = torch;
    const ck = load<Record<string, unknown>>(new RunDir(out).lastCheckpoint);
    assert.equal(ck.epoch, Number(m[1]) - 1); // finished epochs
    assert.equal(ck.step, Number(m[2]));
    torch.dispose(ck);
    // The resumed run goes on to the end from there.
    const rest = await start(['search', '--resume', out], 0, /never/);
    assert.equal(rest.code, 0, rest.err);
    assert.deepEqual(
      new RunDir(out).readMetrics().map((m) => m.epoch),
      Array.from({ length: 12 }, (_, i) => i + 1),
    );
  },
);

test('signals: the first asks the trainer to stop after its step, a second (or one before training) exits at once', () => {
  const { signalHandler } = require('../src/cli/search') as typeof import('../src/cli/search');
  const out = tmpDir('dnas-signals-');
  const run = new RunDir(out);
  const lines: string[] = [];
  const codes: number[] = [];
  let stops = 0;
  const trainer = {
    requestStop: () => {
      stops++;
    },
  } as unknown as import('../src/search/trainer').Trainer;
  let current: typeof trainer | null = null;
  const h = signalHandler({
    trainer: () => current,
    run,
    log: (l) => lines.push(l),
    exit: (c) => {
      codes.push(c);
    },
  });
  h.handle('SIGTERM'); // before training: at once
  assert.deepEqual(codes, [143]);
  assert.match(lines[0], /^dnas: stopped by SIGTERM; no checkpoint was written yet; start the run again/);
  current = trainer;
  h.handle('SIGINT');
  assert.equal(stops, 1);
  assert.equal(h.stopping(), 'SIGINT');
  assert.match(lines[1], /^dnas: SIGINT: stopping after the current step and writing a checkpoint \(Ctrl-C again stops at once\)$/);
  assert.deepEqual(codes, [143]);
  run.create();
  fs.writeFileSync(run.lastCheckpoint, 'x');
  h.handle('SIGINT');
  assert.deepEqual(codes, [143, 130]);
  assert.equal(stops, 1);
  assert.equal(lines[2], `dnas: stopped by SIGINT; the last checkpoint is ${run.lastCheckpoint}; continue with dnas search --resume ${run.dir}`);
});

test('--resume refuses other flags, and a last.pt from another run', { skip: missingDebianData('brain-mri') ?? false }, async () => {
  const { search } = require('../src/cli/search') as typeof import('../src/cli/search');
  const base = {
    ...TINY_BRAIN,
  };
  const a = tmpDir('dnas-resume-a-'),
    b = tmpDir('dnas-resume-b-');
  await runSearch(resolveConfig({ ...base, out: a }), { quiet: true });
  await runSearch(resolveConfig({ ...base, out: b }), { quiet: true });
  const runB = new RunDir(b);
  assert.notEqual(new RunDir(a).runId(), runB.runId());
  await assert.rejects(
    search(['--resume', b, '--epochs', '9', '--quiet']),
    /--resume continues a run with the settings in .*config\.json; only --threads, --device and --memory-format may change \(got --epochs\)/,
  );
  // --memory-format may change on resume; a run written before it existed continues contiguous.
  const flags = { resume: a } as Parameters<typeof resolveSearchConfig>[1];
  assert.equal(resolveSearchConfig({}, flags, 'flags', []).memoryFormat, 'auto');
  assert.equal(resolveSearchConfig({ memoryFormat: 'channels-last' }, flags, 'flags', ['memoryFormat']).memoryFormat, 'channels-last');
  const runA = new RunDir(a);
  const { memoryFormat: _recorded, ...older } = JSON.parse(fs.readFileSync(runA.configFile, 'utf8')) as Record<string, unknown>;
  fs.writeFileSync(runA.configFile, JSON.stringify(older));
  assert.equal(resolveSearchConfig({}, flags, 'flags', []).memoryFormat, 'contiguous');
  // a checkpoint of run a copied into run b
  fs.copyFileSync(new RunDir(a).lastCheckpoint, runB.lastCheckpoint);
  await assert.rejects(search(['--resume', b, '--threads', '1', '--quiet']), /last\.pt does not match the SHA-256 recorded/);
  // ... and with run b's integrity record gone too: the run id inside the checkpoint gives it away
  fs.rmSync(runB.integrityFile);
  await assert.rejects(search(['--resume', b, '--threads', '1', '--quiet']), /last\.pt belongs to another run \(run id /);
});

test('a data set that cannot be opened leaves no run folder behind', async () => {
  const out = `${tmpDir('dnas-nodata-')}/run`;
  await assert.rejects(runSearch(resolveConfig({ dataset: 'folder', dataRoot: `${out}-missing`, out }), { quiet: true }), /class file does not exist/);
  assert.ok(!fs.existsSync(out));
});

test('a genotype that does not fit the space leaves no run folder behind (dnas train)', { skip: missingDebianData('fashion-scenes') ?? false }, async () => {
  const out = `${tmpDir('dnas-badgeno-')}/run`;
  const cfg = resolveConfig({ dataset: 'fashion-scenes', trainSubset: 8, valSubset: 4, epochs: 1, protocol: 'none', warmupEpochs: 0, out });
  const genotype = { version: 1 as const, space: 'lattice', cells: { cell: [['sep_conv_3x3', 0] as [string, number]] }, path: [0, 2, 2, 2] };
  await assert.rejects(runSearch(cfg, { quiet: true, genotype }), /genotype\.(path\[1\]|cells\.cell)/);
  assert.ok(!fs.existsSync(out));
});

test('a stop requested in the middle of an epoch resumes at the next step, as if never stopped', async () => {
  const over = { strategy: 'darts', epochs: 3, seed: 5, batchSize: 2 };
  const straight = tinyTrainer(tinyConfig(tmpDir('dnas-straight-'), over));
  await straight.trainer.train();
  const dir = tmpDir('dnas-midstop-');
  const first = tinyTrainer(tinyConfig(dir, over));
  // The tiny task has 4 weight steps per search epoch; stop after the second step of epoch 2.
  const report = first.trainer as unknown as { report: (e: Record<string, unknown>) => void };
  const inner = report.report;
  report.report = (e) => {
    inner(e);
    if (e.event === 'step' && e.epoch === 2 && e.step === 2) first.trainer.requestStop(); // epochs count from 1
  };
  const s = await first.trainer.train();
  assert.deepEqual(s.stopped, { epoch: 2, step: 2 });
  assert.equal(first.run.readMetrics().length, 1);
  const second = tinyTrainer(tinyConfig(dir, over));
  second.trainer.resume(second.run.lastCheckpoint);
  const done = await second.trainer.train();
  assert.equal(done.stopped, undefined);
  const strip = (ms: Record<string, unknown>[]) => ms.map(({ perClassIoU, cpuSeconds, trainCpuSeconds, ...m }) => m);
  assert.deepEqual(strip(second.run.readMetrics()), strip(straight.run.readMetrics()));
  assert.deepEqual(second.run.readArch(), straight.run.readArch());
});

test('checkpoints are recorded by SHA-256: a changed byte is refused by resume and by export, a crash while replacing one is not', async () => {
  const { createHash } = require('node:crypto') as typeof import('node:crypto');
  const { loadRunModel } = require('../src/export') as typeof import('../src/export');
  const cfg = tinyConfig(tmpDir('dnas-integrity-'), { strategy: 'single-stage', epochs: 4, freezeEpoch: 2 });
  const { trainer, run } = tinyTrainer(cfg);
  await trainer.train({ until: 3 });
  const sha = (f: string) => createHash('sha256').update(fs.readFileSync(f)).digest('hex');
  const rec = run.readJson<{ algorithm: string; files: Record<string, string[]> }>(run.integrityFile);
  assert.equal(rec.algorithm, 'sha256');
  assert.deepEqual(rec.files, { 'last.pt': [sha(run.lastCheckpoint)], 'best.pt': [sha(run.bestCheckpoint)] });
  // A crash between the two writes of writeCheckpoint leaves the record listing the new and the old digest.
  fs.writeFileSync(run.integrityFile, JSON.stringify({ algorithm: 'sha256', files: { ...rec.files, 'last.pt': ['0'.repeat(64), sha(run.lastCheckpoint)] } }));
  const again = tinyTrainer(tinyConfig(run.dir, { strategy: 'single-stage', epochs: 4, freezeEpoch: 2 }));
  again.trainer.resume(run.lastCheckpoint);
  // One changed byte in the middle of the file.
  const bytes = fs.readFileSync(run.lastCheckpoint);
  bytes[bytes.length >> 1] ^= 0x01;
  fs.writeFileSync(run.lastCheckpoint, bytes);
  const refused = /last\.pt does not match the SHA-256 recorded in .*integrity\.json when it was written: the file was changed or damaged since/;
  const third = tinyTrainer(tinyConfig(run.dir, { strategy: 'single-stage', epochs: 4, freezeEpoch: 2 }));
  assert.throws(() => third.trainer.resume(run.lastCheckpoint), refused);
  assert.throws(() => loadRunModel(run.dir), refused);
  loadRunModel(run.dir, { checkpoint: 'best' }).dispose(); // the other checkpoint is intact
  fs.writeFileSync(run.integrityFile, '{"files": {"last.pt": "x"}}');
  assert.throws(() => loadRunModel(run.dir, { checkpoint: 'best' }), /integrity\.json is not a dnas integrity record/);
});

test(
  'eval refuses a config.json that names another data set; resume repairs a damaged genotype.json',
  { skip: missingDebianData('brain-mri') ?? false },
  async () => {
    const { evalCmd } = require('../src/cli/ship') as typeof import('../src/cli/ship');
    const { search } = require('../src/cli/search') as typeof import('../src/cli/search');
    const out = tmpDir('dnas-evalcfg-');
    const cfg = resolveConfig({
      ...TINY_BRAIN,
      epochs: 5,
      freezeEpoch: 2,
      out,
    });
    const first = await runSearch({ ...cfg, epochs: 5 }, { quiet: true });
    const run = first.run;
    const saved = fs.readFileSync(run.configFile, 'utf8');
    fs.writeFileSync(run.configFile, JSON.stringify({ ...JSON.parse(saved), dataset: 'fashion-mnist' }));
    await assert.rejects(
      evalCmd([out]),
      /config\.json names the data set 'fashion-mnist' \(classification, 10 classes, 1 input channel\), but the network in .*last\.pt was trained for segmentation, 9 classes, 1 input channel/,
    );
    fs.writeFileSync(run.configFile, JSON.stringify({ ...JSON.parse(saved), dataset: 'no-such-set' }));
    await assert.rejects(evalCmd([out]), /the data set of .*config\.json cannot be opened: unknown data set 'no-such-set'/);
    fs.writeFileSync(run.configFile, saved);
    // A genotype.json cut short after the freeze; the run is resumed from an earlier checkpoint.
    const genotype = fs.readFileSync(run.genotypeFile, 'utf8');
    fs.writeFileSync(run.genotypeFile, genotype.slice(0, 40));
    const ck = torch.load<Record<string, unknown>>(run.lastCheckpoint);
    assert.equal(ck.phase, 'frozen');
    torch.dispose(ck);
    fs.rmSync(run.summaryFile);
    // run on from the last checkpoint as if stopped: resume with the same settings
    const cfgOnDisk = JSON.parse(saved);
    fs.writeFileSync(run.configFile, JSON.stringify({ ...cfgOnDisk, epochs: 6 }));
    assert.equal(await search(['--resume', out, '--quiet']), 0);
    assert.deepEqual(JSON.parse(fs.readFileSync(run.genotypeFile, 'utf8')), JSON.parse(genotype));
  },
);

test(
  '--tensorboard: an event file per process (the resumed one starting at its first epoch) and metrics.csv beside metrics.jsonl',
  { skip: missingDebianData('brain-mri') ?? false },
  async () => {
    const { search } = require('../src/cli/search') as typeof import('../src/cli/search');
    const out = tmpDir('dnas-tb-run-');
    const tb = `${out}/tb`;
    const base = {
      ...TINY_BRAIN,
      tensorboard: tb,
      out: `${out}/run`,
    };
    const cfg = resolveConfig(base);
    // Stop after epoch 2 as a kill would: a run of 2 epochs of the same settings, then resumed to 4.
    const { summary } = await runSearch({ ...cfg, epochs: 2 } as typeof cfg, { quiet: true }).catch((e) => {
      throw e;
    });
    assert.equal(summary.epochs, 2);
    const run = new RunDir(cfg.out);
    fs.writeFileSync(run.configFile, JSON.stringify({ ...run.readJson<Record<string, unknown>>(run.configFile), epochs: 4 }));
    fs.rmSync(run.summaryFile);
    assert.equal(await search(['--resume', cfg.out, '--quiet']), 0);
    const files = fs
      .readdirSync(tb)
      .filter((f) => f.startsWith('events.out.tfevents.'))
      .sort();
    assert.equal(files.length, 2, files.join(', '));
    for (const f of files) assert.ok(fs.statSync(`${tb}/${f}`).size > 100);
    const csv = fs.readFileSync(run.csvFile, 'utf8').trimEnd().split('\n');
    assert.equal(csv.length, 5); // header and epochs 1-4
    assert.deepEqual(
      csv.slice(1).map((l) => l.split(',')[0]),
      ['1', '2', '3', '4'],
    );
  },
);

test('convergence figures read the exact weights: an option far below 1e-4 still counts as an option', async () => {
  // The architecture does not move (lr 0) from logits where one option leads by 12: the others
  // weigh about 6e-6 each, which arch.jsonl's 4 decimals show as 0.
  const cfg = tinyConfig(tmpDir('dnas-converged-'), { algorithm: 'darts', protocol: 'none', epochs: 1, warmupEpochs: 0, archLr: 0, archWeightDecay: 0 });
  const { trainer, space, run } = tinyTrainer(cfg);
  torch.noGrad(() => {
    for (const [, a] of space.namedArchParameters()) {
      const [rows, width] = a.shape;
      a.copy_(
        torch.tensor(
          Array.from({ length: rows * width }, (_, i) => (i % width === 0 ? 12 : 0)),
          { shape: [rows, width] },
        ),
      );
    }
  });
  const expected = (() => {
    const { convergence } = require('../src/search/convergence') as typeof import('../src/search/convergence');
    const w = space.relaxationWeights();
    const c = convergence(w.map(([, t]) => Array.from({ length: t.shape[0] }, (_, r) => t.toArray().slice(r * t.shape[1], (r + 1) * t.shape[1]))));
    torch.dispose(w.map(([, t]) => t));
    return c;
  })();
  await trainer.train();
  const m = run.readMetrics()[0] as Record<string, number>;
  assert.ok(expected.rows > 0 && expected.uniform < 0.5, `uniform ${expected.uniform} over ${expected.rows} rows`);
  assert.ok(Math.abs(m.archUniform - expected.uniform) < 1e-12, `archUniform ${m.archUniform}, expected ${expected.uniform}`);
  assert.ok(Math.abs(m.archMaxWeight - expected.maxWeight) < 1e-6 && m.archMaxWeight < 1, `archMaxWeight ${m.archMaxWeight}`);
  // arch.jsonl still shows them rounded.
  const shown = run.readArch()[0].weights as Record<string, number[][]>;
  assert.ok(Object.values(shown).some((g) => g.some((r) => r.filter((v) => v === 0).length > 0)));
});

test(
  'a cost-aware search pushes the expected cost under its budget, and records the cost of its network',
  { skip: missingDebianData('brain-mri') ?? false },
  async () => {
    const base = { ...TINY_BRAIN, trainSubset: 16, epochs: 5, warmupEpochs: 1, protocol: 'none' as const, controlGenotypes: 0, cost: 'params' as const };
    const free = await runSearch(resolveConfig({ ...base, costWeight: 0, out: tmpDir('dnas-cost0-') }), { quiet: true });
    const paid = await runSearch(resolveConfig({ ...base, costWeight: 1, costTarget: 1e-4, out: tmpDir('dnas-cost1-') }), { quiet: true });
    const rows = (o: typeof free) => o.run.readMetrics() as Record<string, number>[];
    const [f, p] = [rows(free), rows(paid)];
    // The same start (the budget defaults to it when not given), then the penalty makes the difference.
    assert.equal(f[0].costTarget, f[0].costExpected);
    assert.equal(p[0].costTarget, 1e-4);
    const last = (r: Record<string, number>[]) => r[r.length - 1];
    assert.ok(last(p).costExpected < 0.8 * last(f).costExpected, `penalised ${last(p).costExpected} vs free ${last(f).costExpected}`);
    assert.ok(last(p).costExpected < p[0].costExpected, 'the expected cost fell during the search');
    for (const r of [...f, ...p]) assert.ok(r.costNetwork > 0 && Number.isFinite(r.costNetwork));
    assert.equal(paid.summary.final.costNetwork, last(p).costNetwork);
    assert.throws(() => resolveConfig({ cost: 'params', costTarget: 0 }), /'costTarget' must be above 0/);
  },
);
