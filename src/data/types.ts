/**
 * The shapes every data set shares.
 */
import { BadSample } from './errors';

/** An RGB colour. */
export type RGB = [number, number, number];

/** One segmentation sample: a CHW float image and a per-pixel label map (255 = ignore). */
export interface SegmentationSample {
  /** CHW, `channels * height * width` floats (in [0, 1] before normalisation). */
  image: Float32Array;
  /** `height * width` class indices; {@link DatasetBase.ignoreIndex} marks pixels without a label. */
  mask: Uint8Array;
  height: number;
  width: number;
  channels: number;
  /** A stable name for the sample (file stem, or name + index for generated data). */
  id: string;
}

/** One classification sample: a CHW float image and its class. */
export interface ClassificationSample {
  image: Float32Array;
  label: number;
  height: number;
  width: number;
  channels: number;
  id: string;
}

/** A sample of either kind. */
export type Sample = SegmentationSample | ClassificationSample;

/** How to rebuild a data set elsewhere (a worker thread): its registry name and options. */
export interface DatasetSpec {
  name: string;
  options: Record<string, unknown>;
}

/** What every data set has. */
export interface DatasetBase {
  /** Registry name ('cityscapes', 'fashion-scenes', ...). */
  readonly name: string;
  readonly split: string;
  readonly task: 'segmentation' | 'classification';
  /** Number of samples. */
  readonly length: number;
  readonly numClasses: number;
  readonly classNames: string[];
  /** Label value that marks "no label" in masks: always 255. */
  readonly ignoreIndex: number;
  /** A colour per class, for visualisation. */
  readonly palette?: RGB[];
  /** Image channels (3 for colour data, 1 for grey data unless asked otherwise). */
  readonly channels: number;
  /** Suggested per-channel normalisation (mean, std) of images in [0, 1]. */
  readonly stats: { mean: number[]; std: number[] };
  /** Samples left out while the data set was scanned because `skipBad` was set. */
  readonly skipped: BadSample[];
  /** Set by {@link getDataset}; lets loaders rebuild the data set in worker threads. */
  spec?: DatasetSpec;
}

/** A segmentation data set. `get` throws a DataError naming the file when a sample is bad. */
export interface SegmentationDataset extends DatasetBase {
  readonly task: 'segmentation';
  get(i: number): SegmentationSample;
}

/** A classification data set. */
export interface ClassificationDataset extends DatasetBase {
  readonly task: 'classification';
  get(i: number): ClassificationSample;
}

/** Any data set. */
export type Dataset = SegmentationDataset | ClassificationDataset;

/** The ignore label of every data set here. */
export const IGNORE_INDEX = 255;

/** Per-channel mean/std of ImageNet, the usual normalisation for colour photographs. */
export const IMAGENET_STATS = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

/** Throws a RangeError unless `i` is a valid sample index of a data set of length `n`. */
export function checkIndex(i: number, n: number, what: string): void {
  if (!Number.isInteger(i) || i < 0 || i >= n) throw new RangeError(`${what}: index ${i} is out of range [0, ${n})`);
}
