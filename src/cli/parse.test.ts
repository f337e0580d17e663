/**
 * The command line: one parser for every command, help without side effects, usage errors with
 * exit code 2, train reading its space from the genotype, the demo clearing only its own files.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../test/helpers';
import { RunDir } from '../search/rundir';
import { parseSearchArgs } from './args';
import { parseCommand, UsageError } from './parse';
import { spaceFromGenotype } from './train';

const BIN = path.join(__dirname, '..', '..', '..', 'bin', 'dnas.js');
const dnas = (args: string[], cwd?: string) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd, timeout: 60_000 });

test('parseCommand: --name value, --name=value, booleans, -h, --, positionals; mistakes are UsageErrors', () => {
  const flags = { out: { type: 'string' as const }, softmax: { type: 'boolean' as const } };
  const r = parseCommand('export', ['run', '--out=x.onnx', '--softmax', 'false'], flags, { positionals: 1 });
  assert.deepEqual(r.values, { out: 'x.onnx', softmax: false });
  assert.deepEqual(r.positionals, ['run']);
  assert.deepEqual(r.given, ['out', 'softmax']);
  assert.equal(parseCommand('export', ['--softmax', 'run'], flags, { positionals: 1 }).values.softmax, true);
  assert.equal(parseCommand('export', ['-h'], flags).help, true);
  assert.deepEqual(parseCommand('export', ['--', '--odd-name'], flags, { positionals: 1 }).positionals, ['--odd-name']);
  const usage = (argv: string[], re: RegExp) =>
    assert.throws(
      () => parseCommand('export', argv, flags, { positionals: 1 }),
      (e: unknown) => {
        assert.ok(e instanceof UsageError && e.exitCode === 2);
        assert.match((e as Error).message, re);
        return true;
      },
    );
  usage(['--bogus'], /^dnas export: unknown flag --bogus; see dnas export --help$/);
  usage(['-x'], /unknown flag -x/);
  usage(['--out'], /--out needs a value/);
  usage(['--softmax=maybe'], /--softmax is true or false, got 'maybe'/);
  usage(['a', 'b'], /unexpected extra argument 'b'/);
});

test('search flags: --flag=value, booleans with or without a word, values checked', () => {
  const a = parseSearchArgs(['--epochs=7', '--skip-bad', '--mix-norm', 'false', '--size', '32x48', '--config', '/nonexistent.yaml', '--help']);
  assert.equal(a.flags.help, true, 'help: the config file is not read');
  const b = parseSearchArgs(['--epochs=7', '--skip-bad', '--mix-norm', 'false', '--size', '32x48']);
  assert.deepEqual(b.partial, { epochs: 7, skipBad: true, mixNorm: false, size: [32, 48] });
  assert.deepEqual(b.fromFlags, ['epochs', 'skipBad', 'mixNorm', 'size']);
  assert.throws(
    () => parseSearchArgs(['--size', '32']),
    (e: unknown) => e instanceof UsageError && /--size must look like 64x128/.test((e as Error).message),
  );
  assert.throws(() => parseSearchArgs(['--freeze-bn-recal=perhaps']), UsageError);
});

test('train reads the space from the genotype; a flag that disagrees is refused', async () => {
  // A dense lattice's genotypes name the space 'lattice-dense' (before, only 'lattice' was read, and
  // a dense genotype was trained as the default short lattice and refused).
  for (const [space, connectivity] of [
    ['lattice', 'short'],
    ['lattice-dense', 'dense'],
    ['lattice-fusion', 'fusion'],
    ['lattice-adl', 'short'],
  ]) {
    assert.deepEqual(spaceFromGenotype({ version: 1, space, settings: { layers: 4, C: 8, nodes: 3, scales: 3, connectivity } }), {
      space,
      layers: 4,
      channels: 8,
      nodes: 3,
      scales: 3,
    });
  }
  assert.deepEqual(spaceFromGenotype({ version: 1, space: 'darts', settings: { C: 16, layers: 8, nodes: 4, scales: 9 } }), {
    space: 'darts',
    layers: 8,
    channels: 16,
    nodes: 4,
  });
  assert.deepEqual(spaceFromGenotype({ version: 1, space: 'darts' }), { space: 'darts' });
  const dir = tempDir('dnas-train-geno-');
  const file = path.join(dir, 'g.json');
  fs.writeFileSync(
    file,
    JSON.stringify({ version: 1, space: 'lattice', settings: { layers: 2, C: 4, nodes: 1, scales: 2 }, cells: { cell: [['skip_connect', 0]] }, path: [0, 1] }),
  );
  const r = dnas(['train', '--genotype', file, '--layers', '3', '--out', path.join(dir, 'run')]);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /^dnas train: --layers 3 disagrees with the genotype in .*g\.json, which records layers 2; leave the flag out/);
  assert.ok(!fs.existsSync(path.join(dir, 'run')));
});

test('-h on every command prints its help and does nothing else; usage errors exit 2 on stderr', () => {
  const cwd = tempDir('dnas-cli-help-');
  fs.mkdirSync(path.join(cwd, 'runs', 'demo'), { recursive: true });
  fs.writeFileSync(path.join(cwd, 'runs', 'demo', 'config.json'), '{}');
  for (const cmd of ['demo', 'search', 'train', 'eval', 'export', 'predict', 'report', 'info', 'experiment']) {
    for (const h of ['-h', '--help']) {
      const r = dnas([cmd, h], cwd);
      assert.equal(r.status, 0, `${cmd} ${h}: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`^Usage: dnas ${cmd}`), `${cmd} ${h}`);
    }
  }
  assert.ok(fs.existsSync(path.join(cwd, 'runs', 'demo', 'config.json')), 'dnas demo --help left runs/demo alone');
  assert.match(dnas(['-v'], cwd).stdout, /^dnas \d+\.\d+\.\d+, libtorch /);
  assert.match(dnas(['help', 'info'], cwd).stdout, /^Usage: dnas info RUN_DIR/);
  const bad = dnas(['search', '--epochs'], cwd);
  assert.equal(bad.status, 2);
  assert.equal(bad.stdout, '');
  assert.match(bad.stderr, /^dnas search: --epochs needs a value; see dnas search --help/);
  assert.equal(dnas(['nope'], cwd).status, 2);
});

test('the demo clears only its own files from an earlier demo folder; a folder with other files is refused', () => {
  const dir = path.join(tempDir('dnas-demo-clear-'), 'demo');
  const run = new RunDir(dir);
  run.create();
  for (const f of [run.configFile, run.metricsFile, run.summaryFile, run.lastCheckpoint, run.integrityFile, path.join(dir, 'report.html')])
    fs.writeFileSync(f, 'x');
  fs.mkdirSync(path.join(dir, 'samples'));
  for (const f of ['samples.json', '0-image.png', '0-pred.png']) fs.writeFileSync(path.join(dir, 'samples', f), 'x');
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'mine');
  const outside = path.join(path.dirname(dir), 'outside.txt');
  fs.writeFileSync(outside, 'keep');
  fs.symlinkSync(outside, path.join(dir, 'checkpoints', 'best.pt'));
  run.clearOwnFiles();
  assert.deepEqual(fs.readdirSync(dir).sort(), ['notes.txt']);
  assert.equal(fs.readFileSync(outside, 'utf8'), 'keep', 'a link is removed as a link');
  assert.throws(() => run.create(), /is not a dnas run folder \(it holds notes\.txt\)/);
});
