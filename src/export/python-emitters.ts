/**
 * Python exporters of the engine's layers (src/torch/nn, as the torch.nn layers they follow) and
 * of the search-space modules (src/space, as the classes of python/dnas_modules.py). Each one
 * writes the constructor call whose module has the dnas module's state-dict keys and forward
 * computation. A choice exports only once it is frozen (a derived or freshly built network holds
 * no choice, or frozen ones); a supernet choice still weighted by architecture parameters is
 * refused, as by the ONNX exporter.
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
  ModuleDict,
  PartialChannels,
  PathInput,
  ReLUConvBN,
  Resample,
  SepConv,
  TwoInputNode,
  Zero,
} from '../space';
import { nn } from '../torch';
import { py, PyValue } from './python-expr';
import { PythonContext, registerPythonExporter } from './python-registry';

type Pair = number | [number, number];

/** A size or stride argument: one number when both sides agree, else a tuple. */
const pair = (v: Pair): PyValue => (typeof v === 'number' ? v : v[0] === v[1] ? v[0] : py.tuple([v[0], v[1]]));
const same = (a: Pair, b: Pair) => {
  const [x, y] = [typeof a === 'number' ? [a, a] : a, typeof b === 'number' ? [b, b] : b];
  return x[0] === y[0] && x[1] === y[1];
};
/** `v` unless it equals the PyTorch default `dflt` (left out then). */
const unless = (v: Pair, dflt: Pair): PyValue | undefined => (same(v, dflt) ? undefined : pair(v));

// ---- torch.nn layers ----------------------------------------------------------------------------

registerPythonExporter(nn.Conv2d, (_ctx, m) =>
  py.call('nn.Conv2d', [m.inChannels, m.outChannels, pair(m.kernelSize)], {
    stride: unless(m.stride, 1),
    padding: unless(m.padding, 0),
    dilation: unless(m.dilation, 1),
    groups: m.groups === 1 ? undefined : m.groups,
    bias: m.bias ? undefined : false,
  }),
);

registerPythonExporter(nn.Linear, (_ctx, m) => py.call('nn.Linear', [m.inFeatures, m.outFeatures], { bias: m.bias ? undefined : false }));

registerPythonExporter(nn.BatchNorm2d, (_ctx, m) =>
  py.call('nn.BatchNorm2d', [m.numFeatures], {
    eps: m.eps === 1e-5 ? undefined : m.eps,
    momentum: m.momentum === 0.1 ? undefined : m.momentum,
    affine: m.affine ? undefined : false,
    track_running_stats: m.trackRunningStats ? undefined : false,
  }),
);

registerPythonExporter(nn.ReLU, () => py.call('nn.ReLU'));
registerPythonExporter(nn.Identity, () => py.call('nn.Identity'));
registerPythonExporter(nn.Dropout, (_ctx, m) => py.call('nn.Dropout', [m.p]));

registerPythonExporter(nn.MaxPool2d, (_ctx, m) =>
  py.call('nn.MaxPool2d', [pair(m.kernelSize)], {
    stride: unless(m.o.stride ?? m.kernelSize, m.kernelSize),
    padding: unless(m.o.padding ?? 0, 0),
    dilation: unless(m.o.dilation ?? 1, 1),
    ceil_mode: m.o.ceilMode ? true : undefined,
  }),
);

registerPythonExporter(nn.AvgPool2d, (_ctx, m) =>
  py.call('nn.AvgPool2d', [pair(m.kernelSize)], {
    stride: unless(m.o.stride ?? m.kernelSize, m.kernelSize),
    padding: unless(m.o.padding ?? 0, 0),
    ceil_mode: m.o.ceilMode ? true : undefined,
    count_include_pad: m.o.countIncludePad === false ? false : undefined,
  }),
);

registerPythonExporter(nn.AdaptiveAvgPool2d, (_ctx, m) => py.call('nn.AdaptiveAvgPool2d', [pair(m.outputSize)]));

registerPythonExporter(nn.Sequential, (ctx, m) =>
  py.call(
    'nn.Sequential',
    m.children().map((c) => ctx.build(c)),
  ),
);

registerPythonExporter(nn.ModuleList, (ctx, m) => py.call('nn.ModuleList', [py.list([...m].map((c) => ctx.build(c)))]));

registerPythonExporter(ModuleDict, (ctx, m) => py.call('nn.ModuleDict', [py.dict(m.entries().map(([k, c]) => [k, ctx.build(c)]))]));

// ---- candidate operations -----------------------------------------------------------------------

/** Child `i` of `seq`, checked to be of class `cls` (the structure the Python class rebuilds). */
function part<T extends nn.Module>(ctx: PythonContext, owner: nn.Module, seq: nn.Sequential, i: number, cls: abstract new (...a: never[]) => T): T {
  const c = seq.children()[i];
  if (!(c instanceof cls)) ctx.fail(owner, `does not have its usual structure (op.${i} is ${c?.constructor.name ?? 'missing'}, expected ${cls.name})`);
  return c;
}

/** A square kernel, stride or padding as one number. */
function square(ctx: PythonContext, owner: nn.Module, v: Pair, what: string): number {
  if (typeof v === 'number') return v;
  if (v[0] !== v[1]) ctx.fail(owner, `has a non-square ${what} [${v}]`);
  return v[0];
}

registerPythonExporter(Zero, (ctx, m) => py.call(ctx.useClass('Zero'), [m.stride]));

/**
 * The three Sequential-backed operations, each rebuilt from its parts: the (depthwise) conv at
 * op.1 gives the input channels, kernel, stride, padding (and the dilation of a DilConv), the
 * conv at `outAt` the output channels, the BatchNorm at `bnAt` the affine flag.
 */
const SEQUENTIAL_OPS: [typeof ReLUConvBN | typeof DilConv | typeof SepConv, string, number, number, boolean][] = [
  [ReLUConvBN, 'ReLUConvBN', 1, 2, false],
  [DilConv, 'DilConv', 2, 3, true],
  [SepConv, 'SepConv', 6, 7, false],
];
for (const [cls, name, outAt, bnAt, dilated] of SEQUENTIAL_OPS) {
  registerPythonExporter(cls, (ctx, m: ReLUConvBN | DilConv | SepConv) => {
    const first = part(ctx, m, m.op, 1, nn.Conv2d);
    const out = part(ctx, m, m.op, outAt, nn.Conv2d);
    const bn = part(ctx, m, m.op, bnAt, nn.BatchNorm2d);
    const args = [
      first.inChannels,
      out.outChannels,
      square(ctx, m, first.kernelSize, 'kernel'),
      square(ctx, m, first.stride, 'stride'),
      square(ctx, m, first.padding, 'padding'),
      ...(dilated ? [square(ctx, m, first.dilation, 'dilation')] : []),
    ];
    return py.call(ctx.useClass(name), args, { affine: bn.affine ? undefined : false });
  });
}

registerPythonExporter(PartialChannels, (ctx, m) => py.call(ctx.useClass('PartialChannels'), [ctx.build(m.op), m.C, m.k, m.stride]));

registerPythonExporter(FactorizedReduce, (ctx, m) =>
  py.call(ctx.useClass('FactorizedReduce'), [m.conv_1.inChannels, m.bn.numFeatures], { affine: m.bn.affine ? undefined : false }),
);

// ---- choices (frozen) ---------------------------------------------------------------------------

const SEARCH_CHOICE =
  'weighted by architecture parameters; export a discrete network (space.derive(genotype, { release: true }) or space.build(genotype)), or freeze the choice';

registerPythonExporter(MixedOp, (ctx, m) => {
  if (!m.frozen) return ctx.fail(m, `is search choice '${m.label}' ${SEARCH_CHOICE}`);
  for (const k of m.frozen) if (!m.candidate(k)) ctx.fail(m, `has no candidate '${m.names[k]}' (it was released)`);
  // With nothing but zero operations selected, dnas returns its first zero candidate's zeros.
  const zero = m.namedChildren().find(([, c]) => isZeroOp(c))?.[1] as Zero | undefined;
  return py.call(ctx.useClass('MixedOp'), [], {
    label: m.label,
    selected: m.frozen.map((k) => m.names[k]),
    zero_stride: zero && zero.stride !== 1 ? zero.stride : undefined,
    candidates: py.dict(m.namedChildren().map(([name, c]) => [name, ctx.build(c)])),
  });
});

registerPythonExporter(InputChoice, (ctx, m) => {
  if (!m.frozen) return ctx.fail(m, `is search choice '${m.label}' ${SEARCH_CHOICE}`);
  if (!m.frozen.length) ctx.fail(m, 'has no input selected');
  return py.call(ctx.useClass('InputChoice'), [], { label: m.label, n_candidates: m.nCandidates, selected: [...m.frozen] });
});

// ---- cells and networks -------------------------------------------------------------------------

registerPythonExporter(Cell, (ctx, m) => {
  if (m.edgeChoices.some((c) => c))
    ctx.fail(
      m,
      'has edge-normalisation choices (a search cell); export a discrete network (space.derive(genotype, { release: true }) or space.build(genotype)), whose cells hold only the kept edges',
    );
  return py.call(ctx.useClass('Cell'), [], {
    C: m.C,
    stride: m.stride,
    num_inputs: m.numInputs,
    nodes: m.nodes,
    concat: [...m.concat],
    preprocess: py.list(m.preprocess.map((p) => ctx.build(p))),
    edges: py.list(m.links().map((l) => py.tuple([l.node, l.input, ctx.build(l.module)]))),
  });
});

registerPythonExporter(Resample, (ctx, m) => {
  const conv = part(ctx, m.op, m.op.op, 1, nn.Conv2d);
  const bn = part(ctx, m.op, m.op.op, 2, nn.BatchNorm2d);
  return py.call(ctx.useClass('Resample'), [conv.inChannels, conv.outChannels, m.mode], { affine: bn.affine });
});

registerPythonExporter(ASPPLite, (ctx, m) => {
  const conv3 = part(ctx, m, m.branch3, 0, nn.Conv2d);
  return py.call(ctx.useClass('ASPPLite'), [m.pool.inChannels, m.pool.outChannels, m.classifier.outChannels, square(ctx, m, conv3.dilation, 'rate')]);
});

registerPythonExporter(LatticeNode, (ctx, m) =>
  py.call(ctx.useClass('LatticeNode'), [], {
    layer: m.layer,
    scale: m.scale,
    sources: py.list(m.sources.map(([l, s]) => py.tuple([l, s]))),
    resample: py.list([...m.resample].map((r) => ctx.build(r))),
    choice: m.choice ? ctx.build(m.choice) : undefined,
    fuse: m.fuse ? ctx.build(m.fuse) : undefined,
    cell: ctx.build(m.cell),
  }),
);

registerPythonExporter(PathInput, (ctx, m) =>
  py.call(ctx.useClass('PathInput'), [], {
    sources: py.list(m.sources.map(([l, s]) => py.tuple([l, s]))),
    resample: py.list([...m.resample].map((r) => ctx.build(r))),
    choice: m.choice ? ctx.build(m.choice) : undefined,
  }),
);

registerPythonExporter(TwoInputNode, (ctx, m) =>
  py.call(ctx.useClass('TwoInputNode'), [], {
    layer: m.layer,
    scale: m.scale,
    sources: py.list(m.sources.map(([l, s]) => py.tuple([l, s]))),
    resample: py.list([...m.resample].map((r) => ctx.build(r))),
    cells: py.list([...m.cells].map((c) => ctx.build(c))),
    prev: py.list([...m.prev].map((p) => ctx.build(p))),
    choice: m.choice ? ctx.build(m.choice) : undefined,
  }),
);

registerPythonExporter(LatticeNetwork, (ctx, m) => {
  if (m.onlyHead !== null) ctx.fail(m, 'runs one head of several (a fixed supernet); export a discrete network (space.derive(genotype, { release: true }))');
  return py.call(ctx.useClass('LatticeNetwork'), [], {
    layers: m.layers,
    output: m.output ? ctx.build(m.output) : undefined,
    stem: ctx.build(m.stem),
    heads: py.dict(m.heads.entries().map(([k, head]) => [k, ctx.build(head)])), // output scales in this order
    nodes: py.dict(m.nodes.entries().map(([k, node]) => [k, ctx.build(node)])),
  });
});

registerPythonExporter(DartsNetwork, (ctx, m) =>
  py.call(ctx.useClass('DartsNetwork'), [], {
    stem: ctx.build(m.stem),
    global_pooling: ctx.build(m.getModule('global_pooling')!),
    classifier: ctx.build(m.classifier),
    cells: py.list([...m.cells].map((c) => ctx.build(c))),
  }),
);
