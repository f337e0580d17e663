/**
 * ONNX emitters of the engine's layers (src/torch/nn), with eval-mode semantics: BatchNorm uses
 * its running statistics, Dropout is the identity.
 */
import { nn } from '../torch';
import { Value } from './graph';
import { OnnxContext, registerOnnxExporter } from './registry';

type Pair = [number, number];
const pair = (v: number | Pair): Pair => (typeof v === 'number' ? [v, v] : [v[0], v[1]]);

registerOnnxExporter(nn.Conv2d, (ctx, m, x: Value) => {
  const [outChannels, , kh, kw] = m.weight.shape;
  return ctx.graph.conv(x, ctx.param(m, 'weight')!, ctx.param(m, 'bias'), {
    kernel: [kh, kw],
    stride: m.stride,
    padding: m.padding,
    dilation: m.dilation,
    groups: m.groups,
    outChannels,
  });
});

registerOnnxExporter(nn.Linear, (ctx, m, x: Value) => ctx.graph.linear(x, ctx.param(m, 'weight')!, ctx.param(m, 'bias'), m.outFeatures));

registerOnnxExporter(nn.BatchNorm2d, (ctx, m, x: Value) => {
  if (!m.trackRunningStats)
    ctx.fail(
      m,
      'has no running statistics (trackRunningStats: false): it normalises with batch statistics even in eval mode, which an inference graph cannot do',
    );
  const g = ctx.graph;
  const C = m.numFeatures;
  const scale = ctx.param(m, 'weight') ?? g.float32(new Array(C).fill(1));
  const bias = ctx.param(m, 'bias') ?? g.float32(new Array(C).fill(0));
  return g.batchNorm(x, scale, bias, ctx.param(m, 'running_mean')!, ctx.param(m, 'running_var')!, m.eps);
});

registerOnnxExporter(nn.ReLU, (ctx, _m, x: Value) => ctx.graph.relu(x));
registerOnnxExporter(nn.Identity, (_ctx, _m, x: Value) => x);
registerOnnxExporter(nn.Dropout, (_ctx, _m, x: Value) => x);

registerOnnxExporter(nn.MaxPool2d, (ctx, m, x: Value) => {
  const kernel = pair(m.kernelSize);
  return ctx.graph.pool('MaxPool', x, {
    kernel,
    stride: pair(m.o.stride ?? m.kernelSize),
    padding: pair(m.o.padding ?? 0),
    dilation: pair(m.o.dilation ?? 1),
    ceil: !!m.o.ceilMode,
  });
});

registerOnnxExporter(nn.AvgPool2d, (ctx, m, x: Value) => {
  const kernel = pair(m.kernelSize);
  return ctx.graph.pool('AveragePool', x, {
    kernel,
    stride: pair(m.o.stride ?? m.kernelSize),
    padding: pair(m.o.padding ?? 0),
    ceil: !!m.o.ceilMode,
    countIncludePad: m.o.countIncludePad ?? true,
  });
});

/** adaptive_avg_pool2d: global pooling for output 1x1; a plain average pool when the input size is static and divisible. */
export function adaptiveAvgPool(ctx: OnnxContext, m: nn.Module, x: Value, outputSize: number | Pair): Value {
  const [oh, ow] = pair(outputSize);
  if (oh === 1 && ow === 1) return ctx.graph.globalAvgPool(x);
  const [h, w] = x.shape && x.shape.length === 4 ? [x.shape[2], x.shape[3]] : [null, null];
  if (typeof h !== 'number' || typeof w !== 'number' || h % oh || w % ow) {
    ctx.fail(
      m,
      `pools to ${oh}x${ow}, which exports only when the input size is fixed and divisible by it (got ${h ?? '?'}x${w ?? '?'}; export with fixed height and width)`,
    );
  }
  const k: Pair = [h / oh, w / ow];
  return ctx.graph.pool('AveragePool', x, { kernel: k, stride: k, padding: [0, 0], ceil: false, countIncludePad: true });
}

registerOnnxExporter(nn.AdaptiveAvgPool2d, (ctx, m, x: Value) => adaptiveAvgPool(ctx, m, x, m.outputSize));

registerOnnxExporter(nn.Sequential, (ctx, m, x: Value) => {
  let y = x;
  for (const c of m.children()) y = ctx.call(c, y);
  return y;
});
