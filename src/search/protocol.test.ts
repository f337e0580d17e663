import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { parseSearchArgs } from '../cli/args';
import { resolveConfig } from './config';
import { freezeDecision } from './protocol';

const rule = (over: Record<string, unknown> = {}) => resolveConfig({ epochs: 12, warmupEpochs: 2, ...over });
const state = (epoch: number, history: string[], margin = 0.5, entropy = 1) => ({ epoch, history, margin, entropy });

test('a fixed freeze epoch freezes exactly then, and says so', () => {
  const r = rule({ freezeEpoch: 4 });
  assert.deepEqual(freezeDecision(r, state(3, ['a', 'a'])), { freeze: false, reason: null });
  assert.deepEqual(freezeDecision(r, state(4, ['a', 'b'], 0)), { freeze: true, reason: 'fixed freeze epoch 4' });
});

test('automatic freeze: K unchanged epochs and a converged margin, on a scripted history', () => {
  const r = rule({ freezePatience: 2, freezeMargin: 0.1, freezeMaxEpoch: 9 });
  // unchanged for one epoch only
  assert.equal(freezeDecision(r, state(4, ['a', 'b', 'b'])).freeze, false);
  // unchanged for two epochs, margin converged
  const d = freezeDecision(r, state(5, ['a', 'b', 'b', 'b'], 0.25));
  assert.equal(d.freeze, true);
  assert.equal(d.reason, 'converged: decoded architecture unchanged for 2 epochs, mean margin 0.250 (>= 0.1)');
  // stable but the weights are still near uniform: wait
  assert.equal(freezeDecision(r, state(5, ['b', 'b', 'b'], 0.05)).freeze, false);
  // with an entropy condition
  const withEntropy = rule({ freezePatience: 2, freezeEntropy: 0.5, freezeMaxEpoch: 9 });
  assert.equal(freezeDecision(withEntropy, state(5, ['a', 'b', 'b', 'b'], 0.3, 0.7)).freeze, false);
  assert.equal(freezeDecision(withEntropy, state(5, ['a', 'b', 'b', 'b'], 0.3, 0.3)).freeze, true);
});

test('automatic freeze: the latest epoch caps the search (warm-up plus a tenth of the run, at least 2, by default)', () => {
  const r = rule({ freezePatience: 3 });
  assert.equal(freezeDecision(r, state(3, ['a'])).freeze, false);
  const d = freezeDecision(r, state(4, ['a', 'a'], 0.02));
  assert.equal(d.freeze, true);
  assert.equal(d.reason, 'latest freeze epoch 4 reached before convergence: decoded architecture unchanged for 1 epoch, mean margin 0.020');
  assert.equal(freezeDecision(rule({ freezeMaxEpoch: 9 }), state(6, ['a', 'b', 'c', 'd'], 0)).freeze, false);
});

test('a YAML config file is read, and flags override it', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dnas-yaml-'));
  const file = path.join(dir, 'search.yaml');
  fs.writeFileSync(file, 'epochs: 9\nstrategy: gdas\ncrop: [32, 48]\ntemperature:\n  kind: linear\n  start: 5\n  end: 1\n');
  const { partial } = parseSearchArgs(['--config', file, '--epochs', '11']);
  assert.deepEqual(partial, { epochs: 11, strategy: 'gdas', crop: [32, 48], temperature: { kind: 'linear', start: 5, end: 1 } });
  fs.writeFileSync(file, 'epochs: [1\n');
  assert.throws(() => parseSearchArgs(['--config', file]), /is not valid YAML/);
});
