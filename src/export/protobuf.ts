/**
 * A compact protocol-buffers writer: varints, length-delimited fields and packed repeated
 * scalars, enough to encode the ONNX messages (onnx-proto.ts). Messages are built bottom-up:
 * a nested message is encoded into its own {@link ProtoWriter} and written as bytes.
 */

/** Wire types of the protobuf encoding. */
export const WIRE = { VARINT: 0, I64: 1, LEN: 2, I32: 5 } as const;

const TWO_32 = 2 ** 32;

/**
 * Accumulates the bytes of one message.
 *
 * @example
 * const w = new ProtoWriter();
 * w.int64(1, 8).string(2, 'dnas');
 * const bytes = w.finish();
 */
export class ProtoWriter {
  private chunks: Uint8Array[] = [];
  private buf = new Uint8Array(256);
  private pos = 0;
  private flushed = 0;

  /** Bytes written so far. */
  get length(): number {
    return this.flushed + this.pos;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    this.chunks.push(this.buf.subarray(0, this.pos));
    this.flushed += this.pos;
    this.buf = new Uint8Array(Math.max(256, n, this.buf.length * 2));
    this.pos = 0;
  }

  private byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  /** A raw varint: non-negative integers and bigints as they are, negative ones as 64-bit two's complement (10 bytes). */
  varint(v: number | bigint): this {
    if (typeof v === 'number') {
      if (!Number.isInteger(v)) throw new TypeError(`protobuf: varint needs an integer, got ${v}`);
      if (v >= 0 && v < TWO_32) {
        this.ensure(5);
        while (v > 0x7f) {
          this.buf[this.pos++] = (v & 0x7f) | 0x80;
          v = Math.floor(v / 128);
        }
        this.buf[this.pos++] = v;
        return this;
      }
      if (!Number.isSafeInteger(v)) throw new RangeError(`protobuf: ${v} is not a safe integer; pass a bigint`);
      v = BigInt(v);
    }
    let u = BigInt.asUintN(64, v);
    if (v >= 1n << 64n || v < -(1n << 63n)) throw new RangeError(`protobuf: ${v} does not fit in 64 bits`);
    this.ensure(10);
    while (u > 0x7fn) {
      this.buf[this.pos++] = Number(u & 0x7fn) | 0x80;
      u >>= 7n;
    }
    this.buf[this.pos++] = Number(u);
    return this;
  }

  /** A field key: (field number << 3) | wire type. */
  tag(field: number, wire: number): this {
    return this.varint(field * 8 + wire);
  }

  /** Raw bytes, without a key or length. */
  raw(bytes: Uint8Array): this {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
    return this;
  }

  // ---- fields ---------------------------------------------------------------------------------
  /** int32 / int64 / enum / bool field (negative values take 10 bytes, as protobuf requires). */
  int64(field: number, v: number | bigint | boolean): this {
    return this.tag(field, WIRE.VARINT).varint(typeof v === 'boolean' ? (v ? 1 : 0) : v);
  }
  /** 32-bit float field (wire type I32). */
  float(field: number, v: number): this {
    this.tag(field, WIRE.I32);
    this.ensure(4);
    new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4).setFloat32(0, v, true);
    this.pos += 4;
    return this;
  }
  /** bytes field. */
  bytes(field: number, v: Uint8Array): this {
    return this.tag(field, WIRE.LEN).varint(v.length).raw(v);
  }
  /** string field (UTF-8). */
  string(field: number, v: string): this {
    return this.bytes(field, Buffer.from(v, 'utf8'));
  }
  /** Embedded message field. */
  message(field: number, m: ProtoWriter | Uint8Array): this {
    return this.bytes(field, m instanceof ProtoWriter ? m.finish() : m);
  }
  /** Packed repeated int64 field. */
  packedInt64(field: number, vs: ArrayLike<number | bigint>): this {
    const inner = new ProtoWriter();
    for (let i = 0; i < vs.length; i++) inner.varint(vs[i]);
    return this.bytes(field, inner.finish());
  }
  /** Packed repeated float field. */
  packedFloat(field: number, vs: ArrayLike<number>): this {
    const b = new Uint8Array(4 * vs.length);
    const dv = new DataView(b.buffer);
    for (let i = 0; i < vs.length; i++) dv.setFloat32(4 * i, vs[i], true);
    return this.bytes(field, b);
  }

  /** The message's bytes. The writer can keep being written to afterwards. */
  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    out.set(this.buf.subarray(0, this.pos), o);
    return out;
  }
}

/**
 * A minimal reader of the same wire format (for tests and inspection): the fields of one
 * message as [field number, wire type, value], where value is a bigint (varint), a number
 * (I32 as float bits are not decoded: the raw uint32), or the bytes of a LEN field.
 */
export function readFields(bytes: Uint8Array): [number, number, bigint | number | Uint8Array][] {
  const out: [number, number, bigint | number | Uint8Array][] = [];
  let p = 0;
  const varint = (): bigint => {
    let v = 0n,
      shift = 0n;
    for (;;) {
      if (p >= bytes.length) throw new RangeError('protobuf: truncated varint');
      const b = bytes[p++];
      v |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
      shift += 7n;
    }
  };
  while (p < bytes.length) {
    const key = Number(varint());
    const field = key >>> 3,
      wire = key & 7;
    if (wire === WIRE.VARINT) out.push([field, wire, varint()]);
    else if (wire === WIRE.LEN) {
      const n = Number(varint());
      if (p + n > bytes.length) throw new RangeError('protobuf: truncated length-delimited field');
      out.push([field, wire, bytes.subarray(p, p + n)]);
      p += n;
    } else if (wire === WIRE.I32) {
      out.push([field, wire, new DataView(bytes.buffer, bytes.byteOffset + p, 4).getUint32(0, true)]);
      p += 4;
    } else if (wire === WIRE.I64) {
      out.push([field, wire, new DataView(bytes.buffer, bytes.byteOffset + p, 8).getBigUint64(0, true)]);
      p += 8;
    } else throw new RangeError(`protobuf: unsupported wire type ${wire}`);
  }
  return out;
}
