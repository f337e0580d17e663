/**
 * `--device`: a device that does not exist here is a one-line error before anything is made.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { checkDevice, cuda } from '../src/torch';
import { tempDir } from './helpers';

const BIN = path.join(__dirname, '..', '..', 'bin', 'dnas.js');

test('checkDevice accepts cpu and refuses malformed devices and missing CUDA', () => {
  checkDevice('cpu');
  assert.throws(() => checkDevice('gpu'), /--device must be cpu, cuda or cuda:N, got 'gpu'/);
  assert.throws(() => checkDevice('cuda:x'), /--device must be/);
  if (!cuda.isAvailable()) {
    assert.throws(() => checkDevice('cuda'), /^Error: --device cuda: no CUDA device here/);
    assert.throws(() => checkDevice('cuda:1', 'device'), /^Error: device cuda:1: no CUDA device here/);
  } else {
    assert.throws(() => checkDevice(`cuda:${cuda.deviceCount()}`), /CUDA device\(s\)/);
  }
});

test(
  'dnas search --device cuda without CUDA fails in one line and leaves no run folder',
  { skip: cuda.isAvailable() ? 'a CUDA device is present' : false },
  () => {
    const out = path.join(tempDir(), 'run');
    const r = spawnSync(process.execPath, [BIN, 'search', '--dataset', 'brain-mri', '--device', 'cuda', '--out', out, '--epochs', '4'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(r.status, 1);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /no CUDA device here/);
    assert.equal(fs.existsSync(out), false);
  },
);

test('dnas eval and predict --device cuda without CUDA: one line, nothing loaded', { skip: cuda.isAvailable() ? 'a CUDA device is present' : false }, () => {
  const run = path.join(tempDir(), 'not-even-a-run');
  for (const args of [
    ['eval', run, '--device', 'cuda'],
    ['predict', run, 'x.png', '--device', 'cuda:1'],
    ['eval', run, '--device', 'tpu'],
  ]) {
    const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 1, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, args[args.length - 1] === 'tpu' ? /--device must be cpu, cuda or cuda:N/ : /no CUDA device here/);
  }
});
