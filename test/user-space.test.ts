/**
 * A user's own search space through the whole protocol, as docs/spaces.md walks through it: a
 * space module (examples/spaces/tiny-seg.js, and one with an InputChoice and a class of its own)
 * searched, frozen with inherited weights, its gap measured, stopped and resumed exactly,
 * evaluated, exported and reported, with the module named on every command and never loaded
 * from a run folder.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { missingDebianData } from '../src/data';
import { encodePng } from '../src/data/png';
import { exportRun } from '../src/export';
import { resolveConfig } from '../src/search/config';
import { runSearch } from '../src/search/run';
import { loadUserSpace } from '../src/search/user-space';
import { tempDir } from './helpers';

const ROOT = path.join(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'dnas.js');
const EXAMPLE = path.join(ROOT, 'examples', 'spaces', 'tiny-seg.js');
const LIB = path.join(ROOT, 'dist', 'src', 'index.js');
const skip = missingDebianData('fashion-scenes') ?? false;

const TINY = {
  dataset: 'fashion-scenes',
  size: [32, 32],
  trainSubset: 24,
  valSubset: 8,
  batchSize: 8,
  epochs: 4,
  warmupEpochs: 1,
  freezeEpoch: 2,
  layers: 2,
  channels: 4,
  controlGenotypes: 1,
  bnRecalibBatches: 1,
};
const FLAGS = ['--dataset', 'fashion-scenes', '--size', '32x32', '--train-subset', '24', '--val-subset', '8', '--batch-size', '8', '--epochs', '4'];
const NET = ['--warmup-epochs', '1', '--freeze-epoch', '2', '--layers', '2', '--channels', '4', '--control-genotypes', '1', '--bn-recalib-batches', '1'];

function dnas(args: string[], seconds = 120): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: seconds * 1000, killSignal: 'SIGKILL' });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

/**
 * A space module with a class of its own: two searched blocks and an InputChoice between the
 * stem's output and theirs; it leaves `marker` behind when it is loaded.
 */
function writeInputChoiceModule(dir: string, marker: string): string {
  const file = path.join(dir, 'two-paths.js');
  fs.writeFileSync(
    file,
    `const fs = require('node:fs');
const { torch, space } = require(${JSON.stringify(LIB)});
fs.writeFileSync(${JSON.stringify(marker)}, 'loaded');
const { nn } = torch;
class TwoPaths extends nn.Module {
  constructor(inChannels, C, numClasses) {
    super();
    this.registerModule('stem', new nn.Sequential(new nn.Conv2d(inChannels, C, 3, { padding: 1, bias: false }), new nn.BatchNorm2d(C)));
    for (const b of ['b0', 'b1'])
      this.registerModule(b, new space.LayerChoice({ sep: space.createOp('sep_conv_3x3', C, 1, true), skip: new nn.Identity(), pool: space.createOp('max_pool_3x3', C, 1, true) }, { label: b }));
    this.registerModule('pick', new space.InputChoice(2, { label: 'pick', names: ['stem', 'blocks'] }));
    this.registerModule('head', new nn.Conv2d(C, numClasses, 1));
  }
  forward(x) {
    const s = this.getModule('stem').forward(x);
    const mixed = this.getModule('pick').forward([s, () => this.getModule('b1').forward(this.getModule('b0').forward(s))]);
    return this.getModule('head').forward(mixed);
  }
}
module.exports = { name: 'two-paths', supernet: ({ inChannels, numClasses, config }) => new TwoPaths(inChannels, config.channels, numClasses) };
`,
  );
  return file;
}

const readJsonl = (file: string) =>
  fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

test('a space module runs the whole protocol: gap, freeze with inherited weights, an exact resume', { skip }, async () => {
  const dir = tempDir('dnas-user-space-');
  const marker = path.join(dir, 'loaded');
  const module = writeInputChoiceModule(dir, marker);

  // Uninterrupted.
  const a = await runSearch(resolveConfig({ ...TINY, space: module, out: path.join(dir, 'a') }));
  assert.equal(a.summary.phase, 'frozen');
  assert.equal(a.summary.frozenAt, 2);
  const g = a.summary.genotype as { space: string; choices: Record<string, unknown> };
  assert.equal(g.space, 'two-paths');
  assert.deepEqual(Object.keys(g.choices).sort(), ['b0', 'b1', 'pick']);
  const metrics = readJsonl(path.join(dir, 'a', 'metrics.jsonl'));
  assert.equal(metrics.length, 4);
  const search = metrics.find((m) => m.phase === 'search')!;
  // The gap needs the derived network beside the intact supernet, and the control random genotypes.
  for (const k of ['derivedScore', 'derivedRecalScore', 'gap', 'controlScore']) assert.equal(typeof search[k], 'number', k);
  assert.ok(Math.abs((search.score as number) - (search.derivedScore as number) - (search.gap as number)) < 1e-9);
  const cfgA = JSON.parse(fs.readFileSync(path.join(dir, 'a', 'config.json'), 'utf8'));
  assert.equal(cfgA.space, module);
  assert.match(cfgA.spaceSha256, /^[0-9a-f]{64}$/);

  // Its own class has no exporters: the default export writes what it can and says why not the rest.
  const ex = exportRun(path.join(dir, 'a'), { space: module });
  assert.match(ex.onnxSkipped ?? '', /no .*exporter .*TwoPaths at the root/i);
  assert.match(ex.pythonSkipped ?? '', /no exporter for module TwoPaths at the root; register one with registerPythonExporter/);
  assert.ok(ex.pt && ex.genotype && !ex.onnx && !ex.python);
  assert.throws(() => exportRun(path.join(dir, 'a'), { space: module, onnx: path.join(dir, 'x.onnx') }), /TwoPaths/);

  // Stopped after the first step of epoch 3 (frozen), then resumed: the same logs.
  let stopper: (() => void) | null = null;
  const cfgB = resolveConfig({ ...TINY, space: module, out: path.join(dir, 'b') });
  const b1 = await runSearch(cfgB, {
    onTrainer: (t) => (stopper = () => t.requestStop()),
    reporter: (ev) => {
      if (ev.event === 'step' && ev.epoch === 3) stopper?.();
    },
  });
  assert.equal(b1.summary.stopped?.epoch, 3);
  const b2 = await runSearch(cfgB, { resume: true });
  assert.equal(b2.summary.epochs, 4);
  const strip = (m: Record<string, unknown>) => ({ ...m, cpuSeconds: 0, trainCpuSeconds: 0 });
  assert.deepEqual(readJsonl(path.join(dir, 'b', 'metrics.jsonl')).map(strip), metrics.map(strip));
  assert.deepEqual(b2.summary.genotype, a.summary.genotype);
});

test('space modules: loading errors name the file and say what is expected', () => {
  const dir = tempDir('dnas-user-space-bad-');
  const write = (name: string, text: string) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, text);
    return f;
  };
  assert.throws(() => loadUserSpace(path.join(dir, 'none.js')), /space module .*none\.js does not exist/);
  assert.throws(() => loadUserSpace(write('empty.js', 'module.exports = {};')), /empty\.js must export a function \(ctx\) => supernet module, or an object/);
  assert.throws(() => loadUserSpace(write('throws.js', "throw new Error('boom');")), /throws\.js failed to load: boom/);
  assert.throws(() => loadUserSpace(write('badname.js', "module.exports = { name: 'a b', supernet() {} };")), /'name' must be 1-64 letters/);
  assert.throws(() => loadUserSpace(write('builtin.js', "module.exports = { name: 'darts', supernet() {} };")), /'name' darts is a built-in space's/);
  const notModule = loadUserSpace(write('plain.js', 'module.exports = () => ({ forward() {} });'));
  assert.throws(
    () => notModule.supernet({ inChannels: 3, numClasses: 2, task: 'segmentation', config: {} }),
    /supernet\(\) returned object, not a dnas module/,
  );
  assert.equal(loadUserSpace(EXAMPLE).name, 'tiny-seg');
});

test('the command line: --space on search, resume, eval, export, predict, report, train; a run folder never loads its module', { skip }, () => {
  const dir = tempDir('dnas-user-space-cli-');
  const run = path.join(dir, 'run');
  let r = dnas(['search', '--space', EXAMPLE, ...FLAGS, ...NET, '--out', run, '--quiet']);
  assert.equal(r.code, 0, r.out);
  const genotype = JSON.parse(fs.readFileSync(path.join(run, 'genotype.json'), 'utf8'));
  assert.equal(genotype.space, 'tiny-seg');
  assert.deepEqual(Object.keys(genotype.choices), ['block0', 'block1']);

  // A module with no choice is refused before a run folder is made.
  const plain = path.join(dir, 'plain.js');
  fs.writeFileSync(
    plain,
    `const { torch } = require(${JSON.stringify(LIB)});\nmodule.exports = ({ inChannels, numClasses }) => new torch.nn.Conv2d(inChannels, numClasses, 1);\n`,
  );
  r = dnas(['search', '--space', plain, ...FLAGS, ...NET, '--out', path.join(dir, 'plain-run')]);
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /has no LayerChoice or InputChoice, so there is nothing to search/);
  assert.ok(!fs.existsSync(path.join(dir, 'plain-run')), 'a space that cannot be built leaves no run folder');
  r = dnas(['search', '--space', path.join(dir, 'missing.js'), ...FLAGS, ...NET, '--out', path.join(dir, 'missing-run')]);
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /space module .*missing\.js does not exist/);
  assert.ok(!fs.existsSync(path.join(dir, 'missing-run')));
  // A config file never makes dnas load code: the module must be named on the command line.
  const cfgFile = path.join(dir, 'dnas.config.json');
  fs.writeFileSync(cfgFile, JSON.stringify({ space: EXAMPLE, epochs: 2 }));
  r = dnas(['search', '--config', cfgFile, ...FLAGS, '--out', path.join(dir, 'cfg-run')]);
  assert.equal(r.code, 2, r.out);
  assert.match(r.out, /dnas\.config\.json names the space module .*tiny-seg\.js; dnas loads a space module only from the command line: add --space/);
  const recorded = JSON.parse(fs.readFileSync(path.join(run, 'config.json'), 'utf8')).network;
  assert.deepEqual(recorded, { task: 'segmentation', inChannels: 3, numClasses: 11 });

  // Every later command names the module; the export is complete (ONNX, state dict, model.py).
  const png = path.join(dir, 'frame.png');
  fs.writeFileSync(png, encodePng({ width: 20, height: 24, channels: 3, data: new Uint8Array(3 * 24 * 20).map((_, i) => (i * 37) % 256) }));
  const withSpace = ['--space', EXAMPLE];
  r = dnas(['search', '--resume', run, ...withSpace]);
  assert.equal(r.code, 0, r.out);
  r = dnas(['eval', run, ...withSpace]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /frozen network of epoch 4 .*\nmIoU \d+\.\d\d%/);
  // --json: one object on stdout, scores as fractions (as metrics.jsonl).
  const last = JSON.parse(fs.readFileSync(path.join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').pop()!);
  const evalJson = JSON.parse(spawnSync(process.execPath, [BIN, 'eval', run, '--json', ...withSpace], { encoding: 'utf8' }).stdout);
  assert.equal(evalJson.event, 'eval');
  assert.ok(Math.abs(evalJson.miou - last.score) < 1e-6, `eval ${evalJson.miou} vs the run's last score ${last.score}`);
  const infoJson = JSON.parse(spawnSync(process.execPath, [BIN, 'info', run, '--json'], { encoding: 'utf8' }).stdout);
  assert.equal(infoJson.config.space, EXAMPLE);
  assert.equal(infoJson.epochs.length, 4);
  assert.deepEqual(infoJson.genotype, genotype);
  r = dnas(['export', run, ...withSpace]);
  assert.equal(r.code, 0, r.out);
  for (const f of ['model.onnx', 'model.pt', 'model.py', 'genotype.json']) assert.ok(fs.statSync(path.join(run, 'export', f)).size > 100, f);
  assert.match(fs.readFileSync(path.join(run, 'export', 'model.py'), 'utf8'), /def build\(\)/);
  r = dnas(['predict', run, png, '--out', path.join(dir, 'pred'), ...withSpace]);
  assert.equal(r.code, 0, r.out);
  assert.ok(fs.existsSync(path.join(dir, 'pred', 'frame_mask.png')));
  r = dnas(['report', run, '--no-latency', ...withSpace]);
  assert.equal(r.code, 0, r.out);
  const html = fs.readFileSync(path.join(run, 'report.html'), 'utf8');
  assert.match(html, /block0/);
  assert.doesNotMatch(r.out, /not rebuilt/);
  const train = [
    'train',
    '--genotype',
    path.join(run, 'genotype.json'),
    ...FLAGS,
    '--epochs',
    '1',
    '--layers',
    '2',
    '--channels',
    '4',
    '--out',
    path.join(dir, 'train'),
  ];
  r = dnas(train);
  assert.equal(r.code, 2, r.out);
  assert.match(r.out, /is of space 'tiny-seg', not a built-in one: name its space module with --space FILE/);
  r = dnas([...train, ...withSpace]);
  assert.equal(r.code, 0, r.out);

  // A module edited since the run: a warning, and the run still loads when the network is the same.
  const edited = path.join(dir, 'tiny-seg.js');
  fs.writeFileSync(edited, fs.readFileSync(EXAMPLE, 'utf8').replace("require('dnas')", `require(${JSON.stringify(LIB)})`) + '\n// edited\n');
  r = dnas(['eval', run, '--space', edited]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /warning: space module .*tiny-seg\.js has changed since the run was made/);

  // A run folder whose config.json names a module: nothing loads it unless the user names it.
  const marker = path.join(dir, 'loaded');
  const module = writeInputChoiceModule(dir, marker);
  const config = JSON.parse(fs.readFileSync(path.join(run, 'config.json'), 'utf8'));
  fs.writeFileSync(path.join(run, 'config.json'), JSON.stringify({ ...config, space: module }));
  for (const args of [
    ['search', '--resume', run],
    ['export', run],
    ['eval', run],
    ['predict', run, png],
  ]) {
    r = dnas(args);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.out}`);
    assert.match(r.out, /was searched in the space module .*two-paths\.js; dnas does not load code a run folder names: pass --space/, args.join(' '));
  }
  r = dnas(['report', run]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /note: the networks were not rebuilt: .*pass --space/);
  assert.ok(!fs.existsSync(marker), 'the module a run folder names was loaded');
});
