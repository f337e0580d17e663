/**
 * The ONNX messages dnas writes (ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto,
 * ValueInfoProto and the types they hold) as plain objects, and their protobuf encoding with the
 * field numbers of onnx/onnx.proto. Only what an inference graph needs is modelled.
 */
import { ProtoWriter } from './protobuf';

/** TensorProto.DataType values used here. */
export const DataType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, BOOL: 9, DOUBLE: 11 } as const;
export type DataTypeCode = (typeof DataType)[keyof typeof DataType];

/** AttributeProto.AttributeType values. */
export const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7, STRINGS: 8 } as const;

/** A tensor (initializer or attribute value); `raw` holds the little-endian element bytes. */
export interface TensorProto {
  name: string;
  dataType: DataTypeCode;
  dims: number[];
  raw: Uint8Array;
}

/** A dimension: a size, a symbolic name, or unknown (null). */
export type Dim = number | string | null;

export interface ValueInfoProto {
  name: string;
  elemType: DataTypeCode;
  /** null: unknown rank. */
  shape: Dim[] | null;
  doc?: string;
}

/** An attribute value; numbers are INT when integral unless given as `{ float }`. */
export type AttributeValue = number | { float: number } | string | number[] | { floats: number[] } | string[] | TensorProto;

export interface NodeProto {
  opType: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  domain?: string;
  attributes?: Record<string, AttributeValue>;
  doc?: string;
}

export interface GraphProto {
  name: string;
  nodes: NodeProto[];
  initializers: TensorProto[];
  inputs: ValueInfoProto[];
  outputs: ValueInfoProto[];
  valueInfo?: ValueInfoProto[];
  doc?: string;
}

export interface ModelProto {
  irVersion: number;
  opsetImports: { domain: string; version: number }[];
  producerName?: string;
  producerVersion?: string;
  domain?: string;
  modelVersion?: number;
  doc?: string;
  graph: GraphProto;
  metadata?: Record<string, string>;
}

function tensorProto(t: TensorProto): ProtoWriter {
  const w = new ProtoWriter();
  if (t.dims.length) w.packedInt64(1, t.dims);
  w.int64(2, t.dataType);
  if (t.name) w.string(8, t.name);
  w.bytes(9, t.raw);
  return w;
}

function typeProto(v: ValueInfoProto): ProtoWriter {
  const tensor = new ProtoWriter().int64(1, v.elemType);
  if (v.shape) {
    const shape = new ProtoWriter();
    for (const d of v.shape) {
      const dim = new ProtoWriter();
      if (typeof d === 'number') dim.int64(1, d);
      else if (typeof d === 'string') dim.string(2, d);
      shape.message(1, dim);
    }
    tensor.message(2, shape);
  }
  return new ProtoWriter().message(1, tensor);
}

function valueInfoProto(v: ValueInfoProto): ProtoWriter {
  const w = new ProtoWriter().string(1, v.name).message(2, typeProto(v));
  if (v.doc) w.string(3, v.doc);
  return w;
}

const isTensor = (v: unknown): v is TensorProto => typeof v === 'object' && v !== null && 'raw' in v && 'dataType' in v;

function attributeProto(name: string, v: AttributeValue): ProtoWriter {
  const w = new ProtoWriter().string(1, name);
  if (typeof v === 'number') {
    if (Number.isInteger(v)) w.int64(20, AttributeType.INT).int64(3, v);
    else w.int64(20, AttributeType.FLOAT).float(2, v);
  } else if (typeof v === 'string') {
    w.int64(20, AttributeType.STRING).string(4, v);
  } else if (Array.isArray(v)) {
    if (v.every((x) => typeof x === 'string')) {
      w.int64(20, AttributeType.STRINGS);
      for (const s of v as string[]) w.string(9, s);
    } else {
      const ints = v as number[];
      if (!ints.every((x) => Number.isInteger(x))) throw new TypeError(`ONNX attribute '${name}': [${ints}] must be integers (use { floats } for floats)`);
      w.int64(20, AttributeType.INTS).packedInt64(8, ints);
    }
  } else if (isTensor(v)) {
    w.int64(20, AttributeType.TENSOR).message(5, tensorProto(v));
  } else if ('float' in v) {
    w.int64(20, AttributeType.FLOAT).float(2, v.float);
  } else if ('floats' in v) {
    w.int64(20, AttributeType.FLOATS).packedFloat(7, v.floats);
  } else {
    throw new TypeError(`ONNX attribute '${name}': unsupported value ${JSON.stringify(v)}`);
  }
  return w;
}

function nodeProto(n: NodeProto): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  if (n.name) w.string(3, n.name);
  w.string(4, n.opType);
  for (const [k, v] of Object.entries(n.attributes ?? {})) w.message(5, attributeProto(k, v));
  if (n.doc) w.string(6, n.doc);
  if (n.domain) w.string(7, n.domain);
  return w;
}

function graphProto(g: GraphProto): ProtoWriter {
  const w = new ProtoWriter();
  for (const n of g.nodes) w.message(1, nodeProto(n));
  w.string(2, g.name);
  for (const t of g.initializers) w.message(5, tensorProto(t));
  if (g.doc) w.string(10, g.doc);
  for (const v of g.inputs) w.message(11, valueInfoProto(v));
  for (const v of g.outputs) w.message(12, valueInfoProto(v));
  for (const v of g.valueInfo ?? []) w.message(13, valueInfoProto(v));
  return w;
}

/** The bytes of an .onnx file holding `m`. */
export function encodeModel(m: ModelProto): Uint8Array {
  const w = new ProtoWriter().int64(1, m.irVersion);
  if (m.producerName) w.string(2, m.producerName);
  if (m.producerVersion) w.string(3, m.producerVersion);
  if (m.domain) w.string(4, m.domain);
  if (m.modelVersion !== undefined) w.int64(5, m.modelVersion);
  if (m.doc) w.string(6, m.doc);
  w.message(7, graphProto(m.graph));
  for (const o of m.opsetImports) {
    const op = new ProtoWriter();
    if (o.domain) op.string(1, o.domain);
    op.int64(2, o.version);
    w.message(8, op);
  }
  for (const [k, v] of Object.entries(m.metadata ?? {})) w.message(14, new ProtoWriter().string(1, k).string(2, v));
  return w.finish();
}

/** A TensorProto from typed data (copied into little-endian raw bytes). */
export function makeTensor(name: string, dims: number[], data: Float32Array | BigInt64Array | Int32Array | Uint8Array | Float64Array): TensorProto {
  const n = dims.reduce((a, b) => a * b, 1);
  if (data.length !== n) throw new RangeError(`ONNX tensor '${name}': ${data.length} values for shape [${dims}]`);
  const dataType: DataTypeCode =
    data instanceof Float32Array
      ? DataType.FLOAT
      : data instanceof BigInt64Array
        ? DataType.INT64
        : data instanceof Int32Array
          ? DataType.INT32
          : data instanceof Float64Array
            ? DataType.DOUBLE
            : DataType.UINT8;
  // Typed arrays are in the platform's byte order; ONNX raw_data is little-endian (every platform
  // Node.js runs on is little-endian, checked once here).
  if (!LITTLE_ENDIAN) throw new Error('ONNX export needs a little-endian platform');
  const raw = new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  return { name, dataType, dims: [...dims], raw };
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
