/**
 * Python export: the model.py written for derived, built and user-declared networks is run by
 * PyTorch itself (/usr/bin/python3): build(), load_state_dict(torch.load('model.pt')) with
 * strict=True, eval, forward on inputs saved by dnas, against dnas's own eval-mode outputs. The
 * Python runs are skipped, with the reason, where Python has no torch; the error cases are not.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { missingDebianData } from '../data';
import { resolveConfig } from '../search/config';
import {
  ASPPLite,
  Cell,
  CustomSpace,
  DartsSpace,
  FactorizedReduce,
  Genotype,
  InputChoice,
  LatticeSpace,
  MixedOp,
  searchCellParts,
  SepConv,
  Zero,
} from '../space';
import * as torch from '../torch';
import { nn, Tensor } from '../torch';
import { maxDiff, PYTHON, pythonSkipReason, tempDir } from '../../test/helpers';
import { exportPython, exportRun, formatPython, loadRunModel, py, PythonExportError, registerPythonExporter, savePython } from '.';
import { handMadeRun, LATTICE_G, randomizeBatchNorm } from './testing';

torch.setNumThreads(1);
const TOL = 1e-5;
const skip = pythonSkipReason();

let root: string | null = null;
/** A fresh folder inside this file's temporary folder. */
function freshDir(): string {
  root ??= tempDir('dnas-python-');
  return fs.mkdtempSync(path.join(root, 'case-'));
}

/** Loads model.py, the weights and the inputs in PyTorch, runs the network on each input (eval, no grad), saves the outputs. */
const DRIVER = `
import importlib.util, json, sys, torch
torch.set_num_threads(1)
model_py, weights, inputs, outputs = sys.argv[1:5]
spec = importlib.util.spec_from_file_location('model', model_py)
model = importlib.util.module_from_spec(spec)
spec.loader.exec_module(model)
net = model.build()
net.load_state_dict(torch.load(weights))  # strict: the same keys, parameters and buffers
net.eval()
with torch.no_grad():
    ys = {k: net(x) for k, x in torch.load(inputs).items()}
torch.save(ys, outputs)
print(json.dumps({'keys': len(net.state_dict()), 'training': net.training}))
`;

/** The imports a generated file may have: torch and math only. */
function assertStandalone(source: string): void {
  const imports = source.split('\n').filter((l) => /^(import|from) /.test(l));
  for (const l of imports) assert.ok(['import math', 'import torch', 'import torch.nn.functional as F', 'from torch import nn'].includes(l), l);
  assert.match(source, /^def build\(\):$/m);
  assert.match(source, /model\.load_state_dict\(torch\.load\('model\.pt'\)\)/);
}

/**
 * Runs `pyFile` with `ptFile` in Python on a random input of each shape; returns the largest
 * |PyTorch - dnas| over them (shapes and finiteness checked).
 */
function runInPython(net: nn.Module, pyFile: string, ptFile: string, shapes: number[][]): number {
  net.eval();
  const dir = path.dirname(pyFile);
  const inputs: Record<string, Tensor> = {};
  shapes.forEach((s, i) => (inputs[`x${i}`] = torch.randn(s)));
  const want = torch.tidy(() => torch.noGrad(() => Object.fromEntries(Object.entries(inputs).map(([k, x]) => [k, net.forward(x) as Tensor]))));
  torch.save(inputs, path.join(dir, 'inputs.pt'));
  const r = spawnSync(PYTHON, ['-c', DRIVER, pyFile, ptFile, path.join(dir, 'inputs.pt'), path.join(dir, 'outputs.pt')], {
    encoding: 'utf8',
    timeout: 300_000,
  });
  assert.equal(r.status, 0, `python failed: ${r.error?.message ?? ''}\n${r.stderr}`);
  const info = JSON.parse(r.stdout.trim().split('\n').pop()!) as { keys: number; training: boolean };
  assert.equal(info.keys, Object.keys(net.stateDict()).length);
  assert.equal(info.training, false);
  const got = torch.load<Record<string, Tensor>>(path.join(dir, 'outputs.pt'));
  let worst = 0;
  for (const [k, y] of Object.entries(want)) {
    assert.deepEqual(got[k].shape, y.shape, `output shape for input [${inputs[k].shape}]`);
    const a = got[k].toArray();
    assert.ok(a.every(Number.isFinite), 'finite outputs');
    worst = Math.max(worst, maxDiff(a, y.toArray()));
  }
  torch.dispose([inputs, want, got]);
  return worst;
}

/** Writes model.py and model.pt of `net` into a fresh folder and compares PyTorch's outputs with dnas's. */
function parity(net: nn.Module, shapes: number[][], genotype?: unknown): number {
  const dir = freshDir();
  const pyFile = savePython(net, path.join(dir, 'model.py'), { genotype, title: 'test network' });
  torch.save(net.stateDict(), path.join(dir, 'model.pt'));
  assertStandalone(fs.readFileSync(pyFile, 'utf8'));
  return runInPython(net, pyFile, path.join(dir, 'model.pt'), shapes);
}

function report(t: { diagnostic: (s: string) => void }, name: string, d: number): void {
  t.diagnostic(`${name}: max abs diff ${d.toExponential(2)}`);
  assert.ok(d < TOL, `${name}: max abs diff ${d} >= ${TOL}`);
}

/** Whether `net`'s eval output on `x` has values that differ (not a constant). */
function varies(net: nn.Module, shape: number[]): boolean {
  return torch.tidy(() => torch.noGrad(() => (net.forward(torch.randn(shape)) as Tensor).std().item() > 1e-3));
}

test('lattice (short and dense): derived networks of random genotypes, odd input sizes', { skip }, (t) => {
  torch.manualSeed(1);
  const before = torch.memory().numTensors;
  for (const connectivity of ['short', 'dense'] as const) {
    const space = new LatticeSpace({ layers: 4, C: 4, nodes: 3, scales: 3, numClasses: 5, connectivity });
    randomizeBatchNorm(space.module);
    const g = space.randomGenotype(connectivity === 'short' ? 3 : 5);
    const net = space.derive(g, { release: true });
    space.releaseArchitecture();
    assert.ok(varies(net, [1, 3, 37, 45]));
    const d = parity(
      net,
      [
        [2, 3, 37, 45],
        [1, 3, 64, 48],
        [1, 3, 29, 17],
      ],
      g,
    );
    report(t, `lattice ${connectivity} derived`, d);
    net.dispose();
  }
  assert.equal(torch.memory().numTensors, before, 'no tensor leaks');
});

test('lattice: a genotype with every operation kind, a path through down/same/up resampling', { skip }, (t) => {
  torch.manualSeed(2);
  const space = new LatticeSpace({ layers: 4, C: 4, nodes: 4, scales: 3, numClasses: 3 });
  const g: Genotype = {
    version: 1,
    space: 'lattice',
    cells: {
      cell: [
        ['sep_conv_5x5', 0],
        ['dil_conv_3x3', 0],
        ['skip_connect', 1],
        ['max_pool_3x3', 1],
        ['avg_pool_3x3', 2],
        ['dil_conv_5x5', 0],
        ['sep_conv_3x3', 3],
      ],
    },
    path: [1, 2, 2, 1],
  };
  randomizeBatchNorm(space.module);
  const net = space.derive(g, { release: true });
  report(t, 'lattice every op', parity(net, [[2, 3, 41, 35]], g));
  net.dispose();
});

test('two-input lattice (lattice-adl): derived network of a random genotype, odd input sizes', { skip }, (t) => {
  torch.manualSeed(3);
  const space = new LatticeSpace({ layers: 4, C: 4, nodes: 2, scales: 3, numClasses: 3, cellInputs: 2 });
  randomizeBatchNorm(space.module);
  const g = { ...space.randomGenotype(4), path: [1, 2, 1, 0] };
  const net = space.derive(g, { release: true });
  space.releaseArchitecture();
  assert.ok(varies(net, [1, 3, 37, 45]));
  report(
    t,
    'lattice-adl derived',
    parity(
      net,
      [
        [2, 3, 37, 45],
        [1, 3, 29, 17],
      ],
      g,
    ),
  );
  net.dispose();
});

test('fusion lattice (lattice-fusion): derived network of a random genotype, odd input sizes', { skip }, (t) => {
  torch.manualSeed(4);
  const space = new LatticeSpace({ layers: 4, C: 4, nodes: 2, scales: 3, numClasses: 3, connectivity: 'fusion', denseInputs: 2 });
  randomizeBatchNorm(space.module);
  const g = space.randomGenotype(6);
  const net = space.derive(g, { release: true });
  space.releaseArchitecture();
  assert.ok(varies(net, [1, 3, 37, 45]));
  report(t, 'lattice-fusion derived', parity(net, [[2, 3, 37, 45]], g));
  net.dispose();
});

test('DARTS: derived network (reductions, factorized reduce on odd sizes) and a fresh network (build)', { skip }, (t) => {
  torch.manualSeed(4);
  const space = new DartsSpace({ C: 4, layers: 5, nodes: 3, numClasses: 10, inChannels: 3 });
  randomizeBatchNorm(space.module);
  const g = space.randomGenotype(7);
  const built = space.build({
    ...g,
    cells: {
      ...g.cells,
      reduce: [
        ['conv_7x1_1x7', 0],
        ['skip_connect', 1],
        ['avg_pool_3x3', 0],
        ['sep_conv_5x5', 2],
        ['skip_connect', 3],
        ['max_pool_3x3', 1],
      ],
    },
    concat: { normal: [3, 4], reduce: [2, 3, 4] },
  } as Genotype);
  randomizeBatchNorm(built);
  const net = space.derive(g, { release: true });
  assert.ok(varies(net, [2, 3, 17, 19]));
  report(
    t,
    'darts derived',
    parity(
      net,
      [
        [3, 3, 17, 19],
        [2, 3, 32, 32],
      ],
      g,
    ),
  );
  report(t, 'darts built', parity(built, [[2, 3, 15, 21]]));
  net.dispose();
  built.dispose();
});

test('lattice: a fresh network of a genotype (space.build), fitted ASPP rates', { skip }, (t) => {
  torch.manualSeed(5);
  const space = new LatticeSpace({ layers: 3, C: 4, nodes: 3, scales: 3, numClasses: 4, connectivity: 'dense', inputSize: [48, 64] });
  const net = space.build(space.randomGenotype(2));
  randomizeBatchNorm(net);
  report(t, 'lattice-dense built', parity(net, [[2, 3, 33, 51]]));
  space.dispose();
  net.dispose();
});

/** The user-declared space of the tests: layer choices (one with zero operations) and a search cell, frozen in place by derive. */
function customSpace(): CustomSpace {
  return new CustomSpace(
    () =>
      new nn.Sequential(
        new nn.Conv2d(3, 4, 3, { padding: 1 }),
        new MixedOp({ sep: new SepConv(4, 4, 3, 1, 1), skip: new nn.Identity(), none: new Zero(1) }, { label: 'b1' }),
        new Cell(
          searchCellParts({
            C: 4,
            stride: 2,
            numInputs: 1,
            nodes: 2,
            preprocess: [],
            label: 'c',
            ops: ['none', 'skip_connect', 'sep_conv_3x3', 'max_pool_3x3'],
          }),
        ),
        new MixedOp({ none: new Zero(1), conv: new nn.Conv2d(8, 8, 1), reduce: new FactorizedReduce(8, 8) }, { label: 'b3' }),
      ),
    { name: 'tiny' },
  );
}

test('user-declared space: frozen choices, zero operations inside a cell and on their own', { skip }, (t) => {
  torch.manualSeed(7);
  const space = customSpace();
  // Node 0 of the cell has only a zero operation (zeros at stride 2); node 1 sums a factorized
  // reduction and a zero operation.
  const choices = { b1: 'sep', 'c.n0.i0': 'none', 'c.n1.i0': 'skip_connect', 'c.n1.i1': 'none', b3: 'conv' };
  const net = space.derive({ version: 1, space: 'tiny', choices }, { release: true });
  randomizeBatchNorm(net);
  assert.ok(varies(net, [2, 3, 9, 7]));
  report(t, 'custom space, frozen', parity(net, [[2, 3, 9, 7]]));
  // Only a zero operation selected at the end: zeros of the right shape.
  const zeros = space.build({ version: 1, space: 'tiny', choices: { ...choices, 'c.n0.i0': 'max_pool_3x3', b3: 'none' } });
  randomizeBatchNorm(zeros);
  const shape = torch.tidy(() => (zeros.eval().forward(torch.randn([1, 3, 9, 7])) as Tensor).shape);
  assert.deepEqual(shape, [1, 8, 5, 4]);
  report(t, 'custom space, zero output', parity(zeros, [[1, 3, 9, 7]]));
  space.dispose();
  zeros.dispose();
});

test('a lattice supernet with every choice frozen by hand: input choices at the nodes and the output, zero nodes', { skip }, (t) => {
  torch.manualSeed(9);
  const space = new LatticeSpace({ layers: 3, C: 4, nodes: 2, scales: 2, numClasses: 3, connectivity: 'dense' });
  randomizeBatchNorm(space.module);
  const frozen = { inputs: 0, zeros: 0 };
  space.choices().forEach((c, i) => {
    if (c instanceof InputChoice) {
      c.freeze(c.nCandidates > 1 ? [c.nCandidates - 1, 0] : [0]);
      frozen.inputs++;
    } else {
      c.freeze([i % c.optionNames.length], true);
      if (i % c.optionNames.length === 0) frozen.zeros++; // 'none'
    }
  });
  assert.ok(frozen.inputs > 5 && frozen.zeros > 0, JSON.stringify(frozen));
  assert.ok(varies(space.module.eval(), [1, 3, 27, 35]));
  report(t, 'frozen lattice supernet', parity(space.module, [[1, 3, 27, 35]]));
  space.dispose();
});

/** A user module: two paths and the input, combined by an input choice (the second path lazy). */
class TwoPaths extends nn.Module {
  readonly a = this.registerModule('a', new nn.Conv2d(4, 4, 3, { padding: 1 }));
  readonly b = this.registerModule('b', new nn.Conv2d(4, 4, 1));
  readonly pick = this.registerModule('pick', new InputChoice(3, { label: 'pick', nChosen: 2 }));
  forward(x: Tensor): Tensor {
    return this.pick.forward([this.a.forward(x), () => this.b.forward(x).sigmoid(), x]);
  }
}

const TWO_PATHS_PY = `
class TwoPaths(nn.Module):
    """Two paths and the input, combined by a frozen input choice."""

    def __init__(self, a, b, pick):
        super().__init__()
        self.a, self.b, self.pick = a, b, pick

    def forward(self, x):
        return self.pick([self.a(x), lambda: torch.sigmoid(self.b(x)), x])
`;

test('a module class without a Python exporter is an error naming it; registerPythonExporter makes it export', (t) => {
  torch.manualSeed(8);
  const space = new CustomSpace(() => new nn.Sequential(new nn.Conv2d(3, 4, 3, { padding: 1 }), new TwoPaths()), { name: 'paths' });
  const net = space.derive({ version: 1, space: 'paths', choices: { pick: [2, 1] } }, { release: true });
  assert.throws(
    () => exportPython(net),
    (e: Error) => {
      assert.ok(e instanceof PythonExportError);
      assert.equal(e.message, "Python export: no exporter for module TwoPaths at '1'; register one with registerPythonExporter(TwoPaths, ...)");
      assert.equal(e.modulePath, '1');
      assert.equal(e.moduleClass, 'TwoPaths');
      return true;
    },
  );
  registerPythonExporter(TwoPaths, (ctx, m) =>
    py.call(ctx.define('TwoPaths', TWO_PATHS_PY), [], { a: ctx.build(m.a), b: ctx.build(m.b), pick: ctx.build(m.pick) }),
  );
  assert.throws(() => registerPythonExporter(TwoPaths, (_c, _m) => py.call('X')), /TwoPaths already has a Python exporter/);
  const source = exportPython(net);
  assert.match(source, /class TwoPaths\(nn\.Module\):/);
  assert.match(source, /InputChoice\(label='pick', n_candidates=3, selected=\[2, 1\]\)/);
  if (skip) t.diagnostic(`PyTorch run skipped: ${skip}`);
  else report(t, 'user module with an input choice', parity(net, [[2, 3, 6, 5]]));
  space.dispose();
});

test('supernets, released candidates and shared modules are refused with the module named', () => {
  const lattice = new LatticeSpace({ layers: 2, C: 4, nodes: 2, scales: 2, numClasses: 3 });
  assert.throws(
    () => exportPython(lattice.module),
    /Python export: InputChoice at 'output' is search choice 'output' weighted by architecture parameters.*derive/,
  );
  const darts = new DartsSpace({ C: 4, layers: 3, nodes: 2, numClasses: 3 });
  assert.throws(() => exportPython(darts.module), /MixedOp at 'cells\.0\.ops\.0' is search choice 'normal\.n0\.i0'/);
  const released = new MixedOp({ a: new nn.ReLU(), b: new nn.Identity() }, { label: 'x' });
  released.freeze([0], true);
  released.frozen = [1];
  assert.throws(() => exportPython(released), /MixedOp at the root has no candidate 'b' \(it was released\)/);
  const relu = new nn.ReLU();
  assert.throws(() => exportPython(new nn.Sequential(relu, relu)), /ReLU at '0' is used twice \(a shared module\)/);
  lattice.dispose();
  darts.dispose();
});

test('layout: constructor calls on one line when short, one module per line otherwise, Python literals', () => {
  const conv = py.call('nn.Conv2d', [3, 8, 3], { stride: 2, padding: 1, bias: false, groups: undefined });
  assert.equal(formatPython(conv), 'nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False)');
  assert.equal(
    formatPython(py.call('nn.Sequential', [conv, py.call('nn.ReLU')])),
    'nn.Sequential(\n    nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False),\n    nn.ReLU(),\n)',
  );
  assert.equal(formatPython(py.tuple([1, 0, py.call('nn.Sequential', [py.call('A'), py.call('B')])])), '(1, 0, nn.Sequential(\n    A(),\n    B(),\n))');
  assert.equal(
    formatPython(py.value({ a: [1, 2.5, -3e-7], b: null, c: true, 'd e': "it's" })),
    `{'a': [1, 2.5, -3e-7], 'b': None, 'c': True, 'd e': 'it\\'s'}`,
  );
  assert.equal(formatPython(py.tuple([1])), '(1,)');
  assert.equal(formatPython(py.value('a\nb\\c\u0001')), "'a\\nb\\\\c\\u0001'");
  assert.throws(() => py.value(NaN), /cannot write the number NaN/);
  const source = exportPython(new nn.Sequential(new nn.Conv2d(1, 2, [1, 3], { padding: [0, 1] }), new nn.BatchNorm2d(2, { momentum: null, eps: 1e-3 })));
  assert.match(source, /nn\.Conv2d\(1, 2, \(1, 3\), padding=\(0, 1\)\)/);
  assert.match(source, /nn\.BatchNorm2d\(2, eps=0\.001, momentum=None\)/);
  assert.doesNotMatch(source, /^class /m, 'torch.nn layers need no class of their own');
  assert.doesNotMatch(source, /import math/);
  // Only the classes a network uses.
  const lattice = new LatticeSpace({ layers: 2, C: 4, nodes: 2, scales: 2, numClasses: 3 });
  const latticeSource = exportPython(lattice.derive(LATTICE_G, { release: true }));
  const classes = (src: string) => [...src.matchAll(/^class (\w+)\(nn\.Module\):$/gm)].map((m) => m[1]);
  assert.deepEqual(classes(latticeSource).sort(), ['ASPPLite', 'Cell', 'DilConv', 'LatticeNetwork', 'LatticeNode', 'ReLUConvBN', 'Resample', 'SepConv'].sort());
  assert.match(latticeSource, /^ {4}return LatticeNetwork\($/m);
  const darts = new DartsSpace({ C: 4, layers: 3, nodes: 2, numClasses: 3 });
  const dartsSource = exportPython(darts.derive(darts.randomGenotype(1), { release: true }));
  assert.ok(['Cell', 'DartsNetwork', 'FactorizedReduce', 'ReLUConvBN'].every((c) => classes(dartsSource).includes(c)));
  assert.ok(!classes(dartsSource).includes('MixedOp') && !classes(dartsSource).includes('LatticeNode'));
  lattice.dispose();
  darts.dispose();
});

test('exportRun: model.py beside model.pt by default, --python target alone, and it loads the .pt', async (t) => {
  torch.manualSeed(12);
  const root = freshDir();
  const config = { dataset: 'cityscapes', space: 'lattice', layers: 2, channels: 4, nodes: 2, scales: 2, strategy: 'single-stage' };
  const run = handMadeRun(path.join(root, 'run'), { phase: 'frozen', config, genotype: LATTICE_G, numClasses: 19, inChannels: 3 });
  const r = exportRun(run.dir);
  assert.equal(r.python, path.join(run.dir, 'export', 'model.py'));
  const source = fs.readFileSync(r.python!, 'utf8');
  assertStandalone(source);
  assert.match(source, /^"""dnas lattice network of run 'run' \(frozen, epoch 3\)/);
  assert.match(source, /^CLASS_NAMES = \[/m);
  assert.match(source, /^MEAN = \[0\.485, 0\.456, 0\.406\]$/m);
  assert.match(source, /'path': \[1, 0\]/);
  if (skip) t.diagnostic(`PyTorch run skipped: ${skip}`);
  else report(t, 'exported lattice run', runInPython(run.network, r.python!, r.pt!, [[2, 3, 45, 61]]));
  // Only the Python file, where asked.
  const only = exportRun(run.dir, { python: path.join(root, 'py', 'net.py') });
  assert.deepEqual([only.onnx, only.pt, only.genotype], [undefined, undefined, undefined]);
  assert.match(fs.readFileSync(only.python!, 'utf8'), /from net import build/);
  // The command line: --python FILE.
  const { exportCmd } = require('../cli/ship') as typeof import('../cli/ship');
  const cli = path.join(root, 'cli', 'model.py');
  assert.equal(await exportCmd([run.dir, '--python', cli]), 0);
  assert.equal(fs.readFileSync(cli, 'utf8'), fs.readFileSync(r.python!, 'utf8'));
  run.network.dispose();
});

const noData = missingDebianData('brain-mri') ?? false;

test('a trained run (single-stage, brain MRI): dnas export writes model.py that PyTorch runs like dnas', { skip: skip || noData }, async (t) => {
  const { runSearch } = require('../cli/search') as typeof import('../cli/search');
  const { TINY_BRAIN } = require('../../test/tiny-task') as typeof import('../../test/tiny-task');
  const out = path.join(freshDir(), 'run');
  const cfg = resolveConfig({ ...TINY_BRAIN, nodes: 2, epochs: 3, freezeEpoch: 2, out });
  await runSearch(cfg, { quiet: true });
  const r = exportRun(out);
  assert.equal(r.phase, 'frozen');
  const m = loadRunModel(out);
  report(t, 'trained brain-mri run', runInPython(m.network, r.python!, r.pt!, [[2, m.inChannels, 33, 27]]));
  m.dispose();
});

test('partial-channel connections (DARTS with reductions on odd sizes, lattice): derived networks', { skip }, (t) => {
  torch.manualSeed(6);
  const darts = new DartsSpace({ C: 8, layers: 3, nodes: 3, numClasses: 5, inChannels: 3, partialChannels: 2 });
  randomizeBatchNorm(darts.module);
  const g = darts.randomGenotype(1);
  const dnet = darts.derive(g, { release: true });
  report(
    t,
    'darts partial',
    parity(
      dnet,
      [
        [2, 3, 17, 19],
        [1, 3, 16, 16],
      ],
      g,
    ),
  );
  const lattice = new LatticeSpace({ layers: 3, C: 8, nodes: 2, scales: 3, inChannels: 1, numClasses: 4, partialChannels: 4 });
  randomizeBatchNorm(lattice.module);
  const lg = lattice.randomGenotype(2);
  const lnet = lattice.derive(lg, { release: true });
  report(t, 'lattice partial', parity(lnet, [[2, 1, 37, 29]], lg));
  dnet.dispose();
  lnet.dispose();
});

// Keep this test last: it replaces ASPPLite's Python exporter for the rest of this process.
test('exportRun: with the default targets, a network that does not export to Python still gets its other files', () => {
  const run = handMadeRun(path.join(freshDir(), 'run'), {
    phase: 'frozen',
    config: { dataset: 'cityscapes', space: 'lattice', layers: 2, channels: 4, nodes: 2, scales: 2, strategy: 'single-stage' },
    genotype: LATTICE_G,
    numClasses: 19,
    inChannels: 3,
  });
  registerPythonExporter(ASPPLite, (ctx, m) => ctx.fail(m, 'is refused by this test'), { override: true });
  const r = exportRun(run.dir);
  assert.equal(r.python, undefined);
  assert.equal(r.pythonSkipped, "Python export: ASPPLite at 'heads.s0' is refused by this test");
  assert.ok(fs.existsSync(r.onnx!) && fs.existsSync(r.pt!) && fs.existsSync(r.genotype!));
  assert.ok(!fs.existsSync(path.join(run.dir, 'export', 'model.py')));
  // Asked for, it is an error.
  assert.throws(() => exportRun(run.dir, { python: path.join(run.dir, 'net.py') }), /ASPPLite at 'heads\.s0' is refused by this test/);
  run.network.dispose();
});
