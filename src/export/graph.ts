/**
 * A small ONNX graph builder: named values with tracked shapes, nodes in execution order (so the
 * graph is topologically sorted), initializers, cached constants, and helpers for the operators an
 * exported network uses. Shapes are tracked as far as they are known: numbers where static,
 * symbolic names ('batch', 'height', ...) carried through, null where unknown.
 */
import { AttributeValue, DataType, DataTypeCode, Dim, GraphProto, makeTensor, NodeProto, TensorProto, ValueInfoProto } from './onnx-proto';

/** A value of the graph: a graph input, an initializer, a constant or a node output. */
export interface Value {
  readonly name: string;
  /** Tracked shape (null: rank unknown). */
  readonly shape: Dim[] | null;
  readonly dtype: DataTypeCode;
}

/**
 * A spatial size [height, width] as the graph knows it: `value` is an int64 [2] tensor (a
 * constant when both sides are static), `dims` the tracked sizes.
 */
export interface Size2d {
  readonly value: Value;
  readonly dims: [Dim, Dim];
}

type Pair = [number, number];
const isNum = (d: Dim): d is number => typeof d === 'number';

/** Output length of a convolution or pooling window along one axis (PyTorch's rule). */
export function windowOut(n: Dim, kernel: number, stride: number, pad: number, dilation = 1, ceil = false): Dim {
  if (!isNum(n)) return null;
  const span = n + 2 * pad - dilation * (kernel - 1) - 1;
  let out = (ceil ? Math.ceil(span / stride) : Math.floor(span / stride)) + 1;
  // With ceil mode, the last window must start inside the input or the left padding.
  if (ceil && (out - 1) * stride >= n + pad) out--;
  return out;
}

/**
 * Builds one ONNX graph.
 *
 * @example
 * const g = new GraphBuilder('net');
 * const x = g.input('input', ['batch', 3, 'height', 'width']);
 * const y = g.op('Relu', [x], {}, x.shape);
 * g.output(y, 'output');
 * const proto = g.toProto();
 */
export class GraphBuilder {
  private readonly nodes: NodeProto[] = [];
  private readonly initializers: TensorProto[] = [];
  private readonly inputs: ValueInfoProto[] = [];
  private readonly outputs: ValueInfoProto[] = [];
  private readonly names = new Set<string>();
  private readonly constants = new Map<string, Value>();
  private readonly producers = new Map<string, NodeProto>();
  private counter = 0;
  /** Prefix of the node names made next (the module path being exported). */
  scope = '';

  constructor(readonly name: string) {}

  /** A name not used yet in this graph, from `base`. */
  uniqueName(base: string): string {
    let n = base;
    for (let i = 1; this.names.has(n); i++) n = `${base}_${i}`;
    this.names.add(n);
    return n;
  }

  /** Declares a graph input. */
  input(name: string, shape: Dim[], dtype: DataTypeCode = DataType.FLOAT): Value {
    if (this.names.has(name)) throw new Error(`ONNX graph: the name '${name}' is taken`);
    this.names.add(name);
    this.inputs.push({ name, elemType: dtype, shape: [...shape] });
    return { name, shape: [...shape], dtype };
  }

  /** Declares `v` a graph output named `name` (the producing node's output is renamed). */
  output(v: Value, name: string, doc?: string): Value {
    let out = v;
    const producer = this.producers.get(v.name);
    if (v.name !== name) {
      if (this.names.has(name)) throw new Error(`ONNX graph: the output name '${name}' is taken`);
      if (producer && !this.outputs.some((o) => o.name === v.name)) {
        // Rename the value everywhere (its producer and any consumer).
        this.names.add(name);
        producer.outputs = producer.outputs.map((o) => (o === v.name ? name : o));
        for (const n of this.nodes) n.inputs = n.inputs.map((i) => (i === v.name ? name : i));
        this.producers.delete(v.name);
        this.producers.set(name, producer);
        out = { ...v, name };
      } else {
        this.names.add(name);
        this.nodes.push({ opType: 'Identity', inputs: [v.name], outputs: [name], name: this.uniqueName(`${name}/Identity`) });
        out = { ...v, name };
      }
    } else if (!producer) {
      throw new Error(`ONNX graph: '${name}' is not produced by a node`);
    }
    this.outputs.push({ name, elemType: v.dtype, shape: v.shape, doc });
    return out;
  }

  /** Adds an initializer (the tensor's name is made unique if needed). */
  initializer(t: TensorProto): Value {
    const name = this.names.has(t.name) ? this.uniqueName(t.name) : (this.names.add(t.name), t.name);
    this.initializers.push({ ...t, name });
    return { name, shape: [...t.dims], dtype: t.dataType };
  }

  /** An int64 constant (an initializer, shared between uses of the same values). */
  int64(values: number[], dims: number[] = [values.length]): Value {
    const key = `i64:${dims}:${values}`;
    let v = this.constants.get(key);
    if (!v) {
      v = this.initializer(
        makeTensor(this.uniqueName(`const_i64_${values.length === 1 ? values[0] : values.length}`), dims, BigInt64Array.from(values.map(BigInt))),
      );
      this.constants.set(key, v);
    }
    return v;
  }

  /** A float32 constant (shared between uses of the same values). */
  float32(values: number[], dims: number[] = [values.length]): Value {
    const key = `f32:${dims}:${values}`;
    let v = this.constants.get(key);
    if (!v) {
      v = this.initializer(makeTensor(this.uniqueName(`const_f32_${values.length === 1 ? values[0] : values.length}`), dims, Float32Array.from(values)));
      this.constants.set(key, v);
    }
    return v;
  }

  /**
   * Adds a node with one output of `shape` and returns that output. `inputs` may hold null for
   * an omitted optional input.
   */
  op(opType: string, inputs: (Value | null)[], attributes: Record<string, AttributeValue> = {}, shape: Dim[] | null = null, dtype?: DataTypeCode): Value {
    return this.opN(opType, inputs, attributes, [shape], dtype)[0];
  }

  /** Like {@link op} with several outputs. */
  opN(opType: string, inputs: (Value | null)[], attributes: Record<string, AttributeValue>, shapes: (Dim[] | null)[], dtype?: DataTypeCode): Value[] {
    const base = this.scope ? `${this.scope}/${opType}` : opType;
    const nodeName = this.uniqueName(`${base}_${this.counter++}`);
    const outs = shapes.map((s, i) => ({
      name: this.uniqueName(shapes.length === 1 ? `${nodeName}:out` : `${nodeName}:out${i}`),
      shape: s ? [...s] : null,
      dtype: dtype ?? inputs.find((x) => x)?.dtype ?? DataType.FLOAT,
    }));
    // Trailing omitted inputs are dropped; inner ones are written as ''.
    const ins = inputs.map((x) => (x ? x.name : ''));
    while (ins.length && ins[ins.length - 1] === '') ins.pop();
    const node: NodeProto = { opType, inputs: ins, outputs: outs.map((o) => o.name), name: nodeName, attributes };
    this.nodes.push(node);
    for (const o of outs) this.producers.set(o.name, node);
    return outs;
  }

  /**
   * The graph as a protobuf-ready object, without the nodes and initializers that no output
   * depends on (helpers may have made shape values that ended up unused).
   */
  toProto(doc?: string): GraphProto {
    if (!this.outputs.length) throw new Error('ONNX graph: no output declared');
    const needed = new Set(this.outputs.map((o) => o.name));
    const kept: NodeProto[] = [];
    for (let i = this.nodes.length - 1; i >= 0; i--) {
      const n = this.nodes[i];
      if (!n.outputs.some((o) => needed.has(o))) continue;
      kept.push(n);
      for (const x of n.inputs) if (x) needed.add(x);
    }
    kept.reverse();
    return {
      name: this.name,
      nodes: kept,
      initializers: this.initializers.filter((t) => needed.has(t.name)),
      inputs: this.inputs,
      outputs: this.outputs,
      doc,
    };
  }

  /** Number of nodes so far. */
  get nodeCount(): number {
    return this.nodes.length;
  }

  // ---- operators --------------------------------------------------------------------------------
  relu(x: Value): Value {
    return this.op('Relu', [x], {}, x.shape);
  }

  add(a: Value, b: Value): Value {
    return this.op('Add', [a, b], {}, broadcast(a.shape, b.shape));
  }

  mul(a: Value, b: Value): Value {
    return this.op('Mul', [a, b], {}, broadcast(a.shape, b.shape));
  }

  /** Sum of several values (a chain of Add, or the value itself). */
  sum(vs: Value[]): Value {
    if (!vs.length) throw new Error('ONNX graph: sum of no values');
    return vs.slice(1).reduce((acc, v) => this.add(acc, v), vs[0]);
  }

  /** Concatenation along `axis` (a single value is returned as it is). */
  concat(vs: Value[], axis: number): Value {
    if (vs.length === 1) return vs[0];
    const r = vs[0].shape;
    let shape: Dim[] | null = null;
    if (r && vs.every((v) => v.shape && v.shape.length === r.length)) {
      const ax = axis < 0 ? axis + r.length : axis;
      shape = r.map((d, i) => (i === ax ? (vs.every((v) => isNum(v.shape![i])) ? vs.reduce((s, v) => s + (v.shape![i] as number), 0) : null) : d));
    }
    return this.op('Concat', vs, { axis }, shape);
  }

  conv(x: Value, w: Value, b: Value | null, o: { kernel: Pair; stride: Pair; padding: Pair; dilation: Pair; groups: number; outChannels: number }): Value {
    const s = x.shape;
    const shape = s
      ? [
          s[0],
          o.outChannels,
          windowOut(s[2], o.kernel[0], o.stride[0], o.padding[0], o.dilation[0]),
          windowOut(s[3], o.kernel[1], o.stride[1], o.padding[1], o.dilation[1]),
        ]
      : null;
    return this.op(
      'Conv',
      [x, w, b],
      {
        kernel_shape: o.kernel,
        strides: o.stride,
        pads: [o.padding[0], o.padding[1], o.padding[0], o.padding[1]],
        dilations: o.dilation,
        group: o.groups,
      },
      shape,
    );
  }

  /** Inference batch normalisation with the given statistics. */
  batchNorm(x: Value, scale: Value, bias: Value, mean: Value, variance: Value, eps: number): Value {
    return this.op('BatchNormalization', [x, scale, bias, mean, variance], { epsilon: { float: eps } }, x.shape);
  }

  pool(
    kind: 'MaxPool' | 'AveragePool',
    x: Value,
    o: { kernel: Pair; stride: Pair; padding: Pair; dilation?: Pair; ceil: boolean; countIncludePad?: boolean },
  ): Value {
    const s = x.shape;
    const dil = o.dilation ?? [1, 1];
    const shape = s
      ? [
          s[0],
          s[1],
          windowOut(s[2], o.kernel[0], o.stride[0], o.padding[0], dil[0], o.ceil),
          windowOut(s[3], o.kernel[1], o.stride[1], o.padding[1], dil[1], o.ceil),
        ]
      : null;
    const attrs: Record<string, AttributeValue> = {
      kernel_shape: o.kernel,
      strides: o.stride,
      pads: [o.padding[0], o.padding[1], o.padding[0], o.padding[1]],
      ceil_mode: o.ceil ? 1 : 0,
    };
    if (kind === 'MaxPool') {
      if (dil[0] !== 1 || dil[1] !== 1) attrs.dilations = dil;
    } else {
      attrs.count_include_pad = o.countIncludePad ? 1 : 0;
    }
    return this.op(kind, [x], attrs, shape);
  }

  globalAvgPool(x: Value): Value {
    const s = x.shape;
    return this.op('GlobalAveragePool', [x], {}, s ? [s[0], s[1], 1, 1] : null);
  }

  /** Flattens dimensions from `axis` on (ONNX Flatten: the result is 2-D). */
  flatten(x: Value, axis = 1): Value {
    const s = x.shape;
    let shape: Dim[] | null = null;
    if (s) {
      const prod = (ds: Dim[]) => (ds.every(isNum) ? (ds as number[]).reduce((a, b) => a * b, 1) : null);
      shape = [axis === 1 ? s[0] : prod(s.slice(0, axis)), prod(s.slice(axis))];
    }
    return this.op('Flatten', [x], { axis }, shape);
  }

  softmax(x: Value, axis: number): Value {
    return this.op('Softmax', [x], { axis }, x.shape);
  }

  /** Shape(x) as an int64 [rank] value. */
  shapeOf(x: Value): Value {
    return this.op('Shape', [x], {}, [x.shape ? x.shape.length : null], DataType.INT64);
  }

  /** Slice along axes; `ends` may use Number.MAX_SAFE_INTEGER for "to the end". */
  slice(x: Value, starts: number[], ends: number[], axes: number[], shape: Dim[] | null): Value {
    return this.op('Slice', [x, this.int64(starts), this.int64(ends), this.int64(axes)], {}, shape, x.dtype);
  }

  /** The spatial size [H, W] of an NCHW value (a constant when static). */
  sizeOf(x: Value): Size2d {
    const s = x.shape;
    const dims: [Dim, Dim] = s && s.length === 4 ? [s[2], s[3]] : [null, null];
    if (isNum(dims[0]) && isNum(dims[1])) return { value: this.int64([dims[0], dims[1]]), dims };
    return { value: this.slice(this.shapeOf(x), [2], [4], [0], [2]), dims };
  }

  /** ceil(size / 2) per side (the lattice's next coarser scale). */
  halfSize(size: Size2d): Size2d {
    const dims = size.dims.map((d) => (isNum(d) ? Math.ceil(d / 2) : null)) as [Dim, Dim];
    if (isNum(dims[0]) && isNum(dims[1])) return { value: this.int64([dims[0], dims[1]]), dims };
    const v = this.op('Div', [this.op('Add', [size.value, this.int64([1])], {}, [2]), this.int64([2])], {}, [2]);
    return { value: v, dims };
  }

  /** The full NCHW shape [N, C, H, W] of `x` with its spatial size replaced by `size`, and `channels` if given. */
  private nchw(x: Value, size: Size2d, channels?: number): { value: Value; shape: Dim[] } {
    const s = x.shape ?? [null, null, null, null];
    const c = channels ?? s[1];
    const shape = [s[0], c, size.dims[0], size.dims[1]];
    const head =
      isNum(s[0]) && isNum(c)
        ? this.int64([s[0], c])
        : channels !== undefined
          ? this.concat([this.slice(this.shapeOf(x), [0], [1], [0], [1]), this.int64([channels])], 0)
          : this.slice(this.shapeOf(x), [0], [2], [0], [2]);
    return { value: this.concat([head, size.value], 0), shape };
  }

  /**
   * Resizes an NCHW value to `size` as PyTorch's interpolate: 'bilinear' (align_corners false:
   * half_pixel; true: align_corners) or 'nearest' (floor of dst * in / out: asymmetric).
   */
  resize(x: Value, size: Size2d, mode: 'bilinear' | 'nearest', alignCorners = false): Value {
    const { value, shape } = this.nchw(x, size);
    const attrs: Record<string, AttributeValue> =
      mode === 'bilinear'
        ? { mode: 'linear', coordinate_transformation_mode: alignCorners ? 'align_corners' : 'half_pixel' }
        : { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' };
    return this.op('Resize', [x, null, null, value], attrs, shape);
  }

  /** Zeros shaped [N, channels, size] with N (and, without `channels`, C) taken from `like`. */
  zeros(like: Value, size: Size2d, channels?: number): Value {
    const { value, shape } = this.nchw(like, size, channels);
    return this.op('ConstantOfShape', [value], { value: makeTensor('value', [1], new Float32Array([0])) }, shape, DataType.FLOAT);
  }

  /** Broadcasts `x` to [N, C, size] (ONNX Expand). */
  expandSpatial(x: Value, size: Size2d): Value {
    const s = x.shape ?? [null, null, null, null];
    const target = this.concat([this.int64([1, 1]), size.value], 0);
    return this.op('Expand', [x, target], {}, [s[0], s[1], size.dims[0], size.dims[1]]);
  }

  /** Zero padding of the spatial sides of an NCHW value (PyTorch pad order [left, right, top, bottom]). */
  padSpatial(x: Value, [left, right, top, bottom]: [number, number, number, number]): Value {
    const s = x.shape;
    const grow = (d: Dim, n: number) => (isNum(d) ? d + n : null);
    return this.op(
      'Pad',
      [x, this.int64([0, 0, top, left, 0, 0, bottom, right])],
      { mode: 'constant' },
      s ? [s[0], s[1], grow(s[2], top + bottom), grow(s[3], left + right)] : null,
    );
  }

  /** x W^T + b for a weight [out, in]: Gemm on 2-D input, MatMul + Add otherwise. */
  linear(x: Value, weight: Value, bias: Value | null, outFeatures: number): Value {
    const s = x.shape;
    if (s && s.length === 2) return this.op('Gemm', [x, weight, bias], { transB: 1 }, [s[0], outFeatures]);
    const wt = this.op('Transpose', [weight], { perm: [1, 0] }, weight.shape ? [weight.shape[1], weight.shape[0]] : null);
    const shape = s ? [...s.slice(0, -1), outFeatures] : null;
    const y = this.op('MatMul', [x, wt], {}, shape);
    return bias ? this.op('Add', [y, bias], {}, shape) : y;
  }
}

/** The broadcast shape of two tracked shapes (numbers where known). */
export function broadcast(a: Dim[] | null, b: Dim[] | null): Dim[] | null {
  if (!a || !b) return null;
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const ia = a.length - n + i,
      ib = b.length - n + i;
    const x = ia >= 0 ? a[ia] : 1,
      y = ib >= 0 ? b[ib] : 1;
    out.push(x === 1 ? y : y === 1 ? x : x === y ? x : isNum(x) ? x : isNum(y) ? y : x);
  }
  return out;
}
