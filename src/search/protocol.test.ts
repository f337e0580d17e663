import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { parseSearchArgs } from '../cli/args';
import { shouldFreeze } from './protocol';

test('a fixed freeze epoch freezes exactly then', () => {
  const rule = { freezeEpoch: 4, freezePatience: 3, freezeEntropy: null };
  assert.equal(shouldFreeze(rule, 3, ['a', 'a', 'a'], 1), false);
  assert.equal(shouldFreeze(rule, 4, ['a', 'b', 'c', 'd'], 1), true);
});

test('automatic freeze waits for K unchanged epochs and, if set, low entropy', () => {
  const rule = { freezeEpoch: null, freezePatience: 2, freezeEntropy: null };
  assert.equal(shouldFreeze(rule, 3, ['a', 'b', 'b'], 1), false); // unchanged for 1 epoch only
  assert.equal(shouldFreeze(rule, 4, ['a', 'b', 'b', 'b'], 1), true); // unchanged for 2 epochs
  assert.equal(shouldFreeze(rule, 2, ['b', 'b'], 1), false); // too few epochs to tell
  const withEntropy = { ...rule, freezeEntropy: 0.5 };
  assert.equal(shouldFreeze(withEntropy, 4, ['a', 'b', 'b', 'b'], 0.7), false);
  assert.equal(shouldFreeze(withEntropy, 4, ['a', 'b', 'b', 'b'], 0.3), true);
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
