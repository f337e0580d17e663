/**
 * The protobuf writer against hand-computed wire bytes, and the ONNX message layout read back
 * with the minimal reader.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DataType, encodeModel, makeTensor } from './onnx-proto';
import { ProtoWriter, readFields } from './protobuf';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

test('varints: small, multi-byte, 64-bit and negative values', () => {
  const enc = (v: number | bigint) => hex(new ProtoWriter().varint(v).finish());
  assert.equal(enc(0), '00');
  assert.equal(enc(1), '01');
  assert.equal(enc(127), '7f');
  assert.equal(enc(128), '8001');
  assert.equal(enc(300), 'ac02');
  assert.equal(enc(2 ** 32), '8080808010');
  assert.equal(enc(Number.MAX_SAFE_INTEGER), 'ffffffffffffff0f');
  assert.equal(enc(9223372036854775807n), 'ffffffffffffffff7f');
  // Negative int64: ten bytes of two's complement.
  assert.equal(enc(-1), 'ffffffffffffffffff01');
  assert.equal(enc(-2n), 'feffffffffffffffff01');
  assert.throws(() => new ProtoWriter().varint(1.5), /integer/);
  assert.throws(() => new ProtoWriter().varint(1n << 64n), /64 bits/);
});

test('fields: keys, strings, floats, packed values, nested messages; buffers grow', () => {
  const w = new ProtoWriter().int64(1, 150).string(2, 'testing').float(3, 1.5).packedInt64(4, [3, 270, -1]);
  assert.equal(hex(w.finish()), '089601' + '120774657374696e67' + '1d0000c03f' + '220d038e02ffffffffffffffffff01');
  const nested = new ProtoWriter().message(3, new ProtoWriter().int64(1, 150));
  assert.equal(hex(nested.finish()), '1a03089601');
  const big = new ProtoWriter();
  const payload = new Uint8Array(100_000).map((_, i) => i % 251);
  big.bytes(9, payload).int64(1, 7);
  const fields = readFields(big.finish());
  assert.equal(fields.length, 2);
  assert.deepEqual(Array.from(fields[0][2] as Uint8Array).slice(0, 5), [0, 1, 2, 3, 4]);
  assert.equal((fields[0][2] as Uint8Array).length, 100_000);
  assert.equal(fields[1][2], 7n);
});

test('ModelProto layout: IR version, opset, graph with node, initializer, input and output', () => {
  const bytes = encodeModel({
    irVersion: 8,
    opsetImports: [{ domain: '', version: 17 }],
    producerName: 'dnas',
    graph: {
      name: 'g',
      nodes: [{ opType: 'Add', inputs: ['x', 'w'], outputs: ['y'], name: 'add', attributes: { alpha: { float: 1 }, ints: [1, 2] } }],
      initializers: [makeTensor('w', [2], new Float32Array([1, 2]))],
      inputs: [{ name: 'x', elemType: DataType.FLOAT, shape: ['batch', 2] }],
      outputs: [{ name: 'y', elemType: DataType.FLOAT, shape: [null, 2] }],
    },
    metadata: { k: 'v' },
  });
  const model = readFields(bytes);
  const get = (fs: ReturnType<typeof readFields>, n: number) => fs.filter(([f]) => f === n).map(([, , v]) => v);
  assert.deepEqual(get(model, 1), [8n]);
  assert.equal(Buffer.from(get(model, 2)[0] as Uint8Array).toString(), 'dnas');
  const opset = readFields(get(model, 8)[0] as Uint8Array);
  assert.deepEqual(
    opset.map(([f, , v]) => [f, v]),
    [[2, 17n]],
  );
  const meta = readFields(get(model, 14)[0] as Uint8Array);
  assert.deepEqual(
    meta.map(([f, , v]) => [f, Buffer.from(v as Uint8Array).toString()]),
    [
      [1, 'k'],
      [2, 'v'],
    ],
  );
  const graph = readFields(get(model, 7)[0] as Uint8Array);
  const node = readFields(get(graph, 1)[0] as Uint8Array);
  assert.deepEqual(
    get(node, 1).map((v) => Buffer.from(v as Uint8Array).toString()),
    ['x', 'w'],
  );
  assert.equal(Buffer.from(get(node, 4)[0] as Uint8Array).toString(), 'Add');
  const [alpha, ints] = get(node, 5).map((a) => readFields(a as Uint8Array));
  assert.deepEqual(get(alpha, 20), [1n]); // FLOAT
  assert.equal(get(alpha, 2)[0], 0x3f800000); // 1.0f
  assert.deepEqual(get(ints, 20), [7n]); // INTS
  const init = readFields(get(graph, 5)[0] as Uint8Array);
  assert.deepEqual(get(init, 2), [1n]);
  assert.deepEqual(Array.from(new Float32Array(Uint8Array.from(get(init, 9)[0] as Uint8Array).buffer)), [1, 2]);
  const input = readFields(get(graph, 11)[0] as Uint8Array);
  const tensorType = readFields(get(readFields(get(input, 2)[0] as Uint8Array), 1)[0] as Uint8Array);
  const dims = get(readFields(get(tensorType, 2)[0] as Uint8Array), 1).map((d) => readFields(d as Uint8Array)[0]);
  assert.deepEqual(
    dims.map(([f, , v]) => [f, f === 2 ? Buffer.from(v as Uint8Array).toString() : v]),
    [
      [2, 'batch'],
      [1, 2n],
    ],
  );
});
