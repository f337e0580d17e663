/**
 * The native boundary comes from one list (native/boundary.def): the generated files are up to
 * date with it, the built addon exports exactly its names (functions as functions, values as
 * arrays), its Tensor section's methods are on Tensor and run their ops, and a malformed list is an
 * error naming the line.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { native } from '../src/native/binding';

const root = path.resolve(__dirname, '..', '..');
const script = path.join(root, 'scripts', 'gen-boundary.js');
const { parse } = require(script) as { parse(text: string): { name: string; cpp: string | null; file: string }[] };

test('the generated boundary files are those of native/boundary.def', () => {
  const r = spawnSync(process.execPath, [script, '--check'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /\d+ entries and \d+ Tensor methods, generated files up to date/);
});

test('the addon exports exactly the names of native/boundary.def', () => {
  const entries = parse(fs.readFileSync(path.join(root, 'native', 'boundary.def'), 'utf8')).filter((e) => e.file !== 'Tensor');
  const exported = Object.keys(native).sort();
  assert.deepEqual(exported, entries.map((e) => e.name).sort());
  // The generated TypeScript interface declares the same members, in the same order.
  const ts = fs.readFileSync(path.join(root, 'src', 'native', 'binding.gen.ts'), 'utf8');
  const members = [...ts.matchAll(/^ {2}([A-Za-z_]\w*)[(:]/gm)].map((m) => m[1]);
  assert.deepEqual(
    members,
    entries.map((e) => e.name),
  );
  const table = native as unknown as Record<string, unknown>;
  for (const e of entries) {
    if (e.cpp) assert.equal(typeof table[e.name], 'function', e.name);
    else assert.ok(Array.isArray(table[e.name]), e.name);
  }
  // Every native source file that exports a function includes its generated list.
  for (const file of new Set(entries.filter((e) => e.cpp).map((e) => e.file))) {
    const src = fs.readFileSync(path.join(root, 'native', file), 'utf8');
    assert.ok(src.includes(`#include "gen/${file.replace(/\.cc$/, '.exports.inc')}"`), file);
  }
});

test('a malformed boundary list names the line', () => {
  assert.throws(() => parse('dispose(h: Handle): boolean = Dispose\n'), /boundary\.def:1: an entry before the first '## file\.cc'/);
  assert.throws(() => parse('## a.cc\nf(): void = F\nf(): void = G\n'), /boundary\.def:3: 'f' is declared twice/);
  assert.throws(() => parse('## a.cc\nf(\n  x: number,\n): void\n'), /boundary\.def:5: the entry 'f' \(line 2\) is not finished/);
  // A slip that would bind one name to the next entry's function is an error, not a merge.
  assert.throws(() => parse('## a.cc\nfoo(h: Handle): void\nbar(): number = Bar\n'), /boundary\.def:2: expected 'name\(args\): type = CppFunction'/);
  assert.throws(() => parse('## a.cc\nf(\nbar(): number = Bar\n'), /boundary\.def:3: the entry 'f' \(line 2\) is not finished/);
  assert.throws(() => parse('## a.cc\nreadonly ops: string[]\n'), /boundary\.def:2: expected/);
  assert.throws(() => parse('## a.cc\n/**\n * doc\n */\nf(): void = F\n'), /boundary\.def:2: a doc comment must be one line/);
  assert.throws(() => parse('## a.cc\nf(): void = F\n// trailing\n'), /comments after the last entry belong to no entry/);
  assert.throws(() => parse('## ../x.cc\n'), /'\.\.\/x\.cc' is not a native source file name/);
  // the Tensor section: one op-table call per method
  assert.throws(() => parse('## Tensor\nneg(): Tensor = Neg\n'), /boundary\.def:2: expected a Tensor method 'name\(parameters\) -> unary/);
  assert.throws(() => parse('## Tensor\nneg(x) -> unary neg\n'), /boundary\.def:2: a unary method takes 0 parameter\(s\), 'neg' names 1/);
  assert.throws(() => parse('## Tensor\nsum(dim, keepdim) -> reduce sum, scalar sum\n'), /boundary\.def:2: ', scalar sum' only follows a binary op/);
  assert.throws(() => parse('## Tensor\nneg() -> unary neg\nneg() -> unary neg\n'), /boundary\.def:3: 'Tensor\.neg' is declared twice/);
  assert.deepEqual(
    parse('## a.cc\n/** doc */\nops: string[]\nf(\n  x: number,\n): void = F\n').map((e) => [e.name, e.cpp]),
    [
      ['ops', null],
      ['f', 'F'],
    ],
  );
});

test('every Tensor method of native/boundary.def is generated onto Tensor and runs its op', () => {
  const methods = parse(fs.readFileSync(path.join(root, 'native', 'boundary.def'), 'utf8')).filter((e) => e.file === 'Tensor');
  assert.ok(methods.length >= 40, `${methods.length} Tensor methods`);
  const torch = require('../src/torch') as typeof import('../src/torch');
  const proto = Object.getPrototypeOf(torch.Tensor.prototype) as Record<string, unknown>;
  for (const m of methods) assert.equal(typeof proto[m.name], 'function', `Tensor.${m.name}`);
  // A few against plain arithmetic, one of each kind (and a binary method given a number).
  const x = torch.tensor([1, 4, 9]);
  assert.deepEqual(x.sqrt().toArray(), [1, 2, 3]);
  assert.deepEqual(x.sub(torch.tensor([1, 1, 1])).toArray(), [0, 3, 8]);
  assert.deepEqual(x.sub(2).toArray(), [-1, 2, 7]);
  assert.deepEqual(x.clampMax(5).toArray(), [1, 4, 5]);
  assert.deepEqual(x.sum().toArray(), [14]);
  assert.throws(() => x.matmul('y' as unknown as import('../src/torch').Tensor), /^TypeError: matmul: argument 'other' must be a Tensor, got string$/);
});
