import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSearchArgs } from '../cli/args';
import { configSchema, defaultConfig, FIELDS, resolveConfig } from './config';

test('defaults resolve and every field has a default, a doc and a schema', () => {
  const c = resolveConfig({});
  assert.deepEqual(c, defaultConfig());
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
      assert.match(e.message, /'strategy' is "darts3"; expected one of single-stage, darts, darts2, gdas, two-stage/);
      assert.match(e.message, /'epochs' is 0; expected an integer >= 1/);
      return true;
    },
  );
  assert.throws(() => resolveConfig({ epochs: 5, freezeEpoch: 7 }), /'freezeEpoch' \(7\) must be after warmupEpochs \(2\) and before epochs \(5\)/);
  assert.throws(() => resolveConfig({ space: 'darts' }), /space 'darts' classifies images; use dataset 'fashion-mnist'/);
});

test('command-line flags map onto fields and override the config file', () => {
  const { partial, flags } = parseSearchArgs(['--epochs', '7', '--crop=64x96', '--freeze-epoch', 'null', '--arch-betas', '0.9,0.99',
    '--entropy-weight', '{"kind":"linear","start":0,"end":0.01}', '--json', '--skip-bad', '--strategy', 'gdas']);
  assert.deepEqual(partial, {
    epochs: 7, crop: [64, 96], freezeEpoch: null, archBetas: [0.9, 0.99], entropyWeight: { kind: 'linear', start: 0, end: 0.01 },
    skipBad: true, strategy: 'gdas',
  });
  assert.equal(flags.json, true);
  assert.throws(() => parseSearchArgs(['--epoch', '3']), /unknown flag --epoch/);
  assert.throws(() => parseSearchArgs(['--crop', '64']), /--crop must look like 64x128/);
  assert.deepEqual(parseSearchArgs(['--size', '96x80']).partial, { size: [96, 80] });
  assert.throws(() => resolveConfig({ size: [2, 80] }), /'size' is \[2,80\]; expected a pair \[a, b\] of integers >= 4 or null/);
});
