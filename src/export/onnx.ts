/**
 * ONNX export of a discrete network: the module tree is walked with the emitters registered per
 * class (emitters-nn.ts, emitters-space.ts, or a user's registerOnnxExporter), weights become
 * float32 initializers named by their state-dict keys, and the model is encoded with the protobuf
 * writer of onnx-proto.ts. The graph has eval-mode semantics (BatchNorm running statistics,
 * Dropout off) whatever mode the module is in.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { nn } from '../torch';
import { writeFileAtomic } from '../torch/io';
import { GraphBuilder } from './graph';
import { DataType, Dim, encodeModel, ModelProto } from './onnx-proto';
import { OnnxContext } from './registry';
import './emitters-nn';
import './emitters-space';

/** The ONNX operator set the exported graphs use. */
export const ONNX_OPSET = 17;
/** The IR version that goes with {@link ONNX_OPSET}. */
export const ONNX_IR_VERSION = 8;

/** Options of {@link exportOnnx}. */
export interface OnnxExportOptions {
  /** Channels of the input image. */
  inChannels: number;
  /** Fixed input height and width; omitted or null: dynamic ('height', 'width'). */
  height?: number | null;
  width?: number | null;
  /** Fixed batch size; omitted or null: dynamic ('batch'). */
  batch?: number | null;
  /** Graph input name (default 'input'). */
  inputName?: string;
  /** Graph output name (default 'logits', or 'probabilities' with `softmax`). */
  outputName?: string;
  /** Append a softmax over the class dimension (1). */
  softmax?: boolean;
  /** Graph name (default: the module's class name). */
  graphName?: string;
  /** Key/value strings stored in the model's metadata_props. */
  metadata?: Record<string, string>;
  /** Model doc string. */
  doc?: string;
}

const dim = (v: number | null | undefined, name: string): Dim => {
  if (v === undefined || v === null) return name;
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`exportOnnx: ${name} must be a positive integer or null (dynamic), got ${v}`);
  return v;
};

/**
 * The ONNX model (as bytes of an .onnx file) of `module`'s forward pass on one NCHW float input.
 *
 * @example
 * const net = space.derive(space.decode(), { release: true });
 * fs.writeFileSync('net.onnx', exportOnnx(net, { inChannels: 3 })); // dynamic batch, height, width
 */
export function exportOnnx(module: nn.Module, opts: OnnxExportOptions): Uint8Array {
  return encodeModel(buildOnnxModel(module, opts));
}

/** Like {@link exportOnnx}, as the ModelProto object (before encoding). */
export function buildOnnxModel(module: nn.Module, opts: OnnxExportOptions): ModelProto {
  if (!Number.isInteger(opts.inChannels) || opts.inChannels < 1)
    throw new RangeError(`exportOnnx: inChannels must be a positive integer, got ${opts.inChannels}`);
  const g = new GraphBuilder(opts.graphName ?? module.constructor.name);
  const x = g.input(opts.inputName ?? 'input', [dim(opts.batch, 'batch'), opts.inChannels, dim(opts.height, 'height'), dim(opts.width, 'width')]);
  const ctx = new OnnxContext(g, module);
  let y = ctx.call(module, x);
  if (y.dtype !== DataType.FLOAT) throw new Error(`exportOnnx: the output of ${module.constructor.name} is not float`);
  if (opts.softmax) y = g.softmax(y, 1);
  g.output(y, opts.outputName ?? (opts.softmax ? 'probabilities' : 'logits'));
  let version = '0.0.0';
  try {
    version = (JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    /* not in the package layout */
  }
  return {
    irVersion: ONNX_IR_VERSION,
    opsetImports: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'dnas',
    producerVersion: version,
    doc: opts.doc,
    graph: g.toProto(),
    metadata: opts.metadata,
  };
}

/** Writes {@link exportOnnx}'s model to `file` (folders are made); returns the file. */
export function saveOnnx(module: nn.Module, file: string, opts: OnnxExportOptions): string {
  const bytes = exportOnnx(module, opts);
  writeFileAtomic(file, bytes);
  return file;
}
