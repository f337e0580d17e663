import assert from 'node:assert/strict';
import { test } from 'node:test';
import { convergence, genotypeChanges } from './convergence';

test('convergence figures on hand-set weights', () => {
  const c = convergence([
    [
      [0.7, 0.2, 0.1],
      [0.5, 0.5, 0],
    ],
    [[1]],
  ]);
  assert.equal(c.rows, 2); // the single-option row decides nothing
  assert.ok(Math.abs(c.maxWeight - 0.6) < 1e-12);
  assert.ok(Math.abs(c.uniform - (1 / 3 + 1 / 2) / 2) < 1e-12);
  assert.ok(Math.abs(c.margin - 0.25) < 1e-12);
  const uniform = convergence([[Array(8).fill(1 / 8), Array(8).fill(1 / 8)]]);
  assert.deepEqual([uniform.maxWeight, uniform.uniform, uniform.margin], [1 / 8, 1 / 8, 0]);
  const oneHot = convergence([[[0, 1, 0, 0]]]);
  assert.deepEqual([oneHot.rows, oneHot.maxWeight], [0, 1]); // masked zeros leave one option
});

test('genotype changes count differing decisions, not settings', () => {
  const a = {
    version: 1,
    space: 'lattice',
    settings: { C: 8 },
    cells: {
      cell: [
        ['skip_connect', 0],
        ['sep_conv_3x3', 1],
      ],
    },
    path: [0, 1, 1],
  };
  const b = {
    version: 1,
    space: 'lattice',
    settings: { C: 16 },
    cells: {
      cell: [
        ['sep_conv_3x3', 0],
        ['sep_conv_3x3', 1],
      ],
    },
    path: [0, 1, 2],
  };
  assert.equal(genotypeChanges(a, a), 0);
  assert.equal(genotypeChanges(a, b), 2);
  assert.equal(genotypeChanges({ path: [0, 1] }, { path: [0, 1, 1] }), 1);
});
