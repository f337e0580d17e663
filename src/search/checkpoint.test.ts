import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tempDir } from '../../test/helpers';
import * as torch from '../torch';
import { CHECKPOINT_FORMAT, readRunCheckpoint, RunCheckpoint, writeRunCheckpoint } from './checkpoint';
import { RunDir } from './rundir';

const base = (): RunCheckpoint => ({
  runId: 'r1',
  epoch: 4,
  phase: 'frozen',
  frozenAt: 2,
  freezeReason: 'stable',
  retrainStart: 0,
  genotype: { version: 1, space: 'lattice', cells: {} },
  history: ['a', 'b'],
  lastDecoded: null,
  best: 0.5,
  model: { w: torch.ones([2]) },
  arch: {},
  weightOpt: { state: {}, param_groups: [] },
  archOpt: null,
  midEpoch: { step: 3, lossSum: 1.5 },
});

test('run checkpoints: one versioned format, written and read back field by field', () => {
  const run = new RunDir(tempDir('dnas-ckpt-'));
  run.create();
  const ck = base();
  writeRunCheckpoint(run, run.lastCheckpoint, ck);
  const raw = torch.load<Record<string, unknown>>(run.lastCheckpoint); // what Python's torch.load sees
  assert.equal(raw.format, CHECKPOINT_FORMAT);
  assert.equal(raw.genotype, JSON.stringify(ck.genotype));
  assert.deepEqual([raw.step, raw.lossSum], [3, 1.5]);
  torch.dispose(raw);
  const back = readRunCheckpoint(run, run.lastCheckpoint);
  assert.deepEqual({ ...back, model: undefined, rng: undefined }, { ...ck, model: undefined, rng: undefined });
  assert.deepEqual(back.model.w.toArray(), [1, 1]);
  torch.dispose(back);
});

test('run checkpoints: a newer format and fields of the wrong type are refused by name', () => {
  const run = new RunDir(tempDir('dnas-ckpt-bad-'));
  run.create();
  const write = (over: Record<string, unknown>) =>
    run.writeCheckpoint(
      run.lastCheckpoint,
      torch.serialize({
        format: 1,
        epoch: 1,
        phase: 'search',
        model: { w: torch.ones([1]) },
        weightOpt: {},
        ...over,
      } as never),
    );
  write({ format: 2 });
  assert.throws(() => readRunCheckpoint(run, run.lastCheckpoint), /has checkpoint format 2; this dnas reads up to 1: it was written by a newer dnas/);
  write({ epoch: -1 });
  assert.throws(() => readRunCheckpoint(run, run.lastCheckpoint), /last\.pt: 'epoch' is number -1, expected a whole number >= 0/);
  write({ phase: 'done' });
  assert.throws(() => readRunCheckpoint(run, run.lastCheckpoint), /'phase' is string "done", expected warmup, search, frozen, retrain/);
  write({ genotype: '{not json' });
  assert.throws(() => readRunCheckpoint(run, run.lastCheckpoint), /'genotype' is string .*expected a genotype as JSON text/);
  write({ model: { w: 3 } });
  assert.throws(() => readRunCheckpoint(run, run.lastCheckpoint), /'model' is a dict, expected a dict of tensors/);
  write({ format: undefined }); // written before the field existed: read the same way
  torch.dispose(readRunCheckpoint(run, run.lastCheckpoint));
});
