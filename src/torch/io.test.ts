/**
 * torch.save / torch.load within dnas: value trees, dtypes, views, atomic writes and errors.
 * (Interchange with Python's torch.save/torch.load is in test/pytorch-parity.test.ts.)
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import * as torch from './index';
import { Tensor } from './index';
import { tempDir } from '../../test/helpers';

torch.setNumThreads(1);
const dir = tempDir('dnas-io-');

test('save/load round-trips nested values and tensors of every dtype', () => {
  torch.tidy(() => {
    const t = torch.arange(6, undefined, 1, { dtype: 'float32' }).reshape(2, 3);
    const value = {
      f32: t,
      f64: torch.tensor(new Float64Array([Math.PI, -1e-300])),
      i64: torch.tensor([1, -2, 3], { dtype: 'int64' }),
      i32: torch.tensor(new Int32Array([7, -8])),
      u8: torch.tensor(new Uint8Array([0, 255])),
      bool: torch.tensor([1, 0, 1]).gt(0),
      scalar: torch.tensor(2.5),
      transposed: t.transpose(0, 1), // a non-contiguous view
      nested: { list: [1, 2.5, 'three', true, null, [torch.ones([1])]], empty: [], deeper: { x: -0.5 } },
      lr: 0.025,
      epoch: 7,
      name: 'darts',
      flag: false,
    };
    const file = path.join(dir, 'tree.pt');
    torch.save(value, file);
    const back = torch.load<typeof value>(file);
    assert.deepEqual(Object.keys(back), Object.keys(value)); // key order kept
    for (const k of ['f32', 'f64', 'i64', 'i32', 'u8', 'bool', 'scalar', 'transposed'] as const) {
      const a = value[k],
        b = back[k];
      assert.ok(b instanceof Tensor, k);
      assert.equal(b.dtype, a.dtype, k);
      assert.deepEqual(b.shape, a.shape, k);
      assert.deepEqual(Array.from(b.data() as ArrayLike<number>), Array.from(a.data() as ArrayLike<number>), k);
    }
    assert.deepEqual(back.transposed.toArray(), [0, 3, 1, 4, 2, 5]);
    assert.deepEqual(back.scalar.shape, []);
    assert.equal(back.lr, 0.025);
    assert.equal(back.epoch, 7);
    assert.equal(back.name, 'darts');
    assert.equal(back.flag, false);
    const list = back.nested.list;
    assert.deepEqual(list.slice(0, 5), [1, 2.5, 'three', true, null]);
    assert.deepEqual((list[5] as Tensor[])[0].toArray(), [1]);
    assert.deepEqual(back.nested.empty, []);
    assert.deepEqual(back.nested.deeper, { x: -0.5 });
    // Loaded tensors are independent of the saved ones.
    assert.ok(!torch.sameStorage(back.f32, t));
  });
});

test('a module state dict survives save/load and loads into a fresh module', () => {
  torch.tidy(() => {
    torch.manualSeed(0);
    const make = () => new torch.nn.Sequential(new torch.nn.Conv2d(2, 3, 3), new torch.nn.BatchNorm2d(3));
    const a = make();
    a.forward(torch.randn([2, 2, 5, 5])); // moves the running stats
    const file = path.join(dir, 'model.pt');
    torch.save(a.stateDict(), file);
    const b = make();
    b.loadStateDict(torch.load<Record<string, Tensor>>(file));
    for (const [k, v] of Object.entries(a.stateDict())) assert.deepEqual(b.stateDict()[k].toArray(), v.toArray(), k);
    a.dispose();
    b.dispose();
  });
});

test('serialize/deserialize work on buffers; save is atomic and leaves no temporary file', () => {
  torch.tidy(() => {
    const bytes = torch.serialize({ w: torch.ones([2]), n: 1 });
    assert.ok(Buffer.isBuffer(bytes));
    assert.equal(bytes.subarray(0, 2).toString(), 'PK'); // a zip archive, as torch.save writes
    const back = torch.deserialize(bytes) as { w: Tensor; n: number };
    assert.deepEqual(back.w.toArray(), [1, 1]);
    assert.equal(back.n, 1);
    const sub = path.join(dir, 'sub', 'deeper');
    const file = path.join(sub, 'ckpt.pt');
    torch.save({ a: 1 }, file); // creates the folders
    torch.save({ a: 2 }, file); // replaces
    assert.deepEqual(torch.load(file), { a: 2 });
    assert.deepEqual(fs.readdirSync(sub), ['ckpt.pt']);
  });
});

test('save/load errors name the problem', () => {
  torch.tidy(() => {
    const t = torch.ones([1]);
    t.dispose();
    assert.throws(() => torch.save({ model: { w: t } }, path.join(dir, 'x.pt')), /save: the tensor at 'model\.w' was disposed/);
    assert.throws(
      () => torch.save({ data: new Float32Array(2) } as never, path.join(dir, 'x.pt')),
      /save: 'data' is a typed array; wrap it with torch\.tensor\(\) first/,
    );
    assert.throws(() => torch.save({ opt: { f: (() => 1) as never } }, path.join(dir, 'x.pt')), /save: cannot serialize the value at 'opt\.f' \(a function/);
    assert.throws(() => torch.save({ m: new Map() as never }, path.join(dir, 'x.pt')), /save: 'm' is a Map; convert it to a plain object/);
    assert.ok(!fs.existsSync(path.join(dir, 'x.pt')));
    assert.throws(() => torch.load(path.join(dir, 'missing.pt')), /load: cannot read '.*missing\.pt': ENOENT/);
    const junk = path.join(dir, 'junk.pt');
    fs.writeFileSync(junk, 'this is not a checkpoint');
    assert.throws(() => torch.load(junk), /load: cannot read '.*junk\.pt' as a torch\.save file: /);
    assert.throws(() => torch.deserialize(Buffer.from('PK'), 'my bytes'), /load: cannot read my bytes as a torch\.save file/);
  });
});

/** Rewrites `name`'s CRC-32 in its central directory entry and local header to match its bytes. */
function fixCrc(buf: Buffer, name: string): void {
  const zlib = require('node:zlib') as typeof import('node:zlib') & { crc32(b: Buffer): number };
  const nameBytes = Buffer.from(name);
  for (let at = buf.indexOf(nameBytes); at >= 0; at = buf.indexOf(nameBytes, at + 1)) {
    if (buf.readUInt32LE(at - 46) !== 0x02014b50) continue; // only the central directory entry
    const local = buf.readUInt32LE(at - 46 + 42);
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const crc = zlib.crc32(buf.subarray(start, start + buf.readUInt32LE(at - 46 + 24))) >>> 0;
    buf.writeUInt32LE(crc, at - 46 + 16);
    buf.writeUInt32LE(crc, local + 14);
  }
}

test('damaged and crafted checkpoints are refused before any tensor is read', () => {
  const { checkZip } = require('./zipcheck') as typeof import('./zipcheck');
  const good = torch.serialize({ t: torch.tensor([1, 2, 3, 4]) });
  const recs = checkZip(good);
  assert.deepEqual(
    recs.map((r) => [r.name, r.size]),
    [
      ['archive/data/0', 16],
      ['archive/data.pkl', recs[1].size],
      ['archive/version', 2],
    ],
  );
  // a flipped byte in the tensor's record
  const flipped = Buffer.from(good);
  flipped[recs[0].dataStart + 3] ^= 0xff;
  assert.throws(() => torch.deserialize(flipped, 'flipped'), /load: cannot read flipped as a torch\.save file: record 'archive\/data\/0' fails its checksum/);
  // a truncated file
  assert.throws(() => torch.deserialize(good.subarray(0, good.length - 30), 'cut'), /load: cannot read cut as a torch\.save file: /);
  // a tensor of 200 elements over a 16-byte record, with every checksum valid
  const crafted = Buffer.from(good);
  const pkl = recs[1];
  const at = crafted.subarray(pkl.dataStart, pkl.dataStart + pkl.size).indexOf(Buffer.from('(K\x04t', 'latin1'));
  assert.ok(at > 0, 'the size tuple (4,) is in the pickle');
  crafted[pkl.dataStart + at + 2] = 200;
  fixCrc(crafted, 'archive/data.pkl');
  checkZip(crafted); // the container is intact
  assert.throws(() => torch.deserialize(crafted, 'crafted'), /a tensor of the file reaches past its data record \(16 bytes\)/);
  assert.deepEqual(Array.from((torch.deserialize(good) as { t: torch.Tensor }).t.toArray()), [1, 2, 3, 4]);
  // values nested deeper than 1000 levels
  let deep: Record<string, unknown> = { leaf: 1 };
  for (let i = 0; i < 1100; i++) deep = { d: deep };
  assert.throws(() => torch.deserialize(torch.serialize(deep as never), 'deep'), /nests values deeper than 1000 levels/);
});

test('makeDirs says which level failed instead of looping; appends never go through a link', () => {
  const { makeDirs, appendNoFollow } = require('./io') as typeof import('./io');
  const dir = tempDir('dnas-mkdirs-');
  makeDirs(path.join(dir, 'a', 'b', 'c'));
  assert.ok(fs.statSync(path.join(dir, 'a', 'b', 'c')).isDirectory());
  makeDirs(path.join(dir, 'a', 'b', 'c')); // already there
  fs.writeFileSync(path.join(dir, 'file'), 'x');
  assert.throws(() => makeDirs(path.join(dir, 'file', 'sub')), /cannot create the folder .*file\/sub: .*file exists and is not a folder/);
  // The kernel answers ENOENT for new entries under /proc, where Node's recursive mkdir spins forever.
  if (fs.existsSync('/proc/self'))
    assert.throws(
      () => makeDirs('/proc/dnas-x/checkpoints'),
      /cannot create the folder \/proc\/dnas-x\/checkpoints: \/proc\/dnas-x cannot be created there \(ENOENT\)/,
    );
  const log = path.join(dir, 'log.jsonl');
  appendNoFollow(log, 'a\n');
  appendNoFollow(log, 'b\n');
  assert.equal(fs.readFileSync(log, 'utf8'), 'a\nb\n');
  const target = path.join(dir, 'target');
  fs.writeFileSync(target, 'keep');
  fs.symlinkSync(target, path.join(dir, 'link.jsonl'));
  assert.throws(() => appendNoFollow(path.join(dir, 'link.jsonl'), 'evil'), /link\.jsonl is a symbolic link; refusing to write through it/);
  assert.equal(fs.readFileSync(target, 'utf8'), 'keep');
});

test('malformed pickles are refused with the byte offset before libtorch reads them (each of these crashed or hung it)', () => {
  const { storedZip, nestedListPickle } = require('../../test/helpers') as typeof import('../../test/helpers');
  const ckpt = (pickle: Buffer) =>
    storedZip([
      ['archive/data.pkl', pickle],
      ['archive/version', Buffer.from('3\n')],
    ]);
  const p = (...parts: (string | number[] | Buffer)[]) => Buffer.concat(parts.map((x) => (typeof x === 'string' ? Buffer.from(x, 'latin1') : Buffer.from(x))));
  const load = (pickle: Buffer) => () => torch.deserialize(ckpt(pickle), 'crafted.pt');
  const malformed = /load: cannot read crafted\.pt as a torch\.save file: its pickle \(data\.pkl\) is malformed: /;
  // REDUCE with one value on the stack (libtorch aborted while destroying its unpickler)
  assert.throws(load(p([0x80, 2], 'ctorch.jit._pickle\nrestore_type_tag\nR.')), /malformed: REDUCE without a callable and a tuple of arguments at byte 38/);
  // TUPLE1 on an empty stack (SIGSEGV)
  assert.throws(load(p([0x80, 2, 0x85], '.')), /malformed: TUPLE1 on an empty stack at byte 2/);
  // a string claiming 3.5 GB (libtorch allocated and read past the data)
  assert.throws(load(p([0x80, 2], 'X', [0x03, 0x04, 0x00, 0xd6], 'abc.')), /malformed: a value of 3590325251 bytes reaching past the end at byte 2/);
  // a memo index of 2^32 - 1 (libtorch grows its memo table to match)
  assert.throws(load(p([0x80, 2], ']r', [0xff, 0xff, 0xff, 0xff], '.')), /malformed: a memo index out of sequence/);
  assert.throws(load(p([0x80, 2], 'h', [7], '.')), /malformed: a memo entry that was never stored at byte 2/);
  assert.throws(load(p([0x80, 2], ']]')), /malformed: no STOP opcode/);
  assert.throws(load(p([0x80, 2], ']].')), /malformed: STOP at byte 4 with 2 values on the stack instead of one/);
  assert.throws(load(p([0x80, 2], 'K', [1], 'K', [2], 'a.')), malformed); // APPEND into a number
  // nesting: lists 200,000 deep (destroyed recursively by libtorch: stack overflow) ...
  const tooDeep = /the file nests values deeper than 1000 levels/;
  assert.throws(load(nestedListPickle(200_000)), tooDeep);
  // ... tuples (TUPLE1 chains) ...
  assert.throws(load(p([0x80, 2], 'N', Buffer.alloc(5000, 0x85).toString('latin1'), '.')), tooDeep);
  // ... and lists made deep through the memo: L0 = [], L_k = [L_{k-1}] (fetched back from the memo)
  // (left on the stack under a MARK and gathered into one list at the end: libtorch has no POP)
  let chain = p([0x80, 2], '(]q', [0]);
  for (let k = 1; k <= 250; k++) chain = p(chain, ']h', [k - 1], 'aq', [k]);
  const ok = torch.deserialize(ckpt(p(chain, 'l.')), 'ok') as unknown[];
  let depth = 0;
  for (let v: unknown = ok; Array.isArray(v); v = v[v.length - 1]) depth++;
  assert.equal(depth, 252); // the gathering list, then L250 ... L0
  // An 800-deep list appended afterwards to L0, the chain's bottom: every list above it is deeper now.
  const later = p(chain, 'h', [0], ']'.repeat(800), 'a'.repeat(799), 'a', 'l.');
  assert.throws(load(later), tooDeep);
});
