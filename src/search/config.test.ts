import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSearchArgs } from '../cli/args';
import { LatticeSpace } from '../space';
import { buildSearchable } from './adapter';
import { configSchema, defaultConfig, FIELDS, resolveConfig } from './config';

test('defaults resolve and every field has a default, a doc and a schema', () => {
  const c = resolveConfig({});
  // Settings left to the algorithm resolve to the algorithm's own.
  assert.deepEqual(c, { ...defaultConfig(), relaxation: 'softmax', temperature: { kind: 'exponential', start: 1, end: 0.1, fromEpoch: 2, toEpoch: 4 } });
  for (const [k, f] of Object.entries(FIELDS)) {
    assert.ok(f.doc.length > 0, k);
    assert.equal(f.check(f.default), null, `default of ${k} passes its own check`);
  }
  const schema = configSchema() as { properties: Record<string, unknown> };
  assert.deepEqual(Object.keys(schema.properties).sort(), Object.keys(FIELDS).sort());
});

test('an invalid config names each bad field, its value and the allowed values', () => {
  assert.throws(
    () => resolveConfig({ strategy: 'darts3', epochs: 0, colour: 'red' }, 'my.json'),
    (e: Error) => {
      assert.match(e.message, /invalid my\.json/);
      assert.match(e.message, /unknown field 'colour'/);
      assert.match(e.message, /'strategy' is "darts3"; expected one of single-stage, darts, darts2, gdas, two-stage or null/);
      assert.match(e.message, /'epochs' is 0; expected an integer >= 1/);
      return true;
    },
  );
  assert.throws(() => resolveConfig({ epochs: 5, freezeEpoch: 7 }), /'freezeEpoch' \(7\) must be after warmupEpochs \(2\) and before epochs \(5\)/);
  assert.throws(() => resolveConfig({ space: 'darts' }), /space 'darts' classifies images; use dataset 'fashion-mnist'/);
});

test('command-line flags map onto fields and override the config file', () => {
  const { partial, flags } = parseSearchArgs([
    '--epochs',
    '7',
    '--crop=64x96',
    '--freeze-epoch',
    'null',
    '--arch-betas',
    '0.9,0.99',
    '--entropy-weight',
    '{"kind":"linear","start":0,"end":0.01}',
    '--json',
    '--skip-bad',
    '--strategy',
    'gdas',
  ]);
  assert.deepEqual(partial, {
    epochs: 7,
    crop: [64, 96],
    freezeEpoch: null,
    archBetas: [0.9, 0.99],
    entropyWeight: { kind: 'linear', start: 0, end: 0.01 },
    skipBad: true,
    strategy: 'gdas',
  });
  assert.equal(flags.json, true);
  assert.throws(() => parseSearchArgs(['--epoch', '3']), /unknown flag --epoch/);
  assert.throws(() => parseSearchArgs(['--crop', '64']), /--crop must look like 64x128/);
  assert.deepEqual(parseSearchArgs(['--size', '96x80']).partial, { size: [96, 80] });
  assert.throws(() => resolveConfig({ size: [2, 80] }), /'size' is \[2,80\]; expected a pair \[a, b\] of integers >= 4 or null/);
});

test('algorithm and protocol are separate settings; the older strategy values are aliases', () => {
  const c = resolveConfig({ strategy: 'gdas' });
  assert.equal(c.algorithm, 'gdas');
  assert.equal(c.protocol, 'none');
  assert.equal(c.strategy, null);
  // gdas means gumbel-hard with an annealed temperature (GDAS: 10 -> 0.1 over the search)
  assert.equal(c.relaxation, 'gumbel-hard');
  assert.deepEqual(c.temperature, { kind: 'exponential', start: 10, end: 0.1, fromEpoch: 2, toEpoch: 12 });
  assert.deepEqual([resolveConfig({ strategy: 'two-stage' }).algorithm, resolveConfig({ strategy: 'two-stage' }).protocol], ['darts', 'two-stage']);
  assert.deepEqual([resolveConfig({ strategy: 'darts2' }).algorithm, resolveConfig({ strategy: 'darts2' }).protocol], ['darts2', 'none']);
  assert.throws(() => resolveConfig({ algorithm: 'gdas', relaxation: 'softmax' }), /algorithm 'gdas' samples one operation per choice/);
  assert.throws(() => resolveConfig({ strategy: 'gdas', protocol: 'single-stage' }), /'strategy' gdas means protocol 'none', but 'protocol' is 'single-stage'/);
  // settings that do not apply are not checked: darts never freezes, so 2 epochs are fine
  assert.equal(resolveConfig({ strategy: 'darts', epochs: 2, warmupEpochs: 1, freezeEpoch: 6 }).epochs, 2);
  assert.throws(() => resolveConfig({ epochs: 3 }), /protocol 'single-stage' needs at least one search epoch/);
});

test('settings are range-checked, and a config must be a plain object without prototype keys', () => {
  assert.throws(() => resolveConfig({ threads: 1000 }), /'threads' is 1000; expected an integer in \[1, \d+\] \(4 per core\)/);
  assert.throws(() => resolveConfig({ archBetas: [0.5, 1.5] }), /'archBetas' is \[0.5,1.5\]; expected a pair \[b1, b2\] of numbers in \[0, 1\)/);
  assert.throws(() => resolveConfig(null as never, 'my.json'), /invalid my\.json: the settings must be an object of fields \(got null\)/);
  assert.throws(() => resolveConfig([1, 2] as never), /must be an object of fields \(got an array\)/);
  assert.throws(
    () => resolveConfig(JSON.parse('{"__proto__": {"epochs": 3}, "constructor": 1}')),
    /unknown field '__proto__'[\s\S]*unknown field 'constructor'/,
  );
});

test('a config file must hold an object of settings', () => {
  const fs = require('node:fs') as typeof import('node:fs');
  const dir = fs.mkdtempSync(require('node:path').join(require('node:os').tmpdir(), 'dnas-cfgfile-'));
  for (const [name, text, got] of [
    ['a.json', '[1, 2]', 'an array'],
    ['n.json', 'null', 'null'],
    ['s.yaml', '42\n', 'number'],
  ]) {
    fs.writeFileSync(`${dir}/${name}`, text);
    assert.throws(
      () => parseSearchArgs(['--config', `${dir}/${name}`]),
      new RegExp(`config file '.*${name.replace('.', '\\.')}' must hold an object of settings .*, not ${got}`),
    );
  }
});

test('path sampling and the cost budget are checked with the settings they depend on', () => {
  assert.throws(() => resolveConfig({ samplePaths: 1, relaxation: 'gumbel' }), /'samplePaths' samples under the softmax relaxation/);
  assert.throws(() => resolveConfig({ samplePaths: 1, algorithm: 'gdas' }), /algorithm 'gdas' already runs one sampled option/);
  assert.equal(resolveConfig({ samplePaths: 2 }).samplePaths, 2);
  assert.throws(() => resolveConfig({ samplePaths: 1.5 }), /'samplePaths' is 1.5/);
  assert.throws(() => resolveConfig({ cost: 'flops' }), /'cost' is "flops"/);
  assert.equal(resolveConfig({ cost: 'latency', costTarget: 2.5 }).costTarget, 2.5);
});

test('the lattice forms and edge normalisation reach the space a search builds; edge weights refuse one-option relaxations', () => {
  const data = { kind: 'segmentation' as const, numClasses: 3, inChannels: 3, inputSize: [32, 32] as [number, number] };
  const names = ['lattice', 'lattice-dense', 'lattice-fusion', 'lattice-adl'].map((space) => {
    const net = buildSearchable(resolveConfig({ space, layers: 2, channels: 4, nodes: 3, scales: 2, edgeNorm: true }), data) as LatticeSpace;
    const groups = net.archGroups().map(([n]) => n);
    assert.ok(groups.includes('edges.cell'), `${space}: ${groups}`);
    const name = net.name;
    net.dispose();
    return name;
  });
  assert.deepEqual(names, ['lattice', 'lattice-dense', 'lattice-fusion', 'lattice-adl']);
  assert.throws(() => resolveConfig({ edgeNorm: true, algorithm: 'gdas' }), /'edgeNorm' weights each node's edges softly/);
  assert.throws(() => resolveConfig({ edgeNorm: true, relaxation: 'gumbel-hard' }), /'edgeNorm' weights each node's edges softly/);
  assert.throws(() => resolveConfig({ edgeNorm: true, samplePaths: 1 }), /'edgeNorm' with 'samplePaths' would run 1 edge/);
  assert.equal(resolveConfig({ precision: 'bf16' }).precision, 'bf16');
  assert.throws(() => resolveConfig({ precision: 'fp16' }), /precision/);
});
