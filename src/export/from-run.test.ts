/**
 * Rebuilding a run's final network from its directory and exporting it: hand-made run
 * directories in every checkpoint phase, and real (tiny) runs of the trainer when the bundled data
 * is installed. The exported ONNX runs in onnxruntime and matches the rebuilt network; the .pt
 * loads back (here, and in Python's torch when it is available).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { runSearch } from '../cli/search';
import { CITYSCAPES_PALETTE, missingDebianData } from '../data';
import { resolveConfig } from '../search/config';
import { Genotype } from '../search/types';
import * as torch from '../torch';
import { nn, Tensor } from '../torch';
import { maxDiff, PYTHON, pythonSkipReason, tempDir } from '../../test/helpers';
import { exportRun, loadRunModel } from '.';
import { handMadeRun, TINY_RUN } from './testing';

torch.setNumThreads(1);

const LATTICE_G: Genotype = {
  version: 1,
  space: 'lattice',
  cells: {
    cell: [
      ['sep_conv_3x3', 0],
      ['skip_connect', 0],
      ['dil_conv_3x3', 1],
      ['max_pool_3x3', 1],
      ['avg_pool_3x3', 2],
    ],
  },
  path: [1, 1],
};
const LATTICE_CFG = { dataset: 'cityscapes', space: 'lattice', layers: 2, channels: 4, nodes: 3, scales: 2, strategy: 'single-stage' };

/** Max |onnxruntime - network| on a random input. */
async function onnxParity(file: string, net: nn.Module, shape: number[]): Promise<number> {
  const sess = await ort.InferenceSession.create(file, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const x = torch.randn(shape);
  const ref = torch.noGrad(() => net.forward(x) as Tensor);
  const feeds: Record<string, ort.Tensor> = { input: new ort.Tensor('float32', x.data() as Float32Array, shape) };
  const out: Record<string, ort.Tensor> = await sess.run(feeds);
  const y: ort.Tensor = out.logits;
  assert.deepEqual(y.dims, ref.shape);
  const d = maxDiff(y.data as Float32Array, ref.data() as Float32Array);
  x.dispose();
  ref.dispose();
  return d;
}

function forwardDiff(a: nn.Module, b: nn.Module, shape: number[]): number {
  return torch.tidy(() =>
    torch.noGrad(() => {
      const x = torch.randn(shape);
      return maxDiff((a.forward(x) as Tensor).data() as Float32Array, (b.forward(x) as Tensor).data() as Float32Array);
    }),
  );
}

test('hand-made runs: every checkpoint phase rebuilds the network it holds', () => {
  torch.manualSeed(11);
  const root = tempDir('dnas-export-');
  const cases = [
    { phase: 'frozen' as const, config: LATTICE_CFG, genotype: LATTICE_G, numClasses: 19, inChannels: 3, shape: [1, 3, 29, 35] },
    { phase: 'retrain' as const, config: { ...LATTICE_CFG, strategy: 'two-stage' }, genotype: LATTICE_G, numClasses: 19, inChannels: 3, shape: [2, 3, 24, 24] },
    {
      phase: 'search' as const,
      config: { dataset: 'fashion-mnist', space: 'darts', layers: 3, channels: 4, nodes: 2, strategy: 'darts', freezeEpoch: null },
      genotype: {
        version: 1,
        space: 'darts',
        cells: {
          normal: [
            ['sep_conv_3x3', 0],
            ['skip_connect', 1],
            ['max_pool_3x3', 2],
            ['dil_conv_3x3', 0],
          ],
          reduce: [
            ['skip_connect', 0],
            ['avg_pool_3x3', 1],
            ['sep_conv_5x5', 2],
            ['skip_connect', 1],
          ],
        },
      } as Genotype,
      numClasses: 10,
      inChannels: 1,
      shape: [2, 1, 28, 28],
    },
  ];
  for (const c of cases) {
    const run = handMadeRun(path.join(root, c.phase), c);
    const m = loadRunModel(run.dir);
    assert.equal(m.phase, c.phase);
    assert.equal(m.epoch, 3);
    assert.equal(m.numClasses, c.numClasses);
    assert.equal(m.inChannels, c.inChannels);
    assert.deepEqual(m.genotype, c.genotype);
    assert.equal(m.network.training, false);
    assert.deepEqual(Object.keys(m.network.stateDict()), Object.keys(run.network.stateDict()));
    assert.equal(forwardDiff(m.network, run.network, c.shape), 0, c.phase);
    m.dispose();
  }
});

test('data set metadata: Cityscapes constants when the data is not on this machine', () => {
  const run = handMadeRun(path.join(tempDir('dnas-export-'), 'cs'), {
    phase: 'frozen',
    config: LATTICE_CFG,
    genotype: LATTICE_G,
    numClasses: 19,
    inChannels: 3,
  });
  const m = loadRunModel(run.dir);
  assert.ok(m.meta);
  assert.equal(m.meta.source, 'built-in');
  assert.equal(m.meta.classNames[13], 'car');
  assert.deepEqual(
    m.meta.palette,
    CITYSCAPES_PALETTE.map((c) => [...c]),
  );
  assert.equal(m.meta.mean.length, 3);
  m.dispose();
});

test('exportRun: ONNX matches the rebuilt network, the .pt loads back, the genotype is written', async (t) => {
  torch.manualSeed(12);
  const root = tempDir('dnas-export-');
  const run = handMadeRun(path.join(root, 'run'), { phase: 'frozen', config: LATTICE_CFG, genotype: LATTICE_G, numClasses: 19, inChannels: 3 });
  // No target: all three into <run>/export/.
  const r = exportRun(run.dir);
  assert.equal(r.onnx, path.join(run.dir, 'export', 'model.onnx'));
  for (const f of [r.onnx!, r.pt!, r.genotype!]) assert.ok(fs.statSync(f).size > 0, f);
  assert.deepEqual(JSON.parse(fs.readFileSync(r.genotype!, 'utf8')), LATTICE_G);
  assert.equal(r.numClasses, 19);
  assert.equal(r.parameters, run.network.numParameters());
  const d = await onnxParity(r.onnx!, run.network, [2, 3, 45, 61]);
  t.diagnostic(`exported lattice run: max abs diff ${d.toExponential(2)}`);
  assert.ok(d < 1e-4);
  const sd = torch.load<Record<string, Tensor>>(r.pt!);
  const own = run.network.stateDict();
  assert.deepEqual(Object.keys(sd), Object.keys(own));
  for (const [k, v] of Object.entries(own)) assert.equal(maxDiff(sd[k].toArray(), v.toArray()), 0, k);
  // Only the files asked for, where asked, with a fixed input size.
  const only = exportRun(run.dir, { onnx: path.join(root, 'fixed', 'net.onnx'), height: 32, width: 48 });
  assert.equal(only.pt, undefined);
  assert.equal(only.genotype, undefined);
  assert.ok((await onnxParity(only.onnx!, run.network, [1, 3, 32, 48])) < 1e-4);
  await assert.rejects(onnxParity(only.onnx!, run.network, [1, 3, 30, 48]), /dimension|Got invalid dimensions/i);
});

test('exportRun: the .pt is a state dict that Python torch.load reads', { skip: pythonSkipReason() }, () => {
  const run = handMadeRun(path.join(tempDir('dnas-export-'), 'run'), {
    phase: 'frozen',
    config: LATTICE_CFG,
    genotype: LATTICE_G,
    numClasses: 19,
    inChannels: 3,
  });
  const { pt } = exportRun(run.dir, { pt: path.join(run.dir, 'net.pt') });
  const code = 'import sys, json, torch\nsd = torch.load(sys.argv[1])\nprint(json.dumps({k: [list(v.shape), float(v.double().sum())] for k, v in sd.items()}))';
  const r = spawnSync(PYTHON, ['-c', code, pt!], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  const py = JSON.parse(r.stdout) as Record<string, [number[], number]>;
  const own = run.network.stateDict();
  assert.deepEqual(Object.keys(py), Object.keys(own));
  for (const [k, v] of Object.entries(own)) {
    assert.deepEqual(py[k][0], v.shape, k);
    assert.ok(Math.abs(py[k][1] - v.toArray().reduce((a, b) => a + b, 0)) < 1e-3, k);
  }
});

test('errors: no run, no checkpoint, weights that do not fit', () => {
  const root = tempDir('dnas-export-');
  assert.throws(() => loadRunModel(path.join(root, 'nothing')), /no run there \(config\.json missing\)/);
  const run = handMadeRun(path.join(root, 'run'), { phase: 'frozen', config: LATTICE_CFG, genotype: LATTICE_G, numClasses: 19, inChannels: 3 });
  assert.throws(() => loadRunModel(run.dir, { checkpoint: 'best' }), /no checkpoints\/best\.pt/);
  // A config that disagrees with the checkpoint (more channels) names the file and the mismatch.
  const cfg = JSON.parse(fs.readFileSync(path.join(run.dir, 'config.json'), 'utf8'));
  fs.writeFileSync(path.join(run.dir, 'config.json'), JSON.stringify({ ...cfg, channels: 8 }));
  assert.throws(() => loadRunModel(run.dir), /last\.pt: its weights do not fit the derived network.*shape/);
  fs.rmSync(path.join(run.dir, 'checkpoints', 'last.pt'));
  assert.throws(() => loadRunModel(run.dir), /last\.pt does not exist \(the run has not finished an epoch yet\)/);
});

test('exportRun never writes through a run folder whose export/ is a symbolic link', () => {
  const root = tempDir('dnas-export-');
  const run = handMadeRun(path.join(root, 'run'), { phase: 'frozen', config: LATTICE_CFG, genotype: LATTICE_G, numClasses: 19, inChannels: 3 });
  const elsewhere = path.join(root, 'elsewhere');
  fs.mkdirSync(elsewhere);
  fs.symlinkSync(elsewhere, path.join(run.dir, 'export'));
  assert.throws(() => exportRun(run.dir), /dnas export: .*export is a symbolic link; refusing to write through it/);
  assert.deepEqual(fs.readdirSync(elsewhere), []);
});

const noData = missingDebianData('fashion-scenes') ?? false;

test('real runs (trainer): single-stage, two-stage, the two-input lattice and a DARTS run that never froze export and match', { skip: noData }, async (t) => {
  const root = tempDir('dnas-export-');
  const tiny = TINY_RUN;
  const cases = [
    { name: 'single-stage', cfg: { ...tiny, dataset: 'fashion-scenes', space: 'lattice', strategy: 'single-stage' }, phase: 'frozen', shape: [2, 3, 64, 64] },
    { name: 'two-stage', cfg: { ...tiny, dataset: 'fashion-scenes', space: 'lattice-dense', strategy: 'two-stage' }, phase: 'retrain', shape: [1, 3, 50, 70] },
    {
      name: 'two-input lattice',
      cfg: { ...tiny, dataset: 'fashion-scenes', space: 'lattice-adl', strategy: 'single-stage' },
      phase: 'frozen',
      shape: [1, 3, 45, 61],
    },
    { name: 'darts', cfg: { ...tiny, dataset: 'fashion-mnist', space: 'darts', strategy: 'darts' }, phase: 'search', shape: [3, 1, 28, 28] },
  ];
  for (const c of cases) {
    const cfg = resolveConfig({ ...c.cfg, out: path.join(root, c.name) });
    await runSearch(cfg, { quiet: true });
    const m = loadRunModel(cfg.out);
    assert.equal(m.phase, c.phase, c.name);
    assert.equal(m.meta?.source, 'dataset');
    const r = exportRun(cfg.out);
    const d = await onnxParity(r.onnx!, m.network, c.shape);
    t.diagnostic(`${c.name} run (${c.phase}): max abs diff ${d.toExponential(2)}`);
    assert.ok(d < 1e-4, `${c.name}: ${d}`);
    m.dispose();
  }
});

test('a lattice run whose input size came from its data (no --size) rebuilds with the ASPP rates it trained with', () => {
  torch.manualSeed(9);
  // 32 x 32: the scale-0 features are 8 x 8, so the fitted rate is 3 where the default is 12.
  const genotype: Genotype = {
    version: 1,
    space: 'lattice',
    settings: { inputSize: [32, 32] },
    cells: {
      cell: [
        ['sep_conv_3x3', 0],
        ['skip_connect', 0],
        ['dil_conv_3x3', 1],
      ],
    },
    path: [0, 0],
  };
  const run = handMadeRun(path.join(tempDir(), 'run'), {
    phase: 'frozen',
    config: { dataset: 'cityscapes', space: 'lattice', layers: 2, channels: 4, nodes: 2, scales: 2, strategy: 'single-stage' },
    genotype,
    numClasses: 19,
    inChannels: 3,
    inputSize: [32, 32],
  });
  const m = loadRunModel(run.dir);
  const x = torch.randn([1, 3, 32, 32]);
  assert.equal(torch.maxAbsDiff(m.network.forward(x) as Tensor, run.network.forward(x) as Tensor), 0);
  m.dispose();
  run.network.dispose();
});
