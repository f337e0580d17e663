import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import * as torch from '../torch';
import { DartsSpace } from './darts';
import {
  decodeCell,
  edgeIndex,
  fromDartsGenotype,
  Genotype,
  GenotypeError,
  genotypeToJSON,
  loadGenotype,
  parseGenotype,
  saveGenotype,
  validateGenotype,
} from './genotype';
import { LatticeSpace } from './lattice-space';

torch.setNumThreads(1);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dnas-genotype-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

test('genotype JSON round-trips for every built-in space', () => {
  torch.manualSeed(0);
  const spaces = [
    new DartsSpace({ C: 4, layers: 3, nodes: 3, numClasses: 3 }),
    new LatticeSpace({ layers: 3, C: 2, nodes: 2, numClasses: 3 }),
    new LatticeSpace({ layers: 3, C: 2, nodes: 2, numClasses: 3, connectivity: 'dense' }),
  ];
  for (const space of spaces) {
    const g = space.decode();
    const file = path.join(tmp, `${space.name}.json`);
    saveGenotype(file, g);
    const back = loadGenotype(file);
    assert.deepEqual(back, g);
    // The loaded genotype drives the space exactly like the original.
    space.fix(back);
    space.dispose();
  }
  const text = genotypeToJSON({
    version: 1,
    space: 'darts',
    cells: {
      normal: [
        ['sep_conv_3x3', 0],
        ['skip_connect', 1],
      ],
    },
  });
  assert.match(text, /\["sep_conv_3x3", 0\],\n\s+\["skip_connect", 1\]/);
  assert.deepEqual(parseGenotype(text).cells!.normal[1], ['skip_connect', 1]);
});

test('DARTS-style genotypes (Python field names) convert to schema version 1', () => {
  const g = parseGenotype(
    JSON.stringify({
      normal: [
        ['sep_conv_3x3', 0],
        ['sep_conv_3x3', 1],
      ],
      normal_concat: [2],
      reduce: [
        ['max_pool_3x3', 0],
        ['max_pool_3x3', 1],
      ],
      reduce_concat: [2],
    }),
  );
  assert.deepEqual(g, {
    version: 1,
    space: 'darts',
    cells: {
      normal: [
        ['sep_conv_3x3', 0],
        ['sep_conv_3x3', 1],
      ],
      reduce: [
        ['max_pool_3x3', 0],
        ['max_pool_3x3', 1],
      ],
    },
    concat: { normal: [2], reduce: [2] },
  });
  assert.deepEqual(fromDartsGenotype({ normal: [['skip_connect', 0]], reduce: [['skip_connect', 1]] }).concat, undefined);
});

test('validation errors name the field', () => {
  const ok: Genotype = { version: 1, space: 'darts', cells: { normal: [['sep_conv_3x3', 0]] } };
  const bad = (v: unknown, re: RegExp) =>
    assert.throws(
      () => validateGenotype(v),
      (e: Error) => e instanceof GenotypeError && re.test(e.message),
    );
  bad(null, /^genotype: expected a JSON object/);
  bad({ ...ok, version: 2 }, /genotype.version: expected 1, got 2/);
  bad({ ...ok, space: '' }, /genotype.space/);
  bad({ ...ok, extra: 1 }, /unknown field 'extra'/);
  bad({ ...ok, cells: { normal: [['sep_conv_9x9', 0]] } }, /cells.normal\[0\]\[0\]: unknown operation "sep_conv_9x9" \(registered: none, /);
  bad({ ...ok, cells: { normal: [['none', 0]] } }, /'none' cannot be a kept operation/);
  bad({ ...ok, cells: { normal: [['skip_connect', -1]] } }, /cells.normal\[0\]\[1\]: expected a non-negative integer/);
  bad({ ...ok, cells: { normal: [] } }, /cells.normal: expected a non-empty array/);
  bad({ ...ok, concat: { normal: [] } }, /concat.normal/);
  bad({ ...ok, path: [0, 1.5] }, /genotype.path/);
  bad({ ...ok, inputs: { l1s0: [[0]] } }, /inputs.l1s0: expected a non-empty array of \[layer, scale\]/);
  bad({ ...ok, choices: { a: 3 } }, /choices.a/);
  assert.throws(() => parseGenotype('{"version": 1,'), /genotype: not valid JSON/);
  assert.throws(() => loadGenotype(path.join(tmp, 'missing.json')), /cannot read '.*missing.json'/);
  fs.writeFileSync(path.join(tmp, 'bad.json'), JSON.stringify({ ...ok, version: 0 }));
  assert.throws(() => loadGenotype(path.join(tmp, 'bad.json')), /bad.json: genotype.version/);
});

test('decodeCell: the DARTS rule on plain numbers, ties to the lower input and column', () => {
  assert.equal(edgeIndex(2, 2, 1), 2 + 3 + 1);
  assert.equal(edgeIndex(1, 1, 0), 1);
  const ops = ['none', 'a', 'b'];
  // Two inputs, two nodes: edges n0<-0, n0<-1, n1<-0, n1<-1, n1<-2.
  const w = [
    [0.9, 0.05, 0.05],
    [0.2, 0.3, 0.5],
    [0.1, 0.45, 0.45],
    [0.5, 0.1, 0.4],
    [0.1, 0.45, 0.45],
  ];
  assert.deepEqual(decodeCell(w, ops, 2, 2), [
    ['b', 1],
    ['a', 0],
    ['a', 0],
    ['a', 2],
  ]);
  assert.throws(() => decodeCell(w, ['none'], 2, 2), /no operation other than 'none'/);
});
