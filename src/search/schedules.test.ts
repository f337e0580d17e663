import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makeSchedule } from './schedules';

test('linear schedule interpolates and clamps', () => {
  const s = makeSchedule({ kind: 'linear', start: 0, end: 1e-2, fromEpoch: 2, toEpoch: 6 });
  assert.equal(s(0, 10), 0);
  assert.equal(s(2, 10), 0);
  assert.equal(s(4, 10), 5e-3);
  assert.equal(s(6, 10), 1e-2);
  assert.equal(s(9, 10), 1e-2);
});

test('exponential schedule is geometric between start and end', () => {
  const s = makeSchedule({ kind: 'exponential', start: 10, end: 0.1 });
  assert.equal(s(0, 4), 10);
  assert.ok(Math.abs(s(2, 4) - 1) < 1e-12); // sqrt(10 * 0.1)
  assert.ok(Math.abs(s(4, 4) - 0.1) < 1e-12);
});

test('constants and bad specs', () => {
  assert.equal(makeSchedule(0.5)(3, 10), 0.5);
  assert.throws(() => makeSchedule({ kind: 'exponential', start: 0, end: 1 }), /must be > 0/);
  assert.throws(() => makeSchedule({ kind: 'nope' } as never), /unknown schedule kind 'nope'/);
});
