/**
 * dnas/data: data sets (Cityscapes, PASCAL VOC, a generic folder, and the bundled fashion-scenes,
 * brain-mri and fashion-mnist built from Debian packages), transforms on typed arrays, search
 * splits, and a worker-thread loader. docs/data.md describes layouts and procedures.
 */
export * from './types';
export { DataError, isDataError } from './errors';
export type { BadSample } from './errors';
export { Rng, hashSeed } from './rng';
export { decodePng, encodePng, pngInfo, crc32 } from './png';
export type { DecodedPng, PngImage, PngFilter } from './png';
export { decodeImage, readImage, decodeLabelMap, readLabelMap } from './image';
export type { ImageCHW, LabelMap } from './image';
export { readNifti, decodeNifti, parseNiftiHeader, niftiAffine, resampleNearest, sameGrid, encodeNifti, NIFTI_DATATYPES } from './nifti';
export type { NiftiHeader, NiftiVolume } from './nifti';
export { readIdx, decodeIdx } from './idx';
export type { IdxArray } from './idx';
export { PairedFileDataset, lutMapper } from './files';
export type { PairEntry, LabelMapper } from './files';
export { cityscapes, CITYSCAPES_LABELS, CITYSCAPES_CLASSES, CITYSCAPES_PALETTE, cityscapesLut } from './cityscapes';
export type { CityscapesLabel, CityscapesOptions } from './cityscapes';
export { voc, VOC_CLASSES, vocColormap } from './voc';
export type { VocOptions } from './voc';
export { folder, parseClassesFile } from './folder';
export type { FolderOptions } from './folder';
export {
  fashionMnist,
  fashionScenes,
  loadFashionMnist,
  renderFashionScene,
  FASHION_CLASSES,
  FASHION_SCENE_CLASSES,
  FASHION_SCENE_PALETTE,
  FASHION_SCENE_STATS,
  FASHION_MNIST_STATS,
} from './fashion';
export type { FashionMnistOptions, FashionScenesOptions, FashionMnistArrays } from './fashion';
export { brainMri, loadBrainVolume, aalGroup, BRAIN_CLASSES, BRAIN_PALETTE } from './brain';
export type { BrainMriOptions, BrainVolume } from './brain';
export { missingDebianData, requireDebianData, DEBIAN_SOURCES } from './debian';
export type { DebianSource } from './debian';
export * from './transforms';
export { searchSplit, SPLIT_STRATEGIES } from './splits';
export type { SplitStrategy, SearchSplitOptions, SearchSplit } from './splits';
export { subset, resized } from './wrappers';
export { getDataset, DATASET_NAMES } from './registry';
export type { DatasetName, GetDatasetOptions } from './registry';
export { makeBatch, sampleRng } from './batch';
export type { Batch } from './batch';
export { DataLoader, measureThroughput } from './loader';
export type { LoaderOptions, Throughput } from './loader';
export { validate } from './validate';
export { toTensors } from './tensors';
