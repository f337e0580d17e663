/**
 * dnas/export: ONNX export of discrete networks (a graph builder with one emitter per module
 * class and its own protobuf writer), Python export (a standalone PyTorch model.py, one emitter
 * per module class), and rebuilding the final network of a run directory for
 * export and prediction. See docs/export.md.
 */
export { exportOnnx, saveOnnx, buildOnnxModel, ONNX_OPSET, ONNX_IR_VERSION } from './onnx';
export type { OnnxExportOptions } from './onnx';
export { registerOnnxExporter, hasOnnxExporter, OnnxContext, OnnxExportError } from './registry';
export type { OnnxEmitter } from './registry';
export { exportPython, savePython } from './python';
export type { PythonExportOptions } from './python';
export { registerPythonExporter, hasPythonExporter, PythonContext, PythonExportError } from './python-registry';
export type { PythonEmitter } from './python-registry';
export { py, PyExpr, formatPython } from './python-expr';
export type { PyValue } from './python-expr';
export { GraphBuilder } from './graph';
export type { Value, Size2d } from './graph';
export { loadRunModel, exportRun, readRunConfig, datasetMeta, runMetadata } from './from-run';
export type { RunModel, LoadRunOptions, ExportRunOptions, ExportRunResult, DatasetMeta } from './from-run';
export { predictImages, segmentImage, maskPng, overlayPng } from './predict';
export type { PredictOptions, PredictedImage } from './predict';
export { writeSamplePredictions, SAMPLES_DIR, SAMPLES_FILE } from './samples';
export type { SampleRecord, SamplesFile, SampleOptions } from './samples';
export { ProtoWriter, WIRE, readFields } from './protobuf';
