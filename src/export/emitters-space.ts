/**
 * ONNX emitters of the search-space modules (src/space): candidate operations, cells, the lattice
 * and DARTS networks. Each one mirrors the module's forward in src/space, in the same order. A
 * choice exports only once it is frozen (a derived or freshly built network holds no choice, or
 * frozen ones); a supernet choice still weighted by architecture parameters is refused.
 */
import {
  ASPPLite,
  Cell,
  DartsNetwork,
  DilConv,
  FactorizedReduce,
  InputChoice,
  isZeroOp,
  LatticeNetwork,
  LatticeNode,
  MixedOp,
  PartialChannels,
  PathInput,
  ReLUConvBN,
  Resample,
  SepConv,
  shuffleIndex,
  TwoInputNode,
  Zero,
} from '../space';
import { nn } from '../torch';
import { Size2d, Value } from './graph';
import { OnnxContext, registerOnnxExporter } from './registry';

const END = Number.MAX_SAFE_INTEGER;

registerOnnxExporter(Zero, (ctx, m, x: Value) => {
  const size = ctx.graph.sizeOf(x);
  return ctx.graph.zeros(x, m.stride === 1 ? size : ctx.graph.halfSize(size));
});

for (const cls of [ReLUConvBN, DilConv, SepConv]) {
  registerOnnxExporter(cls, (ctx, m: ReLUConvBN | DilConv | SepConv, x: Value) => ctx.call(m.op, x));
}

registerOnnxExporter(FactorizedReduce, (ctx, m, x: Value) => {
  const g = ctx.graph;
  const y = g.relu(x);
  // pad(y, [0, 1, 0, 1]).narrow(2, 1, h).narrow(3, 1, w): y shifted by one pixel, zeros at the end.
  const shifted = g.slice(g.padSpatial(y, [0, 1, 0, 1]), [1, 1], [END, END], [2, 3], y.shape);
  return ctx.call(m.bn, g.concat([ctx.call(m.conv_1, y), ctx.call(m.conv_2, shifted)], 1));
});

/** The value a frozen MixedOp contributes (null when only zero operations are selected). */
function mixedContribution(ctx: OnnxContext, m: MixedOp, x: Value): Value | null {
  if (!m.frozen)
    return ctx.fail(
      m,
      `is search choice '${m.label}' weighted by architecture parameters; export a discrete network (space.derive(genotype, { release: true }) or space.build(genotype)), or freeze the choice`,
    );
  const terms: Value[] = [];
  for (const k of m.frozen) {
    const c = m.candidate(k);
    if (!c) ctx.fail(m, `has no candidate '${m.names[k]}' (it was released)`);
    if (isZeroOp(c)) continue;
    terms.push(ctx.call(c, x));
  }
  return terms.length ? ctx.graph.sum(terms) : null;
}

registerOnnxExporter(MixedOp, (ctx, m, x: Value) => {
  const y = mixedContribution(ctx, m, x);
  if (y) return y;
  const zero = m.names.map((_, k) => m.candidate(k)).find((c) => c && isZeroOp(c)) as Zero | undefined;
  const size = ctx.graph.sizeOf(x);
  return ctx.graph.zeros(x, zero && zero.stride !== 1 ? ctx.graph.halfSize(size) : size);
});

/** Sum of the selected lazy inputs of a frozen InputChoice. */
registerOnnxExporter(InputChoice, (ctx, m, inputs: (Value | (() => Value))[]) => {
  const frozen = m.frozen;
  if (!frozen)
    return ctx.fail(
      m,
      `is search choice '${m.label}' weighted by architecture parameters; export a discrete network (space.derive(genotype, { release: true }) or space.build(genotype))`,
    );
  if (!frozen.length) ctx.fail(m, 'has no input selected');
  return ctx.graph.sum(
    frozen.map((k) => {
      const v = inputs[k];
      return typeof v === 'function' ? v() : v;
    }),
  );
});

registerOnnxExporter(Cell, (ctx, m, ...inputs: Value[]) => {
  const g = ctx.graph;
  if (inputs.length !== m.numInputs) ctx.fail(m, `got ${inputs.length} inputs, expected ${m.numInputs}`);
  if (m.edgeChoices.some((c) => c))
    ctx.fail(
      m,
      'has edge-normalisation choices (a search cell); export a discrete network (space.derive(genotype, { release: true }) or space.build(genotype)), whose cells hold only the kept edges',
    );
  const states = inputs.map((x, i) => (m.preprocess[i] ? ctx.call(m.preprocess[i], x) : x));
  const links = m.links();
  let k = 0;
  for (let node = 0; node < m.nodes; node++) {
    const terms: Value[] = [];
    for (; k < links.length && links[k].node === node; k++) {
      const { module, input } = links[k];
      const y =
        module instanceof MixedOp
          ? mixedContribution(ctx, module, states[input])
          : module instanceof PartialChannels && module.op instanceof MixedOp && module.op.frozen && !module.op.frozen.length
            ? null // an edge whose choice keeps nothing adds nothing, bypass included
            : ctx.call(module, states[input]);
      if (y) terms.push(y);
    }
    if (terms.length) states.push(g.sum(terms));
    else {
      const size = g.sizeOf(states[0]);
      states.push(g.zeros(states[0], m.stride === 1 ? size : g.halfSize(size), m.C));
    }
  }
  return g.concat(
    m.concat.map((i) => states[i]),
    1,
  );
});

/** x[:, :C/k] through the operation, x[:, C/k:] around it (pooled on a strided edge), concatenated, channels shuffled (a Gather). */
registerOnnxExporter(PartialChannels, (ctx, m, x: Value) => {
  const g = ctx.graph;
  const cp = m.C / m.k;
  const shape = (c: number) => (x.shape ? [x.shape[0], c, x.shape[2], x.shape[3]] : null);
  const x1 = g.slice(x, [0], [cp], [1], shape(cp));
  const x2 = g.slice(x, [cp], [m.C], [1], shape(m.C - cp));
  const y2 = m.pool ? ctx.call(m.pool, x2) : x2;
  const y1 = (m.op instanceof MixedOp ? mixedContribution(ctx, m.op, x1) : ctx.call(m.op, x1)) ?? g.zeros(y2, g.sizeOf(y2), cp);
  const joined = g.concat([y1, y2], 1);
  return g.op('Gather', [joined, g.int64(shuffleIndex(m.C, m.k))], { axis: 1 }, joined.shape, joined.dtype);
});

registerOnnxExporter(Resample, (ctx, m, x: Value, size: Size2d) => {
  const y = m.mode === 'up' || m.mode === 'resize' ? ctx.graph.resize(x, size, 'bilinear', false) : x;
  return ctx.call(m.op, y);
});

registerOnnxExporter(ASPPLite, (ctx, m, x: Value) => {
  const g = ctx.graph;
  const pooled = g.relu(ctx.call(m.pool, g.globalAvgPool(x)));
  const branches = [ctx.call(m.branch1, x), ctx.call(m.branch3, x), g.expandSpatial(pooled, g.sizeOf(x))];
  return ctx.call(m.classifier, ctx.call(m.project, g.concat(branches, 1)));
});

/** The ONNX form of the lattice's mixInputs: each source resampled (when it runs), combined by the frozen choice or summed. */
function mixInputs(ctx: OnnxContext, m: LatticeNode | PathInput, value: (l: number, s: number) => Value, size: Size2d): Value {
  const inputs = m.sources.map(
    ([l, s], i) =>
      () =>
        ctx.call(m.resample.at(i), value(l, s), size),
  );
  return m.choice ? ctx.call(m.choice, inputs) : ctx.graph.sum(inputs.map((f) => f()));
}

registerOnnxExporter(LatticeNode, (ctx, m, value: (l: number, s: number) => Value, size: Size2d) => {
  const mixed = mixInputs(ctx, m, value, size);
  return ctx.call(m.cell, m.fuse ? ctx.call(m.fuse, mixed) : mixed);
});

registerOnnxExporter(PathInput, (ctx, m, value: (l: number, s: number) => Value, size: Size2d) => mixInputs(ctx, m, value, size));

registerOnnxExporter(TwoInputNode, (ctx, m, value: (l: number, s: number) => Value, size: Size2d) => {
  const outputs = m.sources.map(
    ([l, s], k) =>
      () =>
        ctx.call(m.cells.at(k), ctx.call(m.prev.at(k), value, size), ctx.call(m.resample.at(k), value(l, s), size)),
  );
  return m.choice ? ctx.call(m.choice, outputs) : ctx.graph.sum(outputs.map((f) => f()));
});

registerOnnxExporter(LatticeNetwork, (ctx, m, x: Value) => {
  const g = ctx.graph;
  const stem = ctx.call(m.stem, x);
  // Scale s has ceil(size(s - 1) / 2); computed only for the scales the network uses.
  const sizes: Size2d[] = [g.sizeOf(stem)];
  const sizeAt = (s: number): Size2d => {
    while (sizes.length <= s) sizes.push(g.halfSize(sizes[sizes.length - 1]));
    return sizes[s];
  };
  const memo = new Map<string, Value>([['l0s0', stem]]);
  const value = (l: number, s: number): Value => {
    const key = `l${l}s${s}`;
    let v = memo.get(key);
    if (!v) {
      const node = m.nodes.get(key);
      if (!node) return ctx.fail(m, `has no node ${key}`);
      v = ctx.call(node, value, sizeAt(s));
      memo.set(key, v);
    }
    return v;
  };
  const inputSize = g.sizeOf(x);
  const scales = m.onlyHead === null ? m.outputScales : [m.onlyHead];
  const logits = scales.map((s) => () => g.resize(ctx.call(m.heads.get(`s${s}`)!, value(m.layers, s)), inputSize, 'bilinear', false));
  return m.output ? ctx.call(m.output, logits) : g.sum(logits.map((f) => f()));
});

registerOnnxExporter(DartsNetwork, (ctx, m, x: Value) => {
  let s0 = ctx.call(m.stem, x);
  let s1 = s0;
  for (const cell of m.cells) [s0, s1] = [s1, ctx.call(cell, s0, s1)];
  const pool = m.getModule('global_pooling') as nn.Module;
  return ctx.call(m.classifier, ctx.graph.flatten(ctx.call(pool, s1), 1));
});
